//! The public part of the JSON API: published text with strong ETags and a change feed, as
//! the site build reads it, and visitors' thumbs.

use super::api::{sorted_json, JsonBody};
use super::error::ErrorBody;
use super::{ApiError, AppState, ClientAddr};
use crate::export::{self, AreaFile, ExportSummary, SectionEntry, StalePolicy};
use crate::review;
use crate::store::Vote;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The public routes, documented; `api::routes` adds them to the API.
pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(published))
        .routes(routes!(published_area))
        .routes(routes!(feedback))
}

/// A body with a strong ETag from its content; `304 Not Modified` when the client has it.
fn with_etag(headers: &HeaderMap, bytes: Vec<u8>) -> Response {
    let digest = crate::facts::hex_digest(&<sha2::Sha256 as sha2::Digest>::digest(&bytes));
    let etag = format!("\"{digest}\"");
    let matches = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        // Weak comparison (RFC 9110): a proxy that compressed the body may send W/"...".
        .any(|t| {
            let t = t.trim();
            t == "*" || t.strip_prefix("W/").unwrap_or(t) == etag
        });
    let etag_header = HeaderValue::from_str(&etag).expect("hex digests are valid header values");
    if matches {
        return (
            StatusCode::NOT_MODIFIED,
            [
                (header::ETAG, etag_header),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            ],
        )
            .into_response();
    }
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (header::ETAG, etag_header),
        ],
        bytes,
    )
        .into_response()
}

/// A change-feed position: the newest change seen and when it was read.
fn feed_token(last_id: i64, read_ms: i64) -> String {
    format!("{last_id}.{read_ms}")
}

/// Changes are re-sent when made up to this long before the previous read: on PostgreSQL an
/// entry with a smaller id can commit after one with a larger id. Entries are page states, so
/// a repeat is harmless to a client.
const FEED_WINDOW_MS: i64 = 5_000;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct Since {
    /// A `Narrator-Next` header value from an earlier answer: only pages whose published text,
    /// stale flag or check status changed since (published, superseded, withdrawn, kept after
    /// feedback, stale, fresh); changes made up to 5 s before that answer are sent again.
    #[param(example = "12.1764000000000")]
    since: Option<String>,
}

/// The published text of every area, or the pages changed since a feed position.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
enum Published {
    Areas(PublishedAreas),
    Changes(PublishedChanges),
}

/// Every area's published text, as the export writes it.
#[derive(Serialize, ToSchema)]
struct PublishedAreas {
    ai_generated: bool,
    areas: Vec<AreaFile>,
}

/// The pages changed since the position sent as `since`.
#[derive(Serialize, ToSchema)]
struct PublishedChanges {
    ai_generated: bool,
    changes: Vec<Change>,
}

/// One page's change: its published text now, or that it has none any more.
#[derive(Serialize, ToSchema)]
struct Change {
    area_code: String,
    section: String,
    state: ChangeState,
    /// Present when `state` is `published`.
    #[serde(skip_serializing_if = "Option::is_none")]
    entry: Option<SectionEntry>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
enum ChangeState {
    Published,
    Withdrawn,
}

/// Published text of every area, or the changes since a token
#[utoipa::path(
    get,
    path = "/api/v1/published",
    tag = "public",
    params(Since, ("If-None-Match" = Option<String>, Header, description = "ETags the client holds: an answer with one of them is `304 Not Modified`")),
    responses(
        (status = 200, description = "Areas, or `changes` since the token; strong ETag of the body; the `Narrator-Next` header holds the token for the next `since`",
            body = Published,
            headers(
                ("ETag" = String, description = "Strong ETag: the body's SHA-256 in quotes"),
                ("Narrator-Next" = String, description = "The change-feed position to send as `since` next time"),
            )),
        (status = 304, description = "Not modified (If-None-Match)",
            headers(
                ("ETag" = String, description = "Strong ETag: the body's SHA-256 in quotes"),
                ("Narrator-Next" = String, description = "The change-feed position to send as `since` next time"),
            )),
        (status = 400, description = "`since` is not a `Narrator-Next` value", body = ErrorBody),
    )
)]
async fn published(
    State(state): State<AppState>,
    Query(q): Query<Since>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let bad_token = || {
        ApiError::BadRequest(
            "since must be the Narrator-Next header of an earlier answer, like 12.1764000000000"
                .into(),
        )
    };
    let policy = state.stale_policy;
    let read_ms = crate::store::now_ms();
    let next;
    let body = match q.since {
        None => {
            let last = state.store.last_change().await?;
            let mut summary = ExportSummary::default();
            let docs = export::documents(&state.store, policy, None, &mut summary).await?;
            next = feed_token(last, read_ms);
            Published::Areas(PublishedAreas {
                ai_generated: true,
                areas: docs.into_iter().map(|d| d.file).collect(),
            })
        }
        Some(token) => {
            let (id, ms) = token.split_once('.').ok_or_else(bad_token)?;
            let id: i64 = id.parse().map_err(|_| bad_token())?;
            let ms: i64 = ms.parse().map_err(|_| bad_token())?;
            let (pages, last) = state
                .store
                .changed_pages(id, ms.saturating_sub(FEED_WINDOW_MS))
                .await?;
            let counts = state.store.published_vote_counts().await?;
            let mut changes = Vec::new();
            for (area, section) in pages {
                let live = state
                    .store
                    .published_version(&area, &section)
                    .await?
                    .filter(|v| !(v.stale && policy == StalePolicy::Withdraw));
                let entry = live
                    .map(|v| SectionEntry::of(&v, counts.get(&v.id).copied().unwrap_or_default()));
                changes.push(Change {
                    area_code: area,
                    section,
                    state: match entry {
                        Some(_) => ChangeState::Published,
                        None => ChangeState::Withdrawn,
                    },
                    entry,
                });
            }
            next = feed_token(last, read_ms);
            Published::Changes(PublishedChanges {
                ai_generated: true,
                changes,
            })
        }
    };
    let mut bytes = serde_json::to_vec_pretty(&sorted_json(&body)).expect("JSON values serialise");
    bytes.push(b'\n');
    // The feed position travels in a header, so the body (and its strong ETag) depends on the
    // published text alone; a 304 still carries a fresh position.
    let mut response = with_etag(&headers, bytes);
    response.headers_mut().insert(
        NEXT_HEADER,
        HeaderValue::from_str(&next).expect("tokens are digits and a dot"),
    );
    Ok(response)
}

