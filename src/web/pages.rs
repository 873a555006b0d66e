//! The review page: server-rendered HTML (minijinja, every value HTML-escaped) that works
//! without JavaScript; sessions in HttpOnly cookies and a CSRF token in every form.
//!
//! Handlers take what `extract` has checked (`Signed`; every form a `CsrfForm`, so none can
//! act on a forged one) and return `PageError` with `?`; `error` renders it.

mod error;
mod extract;
pub(super) mod templates;

use super::api::{start_run_as, RunBody};
use super::auth::{self, Role, Staff, SESSION_COOKIE, SESSION_HOURS, SIGN_IN_COOKIE};
use super::{ApiError, AppState, ClientAddr};
use crate::export::rfc3339;
use crate::review::{Approval, DraftView, FigureNote};
use crate::store::{now_ms, QueueFilter};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use error::PageError;
use extract::{CsrfForm, SignInForm, Signed};
use minijinja::{context, Value};
use serde::{Deserialize, Serialize};
use templates::{area_name, section_title};

/// The review page's routes; `state` gives the error pages their templates.
pub fn routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/review") }))
        .route("/review", get(home))
        .route("/review/sign-in", get(sign_in_form).post(sign_in))
        .route("/review/sign-out", post(sign_out))
        .route("/review/queue", get(queue))
        .route("/review/claim", post(claim_next))
        .route("/review/drafts/{id}", get(draft))
        .route("/review/drafts/{id}/claim", post(claim))
        .route("/review/drafts/{id}/approve", post(approve))
        .route("/review/drafts/{id}/reject", post(reject))
        .route("/review/drafts/{id}/skip", post(skip))
        .route("/review/runs", get(runs).post(start_run))
        .route("/review/runs/{id}", get(run))
        .route("/review/stale", get(stale))
        .route("/review/history", get(history))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            error::error_pages,
        ))
}

fn render(state: &AppState, name: &str, ctx: Value) -> Result<Html<String>, PageError> {
    match state.pages.get_template(name).and_then(|t| t.render(ctx)) {
        Ok(html) => Ok(Html(html)),
        Err(e) => {
            tracing::error!("rendering {name}: {e}");
            Err(PageError::Unrendered)
        }
    }
}

/// The page a signed-in member of staff sees, with the values every page uses.
fn page(
    state: &AppState,
    s: &Signed,
    name: &str,
    title: &str,
    ctx: Value,
) -> Result<Html<String>, PageError> {
    let base = context! {
        title => title,
        staff => &s.staff,
        csrf => &s.csrf,
        notice => Value::from(()),
        error => Value::from(()),
    };
    render(state, name, context! { ..ctx, ..base })
}

/// Where a member of staff starts: reviewers (and admins) at the queue, editors at the runs.
fn landing(staff: &Staff) -> &'static str {
    if staff.require(Role::Reviewer).is_ok() {
        "/review/queue"
    } else {
        "/review/runs"
    }
}

async fn home(State(state): State<AppState>, headers: HeaderMap) -> Redirect {
    match auth::session(&state, &headers).await {
        Ok(Some((staff, _))) => Redirect::to(landing(&staff)),
        _ => Redirect::to("/review/sign-in"),
    }
}

fn sign_in_page(state: &AppState, error: Option<&str>) -> Response {
    // Before a session exists, the form's token is checked against a cookie set with it.
    let csrf = auth::new_csrf();
    let mut response = render(
        state,
        "sign_in.html",
        context! {
            title => "Sign in", staff => Value::from(()), csrf => &csrf,
            notice => Value::from(()), error => error,
        },
    )
    .into_response();
    let cookie = auth::set_cookie(SIGN_IN_COOKIE, &csrf, 600, state.secure_cookies);
    response.headers_mut().append(
        header::SET_COOKIE,
        cookie.parse().expect("cookies are valid header values"),
    );
    response
}

async fn sign_in_form(State(state): State<AppState>) -> Response {
    sign_in_page(&state, None)
}

#[derive(Deserialize)]
struct SignInFields {
    token: String,
}

