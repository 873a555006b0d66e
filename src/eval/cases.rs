//! Golden check cases: narratives with every figure annotated `[text]{verdict}`.

use crate::check::{Report, Verdict};
use anyhow::{bail, Context, Result};
use regex::Regex;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

static ANNOTATION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\[([^\[\]]+)\]\{([a-z_]+)\}").expect("the annotation pattern is valid")
});

/// One golden case: which prompt's facts to check against, the plain text, and the expected
/// verdict of every figure (byte spans into the plain text).
#[derive(Clone, Debug)]
pub struct Case {
    pub path: PathBuf,
    pub area: String,
    pub section: String,
    pub text: String,
    pub expected: Vec<((usize, usize), Verdict)>,
}

impl Case {
    /// Cases named `pass-*` are narratives every figure of which must pass.
    pub fn is_passing_narrative(&self) -> bool {
        self.path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("pass-"))
    }

    pub fn parse(path: &Path, raw: &str) -> Result<Case> {
        let (header, body) = raw.split_once("\n---\n").with_context(|| {
            format!(
                "{}: expected a header, a line `---`, then the text",
                path.display()
            )
        })?;
        let mut area = None;
        let mut section = None;
        for (n, line) in header.lines().enumerate() {
            let Some((k, v)) = line.split_once('=') else {
                bail!("{}:{}: expected `key = value`", path.display(), n + 1);
            };
            match k.trim() {
                "area" => area = Some(v.trim().to_string()),
                "section" => section = Some(v.trim().to_string()),
                other => bail!("{}:{}: unknown header key {other:?}", path.display(), n + 1),
            }
        }
        let mut text = String::with_capacity(body.len());
        let mut expected = Vec::new();
        let mut last = 0;
        for caps in ANNOTATION.captures_iter(body) {
            let whole = caps.get(0).expect("group 0");
            text.push_str(&body[last..whole.start()]);
            let start = text.len();
            text.push_str(&caps[1]);
            let verdict = Verdict::parse(&caps[2]).with_context(|| {
                let line = body[..whole.start()].matches('\n').count() + header.lines().count() + 2;
                format!("{}:{line}: unknown verdict {:?}", path.display(), &caps[2])
            })?;
            expected.push(((start, text.len()), verdict));
            last = whole.end();
        }
        text.push_str(&body[last..]);
        Ok(Case {
            path: path.to_path_buf(),
            area: area.with_context(|| format!("{}: header lacks `area = `", path.display()))?,
            section: section
                .with_context(|| format!("{}: header lacks `section = `", path.display()))?,
            text,
            expected,
        })
    }

    /// The case file as it would be written with `report`'s verdicts (for re-blessing).
    pub fn with_verdicts(&self, report: &Report) -> String {
        format!(
            "area = {}\nsection = {}\n---\n{}",
            self.area,
            self.section,
            annotate(&self.text, report)
        )
    }
}

/// Every `*.txt` case under `dir` (one folder per area), sorted by path.
pub fn load_cases(dir: &Path) -> Result<Vec<Case>> {
    let mut paths = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).with_context(|| format!("reading {}", d.display()))? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "txt") {
                paths.push(path);
            }
        }
    }
    paths.sort();
    paths
        .iter()
        .map(|p| {
            let raw =
                std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            Case::parse(p, &raw)
        })
        .collect()
}

/// `text` with every mention of `report` wrapped as `[text]{verdict}`.
pub fn annotate(text: &str, report: &Report) -> String {
    let mut out = String::with_capacity(text.len() + report.mentions.len() * 12);
    let mut last = 0;
    for m in &report.mentions {
        out.push_str(&text[last..m.span.0]);
        out.push_str(&format!(
            "[{}]{{{}}}",
            &text[m.span.0..m.span.1],
            m.verdict.name()
        ));
        last = m.span.1;
    }
    out.push_str(&text[last..]);
    out
}

/// Differences between a case's expected verdicts and a report, one line each.
pub fn compare(case: &Case, report: &Report) -> Vec<String> {
    let mut problems = Vec::new();
    let got: Vec<((usize, usize), Verdict)> = report
        .mentions
        .iter()
        .map(|m| (m.span, m.verdict))
        .collect();
    for (span, verdict) in &case.expected {
        match got.iter().find(|(s, _)| s == span) {
            None => problems.push(format!(
                "{:?} ({}) was not found as a figure",
                &case.text[span.0..span.1],
                verdict.name()
            )),
            Some((_, v)) if v != verdict => {
                let m = report
                    .mentions
                    .iter()
                    .find(|m| m.span == *span)
                    .expect("found above");
                problems.push(format!(
                    "{:?}: expected {}, got {} ({})",
                    &case.text[span.0..span.1],
                    verdict.name(),
                    v.name(),
                    m.message
                ))
            }
            _ => {}
        }
    }
    for m in &report.mentions {
        if !case.expected.iter().any(|(s, _)| *s == m.span) {
            problems.push(format!(
                "{:?} found as a figure ({}) but not annotated",
                m.text,
                m.verdict.name()
            ));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotations_are_stripped_and_located() {
        let raw = "area = E06000022\nsection = carers\n---\nIn [2023-24]{period}, [37.4%]{supported} said so.\n";
        let case = Case::parse(Path::new("x.txt"), raw).unwrap();
        assert_eq!(case.text, "In 2023-24, 37.4% said so.\n");
        assert_eq!(
            case.expected,
            vec![((3, 10), Verdict::Period), ((12, 17), Verdict::Supported)]
        );
    }

    #[test]
    fn an_unknown_verdict_is_an_error_naming_the_file() {
        let raw = "area = A\nsection = s\n---\n[5]{fine}\n";
        let err = Case::parse(Path::new("c.txt"), raw)
            .unwrap_err()
            .to_string();
        assert!(err.contains("c.txt") && err.contains("fine"), "{err}");
    }
}
