//! Command-line flags as parsed by clap: raw values only, no I/O.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Writes the explanatory text on council adult social care pages, and proves every number in it.
#[derive(Debug, Parser)]
#[command(name = "narrator", version, about, long_about = None)]
pub struct Cli {
    /// Folder holding the data contract: areas.csv, metrics.toml, sections.toml and facts/*.csv.
    #[arg(long, global = true, env = "NARRATOR_DATA", default_value = "data")]
    pub data: PathBuf,

    /// Folder holding the minijinja prompt templates.
    #[arg(
        long,
        global = true,
        env = "NARRATOR_PROMPTS",
        default_value = "prompts"
    )]
    pub prompts: PathBuf,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate or inspect the facts in the data folder.
    #[command(subcommand)]
    Facts(FactsCommand),

    /// Print the chat messages narrator would send for one council and section.
    Prompt(PromptArgs),

    /// Validate the data and render every council's prompts, printing a summary with fingerprints.
    Render(RenderArgs),

    /// Check every figure in a narrative against one council's and section's facts.
    /// Exit 0 when it passes, 1 when any figure is flagged, 2 on a usage or input error.
    Check(CheckArgs),

    /// Mutate every passing golden narrative and print how many mutants the checker catches.
    EvalChecker(EvalArgs),
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Council, by ONS code or name, any case.
    #[arg(long)]
    pub area: String,

    /// Section id from sections.toml.
    #[arg(long)]
    pub section: String,

    /// The narrative to check; `-` or nothing reads standard input.
    pub file: Option<PathBuf>,

    /// `text` shows each flagged sentence with a caret under the figure; `json` is the full report.
    #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
    pub format: CheckFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CheckFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Folder of golden check cases (`<area code>/<case>.txt`).
    #[arg(long, default_value = "golden/check")]
    pub cases: PathBuf,

    /// List every escaped mutant, not just the first ten.
    #[arg(long)]
    pub show_escapes: bool,
}

#[derive(Debug, Subcommand)]
pub enum FactsCommand {
    /// Validate every data file; print each problem as file:line:column and exit 1 if any.
    /// Reads only: writes nothing anywhere.
    Check,

    /// Print a council's facts as a table, with England and regional comparators.
    Show(ShowArgs),
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Council, by ONS code (E06000022) or name ("Bath and North East Somerset"), any case.
    #[arg(long)]
    pub area: String,

    /// Only the facts one section's prompt receives (for example carers).
    #[arg(long)]
    pub section: Option<String>,
}

#[derive(Debug, Args)]
pub struct PromptArgs {
    /// Council, by ONS code or name, any case.
    #[arg(long)]
    pub area: String,

    /// Section id from sections.toml (working-age, older-people, carers, providers, quality,
    /// funding, cqc-assessment, annual-report).
    #[arg(long)]
    pub section: String,

    /// `text` for reading, `json` for an OpenAI-style messages array.
    #[arg(long, value_enum, default_value_t = PromptFormat::Text)]
    pub format: PromptFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PromptFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// Also write each rendered prompt to OUT/<area code>/<section>.txt.
    #[arg(long)]
    pub out: Option<PathBuf>,
}
