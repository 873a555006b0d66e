//! The verdicts: matching each mention against the facts, their permitted derivations, the
//! owner and period the sentence gives it, and the comparison words around it.

use super::report::{Derivation, Mention, Report, Verdict};
use super::rules::{self, Owner};
use super::scan::{scan, Allowlist, MentionUnit, RawMention, Shape, WrittenPeriod};
use crate::facts::{Dating, FactRow, MetricId, PeerComparison, Period, SectionFacts, Unit};
use std::collections::BTreeSet;

#[derive(Clone, Debug)]
struct Candidate {
    id: String,
    metric: MetricId,
    unit: Unit,
    value: f64,
    period: Period,
    dated_by: Dating,
    owner: Owner,
    denominator: Option<MetricId>,
    /// Content words of the metric's label and id, for telling which measure a sentence names.
    words: Vec<rules::Word>,
    /// The measure's label and definition, lower case.
    wording: String,
    /// "less deprived": (false, the word's stem): a higher value is less of the word.
    higher_means: Option<(bool, rules::Word)>,
    /// The fact in words a reviewer reads: its measure, whose it is, when, and its value as
    /// printed, with the fact id to look it up.
    about: String,
    /// For a council's rank among a group: the end it counts from. The rank is the council's
    /// position as much as the group's, so the council may own it in the text too.
    rank_end: Option<rules::RankEnd>,
    /// For a rank: the end where the better values are (none for a neutral measure).
    best_end: Option<rules::RankEnd>,
    /// A rank or a group's size: small whole numbers that only mean something beside the
    /// measure's own figure, so they match only where that figure is in play nearby.
    needs_company: bool,
    /// A figure computed over a group (median, rank, size), not a published value.
    peer_stat: bool,
}

/// Checks every numeric mention of `text` against the facts one prompt received. Pure: no I/O.
pub fn check(text: &str, facts: &SectionFacts) -> Report {
    Checker::new(facts).check(text)
}

/// A checker prepared for one prompt's facts, for checking several drafts (re-asks) against
/// them without preparing the facts again each time.
pub struct Checker<'a> {
    facts: &'a SectionFacts,
    candidates: Vec<Candidate>,
    /// Label words too many of the section's measures share to name one.
    generic: Vec<rules::Word>,
    cues: rules::OwnerCues,
    allowlist: Allowlist,
}

impl<'a> Checker<'a> {
    pub fn new(facts: &'a SectionFacts) -> Self {
        let candidates = candidates(facts);
        Self {
            facts,
            generic: generic_words(&candidates),
            candidates,
            cues: rules::OwnerCues::new(
                facts.area().name(),
                facts.region().map(|r| r.name()),
                facts
                    .rows()
                    .iter()
                    .chain(facts.context())
                    .any(|r| r.region.is_some()),
            ),
            allowlist: Allowlist::new(facts.structural_names()),
        }
    }

    /// Checks every numeric mention of `text`. Pure: no I/O. The passes run in the order
    /// ARCHITECTURE.md lists; each reads what the earlier ones decided.
    pub fn check(&self, text: &str) -> Report {
        let mut draft = self.locate(text);
        self.support(&mut draft);
        self.derive_or_flag(&mut draft);
        self.date_and_structure(&mut draft);
        self.directions(&mut draft);
        self.trends(&mut draft);
        self.standings(&mut draft);
        draft.into_report(&self.candidates)
    }

