//! `narrator bench`, the command-line face of `crate::bench`, and `narrator mock-provider`, the
//! stand-in provider it measures against.

use super::startup;
use crate::bench::{self, worker::WorkerSpec, Workspace};
use crate::cli::{BenchCommand, BenchWorkerArgs, Cli, MockArgs};
use crate::config;
use anyhow::{Context, Result};
use std::process::ExitCode;
use std::time::Duration;

pub fn bench(cli: &Cli, command: &BenchCommand) -> Result<ExitCode> {
    match command {
        BenchCommand::Run {
            scenario,
            jobs,
            no_baseline,
            burst,
            repeat,
            dir,
            json,
        } => run(
            cli,
            (scenario, jobs),
            (*no_baseline, burst, *repeat),
            dir,
            json.as_deref(),
        ),
        BenchCommand::Worker(args) => startup::runtime()?.block_on(worker(cli, args)),
        BenchCommand::Kill {
            jobs,
            kills,
            postgres,
            seed,
            dir,
        } => {
            let space = Workspace::prepare(&cli.data, &cli.prompts, dir, jobs + 10)?;
            let report = startup::runtime()?.block_on(bench::drill::kill_drill(
                &space,
                *jobs,
                *kills,
                postgres.as_deref(),
                *seed,
            ))?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            let problems = report.problems();
            for p in &problems {
                println!("BROKEN: {p}");
            }
            println!(
                "{}: {} jobs on {}, {} kills, {:.1} s, {} requests",
                if problems.is_empty() { "ok" } else { "BROKEN" },
                report.jobs,
                report.database,
                report.kills,
                report.wall_secs,
                report.requests
            );
            Ok(if problems.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        BenchCommand::Workers {
            jobs,
            workers,
            postgres,
            dir,
        } => {
            let space = Workspace::prepare(&cli.data, &cli.prompts, dir, *jobs)?;
            let rows = startup::runtime()?.block_on(bench::drill::workers_drill(
                &space,
                *jobs,
                workers,
                postgres.as_deref(),
            ))?;
            println!(
                "{:>7} {:>6} {:>8} {:>8} {:>8} {:>10} {:>6}  statuses",
                "workers", "jobs", "wall s", "jobs/s", "requests", "duplicates", "429s"
            );
            let mut broken = false;
            for r in &rows {
                println!(
                    "{:>7} {:>6} {:>8.2} {:>8.1} {:>8} {:>10} {:>6}  {:?}",
                    r.workers,
                    r.jobs,
                    r.wall_secs,
                    r.jobs_per_sec,
                    r.requests,
                    r.duplicates,
                    r.throttled,
                    r.statuses
                );
                for p in &r.verify_problems {
                    println!("BROKEN: {} workers: {p}", r.workers);
                }
                broken |= r.duplicates > 0 || !r.verify_problems.is_empty();
            }
            Ok(if broken {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
    }
}

fn run(
    cli: &Cli,
    (names, sizes): (&[String], &[usize]),
    (no_baseline, bursts, repeat): (bool, &[crate::provider::Burst], u32),
    dir: &std::path::Path,
    json: Option<&std::path::Path>,
) -> Result<ExitCode> {
    let chosen = bench::select(names, sizes)?;
    let most = chosen
        .iter()
        .flat_map(|(_, sizes)| sizes.iter().copied())
        .max()
        .unwrap_or(0);
    eprintln!(
        "preparing synthetic councils for {most} jobs under {}",
        dir.display()
    );
    let space = Workspace::prepare(&cli.data, &cli.prompts, dir, most)?;
    // Narrator with each burst asked for, then the baseline, in turn within each repeat.
    let mut who: Vec<(bool, crate::provider::Burst)> =
        bursts.iter().map(|&burst| (false, burst)).collect();
    if !no_baseline {
        who.push((true, crate::provider::Burst::default()));
    }
    let mut rows = Vec::new();
    for (scenario, sizes) in &chosen {
        for &n in sizes {
            for round in 1..=repeat {
                for &(naive, burst) in &who {
                    eprintln!(
                        "{} ({}), {n} jobs, {} (run {round} of {repeat})",
                        scenario.name,
                        scenario.about,
                        bench::who(naive, burst),
                    );
                    let measured = space
                        .measure(scenario, n, naive, burst)
                        .with_context(|| format!("scenario {} with {n} jobs", scenario.name))?;
                    eprint!("{}", bench::table(std::slice::from_ref(&measured)));
                    rows.push(measured);
                }
            }
        }
    }
    println!("{}", bench::table(&rows));
    if repeat > 1 {
        println!("{}", bench::summary(&rows));
    }
    if let Some(path) = json {
        std::fs::write(path, serde_json::to_string_pretty(&rows)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let broken = bench::broken_promises(&rows);
    for b in &broken {
        println!("BROKEN: {b}");
    }
    Ok(if broken.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

async fn worker(cli: &Cli, args: &BenchWorkerArgs) -> Result<ExitCode> {
    let set = startup::load(&cli.data)?;
    let spec = WorkerSpec {
        prompts: cli.prompts.clone(),
        database_url: args.database_url.clone(),
        base_url: args.base_url.clone(),
        jobs: args.jobs,
        limits: bench::limits(args.concurrency, args.rpm, args.tpm, args.burst),
        max_tokens: bench::MAX_TOKENS,
        naive: args.naive,
        deadline: args.deadline_secs.map(Duration::from_secs),
    };
    let report = bench::worker::measure(set, &spec).await?;
    println!("{}", serde_json::to_string(&report)?);
    Ok(ExitCode::SUCCESS)
}

pub async fn mock_provider(args: &MockArgs) -> Result<ExitCode> {
    let settings = config::mock_settings(args)?;
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
