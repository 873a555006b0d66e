//! The review desk on SQLite and PostgreSQL: lifecycle and the one-published invariant,
//! claims, edits and overrides, separation of duties, feedback, staleness, export, audit.

use crate::helpers::{copy_dir, data_dir, TestDatabases};
use narrator::export::{self, StalePolicy};
use narrator::facts::{self, FactSet};
use narrator::review::{self, Approval, Desk, ReviewError, ReviewSettings};
use narrator::store::{JobOutcome, NewDraft, NewRun, QueueFilter, Store, Vote, Voter};
use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

/// Quotes Coventry's gross spending per 100,000 (a funding fact) and England's.
pub const FUNDING: &str = "In 2023-24, Coventry spent £46,992 per 100,000 people on adult social care, slightly below the England average of £47,758.16.";
/// Quotes a Coventry working-age figure only.
pub const WORKING_AGE: &str =
    "In 2023-24, Coventry received 2,765 requests for support from working-age adults.";
pub const COVENTRY: &str = "E08000026";

pub fn seed_facts() -> FactSet {
    facts::load(&data_dir()).unwrap()
}

pub fn settings() -> ReviewSettings {
    ReviewSettings::default()
}

/// A desk whose published text goes back for review at `threshold` voices voting down.
fn desk_with_threshold<'a>(store: &'a Store, set: &'a FactSet, threshold: i64) -> Desk<'a> {
    Desk::new(
        store,
        set,
        ReviewSettings {
            down_vote_threshold: threshold,
            ..settings()
        },
    )
}

/// Stores a draft as a finished job of a new run started by `editor`: passing drafts enter
/// the review queue, failing ones do not.
pub async fn draft(store: &Store, set: &FactSet, editor: &str, section: &str, text: &str) -> i64 {
    draft_for(store, set, editor, COVENTRY, section, text).await
}

/// As `draft`, for any area.
pub async fn draft_for(
    store: &Store,
    set: &FactSet,
    editor: &str,
    area: &str,
    section: &str,
    text: &str,
) -> i64 {
    let jobs = vec![(area.to_string(), section.to_string())];
    let run = store
        .create_run(&NewRun {
            started_by: editor,
            scope: &format!("test-{}", fastrand::u64(..)),
            model: "mock",
            params: "{}",
            jobs: &jobs,
        })
        .await
        .unwrap();
    let job = store.claim_job(run, "w", 60_000).await.unwrap().unwrap();
    let view = set.section_facts(
        set.find_area(area).unwrap(),
        set.find_section(section).unwrap(),
    );
    let report = narrator::check::check(text, &view);
    let id = store
        .insert_draft(&NewDraft {
            job_id: job.id,
            holder: "w",
            run_id: run,
            area_code: area,
            section,
            attempt: 1,
            text,
            facts_fp: &view.fingerprint(),
            prompt_fp: "p",
            model: "mock",
            params: "{}",
            prompt_tokens: 10,
            completion_tokens: 10,
            report: &report,
        })
        .await
        .unwrap();
    let outcome = if report.pass {
        JobOutcome::NeedsReview { draft_id: id }
    } else {
        JobOutcome::FailedChecks { draft_id: id }
    };
    assert!(store.finish_job(job.id, "w", &outcome).await.unwrap());
    id
}

fn published(a: Approval) -> i64 {
    match a {
        Approval::Published(p) => p.version_id,
        other => panic!("expected a publication, got {other:?}"),
    }
}

async fn each_dialect<F, Fut>(test: F)
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let dbs = TestDatabases::new().await;
    for url in dbs.both() {
        test(url.to_string()).await;
    }
    dbs.drop_postgres().await;
}

fn actions(history: &[narrator::store::AuditEntry]) -> Vec<&str> {
    history.iter().map(|e| e.action.as_str()).collect()
}