    /// Pass 1: finds the mentions and, for each, its unit (a bare figure may share the unit of
    /// the figure it is compared with), the words around it, its owner and its direct matches.
    fn locate<'t>(&self, text: &'t str) -> Draft<'t> {
        let sentences = rules::sentences(text);
        let raw = scan(text, &self.allowlist);
        let cue_spans = self.cues.find(text);
        let text_words = rules::content_words_at(text);
        let mut work: Vec<Work> = raw
            .into_iter()
            .map(|m| {
                let sentence = sentences
                    .iter()
                    .position(|&(s, e)| m.start >= s && m.start < e)
                    .unwrap_or(0);
                Work::new(m, sentence)
            })
            .collect();
        for i in 0..work.len() {
            let prev_value = (0..i)
                .rev()
                .find(|&j| work[j].sentence == work[i].sentence && work[j].is_value());
            let seg_start = prev_value.map_or(sentences[work[i].sentence].0, |j| work[j].raw.end);
            // A mention belongs to the sentence it starts in, but may run past its end: "one\n\nin
            // five" spans a paragraph break, where sentences split (slicing to the end panicked).
            let sentence_end = sentences[work[i].sentence].1.max(work[i].raw.end);
            if let Shape::Number { unit, .. } = work[i].raw.shape {
                work[i].unit = unit;
                work[i].also_unit = carried_unit(&work, i, prev_value, unit);
            }
            let next_value = (i + 1..work.len())
                .find(|&j| work[j].sentence == work[i].sentence && work[j].is_value());
            let context_end = next_value.map_or(sentence_end, |j| work[j].raw.start);
            let following = &text[work[i].raw.end..context_end];
            let clause = work[i].raw.end + rules::clause_end(following);
            let (a, b) = (work[i].raw.start, work[i].raw.end);
            // Words are in text order: pick the two runs by binary search.
            let range = |from: usize, to: usize| {
                let lo = text_words.partition_point(|&(at, _)| at < from);
                let hi = text_words.partition_point(|&(at, _)| at < to);
                &text_words[lo..hi.max(lo)]
            };
            // The noun a figure counts ("193 complaints", "29.3% of carers"): the first content
            // word right after it. A time word is no such noun ("164 the year before").
            static TIME_WORDS: std::sync::LazyLock<Vec<rules::Word>> = std::sync::LazyLock::new(
                || {
                    rules::content_words(
                        "year years month months week weeks quarter before earlier later after previous prior",
                    )
                },
            );
            work[i].noun = range(b, clause)
                .first()
                .filter(|&&(at, _)| text[b..at].split_whitespace().count() <= 2)
                .map(|&(_, w)| w)
                .filter(|w| !TIME_WORDS.contains(w));
            if work[i].raw.ordinal {
                work[i].rank_word = rules::rank_word(&text[b..clause]);
            }
            // "up from 164 the year before": a period relative to the sentence's own, in the
            // clause after the figure, or opening a sentence no figure comes before it in.
            work[i].relative = rules::relative_years(&text[b..clause]).or_else(|| {
                (prev_value.is_none())
                    .then(|| rules::relative_years(&text[seg_start..a]))
                    .flatten()
            });
            // The words after the figure before, up to the end of its clause, describe that
            // figure: "193 complaints about adult social care, up from 164" names no measure
            // for the 164.
            let words_from = prev_value.map_or(seg_start, |j| work[j].clause_end.min(a));
            work[i].clause_end = clause;
            work[i].context = range(words_from, a)
                .iter()
                .chain(range(b, clause))
                .map(|&(_, w)| w)
                .collect();
            let following =
                rules::OwnerCues::following(&cue_spans, text, work[i].raw.end, sentence_end);
            work[i].taken_cue = following.map(|(_, at)| at);
            let taken = prev_value.and_then(|j| work[j].taken_cue);
            work[i].owner = following.map(|(o, _)| o).or_else(|| {
                rules::OwnerCues::last_in(&cue_spans, text, seg_start, work[i].raw.start, taken)
            });
            let w = &work[i];
            work[i].direct = self
                .candidates
                .iter()
                .enumerate()
                .filter(|(_, c)| w.matches_directly(c))
                .map(|(k, _)| k)
                .collect();
        }
        let mut sentence_periods: Vec<Vec<WrittenPeriod>> = vec![Vec::new(); sentences.len()];
        for w in &work {
            if let Shape::Period(p) = w.raw.shape {
                sentence_periods[w.sentence].push(p);
            }
        }
        Draft {
            text,
            sentences,
            sentence_periods,
            cues: cue_spans,
            work,
        }
    }

    /// Pass 2: supported figures: a direct match of the right owner and a period the sentence
    /// allows, unless the words around the figure clearly name another measure.
    fn support(&self, draft: &mut Draft) {
        let candidates = &self.candidates;
        for i in 0..draft.work.len() {
            if draft.work[i].direct.is_empty() {
                continue;
            }
            let periods = &draft.periods_of(i);
            let owner = draft.work[i].owner;
            let ok: Vec<usize> = draft.work[i]
                .direct
                .iter()
                .copied()
                .filter(|&k| {
                    owner_ok(owner, &candidates[k])
                        || called_median(draft.text, &draft.work[i], &candidates[k])
                })
                .filter(|&k| !candidates[k].needs_company || self.in_play(draft, i, k))
                .filter(|&k| {
                    periods.is_empty()
                        || periods.iter().any(|p| period_ok(*p, &candidates[k]))
                        || self.periods_date_others(draft, i, k)
                })
                .collect();
            let (ok, averages): (Vec<usize>, Vec<usize>) = ok
                .into_iter()
                .partition(|&k| !called_average(draft.text, &draft.work[i], &candidates[k]));
            if ok.is_empty() {
                if let Some(&k) = averages.first() {
                    draft.work[i].measure_mismatch = Some(format!(
                        "the text calls it an average, but it is {}: a median of councils, not \
                         an area's average",
                        describe(&candidates[k])
                    ));
                }
                continue;
            }
            // Which measure do the words around the figure name? Prefer matches of that
            // measure, and refuse the figure when the sentence clearly names another measure
            // than any it matches.
            let w = &draft.work[i];
            let scores: Vec<usize> = candidates
                .iter()
                .map(|c| rules::affinity(&c.words, &w.context, &self.generic))
                .collect();
            let score = |k: usize| scores[k];
            let best_match = ok.iter().map(|&k| score(k)).max().unwrap_or(0);
            let named = candidates
                .iter()
                .enumerate()
                .filter(|(_, c)| owner_ok(owner, c) && w.unit_fits(c.unit))
                .max_by_key(|(k, _)| score(*k));
            // The noun the figure counts, in a matched measure's label and not in the other's,
            // settles it: "193 complaints about adult social care" are complaints.
            let own_noun = w
                .noun
                .is_some_and(|n| ok.iter().any(|&k| candidates[k].words.contains(&n)));
            if let Some((k, c)) = named {
                if score(k) >= rules::MEASURE_NAMED
                    && best_match + rules::MEASURE_MARGIN <= score(k)
                    && !(own_noun && w.noun.is_some_and(|n| !c.words.contains(&n)))
                {
                    draft.work[i].measure_mismatch = Some(format!(
                        "the words around it name another measure ({}); the figure is the value \
                         of {}",
                        describe(c),
                        describe(&candidates[ok[0]])
                    ));
                    continue;
                }
            }
            let mut ok = ok;
            ok.sort_by_key(|&k| std::cmp::Reverse(score(k)));
            let w = &mut draft.work[i];
            w.verdict = Some(Verdict::Supported);
            w.message = format!("matches {}", describe(&candidates[ok[0]]));
            w.facts = ok;
        }
    }

    /// Is candidate `k`'s measure and period quoted by another figure of this sentence or the
    /// one before (its value, or a group's median)? A rank or a group's size is read beside it.
    fn in_play(&self, draft: &Draft, i: usize, k: usize) -> bool {
        let c = &self.candidates[k];
        let s = draft.work[i].sentence;
        draft.work.iter().enumerate().any(|(j, w)| {
            // A figure already judged stands for the fact it was matched to; one not yet
            // judged, for any of its direct matches.
            let facts = if w.verdict == Some(Verdict::Supported) {
                &w.facts[..w.facts.len().min(1)]
            } else {
                &w.direct[..]
            };
            j != i
                && (w.sentence == s || w.sentence + 1 == s)
                && facts.iter().any(|&d| {
                    let o = &self.candidates[d];
                    !o.needs_company
                        && o.metric == c.metric
                        && o.period == c.period
                        && (o.owner == Owner::Council || o.owner == c.owner)
                })
        })
    }

    /// Do the periods of figure `i`'s sentence all date other figures of it, and none could
    /// date candidate `k`'s measure? Then they say nothing of this figure: "the population rose
    /// from 343,715 in 2019 to 360,702 in 2023, and its density is 3,500.7" dates the
    /// populations, not the census density. A period no other figure takes, or one the measure
    /// has a value for, still dates the figure.
    fn periods_date_others(&self, draft: &Draft, i: usize, k: usize) -> bool {
        let candidates = &self.candidates;
        let s = draft.work[i].sentence;
        let c = &candidates[k];
        if draft.work[i].relative.is_some() {
            // Its own period is written for it.
            return false;
        }
        draft.sentence_periods[s].iter().all(|p| {
            let taken = draft.work.iter().enumerate().any(|(j, w)| {
                j != i && w.sentence == s && w.direct.iter().any(|&d| period_ok(*p, &candidates[d]))
            });
            let measure_has_it = candidates
                .iter()
                .any(|o| o.metric == c.metric && o.owner == c.owner && period_ok(*p, o));
            taken && !measure_has_it
        })
    }

    /// Pass 3: derived figures over the facts quoted in this or the previous sentence; what is
    /// neither supported nor derived is flagged with the reason closest to the truth.
    fn derive_or_flag(&self, draft: &mut Draft) {
        let candidates = &self.candidates;
        let periods: Vec<Vec<WrittenPeriod>> =
            (0..draft.work.len()).map(|i| draft.periods_of(i)).collect();
        // For each ordinal with a rank word: the ranks of the measures in play beside it.
        let ranks: Vec<Vec<usize>> = (0..draft.work.len())
            .map(|i| {
                let w = &draft.work[i];
                if !w.raw.ordinal || w.rank_word.is_none() {
                    return Vec::new();
                }
                (0..candidates.len())
                    .filter(|&k| candidates[k].rank_end.is_some())
                    .filter(|&k| owner_ok(w.owner, &candidates[k]))
                    .filter(|&k| self.in_play(draft, i, k))
                    .collect()
            })
            .collect();
        let work = &mut draft.work;
        for i in 0..work.len() {
            if work[i].verdict.is_some() || !work[i].is_value() {
                continue;
            }
            let s = work[i].sentence;
            let quoted: BTreeSet<usize> = work
                .iter()
                .filter(|w| {
                    (w.sentence == s || w.sentence + 1 == s)
                        && w.verdict == Some(Verdict::Supported)
                })
                .flat_map(|w| w.facts.iter().copied())
                .collect();
            // A figure given to a place with no facts cannot be derived from them either.
            let elsewhere = work[i].owner == Some(Owner::Elsewhere);
            if let Some(d) = derive(&work[i], &quoted, candidates).filter(|_| !elsewhere) {
                let w = &mut work[i];
                w.verdict = Some(Verdict::Derived);
                w.message = format!(
                    "{} of {}",
                    d.operation.replace('_', " "),
                    d.facts.join(" and ")
                );
                w.facts = d
                    .facts
                    .iter()
                    .filter_map(|id| candidates.iter().position(|c| &c.id == id))
                    .collect();
                w.derivation = Some(d);
                continue;
            }
            if !ranks[i].is_empty() {
                flag_rank(&mut work[i], &ranks[i], candidates);
                continue;
            }
            self.flag(&mut work[i], &periods[i]);
        }
    }

    /// The flag for a figure that is neither supported nor derived: another measure's value,
    /// another owner's, another period's, or no fact's at all.
    fn flag(&self, w: &mut Work, periods: &[WrittenPeriod]) {
        let candidates = &self.candidates;
        if let Some(why) = w.measure_mismatch.take() {
            w.verdict = Some(Verdict::Misattributed);
            w.facts = w.direct.clone();
            w.message = why;
            return;
        }
        let owner_matches: Vec<usize> = w
            .direct
            .iter()
            .copied()
            .filter(|&k| owner_ok(w.owner, &candidates[k]))
            .collect();
        if !w.direct.is_empty() && owner_matches.is_empty() {
            let c = &candidates[w.direct[0]];
            w.verdict = Some(Verdict::Misattributed);
            w.facts = w.direct.clone();
            w.message = format!(
                "the text gives it to {}, but it is {}",
                owner_name(w.owner, self.facts),
                describe(c)
            );
        } else if !owner_matches.is_empty() {
            let c = &candidates[owner_matches[0]];
            w.verdict = Some(Verdict::WrongPeriod);
            w.facts = owner_matches.clone();
            let written: Vec<String> = periods.iter().map(written_period).collect();
            let how = match w.relative {
                Some(n) if n < 0 => format!(" ({} year(s) before the period written)", -n),
                Some(n) => format!(" ({n} year(s) after the period written)"),
                None => String::new(),
            };
            w.message = format!(
                "the sentence dates it {}{how}, but it is {}",
                written.join(" / "),
                describe(c)
            );
        } else {
            w.verdict = Some(Verdict::Unsupported);
            w.message = "no fact or permitted derivation gives this figure".to_string();
            // The nearest fact it could have meant, for a reviewer chasing a typo.
            let nearest = w.value().and_then(|x| {
                candidates
                    .iter()
                    .filter(|c| owner_ok(w.owner, c) && w.unit_fits(c.unit))
                    .min_by(|a, b| {
                        let d = |c: &&Candidate| (c.value - x).abs();
                        d(a).total_cmp(&d(b))
                    })
            });
            if let Some(c) = nearest {
                w.message += &format!("; the nearest fact it could be is {}", describe(c));
            }
        }
    }

    /// Pass 4: periods (of a figure the sentence quotes, or of any fact) and structural numbers.
    fn date_and_structure(&self, draft: &mut Draft) {
        let candidates = &self.candidates;
        let work = &mut draft.work;
        for i in 0..work.len() {
            match work[i].raw.shape {
                Shape::Structural(why) => {
                    work[i].verdict = Some(Verdict::Structural);
                    work[i].message = why.to_string();
                }
                Shape::Unreadable => {
                    work[i].verdict = Some(Verdict::Unsupported);
                    work[i].message =
                        "written in digits other than 0-9, which the checker cannot read"
                            .to_string();
                }
                Shape::Period(p) => {
                    let s = work[i].sentence;
                    let quoted: Vec<&Candidate> = work
                        .iter()
                        .filter(|w| {
                            w.sentence == s
                                && matches!(w.verdict, Some(v) if v != Verdict::Period && v != Verdict::Structural)
                        })
                        .flat_map(|w| w.facts.iter().map(|&k| &candidates[k]))
                        .collect();
                    let of_quoted = quoted.iter().any(|c| period_ok(p, c));
                    let of_any = candidates.iter().any(|c| period_ok(p, c));
                    let w = &mut work[i];
                    if of_quoted || (quoted.is_empty() && of_any) {
                        w.verdict = Some(Verdict::Period);
                        w.message = "the period of a fact".to_string();
                    } else {
                        w.verdict = Some(Verdict::WrongPeriod);
                        w.message = if of_any {
                            format!(
                                "no figure this sentence quotes is for {}",
                                written_period(&p)
                            )
                        } else {
                            format!("no fact in this prompt is for {}", written_period(&p))
                        };
                    }
                }
                _ => {}
            }
        }
    }
}

