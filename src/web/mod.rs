//! The web face: the versioned JSON API for site builds, visitors' thumbs and staff, and the
//! server-rendered review page, on axum.

mod api;
pub mod auth;
mod charts;
mod pages;
pub mod visitor;

use crate::export::StalePolicy;
use crate::facts::FactSet;
use crate::review::{ReviewError, ReviewSettings};
use crate::run::Runner;
use crate::store::{Store, StoreError};
use axum::extract::connect_info::ConnectInfo;
use axum::extract::{DefaultBodyLimit, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, Extensions, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Instant;

pub use api::{valid_name, NEXT_HEADER, OPENAPI, ROUTES};
pub use auth::{issue_token, IssuedToken, Role, Staff};

/// The largest request body accepted (an edited narrative is a few kilobytes).
pub const BODY_LIMIT: usize = 64 * 1024;

/// Failed token checks an address may make a minute (bursting to as many): a person
/// mistyping never meets it, a guesser is held to a few hundred argon2 runs an hour.
pub const FAILED_SIGN_INS_PER_MINUTE: f64 = 10.0;

/// Everything a request handler needs; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub facts: Arc<FactSet>,
    pub settings: ReviewSettings,
    /// Runs started from the API or the review page are worked here, when set.
    pub runner: Option<Arc<Runner>>,
    pub stale_policy: StalePolicy,
    /// Send cookies with `Secure` (browsers accept it on https and on localhost).
    pub secure_cookies: bool,
    /// Reverse proxies whose `X-Forwarded-For` names the client (`ClientAddr`).
    pub trusted_proxies: Arc<Vec<IpAddr>>,
    tokens: Arc<auth::TokenCache>,
    votes: Arc<AddressLimiter>,
    /// Failed token checks (API and sign-in) each address may make per minute.
    sign_in_failures: Arc<AddressLimiter>,
    /// Signs visitors' identities and hashes their networks; read from the store at the
    /// first vote.
    visitor_key: Arc<tokio::sync::OnceCell<visitor::VisitorKey>>,
    pages: Arc<minijinja::Environment<'static>>,
}

impl AppState {
    pub fn new(
        store: Store,
        facts: Arc<FactSet>,
        settings: ReviewSettings,
        runner: Option<Arc<Runner>>,
        votes_per_minute: f64,
    ) -> AppState {
        let pages = Arc::new(pages::environment(Arc::clone(&facts)));
        AppState {
            store,
            facts,
            settings,
            runner,
            stale_policy: StalePolicy::Keep,
            secure_cookies: true,
            trusted_proxies: Arc::new(Vec::new()),
            tokens: Arc::new(auth::TokenCache::default()),
            votes: Arc::new(AddressLimiter::new(votes_per_minute)),
            sign_in_failures: Arc::new(AddressLimiter::new(FAILED_SIGN_INS_PER_MINUTE)),
            visitor_key: Arc::new(tokio::sync::OnceCell::new()),
            pages,
        }
    }

    /// Failed token checks each address may make a minute (`FAILED_SIGN_INS_PER_MINUTE`
    /// unless set).
    pub fn limit_failed_sign_ins(&mut self, per_minute: f64) {
        self.sign_in_failures = Arc::new(AddressLimiter::new(per_minute));
    }

    fn desk(&self) -> crate::review::Desk<'_> {
        crate::review::Desk::new(&self.store, &self.facts, self.settings.clone())
    }
}

/// The whole application: API, review page, body limit and request spans.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(api::routes())
        .merge(pages::routes(&state))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            security_headers,
        ))
        // Spans carry method and path only: never headers or query strings, so never a token
        // or a cookie. Shown with NARRATOR_LOG=info.
        .layer(
            tower_http::trace::TraceLayer::new_for_http()
                .make_span_with(|req: &axum::http::Request<axum::body::Body>| {
                    tracing::info_span!("request", method = %req.method(), path = %req.uri().path())
                })
                .on_response(
                    tower_http::trace::DefaultOnResponse::new().level(tracing::Level::INFO),
                ),
        )
        .with_state(state)
}

