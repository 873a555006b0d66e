//! `narrator facts check`: the real data passes; each bad fixture fails with file:line:column.

use crate::helpers::{copy_dir, narrator, stderr, stdout};

#[test]
fn the_repository_data_passes_the_check() {
    let out = narrator(&["facts", "check"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("ok:"), "{}", stdout(&out));
}

/// (fixture folder, where the problem is, what the message says)
const BAD: &[(&str, &str, &str)] = &[
    (
        "unknown-area",
        "facts/fixture.csv:2:1",
        "unknown area E06000099",
    ),
    (
        "unknown-metric",
        "facts/fixture.csv:2:11",
        "unknown metric populace",
    ),
    (
        "duplicate-fact",
        "facts/fixture.csv:9:1",
        "duplicate fact: E06000022 population 2023 is already given at",
    ),
    (
        "not-a-number",
        "facts/fixture.csv:3:42",
        "expected a plain finite number",
    ),
    (
        "category-value",
        "facts/fixture.csv:8:38",
        "expected one of Outstanding / Good / Requires improvement / Inadequate",
    ),
    (
        "percent-range",
        "facts/fixture.csv:5:41",
        "expected a percent from 0 to 100",
    ),
    (
        "negative-count",
        "facts/fixture.csv:2:27",
        "expected a non-negative value for population",
    ),
    ("bad-period", "facts/fixture.csv:3:34", "expected a period"),
    (
        "section-unknown-metric",
        "sections.toml:4:63",
        "section carers names unknown metric cqc_overall_ratings",
    ),
    (
        "missing-england",
        "sections.toml:7:12",
        "missing England comparator: section carers compares carers_social_contact",
    ),
    (
        "unknown-unit",
        "metrics.toml:20:8",
        "expected a unit, one of count, percent",
    ),
    (
        "area-parent",
        "areas.csv:4:43",
        "unknown parent area E12000008",
    ),
    (
        "facts-header",
        "facts/fixture.csv:1:1",
        "expected the header",
    ),
    (
        "toml-syntax",
        "metrics.toml:3:29",
        "invalid metric catalogue",
    ),
];

#[test]
fn each_bad_fixture_fails_with_its_location_and_reason_only() {
    for (fixture, location, message) in BAD {
        let dir = format!("tests/fixtures/bad/{fixture}");
        let out = narrator(&["--data", &dir, "facts", "check"]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{fixture}: {err}");
        let expected = format!("{dir}/{location}: {message}");
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(
            lines.len(),
            2,
            "{fixture}: exactly one problem expected:\n{err}"
        );
        assert!(
            lines[0].starts_with(&expected),
            "{fixture}:\n  expected {expected}\n  found    {}",
            lines[0]
        );
        assert!(stdout(&out).is_empty(), "{fixture}: nothing on stdout");
    }
}

#[test]
fn every_problem_is_reported_at_once() {
    let out = narrator(&["--data", "tests/fixtures/bad/many", "facts", "check"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1));
    for location in ["fixture.csv:2:27", "fixture.csv:3:42", "fixture.csv:8:30"] {
        assert!(err.contains(location), "{location} missing from:\n{err}");
    }
    assert!(err.contains("3 problem(s) found"), "{err}");
}

#[test]
fn the_check_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("data");
    copy_dir(
        &crate::helpers::root().join("tests/fixtures/bad/many"),
        &copy,
    );
    let before = listing(dir.path());
    let out = narrator(&["--data", copy.to_str().unwrap(), "facts", "check"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(listing(dir.path()), before);
}

#[test]
fn a_missing_data_folder_is_an_input_error_naming_it() {
    let out = narrator(&["--data", "no/such/folder", "facts", "check"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no/such/folder"), "{}", stderr(&out));
}

fn listing(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                out.push((path, bytes));
            }
        }
    }
    out.sort();
    out
}
