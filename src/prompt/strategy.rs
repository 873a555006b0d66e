//! Prompt strategies: how much of the facts a request shows and how the model is asked to
//! quote them. `grounded` has the model cite facts by id and narrator write the figures.

use crate::facts::{FactRow, SectionFacts};
use serde::Serialize;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Every fact of the section and its background, with the rules.
    Full,
    /// As `full`, with a short worked example of the wanted style (written by us, for a
    /// council that does not exist).
    Example,
    /// Only the section's compared measures (at most eight facts), no background, one or two
    /// short paragraphs. The default where the endpoint takes no grammar (README, "Prompt
    /// strategies").
    #[default]
    Focused,
    /// As `focused`, but the model writes `[fact:ID]`, `[england:ID]` or `[region:ID]` where a
    /// figure goes and narrator puts in the figure as the table prints it; the checker still
    /// checks the final text.
    Grounded,
    /// As `focused`, with the answer constrained (`--structured`): a grammar of sentence
    /// frames whose figures, owners and periods come from the facts, or a JSON schema that
    /// has the model name facts by id between digit-free text. The checker still judges the
    /// words. The default where the endpoint takes a grammar (the local model): the best
    /// measured there.
    Constrained,
}

impl Strategy {
    pub fn name(self) -> &'static str {
        match self {
            Strategy::Full => "full",
            Strategy::Example => "example",
            Strategy::Focused => "focused",
            Strategy::Grounded => "grounded",
            Strategy::Constrained => "constrained",
        }
    }

    /// Whether requests show only the compared measures.
    pub fn focused(self) -> bool {
        matches!(
            self,
            Strategy::Focused | Strategy::Grounded | Strategy::Constrained
        )
    }
}

/// The most facts a focused request shows.
pub const FOCUSED_FACTS: usize = 8;

/// The rows a focused request shows: the section's compared measures (latest period each),
/// then its other measures, up to `FOCUSED_FACTS`.
pub fn focused_rows(facts: &SectionFacts) -> Vec<FactRow> {
    let compare = facts.section().compare();
    let latest = |rows: Vec<&FactRow>| -> Vec<FactRow> {
        let mut out: Vec<FactRow> = Vec::new();
        for r in rows {
            match out.iter_mut().find(|o| o.metric == r.metric) {
                Some(o) if o.period < r.period => *o = r.clone(),
                Some(_) => {}
                None => out.push(r.clone()),
            }
        }
        out
    };
    let mut rows = latest(
        facts
            .rows()
            .iter()
            .filter(|r| compare.contains(&r.metric))
            .collect(),
    );
    for r in latest(facts.rows().iter().collect()) {
        if rows.len() >= FOCUSED_FACTS {
            break;
        }
        if !rows.iter().any(|o| o.metric == r.metric) {
            rows.push(r);
        }
    }
    rows.truncate(FOCUSED_FACTS);
    rows
}

/// A grounded answer with its placeholders filled in.
#[derive(Debug, PartialEq)]
pub struct Grounded {
    pub text: String,
    /// Placeholders that name no fact of the request (left in the text as written).
    pub unknown: Vec<String>,
}

/// Replaces `[fact:ID]`, `[england:ID]` and `[region:ID]` with the figure the request's table
/// shows for that measure, `[period:ID]` with its period as prose dates it, and
/// `[median:GROUP:ID]` and `[rank:GROUP:ID]` with a group's median and the council's rank in
/// it. Square brackets, not braces, so the syntax never clashes with the templates' own.
pub fn ground(text: &str, rows: &[FactRow]) -> Grounded {
    let mut out = String::with_capacity(text.len());
    let mut unknown = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find(']') else {
            out.push_str(&rest[open..]);
            rest = "";
            break;
        };
        let inner = after[..close].trim();
        let figure = inner.split_once(':').and_then(|(whose, id)| {
            let (group, id) = match id.split_once(':') {
                Some((group, id)) => (Some(group.trim()), id),
                None => (None, id),
            };
            let row = rows.iter().find(|r| r.metric.as_str() == id.trim())?;
            let peer = || row.peers.iter().find(|p| Some(p.peers.key()) == group);
            match (whose.trim(), group) {
                ("fact", None) => Some(row.display.clone()),
                ("england", None) => row.england.as_ref().map(|c| c.display.clone()),
                ("region", None) => row.region.as_ref().map(|c| c.display.clone()),
                ("period", None) => Some(row.period_spelled.clone()),
                ("median", Some(_)) => peer().map(|p| p.median_display.clone()),
                ("rank", Some(_)) => peer().map(|p| p.rank_words.clone()),
                _ => None,
            }
        });
        match figure {
            Some(f) => out.push_str(&f),
            None => {
                if inner.contains(':') {
                    unknown.push(inner.to_string());
                }
                out.push_str(&rest[open..open + close + 2]);
            }
        }
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    Grounded { text: out, unknown }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view() -> SectionFacts {
        let set = crate::facts::load(std::path::Path::new("data")).unwrap();
        let area = set.find_area("E08000026").unwrap();
        set.section_facts(area, set.find_section("funding").unwrap())
    }

    #[test]
    fn placeholders_become_the_tables_figures_and_unknown_ones_are_named() {
        let rows = focused_rows(&view());
        let g = ground(
            "Coventry spent [fact:funding_gross_per_100k] against [england:funding_gross_per_100k] (see [note]); [fact:nope].",
            &rows,
        );
        assert_eq!(
            g.text,
            "Coventry spent £46,992 per 100,000 against £47,758.16 per 100,000 (see [note]); [fact:nope]."
        );
        assert_eq!(g.unknown, vec!["fact:nope".to_string()]);
    }

    #[test]
    fn focused_requests_keep_the_compared_measures_and_at_most_eight_facts() {
        let v = view();
        let rows = focused_rows(&v);
        assert!(rows.len() <= FOCUSED_FACTS && !rows.is_empty());
        for m in v.section().compare() {
            if v.rows().iter().any(|r| &r.metric == m) {
                assert!(rows.iter().any(|r| &r.metric == m), "{m}");
            }
        }
    }
}
