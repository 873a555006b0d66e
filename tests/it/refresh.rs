//! The annual refresh drill (issue 14, item 8), on the command line as an editor works it:
//! publish `outcomes` texts for eight councils, import next year's release of the national
//! table with one value revised, and watch staleness at work. Exactly the texts quoting the
//! revised figure, or a median or rank it moved, go stale; a regeneration run is queued for
//! exactly those pages; a second re-check changes nothing; a worker regenerates them.

use crate::helpers::{copy_dir, data_dir, narrator, root, stderr, stdout};
use crate::mock_llm::{MockLlm, Reply};
use narrator::facts::{self, AreaCode, FactSet, MetricId, PeerComparison, Peers, Period};
use std::path::{Path, PathBuf};
use std::process::Output;

/// The revised value: Wolverhampton's share of service users who found information easy to
/// find (ASC3, `outcome_users_info_easy`) in 2022-23, 65.9 in the table, 67.4 in the "new
/// release". 67.4 stays below England's median (67.5), so that median does not move; it
/// crosses the West Midlands median (66.6, which becomes 67.35) and passes Sandwell's 67.3
/// (which falls from 7th to 8th highest of 14 in the region), and ties Walsall's 67.4 (whose
/// rank holds: tied values share the better rank).
const WOLVERHAMPTON: &str = "E08000031";
const CODE: &str = "ASC3";
const METRIC: &str = "outcome_users_info_easy";
const YEAR: &str = "2022-23";
const OLD: &str = "65.9";
const NEW: &str = "67.4";

const SANDWELL: &str = "E08000028";
const DUDLEY: &str = "E08000027";
const COVENTRY: &str = "E08000026";
const WALSALL: &str = "E08000030";
const BIRMINGHAM: &str = "E08000025";
const SURREY: &str = "E10000030";
const HACKNEY: &str = "E09000012";

/// What the re-check after the import must do to a published page.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Expect {
    /// No longer passes: marked stale, this figure flagged with this verdict.
    Stale(&'static str, &'static str),
    /// Its facts' fingerprint changed (a mean or median of the revised measure and year is
    /// in its prompt); re-checked, still passes, not stale.
    StillPasses,
    /// Its facts' fingerprint did not change: not even re-checked.
    Untouched,
}