/// Pass 6: claims about a measure's series: runs ("fell for two years running"), records
/// ("the highest since 2016-17") and change since a year ("has improved since 2018-19"),
/// proven from the council's own values or flagged with the values that refute them.
impl Checker<'_> {
    fn trends(&self, draft: &mut Draft) {
        use super::trend::{self, Finding};
        let text = draft.text;
        for i in 0..draft.work.len() {
            let s = draft.work[i].sentence;
            let (start, end) = (draft.work[i].raw.start, draft.work[i].raw.end);
            let sentence_start = draft.sentences[s].0;
            let before = &text[sentence_start..start];
            // Only a count before "years running" or a year after "since" can be a claim.
            let run = matches!(draft.work[i].raw.shape, Shape::Number { .. })
                && trend::is_run(&text[start..end], &text[end..]);
            let after_since = matches!(draft.work[i].raw.shape, Shape::Period(_))
                && before.trim_end().to_lowercase().ends_with("since");
            if !run && !after_since {
                continue;
            }
            let Some(k) = self.measure_of_sentence(draft, i) else {
                continue;
            };
            let metric = &self.candidates[k].metric;
            let polarity = self
                .facts
                .rows()
                .iter()
                .find(|r| &r.metric == metric)
                .map_or(crate::facts::Polarity::Neutral, |r| r.polarity);
            let series = self.series(metric);
            let (finding, on_period) = match draft.work[i].raw.shape {
                Shape::Number { value, .. } => {
                    let Some(way) = trend::way_in(before) else {
                        continue;
                    };
                    let anchors: Vec<trend::Anchor> = draft
                        .work
                        .iter()
                        .filter(|w| w.sentence == s)
                        .filter_map(|w| match w.raw.shape {
                            Shape::Period(p) => Some(trend::Anchor {
                                period: to_period(p)?,
                                starts: trend::starts_run(&text[sentence_start..w.raw.start]),
                            }),
                            _ => None,
                        })
                        .collect();
                    let n = value as usize;
                    (trend::check_run(&series, n, way, polarity, &anchors), false)
                }
                Shape::Period(p) => {
                    let Some(since) = to_period(p) else { continue };
                    let at = self.candidates[k].period;
                    if let Some(highest) = trend::extreme_since(before, polarity) {
                        (trend::check_extreme(&series, at, since, highest), true)
                    } else if let Some(way) = trend::change_since(before) {
                        // To the latest year the sentence writes, else the latest published.
                        let to = draft.sentence_periods[s]
                            .iter()
                            .filter_map(|&p| to_period(p))
                            .filter(|&q| q != since)
                            .max()
                            .or(series.last().map(|p| p.period))
                            .unwrap_or(at);
                        (trend::check_since(&series, since, to, way, polarity), true)
                    } else {
                        continue;
                    }
                }
                _ => continue,
            };
            let index = |ids: &[String]| -> Vec<usize> {
                ids.iter()
                    .filter_map(|id| self.candidates.iter().position(|c| &c.id == id))
                    .collect()
            };
            // A run's own years date it: "fell for two years running after 2018-19".
            if let (Finding::Holds { facts, .. }, false) = (&finding, on_period) {
                let years: Vec<Period> = index(facts)
                    .into_iter()
                    .map(|k| self.candidates[k].period)
                    .collect();
                for w in draft.work.iter_mut().filter(|w| w.sentence == s) {
                    if let Shape::Period(p) = w.raw.shape {
                        if w.verdict == Some(Verdict::WrongPeriod)
                            && to_period(p).is_some_and(|p| years.contains(&p))
                        {
                            w.verdict = Some(Verdict::Period);
                            w.message = "a year of the run the sentence describes".to_string();
                        }
                    }
                }
            }
            let w = &mut draft.work[i];
            match finding {
                Finding::Holds { facts, why } => {
                    w.verdict = Some(if on_period {
                        Verdict::Period
                    } else {
                        Verdict::Derived
                    });
                    w.facts = index(&facts);
                    w.message = why;
                    if !on_period {
                        w.derivation = Some(Derivation {
                            operation: "run_of_changes".into(),
                            facts,
                            value: w.value().unwrap_or(0.0),
                        });
                    }
                }
                Finding::Refuted { facts, why } => {
                    w.verdict = Some(Verdict::WrongDirection);
                    w.facts = index(&facts);
                    w.message = why;
                }
            }
        }
    }

    /// Pass 7: claims in words about where the council stands in a group ("in the top quarter
    /// of councils in England", "below the median for similar councils"), proven against the
    /// group's quartile or median for the measure and year of the council's figure they go
    /// with: the last one before the claim in its sentence, else in the sentences before. A
    /// claim that does not hold flags that figure. The group is the one the sentence names,
    /// all councils when it names none.
    fn standings(&self, draft: &mut Draft) {
        use crate::facts::Peers;
        let text = draft.text;
        let numbers: Vec<usize> = draft
            .work
            .iter()
            .filter(|w| matches!(w.raw.shape, Shape::Number { .. }))
            .map(|w| w.raw.start)
            .collect();
        let claims = super::standing::claims(text, &numbers);
        for (n, &(start, end, claim)) in claims.iter().enumerate() {
            let Some(s) = draft
                .sentences
                .iter()
                .position(|&(a, b)| a <= start && start < b)
            else {
                continue;
            };
            let Some((i, k)) = self.council_figure(draft, s, start) else {
                continue;
            };
            // The figure just before the claim in its sentence is the one it is about: when
            // that is not a proven council figure (flagged, or another place's), the claim is
            // not moved onto an earlier one.
            let last_figure = draft.work.iter().rposition(|w| {
                w.sentence == s
                    && w.raw.start < start
                    && matches!(w.raw.shape, Shape::Number { .. })
                    && !matches!(w.verdict, Some(Verdict::Period | Verdict::Structural))
            });
            if last_figure.is_some_and(|f| f != i) {
                continue;
            }
            let c = &self.candidates[k];
            let Some(row) = self
                .facts
                .rows()
                .iter()
                .find(|r| r.metric == c.metric && r.period == c.period)
            else {
                continue;
            };
            // The group the claim names right after it, up to the next claim, clause or
            // "and" ("the top quarter of councils in the West Midlands"), else the nearest the
            // sentence names before it, else all councils. A claim may run past its
            // sentence's end (over a line break): its own end bounds it then.
            let (from, to) = draft.sentences[s];
            let to = if end > to {
                draft
                    .sentences
                    .iter()
                    .find(|&&(a, b)| a < end && end <= b)
                    .map_or(end, |&(_, b)| b)
            } else {
                to
            };
            let next_claim = claims.get(n + 1).map_or(to, |c| c.0.max(end));
            let clause_end = text[end..to]
                .find([',', ';', '.'])
                .map_or(to, |at| end + at)
                .min(text[end..to].find(" and ").map_or(to, |at| end + at))
                .min(next_claim);
            let groups = [Owner::Peers, Owner::Region, Owner::England];
            let after = draft
                .cues
                .iter()
                .filter(|&&(a, b, o)| a >= end && b <= clause_end && groups.contains(&o))
                .min_by_key(|c| c.0);
            let before = draft
                .cues
                .iter()
                .filter(|&&(a, b, o)| a >= from && b <= start && groups.contains(&o))
                .max_by_key(|c| c.0);
            let wanted = match after.or(before).map(|c| c.2) {
                Some(Owner::Peers) => |p: &Peers| matches!(p, Peers::Group(_)),
                Some(Owner::Region) => |p: &Peers| *p == Peers::RegionCouncils,
                _ => |p: &Peers| *p == Peers::AllCouncils,
            };
            let Some(p) = row.peers.iter().find(|p| wanted(&p.peers)) else {
                continue;
            };
            let said = &text[start..end];
            let shown = &row.display;
            let refuted = match claim.high(row.polarity) {
                None => Some(format!(
                    "\"{said}\": the measure has no better direction, so no quarter or median is better or worse"
                )),
                Some(high) if claim.is_quarter() => {
                    let want = if high { 1 } else { 4 };
                    (p.quartile != want).then(|| {
                        format!(
                            "\"{said}\": {shown} is in quarter {} of 4 among {} (1 holds the highest values, 4 the lowest), {}: {}",
                            p.quartile,
                            p.name.trim_start_matches("its "),
                            p.rank_words,
                            p.derivation
                        )
                    })
                }
                Some(high) => {
                    let median = p.median.value();
                    let holds = if high {
                        c.value > median
                    } else {
                        c.value < median
                    };
                    (!holds).then(|| {
                        let side = if c.value == median {
                            "level with"
                        } else if c.value > median {
                            "above"
                        } else {
                            "below"
                        };
                        format!(
                            "\"{said}\": {shown} is {side} the median of {}, {}: {}",
                            p.name.trim_start_matches("its "),
                            p.median_display,
                            p.derivation
                        )
                    })
                }
            };
            // "no longer in the bottom quarter", "not above the median": the claim holds when
            // the plain one does not.
            let refuted = match (claim.negated(), refuted) {
                (false, r) => r,
                (true, Some(_)) => None,
                (true, None) => claim.high(row.polarity).map(|_| {
                    format!(
                        "\"{said}\": it is, among {}",
                        p.name.trim_start_matches("its ")
                    )
                }),
            };
            let Some(why) = refuted else { continue };
            let median_id = crate::facts::group_fact_id(
                self.facts.area().code().as_str(),
                &c.metric,
                c.period,
                "median",
                p.peers.key(),
            );
            let w = &mut draft.work[i];
            w.verdict = Some(Verdict::WrongDirection);
            w.message = why;
            w.facts = std::iter::once(k)
                .chain(self.candidates.iter().position(|o| o.id == median_id))
                .collect();
        }
    }

    /// The council's figure a phrase at byte `at` of sentence `s` goes with: the last supported
    /// one before it in the sentence, else the last in the two sentences before, as (mention,
    /// candidate).
    fn council_figure(&self, draft: &Draft, s: usize, at: usize) -> Option<(usize, usize)> {
        let own = |(i, w): (usize, &Work)| {
            (w.verdict == Some(Verdict::Supported))
                .then(|| {
                    w.facts
                        .iter()
                        .copied()
                        .find(|&k| self.candidates[k].owner == Owner::Council)
                        .map(|k| (i, k))
                })
                .flatten()
        };
        let before = draft
            .work
            .iter()
            .enumerate()
            .rev()
            .filter(|(_, w)| w.sentence == s && w.raw.start < at)
            .find_map(own);
        before.or_else(|| {
            (s.saturating_sub(2)..s).rev().find_map(|t| {
                draft
                    .work
                    .iter()
                    .enumerate()
                    .rev()
                    .filter(|(_, w)| w.sentence == t)
                    .find_map(own)
            })
        })
    }

    /// The measure a trend phrase at mention `i` is about: the council's figure quoted in its
    /// sentence, else the last one of the sentences before (two at most).
    fn measure_of_sentence(&self, draft: &Draft, i: usize) -> Option<usize> {
        self.council_figure(draft, draft.work[i].sentence, usize::MAX)
            .map(|(_, k)| k)
    }

    /// The council's own values of a measure, oldest first.
    fn series(&self, metric: &MetricId) -> Vec<super::trend::Point> {
        let mut points: Vec<super::trend::Point> = self
            .candidates
            .iter()
            .filter(|c| &c.metric == metric && c.owner == Owner::Council)
            .map(|c| super::trend::Point {
                period: c.period,
                value: c.value,
                id: c.id.clone(),
                shown: printed(c.value, c.unit),
            })
            .collect();
        points.sort_by_key(|p| p.period);
        points
    }
}

