//! The Prometheus recorder, installed once a process as the `metrics` global, and the text
//! `/metrics` answers with: the counters as they stand, and the queue's depth read from the
//! store at that moment (one grouped query a run, at scrape time rather than a job).

use super::record;
use crate::run::Runner;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};
use std::sync::OnceLock;
use std::time::Duration;

/// The content type of Prometheus's text exposition format.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// How often latency samples are folded into their buckets between scrapes: until then the
/// recorder keeps each one, and a process nobody scrapes would keep them all.
const UPKEEP: Duration = Duration::from_secs(10);

/// Renders the process's metrics; cheap to clone.
#[derive(Clone, Debug)]
pub struct Exporter {
    handle: PrometheusHandle,
}

static INSTALLED: OnceLock<Exporter> = OnceLock::new();

impl Exporter {
    /// The process's exporter. The first call installs the recorder, so it comes before the
    /// first event worth counting; later calls return the same exporter.
    pub fn install() -> Exporter {
        INSTALLED
            .get_or_init(|| {
                let recorder = recorder();
                let handle = recorder.handle();
                metrics::set_global_recorder(recorder)
                    .expect("nothing but this function installs a recorder");
                record::describe();
                let upkeep = handle.clone();
                let spawned = std::thread::Builder::new()
                    .name("metrics-upkeep".into())
                    .spawn(move || loop {
                        std::thread::sleep(UPKEEP);
                        upkeep.run_upkeep();
                    });
                if let Err(e) = spawned {
                    // Each scrape still folds the samples in; only an unscraped process grows.
                    tracing::warn!("no thread for the metrics' upkeep: {e}");
                }
                Exporter { handle }
            })
            .clone()
    }

    /// The metrics in Prometheus's text format, the queue's depth first read through `runner`
    /// (none for a server without one). A store that cannot be read leaves the gauge as it
    /// was, with a warning: the counters are still worth having.
    pub async fn scrape(&self, runner: Option<&Runner>) -> String {
        if let Some(runner) = runner {
            match runner.queue_depth().await {
                Ok((queued, running)) => record::queue_depth(queued, running),
                Err(e) => tracing::warn!("reading the queue's depth for /metrics: {e}"),
            }
        }
        self.handle.render()
    }

    /// `scrape` as an HTTP answer.
    pub async fn answer(&self, runner: Option<&Runner>) -> Response {
        let text = self.scrape(runner).await;
        ([(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response()
    }
}

/// The recorder narrator installs: latency as a histogram with `LATENCY_BUCKETS` (the
/// exporter's default would be a summary, which cannot be added up across workers).
fn recorder() -> PrometheusRecorder {
    PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full(record::LATENCY.to_string()),
            record::LATENCY_BUCKETS,
        )
        .expect("the latency buckets are not empty")
        .build_recorder()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::{Budget, Completion, Ending, ProviderError, Reply};
    use crate::store::JobOutcome;

    /// The value of the series `series` (name and labels as rendered) in `text`.
    fn value(text: &str, series: &str) -> Option<f64> {
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
    }

    fn completion(prompt_tokens: i64, completion_tokens: i64) -> Completion {
        Completion {
            text: "text".into(),
            ending: Ending::Stop,
            prompt_tokens,
            completion_tokens,
        }
    }

    // A recorder of the test's own (the global one is the process's): the test's thread
    // records into it, so tests running beside it do not mix in.
    #[tokio::test]
    async fn the_events_of_a_job_add_up_in_the_rendered_text() {
        let recorder = recorder();
        let handle = recorder.handle();
        let _local = metrics::set_default_local_recorder(&recorder);
        record::describe();
        record::job_finished(&JobOutcome::NeedsReview { draft_id: 1 });
        record::job_finished(&JobOutcome::NeedsReview { draft_id: 2 });
        record::job_finished(&JobOutcome::Failed { error: "x".into() });
        record::request_ended(2, Some(&completion(120, 30)));
        record::request_ended(1, None);
        let throttled = record::provider_request(async {
            Reply {
                result: Err(ProviderError::RateLimited {
                    retry_after: None,
                    body: String::new(),
                }),
                budget: Budget::default(),
            }
        })
        .await;
        assert!(throttled.result.is_err());
        let answered = record::provider_request(async {
            Reply {
                result: Ok(completion(7, 3)),
                budget: Budget::default(),
            }
        })
        .await;
        assert_eq!(
            answered.result.unwrap().prompt_tokens,
            7,
            "the request's result is passed on"
        );
        record::lease_lost();
        record::queue_depth(5, 2);

        let text = handle.render();
        let at = |series: &str| value(&text, series).unwrap_or_else(|| panic!("{series}:\n{text}"));
        assert_eq!(
            at(r#"narrator_jobs_finished_total{outcome="needs_review"}"#),
            2.0
        );
        assert_eq!(at(r#"narrator_jobs_finished_total{outcome="failed"}"#), 1.0);
        assert_eq!(
            at(r#"narrator_jobs_finished_total{outcome="failed_checks"}"#),
            0.0
        );
        assert_eq!(
            at(r#"narrator_jobs_finished_total{outcome="skipped"}"#),
            0.0
        );
        assert_eq!(at("narrator_provider_retries_total"), 3.0);
        assert_eq!(at(r#"narrator_tokens_total{kind="prompt"}"#), 120.0);
        assert_eq!(at(r#"narrator_tokens_total{kind="completion"}"#), 30.0);
        assert_eq!(at("narrator_provider_requests_total"), 2.0);
        assert_eq!(at("narrator_provider_rate_limited_total"), 1.0);
        assert_eq!(at("narrator_provider_request_duration_seconds_count"), 2.0);
        assert_eq!(
            at(r#"narrator_provider_request_duration_seconds_bucket{le="+Inf"}"#),
            2.0,
            "latency is a histogram with buckets"
        );
        assert_eq!(at("narrator_leases_lost_total"), 1.0);
        assert_eq!(at(r#"narrator_queue_jobs{state="queued"}"#), 5.0);
        assert_eq!(at(r#"narrator_queue_jobs{state="running"}"#), 2.0);
        assert!(
            text.contains("# TYPE narrator_provider_request_duration_seconds histogram")
                && text.contains("# HELP narrator_jobs_finished_total Jobs ended, by outcome."),
            "{text}"
        );
    }
}