/// One published text per council; each was checked by hand against `facts show`.
const PAGES: [(&str, &str, Expect); 8] = [
    // Quotes the revised figure itself.
    (
        WOLVERHAMPTON,
        "In 2022-23, 65.9% of people using services in Wolverhampton found information easy to find, below the median for councils in England of 67.5%.",
        Expect::Stale("65.9%", "unsupported"),
    ),
    // Quotes a rank the revision moves: Wolverhampton overtakes Sandwell (7th lowest now).
    (
        SANDWELL,
        "In 2022-23, 67.3% of people using services in Sandwell found information easy to find, the 7th highest of 14 councils in the West Midlands.",
        Expect::Stale("7th", "wrong_direction"),
    ),
    // Quotes a median the revision moves: the West Midlands', 66.6% to 67.35%.
    (
        DUDLEY,
        "In 2022-23, 69.1% of people using services in Dudley found information easy to find, above the median for councils in the West Midlands of 66.6%.",
        Expect::Stale("66.6%", "unsupported"),
    ),
    // Same measure and year, same region: England's median (unmoved), its own rank in the
    // region (unmoved: Wolverhampton stays below 70.5%) and its figure of the year before.
    (
        COVENTRY,
        "In 2022-23, 70.5% of people using services in Coventry found information easy to find, above the median for councils in England of 67.5%, and up from 66.2% the year before. Coventry was the 3rd highest of 14 councils in the West Midlands.",
        Expect::StillPasses,
    ),
    // Another measure, and a rank Wolverhampton now ties: the tie shares the better rank.
    (
        WALSALL,
        "In 2022-23, 75.0% of people who had short-term support in Walsall needed no further support, below the median for councils in England of 78.2%. In the same year 67.4% of people using services in Walsall found information easy to find, the 6th highest of 14 councils in the West Midlands.",
        Expect::StillPasses,
    ),
    // A rank among all councils counted from the end the revision does not touch.
    (
        BIRMINGHAM,
        "In 2022-23, 61.1% of people using services in Birmingham found information easy to find, below the median for councils in England of 67.5%. Across England it was the 14th lowest of 149 councils.",
        Expect::StillPasses,
    ),
    // Elsewhere (South East): England's median of the revised measure, and another measure.
    (
        SURREY,
        "In 2022-23, 70.3% of people using services in Surrey found information easy to find, above the median for councils in England of 67.5%. Care staff turnover in Surrey was 36.3%, well above the median of 28.0%.",
        Expect::StillPasses,
    ),
    // Elsewhere (London), with no ASC3 figure for 2022-23: nothing in its prompt changes.
    (
        HACKNEY,
        "Staff turnover in Hackney was 16.3% in 2022-23, well below the median for councils in England of 28.0%.",
        Expect::Untouched,
    ),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revised_figure_makes_stale_exactly_the_texts_it_touches_and_queues_their_regeneration() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    copy_dir(&data_dir(), &data);
    let db = format!("sqlite://{}", tmp.path().join("narrator.db").display());
    // The scripted model answers each page's run with its text, in order; after the script,
    // it writes drafts from the prompt's own table (the regeneration).
    let script = PAGES.iter().map(|(_, text, _)| Reply::chat(text)).collect();
    let mock = MockLlm::start(script, true).await;
    let cli = Cli {
        data: data.clone(),
        db: db.clone(),
        model_url: mock.url.clone(),
    };

    // 1. Publish: one run per council (an editor's `run`), one approval each (a reviewer's).
    let mut versions = Vec::new();
    for (area, text, _) in PAGES {
        let out = cli
            .run(&[
                "run",
                "--area",
                area,
                "--section",
                "outcomes",
                "--started-by",
                "ed",
            ])
            .await;
        assert!(
            out.status.success(),
            "{area}: {}{}",
            stdout(&out),
            stderr(&out)
        );
        let queue = cli
            .desk(&["review", "queue", "--area", area, "--format", "json"])
            .await;
        let items: serde_json::Value = serde_json::from_slice(&queue.stdout).unwrap();
        let items = items.as_array().unwrap();
        assert_eq!(items.len(), 1, "{area}: {items:?}");
        let draft = items[0]["draft_id"].as_i64().unwrap();
        let shown = cli
            .desk(&["review", "show", &draft.to_string(), "--format", "json"])
            .await;
        let view: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
        assert_eq!(
            view["text"], text,
            "{area}: the scripted answer is the draft"
        );
        assert_eq!(view["report"]["pass"], true, "{area}: {view}");
        let approve = cli
            .desk(&["review", "approve", &draft.to_string(), "--as", "rita"])
            .await;
        assert!(
            approve.status.success(),
            "{area}: {}{}",
            stdout(&approve),
            stderr(&approve)
        );
        versions.push(after_word(&stdout(&approve), "published as version "));
    }
    assert_eq!(
        mock.requests().len(),
        PAGES.len(),
        "one answer per page, none re-asked"
    );
    let version_of = |area: &str| versions[PAGES.iter().position(|p| p.0 == area).unwrap()];
    let calm = cli.stale().await;
    assert_eq!(calm["recheck"]["published"], 8);
    assert_eq!(calm["recheck"]["checked"], 0, "nothing changed yet: {calm}");
    let runs_before = cli.runs().await;
    assert_eq!(runs_before.len(), 8, "{runs_before:?}");
    let old_set = facts::load(&data).unwrap();

    // 2. Next year's release: the shared table with one value revised, imported.
    let release = tmp.path().join("ascof-oflog-next.csv");
    let (original, revised) = next_years_release(&release);
    assert_eq!(changed_lines(&original, &revised).len(), 1);
    let facts_csv = data.join("facts/ascof-oflog.csv");
    let facts_before = std::fs::read_to_string(&facts_csv).unwrap();
    let mapping = data.join("imports/ascof-oflog.toml");
    let import = cli
        .plain(&[
            "facts",
            "import",
            mapping.to_str().unwrap(),
            "--input",
            release.to_str().unwrap(),
        ])
        .await;
    assert!(import.status.success(), "{}", stderr(&import));
    let report = stdout(&import);
    // The editor reads which values the release revised before committing.
    for line in [
        "6073 values for 156 councils, 2015-16 to 2022-23".to_string(),
        "0 areas new to areas.csv".to_string(),
        "against the data before: 1 value(s) revised, 0 added, 0 removed".to_string(),
        format!("  revised {WOLVERHAMPTON} {METRIC} {YEAR}: {OLD}% -> {NEW}%"),
        format!("wrote {}", facts_csv.display()),
        format!("unchanged {}", data.join("areas.csv").display()),
    ] {
        assert!(report.lines().any(|l| l == line), "{line:?} in:\n{report}");
    }
    let facts_after = std::fs::read_to_string(&facts_csv).unwrap();
    let source = "\"Adult Social Care Outcomes Framework (NHS England), as published by Oflog (Open Government Licence)\",";
    assert_eq!(
        changed_lines(&facts_before, &facts_after),
        [(
            format!("{WOLVERHAMPTON},{METRIC},{YEAR},{OLD},{source}"),
            format!("{WOLVERHAMPTON},{METRIC},{YEAR},{NEW},{source}")
        )],
        "exactly one fact changed"
    );
    let check = cli.plain(&["facts", "check"]).await;
    assert!(check.status.success(), "{}", stderr(&check));
    let new_set = facts::load(&data).unwrap();
    the_revision_moves_what_the_texts_expect(&old_set, &new_set);

    // 3. The re-check, as an editor asks for it.
    let stale = cli.stale().await;
    let recheck = &stale["recheck"];
    let expected_stale: Vec<i64> = PAGES
        .iter()
        .filter(|p| matches!(p.2, Expect::Stale(..)))
        .map(|p| version_of(p.0))
        .collect();
    assert_eq!(recheck["published"], 8, "{recheck}");
    assert_eq!(
        recheck["checked"], 7,
        "all but Hackney's facts changed: {recheck}"
    );
    assert_eq!(recheck["changed_but_passing"], 4, "{recheck}");
    assert_eq!(
        sorted(ids(&recheck["newly_stale"])),
        expected_stale,
        "{recheck}"
    );
    assert_eq!(ids(&recheck["fresh_again"]), Vec::<i64>::new());
    let queued = ids(&recheck["runs"]);
    assert_eq!(queued.len(), 1, "one regeneration run: {recheck}");
    let listed = stale["stale"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_i64().unwrap())
        .collect();
    assert_eq!(
        sorted(listed),
        expected_stale,
        "review stale lists the stale versions"
    );

    // Each page as expected, read from the store.
    let store = narrator::store::Store::connect(&db).await.unwrap();
    for (area, _, expect) in PAGES {
        let v = store.version(version_of(area)).await.unwrap().unwrap();
        assert_eq!(
            (v.area_code.as_str(), v.state.as_str()),
            (area, "published")
        );
        match expect {
            Expect::Stale(figure, verdict) => {
                assert!(v.stale, "{area} should be stale");
                let report: serde_json::Value =
                    serde_json::from_str(v.stale_report.as_deref().unwrap()).unwrap();
                let flagged: Vec<(&str, &str)> = report["mentions"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|m| {
                        !["supported", "derived", "period", "structural"]
                            .contains(&m["verdict"].as_str().unwrap())
                    })
                    .map(|m| (m["text"].as_str().unwrap(), m["verdict"].as_str().unwrap()))
                    .collect();
                assert_eq!(flagged, [(figure, verdict)], "{area}");
                assert_ne!(v.checked_fp, v.facts_fp, "{area}");
            }
            Expect::StillPasses => {
                assert!(!v.stale && v.stale_report.is_none(), "{area} went stale");
                assert_ne!(
                    v.checked_fp, v.facts_fp,
                    "{area} was re-checked against the new facts"
                );
            }
            Expect::Untouched => {
                assert!(!v.stale, "{area} went stale");
                assert_eq!(v.checked_fp, v.facts_fp, "{area} needed no re-check");
            }
        }
    }
    store.close().await;

    // The regeneration run: started by narrator, for exactly the stale pages, waiting.
    let run = cli.run_show(queued[0]).await;
    assert_eq!(run["run"]["started_by"], "narrator", "{run}");
    assert_eq!(run["run"]["scope"], "stale:3", "{run}");
    assert_eq!(
        run["run"]["model"], "mock",
        "the model that wrote them: {run}"
    );
    assert_eq!(run["run"]["status"], "running", "{run}");
    let mut jobs: Vec<(String, String, String)> = run["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| {
            let s = |k: &str| j[k].as_str().unwrap().to_string();
            (s("area_code"), s("section"), s("status"))
        })
        .collect();
    jobs.sort();
    let page = |a: &str| (a.to_string(), "outcomes".to_string(), "queued".to_string());
    assert_eq!(jobs, [page(DUDLEY), page(SANDWELL), page(WOLVERHAMPTON)]);
    let history = cli
        .desk(&[
            "review",
            "history",
            "--area",
            WOLVERHAMPTON,
            "--section",
            "outcomes",
            "--format",
            "json",
        ])
        .await;
    let history: serde_json::Value = serde_json::from_slice(&history.stdout).unwrap();
    let marked = history
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "stale")
        .unwrap_or_else(|| panic!("no stale entry: {history}"));
    assert_eq!(marked["actor"], "narrator");
    let detail = marked["detail"].as_str().unwrap();
    assert!(
        detail.contains("65.9% (unsupported)")
            && detail.contains(&format!("regeneration queued in run {}", queued[0])),
        "{detail}"
    );

    // 4. Again, and through another command that re-checks first: nothing changes.
    let again = cli.stale().await;
    assert_eq!(again["recheck"]["checked"], 0, "{again}");
    assert_eq!(ids(&again["recheck"]["newly_stale"]), Vec::<i64>::new());
    assert_eq!(ids(&again["recheck"]["runs"]), Vec::<i64>::new());
    let queue = cli.desk(&["review", "queue"]).await;
    assert!(queue.status.success(), "{}", stderr(&queue));
    assert!(
        !stderr(&queue).contains("facts changed"),
        "{}",
        stderr(&queue)
    );
    assert!(
        stdout(&queue).contains("0 draft(s) waiting"),
        "{}",
        stdout(&queue)
    );
    assert_eq!(
        cli.runs().await.len(),
        9,
        "the eight runs and one regeneration"
    );

    // The site keeps stale text, flagged, until its replacement is approved.
    let site = tmp.path().join("site");
    let export = cli.desk(&["export", "--out", site.to_str().unwrap()]).await;
    assert!(export.status.success(), "{}", stderr(&export));
    for (area, _, expect) in PAGES {
        let file: serde_json::Value =
            serde_json::from_slice(&std::fs::read(site.join(format!("{area}.json"))).unwrap())
                .unwrap();
        let status = &file["sections"][0]["check_status"];
        let want = if matches!(expect, Expect::Stale(..)) {
            "stale"
        } else {
            "passed"
        };
        assert_eq!(status, want, "{area}");
    }

    // 5. A worker takes the regeneration; the new drafts wait for review and, approved,
    // replace the stale text.
    let worker = cli.run(&["worker", "--exit-when-idle"]).await;
    assert!(
        worker.status.success(),
        "{}{}",
        stdout(&worker),
        stderr(&worker)
    );
    let run = cli.run_show(queued[0]).await;
    assert_eq!(run["run"]["status"], "finished", "{run}");
    let queue = cli.desk(&["review", "queue", "--format", "json"]).await;
    let items: serde_json::Value = serde_json::from_slice(&queue.stdout).unwrap();
    let mut waiting: Vec<(String, i64)> = items
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["area_code"].as_str().unwrap().to_string(),
                i["draft_id"].as_i64().unwrap(),
            )
        })
        .collect();
    waiting.sort();
    let areas: Vec<&str> = waiting.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(areas, [DUDLEY, SANDWELL, WOLVERHAMPTON], "{items}");
    for (area, draft) in &waiting {
        let approve = cli
            .desk(&["review", "approve", &draft.to_string(), "--as", "rita"])
            .await;
        assert!(
            approve.status.success(),
            "{area}: {}{}",
            stdout(&approve),
            stderr(&approve)
        );
        assert!(
            stdout(&approve).contains(&format!("(version {} superseded)", version_of(area))),
            "{}",
            stdout(&approve)
        );
    }
    let settled = cli.stale().await;
    assert_eq!(settled["stale"], serde_json::json!([]), "{settled}");
}

