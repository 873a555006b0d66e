//! The JSON API under `/api/v1`: published text with ETags and a change feed, visitors'
//! thumbs, and the staff routes (queue, drafts, runs, users) behind bearer tokens and roles.

use super::auth::{issue_token, Role, Staff};
use super::{ApiError, AppState, ClientAddr};
use crate::export::{self, ExportSummary, SectionEntry, StalePolicy};
use crate::review::{self, Approval};
use crate::run::Scope;
use crate::store::Vote;
use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

/// Every API route, as (method, path). The OpenAPI document must describe exactly these; a
/// test holds the two together.
pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/api/v1/openapi.json"),
    ("get", "/api/v1/published"),
    ("get", "/api/v1/published/{area_code}"),
    ("post", "/api/v1/versions/{id}/feedback"),
    ("get", "/api/v1/me"),
    ("get", "/api/v1/queue"),
    ("post", "/api/v1/queue/claim"),
    ("get", "/api/v1/drafts/{id}"),
    ("post", "/api/v1/drafts/{id}/approve"),
    ("post", "/api/v1/drafts/{id}/reject"),
    ("post", "/api/v1/drafts/{id}/skip"),
    ("get", "/api/v1/history"),
    ("get", "/api/v1/stale"),
    ("get", "/api/v1/runs"),
    ("post", "/api/v1/runs"),
    ("get", "/api/v1/runs/{id}"),
    ("get", "/api/v1/users"),
    ("post", "/api/v1/users"),
];

/// The OpenAPI 3.1 document served at `/api/v1/openapi.json`.
pub const OPENAPI: &str = include_str!("openapi.json");

pub fn routes() -> Router<AppState> {
    let api = Router::new()
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/published", get(published))
        .route("/api/v1/published/{area_code}", get(published_area))
        .route("/api/v1/versions/{id}/feedback", post(feedback))
        .route("/api/v1/me", get(me))
        .route("/api/v1/queue", get(queue))
        .route("/api/v1/queue/claim", post(claim))
        .route("/api/v1/drafts/{id}", get(draft))
        .route("/api/v1/drafts/{id}/approve", post(approve))
        .route("/api/v1/drafts/{id}/reject", post(reject))
        .route("/api/v1/drafts/{id}/skip", post(skip))
        .route("/api/v1/history", get(history))
        .route("/api/v1/stale", get(stale))
        .route("/api/v1/runs", get(runs).post(start_run))
        .route("/api/v1/runs/{id}", get(run))
        .route("/api/v1/users", get(users).post(add_user));
    api.layer(axum::middleware::map_response(json_errors))
}

/// Extractor rejections (a bad path or query) answer in plain text; the API answers JSON.
async fn json_errors(response: Response) -> Response {
    let plain = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/plain"));
    if !(response.status().is_client_error() && plain) {
        return response;
    }
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), 64 * 1024)
        .await
        .unwrap_or_default();
    (
        status,
        Json(json!({ "error": String::from_utf8_lossy(&body).trim() })),
    )
        .into_response()
}

/// A JSON body whose rejections are this API's JSON errors with the same status.
pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(JsonBody(v)),
            Err(rejection) => {
                let m = rejection.body_text();
                Err(match rejection.status() {
                    StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge(m),
                    StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType(m),
                    StatusCode::UNPROCESSABLE_ENTITY => ApiError::Unprocessable(m, None),
                    _ => ApiError::BadRequest(m),
                })
            }
        }
    }
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
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

