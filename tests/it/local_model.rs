//! The local model's lifecycle (install, serve on a free port, wait until healthy, stop), with a
//! stand-in script so the test builds nothing and fetches nothing: the real script is exercised
//! by `narrator demo` as the README says.

use narrator::local::LocalServer;

#[tokio::test]
async fn the_local_server_is_started_on_a_free_port_and_stopped_when_dropped() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("v1")).unwrap();
    std::fs::write(dir.path().join("v1/models"), "{\"data\": []}").unwrap();
    let script = dir.path().join("fake-local-model");
    std::fs::write(
        &script,
        format!(
            "#!/usr/bin/env bash\ncase \"$1\" in\n  install) echo /nowhere.gguf ;;\n  serve) cd {} && exec python3 -m http.server \"$2\" --bind 127.0.0.1 ;;\nesac\n",
            dir.path().display()
        ),
    )
    .unwrap();
    std::process::Command::new("chmod")
        .arg("+x")
        .arg(&script)
        .status()
        .unwrap();
    // Only this test reads the variable.
    std::env::set_var("NARRATOR_LOCAL_MODEL_SCRIPT", &script);
    let server = LocalServer::start().await.unwrap();
    let url = format!("{}/models", server.url());
    assert!(reqwest::get(&url).await.unwrap().status().is_success());
    drop(server);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        reqwest::get(&url).await.is_err(),
        "the server still answers after the job ended"
    );
}

/// The pipeline against the real local model (llama.cpp serving SmolLM2-135M), on one council
/// and two sections: drafts and their reports are stored, and every figure the checker flagged
/// as unsupported is really absent from the facts the prompt showed. It builds llama.cpp the
/// first time (minutes), so it runs only when asked: `.ci/run` runs it with `--ignored`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "installs and runs the real local model; CI runs it with --ignored"]
async fn the_real_local_model_writes_drafts_that_are_checked_and_stored() {
    let server = LocalServer::start().await.expect("the local model starts");
    let local = local_run(
        &server,
        narrator::prompt::Strategy::default(),
        &["carers", "funding"],
        3,
    )
    .await;
    let (set, store, summary, run) = (&local.set, &local.store, &local.summary, local.run);
    assert_eq!(summary.jobs.len(), 2);
    let reports = store.run_reports(run).await.unwrap();
    assert!(
        !reports.is_empty(),
        "the model wrote drafts: {:?}",
        summary.jobs
    );
    let mut flagged = 0;
    for job in &summary.jobs {
        // A job may fail when every answer ran past the token limit (this model rambles), but
        // it ends with a reason, and the run as a whole wrote drafts (asserted above).
        if job.status == "failed" {
            assert!(
                job.last_error.as_deref().is_some_and(|e| !e.is_empty()),
                "{job:?}"
            );
            continue;
        }
        assert!(
            matches!(job.status.as_str(), "needs_review" | "failed_checks"),
            "{job:?}"
        );
        let view = set.section_facts(
            set.find_area(&job.area_code).unwrap(),
            set.find_section(&job.section).unwrap(),
        );
        let report = store
            .draft_row(job.draft_id.unwrap())
            .await
            .unwrap()
            .unwrap()
            .report;
        let report: serde_json::Value = serde_json::from_str(&report).unwrap();
        for m in report["mentions"].as_array().unwrap() {
            if m["verdict"] != "unsupported" {
                continue;
            }
            flagged += 1;
            let Some(value) = m["value"].as_f64() else {
                continue;
            };
            let unit = m["unit"].as_str().unwrap_or("number");
            // Absent: no fact the prompt showed (the council's, England's or the region's)
            // has this value exactly in a unit the figure could be written in.
            for r in view.rows().iter().chain(view.context()) {
                let fact_unit = r.unit.name();
                let written_alike = match unit {
                    "number" => {
                        matches!(fact_unit, "count" | "decile" | "score" | "rank" | "ratio")
                    }
                    "pounds" | "pounds_per_head" | "pounds_per_100k" => {
                        fact_unit.starts_with("pounds")
                    }
                    other => other == fact_unit,
                };
                if !written_alike {
                    continue;
                }
                let values = [
                    Some(&r.value),
                    r.england.as_ref().map(|c| &c.value),
                    r.region.as_ref().map(|c| &c.value),
                ];
                for v in values.into_iter().flatten() {
                    let v = v.as_number().map(|n| n.value());
                    assert!(
                        v.is_none_or(|v| (v - value).abs() > 1e-9),
                        "{} was flagged but {} is {:?}",
                        m["text"],
                        r.metric,
                        v
                    );
                }
            }
        }
    }
    eprintln!(
        "local model: {} jobs, {} drafts, {flagged} unsupported figures, statuses {:?}",
        summary.jobs.len(),
        reports.len(),
        summary.by_status()
    );
    local.store.close().await;
}

