//! What a reviewer sees of a draft: each figure with the fact it rests on, the changes
//! against the published version, the facts that changed since that version was approved,
//! and the feedback it drew.

use super::snapshot::{FactChange, FactSnapshot};
use super::{Desk, ReviewError};
use crate::check::{self, Derivation, Report};
use crate::facts::{fact_id, group_fact_id, ordinal, DataBasis, FactRow, SectionFacts};
use crate::store::{DraftRow, FeedbackRow, ReviewItem, VersionRow, VoteCounts};
use serde::Serialize;
use similar::{ChangeTag, TextDiff};
use std::collections::BTreeMap;
use std::fmt::Write as _;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DraftView {
    pub draft: DraftRow,
    pub item: Option<ReviewItem>,
    /// The text under review: the draft's, or for an item back on feedback the published
    /// version's (which may carry a reviewer's edits).
    pub text: String,
    /// That text checked against the facts of today.
    pub report: Report,
    /// Whether it passed when it was generated.
    pub passed_when_generated: bool,
    pub figures: Vec<FigureNote>,
    /// The periods and sources of the figures the text quotes.
    pub basis: DataBasis,
    /// The page's compared measures, for charts beside the text.
    pub charts: Vec<super::MeasureChart>,
    pub published: Option<VersionRow>,
    pub diff: Vec<WordChange>,
    /// Facts of the page that changed since the published version was approved.
    pub facts_changed: Vec<FactChange>,
    /// The newest comments on the published version (or, for an item back on feedback, on
    /// that version), at most `COMMENTS_SHOWN`, older than the page asked for when it did.
    pub feedback: Vec<FeedbackRow>,
    /// Where the next, older page of comments starts (`updated_ms-id`), when there is one.
    pub older_feedback: Option<String>,
    /// Voices up and down (`store::Voter`), all of them.
    pub feedback_counts: VoteCounts,
}

/// Comments shown on one page of a draft: a version with thousands reads them a page at a
/// time.
pub const COMMENTS_SHOWN: usize = 50;

/// A comments cursor as the page writes it, `updated_ms-id`.
pub fn parse_comments_cursor(raw: &str) -> Option<(i64, i64)> {
    let (ms, id) = raw.split_once('-')?;
    Some((ms.parse().ok()?, id.parse().ok()?))
}

/// One figure of the text, numbered in reading order, with what the checker made of it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct FigureNote {
    pub number: usize,
    pub span: (usize, usize),
    pub text: String,
    pub verdict: &'static str,
    pub flagged: bool,
    pub message: String,
    pub facts: Vec<FactNote>,
    pub derivation: Option<Derivation>,
}

/// A fact a figure rests on, as a reviewer needs it: whose, what, when, how much, from where.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct FactNote {
    pub id: String,
    pub owner: String,
    pub label: String,
    pub period: String,
    pub value: String,
    pub source: String,
    /// For a figure narrator computed (a group's median, a rank): how, from which values.
    pub how: Option<String>,
}

#[derive(Debug, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(tag = "op", content = "text", rename_all = "snake_case")]
pub enum WordChange {
    Same(String),
    Added(String),
    Removed(String),
}

/// Word-level changes from `old` to `new`.
pub fn word_diff(old: &str, new: &str) -> Vec<WordChange> {
    let diff = TextDiff::from_words(old, new);
    let mut out: Vec<WordChange> = Vec::new();
    for change in diff.iter_all_changes() {
        let text = change.value().to_string();
        // Runs of the same kind are merged so the diff reads as phrases, not single words.
        match (change.tag(), out.last_mut()) {
            (ChangeTag::Equal, Some(WordChange::Same(s)))
            | (ChangeTag::Insert, Some(WordChange::Added(s)))
            | (ChangeTag::Delete, Some(WordChange::Removed(s))) => s.push_str(&text),
            (ChangeTag::Equal, _) => out.push(WordChange::Same(text)),
            (ChangeTag::Insert, _) => out.push(WordChange::Added(text)),
            (ChangeTag::Delete, _) => out.push(WordChange::Removed(text)),
        }
    }
    out
}

