//! `narrator bench`: runs against the mock provider, measured beside the analytic minimum
//! `T_min` and a naive baseline, each run a fresh worker process so its CPU time and memory
//! are its own; and the drills (kill -9, several workers) that prove nothing is lost.

pub mod drill;
pub mod measure;
pub mod worker;

use crate::facts::FactSet;
use crate::mock::RetryAfter;
use crate::prompt::{Prompter, Strategy};
use crate::provider::Limits;
use anyhow::{bail, Context, Result};
use measure::{t_min, Supply};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use worker::WorkerReport;

/// The most tokens an answer may take in the bench: the mock's drafts need about 80.
pub const MAX_TOKENS: u32 = 300;
/// Unlimited, for limits a scenario does not bind on.
const UNLIMITED_RPM: f64 = 1e9;
const UNLIMITED_TPM: f64 = 1e12;

/// How the provider limits a scenario, and what narrator is told of it.
#[derive(Clone, Copy, Debug)]
enum Bound {
    /// No rate limits: only requests in flight bound the rate.
    Concurrency,
    /// Tokens per minute set for this many requests a second, the provider's bucket
    /// holding this many seconds.
    Tokens {
        per_sec: f64,
        bucket_secs: f64,
    },
    Requests {
        per_sec: f64,
        bucket_secs: f64,
    },
}

#[derive(Clone, Debug)]
pub struct Scenario {
    pub name: &'static str,
    pub about: &'static str,
    latency_ms: u64,
    concurrency: usize,
    bound: Bound,
    /// narrator is told limits this many times the provider's (above 1: it learns from 429s).
    overstated: f64,
    retry_after: RetryAfter,
    /// The mock sends OpenAI's rate-limit headers.
    headers: bool,
    server_errors: f64,
    /// (seconds after the first request, share of the limits left).
    drop: Option<(f64, f64)>,
    deadline_secs: Option<u64>,
    pub sizes: &'static [usize],
}

/// Every scenario, in the order `bench run` prints them.
pub fn scenarios() -> Vec<Scenario> {
    let base = Scenario {
        name: "",
        about: "",
        latency_ms: 100,
        concurrency: 16,
        bound: Bound::Concurrency,
        overstated: 1.0,
        retry_after: RetryAfter::Seconds,
        headers: false,
        server_errors: 0.0,
        drop: None,
        deadline_secs: None,
        sizes: &[1_000],
    };
    let tokens = |bucket_secs| Bound::Tokens {
        per_sec: 50.0,
        bucket_secs,
    };
    // A minute's bucket worth 600 of the 1,000 jobs, and requests in flight for 128 a
    // second: spending the stored minute early is most of the run's time.
    let minute = Scenario {
        latency_ms: 500,
        concurrency: 64,
        bound: Bound::Requests {
            per_sec: 10.0,
            bucket_secs: 60.0,
        },
        ..base.clone()
    };
    let told_double = |name, about, retry_after| Scenario {
        name,
        about,
        bound: Bound::Requests {
            per_sec: 20.0,
            bucket_secs: 1.0,
        },
        overstated: 2.0,
        retry_after,
        sizes: &[300],
        ..base.clone()
    };
    vec![
        Scenario {
            name: "concurrency",
            about: "no rate limits: 16 in flight at 100 ms",
            sizes: &[100, 1_000, 10_000],
            ..base.clone()
        },
        Scenario {
            name: "tokens-60s",
            about: "tokens per minute for 50 requests/s, the provider's bucket holding 60 s",
            concurrency: 32,
            bound: tokens(60.0),
            ..base.clone()
        },
        Scenario {
            name: "tokens-1s",
            about: "tokens per minute for 50 requests/s, the provider's bucket holding 1 s",
            concurrency: 32,
            bound: tokens(1.0),
            ..base.clone()
        },
        Scenario {
            name: "requests",
            about: "3,000 requests per minute, per-minute bucket",
            concurrency: 32,
            bound: Bound::Requests {
                per_sec: 50.0,
                bucket_secs: 60.0,
            },
            ..base.clone()
        },
        Scenario {
            name: "tokens-1s-hdrs",
            about: "as tokens-1s, the provider sending its rate-limit headers",
            concurrency: 32,
            bound: tokens(1.0),
            headers: true,
            ..base.clone()
        },
        Scenario {
            name: "minute",
            about:
                "600 requests per minute, a per-minute bucket starting full; 64 in flight at 500 ms",
            ..minute.clone()
        },
        Scenario {
            name: "minute-hdrs",
            about: "as minute, the provider sending its rate-limit headers",
            headers: true,
            ..minute
        },
        Scenario {
            name: "faults-drop",
            about: "as tokens-1s, 5% 500s, and the limits halve 10 s in",
            concurrency: 32,
            bound: tokens(1.0),
            server_errors: 0.05,
            drop: Some((10.0, 0.5)),
            ..base.clone()
        },
        told_double(
            "retry-seconds",
            "20 requests/s per second, narrator told 40: Retry-After in seconds",
            RetryAfter::Seconds,
        ),
        told_double(
            "retry-millis",
            "as retry-seconds, retry-after-ms in milliseconds",
            RetryAfter::Millis,
        ),
        told_double(
            "retry-date",
            "as retry-seconds, Retry-After as an HTTP date",
            RetryAfter::Date,
        ),
        told_double(
            "retry-absent",
            "as retry-seconds, no Retry-After at all",
            RetryAfter::Absent,
        ),
        Scenario {
            deadline_secs: Some(15),
            ..told_double(
                "retry-hour",
                "as retry-seconds, Retry-After: 3600; stopped after 15 s",
                RetryAfter::Hour,
            )
        },
        Scenario {
            name: "zero-latency",
            about: "answers at once, no limits: what narrator itself costs",
            latency_ms: 0,
            sizes: &[1_000, 10_000],
            ..base
        },
    ]
}

