use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = narrator::cli::Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("NARRATOR_LOG"))
        .with_writer(std::io::stderr)
        .init();
    match narrator::commands::run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}