/// Each mention of the report as a numbered note with its facts spelled out.
pub fn figure_notes(report: &Report, view: &SectionFacts) -> Vec<FigureNote> {
    let mut by_id: BTreeMap<String, FactNote> = BTreeMap::new();
    let council = view.area();
    for r in view.rows().iter().chain(view.context()) {
        let mut add = |code: &str, owner: &str, value: &str, source: &str, row: &FactRow| {
            let id = fact_id(code, &row.metric, row.period);
            by_id.entry(id.clone()).or_insert(FactNote {
                id,
                owner: owner.to_string(),
                label: row.label.clone(),
                period: row.period_spelled.clone(),
                value: value.to_string(),
                source: source.to_string(),
                how: None,
            });
        };
        add(
            council.code().as_str(),
            council.name(),
            &r.display,
            &r.source,
            r,
        );
        for c in [&r.england, &r.region].into_iter().flatten() {
            add(c.area.as_str(), &c.name, &c.display, &c.source, r);
        }
    }
    // The figures narrator computes among groups of councils, under the ids the checker
    // gives them (`area:metric:period~stat@group`).
    for r in view.rows() {
        for p in &r.peers {
            let figures = [
                ("median", format!("median {}", p.median_display)),
                (
                    "rank",
                    format!("{} highest of {}", ordinal(p.rank), p.councils),
                ),
                (
                    "rank_from_lowest",
                    format!("{} lowest of {}", ordinal(p.rank_from_lowest), p.councils),
                ),
                ("councils", format!("{} councils with a value", p.councils)),
            ];
            for (stat, value) in figures {
                let id = group_fact_id(
                    council.code().as_str(),
                    &r.metric,
                    r.period,
                    stat,
                    p.peers.key(),
                );
                by_id.entry(id.clone()).or_insert(FactNote {
                    id,
                    owner: p.name.clone(),
                    label: r.label.clone(),
                    period: r.period_spelled.clone(),
                    value,
                    source: format!("computed by narrator from {}", r.source),
                    how: Some(p.derivation.clone()),
                });
            }
        }
    }
    report
        .mentions
        .iter()
        .enumerate()
        .map(|(i, m)| FigureNote {
            number: i + 1,
            span: m.span,
            text: m.text.clone(),
            verdict: m.verdict.name(),
            flagged: m.verdict.is_flag(),
            message: m.message.clone(),
            facts: m
                .facts
                .iter()
                .map(|id| match by_id.get(id) {
                    Some(note) => note.clone(),
                    None => FactNote {
                        id: id.clone(),
                        owner: String::new(),
                        label: String::new(),
                        period: String::new(),
                        value: String::new(),
                        source: String::new(),
                        how: None,
                    },
                })
                .collect(),
            derivation: m.derivation.clone(),
        })
        .collect()
}

