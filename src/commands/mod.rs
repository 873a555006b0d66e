//! What each subcommand does, given parsed flags; prints to stdout and returns the exit code.

mod bench;
mod review;
mod web;

use crate::check;
use crate::cli::{
    CheckArgs, CheckFormat, Cli, Command, EvalArgs, FactsCommand, PromptArgs, PromptFormat,
    RenderArgs, ShowArgs,
};
use crate::cli::{RunArgs, RunsCommand};
use crate::eval;
use crate::facts::{self, FactRow, FactSet, LoadError};
use crate::prompt::Prompter;
use crate::provider::Provider;
use crate::run::{RunSummary, Runner, Scope};
use crate::store::Store;
use anyhow::{Context, Result};
use std::fmt::Write as _;
use std::process::ExitCode;

pub fn run(cli: Cli) -> Result<ExitCode> {
    match &cli.command {
        Command::Facts(FactsCommand::Check) => facts_check(&cli),
        Command::Facts(FactsCommand::Show(args)) => facts_show(&cli, args),
        Command::Facts(FactsCommand::Import(args)) => facts_import(&cli, args),
        Command::Prompt(args) => prompt(&cli, args),
        Command::Render(args) => render(&cli, args),
        Command::Check(args) => check_text(&cli, args),
        Command::EvalChecker(args) => eval_checker(&cli, args),
        Command::Run(args) => runtime()?.block_on(run_jobs(&cli, args)),
        Command::Worker(args) => runtime()?.block_on(worker(&cli, args)),
        Command::Demo(args) => runtime()?.block_on(demo(&cli, args)),
        Command::Runs(RunsCommand::List { limit, database }) => {
            runtime()?.block_on(runs_list(&database.database_url, *limit))
        }
        Command::Runs(RunsCommand::Show {
            id,
            format,
            database,
        }) => runtime()?.block_on(runs_show(&database.database_url, *id, *format)),
        Command::Review(command) => runtime()?.block_on(review::review(&cli, command)),
        Command::Feedback(args) => runtime()?.block_on(review::feedback(&cli, args)),
        Command::Export(args) => runtime()?.block_on(review::export_files(&cli, args)),
        Command::Serve(args) => runtime()?.block_on(web::serve(&cli, args)),
        Command::Synth(args) => synth(&cli, args),
        Command::Bench(command) => bench::bench(&cli, command),
        Command::MockProvider(args) => runtime()?.block_on(mock_provider(args)),
        Command::Store(crate::cli::StoreCommand::Verify { format, database }) => {
            runtime()?.block_on(store_verify(&database.database_url, *format))
        }
        Command::Users(command) => runtime()?.block_on(web::users(command)),
    }
}