/// One measured run of one scenario, narrator's or the baseline's.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Measured {
    pub scenario: String,
    pub jobs: usize,
    pub naive: bool,
    pub burst: crate::provider::Burst,
    pub t_min_secs: f64,
    pub ceiling_per_sec: f64,
    pub tokens_per_request: f64,
    pub concurrency: usize,
    pub worker: WorkerReport,
    pub mock: crate::mock::MockStats,
    pub mock_cpu_secs: f64,
}

impl Measured {
    pub fn requests(&self) -> u64 {
        self.mock.requests
    }
    pub fn throttled(&self) -> u64 {
        self.mock.answers.get("429").copied().unwrap_or(0)
    }
    /// Jobs that ended without a draft (failed), and jobs still open at the end.
    pub fn lost(&self) -> usize {
        self.worker.statuses.get("failed").copied().unwrap_or(0)
    }
    pub fn open(&self) -> usize {
        ["queued", "running"]
            .iter()
            .filter_map(|s| self.worker.statuses.get(*s))
            .sum()
    }
    pub fn in_flight_mean(&self) -> f64 {
        self.worker.pace.busy_secs / self.worker.wall_secs.max(1e-9)
    }
}

/// Where the runs keep their data, databases and logs.
pub struct Workspace {
    dir: PathBuf,
    data: PathBuf,
    prompts: PathBuf,
    exe: PathBuf,
    facts: FactSet,
}

