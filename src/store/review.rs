//! The review queue, published versions, feedback and the audit trail. Every guarded change
//! is one UPDATE whose WHERE clause is the guard, issued first in its transaction: on SQLite
//! that takes the write lock at once (a read first could not be upgraded under contention),
//! on PostgreSQL it locks the row, so two reviewers can never both win.

use super::db::{Dialect, Store, StoreError};
use super::runs::{insert_run, now_ms, NewRun};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

/// Which part of the queue to look at; every field narrows it.
#[derive(Clone, Debug, Default)]
pub struct QueueFilter {
    pub area: Option<String>,
    pub section: Option<String>,
    pub run: Option<i64>,
}

/// A draft in review, with its claim and the person who started the run that wrote it.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ReviewItem {
    pub draft_id: i64,
    pub run_id: i64,
    pub area_code: String,
    pub section: String,
    /// `needs_review`, `approved` or `rejected`.
    pub state: String,
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

/// One stored draft, as generated.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct DraftRow {
    pub id: i64,
    pub job_id: i64,
    pub run_id: i64,
    pub area_code: String,
    pub section: String,
    pub attempt: i64,
    pub text: String,
    pub facts_fp: String,
    pub model: String,
    pub params: String,
    pub report: String,
    pub pass: bool,
    pub created_ms: i64,
}

/// Approved text and what it was approved against.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct VersionRow {
    pub id: i64,
    pub area_code: String,
    pub area_name: String,
    pub section: String,
    pub section_title: String,
    pub draft_id: i64,
    pub text: String,
    pub edited: bool,
    pub report: String,
    pub pass: bool,
    pub override_reason: Option<String>,
    /// `published`, `superseded` or `withdrawn`.
    pub state: String,
    pub stale: bool,
    pub stale_report: Option<String>,
    pub stale_ms: Option<i64>,
    pub facts_fp: String,
    /// Fingerprint of the facts the text was last checked against (approval or re-check).
    pub checked_fp: String,
    /// JSON snapshot of the section's facts when it was approved.
    pub facts: String,
    pub facts_period: String,
    /// The periods and sources of the figures the text quotes; None for versions approved
    /// before narrator kept them.
    pub data_basis: Option<crate::facts::DataBasis>,
    pub model: String,
    pub approved_by: String,
    pub approved_ms: i64,
    pub reviewed_ms: i64,
    pub ended_ms: Option<i64>,
}

/// Text a reviewer approves, with the check of it against the facts of the moment.
pub struct NewVersion<'a> {
    pub draft_id: i64,
    pub area_name: &'a str,
    pub section_title: &'a str,
    pub text: &'a str,
    pub edited: bool,
    pub report_json: &'a str,
    pub pass: bool,
    pub override_reason: Option<&'a str>,
    pub facts_fp: &'a str,
    pub facts_json: &'a str,
    pub facts_period: &'a str,
    /// JSON of the text's `facts::DataBasis`.
    pub data_basis: &'a str,
    pub model: &'a str,
    /// Added to the audit entry (for example that separation of duties was off).
    pub audit_note: Option<&'a str>,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Published {
    pub version_id: i64,
    pub superseded: Option<i64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Vote {
    Up,
    Down,
}

impl Vote {
    pub fn as_str(self) -> &'static str {
        match self {
            Vote::Up => "up",
            Vote::Down => "down",
        }
    }
}

/// Who votes: a named member of staff, or a site visitor known by the hash of the identity
/// the server issued them and a keyed hash of their client network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Voter {
    Staff(String),
    Visitor { id_hash: String, network: String },
}

