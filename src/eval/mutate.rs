//! The mutation harness: breaks passing golden narratives in known ways and counts how many
//! broken texts the checker flags.

use super::cases::Case;
use crate::check::{self, Report, Verdict};
use crate::facts::{format_grouped, FactSet, SectionFacts, ENGLAND};
use anyhow::{Context, Result};
use std::fmt::Write as _;

/// Targets from the issue: overall catch rate, the lowest per kind, false flags.
pub const OVERALL_TARGET: f64 = 0.99;
pub const KIND_TARGET: f64 = 0.95;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum MutantKind {
    Digit,
    Decimal,
    SwapCouncilEngland,
    Year,
    FlipComparison,
    /// A comparison word in the sentence after its figures ("X. This is higher than Y.").
    FlipAcrossSentences,
    UnitSwap,
    TimesTen,
    WrongRounding,
    OtherPlace,
    /// The owner named after the figure ("338.7 per 100,000 used them in Coventry").
    OtherPlaceAfter,
    /// A rank counted from the other end ("12th highest" for "12th lowest").
    RankEnd,
    /// A trend claim turned round ("fell for two years running" for "rose", "lowest since").
    TrendWay,
    /// A run made a year longer ("three years running" for "two").
    RunLength,
    /// Where the council stands, in words, turned round ("bottom quarter" for "top quarter",
    /// "below the median" for "above").
    Standing,
}

impl MutantKind {
    pub const ALL: [MutantKind; 15] = [
        MutantKind::Digit,
        MutantKind::Decimal,
        MutantKind::SwapCouncilEngland,
        MutantKind::Year,
        MutantKind::FlipComparison,
        MutantKind::FlipAcrossSentences,
        MutantKind::UnitSwap,
        MutantKind::TimesTen,
        MutantKind::WrongRounding,
        MutantKind::OtherPlace,
        MutantKind::OtherPlaceAfter,
        MutantKind::RankEnd,
        MutantKind::TrendWay,
        MutantKind::RunLength,
        MutantKind::Standing,
    ];

    pub fn name(self) -> &'static str {
        match self {
            MutantKind::Digit => "change a digit",
            MutantKind::Decimal => "move the decimal point",
            MutantKind::SwapCouncilEngland => "swap council and England",
            MutantKind::Year => "change a year",
            MutantKind::FlipComparison => "flip a comparison word",
            MutantKind::FlipAcrossSentences => "flip a comparison in the next sentence",
            MutantKind::UnitSwap => "swap % and per 100,000",
            MutantKind::TimesTen => "multiply by 10",
            MutantKind::WrongRounding => "round to the wrong precision",
            MutantKind::OtherPlace => "attribute to another place",
            MutantKind::OtherPlaceAfter => "another place, named after the figure",
            MutantKind::RankEnd => "count a rank from the other end",
            MutantKind::TrendWay => "turn a trend round",
            MutantKind::RunLength => "lengthen a run",
            MutantKind::Standing => "turn a quarter or median claim round",
        }
    }

    /// Kinds that put a wrong number in the text, for the coincidence rate.
    fn is_numeric(self) -> bool {
        matches!(
            self,
            MutantKind::Digit
                | MutantKind::Decimal
                | MutantKind::TimesTen
                | MutantKind::WrongRounding
        )
    }
}

pub(super) struct Mutant {
    pub(super) kind: MutantKind,
    pub(super) text: String,
    /// Byte offset of the changed figure in the mutant, for the coincidence rate.
    pub(super) at: Option<usize>,
}

#[derive(Debug, Default)]
pub struct Summary {
    /// (kind, mutants, caught)
    pub kinds: Vec<(MutantKind, usize, usize)>,
    pub passing_cases: usize,
    pub false_flags: Vec<String>,
    pub numeric_mutants: usize,
    pub coincidences: usize,
    /// Each escaped mutant: case, kind, the text around it and what the checker made of it.
    pub escapes: Vec<String>,
    pub show_all_escapes: bool,
}