#[tokio::test]
async fn approving_publishes_one_version_per_page_and_supersedes_the_last() {
    each_dialect(|url| async move {
        let store = Store::connect(&url).await.unwrap();
        let set = seed_facts();
        let desk = Desk::new(&store, &set, settings());
        let first = draft(&store, &set, "ed", "funding", FUNDING).await;
        let second = draft(&store, &set, "ed", "funding", FUNDING).await;
        let failing = draft(&store, &set, "ed", "funding", "Coventry spent £99,999.").await;

        let queue = desk.queue(&QueueFilter::default()).await.unwrap();
        let ids: Vec<i64> = queue.iter().map(|i| i.draft_id).collect();
        assert_eq!(ids, vec![first, second], "passing drafts only, oldest first");
        assert!(matches!(
            desk.approve("rita", failing, None, None).await,
            Err(ReviewError::NotInReview(_))
        ));

        let v1 = published(desk.approve("rita", first, None, None).await.unwrap());
        let v2 = match desk.approve("sam", second, None, None).await.unwrap() {
            Approval::Published(p) => {
                assert_eq!(p.superseded, Some(v1));
                p.version_id
            }
            other => panic!("{other:?}"),
        };
        let live = store.published_version(COVENTRY, "funding").await.unwrap().unwrap();
        assert_eq!((live.id, live.approved_by.as_str()), (v2, "sam"));
        assert_eq!(store.version(v1).await.unwrap().unwrap().state, "superseded");
        assert!(matches!(
            desk.approve("sam", first, None, None).await,
            Err(ReviewError::Decided { .. })
        ));

        // The database itself refuses a second published row for the page.
        let pool = sqlx::AnyPool::connect(&url).await.unwrap();
        let forged = sqlx::query(
            "INSERT INTO versions (area_code, area_name, section, section_title, draft_id, text, edited, report, pass, \
             state, facts_fp, facts, facts_period, model, approved_by, approved_ms, reviewed_ms) \
             VALUES ($1, 'C', 'funding', 'F', $2, 't', 0, '{}', 1, 'published', 'f', '{}', '2023-24', 'm', 'x', 0, 0)",
        )
        .bind(COVENTRY)
        .bind(first)
        .execute(&pool)
        .await;
        assert!(forged.is_err(), "a second published version was accepted");
        // And failing text without an override reason.
        let no_reason = sqlx::query(
            "INSERT INTO versions (area_code, area_name, section, section_title, draft_id, text, edited, report, pass, \
             state, facts_fp, facts, facts_period, model, approved_by, approved_ms, reviewed_ms) \
             VALUES ($1, 'C', 'carers', 'F', $2, 't', 0, '{}', 0, 'superseded', 'f', '{}', '2023-24', 'm', 'x', 0, 0)",
        )
        .bind(COVENTRY)
        .bind(first)
        .execute(&pool)
        .await;
        assert!(no_reason.is_err(), "failing text without a reason was accepted");
        pool.close().await;

        let history = desk.history(COVENTRY, "funding").await.unwrap();
        assert_eq!(
            actions(&history),
            vec!["queued", "queued", "approved", "approved", "superseded"]
        );
        assert!(history.iter().all(|e| e.at_ms > 0 && !e.detail.is_empty()));
        store.close().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_approvals_leave_exactly_one_published_version() {
    each_dialect(|url| async move {
        let set = std::sync::Arc::new(seed_facts());
        let store = Store::connect(&url).await.unwrap();
        let mut drafts = Vec::new();
        for _ in 0..12 {
            drafts.push(draft(&store, &set, "ed", "funding", FUNDING).await);
        }
        let mut tasks = Vec::new();
        for (i, id) in drafts.iter().copied().enumerate() {
            // Each approval on its own pool, as separate reviewers' processes would be.
            let (url, set) = (url.clone(), set.clone());
            tasks.push(tokio::spawn(async move {
                let store = Store::connect(&url).await.unwrap();
                let desk = Desk::new(&store, &set, settings());
                let out = desk.approve(&format!("r{i}"), id, None, None).await;
                store.close().await;
                out.map(published)
            }));
        }
        let mut versions = Vec::new();
        for t in tasks {
            versions.push(t.await.unwrap().expect("every approval succeeds in turn"));
        }
        let states: Vec<String> = {
            let mut s = Vec::new();
            for v in &versions {
                s.push(store.version(*v).await.unwrap().unwrap().state.to_string());
            }
            s
        };
        assert_eq!(
            states.iter().filter(|s| *s == "published").count(),
            1,
            "{states:?}"
        );
        assert_eq!(states.iter().filter(|s| *s == "superseded").count(), 11);
        store.close().await;
    })
    .await;
}

#[tokio::test]
async fn claims_keep_reviewers_apart_until_they_expire_and_skips_move_on() {
    each_dialect(|url| async move {
        let store = Store::connect(&url).await.unwrap();
        let set = seed_facts();
        let short = ReviewSettings {
            claim_lease: Duration::from_millis(300),
            ..settings()
        };
        let desk = Desk::new(&store, &set, short);
        let a = draft(&store, &set, "ed", "funding", FUNDING).await;
        let b = draft(&store, &set, "ed", "working-age", WORKING_AGE).await;
        let all = QueueFilter::default();

        let rita = desk.claim("rita", None, &all).await.unwrap().unwrap();
        assert_eq!(rita.draft_id, a, "oldest first");
        let sam = desk.claim("sam", None, &all).await.unwrap().unwrap();
        assert_eq!(sam.draft_id, b, "never the item another reviewer holds");
        assert!(desk.claim("tom", None, &all).await.unwrap().is_none());
        assert!(matches!(
            desk.claim("tom", Some(a), &all).await,
            Err(ReviewError::ClaimedByOther { .. })
        ));
        assert!(matches!(
            desk.approve("sam", a, None, None).await,
            Err(ReviewError::ClaimedByOther { .. })
        ));
        let by_section = QueueFilter {
            section: Some("working-age".into()),
            ..QueueFilter::default()
        };
        let filtered = desk.queue(&by_section).await.unwrap();
        assert_eq!(filtered.len(), 1);
        assert_eq!(filtered[0].draft_id, b);

        // Rita skips: her claim goes, her next claim passes over it, others still get it.
        desk.skip("rita", a).await.unwrap();
        tokio::time::sleep(Duration::from_millis(400)).await;
        let next = desk.claim("rita", None, &all).await.unwrap().unwrap();
        assert_eq!(next.draft_id, b, "sam's claim expired; rita's skip holds");
        let tom = desk.claim("tom", None, &all).await.unwrap().unwrap();
        assert_eq!(tom.draft_id, a);
        published(desk.approve("tom", a, None, None).await.unwrap());
        let history = desk.history(COVENTRY, "funding").await.unwrap();
        assert_eq!(
            actions(&history),
            vec!["queued", "claimed", "skipped", "claimed", "approved"]
        );
        store.close().await;
    })
    .await;
}

#[tokio::test]
async fn edits_are_rechecked_and_failing_text_needs_a_recorded_override() {
    each_dialect(|url| async move {
        let store = Store::connect(&url).await.unwrap();
        let set = seed_facts();
        let desk = Desk::new(&store, &set, settings());
        let id = draft(&store, &set, "ed", "funding", FUNDING).await;
        let wrong = FUNDING.replace("46,992", "48,992");

        match desk.approve("rita", id, Some(&wrong), None).await.unwrap() {
            Approval::CheckFailed { report } => {
                assert!(report.flagged().any(|m| m.text.contains("48,992")))
            }
            other => panic!("{other:?}"),
        }
        assert!(store
            .published_version(COVENTRY, "funding")
            .await
            .unwrap()
            .is_none());
        assert!(matches!(
            desk.approve("rita", id, Some(&wrong), Some("  ")).await,
            Err(ReviewError::EmptyReason(_))
        ));
        // Markup in an edit is refused, override or not: the site would serve it verbatim.
        let script = format!("{FUNDING} <script>alert(1)</script>");
        for reason in [None, Some("the reviewer insists")] {
            match desk.approve("rita", id, Some(&script), reason).await {
                Err(ReviewError::NotProse(why)) => assert!(why.contains("HTML markup"), "{why}"),
                other => panic!("{other:?}"),
            }
        }
        let table = "| Measure | Coventry |\n|---|---|\n| Spending | £46,992 |";
        assert!(matches!(
            desk.approve("rita", id, Some(table), Some("ok")).await,
            Err(ReviewError::NotProse(_))
        ));

        let v = published(
            desk.approve(
                "rita",
                id,
                Some(&wrong),
                Some("the council confirmed the new figure"),
            )
            .await
            .unwrap(),
        );
        let version = store.version(v).await.unwrap().unwrap();
        assert!(version.edited && !version.pass);
        assert_eq!(
            version.override_reason.as_deref(),
            Some("the council confirmed the new figure")
        );
        let history = desk.history(COVENTRY, "funding").await.unwrap();
        assert!(history
            .iter()
            .any(|e| e.action == "approved"
                && e.detail.contains("overridden: the council confirmed")));

        // A good edit publishes without any override.
        let id2 = draft(&store, &set, "ed", "funding", FUNDING).await;
        let better = format!("{FUNDING} Net spending was £41,267 per 100,000 people.");
        let v2 = published(
            desk.approve("rita", id2, Some(&better), None)
                .await
                .unwrap(),
        );
        let version = store.version(v2).await.unwrap().unwrap();
        assert!(version.pass && version.edited && version.override_reason.is_none());
        assert_eq!(version.text, better);
        store.close().await;
    })
    .await;
}

#[tokio::test]
async fn whoever_started_a_run_cannot_approve_its_drafts_unless_the_setting_is_off() {
    each_dialect(|url| async move {
        let store = Store::connect(&url).await.unwrap();
        let set = seed_facts();
        let id = draft(&store, &set, "ed", "funding", FUNDING).await;
        let strict = Desk::new(&store, &set, settings());
        assert!(matches!(
            strict.approve("ed", id, None, None).await,
            Err(ReviewError::OwnRun { .. })
        ));
        let lax = Desk::new(
            &store,
            &set,
            ReviewSettings {
                separation_of_duties: false,
                ..settings()
            },
        );
        published(lax.approve("ed", id, None, None).await.unwrap());
        store.close().await;
    })
    .await;
}

#[tokio::test]
async fn votes_count_once_per_voter_and_enough_down_votes_send_text_back() {
    each_dialect(|url| async move {
        let store = Store::connect(&url).await.unwrap();
        let set = seed_facts();
        let desk = desk_with_threshold(&store, &set, 2);
        let id = draft(&store, &set, "ed", "funding", FUNDING).await;
        let v = published(desk.approve("rita", id, None, None).await.unwrap());
        let alice = review::visitor("visitor-token-alice", "network-a").unwrap();

        let up = desk.vote(v, &alice, Vote::Up, None).await.unwrap();
        assert_eq!((up.counts.up, up.counts.down), (1, 0));
        let changed = desk
            .vote(v, &alice, Vote::Down, Some("hard to read"))
            .await
            .unwrap();
        assert_eq!(
            (changed.counts.up, changed.counts.down),
            (0, 1),
            "changed, not counted twice"
        );
        assert!(!changed.requeued);
        let again = desk.vote(v, &alice, Vote::Down, None).await.unwrap();
        assert_eq!(again.counts.down, 1);
        assert!(matches!(
            desk.vote(v, &alice, Vote::Down, Some(&"x".repeat(1001)))
                .await,
            Err(ReviewError::CommentTooLong(1001))
        ));
        assert!(matches!(
            review::visitor("short", "network-a"),
            Err(ReviewError::BadVisitorToken)
        ));

        let staff = desk
            .vote(
                v,
                &Voter::Staff("sam".into()),
                Vote::Down,
                Some("figure is old"),
            )
            .await
            .unwrap();
        assert_eq!(staff.counts.down, 2);
        assert!(staff.requeued, "two down votes reach the threshold");
        let queue = desk.queue(&QueueFilter::default()).await.unwrap();
        assert_eq!(queue.len(), 1);
        assert_eq!(
            (queue[0].reason.as_str(), queue[0].version_id),
            ("feedback", Some(v))
        );
        let view = desk.show(id).await.unwrap();
        assert!(view
            .feedback
            .iter()
            .any(|f| f.comment.as_deref() == Some("figure is old")));
        assert!(
            view.feedback.iter().all(|f| !f.voter.contains("alice")),
            "visitor tokens are never shown"
        );

        // Kept as it is: down votes count afresh, so one more does not send it back.
        assert!(matches!(
            desk.approve("rita", id, None, None).await.unwrap(),
            Approval::Reaffirmed { version_id } if version_id == v
        ));
        let bob = review::visitor("visitor-token-bob", "network-b").unwrap();
        assert!(!desk.vote(v, &bob, Vote::Down, None).await.unwrap().requeued);
        let carol = review::visitor("visitor-token-carol", "network-c").unwrap();
        assert!(
            desk.vote(v, &carol, Vote::Down, None)
                .await
                .unwrap()
                .requeued
        );

        // Rejected after feedback: the version is withdrawn and leaves the site.
        let withdrawn = desk
            .reject("rita", id, "misleading about trends")
            .await
            .unwrap();
        assert_eq!(withdrawn, Some(v));
        assert!(store
            .published_version(COVENTRY, "funding")
            .await
            .unwrap()
            .is_none());
        let history = desk.history(COVENTRY, "funding").await.unwrap();
        assert_eq!(
            actions(&history),
            vec![
                "queued",
                "approved",
                "requeued",
                "reaffirmed",
                "requeued",
                "rejected",
                "withdrawn"
            ]
        );
        store.close().await;
    })
    .await;
}

#[tokio::test]
async fn identities_from_one_network_count_once_and_cannot_send_text_back() {
    each_dialect(|url| async move {
        let store = Store::connect(&url).await.unwrap();
        let set = seed_facts();
        let desk = desk_with_threshold(&store, &set, 3);
        let id = draft(&store, &set, "ed", "funding", FUNDING).await;
        let v = published(desk.approve("rita", id, None, None).await.unwrap());
        // One machine, ten identities: one voice, whose vote is the latest it gave.
        for i in 0..10 {
            let stuffer = review::visitor(&format!("invented-identity-{i}"), "network-x").unwrap();
            let out = desk.vote(v, &stuffer, Vote::Down, None).await.unwrap();
            assert_eq!((out.counts.up, out.counts.down), (0, 1), "vote {i}");
            assert!(!out.requeued);
        }
        let turned = review::visitor("invented-identity-10", "network-x").unwrap();
        let out = desk.vote(v, &turned, Vote::Up, None).await.unwrap();
        assert_eq!((out.counts.up, out.counts.down), (1, 0));
        assert!(desk
            .queue(&QueueFilter::default())
            .await
            .unwrap()
            .is_empty());
        // Three networks are three voices: that sends it back.
        for n in ["network-x", "network-y", "network-z"] {
            let voter = review::visitor(&format!("someone-on-{n}"), n).unwrap();
            desk.vote(v, &voter, Vote::Down, None).await.unwrap();
        }
        assert_eq!(store.vote_counts(v).await.unwrap().down, 3);
        assert_eq!(desk.queue(&QueueFilter::default()).await.unwrap().len(), 1);
        store.close().await;
    })
    .await;
}

#[tokio::test]
async fn comments_are_read_a_page_at_a_time_newest_first() {
    each_dialect(|url| async move {
        let store = Store::connect(&url).await.unwrap();
        let set = seed_facts();
        let desk = desk_with_threshold(&store, &set, 1_000);
        let id = draft(&store, &set, "ed", "funding", FUNDING).await;
        let v = published(desk.approve("rita", id, None, None).await.unwrap());
        let shown = narrator::review::COMMENTS_SHOWN;
        let total = shown * 2 + 7;
        for i in 0..total {
            let voter =
                review::visitor(&format!("visitor-identity-{i}"), &format!("network-{i}")).unwrap();
            // Every third vote without a comment: counted, not listed.
            let comment = (i % 3 != 0).then(|| format!("comment {i}"));
            desk.vote(v, &voter, Vote::Down, comment.as_deref())
                .await
                .unwrap();
        }
        let commented = (0..total).filter(|i| i % 3 != 0).count();
        let mut seen = Vec::new();
        let mut cursor = None;
        loop {
            let view = desk.show_from(id, cursor).await.unwrap();
            assert!(view.feedback.len() <= shown);
            assert_eq!(view.feedback_counts.down, total as i64);
            seen.extend(view.feedback.iter().map(|f| f.comment.clone().unwrap()));
            match view.older_feedback {
                Some(next) => cursor = narrator::review::parse_comments_cursor(&next),
                None => break,
            }
        }
        assert_eq!(seen.len(), commented, "every comment once");
        assert_eq!(seen[0], format!("comment {}", total - 1), "newest first");
        let distinct: BTreeSet<&String> = seen.iter().collect();
        assert_eq!(distinct.len(), commented);
        store.close().await;
    })
    .await;
}

/// The draft page and the public counts with many votes on a version (100,000 unless
/// NARRATOR_FEEDBACK_VOTES says otherwise): what they read stays one page of comments and
/// one row of counts. Prints the time of each, before and after, as BENCHMARKS.md quotes;
/// asserts what they return, never how long they take. Run with
/// `cargo test --release --test it feedback_at_scale -- --ignored --nocapture`.
#[tokio::test]
#[ignore = "a measurement: inserts 100,000 votes"]
async fn feedback_at_scale_reads_one_page_and_one_row_of_counts() {
    let votes: usize = std::env::var("NARRATOR_FEEDBACK_VOTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("votes.db").display());
    let store = Store::connect(&url).await.unwrap();
    let set = seed_facts();
    let desk = desk_with_threshold(&store, &set, i64::MAX);
    let id = draft(&store, &set, "ed", "funding", FUNDING).await;
    let v = published(desk.approve("rita", id, None, None).await.unwrap());
    // The median of 21 timings of one read, in microseconds.
    async fn median_us<F, Fut>(f: F) -> u128
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        let mut t = Vec::new();
        for _ in 0..21 {
            let start = std::time::Instant::now();
            f().await;
            t.push(start.elapsed().as_micros());
        }
        t.sort_unstable();
        t[10]
    }
    let page = || async {
        let view = desk.show(id).await.unwrap();
        assert!(view.feedback.len() <= narrator::review::COMMENTS_SHOWN);
    };
    let public = || async {
        let mut summary = export::ExportSummary::default();
        export::documents(&store, StalePolicy::Keep, None, &mut summary)
            .await
            .unwrap();
    };
    let (page_before, public_before) = (median_us(page).await, median_us(public).await);
    let started = std::time::Instant::now();
    for i in 0..votes {
        let voter =
            review::visitor(&format!("visitor-identity-{i}"), &format!("network-{i}")).unwrap();
        let vote = if i % 2 == 0 { Vote::Down } else { Vote::Up };
        let comment = (i % 10 == 0).then(|| format!("comment {i}"));
        desk.vote(v, &voter, vote, comment.as_deref())
            .await
            .unwrap();
    }
    let per_vote = started.elapsed().as_micros() / votes.max(1) as u128;
    let counts = store.vote_counts(v).await.unwrap();
    assert_eq!((counts.up + counts.down) as usize, votes);
    let view = desk.show(id).await.unwrap();
    assert_eq!(
        view.feedback.len(),
        narrator::review::COMMENTS_SHOWN.min(votes.div_ceil(10))
    );
    let (page_after, public_after) = (median_us(page).await, median_us(public).await);
    eprintln!(
        "feedback at {votes} votes (SQLite): a vote {per_vote} us; draft page read {page_before} us before, {page_after} us after ({:.2}x); public documents {public_before} us before, {public_after} us after ({:.2}x)",
        page_after as f64 / page_before.max(1) as f64,
        public_after as f64 / public_before.max(1) as f64,
    );
    store.close().await;
}

/// A copy of the seed data with Coventry's gross spending and its 2023 population changed.
fn refreshed_data(dir: &Path) -> FactSet {
    copy_dir(&data_dir(), dir);
    let path = dir.join("facts/coventry.csv");
    let csv = std::fs::read_to_string(&path).unwrap();
    let csv = csv
        .replace(
            "E08000026,funding_gross_per_100k,2023-24,46992,",
            "E08000026,funding_gross_per_100k,2023-24,48992,",
        )
        .replace(
            "E08000026,population,2023,360702,",
            "E08000026,population,2023,360802,",
        );
    std::fs::write(&path, csv).unwrap();
    facts::load(dir).unwrap()
}

#[tokio::test]
async fn new_facts_make_text_quoting_the_old_figure_stale_and_leave_the_rest() {
    each_dialect(|url| async move {
        let store = Store::connect(&url).await.unwrap();
        let old = seed_facts();
        let desk = Desk::new(&store, &old, settings());
        let funding = draft(&store, &old, "ed", "funding", FUNDING).await;
        let working = draft(&store, &old, "ed", "working-age", WORKING_AGE).await;
        let vf = published(desk.approve("rita", funding, None, None).await.unwrap());
        let vw = published(desk.approve("rita", working, None, None).await.unwrap());
        // Nothing changed yet: nothing is stale.
        let calm = desk.recheck_published().await.unwrap();
        assert_eq!(
            (calm.published, calm.checked, calm.newly_stale.len()),
            (2, 0, 0)
        );

        let dir = tempfile::tempdir().unwrap();
        let new = refreshed_data(dir.path());
        let desk = Desk::new(&store, &new, settings());
        let summary = desk.recheck_published().await.unwrap();
        assert_eq!(summary.newly_stale, vec![vf]);
        assert_eq!(
            summary.changed_but_passing, 1,
            "the working-age page's context changed"
        );
        assert_eq!(summary.runs.len(), 1);
        let jobs = store.jobs(summary.runs[0]).await.unwrap();
        assert_eq!(jobs.len(), 1);
        assert_eq!(
            (jobs[0].area_code.as_str(), jobs[0].section.as_str()),
            (COVENTRY, "funding")
        );
        let stale = store.version(vf).await.unwrap().unwrap();
        assert!(stale.stale && stale.state == "published");
        assert!(stale.stale_report.unwrap().contains("46,992"));
        assert!(!store.version(vw).await.unwrap().unwrap().stale);
        // Idempotent: a second re-check queues nothing more.
        let again = desk.recheck_published().await.unwrap();
        assert!(again.newly_stale.is_empty() && again.runs.is_empty());
        // The old figures come back: the mark goes; they change again: it returns, but the
        // page's regeneration is already queued, so no second run is made.
        let back = Desk::new(&store, &old, settings());
        assert_eq!(
            back.recheck_published().await.unwrap().fresh_again,
            vec![vf]
        );
        let twice = desk.recheck_published().await.unwrap();
        assert_eq!((twice.newly_stale, twice.runs), (vec![vf], vec![]));

        // The reviewer sees which facts changed since the published version was approved.
        let updated = FUNDING
            .replace("46,992", "48,992")
            .replace("below", "above");
        let next = draft(&store, &new, "ed", "funding", &updated).await;
        let view = desk.show(next).await.unwrap();
        assert!(view.report.pass);
        assert!(view
            .facts_changed
            .iter()
            .any(|c| c.fact.starts_with("funding_gross_per_100k")
                && c.before.as_deref().unwrap_or("").starts_with("£46,992")
                && c.after.as_deref().unwrap_or("").starts_with("£48,992")));
        assert!(view
            .diff
            .iter()
            .any(|c| matches!(c, review::WordChange::Added(s) if s.contains("48,992"))));

        // Export: kept and flagged by default, left out on request.
        let out = tempfile::tempdir().unwrap();
        export::export(&store, out.path(), StalePolicy::Keep)
            .await
            .unwrap();
        let file = std::fs::read_to_string(out.path().join(format!("{COVENTRY}.json"))).unwrap();
        assert!(file.contains("\"check_status\": \"stale\"") && file.contains("46,992"));
        let summary = export::export(&store, out.path(), StalePolicy::Withdraw)
            .await
            .unwrap();
        assert_eq!(summary.stale_withheld, 1);
        let file = std::fs::read_to_string(out.path().join(format!("{COVENTRY}.json"))).unwrap();
        assert!(!file.contains("46,992") && file.contains("2,765"));

        // Approving the replacement supersedes the stale version.
        published(desk.approve("rita", next, None, None).await.unwrap());
        assert_eq!(
            store.version(vf).await.unwrap().unwrap().state,
            "superseded"
        );
        let history = desk.history(COVENTRY, "funding").await.unwrap();
        let actions = actions(&history);
        for a in ["stale", "fresh", "superseded"] {
            assert!(actions.contains(&a), "{actions:?}");
        }
        store.close().await;
    })
    .await;
}

#[tokio::test]
async fn the_export_holds_only_approved_text_and_is_byte_identical_when_repeated() {
    each_dialect(|url| async move {
        let store = Store::connect(&url).await.unwrap();
        let set = seed_facts();
        let desk = Desk::new(&store, &set, settings());
        let approved = draft(&store, &set, "ed", "funding", FUNDING).await;
        let rejected_text = WORKING_AGE.replace("requests", "new requests");
        let rejected = draft(&store, &set, "ed", "working-age", &rejected_text).await;
        let waiting_text =
            "In 2023-24, 1,610 working-age adults in Coventry received long-term support.";
        draft(&store, &set, "ed", "working-age", waiting_text).await;
        draft(&store, &set, "ed", "carers", "Coventry had 99,999 carers.").await;
        let v = published(desk.approve("rita", approved, None, None).await.unwrap());
        desk.reject("rita", rejected, "reads as a trend")
            .await
            .unwrap();
        desk.vote(
            v,
            &review::visitor("visitor-token-1", "network-1").unwrap(),
            Vote::Up,
            None,
        )
        .await
        .unwrap();

        let out = tempfile::tempdir().unwrap();
        let first = export::export(&store, out.path(), StalePolicy::Keep)
            .await
            .unwrap();
        assert_eq!((first.areas, first.sections), (1, 1));
        let read = |name: &str| std::fs::read(out.path().join(name)).unwrap();
        let (area1, index1) = (read(&format!("{COVENTRY}.json")), read("index.json"));
        let text = String::from_utf8(area1.clone()).unwrap();
        assert!(text.contains("46,992"));
        for unapproved in [rejected_text.as_str(), waiting_text, "99,999"] {
            assert!(
                !text.contains(unapproved),
                "unapproved text exported: {unapproved}"
            );
        }
        let json: serde_json::Value = serde_json::from_slice(&area1).unwrap();
        let section = &json["sections"][0];
        assert_eq!(section["ai_generated"], true);
        assert_eq!(section["version_id"], v);
        assert_eq!(section["approved_by"], "rita");
        assert_eq!(section["check_status"], "passed");
        // The data the text rests on: the periods and sources of the figures it quotes. The
        // publisher dates 2023-24 by the year it ends; the label keeps the range.
        assert_eq!(section["data"]["latest"], "2024 (2023-24)");
        assert_eq!(section["data"]["earliest"], "2024 (2023-24)");
        assert_eq!(
            section["data"]["summary"],
            "2024 (2023-24); sources: ASCFR/SALT Sheet T3"
        );
        assert!(section.get("facts_period").is_none());
        assert_eq!(section["model"], "mock");
        assert_eq!(section["feedback"]["up"], 1);
        let index: serde_json::Value = serde_json::from_slice(&index1).unwrap();
        let digest = narrator::facts::hex_digest(&<sha2::Sha256 as sha2::Digest>::digest(&area1));
        assert_eq!(index["files"][0]["sha256"], digest.as_str());

        export::export(&store, out.path(), StalePolicy::Keep)
            .await
            .unwrap();
        assert_eq!(read(&format!("{COVENTRY}.json")), area1, "byte-identical");
        assert_eq!(read("index.json"), index1);
        let leftovers: Vec<_> = std::fs::read_dir(out.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");

        // A row altered behind narrator's back cannot steer the export's file names.
        let raw = sqlx::AnyPool::connect(&url).await.unwrap();
        sqlx::query("UPDATE versions SET area_code = '../../../pwned'")
            .execute(&raw)
            .await
            .unwrap();
        raw.close().await;
        let nested = tempfile::tempdir().unwrap();
        let inner = nested.path().join("a").join("b").join("out");
        std::fs::create_dir_all(&inner).unwrap();
        let refused = export::export(&store, &inner, StalePolicy::Keep).await;
        let why = refused.expect_err("a path in an area code").to_string();
        assert!(why.contains("area_code") && why.contains("pwned"), "{why}");
        assert!(!nested.path().join("pwned.json").exists());
        assert_eq!(std::fs::read_dir(&inner).unwrap().count(), 0);
        store.close().await;
    })
    .await;
}

/// The README's walk through a review, command by command: run, queue, claim, show,
/// approve, feedback, export, history.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_review_walkthrough_on_the_command_line() {
    let mock = crate::mock_llm::MockLlm::start(Vec::new(), true).await;
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("narrator.db").display());
    let out_dir = dir.path().join("site");
    let (url, out) = (mock.url.clone(), out_dir.display().to_string());
    let sh = move |args: Vec<String>| {
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            crate::helpers::narrator(&args)
        })
    };
    let with_db = |args: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        v.extend(["--database-url".to_string(), db.clone()]);
        v
    };
    use crate::helpers::{stderr, stdout};

    let run = sh(with_db(&[
        "run",
        "--area",
        "Coventry",
        "--section",
        "funding",
        "--section",
        "working-age",
        "--model",
        "mock",
        "--base-url",
        &url,
        "--started-by",
        "ed",
    ]))
    .await
    .unwrap();
    assert!(run.status.success(), "{}{}", stdout(&run), stderr(&run));

    let queue = sh(with_db(&["review", "queue", "--format", "json"]))
        .await
        .unwrap();
    let items: serde_json::Value = serde_json::from_slice(&queue.stdout).unwrap();
    assert_eq!(items.as_array().unwrap().len(), 2, "{items}");
    let text_queue = sh(with_db(&["review", "queue", "--section", "funding"]))
        .await
        .unwrap();
    assert!(
        stdout(&text_queue).contains("1 draft(s) waiting"),
        "{}",
        stdout(&text_queue)
    );

    let claim = sh(with_db(&[
        "review",
        "claim",
        "--as",
        "rita",
        "--section",
        "working-age",
    ]))
    .await
    .unwrap();
    let shown = stdout(&claim);
    assert!(
        claim.status.success() && shown.contains("claimed draft"),
        "{shown}{}",
        stderr(&claim)
    );
    assert!(
        shown.contains("[1]") && shown.contains("source:"),
        "{shown}"
    );
    let draft = shown
        .split("claimed draft ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .unwrap()
        .to_string();

    let show = sh(with_db(&["review", "show", &draft, "--format", "json"]))
        .await
        .unwrap();
    let view: serde_json::Value = serde_json::from_slice(&show.stdout).unwrap();
    assert_eq!(view["report"]["pass"], true);
    let supported: Vec<&serde_json::Value> = view["figures"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["verdict"] == "supported")
        .collect();
    assert!(!supported.is_empty(), "{view}");
    for f in supported {
        // Every supported figure names its fact: whose, what, when, how much, from where.
        let fact = &f["facts"][0];
        for key in ["owner", "label", "period", "value", "source"] {
            assert!(
                fact[key].as_str().is_some_and(|s| !s.is_empty()),
                "{key}: {f}"
            );
        }
    }

    let own = sh(with_db(&["review", "approve", &draft, "--as", "ed"]))
        .await
        .unwrap();
    assert_eq!(own.status.code(), Some(2));
    assert!(
        stderr(&own).contains("separation of duties"),
        "{}",
        stderr(&own)
    );
    let nobody = sh(with_db(&["review", "approve", &draft])).await.unwrap();
    assert!(stderr(&nobody).contains("--as NAME"), "{}", stderr(&nobody));

    let approve = sh(with_db(&["review", "approve", &draft, "--as", "rita"]))
        .await
        .unwrap();
    assert!(
        approve.status.success(),
        "{}{}",
        stdout(&approve),
        stderr(&approve)
    );
    let version = stdout(&approve)
        .split("version ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .unwrap()
        .to_string();

    let vote = sh(with_db(&[
        "feedback",
        &version,
        "down",
        "--visitor",
        "visitor-token-1",
        "--comment",
        "too long",
    ]))
    .await
    .unwrap();
    assert!(
        stdout(&vote).contains("0 up, 1 down"),
        "{}{}",
        stdout(&vote),
        stderr(&vote)
    );

    let export = sh(with_db(&["export", "--out", &out])).await.unwrap();
    assert!(
        stdout(&export).contains("1 section(s) of approved text for 1 area(s)"),
        "{}",
        stdout(&export)
    );
    let file: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("E08000026.json")).unwrap()).unwrap();
    assert_eq!(file["sections"][0]["version_id"].to_string(), version);
    assert_eq!(file["sections"][0]["feedback"]["down"], 1);

    let history = sh(with_db(&[
        "review",
        "history",
        "--area",
        "Coventry",
        "--section",
        "working-age",
    ]))
    .await
    .unwrap();
    let h = stdout(&history);
    for action in ["queued", "claimed", "approved"] {
        assert!(h.contains(action), "{h}");
    }
    let stale = sh(with_db(&["review", "stale", "--as", "rita"]))
        .await
        .unwrap();
    assert!(
        stdout(&stale).contains("none is stale"),
        "{}",
        stdout(&stale)
    );
}