impl Workspace {
    /// Writes synthetic councils enough for `jobs` jobs under `dir` (kept for the next
    /// bench with the same count).
    pub fn prepare(seed_data: &Path, prompts: &Path, dir: &Path, jobs: usize) -> Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        // Synthetic councils have four to seven sections each.
        let areas = jobs / 4 + 2;
        let data = dir.join(format!("synth-{areas}"));
        if !data.exists() {
            let seed = crate::facts::load(seed_data)
                .with_context(|| format!("loading {}", seed_data.display()))?;
            crate::facts::synth::write(&seed, seed_data, &data, areas, 1)
                .context("writing synthetic councils")?;
        }
        let facts = crate::facts::load(&data)
            .with_context(|| format!("loading the synthetic data in {}", data.display()))?;
        Ok(Workspace {
            dir: dir.to_path_buf(),
            data,
            prompts: prompts.to_path_buf(),
            exe: std::env::current_exe().context("finding the narrator binary")?,
            facts,
        })
    }

    /// The mean tokens the mock charges a first request (prompt plus most answer tokens)
    /// over the first `jobs` jobs.
    fn tokens_per_request(&self, jobs: usize) -> Result<f64> {
        let prompter = Prompter::new(&self.prompts)?;
        let scope =
            crate::run::Scope::resolve(&self.facts, &[], &[], true).map_err(anyhow::Error::msg)?;
        let list = scope.jobs(&self.facts);
        let mut total = 0.0;
        for (area, section) in list.iter().take(jobs) {
            let area = self.facts.find_area(area).map_err(anyhow::Error::msg)?;
            let section = self
                .facts
                .find_section(section)
                .map_err(anyhow::Error::msg)?;
            let m = prompter
                .render_with(&self.facts.section_facts(area, section), Strategy::Focused)?;
            total += ((m.system().len() + m.user().len()) / 4 + 1) as f64 + f64::from(MAX_TOKENS);
        }
        Ok(total / jobs.min(list.len()).max(1) as f64)
    }

    /// Runs `scenario` with `jobs` jobs: a mock provider process, then a worker process.
    pub fn measure(
        &self,
        scenario: &Scenario,
        jobs: usize,
        naive: bool,
        burst: crate::provider::Burst,
    ) -> Result<Measured> {
        // Only a token limit needs the prompts' size up front; otherwise the mock's count
        // serves for the report.
        let rendered = match scenario.bound {
            Bound::Tokens { .. } => Some(self.tokens_per_request(jobs)?),
            _ => None,
        };
        let t = rendered.unwrap_or(0.0);
        let (rpm, tpm, bucket_secs) = match scenario.bound {
            Bound::Concurrency => (UNLIMITED_RPM, UNLIMITED_TPM, 60.0),
            Bound::Tokens {
                per_sec,
                bucket_secs,
            } => (UNLIMITED_RPM, per_sec * 60.0 * t, bucket_secs),
            Bound::Requests {
                per_sec,
                bucket_secs,
            } => (per_sec * 60.0, UNLIMITED_TPM, bucket_secs),
        };
        let latency = Duration::from_millis(scenario.latency_ms);
        let mut mock_args = vec![
            "mock-provider".to_string(),
            format!("--latency-ms={}", scenario.latency_ms),
            format!("--rpm={rpm}"),
            format!("--tpm={tpm}"),
            format!("--bucket-secs={bucket_secs}"),
            format!(
                "--retry-after={}",
                clap::ValueEnum::to_possible_value(&scenario.retry_after)
                    .expect("every mode has a flag value")
                    .get_name()
            ),
            format!("--server-errors={}", scenario.server_errors),
        ];
        if scenario.headers {
            mock_args.push("--ratelimit-headers".to_string());
        }
        if let Some((after, share)) = scenario.drop {
            mock_args.push(format!("--drop-after-secs={after}"));
            mock_args.push(format!("--drop-to={share}"));
        }
        let mock = MockProcess::start(&self.exe, &mock_args, &self.dir)?;
        let tag = format!("{}-{jobs}-{}", scenario.name, who(naive, burst));
        let db = self.dir.join(format!("{tag}.db"));
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
        }
        let mut args = vec![
            format!("--data={}", self.data.display()),
            format!("--prompts={}", self.prompts.display()),
            "bench".to_string(),
            "worker".to_string(),
            format!("--database-url=sqlite://{}", db.display()),
            format!("--base-url={}", mock.url),
            format!("--jobs={jobs}"),
            format!("--concurrency={}", scenario.concurrency),
            format!("--rpm={}", rpm * scenario.overstated),
            format!("--tpm={}", tpm * scenario.overstated),
            format!(
                "--burst={}",
                clap::ValueEnum::to_possible_value(&burst)
                    .expect("every burst has a flag value")
                    .get_name()
            ),
        ];
        if naive {
            args.push("--naive".to_string());
        }
        if let Some(secs) = scenario.deadline_secs {
            args.push(format!("--deadline-secs={secs}"));
        }
        let log = std::fs::File::create(self.dir.join(format!("{tag}.log")))?;
        let out = Command::new(&self.exe)
            .args(&args)
            .stdin(Stdio::null())
            .stderr(log)
            .output()
            .context("running the bench worker")?;
        let stats = mock.stats();
        let mock_cpu_secs = measure::cpu_secs(Some(mock.child.id())).unwrap_or(0.0);
        drop(mock);
        if !out.status.success() {
            bail!(
                "the bench worker for {tag} failed ({}); its log is {}",
                out.status,
                self.dir.join(format!("{tag}.log")).display()
            );
        }
        let line = String::from_utf8_lossy(&out.stdout);
        let worker: WorkerReport = serde_json::from_str(line.trim())
            .with_context(|| format!("reading the bench worker's report: {line}"))?;
        let stats = stats?;
        let answered = ["ok", "wrong_figure", "truncated"]
            .iter()
            .filter_map(|k| stats.answers.get(*k))
            .sum::<u64>()
            .max(1);
        let t = rendered
            .unwrap_or(stats.prompt_tokens as f64 / answered as f64 + f64::from(MAX_TOKENS));
        let supply = Supply::new(scenario.concurrency, latency, (rpm, tpm, bucket_secs), t);
        Ok(Measured {
            scenario: scenario.name.to_string(),
            jobs,
            naive,
            burst,
            t_min_secs: t_min(jobs, supply, latency, scenario.drop),
            ceiling_per_sec: supply.ceiling(),
            tokens_per_request: t,
            concurrency: scenario.concurrency,
            worker,
            mock: stats,
            mock_cpu_secs,
        })
    }
}