/// Checks the premise of `PAGES` with narrator's own computation, before and after: which
/// medians and ranks of the revised measure and year moved, and which pages' facts changed.
fn the_revision_moves_what_the_texts_expect(old: &FactSet, new: &FactSet) {
    let median =
        |set: &FactSet, area: &str, peers: Peers| standing(set, area, peers).median.grouped();
    assert_eq!(median(old, WOLVERHAMPTON, Peers::AllCouncils), "67.5");
    assert_eq!(
        median(new, WOLVERHAMPTON, Peers::AllCouncils),
        "67.5",
        "England's median holds"
    );
    assert_eq!(median(old, DUDLEY, Peers::RegionCouncils), "66.6");
    assert_eq!(
        median(new, DUDLEY, Peers::RegionCouncils),
        "67.35",
        "the region's moves"
    );
    let rank = |set: &FactSet, area: &str| standing(set, area, Peers::RegionCouncils).rank;
    assert_eq!(
        (rank(old, SANDWELL), rank(new, SANDWELL)),
        (7, 8),
        "Sandwell is overtaken"
    );
    assert_eq!(
        (rank(old, WALSALL), rank(new, WALSALL)),
        (6, 6),
        "Walsall is tied"
    );
    assert_eq!((rank(old, COVENTRY), rank(new, COVENTRY)), (3, 3));
    let from_lowest =
        |set: &FactSet| standing(set, BIRMINGHAM, Peers::AllCouncils).rank_from_lowest;
    assert_eq!((from_lowest(old), from_lowest(new)), (14, 14));
    for (area, _, expect) in PAGES {
        let fingerprint = |set: &FactSet| {
            let a = set.find_area(area).unwrap();
            set.section_facts(a, set.find_section("outcomes").unwrap())
                .fingerprint()
        };
        assert_eq!(
            fingerprint(old) == fingerprint(new),
            expect == Expect::Untouched,
            "{area}'s facts"
        );
    }
}