impl Summary {
    pub fn total(&self) -> (usize, usize) {
        self.kinds
            .iter()
            .fold((0, 0), |(m, c), k| (m + k.1, c + k.2))
    }

    pub fn meets_targets(&self) -> bool {
        let (m, c) = self.total();
        let overall = m > 0 && c as f64 / m as f64 >= OVERALL_TARGET;
        // A kind our golden texts give no chance to (no owner after a figure) is not a miss.
        let each = self
            .kinds
            .iter()
            .filter(|k| k.1 > 0)
            .all(|&(_, m, c)| c as f64 / m as f64 >= KIND_TARGET);
        overall && each && self.false_flags.is_empty()
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "mutation harness over {} passing golden narratives",
            self.passing_cases
        );
        render_kinds(&mut out, &self.kinds);
        let _ = writeln!(
            out,
            "false flags on unmutated passing narratives: {}",
            self.false_flags.len()
        );
        for f in &self.false_flags {
            let _ = writeln!(out, "  {f}");
        }
        let _ = writeln!(
            out,
            "coincidence rate (a wrong figure judged supported or derived): {} of {} numeric mutants, {:.2}%",
            self.coincidences,
            self.numeric_mutants,
            pct(self.coincidences, self.numeric_mutants)
        );
        render_escapes(&mut out, &self.escapes, self.show_all_escapes);
        let _ = writeln!(
            out,
            "targets: overall >= {:.0}%, every kind >= {:.0}%, no false flags: {}",
            OVERALL_TARGET * 100.0,
            KIND_TARGET * 100.0,
            if self.meets_targets() {
                "met"
            } else {
                "NOT met"
            }
        );
        out
    }
}

/// Counts one mutant of `kind` in its row, caught or not; returns `caught`.
pub(super) fn tally(
    kinds: &mut [(MutantKind, usize, usize)],
    kind: MutantKind,
    caught: bool,
) -> bool {
    let row = kinds
        .iter_mut()
        .find(|k| k.0 == kind)
        .expect("every kind has a row");
    row.1 += 1;
    row.2 += usize::from(caught);
    caught
}

/// The table of mutant kinds with an overall row, shared by the golden and corpus reports.
pub(super) fn render_kinds(out: &mut String, kinds: &[(MutantKind, usize, usize)]) {
    let _ = writeln!(
        out,
        "{:<40} {:>8} {:>8} {:>9}",
        "mutant kind", "mutants", "caught", "rate"
    );
    let (mut total, mut caught) = (0, 0);
    for &(kind, m, c) in kinds {
        let _ = writeln!(out, "{:<40} {m:>8} {c:>8} {:>8.1}%", kind.name(), pct(c, m));
        total += m;
        caught += c;
    }
    let _ = writeln!(
        out,
        "{:<40} {total:>8} {caught:>8} {:>8.1}%",
        "overall",
        pct(caught, total)
    );
}

/// The escaped mutants, the first ten unless `all`.
pub(super) fn render_escapes(out: &mut String, escapes: &[String], all: bool) {
    let shown = if all { escapes.len() } else { 10 };
    for e in escapes.iter().take(shown) {
        let _ = writeln!(out, "  escaped: {e}");
    }
    if escapes.len() > shown {
        let _ = writeln!(
            out,
            "  ... and {} more escaped mutants (--show-escapes lists them)",
            escapes.len() - shown
        );
    }
}

fn pct(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 * 100.0 / b as f64
    }
}

