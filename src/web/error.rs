//! The API's errors: each a status and a JSON body, and how store and review errors map to
//! them.

use crate::review::ReviewError;
use crate::store::StoreError;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// The body of every error answer.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Where useful, what the error is about: for a failed check, the check's report.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub details: Option<serde_json::Value>,
    /// What went wrong, for people.
    pub error: String,
}

impl ErrorBody {
    pub fn new(error: String) -> ErrorBody {
        ErrorBody {
            details: None,
            error,
        }
    }
}

/// An API error: a status and a JSON body `{"error": ...}` (plus details where useful).
#[derive(Debug)]
pub enum ApiError {
    BadRequest(String),
    Unauthorized(String),
    Forbidden(String),
    NotFound(String),
    Conflict(String),
    PayloadTooLarge(String),
    UnsupportedMediaType(String),
    Unprocessable(String, Option<serde_json::Value>),
    /// `what` names what was counted: "votes", "failed token checks".
    TooManyRequests {
        retry_after_secs: u64,
        what: &'static str,
    },
    Internal(String),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, message, details) = match self {
            ApiError::BadRequest(m) => (StatusCode::BAD_REQUEST, m, None),
            ApiError::Unauthorized(m) => (StatusCode::UNAUTHORIZED, m, None),
            ApiError::Forbidden(m) => (StatusCode::FORBIDDEN, m, None),
            ApiError::NotFound(m) => (StatusCode::NOT_FOUND, m, None),
            ApiError::Conflict(m) => (StatusCode::CONFLICT, m, None),
            ApiError::PayloadTooLarge(m) => (StatusCode::PAYLOAD_TOO_LARGE, m, None),
            ApiError::UnsupportedMediaType(m) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, m, None),
            ApiError::Unprocessable(m, d) => (StatusCode::UNPROCESSABLE_ENTITY, m, d),
            ApiError::TooManyRequests {
                retry_after_secs,
                what,
            } => {
                let mut r = (
                    StatusCode::TOO_MANY_REQUESTS,
                    axum::Json(ErrorBody::new(format!(
                        "too many {what} from this address; try again in {retry_after_secs} s"
                    ))),
                )
                    .into_response();
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
                return r;
            }
            ApiError::Internal(m) => {
                tracing::error!("internal error: {m}");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error; see the server's log".to_string(),
                    None,
                )
            }
        };
        // `details` before `error`: the order `json!` wrote them in, so the bytes stay the same.
        let body = ErrorBody {
            details,
            error: message,
        };
        let mut response = (status, axum::Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::Internal(e.to_string())
    }
}

impl From<ReviewError> for ApiError {
    fn from(e: ReviewError) -> Self {
        let m = e.to_string();
        match e {
            ReviewError::Store(s) => s.into(),
            ReviewError::NoDraft(_)
            | ReviewError::NoVersion(_)
            | ReviewError::UnknownPage { .. } => ApiError::NotFound(m),
            ReviewError::NotInReview(_)
            | ReviewError::VersionNotPublished(_)
            | ReviewError::FeedbackOutdated { .. }
            | ReviewError::Decided { .. }
            | ReviewError::ClaimedByOther { .. } => ApiError::Conflict(m),
            ReviewError::OwnRun { .. } => ApiError::Forbidden(m),
            ReviewError::EmptyReason(_)
            | ReviewError::EmptyText
            | ReviewError::NotProse(_)
            | ReviewError::CommentTooLong(_)
            | ReviewError::BadVisitorToken
            | ReviewError::BadFilter(_)
            | ReviewError::NoReviewer => ApiError::BadRequest(m),
        }
    }
}
