//! The drills: kill -9 at random moments with a restart after each, and several worker
//! processes on one queue; both against the mock provider, both ending in `store verify`.

use super::{MockProcess, Workspace, MAX_TOKENS};
use crate::review::{Desk, ReviewSettings};
use crate::run::Scope;
use crate::store::{JobStatus, NewRun, QueueFilter, ScratchDatabase, Store};
use anyhow::{bail, ensure, Context, Result};
use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A fresh database for one drill: a new SQLite file in the workspace, or a new PostgreSQL
/// database on the server `admin` names (dropped afterwards).
async fn drill_database(
    space: &Workspace,
    postgres_admin: Option<&str>,
    tag: &str,
) -> Result<ScratchDatabase> {
    Ok(match postgres_admin {
        None => ScratchDatabase::sqlite(&space.dir, &format!("drill-{tag}.db")),
        Some(admin) => ScratchDatabase::postgres(admin, &format!("narrator_drill_{tag}")).await?,
    })
}

impl Workspace {
    /// `narrator worker --exit-when-idle` against `url` with the drill's settings.
    fn spawn_worker(
        &self,
        base_url: &str,
        url: &str,
        extra: &[String],
        log: &str,
    ) -> Result<Child> {
        let log = std::fs::File::create(self.dir.join(log))?;
        Command::new(&self.exe)
            .arg(format!("--data={}", self.data.display()))
            .arg(format!("--prompts={}", self.prompts.display()))
            .args(["worker", "--exit-when-idle", "--model=mock"])
            .arg(format!("--base-url={base_url}"))
            .arg(format!("--database-url={url}"))
            .arg(format!("--max-tokens={MAX_TOKENS}"))
            .args(["--temperature=0.2", "--strategy=focused", "--lease-secs=2"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .context("starting a worker")
    }

    /// A run of `count` jobs, starting at job `skip` of the synthetic data, made for the
    /// drill's workers to find.
    async fn make_run(
        &self,
        store: &Store,
        base_url: &str,
        skip: usize,
        count: usize,
    ) -> Result<i64> {
        let scope = Scope::resolve(&self.facts, &[], &[], true).map_err(anyhow::Error::msg)?;
        let jobs: Vec<_> = scope
            .jobs(&self.facts)
            .into_iter()
            .skip(skip)
            .take(count)
            .collect();
        ensure!(jobs.len() == count, "the synthetic data has too few jobs");
        let s = super::mock_settings(base_url);
        Ok(store
            .create_run(&NewRun {
                started_by: "drill",
                scope: &format!("drill:{skip}+{count}"),
                model: &s.model,
                params: &s.params(super::STRATEGY),
                jobs: &jobs,
            })
            .await?)
    }
}

/// Sends a process SIGSTOP or SIGCONT (`kill -STOP`): true when it was delivered.
fn signal(child: &Child, which: &str) -> Result<bool> {
    let status = Command::new("kill")
        .arg(format!("-{which}"))
        .arg(child.id().to_string())
        .status()
        .context("running kill")?;
    Ok(status.success())
}

fn wait_for(child: &mut Child, limit: Duration, what: &str) -> Result<()> {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait()? {
            ensure!(status.success(), "{what} exited with {status}");
            return Ok(());
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            bail!("{what} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// What a kill -9 drill did and found.
#[derive(Debug, serde::Serialize)]
pub struct KillReport {
    pub database: String,
    pub jobs: usize,
    pub kills: usize,
    pub wall_secs: f64,
    pub statuses: BTreeMap<String, usize>,
    pub run_status: String,
    pub requests: u64,
    pub published_before: (i64, String),
    pub published_after: (i64, String),
    pub verify_problems: Vec<String>,
    /// Jobs a worker held when it was paused (SIGSTOP) past its lease, before the last
    /// worker took them over.
    pub paused_leases: usize,
    /// Drafts the paused worker stored once resumed (SIGCONT), after the last worker had
    /// finished: none, or two workers wrote one job.
    pub paused_writes: i64,
}

impl KillReport {
    pub fn problems(&self) -> Vec<String> {
        let mut out = self.verify_problems.clone();
        if self.run_status != "finished" {
            out.push(format!("the run ended {}", self.run_status));
        }
        let terminal: usize = ["needs_review", "failed_checks", "failed", "skipped"]
            .iter()
            .filter_map(|s| self.statuses.get(*s))
            .sum();
        if terminal != self.jobs {
            out.push(format!("{terminal} of {} jobs are terminal", self.jobs));
        }
        if self.published_before != self.published_after {
            out.push("published versions changed".to_string());
        }
        if self.published_before.0 == 0 {
            out.push("nothing was published before the drill".to_string());
        }
        if self.paused_writes != 0 {
            out.push(format!(
                "a worker paused past its lease stored {} draft(s) once resumed",
                self.paused_writes
            ));
        }
        out
    }
}

/// Publishes a few drafts, then works a run of `jobs` jobs with a worker process killed
/// with SIGKILL at `kills` random moments and restarted after each, then lets a last worker
/// finish and checks the store.
pub async fn kill_drill(
    space: &Workspace,
    jobs: usize,
    kills: usize,
    postgres_admin: Option<&str>,
    seed: u64,
) -> Result<KillReport> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mock_args = [
        "mock-provider",
        "--latency-ms=100",
        "--jitter-ms=100",
        "--wrong-figures=0.2",
    ]
    .map(String::from);
    let mock = MockProcess::start(&space.exe, &mock_args, &space.dir)?;
    let db = drill_database(space, postgres_admin, "kill").await?;
    let store = Store::connect(db.url()).await?;
    // Something published beforehand, to show the drill leaves it alone.
    let warm_up = space.make_run(&store, &mock.url, 0, 6).await?;
    let unlimited = ["--rpm=1e9".to_string(), "--tpm=1e12".to_string()];
    let mut first = space.spawn_worker(&mock.url, db.url(), &unlimited, "drill-warm-up.log")?;
    wait_for(&mut first, Duration::from_secs(120), "the warm-up worker")?;
    let desk = Desk::new(
        &store,
        &space.facts,
        ReviewSettings {
            separation_of_duties: true,
            claim_lease: Duration::from_secs(900),
            down_vote_threshold: 3,
        },
    );
    let filter = QueueFilter {
        run: Some(warm_up),
        ..QueueFilter::default()
    };
    for item in desk.queue(&filter).await? {
        desk.claim("drill reviewer", Some(item.draft_id), &filter)
            .await?;
        desk.approve("drill reviewer", item.draft_id, None, None)
            .await?;
    }
    let published_before = store.versions_digest().await?;
    let run_id = space.make_run(&store, &mock.url, 6, jobs).await?;
    let started = Instant::now();
    let extra = [
        "--concurrency=4".to_string(),
        "--rpm=1e9".to_string(),
        "--tpm=1e12".to_string(),
    ];
    // First, while every job is open, a worker paused past its lease: its jobs wait on a
    // slow provider (so it is stopped between database writes, not inside a transaction),
    // it is stopped, the killed workers and the last one take its jobs once the leases
    // expire and finish the run, then it is resumed. Any draft it stores after that is a
    // job written by two workers.
    let slow_args = ["mock-provider", "--latency-ms=4000"].map(String::from);
    let slow = MockProcess::start(&space.exe, &slow_args, &space.dir)?;
    let mut paused = space.spawn_worker(&slow.url, db.url(), &extra, "drill-paused.log")?;
    let mut paused_leases = 0;
    let waiting = Instant::now();
    while waiting.elapsed() < Duration::from_secs(30) && paused.try_wait()?.is_none() {
        paused_leases = store
            .jobs(run_id)
            .await?
            .iter()
            .filter(|j| j.status == JobStatus::Running)
            .count();
        if paused_leases >= 4 || store.open_jobs(run_id).await? <= paused_leases as i64 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // Its requests are out and answered in 4 s: stop it in between.
    std::thread::sleep(Duration::from_millis(500));
    let stopped = paused.try_wait()?.is_none() && signal(&paused, "STOP")?;
    let mut kills_done = 0;
    for k in 0..kills {
        let mut child =
            space.spawn_worker(&mock.url, db.url(), &extra, &format!("drill-kill-{k}.log"))?;
        // From the process starting (loading data, migrating) to deep in a run.
        std::thread::sleep(Duration::from_millis(300 + rng.u64(..1_200)));
        if child.try_wait()?.is_some() {
            break;
        }
        child.kill()?; // SIGKILL
        child.wait()?;
        kills_done += 1;
    }
    let mut last = space.spawn_worker(&mock.url, db.url(), &extra, "drill-last.log")?;
    wait_for(&mut last, Duration::from_secs(1_200), "the last worker")?;
    // Drafts stored for the run's jobs: every attempt's report is its draft's.
    let drafts = |store: &Store| {
        let store = store.clone();
        async move { Ok::<i64, anyhow::Error>(store.run_reports(run_id).await?.len() as i64) }
    };
    let drafts_done = drafts(&store).await?;
    if stopped {
        signal(&paused, "CONT")?;
        wait_for(&mut paused, Duration::from_secs(120), "the resumed worker")?;
    } else {
        let _ = paused.kill();
        paused_leases = 0;
    }
    let paused_writes = drafts(&store).await? - drafts_done;
    drop(slow);
    let wall_secs = started.elapsed().as_secs_f64();
    let mut statuses = BTreeMap::new();
    for j in store.jobs(run_id).await? {
        *statuses.entry(j.status.as_str().to_string()).or_default() += 1;
    }
    let run_status = store
        .run(run_id)
        .await?
        .map(|r| r.status.as_str().to_string())
        .unwrap_or_default();
    let report = KillReport {
        database: if postgres_admin.is_some() {
            "postgres"
        } else {
            "sqlite"
        }
        .to_string(),
        jobs,
        kills: kills_done,
        wall_secs,
        statuses,
        run_status,
        requests: mock.stats()?.requests,
        published_before,
        published_after: store.versions_digest().await?,
        verify_problems: store.verify().await?.problems,
        paused_leases,
        paused_writes,
    };
    store.close().await;
    let _ = db.drop_database().await;
    Ok(report)
}

/// One row of the several-workers drill.
#[derive(Debug, serde::Serialize)]
pub struct WorkersRow {
    pub workers: usize,
    pub jobs: usize,
    pub wall_secs: f64,
    pub jobs_per_sec: f64,
    pub requests: u64,
    /// Prompts the mock saw more than once: a job generated twice.
    pub duplicates: usize,
    pub throttled: u64,
    pub statuses: BTreeMap<String, usize>,
    pub verify_problems: Vec<String>,
}

/// `jobs` jobs worked by each count of worker processes in `counts` on one PostgreSQL (or
/// SQLite) queue, each worker with `concurrency` in flight and its share of the provider's
/// requests per minute.
pub async fn workers_drill(
    space: &Workspace,
    jobs: usize,
    counts: &[usize],
    postgres_admin: Option<&str>,
) -> Result<Vec<WorkersRow>> {
    const RPM: f64 = 3_000.0;
    let mut rows = Vec::new();
    for &workers in counts {
        let mock_args = [
            "mock-provider".to_string(),
            "--latency-ms=200".to_string(),
            format!("--rpm={RPM}"),
            "--bucket-secs=1".to_string(),
        ];
        let mock = MockProcess::start(&space.exe, &mock_args, &space.dir)?;
        let db = drill_database(space, postgres_admin, &format!("w{workers}")).await?;
        let store = Store::connect(db.url()).await?;
        let run_id = space.make_run(&store, &mock.url, 0, jobs).await?;
        let extra = [
            "--concurrency=4".to_string(),
            format!("--rpm={}", RPM / workers as f64),
            "--tpm=1e12".to_string(),
        ];
        let started = Instant::now();
        let mut children = (0..workers)
            .map(|w| {
                space.spawn_worker(
                    &mock.url,
                    db.url(),
                    &extra,
                    &format!("drill-w{workers}-{w}.log"),
                )
            })
            .collect::<Result<Vec<_>>>()?;
        for (w, child) in children.iter_mut().enumerate() {
            wait_for(child, Duration::from_secs(1_200), &format!("worker {w}"))?;
        }
        let wall_secs = started.elapsed().as_secs_f64();
        let stats = mock.stats()?;
        let mut statuses = BTreeMap::new();
        for j in store.jobs(run_id).await? {
            *statuses.entry(j.status.as_str().to_string()).or_default() += 1;
        }
        rows.push(WorkersRow {
            workers,
            jobs,
            wall_secs,
            jobs_per_sec: jobs as f64 / wall_secs,
            requests: stats.requests,
            duplicates: stats.per_prompt.values().filter(|n| **n > 1).count(),
            throttled: stats.answers.get("429").copied().unwrap_or(0),
            statuses,
            verify_problems: store.verify().await?.problems,
        });
        store.close().await;
        let _ = db.drop_database().await;
    }
    Ok(rows)
}
