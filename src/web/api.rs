//! The JSON API under `/api/v1`: its router, which also makes the OpenAPI document, the JSON
//! plumbing its routes share, and the staff routes (queue, drafts, runs, users) behind bearer
//! tokens and roles. The public routes are in `public_api.rs`.

use super::auth::{issue_token, Role, Staff};
use super::error::ErrorBody;
use super::openapi::{finish, ApiDoc, Document, StaffAuthErrors};
use super::public_api;
use super::{ApiError, AppState};
use crate::review::{Approval, DraftView};
use crate::run::Scope;
use crate::store::{AuditEntry, JobRow, JobStatus, ReviewItem, RunRow, UserRow, VersionRow};
use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json, Router};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::{IntoParams, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The API's routes and, generated from them, the OpenAPI document they are served with.
/// `routes!` routes each handler under the method and path its `#[utoipa::path]` names and
/// adds that operation to the document, so nothing is routed that is not documented.
pub fn routes() -> Router<AppState> {
    let (api, doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(super::openapi::document))
        .merge(public_api::routes())
        .routes(routes!(me))
        .routes(routes!(queue))
        .routes(routes!(claim))
        .routes(routes!(draft))
        .routes(routes!(approve))
        .routes(routes!(reject))
        .routes(routes!(skip))
        .routes(routes!(history))
        .routes(routes!(stale))
        .routes(routes!(runs, start_run))
        .routes(routes!(run))
        .routes(routes!(users, add_user))
        .split_for_parts();
    // Serialised once here, when the server is built, not on every request.
    let document = Document(Bytes::from(finish(doc)));
    api.layer(Extension(document))
        .layer(axum::middleware::map_response(json_errors))
        .merge(super::openapi::page())
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
        Json(ErrorBody::new(
            String::from_utf8_lossy(&body).trim().to_string(),
        )),
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

/// A body as `json!` wrote it before the answers were typed: through a `Value`, whose object
/// keys are sorted, so the bytes on the wire (and so the ETags) stay as they were.
pub(super) fn sorted_json<T: Serialize>(body: &T) -> serde_json::Value {
    serde_json::to_value(body).expect("API bodies serialise")
}

/// Who the token belongs to
#[utoipa::path(
    get,
    path = "/api/v1/me",
    tag = "staff",
    security(("bearer" = [])),
    responses((status = 200, description = "Name and role", body = Staff), StaffAuthErrors)
)]
async fn me(staff: Staff) -> Json<Staff> {
    Json(staff)
}

#[derive(Deserialize, Default, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct QueueQuery {
    /// Council code or name
    area: Option<String>,
    /// Section id
    section: Option<String>,
    /// Run id
    run: Option<i64>,
}

/// Drafts waiting for review, oldest first (reviewer)
#[utoipa::path(
    get,
    path = "/api/v1/queue",
    tag = "staff",
    security(("bearer" = [])),
    params(QueueQuery),
    responses(
        (status = 200, description = "Items", body = Vec<ReviewItem>),
        (status = 400, description = "An unknown area or section, or an unknown parameter", body = ErrorBody),
        (status = 403, description = "Not a reviewer", body = ErrorBody),
        StaffAuthErrors,
    )
)]
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

/// Which draft to claim: a given one, or the oldest waiting in the filter's part of the queue.
#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
struct ClaimBody {
    draft_id: Option<i64>,
    /// Council code or name
    area: Option<String>,
    /// Section id
    section: Option<String>,
    /// Run id
    run: Option<i64>,
}

/// An optional JSON body: empty means the defaults.
fn optional_json<T: serde::de::DeserializeOwned + Default>(bytes: &Bytes) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(bytes).map_err(|e| ApiError::BadRequest(format!("bad JSON body: {e}")))
}

/// Claim the oldest waiting draft (or a given one) for the claim period (reviewer)
#[utoipa::path(
    post,
    path = "/api/v1/queue/claim",
    tag = "staff",
    security(("bearer" = [])),
    request_body(content = Option<ClaimBody>, description = "May be empty: no filter."),
    responses(
        (status = 200, description = "The claimed item", body = ReviewItem),
        (status = 204, description = "Nothing to claim"),
        (status = 400, description = "A bad body or filter", body = ErrorBody),
        (status = 403, description = "Not a reviewer, or the draft is from the reviewer's own run", body = ErrorBody),
        (status = 404, description = "No such draft", body = ErrorBody),
        (status = 409, description = "The draft is claimed by another reviewer or decided", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody),
        StaffAuthErrors,
    )
)]
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

/// A draft with every figure's verdict and fact, the diff against the published version, changed facts and feedback (reviewer)
#[utoipa::path(
    get,
    path = "/api/v1/drafts/{id}",
    tag = "staff",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Draft id")),
    responses(
        (status = 200, description = "The reviewer's view", body = DraftView),
        (status = 403, description = "Not a reviewer", body = ErrorBody),
        (status = 404, description = "No such draft", body = ErrorBody),
        StaffAuthErrors,
    )
)]
async fn draft(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    staff.require(Role::Reviewer)?;
    Ok(Json(state.desk().show(id).await?).into_response())
}

