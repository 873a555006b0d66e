//! Validated settings built from the raw flags; secrets stay wrapped.

use crate::cli::{ProviderArgs, RunnerArgs};
use crate::prompt::{Strategy, Structured};
use crate::provider::{Limits, ProviderSettings, RetryPolicy, Secret};
use crate::run::RunOptions;
use anyhow::{bail, Result};
use std::time::Duration;

pub fn provider_settings(args: &ProviderArgs) -> Result<ProviderSettings> {
    if !(args.base_url.starts_with("http://") || args.base_url.starts_with("https://")) {
        bail!(
            "--base-url must be an http:// or https:// URL, found {:?}",
            args.base_url
        );
    }
    if !(0.0..=2.0).contains(&args.temperature) {
        bail!(
            "--temperature must be between 0 and 2, found {}",
            args.temperature
        );
    }
    if args.max_tokens == 0 || args.timeout_secs == 0 {
        bail!("--max-tokens and --timeout-secs must be above zero");
    }
    let structured = args
        .structured
        .unwrap_or_else(|| Structured::default_for(&args.base_url));
    // The best measured strategy for the endpoint (README, "Prompt strategies").
    let strategy = args
        .strategy
        .unwrap_or(if structured == Structured::Grammar {
            Strategy::Constrained
        } else {
            Strategy::Focused
        });
    if strategy == Strategy::Constrained && structured == Structured::None {
        bail!(
            "--strategy constrained needs an endpoint that takes a constraint: --structured \
             grammar (llama.cpp) or json-schema (OpenAI, Ollama, vLLM); {} is not assumed to \
             take either",
            args.base_url
        );
    }
    Ok(ProviderSettings {
        base_url: args.base_url.clone(),
        api_key: Secret::new(args.api_key.clone()),
        model: args.model.clone(),
        temperature: args.temperature,
        max_tokens: args.max_tokens,
        timeout: Duration::from_secs(args.timeout_secs),
        strategy,
        structured,
    })
}

pub fn run_options(args: &RunnerArgs, started_by: &str, force: bool) -> Result<RunOptions> {
    if args.concurrency == 0 || args.max_attempts == 0 || args.lease_secs == 0 {
        bail!("--concurrency, --max-attempts and --lease-secs must be above zero");
    }
    if !(args.rpm > 0.0 && args.tpm > 0.0) {
        bail!("--rpm and --tpm must be above zero");
    }
    Ok(RunOptions {
        started_by: started_by.to_string(),
        force,
        max_attempts: args.max_attempts,
        lease: Duration::from_secs(args.lease_secs),
        retry: RetryPolicy {
            max_retries: args.max_retries,
            max_throttled_retries: args.max_throttled_retries,
            ..RetryPolicy::default()
        },
        limits: Limits {
            requests_per_minute: args.rpm,
            tokens_per_minute: args.tpm,
            concurrency: args.concurrency,
        },
        prices: (args.price_prompt, args.price_completion),
    })
}
