//! Who the client is: its address (`ClientAddr`), and whether it came over https, as the
//! socket's peer or a trusted proxy says.

use super::state::AppState;
use axum::extract::connect_info::ConnectInfo;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{Extensions, HeaderMap};
use std::net::{IpAddr, SocketAddr};

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
pub(super) fn forwarded_https(
    headers: &HeaderMap,
    extensions: &Extensions,
    state: &AppState,
) -> bool {
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
