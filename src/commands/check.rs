//! The number checker's commands: `check` (one narrative against one council's and section's
//! facts) and `eval-checker` (the golden cases, the mutation harness and the seed-page corpus).

use super::console::read_stdin;
use super::startup;
use crate::check;
use crate::cli::{CheckArgs, CheckFormat, Cli, EvalArgs};
use crate::eval;
use anyhow::{Context, Result};
use std::process::ExitCode;

pub fn check_text(cli: &Cli, args: &CheckArgs) -> Result<ExitCode> {
    let set = startup::load(&cli.data)?;
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

pub fn eval_checker(cli: &Cli, args: &EvalArgs) -> Result<ExitCode> {
    let set = startup::load(&cli.data)?;
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
