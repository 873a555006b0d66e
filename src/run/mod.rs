//! A regeneration run: claim a job, render its prompt, generate, check, re-ask, store.

mod answer;
mod job;
mod progress;
mod runner;

pub use job::{feedback_message, JobResult};
pub use progress::{Show, Tally};
pub use runner::{RunOptions, RunSummary, Runner, Scope};
