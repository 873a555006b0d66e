//! Runs, jobs and drafts: creating a run, claiming and leasing its jobs, storing each
//! attempt's draft with its check report, and ending each job. Queries are written once with
//! `$N` placeholders, which both SQLite and PostgreSQL accept; the one difference, `FOR
//! UPDATE SKIP LOCKED`, is added for PostgreSQL.

use super::columns::Flag;
use super::db::{Store, StoreError};
use super::status::{JobStatus, RunStatus};
use super::tx::{enqueue_draft, insert_run, is_unique_violation, now_ms, skip_locked, NewRun};
use crate::check::Report;
use sqlx::AnyConnection;
use std::collections::BTreeMap;

#[derive(Clone, Debug, PartialEq, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct RunRow {
    pub id: i64,
    pub started_by: String,
    pub scope: String,
    pub model: String,
    pub params: String,
    pub status: RunStatus,
    pub created_ms: i64,
    pub finished_ms: Option<i64>,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub cost: f64,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct JobRow {
    pub id: i64,
    pub run_id: i64,
    pub area_code: String,
    pub section: String,
    pub status: JobStatus,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub draft_id: Option<i64>,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
}

/// How many of a run's jobs are in each status, and the tokens they spent: what a progress
/// line shows, read in one grouped query instead of every job row.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct JobCounts {
    /// Jobs by status (`queued`, `running`, `needs_review`, ...); statuses no job has are
    /// absent.
    pub by_status: BTreeMap<JobStatus, i64>,
    /// Prompt and completion tokens of all the run's jobs.
    pub tokens: i64,
}

impl JobCounts {
    /// Jobs in `status`.
    pub fn status(&self, status: JobStatus) -> i64 {
        self.by_status.get(&status).copied().unwrap_or(0)
    }

    /// Every job of the run.
    pub fn total(&self) -> i64 {
        self.by_status.values().sum()
    }

    /// Jobs not finished (queued or running).
    pub fn open(&self) -> i64 {
        self.status(JobStatus::Queued) + self.status(JobStatus::Running)
    }
}

/// One attempt's draft. It cannot be built without the check report of its text.
pub struct NewDraft<'a> {
    pub job_id: i64,
    /// The worker leasing the job: a draft from one whose lease was lost is not stored.
    pub holder: &'a str,
    pub run_id: i64,
    pub area_code: &'a str,
    pub section: &'a str,
    pub attempt: i64,
    pub text: &'a str,
    pub facts_fp: &'a str,
    pub prompt_fp: &'a str,
    pub model: &'a str,
    pub params: &'a str,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub report: &'a Report,
}

/// One stored draft, as generated.
#[derive(Clone, Debug, PartialEq, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
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
    #[sqlx(try_from = "Flag")]
    pub pass: bool,
    pub created_ms: i64,
}

/// How a job ended.
#[derive(Clone, Debug, PartialEq)]
pub enum JobOutcome {
    /// Its latest draft passed the check.
    NeedsReview { draft_id: i64 },
    /// Every attempt failed the check; the last draft is kept.
    FailedChecks { draft_id: i64 },
    /// The provider failed permanently or retries ran out.
    Failed { error: String },
    /// An identical passing draft exists (same facts, prompt, model and parameters).
    Skipped { draft_id: i64 },
}

const RUN_COLUMNS: &str = "id, started_by, scope, model, params, status, created_ms, finished_ms, prompt_tokens, completion_tokens, cost";
const JOB_COLUMNS: &str =
    "id, run_id, area_code, section, status, attempts, last_error, draft_id, prompt_tokens, completion_tokens";

/// The job status a draft's report gives it, which the draft row keeps too.
fn draft_status(report: &Report) -> &'static str {
    if report.pass {
        "needs_review"
    } else {
        "failed_checks"
    }
}

/// Inserts one attempt's draft row, inside the caller's transaction (which also counts the
/// attempt on the job).
async fn insert_draft_row(
    conn: &mut AnyConnection,
    d: &NewDraft<'_>,
    now: i64,
) -> Result<i64, StoreError> {
    let report = d.report.to_json();
    Ok(sqlx::query_scalar(
        "INSERT INTO drafts (job_id, run_id, area_code, section, attempt, text, facts_fp, prompt_fp, model, params, \
         prompt_tokens, completion_tokens, report, pass, status, created_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) RETURNING id",
    )
    .bind(d.job_id)
    .bind(d.run_id)
    .bind(d.area_code)
    .bind(d.section)
    .bind(d.attempt)
    .bind(d.text)
    .bind(d.facts_fp)
    .bind(d.prompt_fp)
    .bind(d.model)
    .bind(d.params)
    .bind(d.prompt_tokens)
    .bind(d.completion_tokens)
    .bind(report.as_str())
    .bind(i64::from(d.report.pass))
    .bind(draft_status(d.report))
    .bind(now)
    .fetch_one(conn)
    .await?)
}

