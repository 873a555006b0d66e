//! The review queue: review items, claiming (the next or a given one), skipping, the queue's
//! filter, and closing an item as the first write of a decision. Every guarded change is one
//! UPDATE whose WHERE clause is the guard, issued first in its transaction: on SQLite that
//! takes the write lock at once (a read first could not be upgraded under contention), on
//! PostgreSQL it locks the row, so two reviewers can never both win.

use super::db::{Store, StoreError};
use super::status::ItemState;
use super::tx::{audit, now_ms, skip_locked};
use sqlx::AnyConnection;

/// Which part of the queue to look at; every field narrows it.
#[derive(Clone, Debug, Default)]
pub struct QueueFilter {
    pub area: Option<String>,
    pub section: Option<String>,
    pub run: Option<i64>,
}

/// A draft in review, with its claim and the person who started the run that wrote it.
#[derive(Clone, Debug, PartialEq, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct ReviewItem {
    pub draft_id: i64,
    pub run_id: i64,
    pub area_code: String,
    pub section: String,
    pub state: ItemState,
    /// `new_draft`, or `feedback` when a published version came back on down votes.
    pub reason: String,
    /// The published version that came back, for `feedback` items.
    pub version_id: Option<i64>,
    pub claim_holder: Option<String>,
    pub claim_expires_ms: Option<i64>,
    pub queued_ms: i64,
    pub decided_ms: Option<i64>,
    pub decided_by: Option<String>,
    pub note: Option<String>,
    #[sqlx(rename = "started_by")]
    pub run_started_by: String,
}

impl ReviewItem {
    /// The reviewer holding an unexpired claim, if any.
    pub fn claimed_by(&self, now_ms: i64) -> Option<&str> {
        match (&self.claim_holder, self.claim_expires_ms) {
            (Some(holder), Some(until)) if until >= now_ms => Some(holder),
            _ => None,
        }
    }
}

const ITEM_COLUMNS: &str = "i.draft_id, i.run_id, i.area_code, i.section, i.state, i.reason, i.version_id, \
     i.claim_holder, i.claim_expires_ms, i.queued_ms, i.decided_ms, i.decided_by, i.note, r.started_by";

/// Bound values of a queue filter, in placeholder order.
enum Bound {
    Text(String),
    Int(i64),
}

/// ` AND ...` conditions on `i` for the filter, numbering placeholders from `next`.
fn filter_sql(filter: &QueueFilter, mut next: usize) -> (String, Vec<Bound>) {
    let mut sql = String::new();
    let mut binds = Vec::new();
    if let Some(area) = &filter.area {
        sql.push_str(&format!(" AND i.area_code = ${next}"));
        binds.push(Bound::Text(area.clone()));
        next += 1;
    }
    if let Some(section) = &filter.section {
        sql.push_str(&format!(" AND i.section = ${next}"));
        binds.push(Bound::Text(section.clone()));
        next += 1;
    }
    if let Some(run) = filter.run {
        sql.push_str(&format!(" AND i.run_id = ${next}"));
        binds.push(Bound::Int(run));
    }
    (sql, binds)
}

type AnyArgs<'q> = sqlx::any::AnyArguments<'q>;

fn bind_all<'q, O>(
    mut q: sqlx::query::QueryAs<'q, sqlx::Any, O, AnyArgs<'q>>,
    binds: Vec<Bound>,
) -> sqlx::query::QueryAs<'q, sqlx::Any, O, AnyArgs<'q>> {
    for b in binds {
        q = match b {
            Bound::Text(s) => q.bind(s),
            Bound::Int(n) => q.bind(n),
        };
    }
    q
}

/// The item of a draft, read inside the caller's transaction.
pub(super) async fn item_in(
    conn: &mut AnyConnection,
    draft_id: i64,
) -> Result<ReviewItem, StoreError> {
    let sql = format!(
        "SELECT {ITEM_COLUMNS} FROM review_items i JOIN runs r ON r.id = i.run_id WHERE i.draft_id = $1"
    );
    Ok(sqlx::query_as(&sql).bind(draft_id).fetch_one(conn).await?)
}

