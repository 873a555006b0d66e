//! The OpenAI-compatible client, its one retry loop, and the rate limits it keeps to.

mod budget;
mod client;
mod error;
mod limit;
mod retry;

pub use budget::{format_reset, parse_reset, Budget, Window};
pub use client::{
    estimate_tokens, ChatMessage, Completion, Ending, Provider, ProviderSettings, Reply, Role,
    Secret,
};
pub use error::ProviderError;
pub use limit::{Burst, Limits, PaceStats, Permit, RateLimiter};
pub use retry::{complete_with_retries, Attempted, RetryPolicy};