/// Constrained generation against the real llama.cpp server: it takes narrator's grammar (a
/// grammar it could not parse would be a 400 and a failed job), and every figure in every
/// draft is one the grammar allowed, the facts' printed forms.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "installs and runs the real local model; CI runs it with --ignored"]
async fn the_real_local_model_under_a_grammar_writes_only_the_facts_figures() {
    use narrator::prompt::{constraint, focused_rows, Closing, Strategy};
    let server = LocalServer::start().await.expect("the local model starts");
    let local = local_run(&server, Strategy::Constrained, &["funding", "outcomes"], 2).await;
    let (set, store, summary) = (&local.set, &local.store, &local.summary);
    let digit_runs = |text: &str| -> Vec<String> {
        regex::Regex::new(r"[0-9][0-9.,\-]*")
            .unwrap()
            .find_iter(text)
            .map(|m| m.as_str().trim_end_matches(['.', ',', '-']).to_string())
            .collect()
    };
    let mut drafts = 0;
    for job in &summary.jobs {
        assert!(
            matches!(job.status.as_str(), "needs_review" | "failed_checks"),
            "the server took the grammar and the model answered: {job:?}"
        );
        let view = set.section_facts(
            set.find_area(&job.area_code).unwrap(),
            set.find_section(&job.section).unwrap(),
        );
        // The first attempt's grammar allows every figure a correction's does, and more.
        let allowed: Vec<String> = constraint(&focused_rows(&view), &view, 700, Closing::Words)
            .figures
            .iter()
            .flat_map(|f| digit_runs(f))
            .collect();
        let text = store
            .draft_row(job.draft_id.unwrap())
            .await
            .unwrap()
            .unwrap()
            .text;
        drafts += 1;
        for run in digit_runs(&text) {
            assert!(
                allowed.contains(&run),
                "{run} is not a figure the grammar allows, in: {text}"
            );
        }
        // Each measure is framed once at most.
        let sentences: Vec<&str> = text.split(". ").collect();
        let distinct: std::collections::BTreeSet<&&str> = sentences.iter().collect();
        assert_eq!(
            distinct.len(),
            sentences.len(),
            "a sentence repeats: {text}"
        );
    }
    assert_eq!(drafts, 2);
    eprintln!(
        "local model under a grammar: statuses {:?}",
        summary.by_status()
    );
    local.store.close().await;
}

/// One run of Coventry's `sections` on the real local model, one request at a time.
struct LocalRun {
    _dir: tempfile::TempDir,
    set: narrator::facts::FactSet,
    store: narrator::store::Store,
    summary: narrator::run::RunSummary,
    run: i64,
}

async fn local_run(
    server: &LocalServer,
    strategy: narrator::prompt::Strategy,
    sections: &[&str],
    max_attempts: usize,
) -> LocalRun {
    use narrator::prompt::{Prompter, Strategy, Structured};
    use narrator::provider::{Limits, Provider, ProviderSettings, RetryPolicy, Secret};
    use narrator::run::{RunOptions, Runner, Scope};
    use std::time::Duration;

    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("local.db").display());
    let store = narrator::store::Store::connect(&url).await.unwrap();
    let set = narrator::facts::load(&crate::helpers::data_dir()).unwrap();
    let sections: Vec<String> = sections.iter().map(|s| s.to_string()).collect();
    let scope = Scope::resolve(&set, &["Coventry".to_string()], &sections, false).unwrap();
    let provider = Provider::new(ProviderSettings {
        base_url: server.url().to_string(),
        api_key: Secret::new(""),
        model: "smollm2-135m-instruct".into(),
        temperature: 0.2,
        // As the demo asks: the small model often rambles past a shorter limit, and a
        // truncated answer is no draft.
        max_tokens: 700,
        timeout: Duration::from_secs(300),
        structured: if strategy == Strategy::Constrained {
            Structured::Grammar
        } else {
            Structured::None
        },
    })
    .unwrap();
    let runner = Runner::new(
        store.clone(),
        narrator::facts::load(&crate::helpers::data_dir()).unwrap(),
        Prompter::new(&crate::helpers::prompts_dir()).unwrap(),
        provider,
        RunOptions {
            started_by: "ci".into(),
            strategy,
            force: true,
            max_attempts,
            lease: Duration::from_secs(600),
            retry: RetryPolicy::default(),
            limits: Limits {
                requests_per_minute: 600.0,
                tokens_per_minute: 1e9,
                concurrency: 1,
                burst: narrator::provider::Burst::SlowStart,
            },
            prices: (0.0, 0.0),
        },
    );
    let (run, resumed) = runner.start_or_resume(&scope).await.unwrap();
    let summary = runner.work(run, resumed).await.unwrap();
    LocalRun {
        _dir: dir,
        set,
        store,
        summary,
        run,
    }
}