/// Where a council's 2022-23 ASC3 value stands among a group.
fn standing(set: &FactSet, area: &str, peers: Peers) -> PeerComparison {
    let (area, metric) = (
        AreaCode::parse(area).unwrap(),
        MetricId::parse(METRIC).unwrap(),
    );
    let period = Period::parse(YEAR).unwrap();
    let fact = set
        .facts_for(&area, &metric)
        .find(|f| f.period() == period)
        .unwrap();
    set.compare_with(fact, &peers).unwrap()
}

/// Writes the shared national table to `to` with Wolverhampton's 2022-23 ASC3 value revised,
/// every other byte as it was; returns both texts. The row is found by parsing the CSV (the
/// measure's name holds a quoted comma) and rewritten with the same quoting, which is checked
/// by writing the unchanged row first.
fn next_years_release(to: &Path) -> (String, String) {
    let original = std::fs::read_to_string(shared_table()).unwrap();
    let mut reader = csv::Reader::from_reader(original.as_bytes());
    let headers = reader.headers().unwrap().clone();
    let column = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (year, code, measure, value) = (
        column("Financial year"),
        column("Local authority code"),
        column("Code"),
        column("Value"),
    );
    let mut record = csv::StringRecord::new();
    let mut found = Vec::new();
    loop {
        let start = usize::try_from(reader.position().byte()).unwrap();
        if !reader.read_record(&mut record).unwrap() {
            break;
        }
        let end = usize::try_from(reader.position().byte()).unwrap();
        if (&record[year], &record[code], &record[measure]) == (YEAR, WOLVERHAMPTON, CODE) {
            found.push((start, end, record.clone()));
        }
    }
    assert_eq!(found.len(), 1, "one row for {WOLVERHAMPTON} {CODE} {YEAR}");
    let (start, end, row) = found.pop().unwrap();
    assert_eq!(&row[value], OLD);
    let write = |row: &csv::StringRecord| {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(row).unwrap();
        String::from_utf8(w.into_inner().unwrap()).unwrap()
    };
    assert_eq!(
        write(&row),
        original[start..end],
        "the row is written back as it was read"
    );
    let revised_row: csv::StringRecord = row
        .iter()
        .enumerate()
        .map(|(i, field)| if i == value { NEW } else { field })
        .collect();
    let revised = format!(
        "{}{}{}",
        &original[..start],
        write(&revised_row),
        &original[end..]
    );
    std::fs::write(to, &revised).unwrap();
    (original, revised)
}

