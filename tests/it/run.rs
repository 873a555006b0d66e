//! Regeneration runs against the scripted mock server: re-asking, retries, permanent errors,
//! skipping what is current, and resuming after the process is killed.

use crate::helpers::{data_dir, prompts_dir, root};
use crate::mock_llm::{MockLlm, Reply};
use narrator::facts;
use narrator::prompt::Prompter;
use narrator::provider::{Limits, Provider, ProviderSettings, RetryPolicy, Secret};
use narrator::run::{RunOptions, RunSummary, Runner, Scope};
use narrator::store::Store;
use std::time::{Duration, Instant};

const GOOD: &str = "In 2023-24, Coventry spent £46,992 per 100,000 people on adult social care, slightly below the England average of £47,758.16.";
const WRONG: &str = "In 2023-24, Coventry spent £49,992 per 100,000 people on adult social care.";

struct Setup {
    _dir: tempfile::TempDir,
    store: Store,
}

async fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("runs.db").display());
    let store = Store::connect(&url).await.unwrap();
    Setup { _dir: dir, store }
}

pub fn options() -> RunOptions {
    RunOptions {
        started_by: "test".into(),
        strategy: narrator::prompt::Strategy::Full,
        force: false,
        max_attempts: 3,
        lease: Duration::from_secs(30),
        retry: RetryPolicy {
            max_retries: 3,
            max_throttled_retries: 3,
            min_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(50),
            retry_after_cap: Duration::from_secs(5),
            honour_retry_after: true,
        },
        limits: Limits {
            requests_per_minute: 60_000.0,
            tokens_per_minute: 1e9,
            concurrency: 2,
            burst: narrator::provider::Burst::SlowStart,
        },
        prices: (0.5, 1.5),
    }
}

/// A provider of model `mock` at `url`, at the command line's default temperature.
pub(crate) fn provider(url: &str, max_tokens: u32, timeout: Duration) -> Provider {
    Provider::new(ProviderSettings {
        base_url: url.to_string(),
        api_key: Secret::new("sk-test"),
        model: "mock".into(),
        temperature: 0.2,
        max_tokens,
        timeout,
        structured: narrator::prompt::Structured::None,
    })
    .unwrap()
}

pub(crate) fn runner(
    store: &Store,
    provider: Provider,
    options: RunOptions,
) -> std::sync::Arc<Runner> {
    let set = facts::load(&data_dir()).unwrap();
    Runner::new(
        store.clone(),
        set,
        Prompter::new(&prompts_dir()).unwrap(),
        provider,
        options,
    )
}

pub(crate) fn scope(areas: &[&str], sections: &[&str]) -> Scope {
    let set = facts::load(&data_dir()).unwrap();
    let areas: Vec<String> = areas.iter().map(|a| a.to_string()).collect();
    let sections: Vec<String> = sections.iter().map(|s| s.to_string()).collect();
    Scope::resolve(&set, &areas, &sections, false).unwrap()
}

async fn run_one(
    mock: &MockLlm,
    setup: &Setup,
    options: RunOptions,
    area: &str,
    section: &str,
) -> RunSummary {
    let runner = runner(
        &setup.store,
        provider(&mock.url, 500, Duration::from_secs(1)),
        options,
    );
    let (id, resumed) = runner
        .start_or_resume(&scope(&[area], &[section]))
        .await
        .unwrap();
    runner.work(id, resumed).await.unwrap()
}

async fn coventry_funding(script: Vec<Reply>) -> (MockLlm, Setup, RunSummary) {
    let mock = MockLlm::start(script, false).await;
    let setup = setup().await;
    let summary = run_one(&mock, &setup, options(), "Coventry", "funding").await;
    (mock, setup, summary)
}

