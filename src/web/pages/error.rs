//! The review page's errors: `PageError`, which handlers return with `?`, and the layer that
//! renders it as the error page, with the navigation of whoever is signed in.

use super::extract::SessionSlot;
use crate::review::ReviewError;
use crate::store::StoreError;
use crate::web::{ApiError, AppState};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use minijinja::{context, Value};

/// Why a page could not be shown.
#[derive(Debug)]
pub enum PageError {
    /// The error page: its status, heading and message.
    Shown {
        status: StatusCode,
        title: &'static str,
        message: String,
    },
    /// A template failed to render (logged where it failed): a plain 500, since the error
    /// page may fail the same way.
    Unrendered,
}

impl PageError {
    pub fn forbidden(message: &str) -> Self {
        ApiError::Forbidden(message.into()).into()
    }

    pub fn bad_request(message: &str) -> Self {
        ApiError::BadRequest(message.into()).into()
    }
}

impl From<ApiError> for PageError {
    fn from(e: ApiError) -> Self {
        let (status, title, message) = match e {
            ApiError::BadRequest(m) => (StatusCode::BAD_REQUEST, "Not possible", m),
            ApiError::Unauthorized(m) => (StatusCode::UNAUTHORIZED, "Not signed in", m),
            ApiError::Forbidden(m) => (StatusCode::FORBIDDEN, "Not allowed", m),
            ApiError::NotFound(m) => (StatusCode::NOT_FOUND, "Not found", m),
            ApiError::Conflict(m) => (StatusCode::CONFLICT, "Not possible now", m),
            ApiError::Unprocessable(m, _) => (StatusCode::UNPROCESSABLE_ENTITY, "Not possible", m),
            other => {
                tracing::error!("review page error: {other:?}");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong",
                    "see the server's log".to_string(),
                )
            }
        };
        PageError::Shown {
            status,
            title,
            message,
        }
    }
}

impl From<StoreError> for PageError {
    fn from(e: StoreError) -> Self {
        ApiError::from(e).into()
    }
}

impl From<ReviewError> for PageError {
    fn from(e: ReviewError) -> Self {
        ApiError::from(e).into()
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            PageError::Shown {
                status,
                title,
                message,
            } => {
                // The plain message stands in for the page should the layer be missing.
                let mut r = (status, message.clone()).into_response();
                r.extensions_mut().insert(ErrorPage { title, message });
                r
            }
            PageError::Unrendered => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page could not be rendered",
            )
                .into_response(),
        }
    }
}

/// Layer over the review page's routes: gives each request a `SessionSlot`, and renders a
/// `PageError` as the error page with its status.
pub async fn error_pages(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let slot = SessionSlot::default();
    req.extensions_mut().insert(slot.clone());
    let mut response = next.run(req).await;
    let Some(ErrorPage { title, message }) = response.extensions_mut().remove::<ErrorPage>() else {
        return response;
    };
    let ctx = context! { message => message };
    let body = match slot.get() {
        Some(s) => super::page(&state, s, "error.html", title, ctx),
        None => super::render(
            &state,
            "error.html",
            context! { ..ctx, ..context! {
                title => title, staff => Value::from(()), csrf => "",
                notice => Value::from(()), error => Value::from(()),
            } },
        ),
    };
    (response.status(), body).into_response()
}

/// The error page's heading and message, carried on the response to `error_pages`, which
/// has the templates and knows who is signed in.
#[derive(Clone)]
struct ErrorPage {
    title: &'static str,
    message: String,
}
