//! `--metrics-addr`: a listener of its own serving `GET /metrics` for `run` and `worker`,
//! which have no web server, for as long as the process lives.

use super::exporter::Exporter;
use crate::run::Runner;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// What one scraper may hold: Prometheus keeps a connection or two; anything slower or more
/// is not a scraper.
const LIMITS: crate::web::Limits = crate::web::Limits {
    header_read: Duration::from_secs(10),
    request: Duration::from_secs(30),
    connections: 16,
};

/// Installs the recorder, binds `addr` and serves `/metrics` there in a task of its own, the
/// queue's depth read through `runner`; returns the address bound (port 0 picks a free one).
/// Nothing but `/metrics` is served, and nothing asks who is scraping: bind it to an address
/// only the monitoring network reaches.
pub async fn listen(addr: SocketAddr, runner: Arc<Runner>) -> std::io::Result<SocketAddr> {
    let exporter = Exporter::install();
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let app = Router::new()
        .route("/metrics", get(scrape))
        .with_state((exporter, runner));
    tokio::spawn(crate::web::serve_connections(
        listener,
        app,
        LIMITS,
        std::future::pending(),
    ));
    Ok(bound)
}

async fn scrape(State((exporter, runner)): State<(Exporter, Arc<Runner>)>) -> Response {
    exporter.answer(Some(&runner)).await
}
