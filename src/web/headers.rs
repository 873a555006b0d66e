//! The headers every answer carries: framing, sniffing, referrer, content security, caching,
//! and HSTS behind a trusted https proxy.

use super::client::forwarded_https;
use super::state::AppState;
use axum::http::{header, HeaderValue};
use axum::response::Response;

/// Headers every answer carries: no framing, no sniffing, no referrer to other sites, forms
/// posting only here, and nothing signed-in cached; HSTS when a trusted proxy says the client
/// came over https (narrator itself speaks plain http).
pub(super) async fn security_headers(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let path = req.uri().path().to_string();
    let https = forwarded_https(req.headers(), req.extensions(), &state);
    let mut response = next.run(req).await;
    let h = response.headers_mut();
    if https {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        ),
    );
    if !path.starts_with("/api/v1/published") && !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}
