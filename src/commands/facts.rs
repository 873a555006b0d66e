//! The data folder's commands: `facts check`, `facts show`, `facts import` and `synth`.

use super::startup;
use crate::cli::{Cli, ImportArgs, ShowArgs, SynthArgs};
use crate::facts::{self, FactRow, LoadError};
use anyhow::{Context, Result};
use std::fmt::Write as _;
use std::process::ExitCode;

pub fn check(cli: &Cli) -> Result<ExitCode> {
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

pub fn show(cli: &Cli, args: &ShowArgs) -> Result<ExitCode> {
    let set = startup::load(&cli.data)?;
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

pub fn import(cli: &Cli, args: &ImportArgs) -> Result<ExitCode> {
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

pub fn synth(cli: &Cli, args: &SynthArgs) -> Result<ExitCode> {
    let set = startup::load(&cli.data)?;
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
