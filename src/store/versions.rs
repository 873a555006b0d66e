//! Published versions: publishing an approved draft (superseding the page's previous
//! version), keeping one that came back on feedback (reaffirm), rejecting an item (withdrawing
//! its version), reading versions, and the staleness marks a re-check sets and clears. Each
//! decision's first write is the queue's guarded close (`queue::decide_item`); its audit
//! entries are written in the same transaction.

use super::columns::{AreaCodeText, BasisText, Flag};
use super::db::{Dialect, Store, StoreError};
use super::queue::{decide_item, item_in};
use super::status::VersionState;
use super::tx::{audit, insert_run, is_unique_violation, now_ms, NewRun};

/// Approved text and what it was approved against.
#[derive(Clone, Debug, PartialEq, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct VersionRow {
    pub id: i64,
    #[sqlx(try_from = "AreaCodeText")]
    pub area_code: String,
    pub area_name: String,
    pub section: String,
    pub section_title: String,
    pub draft_id: i64,
    pub text: String,
    #[sqlx(try_from = "Flag")]
    pub edited: bool,
    pub report: String,
    #[sqlx(try_from = "Flag")]
    pub pass: bool,
    pub override_reason: Option<String>,
    pub state: VersionState,
    #[sqlx(try_from = "Flag")]
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
    #[sqlx(try_from = "BasisText")]
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

/// A published version whose facts changed and whose text no longer passes.
pub struct StaleMark<'a> {
    pub version_id: i64,
    pub report_json: &'a str,
    pub detail: &'a str,
    pub checked_fp: &'a str,
    /// Queue a regeneration (false when the page is gone from the data).
    pub regenerate: bool,
}

const VERSION_COLUMNS: &str = "id, area_code, area_name, section, section_title, draft_id, text, edited, report, pass, \
     override_reason, state, stale, stale_report, stale_ms, facts_fp, checked_fp, facts, facts_period, data_basis, model, \
     approved_by, approved_ms, reviewed_ms, ended_ms";

impl Store {
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
        if !decide_item(
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
        let item = item_in(&mut tx, new.draft_id).await?;
        let page = (item.area_code.as_str(), item.section.as_str());
        let superseded: Option<i64> = sqlx::query_scalar(
            "UPDATE versions SET state = 'superseded', ended_ms = $1 \
             WHERE area_code = $2 AND section = $3 AND state = 'published' RETURNING id",
        )
        .bind(now)
        .bind(page.0)
        .bind(page.1)
        .fetch_optional(&mut *tx)
        .await?;
        let version_id: i64 = sqlx::query_scalar(
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
        .await?;
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
            let closed: Vec<i64> = sqlx::query_scalar(
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
            for draft_id in closed {
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
        if !decide_item(
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
        let kept: Option<(String, String)> = sqlx::query_as(
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
        let Some(page) = kept else {
            return Ok(false);
        };
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
        if !decide_item(&mut tx, draft_id, reviewer, "rejected", Some(reason), now).await? {
            return Ok(None);
        }
        let item = item_in(&mut tx, draft_id).await?;
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

    pub async fn version(&self, id: i64) -> Result<Option<VersionRow>, StoreError> {
        Ok(sqlx::query_as(&format!(
            "SELECT {VERSION_COLUMNS} FROM versions WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?)
    }

    pub async fn published_version(
        &self,
        area_code: &str,
        section: &str,
    ) -> Result<Option<VersionRow>, StoreError> {
        Ok(sqlx::query_as(&format!(
            "SELECT {VERSION_COLUMNS} FROM versions WHERE area_code = $1 AND section = $2 AND state = 'published'"
        ))
        .bind(area_code)
        .bind(section)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Every published version, by area code then section.
    pub async fn published_versions(&self) -> Result<Vec<VersionRow>, StoreError> {
        Ok(sqlx::query_as(&format!(
            "SELECT {VERSION_COLUMNS} FROM versions WHERE state = 'published' ORDER BY area_code, section"
        ))
        .fetch_all(&self.pool)
        .await?)
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
            let row: Option<(String, String, i64)> = sqlx::query_as(
                "UPDATE versions SET stale = 1, stale_report = $1, stale_ms = $2, checked_fp = $4 \
                 WHERE id = $3 AND state = 'published' AND stale = 0 RETURNING area_code, section, draft_id",
            )
            .bind(m.report_json)
            .bind(now)
            .bind(m.version_id)
            .bind(m.checked_fp)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some((area, section, draft_id)) = row {
                marked.push((m, (area, section), draft_id));
            }
        }
        let busy: Vec<(String, String)> = sqlx::query_as(
            "SELECT DISTINCT j.area_code, j.section FROM jobs j JOIN runs r ON r.id = j.run_id \
             WHERE r.status <> 'finished' AND j.status IN ('queued', 'running')",
        )
        .fetch_all(&mut *tx)
        .await?;
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
        let row: Option<(String, String, i64)> = sqlx::query_as(
            "UPDATE versions SET stale = 0, stale_report = NULL, stale_ms = NULL, checked_fp = $2 \
             WHERE id = $1 AND stale = 1 RETURNING area_code, section, draft_id",
        )
        .bind(version_id)
        .bind(checked_fp)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((area, section, draft_id)) = row else {
            return Ok(false);
        };
        audit(
            &mut tx,
            now,
            actor,
            "fresh",
            (&area, &section),
            Some(draft_id),
            Some(version_id),
            detail,
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }
}