#[tokio::test]
async fn a_correct_draft_is_stored_with_its_report_for_review() {
    let (mock, setup, s) = coventry_funding(vec![Reply::chat(GOOD)]).await;
    let job = &s.jobs[0];
    assert_eq!((job.status.as_str(), job.attempts), ("needs_review", 1));
    let draft = setup
        .store
        .draft_row(job.draft_id.unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(draft.text, GOOD);
    assert!(
        draft.pass && draft.report.contains("\"verdict\": \"supported\""),
        "{}",
        draft.report
    );
    assert_eq!(mock.requests().len(), 1);
    assert_eq!(s.run.status, "finished");
    assert_eq!((s.run.prompt_tokens, s.run.completion_tokens), (120, 80));
    assert!((s.run.cost - (0.12 * 0.5 + 0.08 * 1.5)).abs() < 1e-9);
    let sent = &mock.requests()[0];
    assert_eq!(sent["model"], "mock");
    assert_eq!(sent["messages"][0]["role"], "system");
}

#[tokio::test]
async fn a_wrong_figure_is_sent_back_and_the_correction_stored() {
    let (mock, setup, s) = coventry_funding(vec![Reply::chat(WRONG), Reply::chat(GOOD)]).await;
    let job = &s.jobs[0];
    assert_eq!((job.status.as_str(), job.attempts), ("needs_review", 2));
    // The run has this job alone: its drafts are the run's.
    assert_eq!(
        setup.store.run_reports(s.run.id).await.unwrap().len(),
        2,
        "every attempt is stored"
    );
    let second = &mock.requests()[1];
    let messages = second["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 4);
    assert_eq!(messages[2]["content"], WRONG);
    let feedback = messages[3]["content"].as_str().unwrap();
    assert!(feedback.contains("\"£49,992\": unsupported"), "{feedback}");
}

#[tokio::test]
async fn three_wrong_drafts_end_in_failed_checks() {
    let other = WRONG.replace("49,992", "48,992");
    let third = WRONG.replace("49,992", "47,992");
    let (_mock, setup, s) = coventry_funding(vec![
        Reply::chat(WRONG),
        Reply::chat(&other),
        Reply::chat(&third),
    ])
    .await;
    let job = &s.jobs[0];
    assert_eq!((job.status.as_str(), job.attempts), ("failed_checks", 3));
    let last = setup
        .store
        .draft_row(job.draft_id.unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(!last.pass, "the last report is kept with the job");
}

/// A model that answers a correction with the same draft will answer the next one alike
/// (llama.cpp samples with a fixed seed): the job stops at the repeat.
#[tokio::test]
async fn a_draft_repeated_after_its_correction_ends_the_job_without_a_third_attempt() {
    let (mock, _setup, s) = coventry_funding(vec![
        Reply::chat(WRONG),
        Reply::chat(WRONG),
        Reply::chat(GOOD),
    ])
    .await;
    let job = &s.jobs[0];
    assert_eq!((job.status.as_str(), job.attempts), ("failed_checks", 2));
    assert_eq!(mock.requests().len(), 2);
}

#[tokio::test]
async fn the_same_unusable_answer_twice_ends_the_job_with_that_reason() {
    let html = "<p>In 2023-24, Coventry spent £46,992 per 100,000 people.</p>";
    let (mock, _setup, s) = coventry_funding(vec![
        Reply::chat(html),
        Reply::chat(html),
        Reply::chat(GOOD),
    ])
    .await;
    let job = &s.jobs[0];
    assert_eq!(job.status, "failed");
    let error = job.last_error.as_deref().unwrap_or_default();
    assert!(error.contains("the same answer again"), "{error}");
    assert_eq!(mock.requests().len(), 2);
}

#[tokio::test]
async fn a_429_is_retried_after_the_wait_it_asks_for() {
    let started = Instant::now();
    let (mock, _setup, s) = coventry_funding(vec![
        Reply::status(
            429,
            r#"{"error":{"message":"slow down","type":"requests"}}"#,
        )
        .header("retry-after", "1"),
        Reply::chat(GOOD),
    ])
    .await;
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(s.jobs[0].status, "needs_review");
    assert_eq!((mock.requests().len(), s.retries), (2, 1));
}

#[tokio::test]
async fn retry_after_in_milliseconds_and_as_a_date_are_honoured() {
    // An HTTP date has whole seconds: the date three seconds ahead, cut to the second, is at
    // least two seconds from now. Without honouring it the backoff here waits under 50 ms.
    let started = Instant::now();
    let date = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(3));
    let (_mock, _setup, s) = coventry_funding(vec![
        Reply::status(429, "{}").header("retry-after-ms", "300"),
        Reply::status(503, "{}").header("retry-after", &date),
        Reply::chat(GOOD),
    ])
    .await;
    assert!(
        started.elapsed() >= Duration::from_millis(1950),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(s.jobs[0].status, "needs_review");
}

#[tokio::test]
async fn a_retry_after_beyond_the_cap_requeues_the_job_instead_of_blocking() {
    let mock = MockLlm::start(
        vec![Reply::status(429, "{}").header("retry-after", "3600")],
        false,
    )
    .await;
    let setup = setup().await;
    let mut opts = options();
    opts.retry.retry_after_cap = Duration::from_secs(1);
    let runner = runner(
        &setup.store,
        provider(&mock.url, 500, Duration::from_secs(1)),
        opts,
    );
    let (id, _) = runner
        .start_or_resume(&scope(&["Coventry"], &["funding"]))
        .await
        .unwrap();
    let stop = runner.stop_flag();
    let work = tokio::spawn({
        let runner = runner.clone();
        async move { runner.work(id, false).await.unwrap() }
    });
    tokio::time::sleep(Duration::from_millis(800)).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let s = work.await.unwrap();
    assert_eq!(
        s.jobs[0].status, "queued",
        "waiting out the hour in the queue, not in a worker"
    );
    assert!(
        s.jobs[0]
            .last_error
            .as_deref()
            .unwrap_or("")
            .contains("429"),
        "{:?}",
        s.jobs[0].last_error
    );
    assert_eq!(s.run.status, "interrupted");
}

#[tokio::test]
async fn server_errors_then_success() {
    let (mock, _setup, s) = coventry_funding(vec![
        Reply::status(500, "oops"),
        Reply::status(502, "bad gateway"),
        Reply::chat(GOOD),
    ])
    .await;
    assert_eq!(s.jobs[0].status, "needs_review");
    assert_eq!(mock.requests().len(), 3);
}

#[tokio::test]
async fn a_timeout_is_retried() {
    let (mock, _setup, s) = coventry_funding(vec![
        Reply::chat(GOOD).delayed(Duration::from_secs(3)),
        Reply::chat(GOOD),
    ])
    .await;
    assert_eq!(s.jobs[0].status, "needs_review");
    assert_eq!(mock.requests().len(), 2);
}

#[tokio::test]
async fn malformed_json_is_retried() {
    let (mock, _setup, s) = coventry_funding(vec![
        Reply::status(200, "{\"choices\": [ not json"),
        Reply::chat(GOOD),
    ])
    .await;
    assert_eq!(s.jobs[0].status, "needs_review");
    assert_eq!(mock.requests().len(), 2);
}

#[tokio::test]
async fn a_truncated_answer_is_a_failed_attempt() {
    let (mock, setup, s) = coventry_funding(vec![
        Reply::finished("In 2023-24, Coventry spent", "length"),
        Reply::chat(GOOD),
    ])
    .await;
    let job = &s.jobs[0];
    assert_eq!((job.status.as_str(), job.attempts), ("needs_review", 2));
    // The run has this job alone: its drafts are the run's.
    assert_eq!(
        setup.store.run_reports(s.run.id).await.unwrap().len(),
        1,
        "no draft from a truncated answer"
    );
    assert_eq!(mock.requests().len(), 2);
    assert_eq!(
        job.prompt_tokens, 240,
        "the truncated answer's tokens still count"
    );
}

#[tokio::test]
async fn an_invalid_key_is_permanent_and_not_retried() {
    let (mock, _setup, s) = coventry_funding(vec![Reply::status(
        401,
        r#"{"error":{"message":"Incorrect API key provided"}}"#,
    )])
    .await;
    let job = &s.jobs[0];
    assert_eq!(job.status, "failed");
    assert!(
        job.last_error.as_deref().unwrap().contains("401"),
        "{:?}",
        job.last_error
    );
    assert_eq!(mock.requests().len(), 1);
}

#[tokio::test]
async fn an_exhausted_quota_is_permanent() {
    let (mock, _setup, s) = coventry_funding(vec![Reply::status(
        429,
        r#"{"error":{"code":"insufficient_quota"}}"#,
    )])
    .await;
    assert_eq!(s.jobs[0].status, "failed");
    assert_eq!(mock.requests().len(), 1);
}

#[tokio::test]
async fn a_current_draft_is_not_generated_again_unless_forced() {
    let mock = MockLlm::start(vec![Reply::chat(GOOD), Reply::chat(GOOD)], false).await;
    let setup = setup().await;
    let first = run_one(&mock, &setup, options(), "Coventry", "funding").await;
    assert_eq!(first.jobs[0].status, "needs_review");
    let second = run_one(&mock, &setup, options(), "Coventry", "funding").await;
    assert_eq!(second.jobs[0].status, "skipped");
    assert_eq!(second.jobs[0].draft_id, first.jobs[0].draft_id);
    assert_eq!(mock.requests().len(), 1);
    let forced = run_one(
        &mock,
        &setup,
        RunOptions {
            force: true,
            ..options()
        },
        "Coventry",
        "funding",
    )
    .await;
    assert_eq!(forced.jobs[0].status, "needs_review");
    assert_eq!(mock.requests().len(), 2);
}

/// Kills `narrator run` with SIGKILL part-way, runs the same command again, and checks every
/// job finished once: one draft per job, no job generated twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_run_is_finished_by_running_the_same_command_again() {
    let mock = MockLlm::start(Vec::new(), true).await;
    mock.set_echo_delay(Duration::from_millis(300));
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("kill.db").display());
    let spawn = narrator_command(&[
        "run",
        "--area",
        "Coventry",
        "--area",
        "E06000022",
        "--concurrency",
        "1",
        "--lease-secs",
        "2",
        "--max-attempts",
        "1",
        "--model",
        "mock",
        "--base-url",
        &mock.url,
        "--database-url",
        &db,
    ]);
    let mut first = spawn();
    let store = Store::connect(&db).await.unwrap();
    // Wait until a few jobs are done, then kill the process outright.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let done = match store.runs(1).await.unwrap().first() {
            Some(run) => store
                .jobs(run.id)
                .await
                .unwrap()
                .iter()
                .filter(|j| j.draft_id.is_some())
                .count(),
            None => 0,
        };
        if done >= 3 || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    first.kill().unwrap();
    first.wait().unwrap();
    let run = store.runs(1).await.unwrap()[0].clone();
    let jobs_before = store.jobs(run.id).await.unwrap();
    let total = jobs_before.len();
    let done_before = jobs_before.iter().filter(|j| j.draft_id.is_some()).count();
    assert!(
        done_before >= 3 && done_before < total,
        "killed after {done_before} of {total} jobs"
    );

    let status = tokio::task::spawn_blocking(move || spawn().wait().unwrap())
        .await
        .unwrap();
    assert!(status.code().is_some(), "the second run ends normally");
    let runs = store.runs(10).await.unwrap();
    assert_eq!(
        runs.len(),
        1,
        "the same command resumed the run instead of starting another"
    );
    assert_eq!(runs[0].status, "finished");
    assert_every_job_made_once(&store, run.id).await;
    // At most the one request in flight when the process died was repeated.
    assert!(
        mock.requests().len() <= total + 1,
        "{} requests for {total} jobs",
        mock.requests().len()
    );
}