#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
struct ApproveBody {
    /// The reviewer's edited text; it is checked again.
    text: Option<String>,
    /// Required to publish text that fails the check; recorded.
    override_reason: Option<String>,
}

/// What an approval did, by `state`.
#[derive(Serialize, ToSchema)]
#[serde(tag = "state", rename_all = "lowercase")]
enum Approved {
    /// Published; the page's previous version, if it had one, is superseded.
    Published {
        version_id: i64,
        superseded: Option<i64>,
    },
    /// A version back on feedback is kept as it is.
    Reaffirmed { version_id: i64 },
}

/// Approve and publish, optionally with edits (re-checked) and an override reason (reviewer)
#[utoipa::path(
    post,
    path = "/api/v1/drafts/{id}/approve",
    tag = "staff",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Draft id")),
    request_body(content = Option<ApproveBody>, description = "May be empty: no edits."),
    responses(
        (status = 200, description = "Published (or kept after feedback)", body = Approved),
        (status = 400, description = "A bad body, or empty text", body = ErrorBody),
        (status = 403, description = "Not a reviewer, or the draft is from the reviewer's own run", body = ErrorBody),
        (status = 404, description = "No such draft", body = ErrorBody),
        (status = 409, description = "The draft is not in review, is decided, or is claimed by another reviewer", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody),
        (status = 422, description = "The text fails the check against today's facts; `details` is the check's report", body = ErrorBody),
        StaffAuthErrors,
    )
)]
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
        Approval::Published(p) => Ok(Json(sorted_json(&Approved::Published {
            version_id: p.version_id,
            superseded: p.superseded,
        }))
        .into_response()),
        Approval::Reaffirmed { version_id } => {
            Ok(Json(sorted_json(&Approved::Reaffirmed { version_id })).into_response())
        }
        Approval::CheckFailed { report } => Err(ApiError::Unprocessable(
            "the text fails the check against today's facts; edit it or give override_reason"
                .into(),
            Some(serde_json::to_value(&report).expect("reports serialise")),
        )),
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct RejectBody {
    #[schema(min_length = 1)]
    reason: String,
}

/// What a rejection did: serde writes the one variant's name as `state`.
#[derive(Serialize, ToSchema)]
#[serde(tag = "state", rename_all = "lowercase")]
enum Rejected {
    /// Rejected; a version back on feedback is withdrawn.
    Rejected { withdrawn_version: Option<i64> },
}

/// Reject with a reason (reviewer)
#[utoipa::path(
    post,
    path = "/api/v1/drafts/{id}/reject",
    tag = "staff",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Draft id")),
    request_body = RejectBody,
    responses(
        (status = 200, description = "Rejected; a version back on feedback is withdrawn", body = Rejected),
        (status = 400, description = "A bad body, or an empty reason", body = ErrorBody),
        (status = 403, description = "Not a reviewer, or the draft is from the reviewer's own run", body = ErrorBody),
        (status = 404, description = "No such draft", body = ErrorBody),
        (status = 409, description = "The draft is not in review, is decided, or is claimed by another reviewer", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody),
        (status = 415, description = "The body is not JSON", body = ErrorBody),
        (status = 422, description = "The body has no reason", body = ErrorBody),
        StaffAuthErrors,
    )
)]
async fn reject(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
    body: Result<JsonBody<RejectBody>, ApiError>,
) -> Result<Response, ApiError> {
    staff.require(Role::Reviewer)?;
    let JsonBody(body) = body?;
    let withdrawn = state.desk().reject(&staff.name, id, &body.reason).await?;
    let answer = Rejected::Rejected {
        withdrawn_version: withdrawn,
    };
    Ok(Json(sorted_json(&answer)).into_response())
}

/// What a skip did: serde writes the one variant's name as `state`.
#[derive(Serialize, ToSchema)]
#[serde(tag = "state", rename_all = "lowercase")]
enum Skipped {
    /// The claim is released and this reviewer's claims pass over the draft.
    Skipped,
}

/// Pass over a draft: your claim is released and your claims skip it (reviewer)
#[utoipa::path(
    post,
    path = "/api/v1/drafts/{id}/skip",
    tag = "staff",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Draft id")),
    responses(
        (status = 200, description = "Skipped", body = Skipped),
        (status = 403, description = "Not a reviewer", body = ErrorBody),
        (status = 404, description = "No such draft", body = ErrorBody),
        (status = 409, description = "The draft is not in review", body = ErrorBody),
        StaffAuthErrors,
    )
)]
async fn skip(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    staff.require(Role::Reviewer)?;
    state.desk().skip(&staff.name, id).await?;
    Ok(Json(sorted_json(&Skipped::Skipped)).into_response())
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct PageQuery {
    /// Council code or name
    area: String,
    /// Section id
    section: String,
}

/// Every change to one page's text: who, when, what, why (reviewer)
#[utoipa::path(
    get,
    path = "/api/v1/history",
    tag = "staff",
    security(("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "Audit entries, oldest first", body = Vec<AuditEntry>),
        (status = 400, description = "`area` or `section` missing", body = ErrorBody),
        (status = 403, description = "Not a reviewer", body = ErrorBody),
        (status = 404, description = "No such page", body = ErrorBody),
        StaffAuthErrors,
    )
)]
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