/// `narrator mock-provider` as a child process, killed when dropped.
pub struct MockProcess {
    child: Child,
    pub url: String,
}

impl MockProcess {
    pub fn start(exe: &Path, args: &[String], dir: &Path) -> Result<MockProcess> {
        let log = std::fs::File::create(dir.join("mock.log"))?;
        let mut child = Command::new(exe)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .context("starting the mock provider")?;
        let stdout = child.stdout.take().context("the mock's output")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        // "mock provider listening on http://127.0.0.1:PORT/v1 (...)"
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .with_context(|| format!("the mock provider did not say where it listens: {line:?}"))?
            .to_string();
        Ok(MockProcess { child, url })
    }

    /// The mock's `/stats`, read over HTTP.
    pub fn stats(&self) -> Result<crate::mock::MockStats> {
        let stats_url = format!("{}/stats", self.url.trim_end_matches("/v1"));
        let body = std::thread::scope(|s| {
            s.spawn(|| -> Result<String> {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                rt.block_on(async { Ok(reqwest::get(&stats_url).await?.text().await?) })
            })
            .join()
            .map_err(|_| anyhow::anyhow!("reading the mock's stats panicked"))?
        })?;
        serde_json::from_str(&body).with_context(|| format!("the mock's stats: {body}"))
    }
}

impl Drop for MockProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Who made a run: the naive baseline, or narrator slow-starting or pacing steadily.
/// The name a run goes by in the tables: narrator by its burst, or the baseline.
pub fn who(naive: bool, burst: crate::provider::Burst) -> &'static str {
    match (naive, burst) {
        (true, _) => "naive",
        (false, crate::provider::Burst::Steady) => "steady",
        (false, crate::provider::Burst::SlowStart) => "narrator",
    }
}

/// The side-by-side table `bench run` prints.
pub fn table(rows: &[Measured]) -> String {
    let mut out = format!(
        "{:<14} {:>6} {:<8} {:>8} {:>8} {:>6} {:>6} {:>7} {:>6} {:>6} {:>5} {:>5} {:>6} {:>13} {:>7} {:>7} {:>6} {:>5}\n",
        "scenario", "jobs", "who", "wall s", "T_min s", "xTmin", "%ceil", "reqs", "429%",
        "att/j", "lost", "open", "infl/C", "lag p50/p99ms", "cpu ms/j", "mock ms", "RSS MB", "early"
    );
    for r in rows {
        let ratio = r.worker.wall_secs / r.t_min_secs.max(1e-9);
        // With no latency and no limits the minimum is nil: there is no ceiling to compare.
        let bounded = r.t_min_secs >= 0.01;
        let requests = r.requests().max(1) as f64;
        out.push_str(&format!(
            "{:<14} {:>6} {:<8} {:>8.2} {:>8} {:>6} {:>6} {:>7} {:>6.2} {:>6.2} {:>5} {:>5} {:>6.3} {:>13} {:>7.3} {:>7.3} {:>6.1} {:>5}\n",
            r.scenario,
            r.jobs,
            who(r.naive, r.burst),
            r.worker.wall_secs,
            if bounded { format!("{:.2}", r.t_min_secs) } else { "-".into() },
            if bounded { format!("{ratio:.3}") } else { "-".into() },
            if bounded { format!("{:.1}", 100.0 / ratio) } else { "-".into() },
            r.requests(),
            100.0 * r.throttled() as f64 / requests,
            r.requests() as f64 / r.jobs.max(1) as f64,
            r.lost(),
            r.open(),
            r.in_flight_mean() / r.concurrency as f64,
            format!(
                "{:.2}/{:.2}",
                r.worker.pace.lag_p50_us as f64 / 1000.0,
                r.worker.pace.lag_p99_us as f64 / 1000.0
            ),
            1000.0 * r.worker.cpu_secs / r.jobs.max(1) as f64,
            1000.0 * r.mock_cpu_secs / r.jobs.max(1) as f64,
            r.worker.peak_rss_kb as f64 / 1024.0,
            r.mock.early_retries,
        ));
    }
    out
}