#[tokio::test]
async fn feedback_items_review_the_published_text_and_close_when_it_is_replaced() {
    each_dialect(|url| async move {
        let store = Store::connect(&url).await.unwrap();
        let set = seed_facts();
        let desk = desk_with_threshold(&store, &set, 1);
        // Published with a reviewer's edit, then sent back by a down vote.
        let id = draft(&store, &set, "ed", "funding", FUNDING).await;
        let edit = format!("{FUNDING} Net spending was £41,267 per 100,000 people.");
        let v1 = published(desk.approve("rita", id, Some(&edit), None).await.unwrap());
        let down = desk
            .vote(v1, &Voter::Staff("sam".into()), Vote::Down, None)
            .await
            .unwrap();
        assert!(down.requeued);
        let view = desk.show(id).await.unwrap();
        assert_eq!(
            view.text, edit,
            "the reviewer sees the published text, not the draft"
        );
        // Kept unedited: the edited text stays live.
        assert!(matches!(
            desk.approve("rita", id, None, None).await.unwrap(),
            Approval::Reaffirmed { version_id } if version_id == v1
        ));
        let live = store
            .published_version(COVENTRY, "funding")
            .await
            .unwrap()
            .unwrap();
        assert_eq!((live.id, live.text.as_str()), (v1, edit.as_str()));

        // Back again; meanwhile another draft is approved: the feedback item closes.
        desk.vote(v1, &Voter::Staff("tom".into()), Vote::Down, None)
            .await
            .unwrap();
        assert_eq!(desk.queue(&QueueFilter::default()).await.unwrap().len(), 1);
        let newer = draft(&store, &set, "ed", "funding", FUNDING).await;
        let v2 = published(desk.approve("rita", newer, None, None).await.unwrap());
        assert!(desk
            .queue(&QueueFilter::default())
            .await
            .unwrap()
            .is_empty());
        assert!(matches!(
            desk.approve("rita", id, None, None).await,
            Err(ReviewError::Decided { .. })
        ));
        assert_eq!(
            store
                .published_version(COVENTRY, "funding")
                .await
                .unwrap()
                .unwrap()
                .id,
            v2
        );
        // Votes go to published versions only.
        assert!(matches!(
            desk.vote(v1, &Voter::Staff("sam".into()), Vote::Up, None)
                .await,
            Err(ReviewError::VersionNotPublished(_))
        ));
        let history = desk.history(COVENTRY, "funding").await.unwrap();
        let actions = actions(&history);
        assert!(actions.contains(&"closed"), "{actions:?}");
        store.close().await;
    })
    .await;
}

