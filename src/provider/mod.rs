//! The OpenAI-compatible client, its one retry loop, and the rate limits it keeps to.

mod client;
mod error;
mod limit;
mod retry;

pub use client::{
    estimate_tokens, ChatMessage, Completion, Ending, Provider, ProviderSettings, Role, Secret,
};
pub use error::ProviderError;
pub use limit::{Limits, PaceStats, Permit, RateLimiter};
pub use retry::{complete_with_retries, Attempted, RetryPolicy};