fn to_period(p: WrittenPeriod) -> Option<Period> {
    match p {
        WrittenPeriod::FinancialYear(y) => Some(Period::FinancialYear(y)),
        WrittenPeriod::Year(y) => Some(Period::Year(y)),
        WrittenPeriod::Month(..) => None,
    }
}

/// An ordinal with a rank word that no rank in play supports: counted from the wrong end
/// ("12th lowest" for the 12th highest), or no rank of the measure at all.
fn flag_rank(w: &mut Work, ranks: &[usize], candidates: &[Candidate]) {
    let value = w.value();
    let same_number = ranks
        .iter()
        .copied()
        .find(|&k| value == Some(candidates[k].value));
    if let Some(k) = same_number {
        w.verdict = Some(Verdict::WrongDirection);
        w.facts = vec![k];
        w.message = format!(
            "the rank is counted from the other end: it is {}",
            describe(&candidates[k])
        );
        return;
    }
    let wanted = ranks
        .iter()
        .copied()
        .find(|&k| match w.rank_word {
            Some(rules::RankWord::End(e)) => candidates[k].rank_end == Some(e),
            _ => true,
        })
        .unwrap_or(ranks[0]);
    w.verdict = Some(Verdict::Unsupported);
    w.facts = vec![wanted];
    w.message = format!(
        "no rank in the facts is this one: it is {}",
        describe(&candidates[wanted])
    );
}