/// Published versions whose facts changed under them (reviewer)
#[utoipa::path(
    get,
    path = "/api/v1/stale",
    tag = "staff",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Stale versions", body = Vec<VersionRow>),
        (status = 403, description = "Not a reviewer", body = ErrorBody),
        StaffAuthErrors,
    )
)]
async fn stale(State(state): State<AppState>, staff: Staff) -> Result<Response, ApiError> {
    staff.require(Role::Reviewer)?;
    Ok(Json(state.desk().stale_versions().await?).into_response())
}

/// Recent runs (any staff role)
#[utoipa::path(
    get,
    path = "/api/v1/runs",
    tag = "staff",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The 50 newest runs, newest first", body = Vec<RunRow>),
        StaffAuthErrors,
    )
)]
async fn runs(State(state): State<AppState>, _staff: Staff) -> Result<Response, ApiError> {
    Ok(Json(state.store.runs(50).await?).into_response())
}

/// What to regenerate: these areas (codes or names) and sections, or `all` of them.
#[derive(Deserialize, Default, ToSchema)]
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

/// A run started or resumed in the server.
#[derive(Serialize, ToSchema)]
struct RunStarted {
    run_id: i64,
    /// True when an unfinished run of the same scope was resumed.
    resumed: bool,
    jobs: usize,
}

/// Start or resume a run and work it in the server (editor)
#[utoipa::path(
    post,
    path = "/api/v1/runs",
    tag = "staff",
    security(("bearer" = [])),
    request_body = RunBody,
    responses(
        (status = 202, description = "The run's id and job count", body = RunStarted),
        (status = 400, description = "An unknown area or section, or nothing chosen", body = ErrorBody),
        (status = 403, description = "Not an editor", body = ErrorBody),
        (status = 409, description = "The server was started without a model", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody),
        (status = 415, description = "The body is not JSON", body = ErrorBody),
        (status = 422, description = "The body is not a run request", body = ErrorBody),
        StaffAuthErrors,
    )
)]
async fn start_run(
    State(state): State<AppState>,
    staff: Staff,
    body: Result<JsonBody<RunBody>, ApiError>,
) -> Result<Response, ApiError> {
    staff.require(Role::Editor)?;
    let JsonBody(body) = body?;
    let (run_id, resumed) = start_run_as(&state, &staff, &body).await?;
    let jobs = state.store.jobs(run_id).await?.len();
    let started = RunStarted {
        run_id,
        resumed,
        jobs,
    };
    Ok((StatusCode::ACCEPTED, Json(sorted_json(&started))).into_response())
}

/// A run with its jobs, and how many are in each status.
#[derive(Serialize, ToSchema)]
struct RunProgress {
    run: RunRow,
    /// Jobs by status; statuses no job has are absent.
    by_status: BTreeMap<JobStatus, i64>,
    jobs: Vec<JobRow>,
}

/// A run's progress: jobs by status (any staff role)
#[utoipa::path(
    get,
    path = "/api/v1/runs/{id}",
    tag = "staff",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Run id")),
    responses(
        (status = 200, description = "The run and its jobs", body = RunProgress),
        (status = 404, description = "No such run", body = ErrorBody),
        StaffAuthErrors,
    )
)]
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
    let progress = RunProgress {
        run,
        by_status: counts.by_status,
        jobs,
    };
    Ok(Json(sorted_json(&progress)).into_response())
}

/// Users and roles, never tokens (admin)
#[utoipa::path(
    get,
    path = "/api/v1/users",
    tag = "staff",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Users, by name", body = Vec<UserRow>),
        (status = 403, description = "Not an admin", body = ErrorBody),
        StaffAuthErrors,
    )
)]
async fn users(State(state): State<AppState>, staff: Staff) -> Result<Response, ApiError> {
    staff.require(Role::Admin)?;
    Ok(Json(state.store.users().await?).into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct UserBody {
    /// 1 to 64 printable characters; surrounding spaces are trimmed.
    name: String,
    /// Parsed by `Role::parse`, so its schema is the role's.
    #[schema(value_type = Role)]
    role: String,
}

/// A new user and their token, shown this once.
#[derive(Serialize, ToSchema)]
struct NewUser {
    name: String,
    role: Role,
    token: String,
}

/// Add a user; the answer holds their token, shown once (admin)
#[utoipa::path(
    post,
    path = "/api/v1/users",
    tag = "staff",
    security(("bearer" = [])),
    request_body = UserBody,
    responses(
        (status = 201, description = "Name, role and token", body = NewUser),
        (status = 400, description = "A bad name or role", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 409, description = "There is already a user of that name", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody),
        (status = 415, description = "The body is not JSON", body = ErrorBody),
        (status = 422, description = "The body is not a user", body = ErrorBody),
        StaffAuthErrors,
    )
)]
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
        Some(_) => {
            let user = NewUser {
                name: name.to_string(),
                role,
                token: issued.token,
            };
            Ok((StatusCode::CREATED, Json(sorted_json(&user))).into_response())
        }
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
