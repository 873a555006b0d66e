//! What each subcommand does, given parsed flags; prints to stdout and returns the exit code.

use crate::check;
use crate::cli::{
    CheckArgs, CheckFormat, Cli, Command, EvalArgs, FactsCommand, PromptArgs, PromptFormat,
    RenderArgs, ShowArgs,
};
use crate::eval;
use crate::facts::{self, FactRow, FactSet, LoadError};
use crate::prompt::Prompter;
use anyhow::{Context, Result};
use std::fmt::Write as _;
use std::process::ExitCode;

pub fn run(cli: Cli) -> Result<ExitCode> {
    match &cli.command {
        Command::Facts(FactsCommand::Check) => facts_check(&cli),
        Command::Facts(FactsCommand::Show(args)) => facts_show(&cli, args),
        Command::Prompt(args) => prompt(&cli, args),
        Command::Render(args) => render(&cli, args),
        Command::Check(args) => check_text(&cli, args),
        Command::EvalChecker(args) => eval_checker(&cli, args),
    }
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
        .render(&view)
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
            rendered.push((area, section, view.fingerprint(), messages));
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
    for (area, section, facts_fp, messages) in &rendered {
        println!(
            "{:<32} {:<16} {:<12} {:<12} {}",
            area.name(),
            section.id(),
            &facts_fp[..12],
            &messages.fingerprint()[..12],
            set.section_facts(area, section).rows().len()
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