/// Is there a cue for `owner` within `range`?
fn cue_within(cues: &[(usize, usize, Owner)], range: std::ops::Range<usize>, owner: Owner) -> bool {
    cues.iter()
        .any(|&(s, e, o)| o == owner && s >= range.start && e <= range.end)
}

/// One text being judged: its sentences, the periods each sentence writes, and the mentions
/// with what the passes have decided so far.
struct Draft<'t> {
    text: &'t str,
    sentences: Vec<(usize, usize)>,
    sentence_periods: Vec<Vec<WrittenPeriod>>,
    /// Owner cues in the text, as (start, end, owner).
    cues: Vec<(usize, usize, Owner)>,
    work: Vec<Work>,
}

impl Draft<'_> {
    /// The periods that date figure `i`: its sentence's, moved by a relative period ("the year
    /// before"), which in a sentence writing none is relative to the last sentence that does.
    fn periods_of(&self, i: usize) -> Vec<WrittenPeriod> {
        let w = &self.work[i];
        let Some(years) = w.relative else {
            return self.sentence_periods[w.sentence].clone();
        };
        self.sentence_periods[..=w.sentence]
            .iter()
            .rev()
            .find(|p| !p.is_empty())
            .map(|p| p.iter().map(|p| p.shifted(years)).collect())
            .unwrap_or_default()
    }

    fn into_report(self, candidates: &[Candidate]) -> Report {
        let text = self.text;
        let mentions = self
            .work
            .into_iter()
            .map(|w| Mention {
                span: (w.raw.start, w.raw.end),
                text: text[w.raw.start..w.raw.end].to_string(),
                value: w.value(),
                unit: w.unit_name().into(),
                hedge: w.raw.hedge.map(|h| h.name().into()),
                verdict: w.verdict.expect("every mention gets a verdict"),
                facts: w.facts.iter().map(|&k| candidates[k].id.clone()).collect(),
                derivation: w.derivation,
                message: w.message,
            })
            .collect();
        Report::new(mentions)
    }
}

/// "16.2%, below England's 17.6" and "£8,582.81 per 100,000, above England's £7,878.45": a
/// figure may carry the unit of the figure it is compared with. Also "£5,724 and £4,576 per
/// 100,000": the unit may follow the next figure.
fn carried_unit(
    work: &[Work],
    i: usize,
    prev_value: Option<usize>,
    unit: MentionUnit,
) -> Option<MentionUnit> {
    // An ordinal is a position, never a share or a sum of money.
    if !matches!(unit, MentionUnit::Bare | MentionUnit::Pounds) || work[i].raw.ordinal {
        return None;
    }
    let next_unit = (i + 1..work.len())
        .take_while(|&j| work[j].sentence == work[i].sentence)
        .find(|&j| work[j].is_value())
        .and_then(|j| match work[j].raw.shape {
            Shape::Number { unit, .. } => Some(unit),
            _ => None,
        });
    let carried = |u: &MentionUnit| {
        matches!(
            u,
            MentionUnit::Percent
                | MentionUnit::Pounds
                | MentionUnit::PoundsPer100k
                | MentionUnit::PoundsPerHead
        ) && *u != unit
    };
    prev_value
        .map(|j| work[j].also_unit.unwrap_or(work[j].unit))
        .filter(carried)
        .or(next_unit.filter(carried))
}

struct Work {
    raw: RawMention,
    sentence: usize,
    unit: MentionUnit,
    also_unit: Option<MentionUnit>,
    owner: Option<Owner>,
    /// Where the owner cue after this figure starts, if it took one.
    taken_cue: Option<usize>,
    direct: Vec<usize>,
    /// Content words between the figures either side of this one, in its sentence.
    context: Vec<rules::Word>,
    /// The first content word right after the figure: the noun it counts, if any.
    noun: Option<rules::Word>,
    /// Where the clause after the figure ends (the words up to it describe this figure).
    clause_end: usize,
    /// For an ordinal: the end of a ranking the word after it counts from ("12th highest").
    rank_word: Option<rules::RankWord>,
    /// Years from the sentence's period to this figure's ("the year before": -1).
    relative: Option<i16>,
    /// Set when the figure matches a fact but the sentence names another measure.
    measure_mismatch: Option<String>,
    verdict: Option<Verdict>,
    /// Indices into the candidates of the facts the verdict rests on.
    facts: Vec<usize>,
    derivation: Option<Derivation>,
    message: String,
}

impl Work {
    fn new(raw: RawMention, sentence: usize) -> Self {
        Work {
            raw,
            sentence,
            unit: MentionUnit::Bare,
            also_unit: None,
            owner: None,
            taken_cue: None,
            direct: Vec::new(),
            context: Vec::new(),
            noun: None,
            clause_end: 0,
            rank_word: None,
            relative: None,
            measure_mismatch: None,
            verdict: None,
            facts: Vec::new(),
            derivation: None,
            message: String::new(),
        }
    }

    /// A figure that claims a value (not a period or a structural number).
    fn is_value(&self) -> bool {
        matches!(
            self.raw.shape,
            Shape::Number { .. } | Shape::Ratio { .. } | Shape::Fraction { .. }
        )
    }

    fn value(&self) -> Option<f64> {
        match self.raw.shape {
            Shape::Number { value, .. }
            | Shape::Ratio { value, .. }
            | Shape::Fraction { value, .. } => Some(value),
            _ => None,
        }
    }

    /// The unit written, or the one carried over from the figure it is compared with.
    fn effective_unit(&self) -> MentionUnit {
        self.also_unit.unwrap_or(self.unit)
    }

    fn unit_name(&self) -> &'static str {
        match self.raw.shape {
            Shape::Number { .. } => self.unit.name(),
            Shape::Ratio { .. } => "ratio",
            Shape::Fraction { .. } => "fraction",
            Shape::Period(_) => "period",
            Shape::Structural(_) => "structural",
            Shape::Unreadable => "number",
        }
    }

    /// Could a fact of `unit` be what this figure states, by its written or carried unit?
    fn unit_fits(&self, unit: Unit) -> bool {
        match self.raw.shape {
            Shape::Number { unit: written, .. } => {
                rules::unit_compatible(written, unit, self.raw.ordinal)
                    || self
                        .also_unit
                        .is_some_and(|u| rules::unit_compatible(u, unit, false))
            }
            Shape::Fraction { .. } => unit == Unit::Percent,
            _ => false,
        }
    }

    fn matches_directly(&self, c: &Candidate) -> bool {
        // A rank is an ordinal counted from the end the word after it names.
        if let Some(end) = c.rank_end {
            let word_fits = match self.rank_word {
                Some(rules::RankWord::End(e)) => e == end,
                Some(rules::RankWord::Best) => c.best_end == Some(end),
                Some(rules::RankWord::Worst) => c.best_end.is_some_and(|b| b != end),
                None => false,
            };
            if !self.raw.ordinal || !word_fits {
                return false;
            }
        }
        match self.raw.shape {
            Shape::Number {
                value,
                step,
                sig_step,
                ..
            } => {
                // Figures are written as magnitudes; the sign is in the words ("an underspend
                // of £300,000", "fell by 2%").
                self.unit_fits(c.unit)
                    && rules::value_matches(value, step, sig_step, self.raw.hedge, c.value.abs())
            }
            Shape::Fraction { value, one_in } => {
                self.unit_fits(c.unit)
                    && rules::fraction_matches(value, one_in, self.raw.hedge, c.value)
            }
            _ => false,
        }
    }
}

