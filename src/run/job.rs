//! One job: the (area, section) prompt, up to N attempts, each checked and stored.

use crate::check::{Checker, Report};
use crate::facts::{FactSet, SectionFacts};
use crate::prompt::{
    assemble, constraint, focused_rows, ground, Closing, Prompter, Strategy, Structured,
};
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
    },
    /// The provider asked to wait longer than the cap: back in the queue until then.
    Requeued {
        after: Duration,
        error: String,
        retries: usize,
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
    let strategy = settings.strategy;
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
    let params = settings.params();
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
    for attempt in first..=ctx.max_attempts.max(first) {
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
        let completion = match attempted {
            Attempted::Done {
                completion,
                retries: r,
            } => {
                retries += r;
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
                });
            }
            Attempted::Failed {
                error:
                    crate::provider::ProviderError::Unusable {
                        reason,
                        prompt_tokens,
                        completion_tokens,
                    },
                retries: r,
            } => {
                // A truncated, empty or refused answer is a failed attempt: try again.
                retries += r;
                ctx.store
                    .record_unusable_attempt(
                        job.id,
                        ctx.holder,
                        prompt_tokens,
                        completion_tokens,
                        &reason,
                    )
                    .await?;
                tracing::info!(%reason, "unusable answer");
                unusable = Some(reason);
                continue;
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
                });
            }
            Attempted::Failed { error, retries: r } => {
                return Ok(JobResult::Finished {
                    outcome: JobOutcome::Failed {
                        error: error.to_string(),
                    },
                    retries: retries + r,
                });
            }
        };
        tracing::debug!(text = %completion.text, "draft");
        let mut completion = completion;
        let mut refusal = unusable_text(&completion.text, settings.max_tokens);
        // A JSON-schema answer is segments: the text is narrator's assembly of them.
        if let (None, Some((rows, _)), Structured::JsonSchema) =
            (&refusal, &constrained, settings.structured)
        {
            match assemble(&completion.text, rows) {
                Ok(text) => completion.text = text,
                Err(why) => refusal = Some(why),
            }
        }
        if let (None, Some(rows)) = (&refusal, &grounding) {
            let grounded = ground(&completion.text, rows);
            if grounded.unknown.is_empty() {
                completion.text = grounded.text;
            } else {
                // Placeholders that name no fact leave no figure to check.
                refusal = Some(format!(
                    "placeholders naming no fact of the request: {}",
                    grounded.unknown.join(", ")
                ));
            }
        }
        if let Some(reason) = refusal {
            // A failed attempt, not sent back for correction: re-asking with a runaway answer
            // would charge its whole length again, and markup or unknown placeholders hold
            // no figure worth fixing.
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
            let again = repeated(&completion.text);
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
        let report = checker.check(&completion.text);
        let draft_id = ctx
            .store
            .insert_draft(&NewDraft {
                job_id: job.id,
                holder: ctx.holder,
                run_id: job.run_id,
                area_code: &job.area_code,
                section: &job.section,
                attempt: i64::try_from(attempt).unwrap_or(i64::MAX),
                text: &completion.text,
                facts_fp: &facts_fp,
                prompt_fp: &prompt_fp,
                model: &settings.model,
                params: &params,
                prompt_tokens: completion.prompt_tokens,
                completion_tokens: completion.completion_tokens,
                report: &report,
            })
            .await?;
        tracing::info!(
            pass = report.pass,
            flagged = report.flagged().count(),
            draft_id,
            "checked"
        );
        if report.pass {
            return Ok(JobResult::Finished {
                outcome: JobOutcome::NeedsReview { draft_id },
                retries,
            });
        }
        last_draft = Some(draft_id);
        if repeated(&completion.text) {
            tracing::info!("the same draft again: no further attempt");
            break;
        }
        // Under sentence frames the figures, owners and periods are the facts', so what the
        // checker flagged is in the model's closing words, which it repeats when asked again
        // (all 7 failing jobs of one demo run): the correction gets the frames alone.
        if let (Some((rows, c)), Structured::Grammar) = (&mut constrained, settings.structured) {
            *c = constraint(rows, &view, settings.max_tokens, Closing::None);
        }
        conversation.push(ChatMessage {
            role: Role::Assistant,
            content: completion.text,
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
    Ok(JobResult::Finished { outcome, retries })
}

/// The most bytes one answer token may stand for: English runs about four, so sixteen
/// leaves room for long words and any tokenizer while catching an answer no limit of
/// `max_tokens` could have produced (an endpoint ignoring the limit, or a proxy's page).
const MAX_BYTES_PER_TOKEN: usize = 16;

/// Why an answer cannot be a draft though it arrived whole: far longer than `max_tokens`
/// allows, or not prose (markup, a table or a list of the facts) where paragraphs were asked for.
fn unusable_text(text: &str, max_tokens: u32) -> Option<String> {
    let most = usize::try_from(max_tokens)
        .unwrap_or(usize::MAX)
        .saturating_mul(MAX_BYTES_PER_TOKEN);
    if text.len() > most {
        return Some(format!(
            "answer too long: {} bytes, where {max_tokens} tokens give at most about {most}",
            text.len()
        ));
    }
    crate::check::not_prose(text).map(|why| why.to_string())
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

#[cfg(test)]
mod tests {
    use super::unusable_text;

    #[test]
    fn runaway_html_and_table_answers_are_unusable_and_prose_is_not() {
        // What counts as prose is `check::not_prose`'s to test; here, that it is asked.
        assert_eq!(unusable_text("It rose to 41.6% in 2024.", 700), None);
        let long = "word ".repeat(3_000);
        let reason = unusable_text(&long, 700).expect("15,000 bytes for 700 tokens");
        assert!(reason.contains("15000 bytes"), "{reason}");
        assert_eq!(unusable_text(&long, 4_000), None);
        let table = "| Measure | Coventry |\n|---|---|\n| Requests | 2,220.67 |";
        let reason = unusable_text(table, 700).expect("a table");
        assert!(reason.contains("table"), "{reason}");
        let reason = unusable_text("<p>Text</p>", 700).expect("markup");
        assert!(reason.contains("HTML markup"), "{reason}");
    }
}
