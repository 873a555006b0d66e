//! One measured run in its own process (`narrator bench worker`): its CPU time and peak
//! memory are the worker's alone, the mock provider being another process.

use super::measure::{cpu_secs, peak_rss_kb};
use crate::facts::FactSet;
use crate::prompt::Prompter;
use crate::provider::{Limits, PaceStats, Provider, RateLimiter, RetryPolicy};
use crate::run::{RunOptions, Runner, Scope};
use crate::store::{NewRun, Store};
use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// What one measured run is asked to do.
#[derive(Clone, Debug)]
pub struct WorkerSpec {
    pub prompts: PathBuf,
    pub database_url: String,
    pub base_url: String,
    pub jobs: usize,
    pub limits: Limits,
    pub max_tokens: u32,
    /// The baseline: a bound in flight and exponential backoff, no budgets, no Retry-After.
    pub naive: bool,
    /// Stop claiming jobs after this long (for providers that ask for an hour's wait).
    pub deadline: Option<Duration>,
}

/// What one measured run did, printed as one JSON line for `narrator bench run`.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct WorkerReport {
    pub jobs: usize,
    /// From the first claim to the last job's end.
    pub wall_secs: f64,
    /// This process's CPU seconds over the same span.
    pub cpu_secs: f64,
    pub peak_rss_kb: u64,
    pub pace: PaceStats,
    pub statuses: BTreeMap<String, usize>,
    /// Broken invariants `narrator store verify` found afterwards (none, we hope).
    pub verify_problems: Vec<String>,
}

pub async fn measure(set: FactSet, spec: &WorkerSpec) -> Result<WorkerReport> {
    let scope = Scope::resolve(&set, &[], &[], true).map_err(anyhow::Error::msg)?;
    let mut jobs = scope.jobs(&set);
    anyhow::ensure!(
        jobs.len() >= spec.jobs,
        "the data has {} jobs, fewer than the {} asked for",
        jobs.len(),
        spec.jobs
    );
    jobs.truncate(spec.jobs);
    let settings = super::mock_settings(&spec.base_url);
    let provider = Provider::new(settings.clone()).context("setting up the provider")?;
    let prompter = Prompter::new(&spec.prompts)?;
    let store = Store::connect(&spec.database_url)
        .await
        .context("opening the bench database")?;
    let run_id = store
        .create_run(&NewRun {
            started_by: "bench",
            scope: &format!("bench:{}", spec.jobs),
            model: &settings.model,
            params: &settings.params(super::STRATEGY),
            jobs: &jobs,
        })
        .await?;
    let options = RunOptions {
        started_by: "bench".to_string(),
        strategy: super::STRATEGY,
        force: true,
        max_attempts: 3,
        lease: Duration::from_secs(30),
        retry: RetryPolicy {
            honour_retry_after: !spec.naive,
            ..RetryPolicy::default()
        },
        limits: spec.limits,
        prices: (0.0, 0.0),
    };
    let limiter = if spec.naive {
        RateLimiter::naive(spec.limits.concurrency)
    } else {
        RateLimiter::new(spec.limits)
    };
    let runner = Runner::with_limiter(store.clone(), set, prompter, provider, options, limiter);
    if let Some(deadline) = spec.deadline {
        let stop = runner.stop_flag();
        tokio::spawn(async move {
            tokio::time::sleep(deadline).await;
            stop.store(true, Ordering::SeqCst);
        });
    }
    let cpu_before = cpu_secs(None).unwrap_or(0.0);
    let started = Instant::now();
    let summary = runner.work(run_id, false).await?;
    let wall_secs = started.elapsed().as_secs_f64();
    let cpu = cpu_secs(None).unwrap_or(0.0) - cpu_before;
    let verification = store.verify().await?;
    store.close().await;
    Ok(WorkerReport {
        jobs: spec.jobs,
        wall_secs,
        cpu_secs: cpu,
        peak_rss_kb: peak_rss_kb().unwrap_or(0),
        pace: runner.pace_stats(),
        statuses: summary.by_status(),
        verify_problems: verification.problems,
    })
}