/// "well above the median of 28.0%", after the group was named for the figure before: a
/// median the text calls a median, given to no other place, is the group's median.
fn called_median(text: &str, w: &Work, c: &Candidate) -> bool {
    // The words just before the figure: "the median of", "a median of", "median".
    c.peer_stat
        && !c.needs_company
        && matches!(w.owner, None | Some(Owner::Council))
        && words_before(text, w.raw.start, 4).contains("median")
}

/// The last `n` words before byte `at`, lower case.
fn words_before(text: &str, at: usize, n: usize) -> String {
    let before = &text[..at];
    let from = before
        .char_indices()
        .rev()
        .filter(|(_, ch)| ch.is_whitespace())
        .nth(n - 1)
        .map_or(0, |(at, _)| at);
    before[from..].to_lowercase()
}

/// "the England average of 67.5%" for the median of councils in England: a median is not
/// England's average (England's own figure weighs every person, the median every council
/// alike), so a group's median the text calls an average or a mean is not that median.
fn called_average(text: &str, w: &Work, c: &Candidate) -> bool {
    if !c.peer_stat || c.needs_company {
        return false;
    }
    // Only this clause's words ("This is above average. Similar councils recorded 65.0%."
    // says nothing of 65.0%), and not the measure's own name ("average discharge delay").
    let window = words_before(text, w.raw.start, 5);
    let words = window
        .rfind(['.', ';', '!', '?'])
        .map_or(window.as_str(), |at| &window[at + 1..]);
    if c.wording.contains("average") || c.wording.contains("mean") {
        return false;
    }
    let has = |word: &str| {
        words
            .match_indices(word)
            .any(|(at, _)| rules::whole_word(words, at, at + word.len(), false))
    };
    (has("average") || has("mean")) && !has("median")
}

/// Does the owner the text gives a figure fit the fact? A group's median must be given to its
/// group by name (no text means "the median" of nobody in particular); a rank may be the
/// council's as much as the group's.
fn owner_ok(said: Option<Owner>, fact: &Candidate) -> bool {
    if fact.peer_stat && !fact.needs_company {
        return said == Some(fact.owner);
    }
    said.is_none_or(|o| o == fact.owner || (fact.rank_end.is_some() && o == Owner::Council))
}

/// May the period written date this fact? Its own period, and for a financial year the
/// publisher dates by the year it ends, that year ("2024" or "March 2024" for 2023-24).
fn period_ok(written: WrittenPeriod, fact: &Candidate) -> bool {
    if let (Period::FinancialYear(y), Dating::YearEnding) = (fact.period, fact.dated_by) {
        let ends = y + 1;
        if matches!(written, WrittenPeriod::Year(w) | WrittenPeriod::Month(w, 3) if w == ends) {
            return true;
        }
    }
    match (written, fact.period) {
        (WrittenPeriod::Year(y), Period::Year(f) | Period::Census(f) | Period::Month(f, _)) => {
            y == f
        }
        (WrittenPeriod::FinancialYear(y), Period::FinancialYear(f)) => y == f,
        (WrittenPeriod::Month(y, m), Period::Month(fy, fm)) => y == fy && m == fm,
        _ => false,
    }
}

fn written_period(p: &WrittenPeriod) -> String {
    match p {
        WrittenPeriod::Year(y) => y.to_string(),
        WrittenPeriod::FinancialYear(y) => Period::FinancialYear(*y).spelled(),
        WrittenPeriod::Month(y, m) => Period::Month(*y, *m).spelled(),
    }
}

fn owner_name(o: Option<Owner>, facts: &SectionFacts) -> String {
    match o {
        Some(Owner::Council) | None => facts.area().name().to_string(),
        Some(Owner::England) => "England".to_string(),
        Some(Owner::Region) => facts
            .region()
            .map_or("the region".to_string(), |r| r.name().to_string()),
        Some(Owner::Elsewhere) => "another place".to_string(),
        Some(Owner::Peers) => "its nearest neighbours".to_string(),
    }
}

fn describe(c: &Candidate) -> String {
    c.about.clone()
}

/// A value as a table prints it: grouped, at most two decimals, with its unit's sign.
fn printed(value: f64, unit: Unit) -> String {
    let grouped = crate::facts::format_grouped(value.abs(), 2);
    let digits = if grouped.contains('.') {
        grouped.trim_end_matches('0').trim_end_matches('.')
    } else {
        grouped.as_str()
    };
    let sign = if value < 0.0 { "-" } else { "" };
    match unit {
        Unit::Percent => format!("{sign}{digits}%"),
        Unit::Pounds | Unit::PoundsPerHead | Unit::PoundsPer100k => format!("{sign}£{digits}"),
        _ => format!("{sign}{digits}"),
    }
}

fn candidates(facts: &SectionFacts) -> Vec<Candidate> {
    let mut out: Vec<Candidate> = Vec::new();
    // Each fact once, whichever rows show it: kept in a set, since a section over many years
    // has hundreds of candidates.
    let mut seen = std::collections::HashSet::new();
    let place = |owner: Owner| owner_name(Some(owner), facts);
    let mut push = |row: &FactRow, owner: Owner, area: &str, value: Option<f64>| {
        let Some(value) = value else { return };
        let id = crate::facts::fact_id(area, &row.metric, row.period);
        if !seen.insert(id.clone()) {
            return;
        }
        let about = format!(
            "{} for {}, {}: {} [{id}]",
            row.label,
            place(owner),
            row.period_spelled,
            printed(value, row.unit)
        );
        out.push(Candidate {
            about,
            id,
            metric: row.metric.clone(),
            unit: row.unit,
            value,
            period: row.period,
            dated_by: row.dated_by,
            owner,
            denominator: row.denominator.clone(),
            words: rules::content_words(&format!(
                "{} {}",
                row.label,
                row.metric.as_str().replace('_', " ")
            )),
            wording: row.wording.clone(),
            higher_means: row.higher_means.as_deref().and_then(|h| {
                let (more, word) = h.split_once(' ')?;
                Some((more == "more", *rules::content_words(word).first()?))
            }),
            rank_end: None,
            best_end: None,
            needs_company: false,
            peer_stat: false,
        });
    };
    for row in facts.rows().iter().chain(facts.context()) {
        let council = Some((Owner::Council, facts.area().code().as_str(), &row.value));
        let england = row
            .england
            .as_ref()
            .map(|e| (Owner::England, e.area.as_str(), &e.value));
        let region = row
            .region
            .as_ref()
            .map(|r| (Owner::Region, r.area.as_str(), &r.value));
        for (owner, area, value) in [council, england, region].into_iter().flatten() {
            push(row, owner, area, value.as_number().map(|n| n.value()));
        }
    }
    // A national survey's figure with no council counterpart is still a fact: England's.
    for row in facts.england_only() {
        push(
            row,
            Owner::England,
            crate::facts::ENGLAND,
            row.value.as_number().map(|n| n.value()),
        );
    }
    // Where the council stands among groups of councils, as narrator computed and the prompt
    // showed it: each group's median, the council's rank from either end, and the group's size.
    for row in facts.rows() {
        for p in &row.peers {
            push_peer_figures(&mut out, row, p, facts.area().code().as_str());
        }
    }
    out
}