async fn sign_in(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    SignInForm(form): SignInForm<SignInFields>,
) -> Result<Response, PageError> {
    let started = auth::start_session(&state, form.token.trim(), addr).await?;
    Ok(match started {
        Ok((session, staff)) => {
            tracing::info!("{} signed in to the review page", staff.name);
            let mut r = Redirect::to(landing(&staff)).into_response();
            let h = r.headers_mut();
            let max_age = SESSION_HOURS * 3600;
            for cookie in [
                auth::set_cookie(SESSION_COOKIE, &session, max_age, state.secure_cookies),
                auth::set_cookie(SIGN_IN_COOKIE, "", 0, state.secure_cookies),
            ] {
                h.append(header::SET_COOKIE, cookie.parse().expect("cookie header"));
            }
            r
        }
        Err(auth::Checked::Throttled { retry_after_secs }) => {
            let message = format!(
                "Too many failed sign-ins from this address; try again in {retry_after_secs} s."
            );
            let mut r = sign_in_page(&state, Some(&message));
            *r.status_mut() = StatusCode::TOO_MANY_REQUESTS;
            r.headers_mut()
                .insert(header::RETRY_AFTER, retry_after_secs.into());
            r
        }
        Err(_) => {
            let mut r = sign_in_page(&state, Some("That token is not valid."));
            *r.status_mut() = StatusCode::UNAUTHORIZED;
            r
        }
    })
}

/// A form of the CSRF token alone: a button.
type Button = CsrfForm<()>;

async fn sign_out(
    State(state): State<AppState>,
    headers: HeaderMap,
    _: Button,
) -> Result<Response, PageError> {
    if let Some(id) = auth::cookie(&headers, SESSION_COOKIE) {
        state.store.end_session(&auth::session_key(id)).await?;
    }
    let mut r = Redirect::to("/review/sign-in").into_response();
    let cookie = auth::set_cookie(SESSION_COOKIE, "", 0, state.secure_cookies);
    r.headers_mut()
        .append(header::SET_COOKIE, cookie.parse().expect("cookie header"));
    Ok(r)
}

#[derive(Deserialize, Default, Serialize)]
struct QueueQuery {
    area: Option<String>,
    section: Option<String>,
    done: Option<String>,
}

fn notice(done: Option<&str>) -> Option<&'static str> {
    Some(match done? {
        "approved" => "Approved and published.",
        "reaffirmed" => "Kept as published; down votes count afresh.",
        "rejected" => "Rejected.",
        "skipped" => "Skipped: your next claims pass over it.",
        "claimed" => "Claimed: no other reviewer can decide it while your claim lasts.",
        "empty" => "Nothing to claim: the queue is empty for you.",
        "started" => "Run started.",
        _ => return None,
    })
}