/// Three `narrator worker` processes share one PostgreSQL queue: every job is claimed once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_workers_on_postgresql_never_generate_a_job_twice() {
    let dbs = crate::helpers::TestDatabases::new().await;
    let mock = MockLlm::start(Vec::new(), true).await;
    mock.set_echo_delay(Duration::from_millis(50));
    let store = Store::connect(&dbs.postgres).await.unwrap();
    // The same model and parameters as the workers' defaults, so they take this run.
    let runner = runner(
        &store,
        provider(&mock.url, 700, Duration::from_secs(5)),
        RunOptions {
            strategy: narrator::prompt::Strategy::default(),
            ..options()
        },
    );
    let (run_id, _) = runner
        .start_or_resume(&scope(&["Coventry", "E06000022"], &[]))
        .await
        .unwrap();
    let total = store.jobs(run_id).await.unwrap().len();
    assert!(total >= 10, "{total} jobs");

    let workers: Vec<_> = (0..3)
        .map(|_| {
            std::process::Command::new(env!("CARGO_BIN_EXE_narrator"))
                .args([
                    "worker",
                    "--exit-when-idle",
                    "--model",
                    "mock",
                    "--max-attempts",
                    "1",
                    "--concurrency",
                    "2",
                ])
                .args(["--base-url", &mock.url, "--database-url", &dbs.postgres])
                .current_dir(root())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    let statuses = tokio::task::spawn_blocking(move || {
        workers
            .into_iter()
            .map(|mut w| w.wait().unwrap())
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    assert!(statuses.iter().all(|s| s.success()), "{statuses:?}");
    assert_every_job_made_once(&store, run_id).await;
    assert_eq!(mock.requests().len(), total, "one request per job");
    assert_eq!(store.run(run_id).await.unwrap().unwrap().status, "finished");
    store.close().await;
    dbs.drop_postgres().await;
}

/// Every job of the run has a draft, and exactly one: none was lost, none generated twice.
/// Each job ends with a draft of its own, and the run holds as many drafts as jobs, so no job
/// has a second.
async fn assert_every_job_made_once(store: &Store, run_id: i64) {
    let jobs = store.jobs(run_id).await.unwrap();
    for job in &jobs {
        let (area, section) = (&job.area_code, &job.section);
        let Some(draft_id) = job.draft_id else {
            panic!("{area} {section} has no draft: {}", job.status);
        };
        let draft = store.draft_row(draft_id).await.unwrap().unwrap();
        assert_eq!(
            draft.job_id, job.id,
            "{area} {section} ended with another job's draft"
        );
    }
    let drafts = store.run_reports(run_id).await.unwrap().len();
    assert_eq!(
        drafts,
        jobs.len(),
        "{drafts} drafts for {} jobs: a job was generated twice",
        jobs.len()
    );
}

/// Ctrl-C (SIGINT) stops claiming jobs and lets the request in flight finish: the run is left
/// interrupted with nothing half-done, and the same command finishes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_finishes_the_request_in_flight_and_the_run_resumes() {
    let mock = MockLlm::start(Vec::new(), true).await;
    mock.set_echo_delay(Duration::from_millis(700));
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("int.db").display());
    let spawn = narrator_command(&[
        "run",
        "--area",
        "Coventry",
        "--concurrency",
        "1",
        "--max-attempts",
        "1",
        "--model",
        "mock",
        "--base-url",
        &mock.url,
        "--database-url",
        &db,
    ]);
    let mut first = spawn();
    // Interrupt while the first request is in flight.
    while mock.requests().is_empty() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    std::process::Command::new("kill")
        .args(["-INT", &first.id().to_string()])
        .status()
        .unwrap();
    let status = tokio::task::spawn_blocking(move || first.wait().unwrap())
        .await
        .unwrap();
    assert!(
        status.code().is_some(),
        "it exits by itself, not by a signal: {status:?}"
    );
    let store = Store::connect(&db).await.unwrap();
    let run = store.runs(1).await.unwrap()[0].clone();
    assert_eq!(run.status, "interrupted");
    let jobs = store.jobs(run.id).await.unwrap();
    assert_eq!(
        jobs.iter().filter(|j| j.draft_id.is_some()).count(),
        1,
        "the request in flight was finished and stored"
    );
    assert!(
        jobs.iter().all(|j| j.status != "running"),
        "no job left leased"
    );

    let status = tokio::task::spawn_blocking(move || spawn().wait().unwrap())
        .await
        .unwrap();
    assert!(status.code().is_some());
    assert_eq!(store.run(run.id).await.unwrap().unwrap().status, "finished");
    assert_every_job_made_once(&store, run.id).await;
    assert_eq!(mock.requests().len(), jobs.len(), "one request per job");
}

/// A function that starts `narrator` with these arguments (with output discarded), as many
/// times as a test needs the same command.
fn narrator_command(args: &[&str]) -> impl Fn() -> std::process::Child + Clone + Send + 'static {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_narrator"))
            .args(&args)
            .current_dir(root())
            .env("NARRATOR_API_KEY", "sk-test")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    }
}