/// Runs every passing narrative and all its mutants through the checker.
pub fn evaluate(set: &FactSet, cases: &[Case]) -> Result<Summary> {
    let mut summary = Summary {
        kinds: MutantKind::ALL.iter().map(|k| (*k, 0, 0)).collect(),
        ..Summary::default()
    };
    for case in cases.iter().filter(|c| c.is_passing_narrative()) {
        let area = set
            .find_area(&case.area)
            .map_err(anyhow::Error::msg)
            .with_context(|| case.path.display().to_string())?;
        let section = set
            .find_section(&case.section)
            .map_err(anyhow::Error::msg)
            .with_context(|| case.path.display().to_string())?;
        let facts = set.section_facts(area, section);
        let report = check::check(&case.text, &facts);
        summary.passing_cases += 1;
        for m in report.flagged() {
            summary.false_flags.push(format!(
                "{}: {:?} {}: {}",
                case.path.display(),
                m.text,
                m.verdict.name(),
                m.message
            ));
        }
        for mutant in mutants(&case.text, &report, &facts) {
            let got = check::check(&mutant.text, &facts);
            let caught = !got.pass;
            if !tally(&mut summary.kinds, mutant.kind, caught) {
                let judged = got
                    .mentions
                    .iter()
                    .find(|m| Some(m.span.0) == mutant.at)
                    .map_or(String::new(), |m| {
                        format!(" -> {:?} {}: {}", m.text, m.verdict.name(), m.message)
                    });
                summary.escapes.push(format!(
                    "{} [{}]: ...{}...{judged}",
                    case.path.display(),
                    mutant.kind.name(),
                    excerpt(&mutant.text, mutant.at)
                ));
            }
            if mutant.kind.is_numeric() {
                summary.numeric_mutants += 1;
                let accepted = got.mentions.iter().any(|m| {
                    Some(m.span.0) == mutant.at
                        && matches!(m.verdict, Verdict::Supported | Verdict::Derived)
                });
                if accepted {
                    summary.coincidences += 1;
                }
            }
        }
    }
    Ok(summary)
}

pub(super) fn excerpt(text: &str, at: Option<usize>) -> String {
    let at = at.unwrap_or(0).min(text.len());
    let mut from = at.saturating_sub(60);
    while !text.is_char_boundary(from) {
        from -= 1;
    }
    let mut to = (at + 40).min(text.len());
    while !text.is_char_boundary(to) {
        to += 1;
    }
    text[from..to].replace('\n', " ")
}

/// The numeric core of a figure's text ("74.6" in "£74.6m"): its byte range in the mention.
fn core(text: &str) -> Option<(usize, usize)> {
    let start = text.find(|c: char| c.is_ascii_digit())?;
    let len = text[start..]
        .find(|c: char| !(c.is_ascii_digit() || c == ',' || c == '.'))
        .unwrap_or(text.len() - start);
    let core = text[start..start + len].trim_end_matches(['.', ',']);
    Some((start, start + core.len()))
}

fn parse_core(core: &str) -> (f64, usize) {
    let plain: String = core.chars().filter(|c| *c != ',').collect();
    let decimals = plain.split_once('.').map_or(0, |(_, f)| f.len());
    (plain.parse().unwrap_or(0.0), decimals)
}

fn splice(text: &str, start: usize, end: usize, with: &str) -> String {
    format!("{}{}{}", &text[..start], with, &text[end..])
}

