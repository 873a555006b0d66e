//! Dispatch: each subcommand to the function that does it, given its parsed flags. Each does
//! its work, prints to stdout and returns the exit code (0 ok, 1 the data or text failed a
//! check); an `Err` is a usage or input error (exit 2, printed by `main`).

mod bench;
mod check;
mod console;
mod facts;
mod prompt;
mod review;
mod run;
mod startup;
mod store;
mod web;

use crate::cli::{Cli, Command, FactsCommand, RunsCommand, StoreCommand};
use anyhow::Result;
use startup::runtime;
use std::process::ExitCode;

pub fn run(cli: Cli) -> Result<ExitCode> {
    match &cli.command {
        Command::Facts(FactsCommand::Check) => facts::check(&cli),
        Command::Facts(FactsCommand::Show(args)) => facts::show(&cli, args),
        Command::Facts(FactsCommand::Import(args)) => facts::import(&cli, args),
        Command::Synth(args) => facts::synth(&cli, args),
        Command::Prompt(args) => prompt::prompt(&cli, args),
        Command::Render(args) => prompt::render(&cli, args),
        Command::Check(args) => check::check_text(&cli, args),
        Command::EvalChecker(args) => check::eval_checker(&cli, args),
        Command::Run(args) => runtime()?.block_on(run::run(&cli, args)),
        Command::Worker(args) => runtime()?.block_on(run::worker(&cli, args)),
        Command::Demo(args) => runtime()?.block_on(run::demo(&cli, args)),
        Command::Runs(RunsCommand::List { limit, database }) => {
            runtime()?.block_on(run::list(&database.database_url, *limit))
        }
        Command::Runs(RunsCommand::Show {
            id,
            format,
            database,
        }) => runtime()?.block_on(run::show(&database.database_url, *id, *format)),
        Command::Review(command) => runtime()?.block_on(review::review(&cli, command)),
        Command::Feedback(args) => runtime()?.block_on(review::feedback(&cli, args)),
        Command::Export(args) => runtime()?.block_on(review::export_files(&cli, args)),
        Command::Serve(args) => runtime()?.block_on(web::serve(&cli, args)),
        Command::Users(command) => runtime()?.block_on(web::users(command)),
        Command::Store(StoreCommand::Verify { format, database }) => {
            runtime()?.block_on(store::verify(&database.database_url, *format))
        }
        Command::Bench(command) => bench::bench(&cli, command),
        Command::MockProvider(args) => runtime()?.block_on(bench::mock_provider(args)),
    }
}
