//! One job: the (area, section) prompt, up to N attempts, each checked and stored.

use super::answer::{self, Form, Reading};
use crate::check::{Checker, Report};
use crate::facts::{FactSet, SectionFacts};
use crate::prompt::{constraint, focused_rows, Closing, Prompter, Strategy, Structured};
use crate::provider::{
    complete_with_retries, Attempted, ChatMessage, Provider, RateLimiter, RetryPolicy, Role,
};
use crate::store::{JobOutcome, JobRow, NewDraft, Store, StoreError};
use std::time::Duration;
use tracing::Instrument;

/// What happened to a job this time round.
#[derive(Debug)]
pub enum JobResult {
    Finished {
        outcome: JobOutcome,
        retries: usize,
        /// Prompt and answer tokens of this round's answers.
        tokens: i64,
        /// The job's end is stored already, with its last draft.
        stored: bool,
    },
    /// The provider asked to wait longer than the cap: back in the queue until then.
    Requeued {
        after: Duration,
        error: String,
        retries: usize,
        tokens: i64,
    },
}

pub(crate) struct JobContext<'a> {
    pub store: &'a Store,
    pub facts: &'a FactSet,
    pub prompter: &'a Prompter,
    pub provider: &'a Provider,
    pub limiter: &'a RateLimiter,
    pub policy: &'a RetryPolicy,
    pub max_attempts: usize,
    pub strategy: Strategy,
    pub force: bool,
    /// The worker's lease name: stores refuse its writes once another worker has the job.
    pub holder: &'a str,
    /// True once the worker should stop: a job whose first request still waits for a slot
    /// goes back to the queue unsent.
    pub stopping: &'a (dyn Fn() -> bool + Sync),
}

/// The message that sends a failed draft back: each flagged figure, its verdict and why.
pub fn feedback_message(report: &Report) -> String {
    let mut out = String::from(
        "The checker could not prove these figures in your text from the facts given:\n",
    );
    for m in report.flagged() {
        out.push_str(&format!(
            "- \"{}\": {} ({})\n",
            m.text,
            m.verdict.name(),
            m.message
        ));
    }
    out.push_str(
        "Rewrite the whole text so that every figure is one from the tables (or worked out from \
         them), with its period and whose figure it is, and comparison words that agree with the \
         figures. Reply with the corrected text only.",
    );
    out
}