#[tokio::test]
async fn keeping_failing_text_after_feedback_records_the_override() {
    each_dialect(|url| async move {
        let store = Store::connect(&url).await.unwrap();
        let old = seed_facts();
        let settings = ReviewSettings {
            down_vote_threshold: 1,
            ..settings()
        };
        let desk = Desk::new(&store, &old, settings.clone());
        let id = draft(&store, &old, "ed", "funding", FUNDING).await;
        let v = published(desk.approve("rita", id, None, None).await.unwrap());
        desk.vote(v, &Voter::Staff("sam".into()), Vote::Down, None)
            .await
            .unwrap();
        // The figure changes in the data; kept anyway, with a reason.
        let dir = tempfile::tempdir().unwrap();
        let new = refreshed_data(dir.path());
        let desk = Desk::new(&store, &new, settings);
        assert!(matches!(
            desk.approve("rita", id, None, None).await.unwrap(),
            Approval::CheckFailed { .. }
        ));
        assert!(matches!(
            desk.approve(
                "rita",
                id,
                None,
                Some("the council disputes the new figure")
            )
            .await
            .unwrap(),
            Approval::Reaffirmed { .. }
        ));
        let kept = store.version(v).await.unwrap().unwrap();
        assert!(!kept.pass && !kept.stale);
        assert_eq!(
            kept.override_reason.as_deref(),
            Some("the council disputes the new figure")
        );
        // Approved over those flags, it is not stale on the facts it was kept against.
        let summary = desk.recheck_published().await.unwrap();
        assert!(summary.newly_stale.is_empty(), "{summary:?}");
        store.close().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_rechecks_mark_and_regenerate_each_page_once() {
    each_dialect(|url| async move {
        let store = Store::connect(&url).await.unwrap();
        let old = seed_facts();
        let desk = Desk::new(&store, &old, settings());
        let id = draft(&store, &old, "ed", "funding", FUNDING).await;
        published(desk.approve("rita", id, None, None).await.unwrap());
        let dir = tempfile::tempdir().unwrap();
        let new = std::sync::Arc::new(refreshed_data(dir.path()));
        let mut tasks = Vec::new();
        for _ in 0..4 {
            let (url, new) = (url.clone(), new.clone());
            tasks.push(tokio::spawn(async move {
                let store = Store::connect(&url).await.unwrap();
                let out = Desk::new(&store, &new, settings())
                    .recheck_published()
                    .await
                    .unwrap();
                store.close().await;
                out
            }));
        }
        let mut stale = 0;
        let mut runs = 0;
        for t in tasks {
            let s = t.await.unwrap();
            stale += s.newly_stale.len();
            runs += s.runs.len();
        }
        assert_eq!((stale, runs), (1, 1));
        assert_eq!(
            store.runs(10).await.unwrap().len(),
            2,
            "the draft's run and one regeneration"
        );
        store.close().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_down_votes_reach_the_threshold_exactly_once() {
    each_dialect(|url| async move {
        let set = std::sync::Arc::new(seed_facts());
        let store = Store::connect(&url).await.unwrap();
        let id = draft(&store, &set, "ed", "funding", FUNDING).await;
        let v = published(
            Desk::new(&store, &set, settings())
                .approve("rita", id, None, None)
                .await
                .unwrap(),
        );
        let mut tasks = Vec::new();
        for i in 0..6 {
            let (url, set) = (url.clone(), set.clone());
            tasks.push(tokio::spawn(async move {
                let store = Store::connect(&url).await.unwrap();
                let desk = Desk::new(
                    &store,
                    &set,
                    ReviewSettings {
                        down_vote_threshold: 3,
                        ..settings()
                    },
                );
                let voter = review::visitor(&format!("visitor-token-{i}"), &format!("network-{i}"))
                    .unwrap();
                let out = desk.vote(v, &voter, Vote::Down, None).await.unwrap();
                store.close().await;
                out
            }));
        }
        let mut requeued = 0;
        for t in tasks {
            requeued += usize::from(t.await.unwrap().requeued);
        }
        assert_eq!(requeued, 1);
        assert_eq!(store.vote_counts(v).await.unwrap().down, 6);
        store.close().await;
    })
    .await;
}

#[tokio::test]
async fn separation_of_duties_ignores_case_and_claims_skip_ones_own_runs() {
    each_dialect(|url| async move {
        let store = Store::connect(&url).await.unwrap();
        let set = seed_facts();
        let desk = Desk::new(&store, &set, settings());
        let own = draft(&store, &set, "ed", "funding", FUNDING).await;
        let other = draft(&store, &set, "sam", "working-age", WORKING_AGE).await;
        assert!(matches!(
            desk.approve(" Ed ", own, None, None).await,
            Err(ReviewError::OwnRun { .. })
        ));
        let claimed = desk
            .claim("ED", None, &QueueFilter::default())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(claimed.draft_id, other, "ed's own draft is passed over");
        // A rejected draft is not "current": the next run of the scope generates again.
        desk.reject("ED", other, "wrong emphasis").await.unwrap();
        let reuse = store
            .reusable_draft(
                COVENTRY,
                "working-age",
                &store.draft_row(other).await.unwrap().unwrap().facts_fp,
                "p",
                "mock",
                "{}",
            )
            .await
            .unwrap();
        assert_eq!(reuse, None);
        store.close().await;
    })
    .await;
}

#[tokio::test]
async fn synthetic_councils_load_from_their_own_folder_and_the_export_refuses_them() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("synthetic");
    let made = crate::helpers::narrator(&[
        "synth",
        "--areas",
        "3",
        "--seed",
        "7",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(made.status.success(), "{}", crate::helpers::stderr(&made));
    let check = crate::helpers::narrator(&["--data", out.to_str().unwrap(), "facts", "check"]);
    assert!(check.status.success(), "{}", crate::helpers::stderr(&check));
    let set = facts::load(&out).unwrap();
    let code = "X99000001";
    assert!(set
        .find_area(code)
        .unwrap()
        .name()
        .contains("not a real council"));
    let url = format!("sqlite://{}", dir.path().join("s.db").display());
    let store = Store::connect(&url).await.unwrap();
    let desk = Desk::new(&store, &set, settings());
    let id = draft_for(
        &store,
        &set,
        "ed",
        code,
        "carers",
        "The charts show how carers fare.",
    )
    .await;
    published(desk.approve("rita", id, None, None).await.unwrap());
    let err = export::export(&store, &dir.path().join("site"), StalePolicy::Keep)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("synthetic"), "{err}");
    assert!(!dir
        .path()
        .join("site")
        .join(format!("{code}.json"))
        .exists());
    store.close().await;
}

#[tokio::test]
async fn store_verify_passes_a_sound_store_and_names_each_broken_invariant() {
    each_dialect(|url| async move {
        let store = Store::connect(&url).await.unwrap();
        let set = seed_facts();
        let desk = Desk::new(&store, &set, settings());
        let a = draft(&store, &set, "ed", "funding", FUNDING).await;
        draft(
            &store,
            &set,
            "ed",
            "working-age",
            "Coventry had 99,999 requests.",
        )
        .await;
        published(desk.approve("rita", a, None, None).await.unwrap());
        let sound = store.verify().await.unwrap();
        assert!(sound.problems.is_empty(), "{:?}", sound.problems);
        assert_eq!((sound.drafts, sound.versions), (2, 1));

        let pool = sqlx::AnyPool::connect(&url).await.unwrap();
        let job = store.draft_row(a).await.unwrap().unwrap().job_id;
        sqlx::query("UPDATE jobs SET attempts = 0 WHERE id = $1")
            .bind(job)
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
        let broken = store.verify().await.unwrap();
        assert_eq!(
            broken.problems,
            vec![format!(
                "{job} has more drafts stored than attempts counted"
            )]
        );
        if url.starts_with("sqlite") {
            let out = crate::helpers::narrator(&["store", "verify", "--database-url", &url]);
            assert_eq!(out.status.code(), Some(1));
            assert!(
                crate::helpers::stdout(&out).contains("BROKEN"),
                "{}",
                crate::helpers::stdout(&out)
            );
        }
        store.close().await;
    })
    .await;
}

/// The line under a text names the data it quotes, not the page's latest period: a carers
/// text quoting the Census and the 2023-24 survey rests on both, in calendar order.
#[test]
fn a_texts_data_basis_is_the_periods_and_sources_of_the_figures_it_quotes() {
    let set = seed_facts();
    let area = set.find_area(COVENTRY).unwrap();
    let view = set.section_facts(area, set.find_section("carers").unwrap());
    let text = "At the 2021 Census, Coventry had about 7,960 unpaid carers per 100,000 people. \
                In 2023-24, 25.8% of carers said they saw other people as often as they wanted.";
    let report = narrator::check::check(text, &view);
    assert!(report.pass, "{report:?}");
    let basis = facts::DataBasis::of(report.quoted_facts(), &view);
    assert_eq!(basis.earliest, "Census 2021");
    assert_eq!(basis.latest, "2024 (2023-24)");
    assert_eq!(
        basis.sources,
        [
            "NOMIS NM_2213_1",
            "Survey of Adult Carers in England (SACE) Q11"
        ]
    );
    assert_eq!(
        basis.summary,
        "Census 2021 to 2024 (2023-24); sources: NOMIS NM_2213_1; Survey of Adult Carers in England (SACE) Q11"
    );
    // A text with no figure rests on no data, and says so by being empty.
    let none = narrator::check::check("Caring matters.", &view);
    assert_eq!(
        facts::DataBasis::of(none.quoted_facts(), &view),
        facts::DataBasis::default()
    );
}