/// The response header that carries the change-feed position for `?since=`.
pub const NEXT_HEADER: &str = "narrator-next";

/// Published text of one area: the export's file for it
#[utoipa::path(
    get,
    path = "/api/v1/published/{area_code}",
    tag = "public",
    params(
        ("area_code" = String, Path, description = "ONS area code"),
        ("If-None-Match" = Option<String>, Header, description = "ETags the client holds: an answer with one of them is `304 Not Modified`"),
    ),
    responses(
        (status = 200, description = "The area's file; the ETag is its SHA-256", body = AreaFile,
            headers(("ETag" = String, description = "The file's SHA-256 in quotes, as in the export's index"))),
        (status = 304, description = "Not modified (If-None-Match)",
            headers(("ETag" = String, description = "The file's SHA-256 in quotes"))),
        (status = 404, description = "No published text for the area", body = ErrorBody),
    )
)]
async fn published_area(
    State(state): State<AppState>,
    Path(area): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let mut summary = ExportSummary::default();
    let docs =
        export::documents(&state.store, state.stale_policy, Some(&area), &mut summary).await?;
    match docs.into_iter().next() {
        // The same bytes as the export's file, so the ETag is the index's SHA-256 in quotes.
        Some(doc) => Ok(with_etag(&headers, doc.bytes)),
        None => Err(ApiError::NotFound(format!(
            "no published text for area {area:?}"
        ))),
    }
}

/// The server issues the visitor's identity in the HttpOnly cookie narrator_visitor
/// (Path=/api/v1) on the first vote, or when the cookie sent is not one it signed; a visitor
/// sending it back changes their vote. Counts and the re-review threshold go by voice: each
/// member of staff, and each client network (IPv4 /24, IPv6 /48), counts once, its latest
/// vote.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct FeedbackBody {
    vote: VoteBody,
    /// At most `review::MAX_COMMENT_CHARS` characters (a test holds the two together).
    #[schema(max_length = 1000)]
    comment: Option<String>,
}

#[derive(Deserialize, Clone, Copy, ToSchema)]
#[serde(rename_all = "lowercase")]
enum VoteBody {
    Up,
    Down,
}

/// Voices up and down on a version after a vote.
#[derive(Serialize, ToSchema)]
struct VoteTally {
    version_id: i64,
    up: i64,
    down: i64,
}

/// A visitor's thumbs up or down on a published version
#[utoipa::path(
    post,
    path = "/api/v1/versions/{id}/feedback",
    tag = "public",
    params(("id" = i64, Path, description = "Version id (version_id in the published text)")),
    request_body = FeedbackBody,
    responses(
        (status = 200, description = "Counts (of voices) after the vote; Set-Cookie: narrator_visitor when the server issued a new identity",
            body = VoteTally,
            headers(("Set-Cookie" = String, description = "narrator_visitor=<id>.<signature>; Path=/api/v1; HttpOnly; SameSite=None; Secure (SameSite=Lax without Secure under --insecure-cookies)"))),
        (status = 400, description = "A bad body or comment", body = ErrorBody),
        (status = 404, description = "No such version", body = ErrorBody),
        (status = 409, description = "The version is not published", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody),
        (status = 415, description = "The body is not JSON", body = ErrorBody),
        (status = 422, description = "The body is not a vote", body = ErrorBody),
        (status = 429, description = "Too many votes from this address", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    )
)]
async fn feedback(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    Path(id): Path<i64>,
    body: Result<JsonBody<FeedbackBody>, ApiError>,
) -> Result<Response, ApiError> {
    state
        .votes
        .take(addr)
        .map_err(|retry_after_secs| ApiError::TooManyRequests {
            retry_after_secs,
            what: "votes",
        })?;
    let JsonBody(body) = body?;
    let key = state
        .visitor_key
        .get_or_try_init(|| super::visitor::VisitorKey::load(&state.store))
        .await?;
    let sent = super::auth::cookie(&headers, super::visitor::VISITOR_COOKIE);
    let (identity, issued) = match sent.and_then(|c| key.verify(c)) {
        Some(id) => (id.to_string(), None),
        None => {
            let value = key.issue();
            let id = value.split_once('.').map_or("", |(id, _)| id).to_string();
            (id, Some(value))
        }
    };
    let voter = review::visitor(&identity, &key.network(addr))?;
    let vote = match body.vote {
        VoteBody::Up => Vote::Up,
        VoteBody::Down => Vote::Down,
    };
    let outcome = state
        .desk()
        .vote(id, &voter, vote, body.comment.as_deref())
        .await?;
    let tally = VoteTally {
        version_id: id,
        up: outcome.counts.up,
        down: outcome.counts.down,
    };
    let mut response = Json(sorted_json(&tally)).into_response();
    if let Some(value) = issued {
        let cookie = super::visitor::set_cookie(&value, state.secure_cookies);
        response.headers_mut().insert(
            header::SET_COOKIE,
            cookie
                .parse()
                .expect("a cookie of hex digits is a valid header"),
        );
    }
    Ok(response)
}