pub(crate) async fn process(ctx: &JobContext<'_>, job: &JobRow) -> Result<JobResult, JobError> {
    let area = ctx
        .facts
        .find_area(&job.area_code)
        .map_err(JobError::Input)?;
    let section = ctx
        .facts
        .find_section(&job.section)
        .map_err(JobError::Input)?;
    let view: SectionFacts = ctx.facts.section_facts(area, section);
    let settings = ctx.provider.settings();
    let strategy = ctx.strategy;
    let messages = ctx
        .prompter
        .render_with(&view, strategy)
        .map_err(|e| JobError::Input(e.to_string()))?;
    let (facts_fp, prompt_fp) = (view.fingerprint(), messages.fingerprint());
    // The rows a grounded answer's placeholders may name: those its request showed.
    let grounding = (strategy == Strategy::Grounded).then(|| focused_rows(&view));
    // What a constrained answer may write, from the same rows.
    let mut constrained = (strategy == Strategy::Constrained).then(|| {
        let rows = focused_rows(&view);
        let c = constraint(&rows, &view, settings.max_tokens, Closing::Words);
        (rows, c)
    });
    let params = settings.params(strategy);
    if !ctx.force {
        let reusable = ctx
            .store
            .reusable_draft(
                &job.area_code,
                &job.section,
                &facts_fp,
                &prompt_fp,
                &settings.model,
                &params,
            )
            .await?;
        if let Some(draft_id) = reusable {
            return Ok(JobResult::Finished {
                outcome: JobOutcome::Skipped { draft_id },
                retries: 0,
                tokens: 0,
                stored: false,
            });
        }
    }
    tracing::debug!(system = messages.system(), user = messages.user(), "prompt");
    let checker = Checker::new(&view);
    let mut conversation = vec![
        ChatMessage {
            role: Role::System,
            content: messages.system().to_string(),
        },
        ChatMessage {
            role: Role::User,
            content: messages.user().to_string(),
        },
    ];
    let mut retries = 0;
    let mut tokens = 0;
    let mut last_draft = None;
    let mut unusable = None;
    // The answers so far: a model that gives the same answer again (llama.cpp samples with
    // a fixed seed, so an unchanged request gets an unchanged answer, and a small model may
    // ignore the correction) will give it a third time, so the job stops there.
    let mut answers: Vec<String> = Vec::new();
    // Records an answer; true when it was given before, spacing aside (a repeat may differ
    // by a doubled space).
    let mut repeated = |text: &str| {
        let spaced = text.split_whitespace().collect::<Vec<_>>().join(" ");
        let seen = answers.contains(&spaced);
        answers.push(spaced);
        seen
    };
    // Attempts already stored (a resumed job) count towards the limit.
    let first = usize::try_from(job.attempts).unwrap_or(0) + 1;
    let last_attempt = ctx.max_attempts.max(first);
    for attempt in first..=last_attempt {
        let span = tracing::info_span!("attempt", attempt);
        // Only a job not yet started goes back on a stop; one mid-correction finishes.
        let stopping = (attempt == first).then_some(ctx.stopping);
        let attempted = complete_with_retries(
            ctx.provider,
            ctx.limiter,
            ctx.policy,
            &conversation,
            constrained.as_ref().map(|(_, c)| c),
            stopping,
        )
        .instrument(span)
        .await;
        count(&attempted);
        let completion = match attempted {
            Attempted::Done {
                completion,
                retries: r,
            } => {
                retries += r;
                tokens += completion.prompt_tokens + completion.completion_tokens;
                completion
            }
            Attempted::Requeue {
                after,
                error,
                retries: r,
            } => {
                return Ok(JobResult::Requeued {
                    after,
                    error: error.to_string(),
                    retries: retries + r,
                    tokens,
                });
            }
            Attempted::Failed {
                error: error @ crate::provider::ProviderError::ConstraintRefused { .. },
                ..
            } => {
                // Every request of the run would be refused alike: stop it at the first.
                return Err(JobError::Refused(error.to_string()));
            }
            Attempted::Failed {
                error: error @ crate::provider::ProviderError::Stopped,
                retries: r,
            } => {
                // Not sent (another job's request was refused): back in the queue.
                return Ok(JobResult::Requeued {
                    after: std::time::Duration::ZERO,
                    error: error.to_string(),
                    retries: retries + r,
                    tokens,
                });
            }
            Attempted::Failed { error, retries: r } => {
                return Ok(JobResult::Finished {
                    outcome: JobOutcome::Failed {
                        error: error.to_string(),
                    },
                    retries: retries + r,
                    tokens,
                    stored: false,
                });
            }
        };
        tracing::debug!(text = %completion.text, ending = ?completion.ending, "answer");
        let form = match (&constrained, &grounding, settings.structured) {
            (Some((rows, _)), _, Structured::JsonSchema) => Form::Segments(rows),
            (_, Some(rows), _) => Form::Placeholders(rows),
            _ => Form::Prose,
        };
        let text = match answer::read(&completion, settings.max_tokens, form) {
            Reading::Draft(text) => text,
            Reading::Unusable(reason) => {
                // A failed attempt, not sent back for correction: re-asking with a runaway
                // answer would charge its whole length again, and a truncated, empty or
                // refused answer, markup or unknown placeholders hold no figure worth fixing.
                ctx.store
                    .record_unusable_attempt(
                        job.id,
                        ctx.holder,
                        completion.prompt_tokens,
                        completion.completion_tokens,
                        &reason,
                    )
                    .await?;
                tracing::info!(%reason, "unusable answer");
                let again = !completion.text.trim().is_empty() && repeated(&completion.text);
                unusable = Some(if again {
                    format!("{reason}; the same answer again, so no further attempt")
                } else {
                    reason
                });
                if again {
                    break;
                }
                continue;
            }
        };
        let report = checker.check(&text);
        // A draft that ends the job (it passes, it is the last attempt, or the model gave it
        // before) is stored with the job's end and its review item in one transaction.
        let again = repeated(&text);
        let last = report.pass || again || attempt >= last_attempt;
        let draft = NewDraft {
            job_id: job.id,
            holder: ctx.holder,
            run_id: job.run_id,
            area_code: &job.area_code,
            section: &job.section,
            attempt: i64::try_from(attempt).unwrap_or(i64::MAX),
            text: &text,
            facts_fp: &facts_fp,
            prompt_fp: &prompt_fp,
            model: &settings.model,
            params: &params,
            prompt_tokens: completion.prompt_tokens,
            completion_tokens: completion.completion_tokens,
            report: &report,
        };
        let draft_id = if last {
            ctx.store.insert_draft_and_finish(&draft).await?
        } else {
            ctx.store.insert_draft(&draft).await?
        };
        tracing::info!(
            pass = report.pass,
            flagged = report.flagged().count(),
            draft_id,
            "checked"
        );
        if last {
            if again && !report.pass {
                tracing::info!("the same draft again: no further attempt");
            }
            let outcome = if report.pass {
                JobOutcome::NeedsReview { draft_id }
            } else {
                JobOutcome::FailedChecks { draft_id }
            };
            return Ok(JobResult::Finished {
                outcome,
                retries,
                tokens,
                stored: true,
            });
        }
        last_draft = Some(draft_id);
        // Under sentence frames the figures, owners and periods are the facts', so what the
        // checker flagged is in the model's closing words, which it repeats when asked again
        // (all 7 failing jobs of one demo run): the correction gets the frames alone.
        if let (Some((rows, c)), Structured::Grammar) = (&mut constrained, settings.structured) {
            *c = constraint(rows, &view, settings.max_tokens, Closing::None);
        }
        conversation.push(ChatMessage {
            role: Role::Assistant,
            content: text,
        });
        conversation.push(ChatMessage {
            role: Role::User,
            content: feedback_message(&report),
        });
    }
    let outcome = match (last_draft, unusable) {
        (Some(draft_id), _) => JobOutcome::FailedChecks { draft_id },
        (None, Some(reason)) => JobOutcome::Failed {
            error: format!("every attempt was unusable; last: {reason}"),
        },
        (None, None) => JobOutcome::Failed {
            error: "no attempts left".to_string(),
        },
    };
    Ok(JobResult::Finished {
        outcome,
        retries,
        tokens,
        stored: false,
    })
}

/// Counts a request's retries, and its answer's tokens, for the metrics.
fn count(attempted: &Attempted) {
    let (retries, answer) = match attempted {
        Attempted::Done {
            completion,
            retries,
        } => (*retries, Some(completion)),
        Attempted::Requeue { retries, .. } | Attempted::Failed { retries, .. } => (*retries, None),
    };
    crate::metrics::request_ended(retries, answer);
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum JobError {
    #[error("{0}")]
    Input(String),
    /// The provider refused what the run asks of every request: the run stops.
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}
