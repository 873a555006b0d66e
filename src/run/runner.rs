//! Runs: choosing the jobs, resuming an unfinished run of the same scope, and the worker
//! tasks that claim jobs with leases until none is left.

use super::job::{process, JobContext, JobError, JobResult};
use super::progress::{Progress, Show};
use crate::facts::FactSet;
use crate::prompt::Prompter;
use crate::provider::{Limits, Provider, RateLimiter, RetryPolicy};
use crate::store::{now_ms, JobOutcome, JobRow, JobStatus, NewRun, RunRow, Store, StoreError};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::Instrument;

/// Which councils and sections a run covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scope {
    areas: Vec<String>,
    sections: Vec<String>,
}

impl Scope {
    /// Areas by code or name (any case); no areas and `all` means every council; no sections
    /// means every section that applies to each council.
    pub fn resolve(
        set: &FactSet,
        areas: &[String],
        sections: &[String],
        all: bool,
    ) -> Result<Scope, String> {
        if areas.is_empty() && !all {
            return Err("name at least one --area, or --all for every council".to_string());
        }
        let mut codes: Vec<String> = if all {
            set.councils().map(|a| a.code().to_string()).collect()
        } else {
            areas
                .iter()
                .map(|q| set.find_area(q).map(|a| a.code().to_string()))
                .collect::<Result<_, _>>()?
        };
        codes.sort();
        codes.dedup();
        let mut ids: Vec<String> = sections
            .iter()
            .map(|s| set.find_section(s).map(|s| s.id().to_string()))
            .collect::<Result<_, _>>()?;
        ids.sort();
        ids.dedup();
        Ok(Scope {
            areas: codes,
            sections: ids,
        })
    }

    /// A stable text naming the scope: the same command gives the same key, so it resumes.
    pub fn key(&self) -> String {
        let sections = if self.sections.is_empty() {
            "*".to_string()
        } else {
            self.sections.join(",")
        };
        format!("areas={};sections={sections}", self.areas.join(","))
    }

    /// The (area code, section) jobs: every chosen section that has facts for the area.
    pub fn jobs(&self, set: &FactSet) -> Vec<(String, String)> {
        let mut jobs = Vec::new();
        for code in &self.areas {
            let Ok(area) = set.find_area(code) else {
                continue;
            };
            for section in set.sections_for(area) {
                if self.sections.is_empty() || self.sections.iter().any(|s| s == section.id()) {
                    jobs.push((code.clone(), section.id().to_string()));
                }
            }
        }
        jobs
    }
}

#[derive(Clone, Debug)]
pub struct RunOptions {
    pub started_by: String,
    /// The prompt strategy the run's drafts are asked for with: part of what makes drafts
    /// comparable (`params`).
    pub strategy: crate::prompt::Strategy,
    pub force: bool,
    pub max_attempts: usize,
    pub lease: Duration,
    pub retry: RetryPolicy,
    pub limits: Limits,
    /// Price per 1,000 prompt and completion tokens.
    pub prices: (f64, f64),
}

/// What a run did, for the summary table.
#[derive(Clone, Debug)]
pub struct RunSummary {
    pub run: RunRow,
    pub resumed: bool,
    pub jobs: Vec<JobRow>,
    pub retries: usize,
    pub wall: Duration,
}

impl RunSummary {
    pub fn by_status(&self) -> BTreeMap<String, usize> {
        let mut m = BTreeMap::new();
        for j in &self.jobs {
            *m.entry(j.status.as_str().to_string()).or_default() += 1;
        }
        m
    }
}

pub struct Runner {
    store: Store,
    facts: Arc<FactSet>,
    prompter: Arc<Prompter>,
    provider: Arc<Provider>,
    limiter: RateLimiter,
    options: RunOptions,
    stop: Arc<AtomicBool>,
    holder_prefix: String,
    /// Runs worked in tasks of their own (the server's), and those tasks.
    background: Background,
}

#[derive(Default)]
struct Background {
    working: std::sync::Mutex<std::collections::HashSet<i64>>,
    tasks: tokio::sync::Mutex<tokio::task::JoinSet<()>>,
}