/// Grounded prompts: the model cites facts by id and narrator writes the figures; an answer
/// naming an unknown fact is a failed attempt, and the final text is checked like any other.
#[tokio::test]
async fn grounded_answers_get_their_figures_from_the_data() {
    let cited = "In 2023-24, Coventry spent [fact:funding_gross_per_100k] on adult social care, \
                 slightly below the England average of [england:funding_gross_per_100k].";
    let script = vec![
        Reply::chat("Coventry spent [fact:funding_made_up] in 2023-24."),
        Reply::chat(cited),
    ];
    let mock = MockLlm::start(script, false).await;
    let setup = setup().await;
    let runner = runner(
        &setup.store,
        provider(&mock.url, 500, Duration::from_secs(1)),
        RunOptions {
            strategy: narrator::prompt::Strategy::Grounded,
            ..options()
        },
    );
    let (id, resumed) = runner
        .start_or_resume(&scope(&["Coventry"], &["funding"]))
        .await
        .unwrap();
    let s = runner.work(id, resumed).await.unwrap();
    let job = &s.jobs[0];
    assert_eq!((job.status.as_str(), job.attempts), ("needs_review", 2));
    let draft = setup
        .store
        .draft_row(job.draft_id.unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(draft.pass);
    assert_eq!(
        draft.text,
        "In 2023-24, Coventry spent £46,992 per 100,000 on adult social care, slightly below the \
         England average of £47,758.16 per 100,000."
    );
    // The request showed the ids and asked for placeholders.
    let user = mock.requests()[0]["messages"][1]["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        user.contains("| funding_gross_per_100k |") && user.contains("[fact:ID]"),
        "{user}"
    );
    assert!(
        s.run.params.contains("\"strategy\":\"grounded\""),
        "{}",
        s.run.params
    );
}

/// The README's main command with another endpoint configured: it validates the data, runs,
/// prints the pass rate, writes the export, makes a reviewer to sign in as, and (not in a
/// terminal) says how to start the review page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_runs_the_pipeline_against_a_configured_endpoint() {
    let mock = MockLlm::start(Vec::new(), true).await;
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("demo.db").display());
    let export_dir = tempfile::tempdir().unwrap();
    let url = mock.url.clone();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_narrator"))
            .args([
                "demo",
                "--area",
                "Coventry",
                "--section",
                "working-age",
                "--model",
                "mock",
            ])
            .args(["--database-url", &db])
            .env("NARRATOR_BASE_URL", &url)
            .env("NARRATOR_EXPORT", export_dir.path())
            .env_remove("NARRATOR_USER")
            .current_dir(root())
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stderr.contains("facts: valid"), "{stderr}");
    assert!(stdout.contains("jobs passing: 1 of 1"), "{stdout}");
    assert!(stdout.contains("export: 0 approved section(s)"), "{stdout}");
    assert!(
        stdout.contains("start it with `narrator serve` and sign in with the reviewer token nar_"),
        "{stdout}"
    );
}