impl Desk<'_> {
    /// Everything a reviewer needs to decide on one draft.
    pub async fn show(&self, draft_id: i64) -> Result<DraftView, ReviewError> {
        self.show_from(draft_id, None).await
    }

    /// `show`, with the page of comments older than `comments_before`.
    pub async fn show_from(
        &self,
        draft_id: i64,
        comments_before: Option<(i64, i64)>,
    ) -> Result<DraftView, ReviewError> {
        let draft = self
            .store
            .draft_row(draft_id)
            .await?
            .ok_or(ReviewError::NoDraft(draft_id))?;
        let item = self.store.review_item(draft_id).await?;
        let view = self.page_facts(&draft.area_code, &draft.section)?;
        let published = self
            .store
            .published_version(&draft.area_code, &draft.section)
            .await?;
        let back_on_feedback = item.as_ref().and_then(|i| i.version_id);
        let text = match &published {
            Some(v) if back_on_feedback == Some(v.id) => v.text.clone(),
            _ => draft.text.clone(),
        };
        let report = check::check(&text, &view);
        let figures = figure_notes(&report, &view);
        let basis = DataBasis::of(report.quoted_facts(), &view);
        let charts = super::page_charts(self.facts, &view);
        let diff = published
            .as_ref()
            .map(|v| word_diff(&v.text, &text))
            .unwrap_or_default();
        let facts_changed = match &published {
            Some(v) => serde_json::from_str::<FactSnapshot>(&v.facts)
                .map_err(|e| {
                    crate::store::StoreError::Corrupt(format!(
                        "version {}'s facts snapshot: {e}",
                        v.id
                    ))
                })?
                .changes(&FactSnapshot::of(&view)),
            None => Vec::new(),
        };
        let voted = item
            .as_ref()
            .and_then(|i| i.version_id)
            .or(published.as_ref().map(|v| v.id));
        let (mut feedback, feedback_counts) = match voted {
            Some(id) => (
                // One more than shown, to know whether an older page exists.
                self.store
                    .feedback(id, comments_before, COMMENTS_SHOWN as i64 + 1)
                    .await?,
                self.store.vote_counts(id).await?,
            ),
            None => (Vec::new(), VoteCounts::default()),
        };
        let older_feedback = (feedback.len() > COMMENTS_SHOWN).then(|| {
            feedback.truncate(COMMENTS_SHOWN);
            let last = &feedback[COMMENTS_SHOWN - 1];
            format!("{}-{}", last.updated_ms, last.id)
        });
        Ok(DraftView {
            passed_when_generated: draft.pass,
            text,
            draft,
            item,
            report,
            figures,
            basis,
            charts,
            published,
            diff,
            facts_changed,
            feedback,
            older_feedback,
            feedback_counts,
        })
    }
}

impl DraftView {
    /// The text with each figure numbered (`[3]`, or `[!3]` when flagged), then a note per
    /// figure, the changes against the published version, changed facts and feedback.
    pub fn render_text(&self) -> String {
        let d = &self.draft;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "draft {} · {} {} · run {} attempt {} · model {}",
            d.id, d.area_code, d.section, d.run_id, d.attempt, d.model
        );
        match &self.item {
            Some(item) => {
                let _ = write!(out, "review: {} ({})", item.state, item.reason);
                if let Some(holder) = item.claimed_by(crate::store::now_ms()) {
                    let _ = write!(out, " · claimed by {holder}");
                }
                if let Some(by) = &item.decided_by {
                    let _ = write!(out, " · decided by {by}");
                }
                if let Some(note) = &item.note {
                    let _ = write!(out, " · {note}");
                }
                let _ = writeln!(out, " · run started by {}", item.run_started_by);
            }
            None => {
                let _ = writeln!(out, "review: not in the queue (its check failed)");
            }
        }
        let flagged = self.figures.iter().filter(|f| f.flagged).count();
        let _ = writeln!(
            out,
            "check against today's facts: {} · {} figure(s), {} flagged{}",
            if self.report.pass { "PASS" } else { "FAIL" },
            self.figures.len(),
            flagged,
            if self.report.pass == self.passed_when_generated {
                ""
            } else if self.passed_when_generated {
                " (it passed when generated: the facts changed)"
            } else {
                " (it failed when generated)"
            }
        );
        let _ = writeln!(out, "\n{}\n", marked_text(&self.text, &self.figures));
        if !self.basis.summary.is_empty() {
            let _ = writeln!(out, "data: {}\n", self.basis.summary);
        }
        for f in &self.figures {
            let mark = if f.flagged { "!" } else { "" };
            let _ = writeln!(
                out,
                "[{mark}{}] {} {}: {}",
                f.number, f.text, f.verdict, f.message
            );
            for fact in &f.facts {
                let _ = writeln!(
                    out,
                    "      {} · {} · {} · {} · source: {}",
                    fact.owner, fact.label, fact.period, fact.value, fact.source
                );
                if let Some(how) = &fact.how {
                    let _ = writeln!(out, "        how: {how}");
                }
            }
            if let Some(dv) = &f.derivation {
                let _ = writeln!(
                    out,
                    "      derived: {} of {} = {}",
                    dv.operation,
                    dv.facts.join(", "),
                    dv.value
                );
            }
        }
        match &self.published {
            None => {
                let _ = writeln!(out, "\nno version of this page is published yet");
            }
            Some(v) => {
                let _ = writeln!(
                    out,
                    "\nagainst published version {} (approved by {}{}): [-removed-] {{+added+}}",
                    v.id,
                    v.approved_by,
                    if v.stale { ", stale" } else { "" }
                );
                if let Some(reason) = &v.override_reason {
                    let _ = writeln!(
                        out,
                        "published over a failed check; the reason given: {reason}"
                    );
                }
                let mut diff = String::new();
                for c in &self.diff {
                    match c {
                        WordChange::Same(s) => diff.push_str(s),
                        WordChange::Added(s) => {
                            let _ = write!(diff, "{{+{s}+}}");
                        }
                        WordChange::Removed(s) => {
                            let _ = write!(diff, "[-{s}-]");
                        }
                    }
                }
                let _ = writeln!(out, "{diff}");
                if self.facts_changed.is_empty() {
                    let _ = writeln!(out, "\nno fact of this page changed since it was approved");
                } else {
                    let _ = writeln!(out, "\nfacts changed since it was approved:");
                    for c in &self.facts_changed {
                        let _ = writeln!(
                            out,
                            "  {} ({}): {} -> {}",
                            c.label,
                            c.fact,
                            c.before.as_deref().unwrap_or("(none)"),
                            c.after.as_deref().unwrap_or("(none)")
                        );
                    }
                }
            }
        }
        let _ = writeln!(
            out,
            "\nfeedback: {} up, {} down",
            self.feedback_counts.up, self.feedback_counts.down
        );
        for f in &self.feedback {
            if let Some(c) = &f.comment {
                let _ = writeln!(out, "  {} ({}): {c}", f.vote, f.voter);
            }
        }
        out
    }
}