fn push_peer_figures(out: &mut Vec<Candidate>, row: &FactRow, p: &PeerComparison, area: &str) {
    use crate::facts::Peers;
    let owner = match &p.peers {
        Peers::AllCouncils => Owner::England,
        Peers::RegionCouncils => Owner::Region,
        Peers::Group(_) => Owner::Peers,
    };
    let group = p.peers.key();
    let label_words = format!("{} {}", row.label, row.metric.as_str().replace('_', " "));
    let mut figure = |stat: &str, unit: Unit, value: f64, words: &str, shown: String, end| {
        let id = crate::facts::group_fact_id(area, &row.metric, row.period, stat, group);
        out.push(Candidate {
            about: format!(
                "{} for {}, {}: {shown} [{id}]",
                row.label, p.name, row.period_spelled
            ),
            id,
            metric: row.metric.clone(),
            unit,
            value,
            period: row.period,
            dated_by: row.dated_by,
            owner,
            denominator: None,
            words: rules::content_words(&format!("{label_words} {words}")),
            wording: row.wording.clone(),
            higher_means: None,
            needs_company: stat != "median",
            peer_stat: true,
            rank_end: end,
            best_end: match row.polarity {
                crate::facts::Polarity::HigherIsBetter => Some(rules::RankEnd::Highest),
                crate::facts::Polarity::HigherIsWorse => Some(rules::RankEnd::Lowest),
                crate::facts::Polarity::Neutral => None,
            },
        });
    };
    figure(
        "median",
        row.unit,
        p.median.value(),
        "median middle typical",
        format!("median {}", p.median_display),
        None,
    );
    for (stat, rank, end) in [
        ("rank", p.rank, rules::RankEnd::Highest),
        (
            "rank_from_lowest",
            p.rank_from_lowest,
            rules::RankEnd::Lowest,
        ),
    ] {
        let word = match end {
            rules::RankEnd::Highest => "highest",
            rules::RankEnd::Lowest => "lowest",
        };
        figure(
            stat,
            Unit::Rank,
            rank as f64,
            &format!("rank ranked {word}"),
            format!("{} {word} of {}", crate::facts::ordinal(rank), p.councils),
            Some(end),
        );
    }
    figure(
        "councils",
        Unit::Count,
        p.councils as f64,
        "councils authorities",
        format!("{} councils with a value", p.councils),
        None,
    );
}

/// Label words that many of the section's measures share ("adult", "social", "care" in a
/// report about adult social care) name none of them: reading "193 complaints about adult social
/// care" as the one measure whose label says "adult social care" most often flagged true
/// figures. A word is generic when more than a third of the section's measures (at least four
/// of them) have it; it then counts for none.
fn generic_words(candidates: &[Candidate]) -> Vec<rules::Word> {
    let mut measures: Vec<(&crate::facts::MetricId, &[rules::Word])> = Vec::new();
    for c in candidates.iter() {
        if !measures.iter().any(|(m, _)| *m == &c.metric) {
            measures.push((&c.metric, &c.words));
        }
    }
    let mut counts: std::collections::HashMap<rules::Word, usize> =
        std::collections::HashMap::new();
    for (_, words) in &measures {
        let mut seen: Vec<rules::Word> = Vec::new();
        for w in words.iter() {
            if !seen.contains(w) {
                seen.push(*w);
                *counts.entry(*w).or_default() += 1;
            }
        }
    }
    let many = (measures.len() / 3).max(3);
    counts
        .into_iter()
        .filter(|&(_, n)| n > many)
        .map(|(w, _)| w)
        .collect()
}

/// Tries the permitted derivations over the facts quoted nearby and their close relations.
fn derive(w: &Work, quoted: &BTreeSet<usize>, cands: &[Candidate]) -> Option<Derivation> {
    // The pool: quoted facts, the same metrics' other owners and periods, and populations of rates.
    let mut pool: BTreeSet<usize> = quoted.clone();
    for &q in quoted {
        for (k, c) in cands.iter().enumerate() {
            let sibling = c.metric == cands[q].metric;
            let population = cands[q].denominator.as_ref() == Some(&c.metric);
            if sibling || population {
                pool.insert(k);
            }
        }
    }
    // A rank or a group's size is no operand: nobody adds ranks or takes a share of them.
    let pool: Vec<usize> = pool
        .into_iter()
        .filter(|&k| !cands[k].needs_company)
        .collect();
    // Looked up once, not per pair: a sentence quoting a hundred facts makes the pairs many
    // (a fuzzed input took a third of a second per check).
    let populations: BTreeSet<&MetricId> = cands
        .iter()
        .filter_map(|c| c.denominator.as_ref())
        .collect();
    let hedge = w.raw.hedge;
    // A figure the text gives to an owner must be derived from at least one of that owner's facts.
    let owner_fits =
        |a: &Candidate, b: &Candidate| w.owner.is_none_or(|o| a.owner == o || b.owner == o);
    // Operands a reader can follow: one measure across owners (same period) or periods (same
    // owner), or two measures of the same owner and period.
    let comparable = |a: &Candidate, b: &Candidate| {
        // A group's median is compared only with the council's own value beside it (its
        // distance from the median), never across years or with other medians.
        if a.peer_stat || b.peer_stat {
            return a.metric == b.metric
                && a.period == b.period
                && (a.owner == Owner::Council) != (b.owner == Owner::Council);
        }
        if a.metric == b.metric {
            (a.owner == b.owner) != (a.period == b.period)
        } else {
            a.owner == b.owner && a.period == b.period
        }
    };
    let found = |op: &'static str, a: &Candidate, b: &Candidate, value: f64| Derivation {
        operation: op.into(),
        facts: vec![a.id.clone(), b.id.clone()],
        value,
    };
    match w.raw.shape {
        Shape::Ratio { value, step } => {
            for &i in &pool {
                for &j in &pool {
                    let (a, b) = (&cands[i], &cands[j]);
                    if i == j
                        || a.unit != b.unit
                        || b.value == 0.0
                        || !comparable(a, b)
                        || !owner_fits(a, b)
                    {
                        continue;
                    }
                    let r = a.value / b.value;
                    if rules::ratio_matches(value, step, hedge, r) {
                        return Some(found("ratio", a, b, r));
                    }
                }
            }
            None
        }
        Shape::Number {
            value,
            step,
            sig_step,
            unit,
        } => {
            // A derived figure that rounds to nothing ("0") says nothing.
            let m = |x: f64| {
                x.abs() >= step / 2.0 && rules::value_matches(value, step, sig_step, hedge, x.abs())
            };
            for &i in &pool {
                let a = &cands[i];
                for &j in &pool {
                    let b = &cands[j];
                    if i == j || !owner_fits(a, b) {
                        continue;
                    }
                    if a.unit == b.unit && a.unit != Unit::Category && comparable(a, b) {
                        let unit_ok = rules::unit_compatible(unit, a.unit, false)
                            || w.also_unit
                                .is_some_and(|u| rules::unit_compatible(u, a.unit, false));
                        let diff_unit_ok = match a.unit {
                            Unit::Percent => unit == MentionUnit::PercentagePoints,
                            Unit::Score => unit == MentionUnit::PercentagePoints || unit_ok,
                            _ => unit_ok,
                        };
                        if diff_unit_ok && i < j && m(a.value - b.value) {
                            let op = if unit == MentionUnit::PercentagePoints {
                                "percentage_point_difference"
                            } else {
                                "difference"
                            };
                            return Some(found(op, a, b, (a.value - b.value).abs()));
                        }
                        // Both quoted nearby, or one metric's values: the pairs a reader can follow.
                        let related =
                            a.metric == b.metric || (quoted.contains(&i) && quoted.contains(&j));
                        if related
                            && b.value != 0.0
                            && unit == MentionUnit::Percent
                            && a.unit != Unit::Percent
                        {
                            let change = (a.value - b.value) / b.value * 100.0;
                            if m(change) {
                                return Some(found("percentage_change", a, b, change));
                            }
                            let share = a.value / b.value * 100.0;
                            if a.metric != b.metric && m(share) {
                                return Some(found("share", a, b, share));
                            }
                        }
                        // A change in a percentage, as a percentage, only over time, and only
                        // between two values the text quotes: over a series of shares the
                        // pairs are many, and a misquoted share too often equals one.
                        if a.metric == b.metric
                            && a.owner == b.owner
                            && quoted.contains(&i)
                            && quoted.contains(&j)
                            && b.value != 0.0
                            && unit == MentionUnit::Percent
                            && a.unit == Unit::Percent
                        {
                            let change = (a.value - b.value) / b.value * 100.0;
                            if m(change) {
                                return Some(found("percentage_change", a, b, change));
                            }
                        }
                        let same_scope =
                            a.owner == b.owner && a.period == b.period && a.metric != b.metric;
                        if i < j && unit_ok && same_scope && m(a.value + b.value) {
                            return Some(found("sum", a, b, a.value + b.value));
                        }
                    }
                    // Counts from rates per 100,000 and a population, and back.
                    if a.unit == Unit::Per100k && a.denominator.as_ref() == Some(&b.metric) {
                        let count = a.value * b.value / 100_000.0;
                        if unit == MentionUnit::Bare && m(count) {
                            return Some(found("count_from_rate", a, b, count));
                        }
                    }
                    if a.unit == Unit::Count
                        && b.unit == Unit::Count
                        && a.metric != b.metric
                        && b.value != 0.0
                    {
                        let is_population = populations.contains(&b.metric);
                        let rate = a.value / b.value * 100_000.0;
                        if is_population && unit == MentionUnit::Per100k && m(rate) {
                            return Some(found("rate_from_count", a, b, rate));
                        }
                    }
                }
            }
            None
        }
        _ => None,
    }
}

