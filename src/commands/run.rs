//! Runs: `run`, `worker`, `runs list`, `runs show`, and `demo` (the whole pipeline on this
//! machine).

use super::startup;
use crate::check::{Report, Verdict};
use crate::cli::{CheckFormat, Cli, DemoArgs, RunArgs, WorkerArgs};
use crate::config::{self, RunnerSettings};
use crate::run::{RunSummary, Runner, Scope};
use crate::store::{JobStatus, Store};
use anyhow::{Context, Result};
use std::fmt::Write as _;
use std::process::ExitCode;
use std::sync::Arc;

pub async fn run(cli: &Cli, args: &RunArgs) -> Result<ExitCode> {
    let settings = config::run_settings(args)?;
    let (runner, store) = runner(cli, startup::load(&cli.data)?, &settings).await?;
    let summary = run_scope(&runner, &store, args, &settings).await?;
    store.close().await;
    let failed = summary
        .jobs
        .iter()
        .any(|j| matches!(j.status, JobStatus::Failed | JobStatus::FailedChecks));
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

pub async fn worker(cli: &Cli, args: &WorkerArgs) -> Result<ExitCode> {
    let settings = config::run_settings(&args.run)?;
    let (runner, store) = runner(cli, startup::load(&cli.data)?, &settings).await?;
    eprintln!(
        "worker {}: waiting for runs of model {}",
        std::process::id(),
        args.run.runner.provider.model
    );
    for summary in runner
        .serve(args.exit_when_idle)
        .await
        .context("working runs")?
    {
        print!("{}", render_summary(&summary));
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

/// The runner a `run`, `worker` or `demo` command works with, and its store; Ctrl-C stops it.
/// With `--metrics-addr`, its metrics are served until the process ends.
async fn runner(
    cli: &Cli,
    set: crate::facts::FactSet,
    settings: &RunnerSettings,
) -> Result<(Arc<Runner>, Store)> {
    let (runner, store) = startup::build_runner(&cli.prompts, set, settings).await?;
    startup::stop_on_ctrl_c(runner.stop_flag());
    if let Some(addr) = settings.metrics_addr {
        startup::serve_metrics(addr, &runner).await?;
    }
    Ok((runner, store))
}

/// Creates or resumes the run of the flags' scope, works it, and prints its summary table.
async fn run_scope(
    runner: &Arc<Runner>,
    store: &Store,
    args: &RunArgs,
    settings: &RunnerSettings,
) -> Result<RunSummary> {
    let scope = Scope::resolve(runner.facts(), &args.areas, &args.sections, args.all)
        .map_err(anyhow::Error::msg)?;
    let (run_id, resumed) = match args.resume {
        Some(id) => {
            store
                .run(id)
                .await?
                .with_context(|| format!("no run {id}"))?;
            (id, true)
        }
        None => runner
            .start_or_resume(&scope)
            .await
            .context("creating the run")?,
    };
    eprintln!(
        "{} run {run_id}: {} jobs ({}), model {} at {}",
        if resumed { "resuming" } else { "starting" },
        store.jobs(run_id).await?.len(),
        scope.key(),
        settings.provider.model,
        settings.provider.base_url
    );
    let summary = runner
        .work(run_id, resumed)
        .await
        .context("running the jobs")?;
    print!("{}", render_summary(&summary));
    Ok(summary)
}

fn render_summary(s: &RunSummary) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n{:<10} {:<16} {:<14} {:>8} {:>8} {:>8}  draft",
        "area", "section", "status", "attempts", "prompt", "output"
    );
    for j in &s.jobs {
        let _ = writeln!(
            out,
            "{:<10} {:<16} {:<14} {:>8} {:>8} {:>8}  {}",
            j.area_code,
            j.section,
            j.status,
            j.attempts,
            j.prompt_tokens,
            j.completion_tokens,
            j.draft_id.map_or("-".to_string(), |d| d.to_string())
        );
    }
    let counts: Vec<String> = s
        .by_status()
        .iter()
        .map(|(k, v)| format!("{v} {k}"))
        .collect();
    let _ = writeln!(
        out,
        "run {} {}: {} in {:.1}s; {} retries; tokens {} prompt + {} output; cost {:.4}",
        s.run.id,
        s.run.status,
        counts.join(", "),
        s.wall.as_secs_f64(),
        s.retries,
        s.run.prompt_tokens,
        s.run.completion_tokens,
        s.run.cost
    );
    out
}

pub async fn list(url: &str, limit: i64) -> Result<ExitCode> {
    let store = startup::open_store(url).await?;
    println!(
        "{:>5} {:<12} {:<24} {:<28} {:>9} {:>9}  scope",
        "id", "status", "model", "started by", "prompt", "output"
    );
    for r in store.runs(limit).await? {
        println!(
            "{:>5} {:<12} {:<24} {:<28} {:>9} {:>9}  {}",
            r.id, r.status, r.model, r.started_by, r.prompt_tokens, r.completion_tokens, r.scope
        );
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

pub async fn show(url: &str, id: i64, format: CheckFormat) -> Result<ExitCode> {
    let store = startup::open_store(url).await?;
    let run = store
        .run(id)
        .await?
        .with_context(|| format!("no run {id}"))?;
    let jobs = store.jobs(id).await?;
    store.close().await;
    match format {
        CheckFormat::Json => {
            let value = serde_json::json!({ "run": run, "jobs": jobs });
            println!("{}", serde_json::to_string_pretty(&value)?);
        }
        CheckFormat::Text => {
            println!(
                "run {} ({}) by {}: {} model {} {}",
                run.id, run.status, run.started_by, run.scope, run.model, run.params
            );
            println!(
                "{:>5} {:<10} {:<16} {:<14} {:>8} {:>6}  last error",
                "job", "area", "section", "status", "attempts", "draft"
            );
            for j in jobs {
                println!(
                    "{:>5} {:<10} {:<16} {:<14} {:>8} {:>6}  {}",
                    j.id,
                    j.area_code,
                    j.section,
                    j.status,
                    j.attempts,
                    j.draft_id.map_or("-".to_string(), |d| d.to_string()),
                    j.last_error.unwrap_or_default()
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn demo(cli: &Cli, args: &DemoArgs) -> Result<ExitCode> {
    let mut settings = config::demo_settings(args)?;
    let set = startup::load(&cli.data)?;
    eprintln!(
        "data: {} councils, {} sections, {} facts: valid",
        set.councils().count(),
        set.sections().len(),
        set.facts().len()
    );
    // The seed councils, not all of England: on the local model each job takes about a
    // minute, and about 150 councils have the national section.
    if settings.run.areas.is_empty() {
        settings.run.areas = set.seed_councils().map(|a| a.code().to_string()).collect();
    }
    let _local = if settings.local_model {
        let server = crate::local::LocalServer::start()
            .await
            .context("starting the local model")?;
        settings.runner.provider.base_url = server.url().to_string();
        Some(server)
    } else {
        None
    };
    let (runner, store) = runner(cli, set, &settings.runner).await?;
    let summary = run_scope(&runner, &store, &settings.run, &settings.runner).await?;
    let run_id = summary.run.id;
    let reports = store.run_reports(run_id).await?;
    print!("{}", render_demo_totals(&summary, &reports));
    // The measure that matters: jobs ending with a passing draft that proves two figures.
    let mut useful = 0;
    for job in &summary.jobs {
        let Some(id) = job
            .draft_id
            .filter(|_| job.status == JobStatus::NeedsReview)
        else {
            continue;
        };
        if let Some(draft) = store.draft_row(id).await? {
            let report = Report::from_json(&draft.report).ok();
            if draft.pass && report.is_some_and(|r| proven_figures(&r) >= 2) {
                useful += 1;
            }
        }
    }
    println!(
        "jobs ending with a passing draft that quotes two proven figures or more: {useful} of {}",
        summary.jobs.len()
    );
    // The site's files: approved text only, so empty until a reviewer approves something.
    let out = settings.export_dir.as_path();
    let exported = crate::export::export(&store, out, crate::export::StalePolicy::Keep)
        .await
        .with_context(|| format!("exporting to {}", out.display()))?;
    println!(
        "drafts are in {}; see them with `narrator runs show {run_id}`, review them with \
         `narrator review queue` and `narrator review claim --as NAME`",
        settings.runner.database_url
    );
    println!(
        "export: {} approved section(s) for {} area(s) in {}",
        exported.sections,
        exported.areas,
        out.display()
    );
    review_page_for_demo(&store, &runner, settings.review_page).await?;
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

/// The end of the demo: a reviewer to sign in as (made the first time, its token printed once)
/// and, in a terminal, the review page until Ctrl-C; elsewhere (CI, scripts) how to start it.
async fn review_page_for_demo(
    store: &Store,
    runner: &Arc<Runner>,
    review_page: Option<std::net::SocketAddr>,
) -> Result<()> {
    const REVIEWER: &str = "reviewer";
    let token = if store.users().await?.iter().any(|u| u.name == REVIEWER) {
        None
    } else {
        let issued = crate::web::issue_token();
        store
            .add_user(REVIEWER, "reviewer", &issued.token_id, &issued.hash)
            .await?;
        Some(issued.token)
    };
    let sign_in = match &token {
        Some(t) => format!("sign in with the reviewer token {t} (shown only now)"),
        None => format!(
            "sign in with the token printed the first time, or get a new one with `narrator users token {REVIEWER}`"
        ),
    };
    let Some(addr) = review_page else {
        println!("review page: start it with `narrator serve` and {sign_in}");
        return Ok(());
    };
    println!("review page: {sign_in}; Ctrl-C stops it");
    let state = crate::web::AppState::new(
        store.clone(),
        runner.shared_facts(),
        crate::review::ReviewSettings::default(),
        Some(Arc::clone(runner)),
        10.0,
    );
    crate::web::serve(state, addr, crate::web::Limits::default())
        .await
        .with_context(|| format!("serving the review page on {addr}"))
}

/// Supported and derived figures in a report.
fn proven_figures(report: &Report) -> usize {
    report.count(Verdict::Supported) + report.count(Verdict::Derived)
}

/// Pass rate and flagged figures by verdict over every draft of the run.
fn render_demo_totals(s: &RunSummary, reports: &[String]) -> String {
    let mut by_verdict: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    let mut passed = 0;
    let mut passed_without_figures = 0;
    let mut passed_with_two = 0;
    // A report that does not read was not written by this narrator: it counts as a draft only.
    for r in reports.iter().filter_map(|r| Report::from_json(r).ok()) {
        if r.pass {
            passed += 1;
            // A text with no figure passes trivially: say how often that happened.
            let proven = proven_figures(&r);
            if proven == 0 {
                passed_without_figures += 1;
            }
            if proven >= 2 {
                passed_with_two += 1;
            }
        }
        for m in r.flagged() {
            *by_verdict.entry(m.verdict.name()).or_default() += 1;
        }
    }
    let jobs = s.jobs.len().max(1);
    let ok = s
        .jobs
        .iter()
        .filter(|j| matches!(j.status, JobStatus::NeedsReview | JobStatus::Skipped))
        .count();
    let flagged: Vec<String> = by_verdict.iter().map(|(k, v)| format!("{v} {k}")).collect();
    format!(
        "drafts: {} written, {passed} passed the check ({passed_without_figures} of them quote no figure, {passed_with_two} quote two proven figures or more); jobs passing: {ok} of {} ({:.0}%); flagged figures: {}\n",
        reports.len(),
        s.jobs.len(),
        ok as f64 * 100.0 / jobs as f64,
        if flagged.is_empty() { "none".to_string() } else { flagged.join(", ") }
    )
}