/// The fault drill on a small scale: with 30% of provider calls failing (500s, hangs,
/// malformed bodies, truncated answers) and some first drafts wrong, every job still ends in a
/// terminal state with a reason, the requests stay bounded, and the store's invariants hold.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_thirty_percent_faults_every_job_ends_and_requests_stay_bounded() {
    use narrator::mock::{MockProvider, MockSettings};
    let mock = MockProvider::start(
        MockSettings {
            latency: Duration::from_millis(5),
            server_error_rate: 0.1,
            timeout_rate: 0.05,
            malformed_rate: 0.1,
            truncate_rate: 0.05,
            wrong_figure_rate: 0.2,
            seed: 7,
            ..MockSettings::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let setup = setup().await;
    let provider = provider(&mock.url, 500, Duration::from_millis(500));
    let mut opts = options();
    opts.limits.concurrency = 4;
    let runner = runner(&setup.store, provider, opts.clone());
    let (id, resumed) = runner
        .start_or_resume(&scope(&["Coventry", "E06000022", "E06000066"], &[]))
        .await
        .unwrap();
    let s = runner.work(id, resumed).await.unwrap();
    assert_eq!(s.run.status, "finished");
    for job in &s.jobs {
        assert!(
            matches!(
                job.status.as_str(),
                "needs_review" | "failed_checks" | "failed"
            ),
            "{job:?}"
        );
        if job.status == "failed" {
            assert!(
                job.last_error.as_deref().is_some_and(|e| !e.is_empty()),
                "{job:?}"
            );
        }
    }
    let stats = mock.stats();
    let bound = s.jobs.len()
        * opts.max_attempts
        * (opts.retry.max_retries + opts.retry.max_throttled_retries + 1);
    assert!(
        stats.requests as usize <= bound,
        "{} requests for {} jobs",
        stats.requests,
        s.jobs.len()
    );
    let v = setup.store.verify().await.unwrap();
    assert!(v.problems.is_empty(), "{:?}", v.problems);
    eprintln!(
        "fault drill: {} jobs {:?}, {} requests (bound {bound}), answers {:?}",
        s.jobs.len(),
        s.by_status(),
        stats.requests,
        stats.answers
    );
    let faults: u64 = ["500", "hang", "malformed", "truncated"]
        .iter()
        .map(|k| stats.answers.get(*k).copied().unwrap_or(0))
        .sum();
    assert!(faults > 0, "the drill injected faults: {:?}", stats.answers);
}

/// A provider that allows two requests a second, while narrator is told a hundred: with its
/// rate-limit headers narrator keeps to what the provider says remains and is never refused;
/// without them it learns only from 429s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_providers_rate_limit_headers_keep_a_run_within_its_real_budget() {
    use narrator::mock::{MockProvider, MockSettings};
    let mut refused = Vec::new();
    for headers in [true, false] {
        let mock = MockProvider::start(
            MockSettings {
                latency: Duration::from_millis(5),
                requests_per_minute: 120.0,
                bucket_secs: 1.0,
                ratelimit_headers: headers,
                ..MockSettings::default()
            },
            "127.0.0.1:0".parse().unwrap(),
        )
        .await
        .unwrap();
        let setup = setup().await;
        let provider = provider(&mock.url, 500, Duration::from_secs(5));
        let mut opts = options();
        opts.limits.requests_per_minute = 6_000.0;
        opts.retry.max_throttled_retries = 20;
        let runner = runner(&setup.store, provider, opts);
        let (id, resumed) = runner
            .start_or_resume(&scope(&["Coventry"], &[]))
            .await
            .unwrap();
        let s = runner.work(id, resumed).await.unwrap();
        assert!(s.jobs.len() >= 4, "{}", s.jobs.len());
        assert_eq!(s.by_status().get("failed"), None, "{:?}", s.by_status());
        let stats = mock.stats();
        let pace = runner.pace_stats();
        assert_eq!(stats.early_retries, 0);
        if headers {
            assert_eq!(
                pace.told, stats.requests,
                "every answer's headers were read"
            );
        } else {
            assert_eq!(pace.told, 0);
        }
        refused.push(stats.answers.get("429").copied().unwrap_or(0));
    }
    assert_eq!(refused[0], 0, "with headers: {refused:?}");
    assert!(refused[1] > 0, "without headers: {refused:?}");
}