/// Closes an item this reviewer may decide (waiting, and not claimed by someone else), as
/// the first write of the caller's transaction. False when the guard fails.
pub(super) async fn decide_item(
    conn: &mut AnyConnection,
    draft_id: i64,
    reviewer: &str,
    state: &str,
    note: Option<&str>,
    now: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE review_items SET state = $1, decided_ms = $2, decided_by = $3, note = $4, \
         claim_holder = NULL, claim_expires_ms = NULL \
         WHERE draft_id = $5 AND state = 'needs_review' \
         AND (claim_holder IS NULL OR claim_holder = $3 OR claim_expires_ms < $2)",
    )
    .bind(state)
    .bind(now)
    .bind(reviewer)
    .bind(note)
    .bind(draft_id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Records a claim just taken; returns the item.
async fn audit_claim(
    conn: &mut AnyConnection,
    draft_id: i64,
    reviewer: &str,
    now: i64,
    lease_ms: i64,
) -> Result<ReviewItem, StoreError> {
    let item = item_in(conn, draft_id).await?;
    audit(
        conn,
        now,
        reviewer,
        "claimed",
        (&item.area_code, &item.section),
        Some(draft_id),
        item.version_id,
        &format!("claim held for {} minutes", lease_ms / 60_000),
    )
    .await?;
    Ok(item)
}

impl Store {
    /// Drafts waiting for review, oldest first.
    pub async fn review_queue(&self, filter: &QueueFilter) -> Result<Vec<ReviewItem>, StoreError> {
        let (conds, binds) = filter_sql(filter, 1);
        let sql = format!(
            "SELECT {ITEM_COLUMNS} FROM review_items i JOIN runs r ON r.id = i.run_id \
             WHERE i.state = 'needs_review'{conds} ORDER BY i.queued_ms, i.draft_id"
        );
        Ok(bind_all(sqlx::query_as(&sql), binds)
            .fetch_all(&self.pool)
            .await?)
    }

    pub async fn review_item(&self, draft_id: i64) -> Result<Option<ReviewItem>, StoreError> {
        let sql = format!(
            "SELECT {ITEM_COLUMNS} FROM review_items i JOIN runs r ON r.id = i.run_id WHERE i.draft_id = $1"
        );
        Ok(sqlx::query_as(&sql)
            .bind(draft_id)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Claims the oldest waiting item nobody else holds and this reviewer has not skipped.
    pub async fn claim_next_review(
        &self,
        reviewer: &str,
        filter: &QueueFilter,
        lease_ms: i64,
        skip_own_runs: bool,
    ) -> Result<Option<ReviewItem>, StoreError> {
        let now = now_ms();
        let lock = skip_locked(self.dialect());
        let (mut conds, binds) = filter_sql(filter, 4);
        if skip_own_runs {
            // Items this reviewer could not approve (separation of duties) are passed over.
            conds.push_str(
                " AND NOT EXISTS (SELECT 1 FROM runs o WHERE o.id = i.run_id \
                 AND lower(trim(o.started_by)) = lower(trim($1)))",
            );
        }
        let sql = format!(
            "UPDATE review_items SET claim_holder = $1, claim_expires_ms = $2 \
             WHERE draft_id = (SELECT i.draft_id FROM review_items i WHERE i.state = 'needs_review' \
               AND (i.claim_holder IS NULL OR i.claim_holder = $1 OR i.claim_expires_ms < $3) \
               AND NOT EXISTS (SELECT 1 FROM review_skips s WHERE s.draft_id = i.draft_id AND s.reviewer = $1){conds} \
               ORDER BY i.queued_ms, i.draft_id LIMIT 1{lock}) \
             RETURNING draft_id"
        );
        let mut tx = self.pool.begin().await?;
        let q = sqlx::query_as(&sql)
            .bind(reviewer)
            .bind(now + lease_ms)
            .bind(now);
        let Some((draft_id,)): Option<(i64,)> = bind_all(q, binds).fetch_optional(&mut *tx).await?
        else {
            return Ok(None);
        };
        let item = audit_claim(&mut tx, draft_id, reviewer, now, lease_ms).await?;
        tx.commit().await?;
        Ok(Some(item))
    }

    /// Claims one item if it waits and nobody else holds it; false otherwise.
    pub async fn claim_review(
        &self,
        draft_id: i64,
        reviewer: &str,
        lease_ms: i64,
    ) -> Result<bool, StoreError> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE review_items SET claim_holder = $1, claim_expires_ms = $2 WHERE draft_id = $3 \
             AND state = 'needs_review' AND (claim_holder IS NULL OR claim_holder = $1 OR claim_expires_ms < $4)",
        )
        .bind(reviewer)
        .bind(now + lease_ms)
        .bind(draft_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        audit_claim(&mut tx, draft_id, reviewer, now, lease_ms).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Passes over an item: this reviewer's claim on it (only theirs) is released and their
    /// next claims skip it.
    pub async fn skip_review(&self, draft_id: i64, reviewer: &str) -> Result<bool, StoreError> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "INSERT INTO review_skips (draft_id, reviewer, skipped_ms) \
             SELECT draft_id, $2, $3 FROM review_items WHERE draft_id = $1 AND state = 'needs_review' \
             ON CONFLICT (draft_id, reviewer) DO UPDATE SET skipped_ms = excluded.skipped_ms",
        )
        .bind(draft_id)
        .bind(reviewer)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        sqlx::query(
            "UPDATE review_items SET claim_holder = NULL, claim_expires_ms = NULL WHERE draft_id = $1 AND claim_holder = $2",
        )
        .bind(draft_id)
        .bind(reviewer)
        .execute(&mut *tx)
        .await?;
        let item = item_in(&mut tx, draft_id).await?;
        audit(
            &mut tx,
            now,
            reviewer,
            "skipped",
            (&item.area_code, &item.section),
            Some(draft_id),
            item.version_id,
            "passed over; left in the queue for others",
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }
}