/// Repeated runs side by side: for each scenario, size and client, in the order first run,
/// the median wall time with the fastest and slowest, and the median's ratio to `T_min`.
/// One run of a scenario with random faults can land a few percent either side of its
/// usual time; the median of several is what two clients are compared by.
pub fn summary(rows: &[Measured]) -> String {
    let mut groups: Vec<(&Measured, Vec<&Measured>)> = Vec::new();
    for r in rows {
        let same = |g: &&Measured| {
            g.scenario == r.scenario && g.jobs == r.jobs && g.naive == r.naive && g.burst == r.burst
        };
        match groups.iter_mut().find(|(first, _)| same(first)) {
            Some((_, runs)) => runs.push(r),
            None => groups.push((r, vec![r])),
        }
    }
    let mut out = format!(
        "{:<14} {:>6} {:<8} {:>4} {:>8} {:>8} {:>8} {:>8} {:>6} {:>6} {:>6} {:>5} {:>5}\n",
        "scenario",
        "jobs",
        "who",
        "runs",
        "median s",
        "min s",
        "max s",
        "T_min s",
        "xTmin",
        "%ceil",
        "429%",
        "lost",
        "early"
    );
    for (first, runs) in groups {
        let mut walls: Vec<f64> = runs.iter().map(|r| r.worker.wall_secs).collect();
        walls.sort_by(f64::total_cmp);
        let median = median(&walls);
        let requests: u64 = runs.iter().map(|r| r.requests()).sum();
        let throttled: u64 = runs.iter().map(|r| r.throttled()).sum();
        let bounded = first.t_min_secs >= 0.01;
        let ratio = median / first.t_min_secs.max(1e-9);
        out.push_str(&format!(
            "{:<14} {:>6} {:<8} {:>4} {:>8.2} {:>8.2} {:>8.2} {:>8} {:>6} {:>6} {:>6.2} {:>5} {:>5}\n",
            first.scenario,
            first.jobs,
            who(first.naive, first.burst),
            runs.len(),
            median,
            walls[0],
            walls[walls.len() - 1],
            if bounded { format!("{:.2}", first.t_min_secs) } else { "-".into() },
            if bounded { format!("{ratio:.3}") } else { "-".into() },
            if bounded { format!("{:.1}", 100.0 / ratio) } else { "-".into() },
            100.0 * throttled as f64 / requests.max(1) as f64,
            runs.iter().map(|r| r.lost()).sum::<usize>(),
            runs.iter().map(|r| r.mock.early_retries).sum::<u64>(),
        ));
    }
    out
}

/// The middle of sorted values, or the mean of the middle two.
fn median(sorted: &[f64]) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// What must hold of narrator's own runs whatever the machine's speed: no job lost (bar a
/// scenario stopped on purpose), no retry before `Retry-After`, and a sound store.
pub fn broken_promises(rows: &[Measured]) -> Vec<String> {
    let mut out = Vec::new();
    for r in rows.iter().filter(|r| !r.naive) {
        let at = format!("{} with {} jobs", r.scenario, r.jobs);
        if r.lost() > 0 {
            out.push(format!("{at}: {} jobs failed", r.lost()));
        }
        if r.mock.early_retries > 0 {
            out.push(format!(
                "{at}: {} retries came before the Retry-After",
                r.mock.early_retries
            ));
        }
        for p in &r.worker.verify_problems {
            out.push(format!("{at}: store verify: {p}"));
        }
        if let Some((_, n)) = r.mock.per_prompt.iter().find(|(_, n)| **n > 50) {
            out.push(format!("{at}: one prompt was sent {n} times"));
        }
    }
    out
}