#[derive(Deserialize)]
struct Since {
    since: Option<String>,
}

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
            let areas: Vec<&export::AreaFile> = docs.iter().map(|d| &d.file).collect();
            next = feed_token(last, read_ms);
            json!({ "ai_generated": true, "areas": areas })
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
                changes.push(match live {
                    Some(v) => json!({
                        "area_code": area, "section": section, "state": "published",
                        "entry": SectionEntry::of(&v, counts.get(&v.id).copied().unwrap_or_default()),
                    }),
                    None => json!({ "area_code": area, "section": section, "state": "withdrawn" }),
                });
            }
            next = feed_token(last, read_ms);
            json!({ "ai_generated": true, "changes": changes })
        }
    };
    let mut bytes = serde_json::to_vec_pretty(&body).expect("JSON values serialise");
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FeedbackBody {
    vote: VoteBody,
    comment: Option<String>,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum VoteBody {
    Up,
    Down,
}

/// A visitor's thumb. The server issues the visitor's identity in a cookie (on the first vote,
/// or when the one sent is not one it signed), so a visitor changes their vote rather than
/// adding one; counts and the re-review threshold go by client network (`web::visitor`).
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
    let mut response =
        Json(json!({ "version_id": id, "up": outcome.counts.up, "down": outcome.counts.down }))
            .into_response();
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

async fn me(staff: Staff) -> Json<Staff> {
    Json(staff)
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct QueueQuery {
    area: Option<String>,
    section: Option<String>,
    run: Option<i64>,
}

async fn queue(
    State(state): State<AppState>,
    staff: Staff,
    Query(q): Query<QueueQuery>,
) -> Result<Response, ApiError> {
    staff.require(Role::Reviewer)?;
    let desk = state.desk();
    let filter = desk.filter(q.area.as_deref(), q.section.as_deref(), q.run)?;
    let items = desk.queue(&filter).await?;
    Ok(Json(items).into_response())
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ClaimBody {
    draft_id: Option<i64>,
    area: Option<String>,
    section: Option<String>,
    run: Option<i64>,
}

/// An optional JSON body: empty means the defaults.
fn optional_json<T: serde::de::DeserializeOwned + Default>(bytes: &Bytes) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(bytes).map_err(|e| ApiError::BadRequest(format!("bad JSON body: {e}")))
}

async fn claim(
    State(state): State<AppState>,
    staff: Staff,
    body: Bytes,
) -> Result<Response, ApiError> {
    staff.require(Role::Reviewer)?;
    let body: ClaimBody = optional_json(&body)?;
    let desk = state.desk();
    let filter = desk.filter(body.area.as_deref(), body.section.as_deref(), body.run)?;
    match desk.claim(&staff.name, body.draft_id, &filter).await? {
        Some(item) => Ok(Json(item).into_response()),
        None => Ok(StatusCode::NO_CONTENT.into_response()),
    }
}

async fn draft(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    staff.require(Role::Reviewer)?;
    Ok(Json(state.desk().show(id).await?).into_response())
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ApproveBody {
    /// The reviewer's edited text, if any.
    text: Option<String>,
    override_reason: Option<String>,
}

async fn approve(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Response, ApiError> {
    staff.require(Role::Reviewer)?;
    let body: ApproveBody = optional_json(&body)?;
    let outcome = state
        .desk()
        .approve(
            &staff.name,
            id,
            body.text.as_deref(),
            body.override_reason.as_deref(),
        )
        .await?;
    match outcome {
        Approval::Published(p) => Ok(Json(json!({
            "state": "published", "version_id": p.version_id, "superseded": p.superseded,
        }))
        .into_response()),
        Approval::Reaffirmed { version_id } => Ok(Json(json!({
            "state": "reaffirmed", "version_id": version_id,
        }))
        .into_response()),
        Approval::CheckFailed { report } => Err(ApiError::Unprocessable(
            "the text fails the check against today's facts; edit it or give override_reason"
                .into(),
            Some(serde_json::to_value(&report).expect("reports serialise")),
        )),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RejectBody {
    reason: String,
}

async fn reject(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    body: Result<JsonBody<RejectBody>, ApiError>,
) -> Result<Response, ApiError> {
    staff.require(Role::Reviewer)?;
    let JsonBody(body) = body?;
    let withdrawn = state.desk().reject(&staff.name, id, &body.reason).await?;
    Ok(Json(json!({ "state": "rejected", "withdrawn_version": withdrawn })).into_response())
}

async fn skip(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    staff.require(Role::Reviewer)?;
    state.desk().skip(&staff.name, id).await?;
    Ok(Json(json!({ "state": "skipped" })).into_response())
}

#[derive(Deserialize)]
struct PageQuery {
    area: String,
    section: String,
}

async fn history(
    State(state): State<AppState>,
    staff: Staff,
    q: Result<Query<PageQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    staff.require(Role::Reviewer)?;
    let Query(q) = q.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let desk = state.desk();
    let (area, section) = desk.resolve_page(&q.area, &q.section)?;
    let entries = desk.history(&area, &section).await?;
    Ok(Json(entries).into_response())
}

async fn stale(State(state): State<AppState>, staff: Staff) -> Result<Response, ApiError> {
    staff.require(Role::Reviewer)?;
    Ok(Json(state.desk().stale_versions().await?).into_response())
}

async fn runs(State(state): State<AppState>, _staff: Staff) -> Result<Response, ApiError> {
    Ok(Json(state.store.runs(50).await?).into_response())
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RunBody {
    #[serde(default)]
    pub areas: Vec<String>,
    #[serde(default)]
    pub sections: Vec<String>,
    #[serde(default)]
    pub all: bool,
}

/// Starts (or resumes) a run as this member of staff and works it in the background.
pub async fn start_run_as(
    state: &AppState,
    staff: &Staff,
    body: &RunBody,
) -> Result<(i64, bool), ApiError> {
    staff.require(Role::Editor)?;
    let Some(runner) = state.runner.clone() else {
        return Err(ApiError::Conflict(
            "this server was started without a model: start `narrator serve` with provider settings to run".into(),
        ));
    };
    let scope = Scope::resolve(&state.facts, &body.areas, &body.sections, body.all)
        .map_err(ApiError::BadRequest)?;
    let (run_id, resumed) = runner.start_or_resume_as(&scope, &staff.name).await?;
    // A run already being worked here is not worked twice.
    runner.work_in_background(run_id, resumed).await;
    Ok((run_id, resumed))
}

async fn start_run(
    State(state): State<AppState>,
    staff: Staff,
    body: Result<JsonBody<RunBody>, ApiError>,
) -> Result<Response, ApiError> {
    staff.require(Role::Editor)?;
    let JsonBody(body) = body?;
    let (run_id, resumed) = start_run_as(&state, &staff, &body).await?;
    let jobs = state.store.jobs(run_id).await?.len();
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "run_id": run_id, "resumed": resumed, "jobs": jobs })),
    )
        .into_response())
}

async fn run(
    State(state): State<AppState>,
    _staff: Staff,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    let run = state
        .store
        .run(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("there is no run {id}")))?;
    let (counts, jobs) = (
        state.store.job_counts(id).await?,
        state.store.jobs(id).await?,
    );
    Ok(Json(json!({ "run": run, "by_status": counts.by_status, "jobs": jobs })).into_response())
}

async fn users(State(state): State<AppState>, staff: Staff) -> Result<Response, ApiError> {
    staff.require(Role::Admin)?;
    Ok(Json(state.store.users().await?).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserBody {
    name: String,
    role: String,
}

async fn add_user(
    State(state): State<AppState>,
    staff: Staff,
    body: Result<JsonBody<UserBody>, ApiError>,
) -> Result<Response, ApiError> {
    staff.require(Role::Admin)?;
    let JsonBody(body) = body?;
    let role = Role::parse(&body.role).ok_or_else(|| {
        ApiError::BadRequest(format!(
            "role must be editor, reviewer or admin, found {:?}",
            body.role
        ))
    })?;
    let name = valid_name(&body.name).map_err(ApiError::BadRequest)?;
    let issued = issue_token();
    match state
        .store
        .add_user(name, role.as_str(), &issued.token_id, &issued.hash)
        .await?
    {
        Some(_) => Ok((
            StatusCode::CREATED,
            Json(json!({ "name": name, "role": role, "token": issued.token })),
        )
            .into_response()),
        None => Err(ApiError::Conflict(format!(
            "there is already a user {name:?}"
        ))),
    }
}

/// A user name: 1 to 64 printable characters without surrounding spaces.
pub fn valid_name(name: &str) -> Result<&str, String> {
    let trimmed = name.trim();
    if trimmed.is_empty() || trimmed.chars().count() > 64 || trimmed.chars().any(char::is_control) {
        return Err(format!(
            "a user name must be 1 to 64 printable characters, found {name:?}"
        ));
    }
    Ok(trimmed)
}
