//! What commands do before their work: the async runtime, the facts loaded, the store and the
//! review desk opened (published text re-checked first), the runner built, its metrics
//! served, Ctrl-C handled.

use crate::config::RunnerSettings;
use crate::facts::{self, FactSet};
use crate::prompt::Prompter;
use crate::provider::Provider;
use crate::review::{Desk, ReviewSettings, StaleSummary};
use crate::run::Runner;
use crate::store::Store;
use anyhow::{Context, Result};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// The data contract in `data`, or why it cannot be loaded.
pub fn load(data: &Path) -> Result<FactSet> {
    facts::load(data).with_context(|| format!("loading the data in {}", data.display()))
}

pub async fn open_store(url: &str) -> Result<Store> {
    // A SQLite file's folder is made on first use.
    if let Some(path) = url.strip_prefix("sqlite://") {
        let path = path.split('?').next().unwrap_or(path);
        if let Some(dir) = Path::new(path)
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
    }
    Store::connect(url).await.context("opening the database")
}

/// The review desk over `store` and `set`, once published text has been re-checked against
/// `set`; what changed is said on standard error.
pub async fn open_desk<'a>(
    store: &'a Store,
    set: &'a FactSet,
    settings: ReviewSettings,
) -> Result<(Desk<'a>, StaleSummary)> {
    let (desk, summary) = Desk::open(store, set, settings)
        .await
        .context("re-checking published text against the current facts")?;
    if !summary.newly_stale.is_empty() {
        eprintln!(
            "the facts changed: {} published version(s) no longer pass and are now stale ({}); \
             regeneration queued in run(s) {}",
            summary.newly_stale.len(),
            join(&summary.newly_stale),
            join(&summary.runs)
        );
    }
    if !summary.fresh_again.is_empty() {
        eprintln!(
            "{} stale version(s) pass against the current facts again ({})",
            summary.fresh_again.len(),
            join(&summary.fresh_again)
        );
    }
    Ok((desk, summary))
}

fn join(ids: &[i64]) -> String {
    ids.iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A runner over `set` with these settings, and its store; published text is re-checked
/// against `set` first.
pub async fn build_runner(
    prompts: &Path,
    set: FactSet,
    settings: &RunnerSettings,
) -> Result<(Arc<Runner>, Store)> {
    let prompter = Prompter::new(prompts)?;
    let provider = Provider::new(settings.provider.clone()).context("setting up the provider")?;
    let store = open_store(&settings.database_url).await?;
    open_desk(&store, &set, ReviewSettings::default()).await?;
    Ok((
        Runner::new(
            store.clone(),
            set,
            prompter,
            provider,
            settings.options.clone(),
        ),
        store,
    ))
}

/// Serves the runner's metrics at `addr` until the process ends (`--metrics-addr`), saying
/// where on standard error. A worker lives until stopped, so its last job's counts stay there
/// to be scraped; `run` ends with its run, so a scrape interval may miss its last jobs.
pub async fn serve_metrics(addr: std::net::SocketAddr, runner: &Arc<Runner>) -> Result<()> {
    let bound = crate::metrics::listen(addr, Arc::clone(runner))
        .await
        .with_context(|| format!("serving metrics on --metrics-addr {addr}"))?;
    eprintln!("metrics at http://{bound}/metrics");
    Ok(())
}

/// Ctrl-C: stop claiming jobs and let the ones in flight finish; a second Ctrl-C exits at
/// once (leases expire and the next run or worker takes those jobs back).
pub fn stop_on_ctrl_c(stop: Arc<AtomicBool>) {
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("stopping: finishing the requests in flight (Ctrl-C again to quit now)");
            stop.store(true, Ordering::SeqCst);
            if tokio::signal::ctrl_c().await.is_ok() {
                crate::local::kill_local_server();
                std::process::exit(130);
            }
        }
    });
}