pub(super) fn mutants(text: &str, report: &Report, facts: &SectionFacts) -> Vec<Mutant> {
    let mut out = Vec::new();
    let numeric = |m: &&check::Mention| {
        matches!(m.verdict, Verdict::Supported | Verdict::Derived)
            && !matches!(m.unit.as_ref(), "ratio" | "fraction")
            && core(&m.text).is_some()
    };
    for m in report.mentions.iter().filter(numeric) {
        // A hedged figure with a changed last digit or rounding can still be true ("more than
        // 8,001" of 8,010), so hedged figures only get the mutants that make them false.
        let hedged = m.hedge.is_some();
        let (cs, ce) = core(&m.text).expect("filtered above");
        let (s, e) = (m.span.0 + cs, m.span.0 + ce);
        let (value, decimals) = parse_core(&text[s..e]);
        let mut push_number = |kind, new_core: String| {
            if new_core != text[s..e] {
                out.push(Mutant {
                    kind,
                    text: splice(text, s, e, &new_core),
                    at: Some(m.span.0),
                });
            }
        };
        // Change the last digit.
        let last = text[s..e]
            .rfind(|c: char| c.is_ascii_digit())
            .expect("a core has digits");
        let d = text[s + last..]
            .chars()
            .next()
            .and_then(|c| c.to_digit(10))
            .expect("a digit");
        let mut changed = text[s..e].to_string();
        changed.replace_range(last..last + 1, &((d + 1) % 10).to_string());
        if !hedged {
            push_number(MutantKind::Digit, changed);
        }
        // Move the decimal point one place left.
        push_number(
            MutantKind::Decimal,
            format_grouped(value / 10.0, decimals + 1),
        );
        push_number(MutantKind::TimesTen, format_grouped(value * 10.0, decimals));
        // Round to one place fewer, the wrong way.
        let places = decimals.saturating_sub(1) as i32;
        let unit = 10f64.powi(-places) * if decimals == 0 { 10.0 } else { 1.0 };
        let (lo, hi) = ((value / unit).floor() * unit, (value / unit).ceil() * unit);
        let right = if value - lo < hi - value { lo } else { hi };
        let wrong = if (hi - lo).abs() < 1e-9 {
            value + unit
        } else if right == lo {
            hi
        } else {
            lo
        };
        // A figure exactly half-way (17.5) may round either way: no wrong direction to test.
        let tie = ((value - lo) - (hi - value)).abs() < unit * 1e-6;
        if !tie && !hedged {
            push_number(
                MutantKind::WrongRounding,
                format_grouped(wrong, places.max(0) as usize),
            );
        }
        // Swap % and per 100,000.
        if m.unit == "percent" {
            let pct_at = m.span.0
                + m.text
                    .find('%')
                    .or_else(|| m.text.find(" per cent"))
                    .unwrap_or(m.text.len());
            let pct_end = if m.text.contains('%') {
                pct_at + 1
            } else {
                m.span.1
            };
            out.push(Mutant {
                kind: MutantKind::UnitSwap,
                text: splice(text, pct_at, pct_end, " per 100,000"),
                at: Some(m.span.0),
            });
        } else if m.unit == "per_100k" {
            let window_end = (m.span.1 + 60).min(text.len());
            let window_end = (window_end..=text.len())
                .find(|&i| text.is_char_boundary(i))
                .unwrap_or(text.len());
            if let Some(p) = text[m.span.1..window_end].find(" per 100,000") {
                let start = m.span.1 + p;
                let removed = splice(text, start, start + " per 100,000".len(), "");
                out.push(Mutant {
                    kind: MutantKind::UnitSwap,
                    text: splice(&removed, m.span.1, m.span.1, "%"),
                    at: Some(m.span.0),
                });
            }
        }
    }
    // Change a year.
    for m in report
        .mentions
        .iter()
        .filter(|m| m.verdict == Verdict::Period)
    {
        if let Some(new) = earlier_period(&m.text) {
            out.push(Mutant {
                kind: MutantKind::Year,
                text: splice(text, m.span.0, m.span.1, &new),
                at: Some(m.span.0),
            });
        }
    }
    // Swap the council's and England's figures of one metric within a sentence.
    let council = facts.area().code().as_str().to_string();
    let owner_of = |m: &check::Mention| -> Option<(String, String)> {
        let id = m.facts.first()?;
        let mut parts = id.splitn(3, ':');
        Some((parts.next()?.to_string(), parts.next()?.to_string()))
    };
    let supported: Vec<&check::Mention> = report
        .mentions
        .iter()
        .filter(|m| m.verdict == Verdict::Supported)
        .collect();
    for (i, a) in supported.iter().enumerate() {
        for b in &supported[i + 1..] {
            let (Some((oa, ma)), Some((ob, mb))) = (owner_of(a), owner_of(b)) else {
                continue;
            };
            if ma == mb
                && oa == council
                && ob == ENGLAND
                && a.text != b.text
                && b.span.0 - a.span.1 < 300
            {
                let swapped = format!(
                    "{}{}{}{}{}",
                    &text[..a.span.0],
                    b.text,
                    &text[a.span.1..b.span.0],
                    a.text,
                    &text[b.span.1..]
                );
                out.push(Mutant {
                    kind: MutantKind::SwapCouncilEngland,
                    text: swapped,
                    at: Some(a.span.0),
                });
            }
        }
    }
    // Flip the comparison word between two figures.
    let values: Vec<&check::Mention> = report
        .mentions
        .iter()
        .filter(|m| m.verdict == Verdict::Supported && m.unit != "period")
        .collect();
    let sentences = crate::check::sentences(text);
    let sentence_of = |at: usize| sentences.iter().position(|&(s, e)| s <= at && at < e);
    for pair in values.windows(2) {
        let (sa, sb) = (sentence_of(pair[0].span.0), sentence_of(pair[1].span.0));
        // "…1,930 requests. This is lower than the national average of 1,143.48": the word
        // sits in the next sentence, before its own figure. Words in sentences between two
        // figures that quote none ("This suggests a smaller share…") are not mutated: the
        // checker does not yet read comparisons without figures of their own.
        let (kind, from) = match (sa, sb) {
            (Some(a), Some(b)) if a + 1 == b && same_measure(pair[0], pair[1]) => (
                MutantKind::FlipAcrossSentences,
                sentences[b].0.max(pair[0].span.1),
            ),
            (a, b) if a == b => (MutantKind::FlipComparison, pair[0].span.1),
            _ => continue,
        };
        let between = &text[from..pair[1].span.0];
        if let Some((at, len, opposite)) = last_comparison_word(between) {
            let start = from + at;
            out.push(Mutant {
                kind,
                text: splice(text, start, start + len, opposite),
                at: Some(pair[1].span.0),
            });
        }
    }
    // Give a figure to another place: the owner word before it in its sentence.
    let name = facts.area().name();
    let mut prev_end = 0;
    for m in report
        .mentions
        .iter()
        .filter(|m| m.verdict == Verdict::Supported)
    {
        let sentence_start = sentences
            .iter()
            .find(|(s, e)| *s <= m.span.0 && m.span.0 < *e)
            .map_or(0, |(s, _)| *s);
        prev_end = prev_end.max(sentence_start);
        let segment = &text[prev_end..m.span.0];
        let cue = [
            "the England average",
            "the national average",
            "England's",
            "England",
            "nationally",
            name,
        ]
        .iter()
        .filter_map(|c| segment.rfind(c).map(|i| (i, *c)))
        .max_by_key(|(i, _)| *i);
        if let Some((i, c)) = cue {
            let replacement = in_london(c);
            let start = prev_end + i;
            out.push(Mutant {
                kind: MutantKind::OtherPlace,
                text: splice(text, start, start + c.len(), replacement),
                at: Some(m.span.0),
            });
        }
        prev_end = m.span.1;
        // The owner named after the figure, within its clause: "… 338.7 per 100,000 in England".
        let after = &text[m.span.1..];
        let clause = after.find([',', ';', ':', '.', '(']).unwrap_or(after.len());
        let after = &after[..clause];
        let cue = ["in England", "for England", "nationally", name]
            .iter()
            .filter_map(|c| after.find(c).map(|i| (i, *c)))
            .min_by_key(|(i, _)| *i);
        if let Some((i, c)) = cue {
            let replacement = in_london(c);
            let start = m.span.1 + i;
            out.push(Mutant {
                kind: MutantKind::OtherPlaceAfter,
                text: splice(text, start, start + c.len(), replacement),
                at: Some(m.span.0),
            });
        }
    }
    trend_mutants(text, report, &sentences, &mut out);
    standing_mutants(text, report, &mut out);
    out
}