/// Pass 5: flags the second of two figures when the comparison word between them is
/// contradicted, read with the measure's wording ("more challenging" may name the measure) and
/// its scale ("less deprived" is a higher deprivation decile). A sentence that refers back
/// ("This is higher than the national average of 1,143.48") compares the figure before it.
impl Checker<'_> {
    fn directions(&self, draft: &mut Draft) {
        let candidates = &self.candidates;
        let (text, sentences, cues, work) =
            (draft.text, &draft.sentences, &draft.cues, &mut draft.work);
        let comparable = |w: &Work| -> bool {
            matches!(w.raw.shape, Shape::Number { .. })
                && w.unit != MentionUnit::PercentagePoints
                && !matches!(
                    w.verdict,
                    Some(Verdict::Derived) | Some(Verdict::Structural) | Some(Verdict::Period)
                )
        };
        let idx: Vec<usize> = (0..work.len()).filter(|&i| comparable(&work[i])).collect();
        for pair in idx.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            let (sa, sb) = (work[a].sentence, work[b].sentence);
            let head = sentences[sb].0..work[b].raw.start;
            // "…2,220.67 per 100,000. The national average is lower, at 2,437.85": the next
            // sentence opens on the other figure's owner, so its word says how that figure
            // stands to this one.
            let opens_on_other = work[b]
                .owner
                .is_some_and(|o| Some(o) != work[a].owner && cue_within(cues, head.clone(), o));
            // Across sentences, only the same measure's two figures (the council's and its
            // comparator's) are compared.
            let same_measure = work[a].facts.iter().any(|&i| {
                work[b]
                    .facts
                    .iter()
                    .any(|&j| candidates[i].metric == candidates[j].metric)
            });
            let refers_back = rules::refers_back(&text[head.clone()]);
            let follows = sa + 1 == sb && same_measure && (refers_back || opens_on_other);
            if sa != sb && !follows {
                continue;
            }
            let (ua, ub) = (work[a].effective_unit(), work[b].effective_unit());
            let same_kind = ua == ub || ua == MentionUnit::Bare || ub == MentionUnit::Bare;
            if !same_kind {
                continue;
            }
            let between = &text[work[a].raw.end..work[b].raw.start];
            let mut segment = between;
            let mut comparison = rules::comparison(between, work[b].raw.hedge.is_some());
            if comparison.is_none() && rules::has_linker(between) {
                let prev = idx.iter().rev().find(|&&j| j < a && work[j].sentence == sa);
                let start = prev.map_or(sentences[sa].0, |&j| work[j].raw.end);
                segment = &text[start..work[a].raw.start];
                comparison = rules::comparison(segment, false);
            }
            let Some((mut direction, strength, word, end)) = comparison else {
                continue;
            };
            let after: Vec<String> = segment[end..]
                .split(|c: char| !c.is_alphanumeric())
                .filter(|w| !w.is_empty())
                .take(4)
                .map(str::to_ascii_lowercase)
                .collect();
            let quoted: Vec<&Candidate> = work[a]
                .facts
                .iter()
                .chain(&work[b].facts)
                .map(|&k| &candidates[k])
                .collect();
            // "more challenging": a comparative the measure's own wording uses, followed by
            // the word it qualifies (never a "than", a figure or a short function word).
            let last_word = word.rsplit(' ').next().unwrap_or("");
            if let Some(next) = after.first().filter(|n| {
                n.len() >= 4 && n.chars().all(|c| c.is_ascii_alphabetic()) && *n != "than"
            }) {
                let phrase = format!("{last_word} {next}");
                if quoted.iter().any(|c| c.wording.contains(&phrase)) {
                    continue;
                }
            }
            let after_words = rules::content_words(&after.join(" "));
            let scale = quoted
                .iter()
                .filter_map(|c| c.higher_means)
                .find(|(_, stem)| after_words.contains(stem));
            if let Some((false, _)) = scale {
                direction = direction.reversed();
            }
            // The other owner named before the word is its subject: the word says how the
            // second figure stands to the first.
            let word_at = segment.as_ptr() as usize - text.as_ptr() as usize + end;
            if sa != sb
                && !refers_back
                && work[b]
                    .owner
                    .is_some_and(|o| cue_within(cues, sentences[sb].0..word_at, o))
            {
                direction = direction.reversed();
            }
            let (Some(x), Some(y)) = (work[a].value(), work[b].value()) else {
                continue;
            };
            if let Some(why) = rules::contradiction(direction, strength, x, y) {
                // Name the two facts compared, when the figures are facts.
                let fact_of = |w: &Work| w.facts.first().map(|&k| describe(&candidates[k]));
                let compared = match (fact_of(&work[a]), fact_of(&work[b])) {
                    (Some(fa), Some(fb)) => format!(" (compared: {fa}, and {fb})"),
                    _ => String::new(),
                };
                let wb = &mut work[b];
                if !wb.verdict.is_some_and(Verdict::is_flag) {
                    wb.verdict = Some(Verdict::WrongDirection);
                    wb.message = format!("\"{word}\" {why}{compared}");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts;
    use std::path::Path;

    /// The real facts of one council's section, from the repo's `data/` folder.
    fn view(area: &str, section: &str) -> SectionFacts {
        let set = facts::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("data"))
            .expect("the repo's data loads");
        let area = set.find_area(area).expect("the area is in data/");
        let section = set.find_section(section).expect("the section is in data/");
        set.section_facts(area, section)
    }

    #[test]
    fn a_mention_across_a_paragraph_break_is_judged_without_panicking() {
        let facts = view("E06000022", "carers");
        for (text, figure) in [
            ("one\n\nin five carers", "one\n\nin five"),
            ("In August\n\n2024 it was 12%.", "August\n\n2024"),
            ("a\n\nhalf of carers", "a\n\nhalf"),
            ("It was three\n\ntimes more.", "three\n\ntimes"),
        ] {
            let report = check(text, &facts);
            assert_eq!(report.mentions[0].text, figure, "{text:?}");
            assert!(report.render_text(text).contains("figures"), "{text:?}");
        }
    }

    #[test]
    fn digits_other_than_0_to_9_are_flagged_not_read_as_zero() {
        let report = check("There were ٣٤٥ carers.", &view("E06000022", "carers"));
        assert_eq!(report.mentions.len(), 1);
        assert_eq!(report.mentions[0].verdict, Verdict::Unsupported);
        assert_eq!(report.mentions[0].value, None);
        assert!(!report.pass);
    }

    #[test]
    fn a_stored_report_reads_back_as_the_same_report() {
        let facts = view("E06000022", "carers");
        let text = "About 12% of carers were satisfied in 2023-24, below England. \
                    That was 3 points less than the year before.";
        let report = check(text, &facts);
        assert!(report.mentions.len() >= 2, "{report:?}");
        let read = Report::from_json(&report.to_json()).expect("a report reads back");
        assert_eq!(read, report);
    }
}
