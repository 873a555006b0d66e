//! Prometheus metrics: a real `narrator worker` with `--metrics-addr`, scraped while it works
//! a run against the mock provider and after, adds up to the run's summary and to what the
//! mock counted; `/metrics` on `serve`'s router asks for a staff token; a bad address is
//! refused before any work.

use crate::helpers::{narrator, root, stderr};
use crate::run::{options, provider, runner, scope};
use narrator::mock::{MockProvider, MockSettings, RetryAfter};
use narrator::prompt::Strategy;
use narrator::run::RunOptions;
use narrator::store::Store;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const OUTCOMES: [&str; 4] = ["needs_review", "failed_checks", "failed", "skipped"];

/// One scrape: each series (its name and labels as rendered) and its value.
#[derive(Debug, Default)]
struct Scrape(BTreeMap<String, f64>);

impl Scrape {
    fn parse(text: &str) -> Scrape {
        Scrape(
            text.lines()
                .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
                .map(|l| {
                    let (series, value) = l.rsplit_once(' ').expect("a series and its value");
                    (series.to_string(), value.parse().expect("a number"))
                })
                .collect(),
        )
    }

    fn at(&self, series: &str) -> f64 {
        *self
            .0
            .get(series)
            .unwrap_or_else(|| panic!("no {series} among {:?}", self.0.keys()))
    }

    fn jobs(&self, outcome: &str) -> f64 {
        self.at(&format!(
            "narrator_jobs_finished_total{{outcome=\"{outcome}\"}}"
        ))
    }

    fn finished(&self) -> f64 {
        OUTCOMES.iter().map(|o| self.jobs(o)).sum()
    }

    fn queue(&self) -> f64 {
        self.at("narrator_queue_jobs{state=\"queued\"}")
            + self.at("narrator_queue_jobs{state=\"running\"}")
    }

    fn counters(&self) -> impl Iterator<Item = (&String, &f64)> {
        self.0
            .iter()
            .filter(|(k, _)| k.contains("_total") || k.contains("_count"))
    }
}

async fn scrape(url: &str) -> Scrape {
    let answer = reqwest::get(url)
        .await
        .expect("the worker answers a scrape");
    assert!(answer.status().is_success(), "{}", answer.status());
    let kind = answer.headers()[reqwest::header::CONTENT_TYPE].clone();
    assert!(
        kind.to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4"),
        "{kind:?}"
    );
    Scrape::parse(&answer.text().await.unwrap())
}

/// The worker, killed if the test ends before it exits.
struct Worker(Child);

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Each figure of the worker's summary line, `run N finished: 9 needs_review, 3 failed in
/// 5.2s; 7 retries; tokens 100 prompt + 50 output; cost 0.0000`, by the word after it.
fn summary_figures(stdout: &str, run_id: i64) -> BTreeMap<String, f64> {
    let line = stdout
        .lines()
        .find(|l| l.starts_with(&format!("run {run_id} finished: ")))
        .unwrap_or_else(|| panic!("no summary of run {run_id} in {stdout}"));
    let words: Vec<&str> = line
        .split([' ', ',', ';', ':'])
        .filter(|w| !w.is_empty())
        .collect();
    words
        .windows(2)
        .filter_map(|w| Some((w[1].to_string(), w[0].parse().ok()?)))
        .collect()
}