/// Cuts the scenarios to those named (all when `names` is empty) and their sizes to `sizes`
/// where given.
pub fn select(names: &[String], sizes: &[usize]) -> Result<Vec<(Scenario, Vec<usize>)>> {
    let all = scenarios();
    for n in names {
        if !all.iter().any(|s| s.name == n) {
            let known: Vec<_> = all.iter().map(|s| s.name).collect();
            bail!("no scenario {n:?}; the scenarios are {}", known.join(", "));
        }
    }
    Ok(all
        .into_iter()
        .filter(|s| names.is_empty() || names.iter().any(|n| n == s.name))
        .map(|s| {
            let sizes = if sizes.is_empty() {
                s.sizes.to_vec()
            } else {
                sizes.to_vec()
            };
            (s, sizes)
        })
        .collect())
}

/// The prompt strategy of every bench and drill run (the drills' workers pass it as a flag).
pub const STRATEGY: Strategy = Strategy::Focused;

/// The provider settings of every bench and drill worker: the mock, and the model and
/// parameters their runs are made for.
pub fn mock_settings(base_url: &str) -> crate::provider::ProviderSettings {
    crate::provider::ProviderSettings {
        base_url: base_url.to_string(),
        api_key: crate::provider::Secret::default(),
        model: "mock".to_string(),
        temperature: 0.2,
        max_tokens: MAX_TOKENS,
        timeout: Duration::from_secs(30),
        structured: crate::prompt::Structured::None,
    }
}

/// The limits of a worker spec from flags.
pub fn limits(concurrency: usize, rpm: f64, tpm: f64, burst: crate::provider::Burst) -> Limits {
    Limits {
        requests_per_minute: rpm,
        tokens_per_minute: tpm,
        concurrency,
        burst,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::Burst;

    fn row(
        scenario: &str,
        burst: Burst,
        wall_secs: f64,
        requests: u64,
        throttled: u64,
    ) -> Measured {
        let mut mock = crate::mock::MockStats {
            requests,
            ..Default::default()
        };
        mock.answers.insert("429".to_string(), throttled);
        Measured {
            scenario: scenario.to_string(),
            jobs: 100,
            naive: false,
            burst,
            t_min_secs: 10.0,
            ceiling_per_sec: 10.0,
            tokens_per_request: 1.0,
            concurrency: 4,
            worker: WorkerReport {
                jobs: 100,
                wall_secs,
                ..Default::default()
            },
            mock,
            mock_cpu_secs: 0.0,
        }
    }

    #[test]
    fn the_summary_gives_each_client_its_median_and_range_in_the_order_first_run() {
        let rows = [
            row("faults", Burst::SlowStart, 12.0, 100, 1),
            row("faults", Burst::Steady, 11.0, 100, 0),
            row("faults", Burst::SlowStart, 10.0, 100, 1),
            row("faults", Burst::Steady, 13.0, 100, 2),
            row("faults", Burst::SlowStart, 20.0, 100, 0),
        ];
        let summary = summary(&rows);
        let lines: Vec<Vec<&str>> = summary
            .lines()
            .skip(1)
            .map(|l| l.split_whitespace().collect())
            .collect();
        // scenario, jobs, who, runs, median, min, max, T_min, xTmin, %ceil, 429%, lost, early
        assert_eq!(
            lines[0],
            [
                "faults", "100", "narrator", "3", "12.00", "10.00", "20.00", "10.00", "1.200",
                "83.3", "0.67", "0", "0"
            ]
        );
        assert_eq!(
            lines[1],
            [
                "faults", "100", "steady", "2", "12.00", "11.00", "13.00", "10.00", "1.200",
                "83.3", "1.00", "0", "0"
            ]
        );
        assert_eq!(lines.len(), 2);
    }
}
