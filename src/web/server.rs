//! The server: the router with its layers and `/metrics`, and the accept loop with its limits
//! on what clients may hold and its graceful shutdown.

use super::headers::security_headers;
use super::state::AppState;
use super::{api, pages};
use axum::extract::connect_info::ConnectInfo;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::Router;
use std::net::SocketAddr;
use std::sync::Arc;

/// The largest request body accepted (an edited narrative is a few kilobytes).
pub const BODY_LIMIT: usize = 64 * 1024;

/// The whole application: API, review page, body limit and request spans.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(api::routes())
        .merge(pages::routes(&state))
        .route("/metrics", axum::routing::get(metrics))
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

/// Prometheus's scrape, beside the API and the review page rather than in either. It needs a
/// staff bearer token of any role, as the runs list does: `serve` listens where visitors reach
/// it, and the counts say how busy the provider and the queue are. Prometheus sends the token
/// with its scrape job's `authorization` setting. (A worker's `--metrics-addr` asks for none
/// and is meant for a private address.)
async fn metrics(
    axum::extract::State(state): axum::extract::State<AppState>,
    _staff: super::Staff,
) -> axum::response::Response {
    crate::metrics::Exporter::install()
        .answer(state.runner.as_deref())
        .await
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
