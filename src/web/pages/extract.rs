//! What a review-page request carries, checked before its handler runs: the signed-in
//! session (`Signed`), and forms whose CSRF token matched (`CsrfForm`, `SignInForm`).

use super::error::PageError;
use crate::web::auth::{self, Staff, SIGN_IN_COOKIE};
use crate::web::AppState;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::sync::{Arc, OnceLock};

/// A signed-in page request; anything else is sent to the sign-in page.
#[derive(Clone)]
pub struct Signed {
    pub staff: Staff,
    /// The session's CSRF token, which every form must send back.
    pub csrf: String,
}

impl FromRequestParts<AppState> for Signed {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        // Looked up once a request: a handler taking both `Signed` and `CsrfForm` reads the
        // session once, and the error page finds who to show its navigation to.
        let slot = parts.extensions.get::<SessionSlot>().cloned();
        if let Some(signed) = slot.as_ref().and_then(SessionSlot::get) {
            return Ok(signed.clone());
        }
        match auth::session(state, &parts.headers).await {
            Ok(Some((staff, session))) => {
                let signed = Signed {
                    staff,
                    csrf: session.csrf,
                };
                if let Some(slot) = slot {
                    slot.set(signed.clone());
                }
                Ok(signed)
            }
            Ok(None) => Err(Redirect::to("/review/sign-in").into_response()),
            Err(e) => Err(PageError::from(e).into_response()),
        }
    }
}

/// Where `Signed` leaves the session it found, for the rest of the request: one lookup a
/// request, and the error page shows the staff member their navigation.
#[derive(Clone, Default)]
pub struct SessionSlot(Arc<OnceLock<Signed>>);

impl SessionSlot {
    pub fn get(&self) -> Option<&Signed> {
        self.0.get()
    }

    pub fn set(&self, signed: Signed) {
        // A request has one session; a second lookup found the same one.
        let _ = self.0.set(signed);
    }
}

/// A signed-in member of staff's form, parsed into `T`, its `csrf` field matched against the
/// session's token before the handler runs: a handler taking one cannot forget the check.
///
/// Refused, in this order: no session (to the sign-in page), a body that is not a form of `T`
/// (axum's `Form` answers, the body limit included), then a token that does not match (403,
/// nothing changed).
pub struct CsrfForm<T>(pub T);

impl<T: DeserializeOwned + Send> FromRequest<AppState> for CsrfForm<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let signed = Signed::from_request_parts(&mut parts, state).await?;
        let (sent, fields) = with_token::<T, _>(Request::from_parts(parts, body), state).await?;
        if auth::same_secret(&signed.csrf, &sent) {
            Ok(CsrfForm(fields))
        } else {
            Err(PageError::forbidden(
                "the form's security token did not match; reload the page and try again",
            )
            .into_response())
        }
    }
}

/// The sign-in form, parsed into `T`: before a session exists its token is matched against
/// the cookie set with the form. A mismatch shows the form again (403).
pub struct SignInForm<T>(pub T);

impl<T: DeserializeOwned + Send> FromRequest<AppState> for SignInForm<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let expected = auth::cookie(req.headers(), SIGN_IN_COOKIE)
            .unwrap_or_default()
            .to_string();
        let (sent, fields) = with_token::<T, _>(req, state).await?;
        if !expected.is_empty() && auth::same_secret(&expected, &sent) {
            Ok(SignInForm(fields))
        } else {
            let mut r = super::sign_in_page(state, Some("The form expired; please sign in again."));
            *r.status_mut() = StatusCode::FORBIDDEN;
            Err(r)
        }
    }
}

/// A form's `csrf` field beside the fields its handler reads.
#[derive(Deserialize)]
struct WithToken<T> {
    csrf: String,
    #[serde(flatten)]
    fields: T,
}

/// Parses with axum's `Form`, so the body limit, the content type and its rejections are
/// those of every other form.
async fn with_token<T: DeserializeOwned + Send, S: Send + Sync>(
    req: Request,
    state: &S,
) -> Result<(String, T), Response> {
    let Form(WithToken { csrf, fields }) = Form::<WithToken<T>>::from_request(req, state)
        .await
        .map_err(IntoResponse::into_response)?;
    Ok((csrf, fields))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::header;

    async fn parse<T: DeserializeOwned + Send>(body: &str) -> Result<(String, T), Response> {
        let req = Request::post("/")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body.to_string()))
            .unwrap();
        with_token::<T, _>(req, &()).await
    }

    async fn text(r: Response) -> String {
        let bytes = axum::body::to_bytes(r.into_body(), usize::MAX)
            .await
            .unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[derive(Deserialize, Debug, PartialEq)]
    struct Fields {
        area: Option<String>,
        all: Option<String>,
        reason: String,
    }

    #[tokio::test]
    async fn forms_read_their_token_beside_their_fields() {
        let (csrf, ()) = parse::<()>("csrf=abc").await.unwrap();
        assert_eq!(csrf, "abc");
        let (csrf, fields) = parse::<Fields>("area=Coventry&csrf=a%20b&reason=x+y")
            .await
            .unwrap();
        assert_eq!(csrf, "a b");
        assert_eq!(
            fields,
            Fields {
                area: Some("Coventry".into()),
                all: None,
                reason: "x y".into()
            }
        );
    }

    #[tokio::test]
    async fn a_form_without_its_token_or_a_field_is_not_a_form() {
        for (body, missing) in [("reason=x", "csrf"), ("csrf=abc", "reason")] {
            let refused = parse::<Fields>(body).await.unwrap_err();
            assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
            let text = text(refused).await;
            assert!(
                text.contains(&format!("missing field `{missing}`")),
                "{text}"
            );
        }
    }
}
