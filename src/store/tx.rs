//! What the writes of several files share, each run inside the caller's transaction: the
//! clock, the audit entry, a new run with its jobs, queueing a passing draft for review, the
//! claim's row lock, and recognising a unique-index refusal.

use super::db::{Dialect, StoreError};
use sqlx::AnyConnection;

/// Milliseconds since 1970: every time the store writes.
pub fn now_ms() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is after 1970");
    i64::try_from(now.as_millis()).expect("milliseconds since 1970 fit in i64")
}

/// A new run and the (area, section) jobs it covers.
pub struct NewRun<'a> {
    pub started_by: &'a str,
    pub scope: &'a str,
    pub model: &'a str,
    pub params: &'a str,
    pub jobs: &'a [(String, String)],
}

/// Inserts a run and its queued jobs inside the caller's transaction.
pub(super) async fn insert_run(
    conn: &mut AnyConnection,
    new: &NewRun<'_>,
) -> Result<i64, StoreError> {
    let now = now_ms();
    let run_id: i64 = sqlx::query_scalar(
        "INSERT INTO runs (started_by, scope, model, params, status, created_ms) VALUES ($1, $2, $3, $4, 'running', $5) RETURNING id",
    )
    .bind(new.started_by)
    .bind(new.scope)
    .bind(new.model)
    .bind(new.params)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    for (area, section) in new.jobs {
        sqlx::query(
            "INSERT INTO jobs (run_id, area_code, section, status, updated_ms) VALUES ($1, $2, $3, 'queued', $4)",
        )
        .bind(run_id)
        .bind(area.as_str())
        .bind(section.as_str())
        .bind(now)
        .execute(&mut *conn)
        .await?;
    }
    Ok(run_id)
}

/// One audit entry, inside the transaction that made the change.
#[allow(clippy::too_many_arguments)]
pub(super) async fn audit(
    conn: &mut AnyConnection,
    at_ms: i64,
    actor: &str,
    action: &str,
    page: (&str, &str),
    draft_id: Option<i64>,
    version_id: Option<i64>,
    detail: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO audit (at_ms, actor, action, area_code, section, draft_id, version_id, detail) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(at_ms)
    .bind(actor)
    .bind(action)
    .bind(page.0)
    .bind(page.1)
    .bind(draft_id)
    .bind(version_id)
    .bind(detail)
    .execute(conn)
    .await?;
    Ok(())
}

/// Puts a passing draft in the review queue, inside the transaction that finished its job.
pub(super) async fn enqueue_draft(
    conn: &mut AnyConnection,
    draft_id: i64,
    now: i64,
) -> Result<(), StoreError> {
    let page: Option<(String, String)> = sqlx::query_as(
        "INSERT INTO review_items (draft_id, run_id, area_code, section, state, reason, queued_ms) \
         SELECT id, run_id, area_code, section, 'needs_review', 'new_draft', $2 FROM drafts WHERE id = $1 \
         ON CONFLICT (draft_id) DO NOTHING RETURNING area_code, section",
    )
    .bind(draft_id)
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some((area, section)) = page {
        audit(
            conn,
            now,
            "narrator",
            "queued",
            (&area, &section),
            Some(draft_id),
            None,
            "the draft passed the check and waits for review",
        )
        .await?;
    }
    Ok(())
}

/// The clause that makes a claim's row choice skip rows other workers hold: PostgreSQL
/// needs it; SQLite serialises writers, so its single `UPDATE ... RETURNING` is atomic as is.
pub(super) fn skip_locked(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
        Dialect::Sqlite => "",
    }
}

pub(super) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}
