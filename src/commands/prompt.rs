//! The prompt commands: `prompt` (one council's and section's messages) and `render` (every
//! council's prompts, with fingerprints).

use super::startup;
use crate::cli::{Cli, PromptArgs, PromptFormat, RenderArgs};
use crate::prompt::Prompter;
use anyhow::{Context, Result};
use std::process::ExitCode;

pub fn prompt(cli: &Cli, args: &PromptArgs) -> Result<ExitCode> {
    let set = startup::load(&cli.data)?;
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

pub fn render(cli: &Cli, args: &RenderArgs) -> Result<ExitCode> {
    let set = startup::load(&cli.data)?;
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