/// Headers every answer carries: no framing, no sniffing, no referrer to other sites, forms
/// posting only here, and nothing signed-in cached; HSTS when a trusted proxy says the client
/// came over https (narrator itself speaks plain http).
async fn security_headers(
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

/// What one server lets clients hold: a client that trickles its request, or never finishes
/// one, would otherwise keep a connection (and its memory) for as long as it likes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// A request's head (request line and headers) must arrive within this; the connection
    /// is closed otherwise. Also how long an idle keep-alive connection is kept.
    pub header_read: std::time::Duration,
    /// A request (its body read, the handler run) must finish within this, or it gets 408.
    pub request: std::time::Duration,
    /// Connections open at once; more wait in the listener's backlog until one closes.
    pub connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_read: std::time::Duration::from_secs(10),
            request: std::time::Duration::from_secs(30),
            connections: 256,
        }
    }
}

/// Serves until Ctrl-C or SIGTERM, then lets requests in flight finish, and stops the runs
/// this server works: they stop claiming jobs, and jobs in flight get up to 30 s to finish
/// (a job cut off is retaken once its lease expires).
pub async fn serve(state: AppState, addr: SocketAddr, limits: Limits) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    eprintln!("narrator serve: review page at http://{bound}/review, API at http://{bound}/api/v1");
    let runner = state.runner.clone();
    serve_connections(listener, router(state), limits, shutdown_signal()).await;
    if let Some(runner) = runner {
        if !runner
            .stop_background(std::time::Duration::from_secs(30))
            .await
        {
            eprintln!(
                "narrator serve: runs still working after 30 s were left for their leases to expire"
            );
        }
    }
    Ok(())
}

/// The accept loop, on hyper directly rather than `axum::serve`, which sets no timer and so
/// no header-read timeout, and caps no connections. Returns once `shutdown` fires and the
/// connections open then have finished their requests.
pub async fn serve_connections(
    listener: tokio::net::TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl std::future::Future<Output = ()>,
) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use tower::ServiceExt;
    let app = app.layer(tower_http::timeout::TimeoutLayer::with_status_code(
        StatusCode::REQUEST_TIMEOUT,
        limits.request,
    ));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read);
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.connections.max(1)));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        // A slot first, then a connection: past the cap, clients wait in the backlog.
        let slot = tokio::select! {
            slot = Arc::clone(&slots).acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of descriptors and the like: pause rather than spin.
                    tracing::warn!("accepting a connection: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let app = app.clone();
        let service = hyper::service::service_fn(
            move |mut req: axum::http::Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(ConnectInfo(remote));
                app.clone().oneshot(req.map(axum::body::Body::new))
            },
        );
        let conn = http.serve_connection(TokioIo::new(stream), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            // A client gone or too slow ends its own connection; nothing to report.
            let _ = conn.await;
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    eprintln!("narrator serve: shutting down after the requests in flight");
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
                    axum::Json(serde_json::json!({
                        "error": format!("too many {what} from this address; try again in {retry_after_secs} s")
                    })),
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
        let mut body = serde_json::json!({ "error": message });
        if let Some(d) = details {
            body["details"] = d;
        }
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

/// The client's address: the socket's peer, or, when the peer is a proxy named by
/// `--trusted-proxy`, the last address of `X-Forwarded-For` (the one that proxy added; those
/// before it are the client's to write). Votes, their networks and failed sign-ins all count
/// by it, so behind a proxy that is not trusted every visitor would be one network.
pub struct ClientAddr(pub Option<IpAddr>);

pub fn client_addr(parts: &Parts, state: &AppState) -> Option<IpAddr> {
    let peer = peer(&parts.extensions)?;
    if !state.trusted_proxies.contains(&peer) {
        return Some(peer);
    }
    // The very last entry, parsed or not: skipping one that does not parse would hand the
    // choice to the entries before it, which the client wrote.
    let forwarded = parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .next_back()
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .and_then(|a| a.trim().parse::<IpAddr>().ok());
    Some(forwarded.unwrap_or(peer))
}

/// The socket's peer. `MockConnectInfo` is how tests in process give one (axum's own
/// extractor reads either).
fn peer(extensions: &Extensions) -> Option<IpAddr> {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .or_else(|| {
            extensions
                .get::<axum::extract::connect_info::MockConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip())
        })
}

/// Whether a trusted proxy (`--trusted-proxy`) says the client came over https.
fn forwarded_https(headers: &HeaderMap, extensions: &Extensions, state: &AppState) -> bool {
    peer(extensions).is_some_and(|p| state.trusted_proxies.contains(&p))
        && headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"))
}

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(client_addr(parts, state)))
    }
}

