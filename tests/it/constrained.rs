//! Constrained generation against `narrator mock-provider`'s own server: a JSON-schema answer
//! of segments assembled from the facts and checked, a grammar sent and parsed, and a
//! provider refusing the constraint stopping the run at its first request with one clear
//! error.

use crate::helpers::{data_dir, narrator, prompts_dir, stderr};
use narrator::facts;
use narrator::mock::{MockProvider, MockSettings};
use narrator::prompt::{Prompter, Strategy, Structured};
use narrator::provider::{Limits, Provider, ProviderSettings, Secret};
use narrator::run::{RunOptions, RunSummary, Runner, Scope};
use narrator::store::Store;
use std::time::Duration;

async fn mock(refuse: bool) -> MockProvider {
    MockProvider::start(
        MockSettings {
            latency: Duration::from_millis(1),
            refuse_structured: refuse,
            ..MockSettings::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap()
}

async fn run(
    mock: &MockProvider,
    structured: Structured,
    jobs: &[(&str, &str)],
) -> (tempfile::TempDir, Store, RunSummary) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("c.db").display());
    let store = Store::connect(&url).await.unwrap();
    let set = facts::load(&data_dir()).unwrap();
    let areas: Vec<String> = jobs.iter().map(|j| j.0.to_string()).collect();
    let sections: Vec<String> = jobs.iter().map(|j| j.1.to_string()).collect();
    let scope = Scope::resolve(&set, &areas, &sections, false).unwrap();
    let provider = Provider::new(ProviderSettings {
        base_url: mock.url.clone(),
        api_key: Secret::new("sk-test"),
        model: "mock".into(),
        temperature: 0.2,
        max_tokens: 700,
        timeout: Duration::from_secs(5),
        structured,
    })
    .unwrap();
    let runner = Runner::new(
        store.clone(),
        set,
        Prompter::new(&prompts_dir()).unwrap(),
        provider,
        RunOptions {
            strategy: Strategy::Constrained,
            limits: Limits {
                concurrency: 1,
                ..crate::run::options().limits
            },
            ..crate::run::options()
        },
    );
    let (id, resumed) = runner.start_or_resume(&scope).await.unwrap();
    let summary = runner.work(id, resumed).await.unwrap();
    (dir, store, summary)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn segments_from_a_json_schema_are_assembled_from_the_facts_and_checked() {
    let mock = mock(false).await;
    let (_dir, store, summary) = run(
        &mock,
        Structured::JsonSchema,
        &[("E08000026", "funding"), ("E08000026", "outcomes")],
    )
    .await;
    assert_eq!(summary.jobs.len(), 2);
    for job in &summary.jobs {
        assert_eq!(job.status, "needs_review", "{job:?}");
        let draft = store
            .draft_row(job.draft_id.unwrap())
            .await
            .unwrap()
            .unwrap();
        let text = draft.text;
        assert!(draft.pass, "{text}");
        assert!(
            text.starts_with("In 20") && text.contains(", the council's figure was "),
            "{text}"
        );
    }
    let funding = summary
        .jobs
        .iter()
        .find(|j| j.section == "funding")
        .unwrap();
    let text = store
        .draft_row(funding.draft_id.unwrap())
        .await
        .unwrap()
        .unwrap()
        .text;
    // The facts as the table prints them (the mock names the first measure's), never a
    // figure the model typed.
    assert!(
        text.contains("£5,724 per 100,000") && text.contains("£7,286.35 per 100,000"),
        "{text}"
    );
    let stats = mock.stats();
    assert_eq!(stats.constrained.get("json_schema"), Some(&2), "{stats:?}");
    assert_eq!(stats.requests, 2, "no correction was needed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grammar_is_sent_parsed_by_the_provider_and_the_answer_checked() {
    let mock = mock(false).await;
    let (_dir, _store, summary) = run(&mock, Structured::Grammar, &[("E08000026", "carers")]).await;
    assert_eq!(summary.jobs[0].status, "needs_review", "{:?}", summary.jobs);
    let stats = mock.stats();
    assert_eq!(stats.constrained.get("grammar"), Some(&1), "{stats:?}");
    assert!(summary.run.params.contains("\"structured\":\"grammar\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_refusing_the_constraint_stops_the_run_at_its_first_request() {
    let mock = mock(true).await;
    let (_dir, _store, summary) = run(
        &mock,
        Structured::Grammar,
        &[
            ("E08000026", "funding"),
            ("E08000026", "carers"),
            ("E08000026", "working-age"),
        ],
    )
    .await;
    assert_eq!(summary.run.status, "interrupted");
    let failed: Vec<_> = summary
        .jobs
        .iter()
        .filter(|j| j.status == "failed")
        .collect();
    assert_eq!(failed.len(), 1, "{:?}", summary.jobs);
    let error = failed[0].last_error.as_deref().unwrap_or_default();
    assert!(
        error.contains("refused the grammar") && error.contains("--structured none"),
        "{error}"
    );
    assert_eq!(
        summary.jobs.iter().filter(|j| j.status == "queued").count(),
        2,
        "the rest wait for a run with other settings"
    );
    assert_eq!(
        mock.stats().requests,
        1,
        "one request, not a run of failures"
    );
}

#[test]
fn constrained_generation_against_an_endpoint_that_takes_no_constraint_is_refused_up_front() {
    let out = narrator(&[
        "run",
        "--strategy",
        "constrained",
        "--base-url",
        "http://provider.invalid/v1",
        "--area",
        "Coventry",
        "--section",
        "funding",
    ]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("--strategy constrained needs an endpoint that takes a constraint")
            && err.contains("--structured"),
        "{err}"
    );
}
