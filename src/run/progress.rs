//! A run's progress as its workers report it: bars on a terminal, a line a job elsewhere,
//! nothing from inside the server.

use crate::store::JobOutcome;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::sync::Mutex;
use std::time::Duration;

/// Where a run's progress goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Show {
    /// Bars with rate and ETA (stderr is a terminal).
    Bars,
    /// One plain line a finished job on stderr (a log file, a pipe, CI).
    Lines,
    /// Nothing: the server's runs, whose log is the tracing output.
    Silent,
}

impl Show {
    /// Bars when stderr is a terminal, else lines.
    pub fn for_stderr() -> Show {
        if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            Show::Bars
        } else {
            Show::Lines
        }
    }
}

/// What the run's jobs came to so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub needs_review: usize,
    pub failed_checks: usize,
    pub failed: usize,
    pub skipped: usize,
    pub retries: usize,
    pub tokens: i64,
}

impl Tally {
    fn line(&self) -> String {
        format!(
            "{} for review, {} failed checks, {} failed, {} skipped; {} retries; {} tokens",
            self.needs_review,
            self.failed_checks,
            self.failed,
            self.skipped,
            self.retries,
            self.tokens
        )
    }
}

/// The one reporter of a run: workers tell it what happened, it keeps the tally and shows it.
/// It never reads the store.
pub(crate) struct Progress {
    show: Show,
    tally: Mutex<Tally>,
    bars: Option<Bars>,
}

struct Bars {
    // Kept so the bars are drawn together and cleared together.
    _multi: MultiProgress,
    jobs: ProgressBar,
    status: ProgressBar,
}

impl Progress {
    /// For a run of `total` jobs of which `done` had finished before (a resumed run).
    pub fn new(show: Show, run_id: i64, total: usize, done: usize) -> Progress {
        let bars = (show == Show::Bars).then(|| {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
            let jobs = multi.add(ProgressBar::new(total as u64));
            jobs.set_style(
                ProgressStyle::with_template(
                    "[run {prefix}] {wide_bar} {pos}/{len} jobs, {per_sec}, ETA {eta}",
                )
                .expect("a valid template"),
            );
            jobs.set_prefix(run_id.to_string());
            jobs.set_position(done as u64);
            // Rate and ETA count from now: jobs done before a resume took no time here.
            jobs.reset_eta();
            let status = multi.add(ProgressBar::new_spinner());
            status.set_style(ProgressStyle::with_template("  {msg}").expect("a valid template"));
            status.set_message(Tally::default().line());
            jobs.enable_steady_tick(Duration::from_secs(1));
            Bars {
                _multi: multi,
                jobs,
                status,
            }
        });
        Progress {
            show,
            tally: Mutex::new(Tally::default()),
            bars,
        }
    }

    /// The job of `area` and `section` ended with `outcome`, after `retries` retried requests,
    /// its requests having cost `tokens`.
    pub fn finished(
        &self,
        (area, section): (&str, &str),
        outcome: &JobOutcome,
        retries: usize,
        tokens: i64,
    ) {
        let what = match outcome {
            JobOutcome::NeedsReview { draft_id } => format!("needs_review (draft {draft_id})"),
            JobOutcome::FailedChecks { draft_id } => format!("failed_checks (draft {draft_id})"),
            JobOutcome::Failed { error } => format!("failed: {error}"),
            JobOutcome::Skipped { draft_id } => format!("skipped: draft {draft_id} is current"),
        };
        tracing::info!(area, section, "{what}");
        crate::metrics::job_finished(outcome);
        let line = {
            let mut t = self.tally.lock().expect("tally lock");
            match outcome {
                JobOutcome::NeedsReview { .. } => t.needs_review += 1,
                JobOutcome::FailedChecks { .. } => t.failed_checks += 1,
                JobOutcome::Failed { .. } => t.failed += 1,
                JobOutcome::Skipped { .. } => t.skipped += 1,
            }
            t.retries += retries;
            t.tokens += tokens;
            t.line()
        };
        let said = format!("{area} {section}: {what}");
        match (&self.bars, self.show) {
            (Some(b), _) => {
                b.jobs.println(said);
                b.jobs.inc(1);
                b.status.set_message(line);
            }
            (None, Show::Lines) => eprintln!("{said}"),
            (None, _) => {}
        }
    }

    /// A job went back to the queue after `retries` retried requests that cost `tokens`.
    pub fn requeued(&self, retries: usize, tokens: i64) {
        let line = {
            let mut t = self.tally.lock().expect("tally lock");
            t.retries += retries;
            t.tokens += tokens;
            t.line()
        };
        if let Some(b) = &self.bars {
            b.status.set_message(line);
        }
    }

    pub fn tally(&self) -> Tally {
        *self.tally.lock().expect("tally lock")
    }

    /// Clears the bars; the summary follows.
    pub fn finish(&self) {
        if let Some(b) = &self.bars {
            b.jobs.finish_and_clear();
            b.status.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const JOB: (&str, &str) = ("E06000022", "carers");

    #[test]
    fn the_tally_adds_up_what_workers_report() {
        let p = Progress::new(Show::Silent, 1, 4, 0);
        p.finished(JOB, &JobOutcome::NeedsReview { draft_id: 1 }, 2, 100);
        p.finished(JOB, &JobOutcome::FailedChecks { draft_id: 2 }, 0, 50);
        p.requeued(1, 10);
        p.finished(
            JOB,
            &JobOutcome::Failed {
                error: "x".to_string(),
            },
            0,
            0,
        );
        p.finished(JOB, &JobOutcome::Skipped { draft_id: 3 }, 0, 0);
        p.finish();
        assert_eq!(
            p.tally(),
            Tally {
                needs_review: 1,
                failed_checks: 1,
                failed: 1,
                skipped: 1,
                retries: 3,
                tokens: 160,
            }
        );
    }
}
