//! What narrator counts, each metric named once here: one function per event, called where
//! the event happens (a job's end in the run's reporter, a request's result in the job, a
//! request sent in the retry loop, a lost lease in the worker), through the `metrics` facade.
//! With no recorder installed (no `--metrics-addr`), each call does nothing.

use crate::provider::{Completion, ProviderError, Reply};
use crate::store::JobOutcome;
use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use std::future::Future;
use std::time::Instant;

/// Jobs ended, by `outcome`: needs_review, failed_checks, failed, skipped.
pub const JOBS_FINISHED: &str = "narrator_jobs_finished_total";
/// Requests sent to the provider, whatever came back (an answer, an error, a timeout).
pub const REQUESTS: &str = "narrator_provider_requests_total";
/// Answers of 429 asking to wait (an exhausted quota, also a 429, is a failed job instead).
pub const RATE_LIMITED: &str = "narrator_provider_rate_limited_total";
/// Requests sent again after a retryable failure (429, 5xx, timeout, broken or garbled answer).
pub const RETRIES: &str = "narrator_provider_retries_total";
/// Tokens of the provider's answers, by `kind`: prompt, completion.
pub const TOKENS: &str = "narrator_tokens_total";
/// Seconds from sending a request to its answer or error.
pub const LATENCY: &str = "narrator_provider_request_duration_seconds";
/// Jobs whose lease another worker had taken when this one came to store its result.
pub const LEASES_LOST: &str = "narrator_leases_lost_total";
/// Jobs queued and running in the open runs of this process's model and parameters.
pub const QUEUE: &str = "narrator_queue_jobs";

/// Upper bounds of the latency buckets, in seconds: from a cached answer to a local model's
/// minute, and the two-minute default timeout.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0,
];

/// Gives every metric its help text and shows every series at zero from the start, so a
/// dashboard sees `0` rather than no data before the first failure or 429.
pub fn describe() {
    describe_counter!(JOBS_FINISHED, "Jobs ended, by outcome.");
    describe_counter!(
        REQUESTS,
        "Requests sent to the provider, whatever came back."
    );
    describe_counter!(RATE_LIMITED, "Provider answers of 429 asking to wait.");
    describe_counter!(
        RETRIES,
        "Provider requests sent again after a retryable failure."
    );
    describe_counter!(
        TOKENS,
        "Tokens of the provider's answers, by kind (prompt, completion)."
    );
    describe_histogram!(
        LATENCY,
        metrics::Unit::Seconds,
        "Seconds from sending a provider request to its answer or error."
    );
    describe_counter!(
        LEASES_LOST,
        "Jobs whose lease another worker had taken before this one stored the result."
    );
    describe_gauge!(
        QUEUE,
        "Jobs queued and running in the open runs of this process's model and parameters, read from the store at each scrape."
    );
    for outcome in [
        JobOutcome::NeedsReview { draft_id: 0 },
        JobOutcome::FailedChecks { draft_id: 0 },
        JobOutcome::Failed {
            error: String::new(),
        },
        JobOutcome::Skipped { draft_id: 0 },
    ] {
        job_counter(&outcome).increment(0);
    }
    for c in [
        counter!(REQUESTS),
        counter!(RATE_LIMITED),
        counter!(RETRIES),
        counter!(TOKENS, "kind" => "prompt"),
        counter!(TOKENS, "kind" => "completion"),
        counter!(LEASES_LOST),
    ] {
        c.increment(0);
    }
}

/// A job ended with `outcome`.
pub fn job_finished(outcome: &JobOutcome) {
    job_counter(outcome).increment(1);
}

// The labels are literals in each arm, so the key is static: no allocation per job.
fn job_counter(outcome: &JobOutcome) -> metrics::Counter {
    match outcome {
        JobOutcome::NeedsReview { .. } => counter!(JOBS_FINISHED, "outcome" => "needs_review"),
        JobOutcome::FailedChecks { .. } => counter!(JOBS_FINISHED, "outcome" => "failed_checks"),
        JobOutcome::Failed { .. } => counter!(JOBS_FINISHED, "outcome" => "failed"),
        JobOutcome::Skipped { .. } => counter!(JOBS_FINISHED, "outcome" => "skipped"),
    }
}

/// One request of a job came to an end after `retries` retries, with `answer` if one came.
pub fn request_ended(retries: usize, answer: Option<&Completion>) {
    counter!(RETRIES).increment(u64::try_from(retries).unwrap_or(u64::MAX));
    if let Some(answer) = answer {
        counter!(TOKENS, "kind" => "prompt").increment(tokens(answer.prompt_tokens));
        counter!(TOKENS, "kind" => "completion").increment(tokens(answer.completion_tokens));
    }
}

/// A provider's count is never negative; one that says so counts as none.
fn tokens(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// Sends one request (`request`, not yet polled): counts it, times it, and counts a 429.
pub async fn provider_request(request: impl Future<Output = Reply>) -> Reply {
    let sent = Instant::now();
    let reply = request.await;
    counter!(REQUESTS).increment(1);
    histogram!(LATENCY).record(sent.elapsed().as_secs_f64());
    if matches!(reply.result, Err(ProviderError::RateLimited { .. })) {
        counter!(RATE_LIMITED).increment(1);
    }
    reply
}

/// The store refused a job's result: another worker holds its lease now.
pub fn lease_lost() {
    counter!(LEASES_LOST).increment(1);
}

/// The queue as the store says now.
pub fn queue_depth(queued: i64, running: i64) {
    gauge!(QUEUE, "state" => "queued").set(queued as f64);
    gauge!(QUEUE, "state" => "running").set(running as f64);
}