/// The operator's view of unattended workers: a worker serves its metrics for as long as it
/// lives, so after its run's last job (which a `run` process would exit on) the totals stay
/// there to scrape. Scraped every 100 ms while the run goes on and once after, they only
/// grow, and at the end they are the run's own figures: jobs by outcome and tokens as the
/// store and the worker's summary have them, retries as the summary has them, requests, 429s
/// and tokens as the mock counted them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workers_metrics_add_up_to_its_runs_summary_and_to_what_the_mock_counted() {
    let mock = MockProvider::start(
        MockSettings {
            latency: Duration::from_millis(100),
            // Three requests a second in a one-second bucket: the worker's first burst of
            // four and its retries meet some 429s, each asking to wait a second.
            requests_per_minute: 180.0,
            bucket_secs: 1.0,
            retry_after: RetryAfter::Seconds,
            // Some first drafts are wrong (failed checks with one attempt), some answers cut
            // short (failed jobs).
            wrong_figure_rate: 0.3,
            truncate_rate: 0.2,
            seed: 19,
            ..MockSettings::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("metrics.db").display());
    let store = Store::connect(&db).await.unwrap();
    // Made with the worker's model and parameters, so the worker takes it.
    let (run_id, _) = runner(
        &store,
        provider(&mock.url, 700, Duration::from_secs(5)),
        RunOptions {
            strategy: Strategy::Focused,
            ..options()
        },
    )
    .start_or_resume(&scope(&["Coventry", "E06000022"], &[]))
    .await
    .unwrap();
    let total = store.jobs(run_id).await.unwrap().len();
    assert!(total >= 10, "{total} jobs");

    let mut child = Command::new(env!("CARGO_BIN_EXE_narrator"))
        .args(["worker", "--metrics-addr", "127.0.0.1:0", "--model", "mock"])
        .args(["--strategy", "focused", "--max-attempts", "1"])
        .args(["--concurrency", "4", "--rpm", "6000", "--tpm", "100000000"])
        .args(["--base-url", &mock.url, "--database-url", &db])
        .current_dir(root())
        .env("NARRATOR_API_KEY", "sk-test")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Its stderr, read to the end (a line a job) so the worker never blocks on a full pipe.
    let (lines, said) = std::sync::mpsc::channel();
    let err = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    let mut worker = Worker(child);
    let url = loop {
        let line = said
            .recv_timeout(Duration::from_secs(30))
            .expect("the worker says where its metrics are");
        if let Some(addr) = line.strip_prefix("metrics at ") {
            break addr.to_string();
        }
    };

    let mut last = Scrape::default();
    let mut seen_midway = false;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let finished = store.run(run_id).await.unwrap().unwrap().status == "finished";
        let now = scrape(&url).await;
        for (series, value) in last.counters() {
            assert!(now.at(series) >= *value, "{series} fell below {value}");
        }
        seen_midway |= now.queue() > 0.0 && now.finished() < total as f64;
        last = now;
        if finished {
            break;
        }
        assert!(Instant::now() < deadline, "the run took over two minutes");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(seen_midway, "a scrape during the run saw jobs in the queue");

    // The run ended (its last job's counts were in before the run was closed), and the
    // worker waits for the next run with its metrics still served.
    let after = scrape(&url).await;
    let jobs = store.jobs(run_id).await.unwrap();
    for outcome in OUTCOMES {
        let stored = jobs.iter().filter(|j| j.status == outcome).count();
        assert_eq!(after.jobs(outcome), stored as f64, "{outcome}");
    }
    assert_eq!(after.finished(), total as f64);
    assert_eq!(after.queue(), 0.0, "nothing left in the queue");
    let stats = mock.stats();
    let requests = after.at("narrator_provider_requests_total");
    assert_eq!(requests, stats.requests as f64, "requests");
    assert_eq!(
        after.at("narrator_provider_request_duration_seconds_count"),
        requests,
        "one latency sample a request"
    );
    let throttled = after.at("narrator_provider_rate_limited_total");
    assert_eq!(throttled, stats.answers["429"] as f64, "429s");
    assert!(throttled > 0.0, "the mock refused some requests");
    let prompt = after.at("narrator_tokens_total{kind=\"prompt\"}");
    let completion = after.at("narrator_tokens_total{kind=\"completion\"}");
    assert_eq!(prompt, stats.prompt_tokens as f64, "prompt tokens");
    assert_eq!(
        completion, stats.completion_tokens as f64,
        "completion tokens"
    );
    let retries = after.at("narrator_provider_retries_total");
    assert!(
        retries >= throttled,
        "every 429 was retried: {retries} retries"
    );
    assert_eq!(after.at("narrator_leases_lost_total"), 0.0);
    eprintln!(
        "metrics after the run: {:?}; the mock's answers: {:?}",
        after
            .0
            .iter()
            .filter(|(k, _)| !k.contains("_bucket"))
            .collect::<Vec<_>>(),
        stats.answers
    );

    // Stopped as Ctrl-C would, the worker prints the run's summary: the same figures.
    std::process::Command::new("kill")
        .args(["-INT", &worker.0.id().to_string()])
        .status()
        .unwrap();
    let mut out = worker.0.stdout.take().unwrap();
    let stdout = tokio::task::spawn_blocking(move || {
        let mut text = String::new();
        out.read_to_string(&mut text).unwrap();
        text
    })
    .await
    .unwrap();
    assert!(worker.0.wait().unwrap().success());
    let summary = summary_figures(&stdout, run_id);
    let figure = |word: &str| summary.get(word).copied().unwrap_or(0.0);
    for outcome in OUTCOMES {
        assert_eq!(
            after.jobs(outcome),
            figure(outcome),
            "{outcome} in {stdout}"
        );
    }
    assert_eq!(retries, figure("retries"), "{stdout}");
    assert_eq!(prompt, figure("prompt"), "{stdout}");
    assert_eq!(completion, figure("output"), "{stdout}");
}

/// `serve` listens where visitors reach it: its `/metrics` answers staff only.
#[tokio::test]
async fn serves_metrics_need_a_staff_token() {
    use axum::extract::connect_info::MockConnectInfo;
    use axum::http::{header, Request, StatusCode};
    use narrator::web::{self, AppState, Role};
    use tower::ServiceExt;

    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("web.db").display());
    let store = Store::connect(&url).await.unwrap();
    let issued = web::issue_token();
    store
        .add_user(
            "rita",
            Role::Reviewer.as_str(),
            &issued.token_id,
            &issued.hash,
        )
        .await
        .unwrap();
    let facts = narrator::facts::load(&crate::helpers::data_dir()).unwrap();
    let state = AppState::new(
        store,
        std::sync::Arc::new(facts),
        narrator::review::ReviewSettings::default(),
        None,
        10.0,
    );
    let app = web::router(state).layer(MockConnectInfo(std::net::SocketAddr::from((
        [10, 0, 0, 1],
        4000,
    ))));
    let get = |token: Option<&str>| {
        let b = Request::get("/metrics");
        let b = match token {
            Some(t) => b.header(header::AUTHORIZATION, format!("Bearer {t}")),
            None => b,
        };
        app.clone()
            .oneshot(b.body(axum::body::Body::empty()).unwrap())
    };
    assert_eq!(get(None).await.unwrap().status(), StatusCode::UNAUTHORIZED);
    let forged = format!("{}x", issued.token);
    assert_eq!(
        get(Some(&forged)).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    let answer = get(Some(&issued.token)).await.unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    assert!(answer.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let body = axum::body::to_bytes(answer.into_body(), usize::MAX)
        .await
        .unwrap();
    let text = String::from_utf8(body.to_vec()).unwrap();
    assert!(
        text.contains("# TYPE narrator_jobs_finished_total counter"),
        "{text}"
    );
}

#[test]
fn a_metrics_address_that_is_no_socket_address_stops_the_worker_before_any_work() {
    let out = narrator(&["worker", "--metrics-addr", "localhost", "--exit-when-idle"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--metrics-addr (NARRATOR_METRICS_ADDR) must be an IP address and port such as 127.0.0.1:9187"),
        "{}",
        stderr(&out)
    );
}
