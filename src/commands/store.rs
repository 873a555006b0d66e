//! `narrator store verify`: the store's invariants.

use super::console::print_json;
use super::startup;
use crate::cli::CheckFormat;
use anyhow::{Context, Result};
use std::process::ExitCode;

pub async fn verify(url: &str, format: CheckFormat) -> Result<ExitCode> {
    let store = startup::open_store(url).await?;
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
