//! Invariants of a store, checked after the fact (`narrator store verify`): what kill -9
//! drills and bad-input sweeps assert.

use super::db::{Store, StoreError};

/// What was checked and every invariant found broken (empty when the store is sound).
#[derive(Debug, Default, serde::Serialize)]
pub struct Verification {
    pub runs: i64,
    pub jobs: i64,
    pub drafts: i64,
    pub versions: i64,
    pub problems: Vec<String>,
}

/// Each invariant as a query returning one row per violation, described by `what`.
const CHECKS: &[(&str, &str)] = &[
    (
        "SELECT CAST(j.id AS TEXT) AS what FROM jobs j JOIN runs r ON r.id = j.run_id \
         WHERE r.status = 'finished' AND j.status IN ('queued', 'running')",
        "is not terminal although its run finished",
    ),
    (
        "SELECT CAST(j.id AS TEXT) AS what FROM jobs j WHERE j.status = 'running' AND \
         (j.lease_holder IS NULL OR j.lease_expires_ms IS NULL)",
        "is running without a lease",
    ),
    (
        "SELECT CAST(j.id AS TEXT) AS what FROM jobs j \
         WHERE (SELECT COUNT(*) FROM drafts d WHERE d.job_id = j.id) > j.attempts",
        "has more drafts stored than attempts counted",
    ),
    (
        "SELECT CAST(job_id AS TEXT) || ' attempt ' || CAST(attempt AS TEXT) AS what FROM drafts \
         GROUP BY job_id, attempt HAVING COUNT(*) > 1",
        "has one attempt stored twice",
    ),
    (
        "SELECT CAST(j.id AS TEXT) AS what FROM jobs j WHERE j.status IN ('needs_review', 'failed_checks') \
         AND NOT EXISTS (SELECT 1 FROM drafts d WHERE d.id = j.draft_id AND d.job_id = j.id)",
        "ended with a draft that is not its own",
    ),
    (
        "SELECT CAST(j.id AS TEXT) AS what FROM jobs j WHERE j.status = 'needs_review' \
         AND NOT EXISTS (SELECT 1 FROM review_items i WHERE i.draft_id = j.draft_id)",
        "passed but its draft never reached the review queue",
    ),
    (
        "SELECT CAST(d.id AS TEXT) AS what FROM drafts d WHERE length(d.report) = 0 \
         OR (d.pass = 1) <> (d.status = 'needs_review')",
        "(a draft) has no report or a status that disagrees with it",
    ),
    (
        "SELECT area_code || ' ' || section AS what FROM versions WHERE state = 'published' \
         GROUP BY area_code, section HAVING COUNT(*) > 1",
        "(a page) has more than one published version",
    ),
];

impl Store {
    /// SHA-256 over every version (id, page, state, text, check status): drills compare it
    /// before and after to show published text untouched.
    pub async fn versions_digest(&self) -> Result<(i64, String), StoreError> {
        use sha2::{Digest, Sha256};
        let rows: Vec<(i64, String, String, String, String)> =
            sqlx::query_as("SELECT id, area_code, section, state, text FROM versions ORDER BY id")
                .fetch_all(&self.pool)
                .await?;
        let mut hash = Sha256::new();
        for (id, area_code, section, state, text) in &rows {
            for value in [area_code, section, state, text] {
                hash.update(value.as_bytes());
                hash.update([0]);
            }
            hash.update(id.to_le_bytes());
        }
        let n = i64::try_from(rows.len()).unwrap_or(i64::MAX);
        Ok((n, crate::facts::hex_digest(&hash.finalize())))
    }

    pub async fn verify(&self) -> Result<Verification, StoreError> {
        let count = |table: &'static str| async move {
            let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) AS n FROM {table}"))
                .fetch_one(&self.pool)
                .await?;
            Ok::<i64, StoreError>(n)
        };
        let mut v = Verification {
            runs: count("runs").await?,
            jobs: count("jobs").await?,
            drafts: count("drafts").await?,
            versions: count("versions").await?,
            problems: Vec::new(),
        };
        for (sql, what) in CHECKS {
            let found: Vec<String> = sqlx::query_scalar(sql).fetch_all(&self.pool).await?;
            for id in found {
                v.problems.push(format!("{id} {what}"));
            }
        }
        // Every report parses as a report.
        let reports: Vec<(i64, String)> = sqlx::query_as("SELECT id, report FROM drafts")
            .fetch_all(&self.pool)
            .await?;
        for (id, report) in reports {
            let parsed: Result<serde_json::Value, _> = serde_json::from_str(&report);
            if !parsed.is_ok_and(|p| p["pass"].is_boolean() && p["mentions"].is_array()) {
                v.problems
                    .push(format!("draft {id}'s report is not a check report"));
            }
        }
        Ok(v)
    }
}