fn blank(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

/// After acting on a draft: its page, with the notice `done` names.
fn to_draft(id: i64, done: &str) -> Redirect {
    Redirect::to(&format!("/review/drafts/{id}?done={done}"))
}

async fn queue(
    State(state): State<AppState>,
    s: Signed,
    Query(q): Query<QueueQuery>,
) -> Result<Html<String>, PageError> {
    s.staff.require(Role::Reviewer)?;
    let filter = state
        .desk()
        .filter(q.area.as_deref(), q.section.as_deref(), None)?;
    let now = now_ms();
    let items: Vec<Value> = state
        .desk()
        .queue(&filter)
        .await?
        .into_iter()
        .map(|i| {
            let claimed_by = i.claimed_by(now).map(str::to_string);
            Value::from_serialize(serde_json::json!({
                "draft_id": i.draft_id, "area_code": i.area_code, "section": i.section,
                "run_id": i.run_id, "reason": i.reason, "queued_at": rfc3339(i.queued_ms),
                "claimed_by": claimed_by,
            }))
        })
        .collect();
    page(
        &state,
        &s,
        "queue.html",
        "Review queue",
        context! { items => items, filter => &q, notice => notice(q.done.as_deref()) },
    )
}

#[derive(Deserialize)]
struct ClaimForm {
    area: Option<String>,
    section: Option<String>,
}

async fn claim_next(
    State(state): State<AppState>,
    s: Signed,
    CsrfForm(form): CsrfForm<ClaimForm>,
) -> Result<Redirect, PageError> {
    s.staff.require(Role::Reviewer)?;
    let filter = state
        .desk()
        .filter(form.area.as_deref(), form.section.as_deref(), None)?;
    Ok(
        match state.desk().claim(&s.staff.name, None, &filter).await? {
            Some(item) => to_draft(item.draft_id, "claimed"),
            None => Redirect::to("/review/queue?done=empty"),
        },
    )
}

/// A piece of the narrative: plain text, or one figure with its note's number.
#[derive(Serialize)]
struct Segment {
    text: String,
    figure: Option<SegmentFigure>,
}

#[derive(Serialize)]
struct SegmentFigure {
    number: usize,
    flagged: bool,
    /// `ok` (matches or is derived from a fact), `neutral` (a year or a name, not a claim) or
    /// `flag`.
    kind: &'static str,
    title: String,
}

fn segments(text: &str, figures: &[FigureNote]) -> Vec<Segment> {
    let mut out = Vec::new();
    let mut at = 0;
    let mut sorted: Vec<&FigureNote> = figures.iter().collect();
    sorted.sort_by_key(|f| f.span);
    for f in sorted {
        let (from, to) = f.span;
        if from < at
            || to > text.len()
            || !text.is_char_boundary(from)
            || !text.is_char_boundary(to)
        {
            continue;
        }
        if from > at {
            out.push(Segment {
                text: text[at..from].to_string(),
                figure: None,
            });
        }
        let fact = f
            .facts
            .first()
            .map(|x| {
                format!(
                    " · {} · {} · {} · {} · source: {}",
                    x.owner, x.label, x.period, x.value, x.source
                )
            })
            .unwrap_or_default();
        out.push(Segment {
            text: text[from..to].to_string(),
            figure: Some(SegmentFigure {
                number: f.number,
                flagged: f.flagged,
                kind: if f.flagged {
                    "flag"
                } else if matches!(f.verdict, "period" | "structural") {
                    "neutral"
                } else {
                    "ok"
                },
                title: format!("{}: {}{fact}", f.verdict, f.message),
            }),
        });
        at = to;
    }
    if at < text.len() {
        out.push(Segment {
            text: text[at..].to_string(),
            figure: None,
        });
    }
    out
}

/// The draft page; `edited` shows a reviewer's edit and the check of it instead of the draft's.
fn draft_page(
    state: &AppState,
    s: &Signed,
    view: &DraftView,
    edited: Option<(&str, &crate::check::Report)>,
    done: Option<&str>,
    error: Option<&str>,
) -> Result<Html<String>, PageError> {
    let (text, report, figures, basis) = match edited {
        Some((text, report)) => {
            let facts = state
                .desk()
                .page_facts(&view.draft.area_code, &view.draft.section);
            let (figures, basis) = match facts {
                Ok(f) => (
                    crate::review::figure_notes(report, &f),
                    crate::facts::DataBasis::of(report.quoted_facts(), &f),
                ),
                Err(_) => Default::default(),
            };
            (text.to_string(), report.clone(), figures, basis)
        }
        None => (
            view.text.clone(),
            view.report.clone(),
            view.figures.clone(),
            view.basis.clone(),
        ),
    };
    let flagged = figures.iter().filter(|f| f.flagged).count();
    let claimed_by = view
        .item
        .as_ref()
        .and_then(|i| i.claimed_by(now_ms()).map(str::to_string));
    page(
        state,
        s,
        "draft.html",
        &format!(
            "{}: {} (draft {})",
            area_name(&state.facts, &view.draft.area_code),
            section_title(&state.facts, &view.draft.section),
            view.draft.id
        ),
        context! {
            d => view,
            report => &report,
            figures => &figures,
            basis => &basis,
            charts => view.charts.iter().map(super::charts::draw).collect::<Vec<_>>(),
            flagged => flagged,
            segments => segments(&text, &figures),
            edit_text => &text,
            claimed_by => claimed_by,
            claim_minutes => state.settings.claim_lease.as_secs() / 60,
            notice => notice(done),
            error => error,
        },
    )
}

#[derive(Deserialize)]
struct DoneQuery {
    done: Option<String>,
    /// Where the page of older comments starts (`updated_ms-id`, from the page's own link).
    comments_before: Option<String>,
}

async fn draft(
    State(state): State<AppState>,
    s: Signed,
    Path(id): Path<i64>,
    Query(q): Query<DoneQuery>,
) -> Result<Html<String>, PageError> {
    s.staff.require(Role::Reviewer)?;
    let before = match q
        .comments_before
        .as_deref()
        .map(crate::review::parse_comments_cursor)
    {
        Some(None) => {
            return Err(PageError::bad_request(
                "comments_before must be the page's own link: milliseconds-id",
            ))
        }
        cursor => cursor.flatten(),
    };
    let view = state.desk().show_from(id, before).await?;
    draft_page(&state, &s, &view, None, q.done.as_deref(), None)
}

async fn claim(
    State(state): State<AppState>,
    s: Signed,
    Path(id): Path<i64>,
    _: Button,
) -> Result<Redirect, PageError> {
    s.staff.require(Role::Reviewer)?;
    state
        .desk()
        .claim(&s.staff.name, Some(id), &QueueFilter::default())
        .await?;
    Ok(to_draft(id, "claimed"))
}

#[derive(Deserialize)]
struct ApproveForm {
    text: Option<String>,
    override_reason: Option<String>,
}

async fn approve(
    State(state): State<AppState>,
    s: Signed,
    Path(id): Path<i64>,
    CsrfForm(form): CsrfForm<ApproveForm>,
) -> Result<Response, PageError> {
    s.staff.require(Role::Reviewer)?;
    let desk = state.desk();
    let view = desk.show(id).await?;
    // Browsers send textarea text with CRLF line ends: compare as the draft would be.
    let text = form.text.map(|t| t.replace("\r\n", "\n"));
    let edited = text.as_deref().filter(|t| *t != view.text);
    let reason = blank(form.override_reason);
    let approval = desk
        .approve(&s.staff.name, id, edited, reason.as_deref())
        .await?;
    Ok(match approval {
        Approval::Published(_) => to_draft(id, "approved").into_response(),
        Approval::Reaffirmed { .. } => to_draft(id, "reaffirmed").into_response(),
        Approval::CheckFailed { report } => {
            let shown = edited.unwrap_or(&view.text);
            let mut r = draft_page(
                &state,
                &s,
                &view,
                Some((shown, &report)),
                None,
                Some("Not published: the text fails the check against today's facts. Fix the flagged figures, or give a reason to publish it anyway."),
            )
            .into_response();
            *r.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            r
        }
    })
}

#[derive(Deserialize)]
struct RejectForm {
    reason: String,
}

async fn reject(
    State(state): State<AppState>,
    s: Signed,
    Path(id): Path<i64>,
    CsrfForm(form): CsrfForm<RejectForm>,
) -> Result<Redirect, PageError> {
    s.staff.require(Role::Reviewer)?;
    state.desk().reject(&s.staff.name, id, &form.reason).await?;
    Ok(to_draft(id, "rejected"))
}

async fn skip(
    State(state): State<AppState>,
    s: Signed,
    Path(id): Path<i64>,
    _: Button,
) -> Result<Redirect, PageError> {
    s.staff.require(Role::Reviewer)?;
    state.desk().skip(&s.staff.name, id).await?;
    Ok(Redirect::to("/review/queue?done=skipped"))
}

async fn runs(
    State(state): State<AppState>,
    s: Signed,
    Query(q): Query<DoneQuery>,
) -> Result<Html<String>, PageError> {
    let runs = state.store.runs(50).await?;
    page(
        &state,
        &s,
        "runs.html",
        "Runs",
        context! {
            runs => runs,
            can_start => s.staff.require(Role::Editor).is_ok() && state.runner.is_some(),
            notice => notice(q.done.as_deref()),
        },
    )
}

#[derive(Deserialize)]
struct RunForm {
    area: Option<String>,
    section: Option<String>,
    all: Option<String>,
}

async fn start_run(
    State(state): State<AppState>,
    s: Signed,
    CsrfForm(form): CsrfForm<RunForm>,
) -> Result<Redirect, PageError> {
    let body = RunBody {
        areas: blank(form.area).into_iter().collect(),
        sections: blank(form.section).into_iter().collect(),
        all: form.all.is_some(),
    };
    let (run_id, _) = start_run_as(&state, &s.staff, &body).await?;
    Ok(Redirect::to(&format!("/review/runs/{run_id}")))
}

async fn run(
    State(state): State<AppState>,
    s: Signed,
    Path(id): Path<i64>,
) -> Result<Html<String>, PageError> {
    let run = state
        .store
        .run(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("there is no run {id}")))?;
    let (counts, jobs) = (
        state.store.job_counts(id).await?,
        state.store.jobs(id).await?,
    );
    let done = counts.total() - counts.open();
    page(
        &state,
        &s,
        "run.html",
        &format!("Run {id}"),
        context! { run => run, jobs => jobs, by_status => counts.by_status, done => done },
    )
}

