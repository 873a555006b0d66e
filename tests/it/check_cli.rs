//! `narrator check` and `narrator eval-checker` as a user runs them.

use crate::helpers::{narrator, root, stderr, stdout};
use std::io::Write;
use std::process::{Command, Stdio};

fn check_stdin(args: &[&str], text: &str) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_narrator"))
        .args(args)
        .current_dir(root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn a_passing_narrative_exits_zero() {
    let text = "In 2023-24, 37.4% of carers in Bath and North East Somerset had as much social contact as they wanted, well above the England average of 29.3%.";
    let out = check_stdin(
        &["check", "--area", "E06000022", "--section", "carers"],
        text,
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(stdout(&out).starts_with("PASS"), "{}", stdout(&out));
}

#[test]
fn a_flagged_figure_exits_one_with_a_caret_under_it() {
    let text = "In 2023-24, 37.4% of carers in Bath and North East Somerset had as much social contact as they wanted, below the England average of 29.3%.";
    let out = check_stdin(
        &[
            "check",
            "--area",
            "Bath and North East Somerset",
            "--section",
            "carers",
            "-",
        ],
        text,
    );
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let report = stdout(&out);
    assert!(report.starts_with("FAIL"), "{report}");
    assert!(report.contains("wrong_direction"), "{report}");
    let lines: Vec<&str> = report.lines().collect();
    let caret = lines
        .iter()
        .position(|l| l.trim_start().starts_with('^'))
        .expect("a caret line");
    let quoted = lines[caret - 1];
    let col = lines[caret].find('^').unwrap();
    assert!(
        quoted[col..].starts_with("29.3%"),
        "caret not under the figure:\n{quoted}\n{}",
        lines[caret]
    );
}

#[test]
fn json_reports_every_mention_with_its_verdict_and_facts() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("draft.txt");
    let text = "In 2023-24, the council spent £46,917.19 per 100,000 people, slightly below the England average of £47,758.16, a gap of £840.97.";
    std::fs::write(&file, text).unwrap();
    let out = narrator(&[
        "check",
        "--area",
        "E06000022",
        "--section",
        "funding",
        "--format",
        "json",
        file.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["pass"], true);
    let verdicts: Vec<&str> = report["mentions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["verdict"].as_str().unwrap())
        .collect();
    assert_eq!(
        verdicts,
        ["period", "supported", "structural", "supported", "derived"]
    );
    let derived = &report["mentions"][4];
    assert_eq!(derived["derivation"]["operation"], "difference");
    assert_eq!(derived["facts"].as_array().unwrap().len(), 2);
    let (start, end) = (
        derived["span"][0].as_u64().unwrap() as usize,
        derived["span"][1].as_u64().unwrap() as usize,
    );
    assert_eq!(&text[start..end], "£840.97");
    assert!(derived["message"]
        .as_str()
        .unwrap()
        .contains("E92000001:funding_gross_per_100k:2023-24"));
}

#[test]
fn usage_and_input_errors_exit_two() {
    let out = narrator(&[
        "check",
        "--area",
        "E06000022",
        "--section",
        "carers",
        "no/such/draft.txt",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no/such/draft.txt"),
        "{}",
        stderr(&out)
    );
    let out = narrator(&["check", "--area", "E06000022"]);
    assert_eq!(out.status.code(), Some(2), "clap usage errors exit 2");
}

#[test]
fn eval_checker_prints_the_catch_rates_and_meets_its_targets() {
    let out = narrator(&["eval-checker"]);
    let report = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{report}");
    for line in [
        "change a digit",
        "swap council and England",
        "attribute to another place",
        "overall",
        "false flags on unmutated passing narratives: 0",
        "coincidence rate",
        "targets:",
    ] {
        assert!(report.contains(line), "{line} missing from:\n{report}");
    }
}