/// A token bucket per client address: `per_minute` requests, bursting to the same number.
pub struct AddressLimiter {
    per_minute: f64,
    buckets: Mutex<Buckets>,
}

#[derive(Default)]
struct Buckets {
    by_client: HashMap<Option<IpAddr>, (f64, Instant)>,
    calls: u64,
}

/// The client a bucket belongs to: an IPv4 address, or an IPv6 /64 (one machine's usual
/// allocation, so a client cannot walk its own prefix for fresh buckets).
fn client_key(addr: Option<IpAddr>) -> Option<IpAddr> {
    match addr {
        Some(IpAddr::V6(v6)) => {
            let mut s = v6.segments();
            s[4..].fill(0);
            Some(IpAddr::V6(s.into()))
        }
        other => other,
    }
}

impl AddressLimiter {
    pub fn new(per_minute: f64) -> Self {
        AddressLimiter {
            per_minute,
            buckets: Mutex::new(Buckets::default()),
        }
    }

    /// Whether the address's bucket is empty, and if so how many seconds until it is not;
    /// takes nothing.
    pub fn blocked(&self, addr: Option<IpAddr>) -> Option<u64> {
        let b = self.buckets.lock().expect("limiter lock");
        let (tokens, at) = b.by_client.get(&client_key(addr))?;
        let level = self.refilled(*tokens, *at, Instant::now());
        (level < 1.0).then(|| self.wait_secs(level))
    }

    /// A bucket's level at `now`, refilled since `at` and capped.
    fn refilled(&self, tokens: f64, at: Instant, now: Instant) -> f64 {
        (tokens + now.duration_since(at).as_secs_f64() * self.per_minute / 60.0)
            .min(self.per_minute)
    }

    /// Whole seconds until a bucket at `level` holds one request.
    fn wait_secs(&self, level: f64) -> u64 {
        ((1.0 - level) / (self.per_minute / 60.0)).ceil().max(1.0) as u64
    }

    /// Takes one request from the address's bucket, or says how many seconds until one is free.
    pub fn take(&self, addr: Option<IpAddr>) -> Result<(), u64> {
        let now = Instant::now();
        let cap = self.per_minute;
        let mut b = self.buckets.lock().expect("limiter lock");
        b.calls += 1;
        // Full buckets carry no information: now and then (not on every call) forget them,
        // so memory stays bounded by the clients of the last minute.
        if b.calls.is_multiple_of(1024) && b.by_client.len() > 10_000 {
            b.by_client
                .retain(|_, (tokens, at)| self.refilled(*tokens, *at, now) < cap);
        }
        let (tokens, at) = b.by_client.entry(client_key(addr)).or_insert((cap, now));
        *tokens = self.refilled(*tokens, *at, now);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(self.wait_secs(*tokens))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_address_has_its_own_bucket() {
        let limiter = AddressLimiter::new(3.0);
        let a = Some("10.0.0.1".parse().unwrap());
        let b = Some("10.0.0.2".parse().unwrap());
        for _ in 0..3 {
            assert!(limiter.take(a).is_ok());
        }
        let wait = limiter.take(a).unwrap_err();
        assert!((1..=20).contains(&wait), "{wait}");
        assert!(limiter.take(b).is_ok());
        // Looking does not take.
        assert!(limiter.blocked(a).is_some());
        assert_eq!(limiter.blocked(b), None);
        assert_eq!(limiter.blocked(Some("10.0.0.3".parse().unwrap())), None);
    }
}
