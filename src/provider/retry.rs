//! The one retry loop: exponential backoff with jitter (from `backon`), `Retry-After`
//! honoured up to a cap, beyond which the job is requeued instead of holding a worker.

use super::client::{estimate_tokens, ChatMessage, Completion, Provider};
use super::error::ProviderError;
use super::limit::RateLimiter;
use backon::{BackoffBuilder, ExponentialBuilder};
use std::time::Duration;

#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    /// Retries after the first try, for server errors, timeouts and broken connections.
    pub max_retries: usize,
    /// Retries after 429s, counted apart: a provider that is merely busy says how long to
    /// wait, and a request waiting its turn should not fail for it as a broken one would.
    pub max_throttled_retries: usize,
    pub min_delay: Duration,
    pub max_delay: Duration,
    /// A `Retry-After` longer than this requeues the job rather than waiting.
    pub retry_after_cap: Duration,
    /// Wait as the provider's `Retry-After` asks. Off only for the naive baseline of
    /// `narrator bench`, which backs off exponentially whatever the provider says.
    pub honour_retry_after: bool,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 5,
            max_throttled_retries: 20,
            min_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            retry_after_cap: Duration::from_secs(60),
            honour_retry_after: true,
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

/// Sends `messages` within the rate limits, retrying what is retryable. If `stopping` says
/// so once a slot is free for the first try, nothing is sent and the job goes back.
pub async fn complete_with_retries(
    provider: &Provider,
    limiter: &RateLimiter,
    policy: &RetryPolicy,
    messages: &[ChatMessage],
    constraint: Option<&crate::prompt::Constraint>,
    stopping: Option<&(dyn Fn() -> bool + Sync)>,
) -> Attempted {
    let mut delays = ExponentialBuilder::default()
        .with_min_delay(policy.min_delay)
        .with_max_delay(policy.max_delay)
        .with_jitter()
        .with_max_times(policy.max_retries)
        .build();
    let mut throttled_delays = ExponentialBuilder::default()
        .with_min_delay(policy.min_delay)
        .with_max_delay(policy.max_delay)
        .with_jitter()
        .with_max_times(policy.max_throttled_retries)
        .build();
    let cost = estimate_tokens(messages).saturating_add(provider.settings().max_tokens);
    let mut retries = 0;
    loop {
        let result = match limiter.acquire(cost, policy.retry_after_cap).await {
            Ok(_) if retries == 0 && stopping.is_some_and(|stop| stop()) => {
                return Attempted::Requeue {
                    after: Duration::ZERO,
                    error: ProviderError::Stopped,
                    retries,
                };
            }
            Ok(permit) => {
                let reply =
                    crate::metrics::provider_request(provider.complete(messages, constraint)).await;
                // Read before a 429 is reported: its headers say when the bucket refills.
                limiter.observe(&permit, &reply.budget).await;
                reply.result
            }
            Err(paused) => {
                // An earlier 429 asked every request to wait longer than we hold a worker.
                return Attempted::Requeue {
                    after: paused,
                    error: ProviderError::RateLimited {
                        retry_after: Some(paused),
                        body: "waiting out an earlier answer's Retry-After".to_string(),
                    },
                    retries,
                };
            }
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
        let throttled = matches!(error, ProviderError::RateLimited { .. });
        if throttled {
            limiter
                .throttled(error.retry_after().filter(|_| policy.honour_retry_after))
                .await;
        }
        let next = if throttled {
            throttled_delays.next()
        } else {
            delays.next()
        };
        let Some(backoff) = next else {
            return Attempted::Failed { error, retries };
        };
        let asked = error.retry_after().filter(|_| policy.honour_retry_after);
        let wait = match asked {
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