impl Store {
    /// Creates a run and all its jobs in one transaction: a run never exists half-made.
    pub async fn create_run(&self, new: &NewRun<'_>) -> Result<i64, StoreError> {
        let mut tx = self.pool.begin().await?;
        let run_id = insert_run(&mut tx, new).await?;
        tx.commit().await?;
        Ok(run_id)
    }

    /// The latest run of the same scope, model and parameters that has not finished: running
    /// the same command again resumes it.
    pub async fn unfinished_run(
        &self,
        scope: &str,
        model: &str,
        params: &str,
    ) -> Result<Option<i64>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT id FROM runs WHERE scope = $1 AND model = $2 AND params = $3 AND status <> 'finished' ORDER BY id DESC LIMIT 1",
        )
        .bind(scope)
        .bind(model)
        .bind(params)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Runs not finished that were made for this model and parameters, oldest first: the
    /// runs a worker with these settings may work on.
    pub async fn open_runs(&self, model: &str, params: &str) -> Result<Vec<i64>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT DISTINCT r.id FROM runs r JOIN jobs j ON j.run_id = r.id \
             WHERE r.status <> 'finished' AND r.model = $1 AND r.params = $2 AND j.status IN ('queued', 'running') \
             ORDER BY r.id",
        )
        .bind(model)
        .bind(params)
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn run(&self, id: i64) -> Result<Option<RunRow>, StoreError> {
        Ok(
            sqlx::query_as(&format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = $1"))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// The most recent runs first.
    pub async fn runs(&self, limit: i64) -> Result<Vec<RunRow>, StoreError> {
        Ok(sqlx::query_as(&format!(
            "SELECT {RUN_COLUMNS} FROM runs ORDER BY id DESC LIMIT $1"
        ))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn jobs(&self, run_id: i64) -> Result<Vec<JobRow>, StoreError> {
        Ok(sqlx::query_as(&format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE run_id = $1 ORDER BY id"
        ))
        .bind(run_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The run's jobs counted by status, with their tokens, in one statement.
    pub async fn job_counts(&self, run_id: i64) -> Result<JobCounts, StoreError> {
        let rows: Vec<(JobStatus, i64, i64)> = sqlx::query_as(
            "SELECT status, COUNT(*) AS n, CAST(COALESCE(SUM(prompt_tokens + completion_tokens), 0) AS BIGINT) AS tokens \
             FROM jobs WHERE run_id = $1 GROUP BY status",
        )
        .bind(run_id)
        .fetch_all(&self.pool)
        .await?;
        let mut counts = JobCounts::default();
        for (status, n, tokens) in rows {
            counts.by_status.insert(status, n);
            counts.tokens += tokens;
        }
        Ok(counts)
    }

    /// Atomically leases the next claimable job of a run: queued and due, or running with an
    /// expired lease (its worker died). PostgreSQL skips rows other workers hold; SQLite
    /// serialises writers, so the single UPDATE ... RETURNING is atomic there.
    pub async fn claim_job(
        &self,
        run_id: i64,
        holder: &str,
        lease_ms: i64,
    ) -> Result<Option<JobRow>, StoreError> {
        let now = now_ms();
        let lock = skip_locked(self.dialect());
        let sql = format!(
            "UPDATE jobs SET status = 'running', lease_holder = $1, lease_expires_ms = $2, updated_ms = $3 \
             WHERE id = COALESCE(\
               (SELECT id FROM jobs WHERE run_id = $4 AND status = 'running' AND lease_expires_ms < $3 \
                ORDER BY id LIMIT 1{lock}), \
               (SELECT id FROM jobs WHERE run_id = $4 AND status = 'queued' AND not_before_ms <= $3 \
                ORDER BY id LIMIT 1{lock})) \
             RETURNING {JOB_COLUMNS}"
        );
        Ok(sqlx::query_as(&sql)
            .bind(holder)
            .bind(now + lease_ms)
            .bind(now)
            .bind(run_id)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Extends a lease this holder still has; false when it was lost (another worker took it).
    pub async fn renew_lease(
        &self,
        job_id: i64,
        holder: &str,
        lease_ms: i64,
    ) -> Result<bool, StoreError> {
        let now = now_ms();
        let done = sqlx::query(
            "UPDATE jobs SET lease_expires_ms = $1, updated_ms = $2 WHERE id = $3 AND lease_holder = $4 AND status = 'running'",
        )
        .bind(now + lease_ms)
        .bind(now)
        .bind(job_id)
        .bind(holder)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Stores one attempt's draft with its check report, and counts the attempt and its tokens
    /// on the job, in one transaction.
    pub async fn insert_draft(&self, d: &NewDraft<'_>) -> Result<i64, StoreError> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        // The lease first: a worker paused past its lease (another has the job now) stores
        // nothing, as every other job write already required.
        let leased = sqlx::query(
            "UPDATE jobs SET attempts = attempts + 1, prompt_tokens = prompt_tokens + $1, \
             completion_tokens = completion_tokens + $2, updated_ms = $3 \
             WHERE id = $4 AND lease_holder = $5 AND status = 'running'",
        )
        .bind(d.prompt_tokens)
        .bind(d.completion_tokens)
        .bind(now)
        .bind(d.job_id)
        .bind(d.holder)
        .execute(&mut *tx)
        .await?;
        if leased.rows_affected() != 1 {
            return Err(StoreError::LeaseLost(d.job_id));
        }
        let id = insert_draft_row(&mut tx, d, now).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// A job's last attempt in one transaction: stores its draft with the check report,
    /// counts the attempt and its tokens as `insert_draft` does, and ends the job with that
    /// draft as `finish_job` does, `needs_review` with the draft queued for review when the
    /// report passes, `failed_checks` otherwise. `holder` must still lease the job: when it
    /// does not, nothing is written (`StoreError::LeaseLost`).
    pub async fn insert_draft_and_finish(&self, d: &NewDraft<'_>) -> Result<i64, StoreError> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        // The draft first, so the job row takes its id in the one guarded UPDATE; a lost
        // lease drops the transaction and the draft with it. The insert is a write, so on
        // SQLite it takes the write lock at once, as a guard first would. The attempt stored
        // already is most often another worker's, which took the job while this one was
        // paused past its lease: that is a lost lease, not a database error.
        let id = match insert_draft_row(&mut tx, d, now).await {
            Err(StoreError::Query(e)) if is_unique_violation(&e) => {
                drop(tx);
                let held: Option<i64> = sqlx::query_scalar(
                    "SELECT id FROM jobs WHERE id = $1 AND lease_holder = $2 AND status = 'running'",
                )
                .bind(d.job_id)
                .bind(d.holder)
                .fetch_optional(&self.pool)
                .await?;
                return Err(match held {
                    Some(_) => StoreError::Query(e),
                    None => StoreError::LeaseLost(d.job_id),
                });
            }
            other => other?,
        };
        let leased = sqlx::query(
            "UPDATE jobs SET status = $1, draft_id = $2, last_error = NULL, lease_holder = NULL, lease_expires_ms = NULL, \
             attempts = attempts + 1, prompt_tokens = prompt_tokens + $3, completion_tokens = completion_tokens + $4, \
             updated_ms = $5 WHERE id = $6 AND lease_holder = $7 AND status = 'running'",
        )
        .bind(draft_status(d.report))
        .bind(id)
        .bind(d.prompt_tokens)
        .bind(d.completion_tokens)
        .bind(now)
        .bind(d.job_id)
        .bind(d.holder)
        .execute(&mut *tx)
        .await?;
        if leased.rows_affected() != 1 {
            return Err(StoreError::LeaseLost(d.job_id));
        }
        if d.report.pass {
            enqueue_draft(&mut tx, id, now).await?;
        }
        tx.commit().await?;
        Ok(id)
    }

    /// Counts an attempt whose answer could not be a draft (truncated, empty, refused), with
    /// the tokens it spent, and why.
    /// `holder` must still lease the job (`StoreError::LeaseLost` otherwise).
    pub async fn record_unusable_attempt(
        &self,
        job_id: i64,
        holder: &str,
        prompt: i64,
        completion: i64,
        reason: &str,
    ) -> Result<(), StoreError> {
        let leased = sqlx::query(
            "UPDATE jobs SET attempts = attempts + 1, prompt_tokens = prompt_tokens + $1, \
             completion_tokens = completion_tokens + $2, last_error = $4 \
             WHERE id = $3 AND lease_holder = $5 AND status = 'running'",
        )
        .bind(prompt)
        .bind(completion)
        .bind(job_id)
        .bind(reason)
        .bind(holder)
        .execute(&self.pool)
        .await?;
        if leased.rows_affected() != 1 {
            return Err(StoreError::LeaseLost(job_id));
        }
        Ok(())
    }

    /// Ends a job this holder leases. A job that ends with a passing draft puts that draft
    /// in the review queue in the same transaction. Returns false when the lease was lost
    /// meanwhile.
    pub async fn finish_job(
        &self,
        job_id: i64,
        holder: &str,
        outcome: &JobOutcome,
    ) -> Result<bool, StoreError> {
        let (status, draft_id, error) = match outcome {
            JobOutcome::NeedsReview { draft_id } => ("needs_review", Some(*draft_id), None),
            JobOutcome::FailedChecks { draft_id } => ("failed_checks", Some(*draft_id), None),
            JobOutcome::Failed { error } => ("failed", None, Some(error.as_str())),
            JobOutcome::Skipped { draft_id } => ("skipped", Some(*draft_id), None),
        };
        let now = now_ms();
        let finish = sqlx::query(
            "UPDATE jobs SET status = $1, draft_id = $2, last_error = $3, lease_holder = NULL, lease_expires_ms = NULL, \
             updated_ms = $4 WHERE id = $5 AND lease_holder = $6 AND status = 'running'",
        )
        .bind(status)
        .bind(draft_id)
        .bind(error)
        .bind(now)
        .bind(job_id)
        .bind(holder);
        let JobOutcome::NeedsReview { draft_id } = outcome else {
            // One statement, atomic by itself: no transaction to open and commit.
            return Ok(finish.execute(&self.pool).await?.rows_affected() == 1);
        };
        let mut tx = self.pool.begin().await?;
        if finish.execute(&mut *tx).await?.rows_affected() != 1 {
            return Ok(false);
        }
        enqueue_draft(&mut tx, *draft_id, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Puts a leased job back in the queue, not to be claimed before `not_before_ms`.
    pub async fn requeue_job(
        &self,
        job_id: i64,
        holder: &str,
        not_before_ms: i64,
        error: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE jobs SET status = 'queued', lease_holder = NULL, lease_expires_ms = NULL, not_before_ms = $1, \
             last_error = $2, updated_ms = $3 WHERE id = $4 AND lease_holder = $5 AND status = 'running'",
        )
        .bind(not_before_ms)
        .bind(error)
        .bind(now_ms())
        .bind(job_id)
        .bind(holder)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// A passing draft made from the same facts, prompt, model and parameters, if any, that
    /// no reviewer rejected.
    pub async fn reusable_draft(
        &self,
        area_code: &str,
        section: &str,
        facts_fp: &str,
        prompt_fp: &str,
        model: &str,
        params: &str,
    ) -> Result<Option<i64>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT id FROM drafts WHERE area_code = $1 AND section = $2 AND facts_fp = $3 AND prompt_fp = $4 \
             AND model = $5 AND params = $6 AND pass = 1 \
             AND NOT EXISTS (SELECT 1 FROM review_items i WHERE i.draft_id = drafts.id AND i.state = 'rejected') \
             ORDER BY id DESC LIMIT 1",
        )
        .bind(area_code)
        .bind(section)
        .bind(facts_fp)
        .bind(prompt_fp)
        .bind(model)
        .bind(params)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Jobs of a run that are not finished (queued or running).
    pub async fn open_jobs(&self, run_id: i64) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) AS n FROM jobs WHERE run_id = $1 AND status IN ('queued', 'running')",
        )
        .bind(run_id)
        .fetch_one(&self.pool)
        .await?)
    }

    /// Closes a run with its token totals and cost; `finished` when no job is open.
    pub async fn finish_run(
        &self,
        run_id: i64,
        cost_per_1k: (f64, f64),
    ) -> Result<RunRow, StoreError> {
        let open = self.open_jobs(run_id).await?;
        let status = if open == 0 { "finished" } else { "interrupted" };
        let (p, c): (i64, i64) = sqlx::query_as(
            "SELECT CAST(COALESCE(SUM(prompt_tokens), 0) AS BIGINT) AS p, CAST(COALESCE(SUM(completion_tokens), 0) AS BIGINT) AS c FROM jobs WHERE run_id = $1",
        )
        .bind(run_id)
        .fetch_one(&self.pool)
        .await?;
        let cost = p as f64 / 1000.0 * cost_per_1k.0 + c as f64 / 1000.0 * cost_per_1k.1;
        let finished = (status == "finished").then(now_ms);
        sqlx::query(
            "UPDATE runs SET status = $1, finished_ms = $2, prompt_tokens = $3, completion_tokens = $4, cost = $5 WHERE id = $6",
        )
        .bind(status)
        .bind(finished)
        .bind(p)
        .bind(c)
        .bind(cost)
        .bind(run_id)
        .execute(&self.pool)
        .await?;
        self.run(run_id)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("run {run_id} vanished")))
    }

    pub async fn draft_row(&self, id: i64) -> Result<Option<DraftRow>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT id, job_id, run_id, area_code, section, attempt, text, facts_fp, model, params, report, pass, created_ms \
             FROM drafts WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Every draft's check report (JSON) of a run.
    pub async fn run_reports(&self, run_id: i64) -> Result<Vec<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT report FROM drafts WHERE run_id = $1 ORDER BY id")
                .bind(run_id)
                .fetch_all(&self.pool)
                .await?,
        )
    }
}