impl Voter {
    /// Whose vote counts once: each member of staff, and each visitors' network, however
    /// many identities its machines hold.
    fn voice(&self) -> String {
        match self {
            Voter::Staff(name) => format!("staff:{name}"),
            Voter::Visitor { network, .. } => format!("net:{network}"),
        }
    }
}

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct FeedbackRow {
    pub id: i64,
    pub version_id: i64,
    pub voter_kind: String,
    /// The staff name; visitors are shown as `visitor`.
    pub voter: String,
    pub vote: String,
    pub comment: Option<String>,
    pub updated_ms: i64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct VoteCounts {
    pub up: i64,
    pub down: i64,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct VoteOutcome {
    pub counts: VoteCounts,
    /// Voices voting down since a reviewer last looked at this version, counted up to the
    /// threshold (enough to decide; counting past it would read every vote).
    pub down_since_review: i64,
    /// The version went back into the review queue on this vote.
    pub requeued: bool,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at_ms: i64,
    pub actor: String,
    pub action: String,
    pub area_code: String,
    pub section: String,
    pub draft_id: Option<i64>,
    pub version_id: Option<i64>,
    pub detail: String,
}

/// A published version whose facts changed and whose text no longer passes.
pub struct StaleMark<'a> {
    pub version_id: i64,
    pub report_json: &'a str,
    pub detail: &'a str,
    pub checked_fp: &'a str,
    /// Queue a regeneration (false when the page is gone from the data).
    pub regenerate: bool,
}

/// Audit actions that change what the public reads (text, stale flag or check status).
const FEED_ACTIONS: &str = "'approved', 'superseded', 'withdrawn', 'reaffirmed', 'stale', 'fresh'";

const ITEM_COLUMNS: &str = "i.draft_id, i.run_id, i.area_code, i.section, i.state, i.reason, i.version_id, \
     i.claim_holder, i.claim_expires_ms, i.queued_ms, i.decided_ms, i.decided_by, i.note, r.started_by";
const VERSION_COLUMNS: &str = "id, area_code, area_name, section, section_title, draft_id, text, edited, report, pass, \
     override_reason, state, stale, stale_report, stale_ms, facts_fp, checked_fp, facts, facts_period, data_basis, model, \
     approved_by, approved_ms, reviewed_ms, ended_ms";

fn item_row(r: &AnyRow) -> Result<ReviewItem, sqlx::Error> {
    Ok(ReviewItem {
        draft_id: r.try_get("draft_id")?,
        run_id: r.try_get("run_id")?,
        area_code: r.try_get("area_code")?,
        section: r.try_get("section")?,
        state: r.try_get("state")?,
        reason: r.try_get("reason")?,
        version_id: r.try_get("version_id")?,
        claim_holder: r.try_get("claim_holder")?,
        claim_expires_ms: r.try_get("claim_expires_ms")?,
        queued_ms: r.try_get("queued_ms")?,
        decided_ms: r.try_get("decided_ms")?,
        decided_by: r.try_get("decided_by")?,
        note: r.try_get("note")?,
        run_started_by: r.try_get("started_by")?,
    })
}

/// An area code read back is parsed as the data parses it: the export names files after it,
/// so a row altered to hold "../../x" is refused, never written outside the export folder.
fn area_code(r: &AnyRow) -> Result<String, sqlx::Error> {
    let raw: String = r.try_get("area_code")?;
    crate::facts::AreaCode::parse(&raw)
        .map(|code| code.as_str().to_string())
        .map_err(|why| sqlx::Error::ColumnDecode {
            index: "area_code".to_string(),
            source: why.into(),
        })
}

fn data_basis(r: &AnyRow) -> Result<Option<crate::facts::DataBasis>, sqlx::Error> {
    let raw: String = r.try_get("data_basis")?;
    if raw.is_empty() {
        return Ok(None);
    }
    serde_json::from_str(&raw)
        .map(Some)
        .map_err(|e| sqlx::Error::ColumnDecode {
            index: "data_basis".to_string(),
            source: Box::new(e),
        })
}

fn version_row(r: &AnyRow) -> Result<VersionRow, sqlx::Error> {
    let flag = |name: &str| -> Result<bool, sqlx::Error> { Ok(r.try_get::<i64, _>(name)? == 1) };
    Ok(VersionRow {
        id: r.try_get("id")?,
        area_code: area_code(r)?,
        area_name: r.try_get("area_name")?,
        section: r.try_get("section")?,
        section_title: r.try_get("section_title")?,
        draft_id: r.try_get("draft_id")?,
        text: r.try_get("text")?,
        edited: flag("edited")?,
        report: r.try_get("report")?,
        pass: flag("pass")?,
        override_reason: r.try_get("override_reason")?,
        state: r.try_get("state")?,
        stale: flag("stale")?,
        stale_report: r.try_get("stale_report")?,
        stale_ms: r.try_get("stale_ms")?,
        facts_fp: r.try_get("facts_fp")?,
        checked_fp: r.try_get("checked_fp")?,
        facts: r.try_get("facts")?,
        facts_period: r.try_get("facts_period")?,
        data_basis: data_basis(r)?,
        model: r.try_get("model")?,
        approved_by: r.try_get("approved_by")?,
        approved_ms: r.try_get("approved_ms")?,
        reviewed_ms: r.try_get("reviewed_ms")?,
        ended_ms: r.try_get("ended_ms")?,
    })
}

fn audit_row(r: &AnyRow) -> Result<AuditEntry, sqlx::Error> {
    Ok(AuditEntry {
        id: r.try_get("id")?,
        at_ms: r.try_get("at_ms")?,
        actor: r.try_get("actor")?,
        action: r.try_get("action")?,
        area_code: r.try_get("area_code")?,
        section: r.try_get("section")?,
        draft_id: r.try_get("draft_id")?,
        version_id: r.try_get("version_id")?,
        detail: r.try_get("detail")?,
    })
}

/// One audit entry, inside the transaction that made the change.
#[allow(clippy::too_many_arguments)]
async fn audit(
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
    let row = sqlx::query(
        "INSERT INTO review_items (draft_id, run_id, area_code, section, state, reason, queued_ms) \
         SELECT id, run_id, area_code, section, 'needs_review', 'new_draft', $2 FROM drafts WHERE id = $1 \
         ON CONFLICT (draft_id) DO NOTHING RETURNING area_code, section",
    )
    .bind(draft_id)
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(row) = row {
        let (area, section): (String, String) =
            (row.try_get("area_code")?, row.try_get("section")?);
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

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

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

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

fn bind_all(mut q: AnyQuery<'_>, binds: Vec<Bound>) -> AnyQuery<'_> {
    for b in binds {
        q = match b {
            Bound::Text(s) => q.bind(s),
            Bound::Int(n) => q.bind(n),
        };
    }
    q
}

impl Store {
    /// Drafts waiting for review, oldest first.
    pub async fn review_queue(&self, filter: &QueueFilter) -> Result<Vec<ReviewItem>, StoreError> {
        let (conds, binds) = filter_sql(filter, 1);
        let sql = format!(
            "SELECT {ITEM_COLUMNS} FROM review_items i JOIN runs r ON r.id = i.run_id \
             WHERE i.state = 'needs_review'{conds} ORDER BY i.queued_ms, i.draft_id"
        );
        let rows = bind_all(sqlx::query(&sql), binds)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(item_row).collect::<Result<_, _>>()?)
    }

    pub async fn review_item(&self, draft_id: i64) -> Result<Option<ReviewItem>, StoreError> {
        let sql = format!(
            "SELECT {ITEM_COLUMNS} FROM review_items i JOIN runs r ON r.id = i.run_id WHERE i.draft_id = $1"
        );
        let row = sqlx::query(&sql)
            .bind(draft_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(item_row).transpose()?)
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
        let lock = match self.dialect() {
            Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
            Dialect::Sqlite => "",
        };
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
        let q = sqlx::query(&sql)
            .bind(reviewer)
            .bind(now + lease_ms)
            .bind(now);
        let Some(row) = bind_all(q, binds).fetch_optional(&mut *tx).await? else {
            return Ok(None);
        };
        let draft_id: i64 = row.try_get("draft_id")?;
        let item = self
            .audit_claim(&mut tx, draft_id, reviewer, now, lease_ms)
            .await?;
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
        self.audit_claim(&mut tx, draft_id, reviewer, now, lease_ms)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Records a claim just taken; returns the item.
    async fn audit_claim(
        &self,
        conn: &mut AnyConnection,
        draft_id: i64,
        reviewer: &str,
        now: i64,
        lease_ms: i64,
    ) -> Result<ReviewItem, StoreError> {
        let item = self.item_in(conn, draft_id).await?;
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

    async fn item_in(
        &self,
        conn: &mut AnyConnection,
        draft_id: i64,
    ) -> Result<ReviewItem, StoreError> {
        let sql = format!(
            "SELECT {ITEM_COLUMNS} FROM review_items i JOIN runs r ON r.id = i.run_id WHERE i.draft_id = $1"
        );
        let row = sqlx::query(&sql).bind(draft_id).fetch_one(conn).await?;
        Ok(item_row(&row)?)
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
        let item = self.item_in(&mut tx, draft_id).await?;
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

    /// Closes an item this reviewer may decide (waiting, and not claimed by someone else),
    /// as the first write of `tx`. False when the guard fails.
    async fn decide_item(
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

    /// Approves an item and publishes its text: the page's previous published version becomes
    /// superseded, in one transaction. `None` when the item is not this reviewer's to decide.
    /// Two approvals racing for one page both succeed in turn: the database's one-published
    /// index refuses the second insert, and the second transaction is retried on top of the
    /// first.
    pub async fn publish(
        &self,
        reviewer: &str,
        new: &NewVersion<'_>,
    ) -> Result<Option<Published>, StoreError> {
        // PostgreSQL serialises publications of one page with an advisory lock, so the index
        // is only a backstop there; SQLite serialises all writers. Should the index still
        // refuse one (a writer outside narrator), each round has a winner: retry with jitter.
        let mut tries: u64 = 0;
        loop {
            tries += 1;
            match self.publish_once(reviewer, new).await {
                Err(StoreError::Query(e)) if is_unique_violation(&e) && tries < 50 => {
                    let ms = 5 + fastrand::u64(0..20 * tries.min(10));
                    tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
                }
                other => return other,
            }
        }
    }

    async fn publish_once(
        &self,
        reviewer: &str,
        new: &NewVersion<'_>,
    ) -> Result<Option<Published>, StoreError> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        if self.dialect() == Dialect::Postgres {
            let draft = self
                .draft_row(new.draft_id)
                .await?
                .ok_or_else(|| StoreError::Corrupt(format!("draft {} vanished", new.draft_id)))?;
            sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
                .bind(format!("publish:{}:{}", draft.area_code, draft.section))
                .execute(&mut *tx)
                .await?;
        }
        if !Self::decide_item(
            &mut tx,
            new.draft_id,
            reviewer,
            "approved",
            new.override_reason,
            now,
        )
        .await?
        {
            return Ok(None);
        }
        let item = self.item_in(&mut tx, new.draft_id).await?;
        let page = (item.area_code.as_str(), item.section.as_str());
        let superseded: Option<i64> = sqlx::query(
            "UPDATE versions SET state = 'superseded', ended_ms = $1 \
             WHERE area_code = $2 AND section = $3 AND state = 'published' RETURNING id",
        )
        .bind(now)
        .bind(page.0)
        .bind(page.1)
        .fetch_optional(&mut *tx)
        .await?
        .map(|r| r.try_get("id"))
        .transpose()?;
        let version_id: i64 = sqlx::query(
            "INSERT INTO versions (area_code, area_name, section, section_title, draft_id, text, edited, report, pass, \
             override_reason, state, facts_fp, checked_fp, facts, facts_period, data_basis, model, approved_by, approved_ms, \
             reviewed_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'published', $11, $11, $12, $13, $14, $15, $16, $17, $17) \
             RETURNING id",
        )
        .bind(page.0)
        .bind(new.area_name)
        .bind(page.1)
        .bind(new.section_title)
        .bind(new.draft_id)
        .bind(new.text)
        .bind(i64::from(new.edited))
        .bind(new.report_json)
        .bind(i64::from(new.pass))
        .bind(new.override_reason)
        .bind(new.facts_fp)
        .bind(new.facts_json)
        .bind(new.facts_period)
        .bind(new.data_basis)
        .bind(new.model)
        .bind(reviewer)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?
        .try_get("id")?;
        let mut detail = String::from(if new.edited {
            "approved with edits; published"
        } else {
            "approved; published"
        });
        if let Some(reason) = new.override_reason {
            detail.push_str(&format!("; check failed, overridden: {reason}"));
        }
        if let Some(note) = new.audit_note {
            detail.push_str(&format!("; {note}"));
        }
        audit(
            &mut tx,
            now,
            reviewer,
            "approved",
            page,
            Some(new.draft_id),
            Some(version_id),
            &detail,
        )
        .await?;
        if let Some(old) = superseded {
            audit(
                &mut tx,
                now,
                reviewer,
                "superseded",
                page,
                None,
                Some(old),
                &format!("replaced by version {version_id}"),
            )
            .await?;
            // Feedback on the replaced version waits for nobody now.
            let closed = sqlx::query(
                "UPDATE review_items SET state = 'closed', decided_ms = $1, decided_by = $2, note = $3, \
                 claim_holder = NULL, claim_expires_ms = NULL \
                 WHERE version_id = $4 AND state = 'needs_review' RETURNING draft_id",
            )
            .bind(now)
            .bind(reviewer)
            .bind(format!("version {old} was replaced by version {version_id}"))
            .bind(old)
            .fetch_all(&mut *tx)
            .await?;
            for row in closed {
                let draft_id: i64 = row.try_get("draft_id")?;
                audit(
                    &mut tx,
                    now,
                    reviewer,
                    "closed",
                    page,
                    Some(draft_id),
                    Some(old),
                    &format!("the feedback item closed: version {old} was replaced by version {version_id}"),
                )
                .await?;
            }
        }
        tx.commit().await?;
        Ok(Some(Published {
            version_id,
            superseded,
        }))
    }

    /// Keeps a published version that came back on feedback, with the check of its text
    /// against today's facts (and the override reason, when that fails): the item closes, and
    /// down votes count afresh from now.
    pub async fn reaffirm(
        &self,
        reviewer: &str,
        version_id: i64,
        checked: &NewVersion<'_>,
    ) -> Result<bool, StoreError> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        if !Self::decide_item(
            &mut tx,
            checked.draft_id,
            reviewer,
            "approved",
            checked.override_reason,
            now,
        )
        .await?
        {
            return Ok(false);
        }
        let kept = sqlx::query(
            "UPDATE versions SET reviewed_ms = $1, report = $2, pass = $3, override_reason = $4, facts_fp = $5, \
             checked_fp = $5, facts = $6, facts_period = $7, data_basis = $8, stale = 0, stale_report = NULL, \
             stale_ms = NULL WHERE id = $9 AND state = 'published' RETURNING area_code, section",
        )
        .bind(now)
        .bind(checked.report_json)
        .bind(i64::from(checked.pass))
        .bind(checked.override_reason)
        .bind(checked.facts_fp)
        .bind(checked.facts_json)
        .bind(checked.facts_period)
        .bind(checked.data_basis)
        .bind(version_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(kept) = kept else {
            return Ok(false);
        };
        let page: (String, String) = (kept.try_get("area_code")?, kept.try_get("section")?);
        let mut detail = String::from("kept after feedback");
        if let Some(reason) = checked.override_reason {
            detail.push_str(&format!("; check failed, overridden: {reason}"));
        }
        if let Some(note) = checked.audit_note {
            detail.push_str(&format!("; {note}"));
        }
        audit(
            &mut tx,
            now,
            reviewer,
            "reaffirmed",
            (&page.0, &page.1),
            Some(checked.draft_id),
            Some(version_id),
            &detail,
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Rejects an item with a reason. A published version that came back on feedback is
    /// withdrawn with it. `None` when the item is not this reviewer's to decide; otherwise the
    /// withdrawn version, if any.
    pub async fn reject(
        &self,
        draft_id: i64,
        reviewer: &str,
        reason: &str,
    ) -> Result<Option<Option<i64>>, StoreError> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        if !Self::decide_item(&mut tx, draft_id, reviewer, "rejected", Some(reason), now).await? {
            return Ok(None);
        }
        let item = self.item_in(&mut tx, draft_id).await?;
        let page = (item.area_code.as_str(), item.section.as_str());
        audit(
            &mut tx,
            now,
            reviewer,
            "rejected",
            page,
            Some(draft_id),
            item.version_id,
            reason,
        )
        .await?;
        let mut withdrawn = None;
        if let Some(version_id) = item.version_id {
            let done = sqlx::query(
                "UPDATE versions SET state = 'withdrawn', ended_ms = $1 WHERE id = $2 AND state = 'published'",
            )
            .bind(now)
            .bind(version_id)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 1 {
                withdrawn = Some(version_id);
                audit(
                    &mut tx,
                    now,
                    reviewer,
                    "withdrawn",
                    page,
                    Some(draft_id),
                    Some(version_id),
                    &format!("withdrawn after feedback: {reason}"),
                )
                .await?;
            }
        }
        tx.commit().await?;
        Ok(Some(withdrawn))
    }

    pub async fn draft_row(&self, id: i64) -> Result<Option<DraftRow>, StoreError> {
        let row = sqlx::query(
            "SELECT id, job_id, run_id, area_code, section, attempt, text, facts_fp, model, params, report, pass, created_ms \
             FROM drafts WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| -> Result<DraftRow, StoreError> {
            Ok(DraftRow {
                id: r.try_get("id")?,
                job_id: r.try_get("job_id")?,
                run_id: r.try_get("run_id")?,
                area_code: r.try_get("area_code")?,
                section: r.try_get("section")?,
                attempt: r.try_get("attempt")?,
                text: r.try_get("text")?,
                facts_fp: r.try_get("facts_fp")?,
                model: r.try_get("model")?,
                params: r.try_get("params")?,
                report: r.try_get("report")?,
                pass: r.try_get::<i64, _>("pass")? == 1,
                created_ms: r.try_get("created_ms")?,
            })
        })
        .transpose()
    }

    pub async fn version(&self, id: i64) -> Result<Option<VersionRow>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {VERSION_COLUMNS} FROM versions WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(version_row).transpose()?)
    }

    pub async fn published_version(
        &self,
        area_code: &str,
        section: &str,
    ) -> Result<Option<VersionRow>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {VERSION_COLUMNS} FROM versions WHERE area_code = $1 AND section = $2 AND state = 'published'"
        ))
        .bind(area_code)
        .bind(section)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(version_row).transpose()?)
    }

    /// Every published version, by area code then section.
    pub async fn published_versions(&self) -> Result<Vec<VersionRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {VERSION_COLUMNS} FROM versions WHERE state = 'published' ORDER BY area_code, section"
        ))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(version_row).collect::<Result<_, _>>()?)
    }

    /// Every version of a page, newest first.
    pub async fn page_versions(
        &self,
        area_code: &str,
        section: &str,
    ) -> Result<Vec<VersionRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {VERSION_COLUMNS} FROM versions WHERE area_code = $1 AND section = $2 ORDER BY id DESC"
        ))
        .bind(area_code)
        .bind(section)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(version_row).collect::<Result<_, _>>()?)
    }

    /// Records or changes a vote (one per voter per version), and sends a published version
    /// back to the queue when the voices voting it down since the last review reach
    /// `threshold`. Counts are of voices (`Voter::voice`), kept on the version's row.
    pub async fn record_vote(
        &self,
        version: &VersionRow,
        voter: &Voter,
        vote: Vote,
        comment: Option<&str>,
        threshold: i64,
    ) -> Result<Option<VoteOutcome>, StoreError> {
        let now = now_ms();
        let (kind, who) = match voter {
            Voter::Staff(name) => ("staff", name.as_str()),
            Voter::Visitor { id_hash, .. } => ("visitor", id_hash.as_str()),
        };
        let voice = voter.voice();
        let mut tx = self.pool.begin().await?;
        // Locks the version (PostgreSQL) or the database (SQLite) first, so concurrent votes
        // count one after another and the threshold is never stepped over; only published
        // versions take votes.
        let live = sqlx::query(
            "UPDATE versions SET reviewed_ms = reviewed_ms WHERE id = $1 AND state = 'published'",
        )
        .bind(version.id)
        .execute(&mut *tx)
        .await?;
        if live.rows_affected() != 1 {
            return Ok(None);
        }
        sqlx::query(
            "INSERT INTO feedback (version_id, voter_kind, voter, vote, comment, created_ms, updated_ms, voice) \
             VALUES ($1, $2, $3, $4, $5, $6, $6, $7) \
             ON CONFLICT (version_id, voter_kind, voter) DO UPDATE SET vote = excluded.vote, \
             comment = excluded.comment, updated_ms = excluded.updated_ms, voice = excluded.voice",
        )
        .bind(version.id)
        .bind(kind)
        .bind(who)
        .bind(vote.as_str())
        .bind(comment)
        .bind(now)
        .bind(&voice)
        .execute(&mut *tx)
        .await?;
        let before: Option<String> =
            sqlx::query("SELECT vote FROM feedback_voices WHERE version_id = $1 AND voice = $2")
                .bind(version.id)
                .bind(&voice)
                .fetch_optional(&mut *tx)
                .await?
                .map(|r| r.try_get("vote"))
                .transpose()?;
        sqlx::query(
            "INSERT INTO feedback_voices (version_id, voice, vote, updated_ms) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (version_id, voice) DO UPDATE SET vote = excluded.vote, updated_ms = excluded.updated_ms",
        )
        .bind(version.id)
        .bind(&voice)
        .bind(vote.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let was = |v: &str| i64::from(before.as_deref() == Some(v));
        let is = |v: Vote| i64::from(vote == v);
        let (up, down) = (is(Vote::Up) - was("up"), is(Vote::Down) - was("down"));
        if up != 0 || down != 0 {
            sqlx::query(
                "UPDATE versions SET votes_up = votes_up + $2, votes_down = votes_down + $3 WHERE id = $1",
            )
            .bind(version.id)
            .bind(up)
            .bind(down)
            .execute(&mut *tx)
            .await?;
        }
        let counts = Self::counts_in(&mut tx, version.id).await?;
        let down_since_review: i64 = sqlx::query(
            "SELECT COUNT(*) AS n FROM (SELECT 1 FROM feedback_voices f JOIN versions v ON v.id = f.version_id \
             WHERE f.version_id = $1 AND f.vote = 'down' AND f.updated_ms >= v.reviewed_ms LIMIT $2) AS recent",
        )
        .bind(version.id)
        .bind(threshold.max(1))
        .fetch_one(&mut *tx)
        .await?
        .try_get("n")?;
        let mut requeued = false;
        if vote == Vote::Down && down_since_review >= threshold {
            let done = sqlx::query(
                "UPDATE review_items SET state = 'needs_review', reason = 'feedback', version_id = $1, queued_ms = $2, \
                 claim_holder = NULL, claim_expires_ms = NULL, decided_ms = NULL, decided_by = NULL, note = NULL \
                 WHERE draft_id = $3 AND state <> 'needs_review' \
                 AND EXISTS (SELECT 1 FROM versions WHERE id = $1 AND state = 'published')",
            )
            .bind(version.id)
            .bind(now)
            .bind(version.draft_id)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 1 {
                requeued = true;
                sqlx::query("DELETE FROM review_skips WHERE draft_id = $1")
                    .bind(version.draft_id)
                    .execute(&mut *tx)
                    .await?;
                audit(
                    &mut tx,
                    now,
                    "narrator",
                    "requeued",
                    (&version.area_code, &version.section),
                    Some(version.draft_id),
                    Some(version.id),
                    &format!("{down_since_review} voices voting down since the last review (threshold {threshold})"),
                )
                .await?;
            }
        }
        tx.commit().await?;
        Ok(Some(VoteOutcome {
            counts,
            down_since_review,
            requeued,
        }))
    }

    async fn counts_in(
        conn: &mut AnyConnection,
        version_id: i64,
    ) -> Result<VoteCounts, StoreError> {
        let row = sqlx::query("SELECT votes_up, votes_down FROM versions WHERE id = $1")
            .bind(version_id)
            .fetch_optional(conn)
            .await?;
        Ok(match row {
            Some(r) => VoteCounts {
                up: r.try_get("votes_up")?,
                down: r.try_get("votes_down")?,
            },
            None => VoteCounts::default(),
        })
    }

    /// Vote counts of every published version, by version id.
    pub async fn published_vote_counts(
        &self,
    ) -> Result<std::collections::HashMap<i64, VoteCounts>, StoreError> {
        // Kept on the rows by each vote: a public read never counts votes.
        let rows = sqlx::query(
            "SELECT id AS version_id, votes_up AS up, votes_down AS down FROM versions \
             WHERE state = 'published' AND (votes_up > 0 OR votes_down > 0)",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("version_id")?,
                    VoteCounts {
                        up: r.try_get("up")?,
                        down: r.try_get("down")?,
                    },
                ))
            })
            .collect()
    }

    /// Pages whose published text changed in audit entries after `since_id` or at or after
    /// `since_ms` (the window catches PostgreSQL ids that commit out of order), read in one
    /// statement with the newest such entry's id.
    pub async fn changed_pages(
        &self,
        since_id: i64,
        since_ms: i64,
    ) -> Result<(Vec<(String, String)>, i64), StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT area_code, section, CAST(MAX(id) AS BIGINT) AS last FROM audit \
             WHERE action IN ({FEED_ACTIONS}) AND (id > $1 OR at_ms >= $2) \
             GROUP BY area_code, section ORDER BY area_code, section"
        ))
        .bind(since_id)
        .bind(since_ms)
        .fetch_all(&self.pool)
        .await?;
        let mut last = since_id;
        let mut pages = Vec::new();
        for r in &rows {
            last = last.max(r.try_get("last")?);
            pages.push((r.try_get("area_code")?, r.try_get("section")?));
        }
        Ok((pages, last))
    }

    /// The newest audit entry that changed published text, by id (0 when none).
    pub async fn last_change(&self) -> Result<i64, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT CAST(COALESCE(MAX(id), 0) AS BIGINT) AS last FROM audit WHERE action IN ({FEED_ACTIONS})"
        ))
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("last")?)
    }

    pub async fn vote_counts(&self, version_id: i64) -> Result<VoteCounts, StoreError> {
        let mut conn = self.pool.acquire().await?;
        Self::counts_in(&mut conn, version_id).await
    }

    /// A page of the comments on a version, newest first: at most `limit`, older than
    /// `before` (a row's `(updated_ms, id)`) when given. Visitors' identities are never
    /// returned. Votes without a comment are in the counts alone.
    pub async fn feedback(
        &self,
        version_id: i64,
        before: Option<(i64, i64)>,
        limit: i64,
    ) -> Result<Vec<FeedbackRow>, StoreError> {
        let (ms, id) = before.unwrap_or((i64::MAX, i64::MAX));
        let rows = sqlx::query(
            "SELECT id, version_id, voter_kind, CASE WHEN voter_kind = 'staff' THEN voter ELSE 'visitor' END AS voter, \
             vote, comment, updated_ms FROM feedback WHERE version_id = $1 AND comment IS NOT NULL \
             AND (updated_ms < $2 OR (updated_ms = $2 AND id < $3)) \
             ORDER BY updated_ms DESC, id DESC LIMIT $4",
        )
        .bind(version_id)
        .bind(ms)
        .bind(id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| -> Result<FeedbackRow, StoreError> {
                Ok(FeedbackRow {
                    id: r.try_get("id")?,
                    version_id: r.try_get("version_id")?,
                    voter_kind: r.try_get("voter_kind")?,
                    voter: r.try_get("voter")?,
                    vote: r.try_get("vote")?,
                    comment: r.try_get("comment")?,
                    updated_ms: r.try_get("updated_ms")?,
                })
            })
            .collect()
    }

    /// Marks published versions stale with the report that fails them, and queues one run
    /// (made like `regenerate`, its jobs filled in here) for the pages marked now that have no
    /// queued or running job already, in one transaction. Versions already stale are left as
    /// they are, so concurrent re-checks mark, and regenerate, each page once. Returns the
    /// versions marked and the run made, if any.
    pub async fn mark_stale(
        &self,
        actor: &str,
        marks: &[StaleMark<'_>],
        regenerate: &NewRun<'_>,
    ) -> Result<(Vec<i64>, Option<i64>), StoreError> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        let mut marked = Vec::new();
        for m in marks {
            let row = sqlx::query(
                "UPDATE versions SET stale = 1, stale_report = $1, stale_ms = $2, checked_fp = $4 \
                 WHERE id = $3 AND state = 'published' AND stale = 0 RETURNING area_code, section, draft_id",
            )
            .bind(m.report_json)
            .bind(now)
            .bind(m.version_id)
            .bind(m.checked_fp)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(row) = row {
                let page: (String, String) = (row.try_get("area_code")?, row.try_get("section")?);
                let draft_id: i64 = row.try_get("draft_id")?;
                marked.push((m, page, draft_id));
            }
        }
        let busy = sqlx::query(
            "SELECT DISTINCT j.area_code, j.section FROM jobs j JOIN runs r ON r.id = j.run_id \
             WHERE r.status <> 'finished' AND j.status IN ('queued', 'running')",
        )
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| Ok((r.try_get("area_code")?, r.try_get("section")?)))
        .collect::<Result<Vec<(String, String)>, StoreError>>()?;
        let jobs: Vec<(String, String)> = marked
            .iter()
            .filter(|(m, page, _)| m.regenerate && !busy.contains(page))
            .map(|(_, page, _)| page.clone())
            .collect();
        let run = if jobs.is_empty() {
            None
        } else {
            let scope = format!("stale:{}", jobs.len());
            Some(
                insert_run(
                    &mut tx,
                    &NewRun {
                        scope: &scope,
                        jobs: &jobs,
                        ..*regenerate
                    },
                )
                .await?,
            )
        };
        for (m, page, draft_id) in &marked {
            let detail = match run {
                Some(run) if jobs.contains(page) => {
                    format!("{}; regeneration queued in run {run}", m.detail)
                }
                _ if busy.contains(page) => {
                    format!("{}; a regeneration is already queued", m.detail)
                }
                _ => m.detail.to_string(),
            };
            audit(
                &mut tx,
                now,
                actor,
                "stale",
                (&page.0, &page.1),
                Some(*draft_id),
                Some(m.version_id),
                &detail,
            )
            .await?;
        }
        tx.commit().await?;
        Ok((marked.iter().map(|(m, _, _)| m.version_id).collect(), run))
    }

    /// Records that a version's text was checked against facts with this fingerprint and
    /// still passes, so it is not checked again until they change.
    pub async fn set_checked(&self, version_id: i64, checked_fp: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE versions SET checked_fp = $1 WHERE id = $2")
            .bind(checked_fp)
            .bind(version_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Clears the stale mark of a version whose text passes against the facts again.
    pub async fn clear_stale(
        &self,
        version_id: i64,
        checked_fp: &str,
        actor: &str,
        detail: &str,
    ) -> Result<bool, StoreError> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "UPDATE versions SET stale = 0, stale_report = NULL, stale_ms = NULL, checked_fp = $2 \
             WHERE id = $1 AND stale = 1 RETURNING area_code, section, draft_id",
        )
        .bind(version_id)
        .bind(checked_fp)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(false);
        };
        let page: (String, String) = (row.try_get("area_code")?, row.try_get("section")?);
        let draft_id: i64 = row.try_get("draft_id")?;
        audit(
            &mut tx,
            now,
            actor,
            "fresh",
            (&page.0, &page.1),
            Some(draft_id),
            Some(version_id),
            detail,
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Every audit entry of a page, oldest first.
    pub async fn history(
        &self,
        area_code: &str,
        section: &str,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, at_ms, actor, action, area_code, section, draft_id, version_id, detail FROM audit \
             WHERE area_code = $1 AND section = $2 ORDER BY id",
        )
        .bind(area_code)
        .bind(section)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(audit_row).collect::<Result<_, _>>()?)
    }
}