/// The text with a note number after each figure.
fn marked_text(text: &str, figures: &[FigureNote]) -> String {
    let mut out = String::with_capacity(text.len() + figures.len() * 5);
    let mut at = 0;
    let mut sorted: Vec<&FigureNote> = figures.iter().collect();
    sorted.sort_by_key(|f| f.span);
    for f in sorted {
        if f.span.1 < at || f.span.1 > text.len() {
            continue;
        }
        out.push_str(&text[at..f.span.1]);
        let _ = write!(out, "[{}{}]", if f.flagged { "!" } else { "" }, f.number);
        at = f.span.1;
    }
    out.push_str(&text[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_diff_merges_runs_into_phrases() {
        let d = word_diff(
            "The rate was 16.2% last year.",
            "The rate was 17.0% in 2024.",
        );
        assert_eq!(d.first(), Some(&WordChange::Same("The rate was ".into())));
        assert!(d.contains(&WordChange::Removed("16.2%".into())));
        assert!(d.contains(&WordChange::Added("17.0%".into())));
        let rebuilt: String = d
            .iter()
            .filter_map(|c| match c {
                WordChange::Same(s) | WordChange::Added(s) => Some(s.as_str()),
                WordChange::Removed(_) => None,
            })
            .collect();
        assert_eq!(rebuilt, "The rate was 17.0% in 2024.");
    }

    #[test]
    fn marks_follow_each_figure() {
        let note = |n, span, flagged| FigureNote {
            number: n,
            span,
            text: String::new(),
            verdict: "supported",
            flagged,
            message: String::new(),
            facts: Vec::new(),
            derivation: None,
        };
        let text = "It was 16.2%, up from 99.9%.";
        let marked = marked_text(text, &[note(1, (7, 12), false), note(2, (22, 27), true)]);
        assert_eq!(marked, "It was 16.2%[1], up from 99.9%[!2].");
    }
}