/// Word pairs a rank or a trend claim turns on, both ways.
const RANK_WORDS: [(&str, &str); 2] = [("highest", "lowest"), ("best", "worst")];
const TREND_WORDS: [(&str, &str); 7] = [
    ("rose", "fell"),
    ("risen", "fallen"),
    ("increased", "decreased"),
    ("improved", "worsened"),
    ("highest", "lowest"),
    ("best", "worst"),
    ("grew", "shrank"),
];

/// The opposite of `word` under `pairs`, keeping its capital.
fn opposite(word: &str, pairs: &[(&str, &str)]) -> Option<String> {
    let lower = word.to_lowercase();
    let other = pairs.iter().find_map(|&(a, b)| {
        if lower == a {
            Some(b)
        } else if lower == b {
            Some(a)
        } else {
            None
        }
    })?;
    Some(if word.starts_with(char::is_uppercase) {
        let mut c = other.chars();
        c.next()
            .map_or(String::new(), |f| f.to_uppercase().chain(c).collect())
    } else {
        other.to_string()
    })
}

/// The last word of `pairs` in `segment`, as (offset, length, replacement).
fn last_word_of(segment: &str, pairs: &[(&str, &str)]) -> Option<(usize, usize, String)> {
    let mut found = None;
    let mut at = 0;
    for word in segment.split(|c: char| !c.is_alphabetic()) {
        let start = at;
        at += word.len() + 1;
        if let Some(o) = opposite(word, pairs) {
            found = Some((start, word.len(), o));
        }
    }
    found
}

