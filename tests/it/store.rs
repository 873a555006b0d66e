//! The store suite, run against SQLite and PostgreSQL alike.

use crate::helpers::TestDatabases;
use narrator::check::Report;
use narrator::store::{
    JobOutcome, JobRow, JobStatus, NewDraft, NewRun, QueueFilter, Store, StoreError,
};

fn report(pass: bool) -> Report {
    let text = if pass {
        "It was 16.2%."
    } else {
        "It was 99.9%."
    };
    let set = narrator::facts::load(&crate::helpers::data_dir()).unwrap();
    let area = set.find_area("E06000022").unwrap();
    let section = set.find_section("working-age").unwrap();
    narrator::check::check(text, &set.section_facts(area, section))
}

async fn suite(url: &str) {
    let store = Store::connect(url).await.unwrap();
    // Migrations are idempotent: connecting again applies nothing new.
    let store2 = Store::connect(url).await.unwrap();
    let jobs = vec![
        ("E06000022".to_string(), "carers".to_string()),
        ("E08000026".to_string(), "funding".to_string()),
    ];
    let new = NewRun {
        started_by: "editor",
        scope: "test",
        model: "m",
        params: "{}",
        jobs: &jobs,
    };
    let run = store.create_run(&new).await.unwrap();
    assert_eq!(
        store.unfinished_run("test", "m", "{}").await.unwrap(),
        Some(run)
    );
    assert_eq!(store.jobs(run).await.unwrap().len(), 2);

    // Two holders claim: each gets a different job, then nothing is left.
    let a = store
        .claim_job(run, "worker-a", 60_000)
        .await
        .unwrap()
        .unwrap();
    let b = store2
        .claim_job(run, "worker-b", 60_000)
        .await
        .unwrap()
        .unwrap();
    assert_ne!(a.id, b.id);
    assert!(store
        .claim_job(run, "worker-c", 60_000)
        .await
        .unwrap()
        .is_none());
    assert!(store.renew_lease(a.id, "worker-a", 60_000).await.unwrap());
    assert!(
        !store.renew_lease(a.id, "worker-b", 60_000).await.unwrap(),
        "only the holder renews"
    );

    // Drafts are stored with their reports; every attempt counts.
    let failing = report(false);
    let passing = report(true);
    let draft = |attempt, report| NewDraft {
        job_id: a.id,
        holder: "worker-a",
        run_id: run,
        area_code: &a.area_code,
        section: &a.section,
        attempt,
        text: "text",
        facts_fp: "f",
        prompt_fp: "p",
        model: "m",
        params: "{}",
        prompt_tokens: 100,
        completion_tokens: 50,
        report,
    };
    let d1 = store.insert_draft(&draft(1, &failing)).await.unwrap();
    // A worker that lost (or never had) the lease writes nothing: no draft, no attempt.
    let not_mine = NewDraft {
        holder: "worker-b",
        ..draft(2, &passing)
    };
    assert!(matches!(
        store.insert_draft(&not_mine).await,
        Err(StoreError::LeaseLost(id)) if id == a.id
    ));
    assert!(matches!(
        store
            .record_unusable_attempt(a.id, "worker-b", 10, 10, "truncated")
            .await,
        Err(StoreError::LeaseLost(_))
    ));
    // Only job `a` has drafts: the run's drafts are its.
    let drafts = || async { store.run_reports(run).await.unwrap().len() };
    assert_eq!(drafts().await, 1);
    let d2 = store.insert_draft(&draft(2, &passing)).await.unwrap();
    assert_ne!(d1, d2);
    assert_eq!(drafts().await, 2);
    let stored = store.draft_row(d2).await.unwrap().unwrap();
    assert!(stored.pass);
    assert!(
        stored.report.contains("\"pass\": true"),
        "{}",
        stored.report
    );
    assert_eq!(
        store
            .reusable_draft(&a.area_code, &a.section, "f", "p", "m", "{}")
            .await
            .unwrap(),
        Some(d2)
    );
    assert_eq!(
        store
            .reusable_draft(&a.area_code, &a.section, "other", "p", "m", "{}")
            .await
            .unwrap(),
        None
    );
    assert!(store
        .finish_job(a.id, "worker-a", &JobOutcome::NeedsReview { draft_id: d2 })
        .await
        .unwrap());
    assert!(
        !store
            .finish_job(a.id, "worker-a", &JobOutcome::NeedsReview { draft_id: d2 })
            .await
            .unwrap(),
        "finished once"
    );

    // A requeued job is claimable again only when due.
    let due = narrator::store::now_ms() + 60_000;
    assert!(store
        .requeue_job(b.id, "worker-b", due, "rate limited")
        .await
        .unwrap());
    assert!(store
        .claim_job(run, "worker-c", 60_000)
        .await
        .unwrap()
        .is_none());
    assert_eq!(store.open_jobs(run).await.unwrap(), 1);
    let interrupted = store.finish_run(run, (0.5, 1.5)).await.unwrap();
    assert_eq!(interrupted.status, "interrupted");
    assert_eq!(
        (interrupted.prompt_tokens, interrupted.completion_tokens),
        (200, 100)
    );
    assert!((interrupted.cost - (0.2 * 0.5 + 0.1 * 1.5)).abs() < 1e-9);

    // An expired lease is retaken by another worker (its first holder died).
    let run2 = store
        .create_run(&NewRun {
            scope: "test2",
            ..new
        })
        .await
        .unwrap();
    let dead = store
        .claim_job(run2, "dead-worker", -1)
        .await
        .unwrap()
        .unwrap();
    let retaken = store
        .claim_job(run2, "live-worker", 60_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(dead.id, retaken.id);
    assert!(!store
        .finish_job(
            dead.id,
            "dead-worker",
            &JobOutcome::Failed { error: "x".into() }
        )
        .await
        .unwrap());
    store.close().await;
    store2.close().await;
}

#[tokio::test]
async fn the_store_suite_passes_on_sqlite_and_postgresql() {
    let dbs = TestDatabases::new().await;
    for url in dbs.both() {
        suite(url).await;
    }
    dbs.drop_postgres().await;
}

/// `insert_draft_and_finish` writes the draft, the job's end and the review item together, or
/// none of them.
async fn last_draft_suite(url: &str) {
    let store = Store::connect(url).await.unwrap();
    let pages = vec![
        ("E06000022".to_string(), "carers".to_string()),
        ("E08000026".to_string(), "funding".to_string()),
    ];
    let run = store
        .create_run(&NewRun {
            started_by: "editor",
            scope: "last",
            model: "m",
            params: "{}",
            jobs: &pages,
        })
        .await
        .unwrap();
    let a = store.claim_job(run, "w-a", 60_000).await.unwrap().unwrap();
    let counts = store.job_counts(run).await.unwrap();
    assert_eq!(
        (
            counts.status(JobStatus::Queued),
            counts.status(JobStatus::Running),
            counts.tokens
        ),
        (1, 1, 0),
        "{url}: {counts:?}"
    );
    assert_eq!((counts.total(), counts.open()), (2, 2));

    let (failing, passing) = (report(false), report(true));
    fn draft<'a>(
        job: &'a JobRow,
        holder: &'a str,
        attempt: i64,
        report: &'a Report,
    ) -> NewDraft<'a> {
        NewDraft {
            job_id: job.id,
            holder,
            run_id: job.run_id,
            area_code: &job.area_code,
            section: &job.section,
            attempt,
            text: "text",
            facts_fp: "f",
            prompt_fp: "p",
            model: "m",
            params: "{}",
            prompt_tokens: 100,
            completion_tokens: 50,
            report,
        }
    }
    // Nothing of a: no draft, the job as it was, nothing queued, nothing in the history.
    let untouched = |attempts: i64, drafts: usize| {
        let store = store.clone();
        let a = a.clone();
        async move {
            assert_eq!(store.run_reports(run).await.unwrap().len(), drafts, "{url}");
            let job = store.jobs(run).await.unwrap().remove(0);
            assert_eq!(job.id, a.id);
            assert_eq!(
                (job.status.as_str(), job.attempts, job.draft_id),
                ("running", attempts, None),
                "{url}"
            );
            let queue = QueueFilter {
                run: Some(run),
                ..QueueFilter::default()
            };
            assert!(
                store.review_queue(&queue).await.unwrap().is_empty(),
                "{url}"
            );
            let history = store.history(&a.area_code, &a.section).await.unwrap();
            assert!(history.is_empty(), "{url}: {history:?}");
        }
    };

    // A lost lease: the draft went in first, and goes out with the rest.
    let lost = store
        .insert_draft_and_finish(&draft(&a, "w-b", 1, &passing))
        .await;
    assert!(
        matches!(lost, Err(StoreError::LeaseLost(id)) if id == a.id),
        "{url}: {lost:?}"
    );
    untouched(0, 0).await;
    // A draft the database refuses (attempt 1 is stored already): the job is not ended.
    let d1 = store
        .insert_draft(&draft(&a, "w-a", 1, &failing))
        .await
        .unwrap();
    let refused = store
        .insert_draft_and_finish(&draft(&a, "w-a", 1, &passing))
        .await;
    assert!(
        matches!(refused, Err(StoreError::Query(_))),
        "{url}: {refused:?}"
    );
    untouched(1, 1).await;
    // The same attempt from a worker that lost the lease (the kill drill's paused worker
    // wakes to find its attempt stored by the next): a lost lease, not a database error.
    let late = store
        .insert_draft_and_finish(&draft(&a, "w-b", 1, &passing))
        .await;
    assert!(
        matches!(late, Err(StoreError::LeaseLost(id)) if id == a.id),
        "{url}: {late:?}"
    );
    untouched(1, 1).await;

    // All three: the draft, the job ended with it, the review item (and its audit entry).
    let d2 = store
        .insert_draft_and_finish(&draft(&a, "w-a", 2, &passing))
        .await
        .unwrap();
    assert_ne!(d1, d2);
    let stored = store.draft_row(d2).await.unwrap().unwrap();
    assert!(
        stored.pass && stored.job_id == a.id && stored.attempt == 2,
        "{url}"
    );
    let job = store.jobs(run).await.unwrap().remove(0);
    assert_eq!(
        (
            job.status.as_str(),
            job.attempts,
            job.draft_id,
            job.prompt_tokens,
            job.completion_tokens,
            job.last_error
        ),
        ("needs_review", 2, Some(d2), 200, 100, None),
        "{url}"
    );
    let item = store.review_item(d2).await.unwrap().expect("queued");
    assert_eq!(
        (item.state.as_str(), item.reason.as_str(), item.run_id),
        ("needs_review", "new_draft", run)
    );
    let history = store.history(&a.area_code, &a.section).await.unwrap();
    assert_eq!(history.len(), 1, "{url}: {history:?}");
    assert_eq!(
        (history[0].action.as_str(), history[0].draft_id),
        ("queued", Some(d2))
    );
    // The lease ended with the job: nothing more is written under it.
    assert!(!store.renew_lease(a.id, "w-a", 60_000).await.unwrap());
    assert!(!store
        .finish_job(a.id, "w-a", &JobOutcome::NeedsReview { draft_id: d2 })
        .await
        .unwrap());

    // A failing last draft ends its job in failed_checks, queued for nobody.
    let b = store.claim_job(run, "w-b", 60_000).await.unwrap().unwrap();
    let d3 = store
        .insert_draft_and_finish(&draft(&b, "w-b", 1, &failing))
        .await
        .unwrap();
    let job = store.jobs(run).await.unwrap().remove(1);
    assert_eq!(
        (job.id, job.status.as_str(), job.draft_id),
        (b.id, "failed_checks", Some(d3))
    );
    assert!(store.review_item(d3).await.unwrap().is_none(), "{url}");

    let counts = store.job_counts(run).await.unwrap();
    assert_eq!(
        (
            counts.status(JobStatus::NeedsReview),
            counts.status(JobStatus::FailedChecks),
            counts.open(),
            counts.total(),
            counts.tokens
        ),
        (1, 1, 0, 2, 450),
        "{url}: {counts:?}"
    );
    assert_eq!(store.verify().await.unwrap().problems, Vec::<String>::new());
    store.close().await;
}

