//! The one retry loop: exponential backoff with jitter (from `backon`), `Retry-After`
//! honoured up to a cap, beyond which the job is requeued instead of holding a worker.

use super::client::{estimate_tokens, ChatMessage, Completion, Provider};
use super::error::ProviderError;
use super::limit::RateLimiter;
use backon::{BackoffBuilder, ExponentialBuilder};
use std::time::Duration;

#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    /// Retries after the first try.
    pub max_retries: usize,
    pub min_delay: Duration,
    pub max_delay: Duration,
    /// A `Retry-After` longer than this requeues the job rather than waiting.
    pub retry_after_cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 5,
            min_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            retry_after_cap: Duration::from_secs(60),
        }
    }
}

/// How a request ended after retrying.
#[derive(Debug)]
pub enum Attempted {
    Done {
        completion: Completion,
        retries: usize,
    },
    /// The provider asked for a longer wait than the cap: put the job back for later.
    Requeue {
        after: Duration,
        error: ProviderError,
        retries: usize,
    },
    Failed {
        error: ProviderError,
        retries: usize,
    },
}

/// Sends `messages` within the rate limits, retrying what is retryable.
pub async fn complete_with_retries(
    provider: &Provider,
    limiter: &RateLimiter,
    policy: &RetryPolicy,
    messages: &[ChatMessage],
) -> Attempted {
    let mut delays = ExponentialBuilder::default()
        .with_min_delay(policy.min_delay)
        .with_max_delay(policy.max_delay)
        .with_jitter()
        .with_max_times(policy.max_retries)
        .build();
    let cost = estimate_tokens(messages).saturating_add(provider.settings().max_tokens);
    let mut retries = 0;
    loop {
        let result = {
            let _permit = limiter.acquire(cost).await;
            provider.complete(messages).await
        };
        let error = match result {
            Ok(completion) => {
                return Attempted::Done {
                    completion,
                    retries,
                }
            }
            Err(e) if !e.is_retryable() => return Attempted::Failed { error: e, retries },
            Err(e) => e,
        };
        let Some(backoff) = delays.next() else {
            return Attempted::Failed { error, retries };
        };
        let wait = match error.retry_after() {
            Some(asked) if asked > policy.retry_after_cap => {
                return Attempted::Requeue {
                    after: asked,
                    error,
                    retries,
                };
            }
            Some(asked) => asked,
            None => backoff,
        };
        tracing::debug!(retry = retries + 1, wait_ms = wait.as_millis() as u64, %error, "retrying");
        tokio::time::sleep(wait).await;
        retries += 1;
    }
}