async fn stale(State(state): State<AppState>, s: Signed) -> Result<Html<String>, PageError> {
    s.staff.require(Role::Reviewer)?;
    let versions: Vec<Value> = state
        .desk()
        .stale_versions()
        .await?
        .iter()
        .map(|v| {
            Value::from_serialize(serde_json::json!({
                "id": v.id, "area_code": v.area_code, "section": v.section,
                "stale_at": v.stale_ms.map(rfc3339).unwrap_or_default(),
            }))
        })
        .collect();
    page(
        &state,
        &s,
        "stale.html",
        "Stale text",
        context! { versions => versions },
    )
}

#[derive(Deserialize)]
struct PageQuery {
    area: String,
    section: String,
}

async fn history(
    State(state): State<AppState>,
    s: Signed,
    Query(q): Query<PageQuery>,
) -> Result<Html<String>, PageError> {
    s.staff.require(Role::Reviewer)?;
    let desk = state.desk();
    let (area, section) = desk.resolve_page(&q.area, &q.section)?;
    let entries: Vec<Value> = desk
        .history(&area, &section)
        .await?
        .iter()
        .map(|e| {
            Value::from_serialize(serde_json::json!({
                "at": rfc3339(e.at_ms), "action": e.action, "actor": e.actor,
                "draft_id": e.draft_id, "version_id": e.version_id, "detail": e.detail,
            }))
        })
        .collect();
    page(
        &state,
        &s,
        "history.html",
        &format!("History of {area} {section}"),
        context! { area => area, section => section, entries => entries },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_links_encode_their_area_and_section() {
        let facts = crate::facts::load(std::path::Path::new("data")).unwrap();
        let env = templates::environment(std::sync::Arc::new(facts));
        let html = env
            .get_template("stale.html")
            .unwrap()
            .render(context! {
                versions => vec![context! {
                    id => 1, area_code => "E08000026", section => "a&b c#d", stale_at => "",
                }],
                title => "Stale text",
                staff => Staff { name: "rita".into(), role: Role::Reviewer },
                csrf => "c",
                notice => Value::from(()),
                error => Value::from(()),
            })
            .unwrap();
        assert!(
            html.contains("area=E08000026&amp;section=a%26b%20c%23d"),
            "{html}"
        );
    }

    #[test]
    fn segments_cover_the_text_exactly_once() {
        let note = |n, span, flagged| FigureNote {
            number: n,
            span,
            text: String::new(),
            verdict: "supported",
            flagged,
            message: "m".into(),
            facts: Vec::new(),
            derivation: None,
        };
        let text = "It was 16.2%, up from 99.9%.";
        let segs = segments(text, &[note(2, (22, 27), true), note(1, (7, 12), false)]);
        let joined: String = segs.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(joined, text);
        let figs: Vec<&str> = segs
            .iter()
            .filter(|s| s.figure.is_some())
            .map(|s| s.text.as_str())
            .collect();
        assert_eq!(figs, vec!["16.2%", "99.9%"]);
    }
}