#[tokio::test]
async fn a_last_draft_ends_its_job_and_is_queued_in_one_transaction() {
    let dbs = TestDatabases::new().await;
    for url in dbs.both() {
        last_draft_suite(url).await;
    }
    dbs.drop_postgres().await;
}

#[tokio::test]
async fn a_draft_cannot_be_stored_without_a_report_even_by_hand() {
    let dbs = TestDatabases::new().await;
    for url in dbs.both() {
        let store = Store::connect(url).await.unwrap();
        let jobs = vec![("E06000022".to_string(), "carers".to_string())];
        let run = store
            .create_run(&NewRun {
                started_by: "e",
                scope: "s",
                model: "m",
                params: "{}",
                jobs: &jobs,
            })
            .await
            .unwrap();
        let job = store.jobs(run).await.unwrap()[0].id;
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(url).await.unwrap();
        let empty = sqlx::query(
            "INSERT INTO drafts (job_id, run_id, area_code, section, attempt, text, facts_fp, prompt_fp, model, params, \
             prompt_tokens, completion_tokens, report, pass, status, created_ms) \
             VALUES ($1, $2, 'E06000022', 'carers', 1, 't', 'f', 'p', 'm', '{}', 0, 0, '', 1, 'needs_review', 0)",
        )
        .bind(job)
        .bind(run)
        .execute(&pool)
        .await;
        assert!(empty.is_err(), "{url}: an empty report was accepted");
        store.close().await;
        pool.close().await;
    }
    dbs.drop_postgres().await;
}

#[tokio::test]
async fn an_unknown_database_url_is_a_clear_error() {
    let err = Store::connect("mysql://root@localhost/db")
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("neither sqlite:// nor postgres://"), "{err}");
}