/// Ranks counted from the other end, trend claims turned round and runs made longer: the
/// mistakes a writer makes with a series and a league table.
fn trend_mutants(text: &str, report: &Report, sentences: &[(usize, usize)], out: &mut Vec<Mutant>) {
    let sentence_start = |at: usize| {
        sentences
            .iter()
            .find(|(s, e)| *s <= at && at < *e)
            .map_or(0, |(s, _)| *s)
    };
    for m in &report.mentions {
        let is_rank = m.verdict == Verdict::Supported
            && m.facts.first().is_some_and(|id| id.contains("~rank"));
        if is_rank {
            let after = &text[m.span.1..];
            let end = after.find(['.', ',', ';']).unwrap_or(after.len()).min(20);
            if let Some((at, len, o)) = last_word_of(&after[..end], &RANK_WORDS) {
                let start = m.span.1 + at;
                out.push(Mutant {
                    kind: MutantKind::RankEnd,
                    text: splice(text, start, start + len, &o),
                    at: Some(m.span.0),
                });
            }
        }
        let is_run = m
            .derivation
            .as_ref()
            .is_some_and(|d| d.operation == "run_of_changes");
        let is_claim = m.verdict == Verdict::Period
            && (m.message.contains(" since ") || m.message.contains(" value after "));
        if is_run || is_claim {
            let from = sentence_start(m.span.0);
            if let Some((at, len, o)) = last_word_of(&text[from..m.span.0], &TREND_WORDS) {
                let start = from + at;
                out.push(Mutant {
                    kind: MutantKind::TrendWay,
                    text: splice(text, start, start + len, &o),
                    at: Some(m.span.0),
                });
            }
        }
        if is_run {
            let longer = match m.text.to_lowercase().split_whitespace().next() {
                Some("two") => Some("three"),
                Some("three") => Some("four"),
                Some("four") => Some("five"),
                _ => None,
            };
            if let Some(longer) = longer {
                let word_end = m.span.0 + m.text.split_whitespace().next().map_or(0, str::len);
                out.push(Mutant {
                    kind: MutantKind::RunLength,
                    text: splice(text, m.span.0, word_end, longer),
                    at: Some(m.span.0),
                });
            }
        }
    }
}

const STANDING_WORDS: [(&str, &str); 6] = [
    ("top", "bottom"),
    ("highest", "lowest"),
    ("upper", "lower"),
    ("best", "worst"),
    ("above", "below"),
    ("better", "worse"),
];

