//! The check report: one verdict per mention, serialisable to JSON and printable for people.

use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::fmt::Write as _;

/// What the checker concluded about one mention. These names are used in the JSON report.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Supported,
    Derived,
    Period,
    Structural,
    Unsupported,
    Misattributed,
    WrongPeriod,
    WrongDirection,
}

impl Verdict {
    pub const ALL: [Verdict; 8] = [
        Verdict::Supported,
        Verdict::Derived,
        Verdict::Period,
        Verdict::Structural,
        Verdict::Unsupported,
        Verdict::Misattributed,
        Verdict::WrongPeriod,
        Verdict::WrongDirection,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Verdict::Supported => "supported",
            Verdict::Derived => "derived",
            Verdict::Period => "period",
            Verdict::Structural => "structural",
            Verdict::Unsupported => "unsupported",
            Verdict::Misattributed => "misattributed",
            Verdict::WrongPeriod => "wrong_period",
            Verdict::WrongDirection => "wrong_direction",
        }
    }

    pub fn parse(raw: &str) -> Option<Verdict> {
        Verdict::ALL.into_iter().find(|v| v.name() == raw)
    }

    /// Flagged verdicts make a report fail.
    pub fn is_flag(self) -> bool {
        matches!(
            self,
            Verdict::Unsupported
                | Verdict::Misattributed
                | Verdict::WrongPeriod
                | Verdict::WrongDirection
        )
    }
}

/// How a derived figure was computed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Derivation {
    pub operation: Cow<'static, str>,
    pub facts: Vec<String>,
    pub value: f64,
}

/// One numeric mention and what the checker made of it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Mention {
    /// Byte offsets into the checked text.
    pub span: (usize, usize),
    pub text: String,
    pub value: Option<f64>,
    pub unit: Cow<'static, str>,
    /// The hedge rule the figure was judged by (`about`, `nearly`, `over`, `under`), if any.
    #[serde(default)]
    pub hedge: Option<Cow<'static, str>>,
    pub verdict: Verdict,
    /// Fact ids `area:metric:period` the verdict rests on.
    #[serde(default)]
    pub facts: Vec<String>,
    #[serde(default)]
    pub derivation: Option<Derivation>,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Report {
    pub pass: bool,
    pub mentions: Vec<Mention>,
}

impl Report {
    pub(crate) fn new(mentions: Vec<Mention>) -> Self {
        let pass = !mentions.iter().any(|m| m.verdict.is_flag());
        Self { pass, mentions }
    }

    pub fn flagged(&self) -> impl Iterator<Item = &Mention> {
        self.mentions.iter().filter(|m| m.verdict.is_flag())
    }

    /// The ids of the facts the text's proven figures rest on: each supported figure's fact
    /// and derived figures' operands. Flagged figures rest on nothing; years and structural numbers
    /// are not data.
    pub fn quoted_facts(&self) -> impl Iterator<Item = &str> {
        // A supported figure rests on the fact it was matched to (the first; the others
        // merely share its value); a derived one on all its operands.
        self.mentions.iter().flat_map(|m| {
            let n = match m.verdict {
                Verdict::Supported => m.facts.len().min(1),
                Verdict::Derived => m.facts.len(),
                _ => 0,
            };
            m.facts[..n].iter().map(String::as_str)
        })
    }

    pub fn count(&self, verdict: Verdict) -> usize {
        self.mentions
            .iter()
            .filter(|m| m.verdict == verdict)
            .count()
    }

    /// A report as stored (`to_json`): the store keeps reports as JSON text.
    pub fn from_json(json: &str) -> Result<Report, serde_json::Error> {
        serde_json::from_str(json)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("reports always serialise")
    }

    /// For people: a summary line, then each flagged sentence with a caret under the figure.
    pub fn render_text(&self, text: &str) -> String {
        let mut out = String::new();
        let counts: Vec<String> = Verdict::ALL
            .iter()
            .filter(|v| self.count(**v) > 0)
            .map(|v| format!("{} {}", self.count(*v), v.name()))
            .collect();
        let _ = writeln!(
            out,
            "{}: {} figures ({})",
            if self.pass { "PASS" } else { "FAIL" },
            self.mentions.len(),
            counts.join(", ")
        );
        for m in self.flagged() {
            let line_start = text[..m.span.0].rfind('\n').map_or(0, |i| i + 1);
            let line_end = text[m.span.1..]
                .find('\n')
                .map_or(text.len(), |i| m.span.1 + i);
            let line_no = text[..m.span.0].matches('\n').count() + 1;
            // Show at most ~100 characters around the figure so the caret stays readable.
            let from = floor_char(text, m.span.0.saturating_sub(60).max(line_start));
            let to = ceil_char(text, (m.span.1 + 40).min(line_end));
            let prefix = format!("  line {line_no}: ");
            let _ = writeln!(out, "\n{}: {}", m.verdict.name(), m.message);
            let _ = writeln!(out, "{prefix}{}", &text[from..to]);
            let pad = prefix.chars().count() + text[from..m.span.0].chars().count();
            let width = text[m.span.0..m.span.1].chars().count().max(1);
            let _ = writeln!(out, "{}{}", " ".repeat(pad), "^".repeat(width));
        }
        out
    }
}

fn floor_char(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil_char(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i += 1;
    }
    i
}