impl Runner {
    pub fn new(
        store: Store,
        facts: FactSet,
        prompter: Prompter,
        provider: Provider,
        options: RunOptions,
    ) -> Arc<Runner> {
        let limiter = RateLimiter::new(options.limits);
        Runner::with_limiter(store, facts, prompter, provider, options, limiter)
    }

    /// As `new`, pacing requests with `limiter` (`narrator bench` passes its naive baseline).
    pub fn with_limiter(
        store: Store,
        facts: FactSet,
        prompter: Prompter,
        provider: Provider,
        options: RunOptions,
        limiter: RateLimiter,
    ) -> Arc<Runner> {
        Arc::new(Runner {
            store,
            facts: Arc::new(facts),
            prompter: Arc::new(prompter),
            provider: Arc::new(provider),
            limiter,
            options,
            stop: Arc::new(AtomicBool::new(false)),
            holder_prefix: format!("pid{}-{:08x}", std::process::id(), fastrand::u32(..)),
            background: Background::default(),
        })
    }

    /// Works every open run made for this worker's model and parameters, run after run; with
    /// `exit_when_idle` it returns once none has a claimable job, else it waits for new runs.
    pub async fn serve(
        self: &Arc<Self>,
        exit_when_idle: bool,
    ) -> Result<Vec<RunSummary>, StoreError> {
        let settings = self.provider.settings();
        let mut done = Vec::new();
        while !self.stop.load(Ordering::SeqCst) {
            let open = self
                .store
                .open_runs(&settings.model, &self.params())
                .await?;
            if open.is_empty() {
                if exit_when_idle {
                    break;
                }
                tokio::time::sleep(Duration::from_secs(2)).await;
                continue;
            }
            for run_id in open {
                done.push(self.work(run_id, true).await?);
            }
        }
        Ok(done)
    }

    /// What makes this runner's drafts comparable: the model's parameters and the strategy.
    pub fn params(&self) -> String {
        self.provider.settings().params(self.options.strategy)
    }

    /// Jobs queued and running in the open runs this runner may work (its model and
    /// parameters): the queue it draws from, as the store says now.
    pub async fn queue_depth(&self) -> Result<(i64, i64), StoreError> {
        let settings = self.provider.settings();
        let mut depth = (0, 0);
        for run_id in self
            .store
            .open_runs(&settings.model, &self.params())
            .await?
        {
            let counts = self.store.job_counts(run_id).await?;
            depth.0 += counts.status(JobStatus::Queued);
            depth.1 += counts.status(JobStatus::Running);
        }
        Ok(depth)
    }

    /// What the rate limiter saw since this runner started.
    pub fn pace_stats(&self) -> crate::provider::PaceStats {
        self.limiter.stats()
    }

    pub fn facts(&self) -> &FactSet {
        &self.facts
    }

    /// The facts this runner works from, to share with the web face.
    pub fn shared_facts(&self) -> Arc<FactSet> {
        Arc::clone(&self.facts)
    }