/// The shared table, found as the import tests find it: beside the repository.
fn shared_table() -> PathBuf {
    root().join("../shared/data/ascof-oflog.csv")
}

/// The lines that differ between two texts of the same number of lines: (before, after).
fn changed_lines(before: &str, after: &str) -> Vec<(String, String)> {
    assert_eq!(before.lines().count(), after.lines().count());
    before
        .lines()
        .zip(after.lines())
        .filter(|(a, b)| a != b)
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

fn sorted(mut ids: Vec<i64>) -> Vec<i64> {
    ids.sort_unstable();
    ids
}

fn ids(v: &serde_json::Value) -> Vec<i64> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|i| i.as_i64().unwrap())
        .collect()
}

/// The number after `marker` in `text` ("published as version 12").
fn after_word(text: &str, marker: &str) -> i64 {
    text.split(marker)
        .nth(1)
        .and_then(|s| s.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no {marker:?} in {text:?}"))
}

/// The editor's shell: `narrator --data <the copy> ...`, run off the async runtime so the
/// scripted model keeps answering.
struct Cli {
    data: PathBuf,
    db: String,
    model_url: String,
}

impl Cli {
    /// A command that needs neither the store nor the model.
    async fn plain(&self, args: &[&str]) -> Output {
        let mut all = vec!["--data".to_string(), self.data.display().to_string()];
        all.extend(args.iter().map(|s| s.to_string()));
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = all.iter().map(String::as_str).collect();
            narrator(&args)
        })
        .await
        .unwrap()
    }

    /// A command on the store.
    async fn desk(&self, args: &[&str]) -> Output {
        let mut all = args.to_vec();
        all.extend(["--database-url", &self.db]);
        self.plain(&all).await
    }

    /// A command on the store and the scripted model: `run` and `worker` take the same
    /// settings, so the worker takes the regeneration runs made for the model that wrote.
    async fn run(&self, args: &[&str]) -> Output {
        let mut all = args.to_vec();
        all.extend(["--model", "mock", "--base-url", &self.model_url]);
        self.desk(&all).await
    }

    /// `review stale --format json`: the re-check's summary and the stale versions.
    async fn stale(&self) -> serde_json::Value {
        let out = self
            .desk(&["review", "stale", "--as", "ed", "--format", "json"])
            .await;
        assert!(out.status.success(), "{}", stderr(&out));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    async fn run_show(&self, id: i64) -> serde_json::Value {
        let out = self
            .desk(&["runs", "show", &id.to_string(), "--format", "json"])
            .await;
        assert!(out.status.success(), "{}", stderr(&out));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// `runs list`: one line per run after the header.
    async fn runs(&self) -> Vec<String> {
        let out = self.desk(&["runs", "list"]).await;
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out).lines().skip(1).map(str::to_string).collect()
    }
}