async fn store_verify(url: &str, format: CheckFormat) -> Result<ExitCode> {
    let store = open_store(url).await?;
    let v = store.verify().await.context("verifying the store")?;
    store.close().await;
    match format {
        CheckFormat::Json => print_json(&v)?,
        CheckFormat::Text => {
            for p in &v.problems {
                println!("{p}");
            }
            println!(
                "{}: {} runs, {} jobs, {} drafts, {} versions checked; {} problem(s)",
                if v.problems.is_empty() {
                    "ok"
                } else {
                    "BROKEN"
                },
                v.runs,
                v.jobs,
                v.drafts,
                v.versions,
                v.problems.len()
            );
        }
    }
    Ok(if v.problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

async fn mock_provider(args: &crate::cli::MockArgs) -> Result<ExitCode> {
    let rates = [
        args.server_errors,
        args.timeouts,
        args.malformed,
        args.truncated,
        args.wrong_figures,
    ];
    if rates.iter().any(|r| !(0.0..=1.0).contains(r)) || rates[..4].iter().sum::<f64>() > 1.0 {
        anyhow::bail!(
            "fault rates must be from 0 to 1, and the first four may not add up to more than 1"
        );
    }
    if !(args.rpm > 0.0 && args.tpm > 0.0 && args.bucket_secs > 0.0) {
        anyhow::bail!("--rpm, --tpm and --bucket-secs must be above zero");
    }
    if !(args.drop_to > 0.0 && args.drop_to <= 1.0)
        || args
            .drop_after_secs
            .is_some_and(|s| !(s >= 0.0 && s.is_finite()))
    {
        anyhow::bail!("--drop-to must be above 0 and at most 1, --drop-after-secs 0 or more");
    }
    let settings = crate::mock::MockSettings {
        latency: std::time::Duration::from_millis(args.latency_ms),
        jitter: std::time::Duration::from_millis(args.jitter_ms),
        requests_per_minute: args.rpm,
        tokens_per_minute: args.tpm,
        bucket_secs: args.bucket_secs,
        retry_after: args.retry_after,
        server_error_rate: args.server_errors,
        timeout_rate: args.timeouts,
        malformed_rate: args.malformed,
        truncate_rate: args.truncated,
        wrong_figure_rate: args.wrong_figures,
        limit_drop: args
            .drop_after_secs
            .map(|secs| (std::time::Duration::from_secs_f64(secs), args.drop_to)),
        refuse_structured: args.refuse_structured,
        seed: args.seed,
    };
    let mock = crate::mock::MockProvider::start(settings, args.addr)
        .await
        .with_context(|| format!("listening on {}", args.addr))?;
    println!(
        "mock provider listening on {} (stats at {}/../stats); Ctrl-C stops it",
        mock.url, mock.url
    );
    mock.wait().await;
    Ok(ExitCode::SUCCESS)
}

fn synth(cli: &Cli, args: &crate::cli::SynthArgs) -> Result<ExitCode> {
    let set = load(cli)?;
    let made = facts::synth::write(&set, &cli.data, &args.out, args.areas, args.seed)
        .with_context(|| format!("writing synthetic data to {}", args.out.display()))?;
    println!(
        "{} synthetic councils with {} facts written to {} (seed {}); use it with --data {}",
        made.areas,
        made.facts,
        args.out.display(),
        args.seed,
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn print_json<T: serde::Serialize>(value: &T) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

fn load(cli: &Cli) -> Result<FactSet> {
    facts::load(&cli.data).with_context(|| format!("loading the data in {}", cli.data.display()))
}

fn facts_check(cli: &Cli) -> Result<ExitCode> {
    match facts::load(&cli.data) {
        Ok(set) => {
            println!(
                "{}: ok: {} areas, {} metrics, {} sections, {} facts",
                cli.data.display(),
                set.areas().len(),
                set.metrics().count(),
                set.sections().len(),
                set.facts().len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(LoadError::Invalid(problems)) => {
            for p in &problems {
                eprintln!("{p}");
            }
            eprintln!("{} problem(s) found; nothing was written", problems.len());
            Ok(ExitCode::from(1))
        }
        Err(e) => Err(e).with_context(|| format!("checking {}", cli.data.display())),
    }
}

fn facts_import(cli: &Cli, args: &crate::cli::ImportArgs) -> Result<ExitCode> {
    match crate::import::import(&cli.data, &args.mapping, &args.input) {
        Ok(report) => {
            for note in &report.notes {
                println!("{note}");
            }
            let r = &report.revisions;
            println!(
                "against the data before: {} value(s) revised, {} added, {} removed",
                r.revised.len(),
                r.added,
                r.removed
            );
            // Enough to read what a refresh revised; the rest is in `git diff data/`.
            const SHOWN: usize = 20;
            for (area, metric, period, was, now) in r.revised.iter().take(SHOWN) {
                println!("  revised {area} {metric} {period}: {was} -> {now}");
            }
            if r.revised.len() > SHOWN {
                println!(
                    "  and {} more (git diff data/ shows them all)",
                    r.revised.len() - SHOWN
                );
            }
            for path in &report.changed {
                println!("wrote {}", path.display());
            }
            for path in &report.unchanged {
                println!("unchanged {}", path.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(crate::import::ImportError::Invalid(problems)) => {
            for p in &problems {
                eprintln!("{p}");
            }
            eprintln!("{} problem(s) found; nothing was written", problems.len());
            Ok(ExitCode::from(1))
        }
        Err(e) => Err(e).with_context(|| format!("importing {}", args.input.display())),
    }
}

fn facts_show(cli: &Cli, args: &ShowArgs) -> Result<ExitCode> {
    let set = load(cli)?;
    let area = set.find_area(&args.area).map_err(anyhow::Error::msg)?;
    let sections = match &args.section {
        Some(id) => vec![set.find_section(id).map_err(anyhow::Error::msg)?],
        None => set.sections_for(area),
    };
    let mut out = String::new();
    writeln!(out, "{} ({})", area.name(), area.code())?;
    for section in sections {
        let view = set.section_facts(area, section);
        writeln!(out, "\n## {} ({})", section.title(), section.id())?;
        out.push_str(&table(view.rows()));
        // Where the council stands among other councils, with how each figure was computed.
        let compared: Vec<&FactRow> = view.rows().iter().filter(|r| !r.peers.is_empty()).collect();
        if !compared.is_empty() {
            writeln!(
                out,
                "\ncompared with other councils (computed by narrator):"
            )?;
            for r in compared {
                for p in &r.peers {
                    writeln!(
                        out,
                        "  {} {}: {}: median {}, {}; {}",
                        r.metric,
                        r.period_spelled,
                        p.name,
                        p.median_display,
                        p.rank_words,
                        p.derivation
                    )?;
                }
            }
        }
        if !view.context().is_empty() {
            writeln!(out, "\ncontext:")?;
            out.push_str(&table(view.context()));
        }
    }
    print!("{out}");
    Ok(ExitCode::SUCCESS)
}

/// A plain-text table with aligned columns.
fn table(rows: &[FactRow]) -> String {
    let header = ["metric", "period", "value", "England", "region", "source"];
    let mut cells: Vec<[String; 6]> = vec![header.map(str::to_string)];
    for r in rows {
        let cmp = |c: &Option<facts::ComparatorValue>| {
            c.as_ref().map_or(String::from("-"), |c| c.display.clone())
        };
        cells.push([
            r.metric.to_string(),
            r.period_spelled.clone(),
            r.display.clone(),
            cmp(&r.england),
            cmp(&r.region),
            r.source.clone(),
        ]);
    }
    let widths: Vec<usize> = (0..6)
        .map(|i| {
            cells
                .iter()
                .map(|c| c[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in &cells {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

fn prompt(cli: &Cli, args: &PromptArgs) -> Result<ExitCode> {
    let set = load(cli)?;
    let area = set.find_area(&args.area).map_err(anyhow::Error::msg)?;
    let section = set
        .find_section(&args.section)
        .map_err(anyhow::Error::msg)?;
    let prompter = Prompter::new(&cli.prompts)?;
    let view = set.section_facts(area, section);
    let messages = prompter
        .render_with(&view, args.strategy)
        .with_context(|| format!("rendering the {} prompt for {}", section.id(), area.name()))?;
    match args.format {
        PromptFormat::Text => print!("{}", messages.to_text()),
        PromptFormat::Json => println!("{}", messages.to_chat_json()),
    }
    Ok(ExitCode::SUCCESS)
}

fn render(cli: &Cli, args: &RenderArgs) -> Result<ExitCode> {
    let set = load(cli)?;
    let prompter = Prompter::new(&cli.prompts)?;
    let mut rendered = Vec::new();
    for area in set.councils() {
        for section in set.sections_for(area) {
            let view = set.section_facts(area, section);
            let messages = prompter.render(&view).with_context(|| {
                format!("rendering the {} prompt for {}", section.id(), area.name())
            })?;
            rendered.push((area, section, view, messages));
        }
    }
    // Write only after every prompt rendered, so a failure leaves no half-written folder.
    if let Some(out) = &args.out {
        for (area, section, _, messages) in &rendered {
            let dir = out.join(area.code().as_str());
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            let path = dir.join(format!("{}.txt", section.id()));
            std::fs::write(&path, messages.to_text())
                .with_context(|| format!("writing {}", path.display()))?;
        }
    }
    println!(
        "{:<32} {:<16} {:<12} {:<12} facts",
        "area", "section", "facts fp", "prompt fp"
    );
    for (area, section, view, messages) in &rendered {
        println!(
            "{:<32} {:<16} {:<12} {:<12} {}",
            area.name(),
            section.id(),
            &view.fingerprint()[..12],
            &messages.fingerprint()[..12],
            view.rows().len()
        );
    }
    println!(
        "{} prompts rendered from {} facts",
        rendered.len(),
        set.facts().len()
    );
    if let Some(out) = &args.out {
        println!("written under {}", out.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn check_text(cli: &Cli, args: &CheckArgs) -> Result<ExitCode> {
    let set = load(cli)?;
    let area = set.find_area(&args.area).map_err(anyhow::Error::msg)?;
    let section = set
        .find_section(&args.section)
        .map_err(anyhow::Error::msg)?;
    let text = match args.file.as_deref() {
        None => read_stdin()?,
        Some(p) if p.as_os_str() == "-" => read_stdin()?,
        Some(p) => {
            std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?
        }
    };
    if let Some(why) = check::not_prose(&text) {
        // Judging each table cell as a sentence gives reasons that make no sense.
        match args.format {
            CheckFormat::Text => println!("FAIL: not a narrative: {why}"),
            CheckFormat::Json => println!(
                "{}",
                serde_json::json!({ "pass": false, "not_prose": why.to_string() })
            ),
        }
        return Ok(ExitCode::from(1));
    }
    let report = check::check(&text, &set.section_facts(area, section));
    match args.format {
        CheckFormat::Text => print!("{}", report.render_text(&text)),
        CheckFormat::Json => println!("{}", report.to_json()),
    }
    Ok(if report.pass {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn read_stdin() -> Result<String> {
    let mut text = String::new();
    std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
        .context("reading standard input")?;
    Ok(text)
}

fn eval_checker(cli: &Cli, args: &EvalArgs) -> Result<ExitCode> {
    let set = load(cli)?;
    if args.corpus {
        let pages = eval::load_pages(&args.annotations)?;
        if args.draft {
            for page in &pages {
                print!("{}", eval::draft_annotation(&set, page, &args.seeds)?);
            }
            return Ok(ExitCode::SUCCESS);
        }
        let mut summary = eval::evaluate_corpus(&set, &pages, &args.seeds)
            .context("evaluating the checker on the seed pages")?;
        summary.show_all = args.show_escapes;
        print!("{}", summary.render());
        return Ok(if summary.meets_targets() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        });
    }
    let cases = eval::load_cases(&args.cases)
        .with_context(|| format!("reading cases in {}", args.cases.display()))?;
    let mut summary = eval::evaluate(&set, &cases).context("evaluating the checker")?;
    summary.show_all_escapes = args.show_escapes;
    print!("{}", summary.render());
    Ok(if summary.meets_targets() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

async fn open_store(url: &str) -> Result<Store> {
    // A SQLite file's folder is made on first use.
    if let Some(path) = url.strip_prefix("sqlite://") {
        let path = path.split('?').next().unwrap_or(path);
        if let Some(dir) = std::path::Path::new(path)
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
    }
    Store::connect(url).await.context("opening the database")
}

/// The runner a `run` or `worker` command works with, and its store.
async fn runner(cli: &Cli, args: &RunArgs) -> Result<(std::sync::Arc<Runner>, Store)> {
    let set = load(cli)?;
    let started_by = args
        .started_by
        .clone()
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "editor".to_string());
    let (runner, store) = build_runner(cli, set, &args.runner, &started_by, args.force).await?;
    stop_on_ctrl_c(runner.stop_flag());
    Ok((runner, store))
}

/// A runner over `set` with these settings; published text is re-checked against `set` first.
async fn build_runner(
    cli: &Cli,
    set: FactSet,
    args: &crate::cli::RunnerArgs,
    started_by: &str,
    force: bool,
) -> Result<(std::sync::Arc<Runner>, Store)> {
    let prompter = Prompter::new(&cli.prompts)?;
    let provider = Provider::new(crate::config::provider_settings(&args.provider)?)
        .context("setting up the provider")?;
    let options = crate::config::run_options(args, started_by, force)?;
    let store = open_store(&args.database.database_url).await?;
    review::refresh_before_run(&store, &set).await?;
    Ok((
        Runner::new(store.clone(), set, prompter, provider, options),
        store,
    ))
}

/// Ctrl-C: stop claiming jobs and let the ones in flight finish; a second Ctrl-C exits at
/// once (leases expire and the next run or worker takes those jobs back).
fn stop_on_ctrl_c(stop: std::sync::Arc<std::sync::atomic::AtomicBool>) {
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("stopping: finishing the requests in flight (Ctrl-C again to quit now)");
            stop.store(true, std::sync::atomic::Ordering::SeqCst);
            if tokio::signal::ctrl_c().await.is_ok() {
                crate::local::kill_local_server();
                std::process::exit(130);
            }
        }
    });
}

async fn worker(cli: &Cli, args: &crate::cli::WorkerArgs) -> Result<ExitCode> {
    let (runner, store) = runner(cli, &args.run).await?;
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

async fn run_jobs(cli: &Cli, args: &RunArgs) -> Result<ExitCode> {
    let (runner, store) = runner(cli, args).await?;
    let summary = run_scope(&runner, &store, args).await?;
    store.close().await;
    let failed = summary
        .jobs
        .iter()
        .any(|j| j.status == "failed" || j.status == "failed_checks");
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Creates or resumes the run of the flags' scope, works it, and prints its summary table.
async fn run_scope(
    runner: &std::sync::Arc<Runner>,
    store: &Store,
    args: &RunArgs,
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
        args.runner.provider.model,
        args.runner.provider.base_url
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

async fn runs_list(url: &str, limit: i64) -> Result<ExitCode> {
    let store = open_store(url).await?;
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

async fn runs_show(url: &str, id: i64, format: CheckFormat) -> Result<ExitCode> {
    let store = open_store(url).await?;
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

async fn demo(cli: &Cli, args: &RunArgs) -> Result<ExitCode> {
    let set = load(cli)?;
    eprintln!(
        "data: {} councils, {} sections, {} facts: valid",
        set.councils().count(),
        set.sections().len(),
        set.facts().len()
    );
    let mut args = args.clone();
    // The seed councils, not all of England: on the local model each job takes about a
    // minute, and about 150 councils have the national section.
    if args.areas.is_empty() {
        args.areas = set.seed_councils().map(|a| a.code().to_string()).collect();
    }
    // Another endpoint named in the environment replaces the local model.
    let _local = if std::env::var_os("NARRATOR_BASE_URL").is_none() {
        let server = crate::local::LocalServer::start()
            .await
            .context("starting the local model")?;
        args.runner.provider.base_url = server.url().to_string();
        // llama.cpp's server takes a grammar.
        args.runner
            .provider
            .structured
            .get_or_insert(crate::prompt::Structured::Grammar);
        // llama.cpp's server answers one request at a time on two cores: queueing more only
        // turns waits into timeouts.
        args.runner.concurrency = 1;
        Some(server)
    } else {
        None
    };
    let (runner, store) = runner(cli, &args).await?;
    let summary = run_scope(&runner, &store, &args).await?;
    let run_id = summary.run.id;
    let reports = store.run_reports(run_id).await?;
    print!("{}", render_demo_totals(&summary, &reports));
    // The measure that matters: jobs ending with a passing draft that proves two figures.
    let mut useful = 0;
    for job in &summary.jobs {
        let Some(id) = job.draft_id.filter(|_| job.status == "needs_review") else {
            continue;
        };
        if let Some(draft) = store.draft_row(id).await?.filter(|d| d.pass) {
            if proven_figures(&draft.report) >= 2 {
                useful += 1;
            }
        }
    }
    println!(
        "jobs ending with a passing draft that quotes two proven figures or more: {useful} of {}",
        summary.jobs.len()
    );
    // The site's files: approved text only, so empty until a reviewer approves something.
    let out = std::path::PathBuf::from(
        std::env::var_os("NARRATOR_EXPORT").unwrap_or_else(|| ".narrator/export".into()),
    );
    let out = out.as_path();
    let exported = crate::export::export(&store, out, crate::export::StalePolicy::Keep)
        .await
        .with_context(|| format!("exporting to {}", out.display()))?;
    println!(
        "drafts are in {}; see them with `narrator runs show {run_id}`, review them with \
         `narrator review queue` and `narrator review claim --as NAME`",
        args.runner.database.database_url
    );
    println!(
        "export: {} approved section(s) for {} area(s) in {}",
        exported.sections,
        exported.areas,
        out.display()
    );
    review_page_for_demo(&store, &runner).await?;
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

/// The end of the demo: a reviewer to sign in as (made the first time, its token printed once)
/// and, in a terminal, the review page until Ctrl-C; elsewhere (CI, scripts) how to start it.
async fn review_page_for_demo(store: &Store, runner: &std::sync::Arc<Runner>) -> Result<()> {
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
    let interactive =
        std::io::IsTerminal::is_terminal(&std::io::stdout()) && std::env::var_os("CI").is_none();
    if !interactive {
        println!("review page: start it with `narrator serve` and {sign_in}");
        return Ok(());
    }
    let addr: std::net::SocketAddr = std::env::var("NARRATOR_ADDR")
        .unwrap_or_else(|_| "127.0.0.1:8080".to_string())
        .parse()
        .context("NARRATOR_ADDR must be an address like 127.0.0.1:8080")?;
    println!("review page: {sign_in}; Ctrl-C stops it");
    let state = crate::web::AppState::new(
        store.clone(),
        runner.shared_facts(),
        crate::review::ReviewSettings::default(),
        Some(std::sync::Arc::clone(runner)),
        10.0,
    );
    crate::web::serve(state, addr, crate::web::Limits::default())
        .await
        .with_context(|| format!("serving the review page on {addr}"))
}

/// Pass rate and flagged figures by verdict over every draft of the run.
/// Supported and derived figures in a report's JSON.
fn proven_figures(report: &str) -> usize {
    serde_json::from_str::<serde_json::Value>(report)
        .ok()
        .and_then(|v| v["mentions"].as_array().cloned())
        .into_iter()
        .flatten()
        .filter(|m| matches!(m["verdict"].as_str(), Some("supported" | "derived")))
        .count()
}

fn render_demo_totals(s: &RunSummary, reports: &[String]) -> String {
    let mut by_verdict: std::collections::BTreeMap<String, usize> =
        std::collections::BTreeMap::new();
    let mut passed = 0;
    let mut passed_without_figures = 0;
    let mut passed_with_two = 0;
    for r in reports {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(r) else {
            continue;
        };
        if v["pass"] == true {
            passed += 1;
            // A text with no figure passes trivially: say how often that happened.
            let proven = proven_figures(r);
            if proven == 0 {
                passed_without_figures += 1;
            }
            if proven >= 2 {
                passed_with_two += 1;
            }
        }
        for m in v["mentions"].as_array().into_iter().flatten() {
            let verdict = m["verdict"].as_str().unwrap_or("?");
            if matches!(
                verdict,
                "unsupported" | "misattributed" | "wrong_period" | "wrong_direction"
            ) {
                *by_verdict.entry(verdict.to_string()).or_default() += 1;
            }
        }
    }
    let jobs = s.jobs.len().max(1);
    let ok = s
        .jobs
        .iter()
        .filter(|j| j.status == "needs_review" || j.status == "skipped")
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