/// A claim in words about where the council stands ("in the top quarter", "below the
/// median"), its first word turned to the other end.
fn standing_mutants(text: &str, report: &Report, out: &mut Vec<Mutant>) {
    let figures: Vec<usize> = report
        .mentions
        .iter()
        .filter(|m| m.value.is_some() && m.verdict != Verdict::Period)
        .map(|m| m.span.0)
        .collect();
    for (start, end, _) in check::standing_claims(text, &figures) {
        let claim = &text[start..end];
        let first = claim
            .split(|c: char| !c.is_alphabetic())
            .next()
            .unwrap_or("");
        if let Some(o) = opposite(first, &STANDING_WORDS) {
            out.push(Mutant {
                kind: MutantKind::Standing,
                text: splice(text, start, start + first.len(), &o),
                at: Some(start),
            });
        }
    }
}

/// An owner cue moved to London, another place with no facts, in the same grammar.
fn in_london(cue: &str) -> &'static str {
    match cue {
        "the England average" | "the national average" => "the London average",
        "England's" => "London's",
        "nationally" | "in England" => "in London",
        "for England" => "for London",
        _ => "London",
    }
}

/// Do two mentions rest on one measure (the council's figure and its comparator's)? Only
/// then is a comparison word in the second one's sentence about the pair.
fn same_measure(a: &check::Mention, b: &check::Mention) -> bool {
    let metric = |id: &String| id.split(':').nth(1).map(str::to_string);
    a.facts
        .iter()
        .filter_map(metric)
        .any(|m| b.facts.iter().filter_map(metric).any(|n| n == m))
}

/// A period one year earlier, written the same way.
fn earlier_period(p: &str) -> Option<String> {
    let digits: String = p.chars().filter(char::is_ascii_digit).collect();
    if digits.len() == 4 {
        let y: u32 = digits.parse().ok()?;
        return Some(p.replace(&digits, &(y - 1).to_string()));
    }
    if digits.len() >= 6 && (p.contains('-') || p.contains('/')) {
        let sep = if p.contains('-') { '-' } else { '/' };
        let (a, b) = p.split_once(sep)?;
        let y: u32 = a.trim().parse().ok()?;
        let b = b.trim();
        let second = if b.len() == 4 {
            (y).to_string()
        } else {
            format!("{:02}", y % 100)
        };
        return Some(format!("{}{sep}{second}", y - 1));
    }
    None
}

fn last_comparison_word(segment: &str) -> Option<(usize, usize, &'static str)> {
    const PAIRS: [(&str, &str); 16] = [
        ("higher", "lower"),
        ("lower", "higher"),
        ("above", "below"),
        ("below", "above"),
        ("greater", "smaller"),
        ("smaller", "greater"),
        ("more", "fewer"),
        ("fewer", "more"),
        ("less", "more"),
        ("exceeds", "trails"),
        ("exceeding", "trailing"),
        ("in line with", "well above"),
        ("similar to", "much higher than"),
        ("close to", "far below"),
        ("ahead of", "behind"),
        ("behind", "ahead of"),
    ];
    let lower = segment.to_lowercase();
    let lower = lower.as_str();
    let mut best: Option<(usize, usize, &'static str)> = None;
    for (w, o) in PAIRS {
        for (i, _) in lower.match_indices(w) {
            let end = i + w.len();
            let bounded = crate::check::whole_word(lower, i, end, false);
            if bounded && best.is_none_or(|(b, _, _)| i > b) {
                best = Some((i, w.len(), o));
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earlier_period_keeps_the_written_form() {
        assert_eq!(earlier_period("2024").as_deref(), Some("2023"));
        assert_eq!(earlier_period("2023-24").as_deref(), Some("2022-23"));
        assert_eq!(earlier_period("2023/24").as_deref(), Some("2022/23"));
        assert_eq!(
            earlier_period("November 2024").as_deref(),
            Some("November 2023")
        );
    }

    #[test]
    fn core_finds_the_digits_of_a_figure() {
        assert_eq!(core("£74.6m"), Some((2, 6)), "£ is two bytes");
        assert_eq!(core("1,930"), Some((0, 5)));
        assert_eq!(core("37.4%"), Some((0, 4)));
    }
}