    /// Set to stop claiming new jobs; jobs in flight finish.
    pub fn stop_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.stop)
    }

    /// Resumes the unfinished run of this scope, model and parameters, or creates one.
    pub async fn start_or_resume(&self, scope: &Scope) -> Result<(i64, bool), StoreError> {
        self.start_or_resume_as(scope, &self.options.started_by)
            .await
    }

    /// As `start_or_resume`, recording `started_by` (who asked, from the web face) as the
    /// run's starter.
    pub async fn start_or_resume_as(
        &self,
        scope: &Scope,
        started_by: &str,
    ) -> Result<(i64, bool), StoreError> {
        let settings = self.provider.settings();
        let (key, params) = (scope.key(), self.params());
        if let Some(id) = self
            .store
            .unfinished_run(&key, &settings.model, &params)
            .await?
        {
            return Ok((id, true));
        }
        let jobs = scope.jobs(&self.facts);
        let id = self
            .store
            .create_run(&NewRun {
                started_by,
                scope: &key,
                model: &settings.model,
                params: &params,
                jobs: &jobs,
            })
            .await?;
        Ok((id, false))
    }

    /// Works a run in a task of its own, showing nothing (its log is the tracing output),
    /// unless this runner works it already. True if this call started it.
    pub async fn work_in_background(self: &Arc<Self>, run_id: i64, resumed: bool) -> bool {
        if !self
            .background
            .working
            .lock()
            .expect("working lock")
            .insert(run_id)
        {
            return false;
        }
        let me = Arc::clone(self);
        self.background.tasks.lock().await.spawn(async move {
            if let Err(e) = me.work_showing(run_id, resumed, Show::Silent).await {
                tracing::error!("run {run_id} stopped: {e}");
            }
            me.background
                .working
                .lock()
                .expect("working lock")
                .remove(&run_id);
        });
        true
    }

    /// Stops claiming jobs and waits up to `grace` for the background runs' jobs in flight;
    /// false if some were still working then (their jobs are retaken once their leases expire).
    pub async fn stop_background(&self, grace: Duration) -> bool {
        self.stop.store(true, Ordering::SeqCst);
        let mut tasks = self.background.tasks.lock().await;
        tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} })
            .await
            .is_ok()
    }

    /// Works a run until no job is open (or a stop is asked for), with as many worker tasks as
    /// the concurrency bound, then closes it with its totals. Progress goes to stderr: bars on
    /// a terminal, else a line a job.
    pub async fn work(
        self: &Arc<Self>,
        run_id: i64,
        resumed: bool,
    ) -> Result<RunSummary, StoreError> {
        self.work_showing(run_id, resumed, Show::for_stderr()).await
    }

    /// As `work`, showing progress as `show` says.
    pub async fn work_showing(
        self: &Arc<Self>,
        run_id: i64,
        resumed: bool,
        show: Show,
    ) -> Result<RunSummary, StoreError> {
        let started = Instant::now();
        let counts = self.store.job_counts(run_id).await?;
        let (total, open) = (counts.total(), counts.open());
        let progress = Arc::new(Progress::new(
            show,
            run_id,
            usize::try_from(total).unwrap_or(0),
            usize::try_from(total - open).unwrap_or(0),
        ));
        // A quarter more workers than slots in flight: while one stores its draft and claims
        // the next job, another's request is already waiting for the slot it frees, so the
        // provider sees `concurrency` requests nearly all the time.
        let slots = self.options.limits.concurrency.max(1);
        let workers = slots + slots.div_ceil(4);
        // A failing worker stops this run's other workers, not the runner: a server working
        // several runs keeps working the others.
        let run_stop = Arc::new(AtomicBool::new(false));
        let mut tasks = tokio::task::JoinSet::new();
        for n in 0..workers {
            let me = Arc::clone(self);
            let progress = Arc::clone(&progress);
            let run_stop = Arc::clone(&run_stop);
            let holder = format!("{}-r{run_id}-w{n}", self.holder_prefix);
            tasks.spawn(async move { me.worker(run_id, holder, &progress, run_stop).await });
        }
        let mut first_error = None;
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    run_stop.store(true, Ordering::SeqCst);
                    first_error.get_or_insert(e);
                }
                Err(panic) => {
                    run_stop.store(true, Ordering::SeqCst);
                    first_error.get_or_insert(StoreError::Corrupt(format!(
                        "a worker task failed: {panic}"
                    )));
                }
            }
        }
        progress.finish();
        if let Some(e) = first_error {
            return Err(e);
        }
        let run = self.store.finish_run(run_id, self.options.prices).await?;
        let jobs = self.store.jobs(run_id).await?;
        Ok(RunSummary {
            run,
            resumed,
            jobs,
            retries: progress.tally().retries,
            wall: started.elapsed(),
        })
    }

    async fn worker(
        &self,
        run_id: i64,
        holder: String,
        progress: &Progress,
        run_stop: Arc<AtomicBool>,
    ) -> Result<(), StoreError> {
        let lease_ms = i64::try_from(self.options.lease.as_millis()).unwrap_or(i64::MAX);
        let stopping = || self.stop.load(Ordering::SeqCst) || run_stop.load(Ordering::SeqCst);
        let ctx = JobContext {
            store: &self.store,
            facts: &self.facts,
            prompter: &self.prompter,
            provider: &self.provider,
            limiter: &self.limiter,
            policy: &self.options.retry,
            max_attempts: self.options.max_attempts,
            strategy: self.options.strategy,
            force: self.options.force,
            holder: &holder,
            stopping: &stopping,
        };
        while !self.stop.load(Ordering::SeqCst) && !run_stop.load(Ordering::SeqCst) {
            let Some(job) = self.store.claim_job(run_id, &holder, lease_ms).await? else {
                if self.store.open_jobs(run_id).await? == 0 {
                    return Ok(());
                }
                // Jobs are leased by others or waiting out a Retry-After.
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            };
            let span = tracing::info_span!(
                "job",
                id = job.id,
                area = %job.area_code,
                section = %job.section,
                outcome = tracing::field::Empty,
            );
            // Keep the lease alive while the job runs; a dead process stops renewing and
            // another worker retakes the job once the lease expires.
            let heartbeat = {
                let store = self.store.clone();
                let (id, holder, lease) = (job.id, holder.clone(), self.options.lease);
                tokio::spawn(async move {
                    loop {
                        tokio::time::sleep(lease / 3).await;
                        let lease_ms = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX);
                        if !store
                            .renew_lease(id, &holder, lease_ms)
                            .await
                            .unwrap_or(false)
                        {
                            break;
                        }
                    }
                })
            };
            let result = process(&ctx, &job).instrument(span.clone()).await;
            heartbeat.abort();
            span.record("outcome", outcome_name(&result));
            let place = (job.area_code.as_str(), job.section.as_str());
            match result {
                Ok(JobResult::Finished {
                    outcome,
                    retries,
                    tokens,
                    stored,
                }) => {
                    progress.finished(place, &outcome, retries, tokens);
                    if !stored && !self.store.finish_job(job.id, &holder, &outcome).await? {
                        crate::metrics::lease_lost();
                        tracing::warn!(
                            "lease lost before the job finished; another worker owns it"
                        );
                    }
                }
                Ok(JobResult::Requeued {
                    after,
                    error,
                    retries,
                    tokens,
                }) => {
                    progress.requeued(retries, tokens);
                    let due = now_ms() + i64::try_from(after.as_millis()).unwrap_or(i64::MAX / 2);
                    tracing::info!(wait_s = after.as_secs(), %error, "requeued");
                    self.store.requeue_job(job.id, &holder, due, &error).await?;
                }
                Err(JobError::Input(error)) => {
                    let outcome = JobOutcome::Failed { error };
                    progress.finished(place, &outcome, 0, 0);
                    self.store.finish_job(job.id, &holder, &outcome).await?;
                }
                Err(JobError::Refused(error)) => {
                    // The run's other jobs stay queued, for a run with other settings.
                    let outcome = JobOutcome::Failed { error };
                    progress.finished(place, &outcome, 0, 0);
                    self.store.finish_job(job.id, &holder, &outcome).await?;
                    run_stop.store(true, Ordering::SeqCst);
                }
                Err(JobError::Store(StoreError::LeaseLost(_))) => {
                    // Paused past the lease (a stopped process, a long GC, a suspended VM):
                    // the job is another worker's now, and nothing of this attempt was kept.
                    crate::metrics::lease_lost();
                    tracing::warn!("lease lost mid-job; another worker owns it");
                }
                Err(JobError::Store(e)) => return Err(e),
            }
        }
        Ok(())
    }
}

/// The job's outcome in one word, as its span records it.
fn outcome_name(result: &Result<JobResult, JobError>) -> &'static str {
    match result {
        Ok(JobResult::Finished { outcome, .. }) => match outcome {
            JobOutcome::NeedsReview { .. } => "needs_review",
            JobOutcome::FailedChecks { .. } => "failed_checks",
            JobOutcome::Failed { .. } => "failed",
            JobOutcome::Skipped { .. } => "skipped",
        },
        Ok(JobResult::Requeued { .. }) => "requeued",
        Err(JobError::Input(_) | JobError::Refused(_)) => "failed",
        Err(JobError::Store(StoreError::LeaseLost(_))) => "lease_lost",
        Err(JobError::Store(_)) => "store_error",
    }
}
