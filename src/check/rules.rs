//! The documented rules: sentence bounds, units that may match, rounding and hedges,
//! owner cues, and comparison words with their bands.

use super::scan::{Hedge, MentionUnit, PHRASE_ENDS};
use super::shape::list_marker_len;
use crate::facts::Unit;
use aho_corasick::AhoCorasick;
use std::sync::LazyLock;

/// Hedged figures may sit this far (relative) from the fact: "nearly 2,000" for 1,930.
pub const HEDGE_BAND: f64 = 0.10;
/// "similar", "close to", "in line with": the two figures differ by at most 5% of the larger.
pub const SIMILAR_BAND: f64 = 0.05;
/// "slightly": at most 15% apart; "much", "well", "far": at least 15% apart.
pub const SLIGHT_BAND: f64 = 0.15;
/// Ratio words ("twice", "three times") hold within 10% ("twice" for 1.8 to 2.2).
pub const RATIO_BAND: f64 = 0.10;

/// Sentence spans (byte offsets): split after `.`, `!` or `?` followed by space or end,
/// never inside a decimal, at blank lines, and around list items: each item of a bullet or
/// numbered list is a sentence of its own, ended or not.
pub fn sentences(text: &str) -> Vec<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    // Where the current line's list marker ends (its start when it has none).
    let mut marker_end = list_marker_len(text).unwrap_or(0);
    let mut line_is_item = marker_end > 0;
    while i < bytes.len() {
        let c = bytes[i];
        // "1. " opening a list item is its marker, not a sentence's end.
        let end_mark = matches!(c, b'.' | b'!' | b'?')
            && i >= marker_end
            && bytes
                .get(i + 1)
                .is_none_or(|n| n.is_ascii_whitespace() || *n == b'"' || *n == b')');
        let paragraph = c == b'\n' && bytes.get(i + 1) == Some(&b'\n');
        let mut item_edge = false;
        if c == b'\n' {
            let next = list_marker_len(&text[i + 1..]);
            marker_end = next.map_or(0, |n| i + 1 + n);
            // Not when the item already ended ("…2024.\n- Next"): that would leave an empty sentence.
            item_edge = (line_is_item || next.is_some()) && !text[start..i].trim().is_empty();
            line_is_item = next.is_some();
        }
        if end_mark || paragraph || item_edge {
            out.push((start, i + 1));
            start = i + 1;
        }
        i += 1;
    }
    if start < bytes.len() || out.is_empty() {
        out.push((start, bytes.len()));
    }
    out
}

/// A period written relative to the sentence's own: "the year before", "a year earlier", "the
/// previous year", "last year" (-1); "two years earlier" (-2); "a year later", "the following
/// year" (+1). "Ago" is relative to the reader's today, not to the text, and is not read; nor is a
/// duration ("two years before being assessed"): the phrase ends its clause.
pub fn relative_years(words: &str) -> Option<i16> {
    static RELATIVE: LazyLock<regex::Regex> = LazyLock::new(|| {
        regex::Regex::new(&format!(
            r"(?i)(?-u:\b)(?:(?P<back1>(?:the|a) year (?:before|earlier)|the (?:previous|prior|preceding) year|last year)|(?P<fwd1>(?:the|a) year (?:after|later)|the (?:following|next) year)|(?P<n>two|three|four|five|six|seven|eight|nine|ten|\d{{1,2}}) years (?P<dir>before|earlier|previously|later|after|on)){PHRASE_ENDS}",
        ))
        .expect("the relative period pattern is valid")
    });
    // Every form names a year: most clauses do not, and skip the pattern.
    find_ascii_ci(words, "year")?;
    let c = RELATIVE.captures(words)?;
    if c.name("back1").is_some() {
        return Some(-1);
    }
    if c.name("fwd1").is_some() {
        return Some(1);
    }
    let n = c.name("n")?.as_str().to_ascii_lowercase();
    let n: i16 = match n.as_str() {
        "two" => 2,
        "three" => 3,
        "four" => 4,
        "five" => 5,
        "six" => 6,
        "seven" => 7,
        "eight" => 8,
        "nine" => 9,
        "ten" => 10,
        digits => digits.parse().ok()?,
    };
    let back = matches!(c.name("dir")?.as_str(), "before" | "earlier" | "previously");
    Some(if back { -n } else { n })
}

/// May a figure written with `written` unit be a value of a fact in `fact` unit?
pub fn unit_compatible(written: MentionUnit, fact: Unit, ordinal: bool) -> bool {
    if ordinal {
        return matches!(fact, Unit::Rank | Unit::Count);
    }
    match written {
        MentionUnit::Percent => fact == Unit::Percent,
        MentionUnit::PercentagePoints => false,
        MentionUnit::Pounds => fact == Unit::Pounds,
        MentionUnit::PoundsPerHead => fact == Unit::PoundsPerHead,
        MentionUnit::PoundsPer100k => fact == Unit::PoundsPer100k,
        MentionUnit::Per100k => fact == Unit::Per100k,
        MentionUnit::PerKm2 => fact == Unit::PeoplePerKm2,
        MentionUnit::Days => fact == Unit::Days,
        MentionUnit::Weeks => fact == Unit::Weeks,
        MentionUnit::Months => fact == Unit::Months,
        MentionUnit::Hours => fact == Unit::Hours,
        MentionUnit::Years => fact == Unit::Years,
        // Rates and densities are often written without their unit once it is clear; durations
        // and money never are.
        MentionUnit::Bare => matches!(
            fact,
            Unit::Count
                | Unit::Score
                | Unit::Decile
                | Unit::Rank
                | Unit::Ratio
                | Unit::Per100k
                | Unit::PeoplePerKm2
        ),
    }
}

/// Does a figure written as `written` (last digit worth `step`; `sig_step` ignoring trailing
/// zeros) state `fact`, given the hedge before it?
///
/// - no hedge: `fact` rounds to the figure at the precision written (559 from 559.2).
/// - about: also rounding to the significant figures written (about 200,000 from 199,818),
///   staying within 10% of the figure (not "about 100" from 81).
/// - nearly: `fact` below the figure and within 10% of it (nearly 2,000 from 1,930).
/// - over: `fact` above the figure and within 10% of it (over 1,900 from 1,930).
/// - under: `fact` below the figure and within 10% of it (under 2,000 from 1,930).
pub fn value_matches(
    written: f64,
    step: f64,
    sig_step: f64,
    hedge: Option<Hedge>,
    fact: f64,
) -> bool {
    let eps = 1e-9 * fact.abs().max(1.0);
    let rounds_to = |s: f64| (fact - written).abs() <= s / 2.0 + eps;
    let near = written.abs() * HEDGE_BAND;
    match hedge {
        None => rounds_to(step),
        // Rounding to the significant figures written, but never further than the hedge band:
        // "about 200,000" for 199,818, not "about 100" for 81.
        Some(Hedge::About) => {
            rounds_to(step)
                || (rounds_to(sig_step) && (fact - written).abs() <= near + eps)
                || (fact - written).abs() <= written.abs() * ABOUT_BAND + eps
        }
        Some(Hedge::Nearly) | Some(Hedge::Under) => {
            fact < written - eps && written - fact <= near + eps
        }
        Some(Hedge::Over) => fact > written + eps && fact - written <= near + eps,
    }
}

/// "a third", "half", "one in five" as a percentage fact.
/// "one in N": 100 / fact rounds to N. Fractions: within 10% of the fraction (a third: 30% to 36.7%).
pub fn fraction_matches(
    value: f64,
    one_in: Option<u32>,
    hedge: Option<Hedge>,
    percent: f64,
) -> bool {
    if let Some(n) = one_in {
        return percent > 0.0 && (100.0 / percent).round() as u32 == n;
    }
    let share = percent / 100.0;
    let band = value
        * if hedge.is_some() {
            HEDGE_BAND * 1.5
        } else {
            HEDGE_BAND
        };
    match hedge {
        Some(Hedge::Nearly) | Some(Hedge::Under) => share < value && value - share <= band,
        Some(Hedge::Over) => share > value && share - value <= band,
        _ => (share - value).abs() <= band,
    }
}

/// A ratio figure: words hold within 10% (15% hedged); digits round at the precision written.
pub fn ratio_matches(value: f64, step: f64, hedge: Option<Hedge>, ratio: f64) -> bool {
    if step > 0.0 {
        return value_matches(value, step, step, hedge, ratio);
    }
    let band = if hedge.is_some() {
        RATIO_BAND * 1.5
    } else {
        RATIO_BAND
    };
    (ratio - value).abs() <= value * band
}

/// "about": besides rounding, a figure within half a percent of the fact ("about 27,386" for a
/// count derived as 27,393.5 from a rate and a population).
pub const ABOUT_BAND: f64 = 0.005;

/// Whose figure the words near it say it is: the council's name, the region's, and fixed cues.
pub struct OwnerCues {
    council: String,
    region: Option<String>,
    /// The prompt shows regional figures: otherwise "the region" can only mean the area the
    /// text is about ("Bath and North East Somerset is a region with...").
    regional_facts: bool,
}

/// Whose figure a fact is, or whose the text says a figure is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owner {
    Council,
    England,
    Region,
    /// A place with no facts in this prompt (another region, London, Wales...).
    Elsewhere,
    /// A council's comparator group (its nearest neighbours, similar councils).
    Peers,
}

/// The end of a ranking a rank counts from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RankEnd {
    Highest,
    Lowest,
}

/// The word after an ordinal that says which end it counts from: "12th highest", "3rd
/// lowest", or "5th best", which depends on the measure's polarity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RankWord {
    End(RankEnd),
    Best,
    Worst,
}

/// Reads the rank word right after an ordinal ("-highest", " highest", " lowest rate").
pub fn rank_word(after: &str) -> Option<RankWord> {
    let word: String = after
        .trim_start_matches(|c: char| c == '-' || c.is_whitespace())
        .chars()
        .take_while(|c| c.is_alphabetic())
        .collect::<String>()
        .to_lowercase();
    match word.as_str() {
        "highest" | "largest" | "biggest" | "greatest" | "most" | "top" => {
            Some(RankWord::End(RankEnd::Highest))
        }
        "lowest" | "smallest" | "least" | "fewest" | "bottom" => {
            Some(RankWord::End(RankEnd::Lowest))
        }
        "best" => Some(RankWord::Best),
        "worst" => Some(RankWord::Worst),
        _ => None,
    }
}

/// Words allowed between a figure and a cue after it ("37.4% of carers in England").
const GLUE: [&str; 14] = [
    "in",
    "across",
    "for",
    "of",
    "the",
    "people",
    "residents",
    "adults",
    "carers",
    "per",
    "100,000",
    "as",
    "a",
    "whole",
];

/// Fixed owner cues; a region name is the region's own or another place's, decided per prompt.
const FIXED_CUES: [(&str, Option<Owner>); 36] = [
    ("the council", Some(Owner::Council)),
    ("council's", Some(Owner::Council)),
    ("locally", Some(Owner::Council)),
    ("local rate", Some(Owner::Council)),
    ("local figure", Some(Owner::Council)),
    ("the area", Some(Owner::Council)),
    ("the authority", Some(Owner::Council)),
    ("england", Some(Owner::England)),
    ("england's", Some(Owner::England)),
    ("national", Some(Owner::England)),
    ("nationally", Some(Owner::England)),
    ("the country", Some(Owner::England)),
    ("the nation", Some(Owner::England)),
    ("regional", Some(Owner::Region)),
    ("regionally", Some(Owner::Region)),
    ("the region", Some(Owner::Region)),
    ("similar councils", Some(Owner::Peers)),
    ("similar authorities", Some(Owner::Peers)),
    ("comparable councils", Some(Owner::Peers)),
    ("nearest neighbours", Some(Owner::Peers)),
    ("statistical neighbours", Some(Owner::Peers)),
    ("comparator councils", Some(Owner::Peers)),
    ("peer councils", Some(Owner::Peers)),
    ("its peers", Some(Owner::Peers)),
    ("wales", Some(Owner::Elsewhere)),
    ("scotland", Some(Owner::Elsewhere)),
    ("northern ireland", Some(Owner::Elsewhere)),
    ("north east", None),
    ("north west", None),
    ("yorkshire and the humber", None),
    ("east midlands", None),
    ("west midlands", None),
    ("east of england", None),
    ("london", None),
    ("south east", None),
    ("south west", None),
];

static CUE_AUTOMATON: LazyLock<AhoCorasick> = LazyLock::new(|| {
    AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .build(FIXED_CUES.iter().map(|(p, _)| p))
        .expect("the owner cues build")
});

/// Is `text[start..end]` a whole word (an `s` may follow: "England's" is matched whole)?
fn bounded(text: &str, start: usize, end: usize) -> bool {
    whole_word(text, start, end, true)
}

impl OwnerCues {
    pub fn new(council: &str, region: Option<&str>, regional_facts: bool) -> Self {
        Self {
            council: council.to_ascii_lowercase(),
            region: region.map(str::to_ascii_lowercase),
            regional_facts,
        }
    }

    /// Every cue in `text`, non-overlapping, sorted, as (start, end, owner). Found once per
    /// text; `last_in` and `following` then pick from this list.
    pub fn find(&self, text: &str) -> Vec<(usize, usize, Owner)> {
        let mut found: Vec<(usize, usize, Owner)> = Vec::new();
        // The council's own name first, so "Bath and North East Somerset" is not "North East".
        if !self.council.is_empty() {
            let mut from = 0;
            while let Some(i) = find_ascii_ci(&text[from..], &self.council) {
                let (s, e) = (from + i, from + i + self.council.len());
                if bounded(text, s, e) {
                    found.push((s, e, Owner::Council));
                }
                from = e;
            }
        }
        // All whole-word matches, then the longest of overlapping ones: "the regional" is
        // "regional", not a broken "the region".
        let mut hits: Vec<(usize, usize, usize)> = CUE_AUTOMATON
            .find_overlapping_iter(text)
            .filter(|m| bounded(text, m.start(), m.end()))
            .map(|m| (m.start(), m.end(), m.pattern().as_usize()))
            .collect();
        hits.sort_by_key(|&(s, e, _)| (s, std::cmp::Reverse(e)));
        for (s, e, pattern) in hits {
            if found.iter().any(|&(fs, fe, _)| s < fe && fs < e) {
                continue;
            }
            let (phrase, owner) = FIXED_CUES[pattern];
            let owner = owner.unwrap_or(if self.region.as_deref() == Some(phrase) {
                Owner::Region
            } else {
                Owner::Elsewhere
            });
            // Only the generic words: the region's own name still names the region.
            let generic = FIXED_CUES[pattern].1 == Some(Owner::Region);
            let owner = if owner == Owner::Region && generic && !self.regional_facts {
                Owner::Council
            } else {
                owner
            };
            found.push((s, e, owner));
        }
        found.sort_by_key(|&(s, _, _)| s);
        found
    }

    /// The cue closest before a figure, within `from..to`. Passed over:
    /// - the cue starting at `taken`, which the figure before already took ("8.4% for England,
    ///   and 81.45%...": England's is the 8.4%);
    /// - a cue that is the object of a comparison ("more densely populated than the England
    ///   average, with 3,500.7": the England average is what the area is compared with);
    /// - a cue outside the brackets the figure stands in ("than the national average (80.1 vs.
    ///   129.6)": the pair restates both sides).
    pub fn last_in(
        found: &[(usize, usize, Owner)],
        text: &str,
        from: usize,
        to: usize,
        taken: Option<usize>,
    ) -> Option<Owner> {
        found
            .iter()
            .rev()
            .filter(|&&(s, e, _)| s >= from && e <= to)
            .find(|&&(s, e, _)| {
                let trails = taken == Some(s);
                // Only an object whose phrase has ended before the figure: in "than the England
                // average of 29.3%" the 29.3% is England's.
                let object =
                    comparison_object(&text[from..s]) && text[e..to].contains([',', ':', ';']);
                let bracketed = text[e..to].contains('(');
                !trails && !object && !bracketed
            })
            .map(|&(_, _, o)| o)
    }

    /// A cue after a figure ending at `at`, in its own clause: reached through glue words
    /// ("29.3% in England") or a few words of the clause ("338.7 per 100,000 used them in
    /// Coventry"), never past punctuation, another figure, or a comparison word (in "16.2%,
    /// below England's 17.6%" England's is the other figure's).
    pub fn following(
        found: &[(usize, usize, Owner)],
        text: &str,
        at: usize,
        sentence_end: usize,
    ) -> Option<(Owner, usize)> {
        // Qualifiers of the people counted are part of the figure's phrase, not a new figure or
        // clause: "8,010 requests from people aged 65 and over in Coventry".
        let after = blank_qualifiers(&text[at..sentence_end]);
        let after = after.as_ref();
        let stop = at
            + after
                .find(|c: char| {
                    matches!(c, ',' | ';' | ':' | '(' | ')' | '.') || c.is_ascii_digit()
                })
                .unwrap_or(after.len());
        let &(start, _, owner) = found.iter().find(|&&(s, e, _)| s >= at && e <= stop)?;
        let before_cue = &after[..start - at];
        let words = before_cue.split_whitespace().count();
        if glue_only(before_cue) && words <= 5 {
            return Some((owner, start));
        }
        let lower = before_cue.to_ascii_lowercase();
        // "while", "whereas", "compared" are linkers; the comparison words have their list.
        let turns = comparison(&lower, false).is_some()
            || has_linker(&lower)
            || lower
                .split_whitespace()
                .any(|w| matches!(w, "but" | "and" | "or" | "which" | "who" | "where"));
        // Small words ("for", "of", "people", "in") do not lengthen the phrase: "requests for
        // care came from people aged 65 or over in Coventry" is one phrase of five words.
        let long = before_cue
            .split_whitespace()
            .filter(|w| !GLUE.contains(&w.to_lowercase().as_str()))
            .count();
        (!turns && long <= 5).then_some((owner, start))
    }
}

/// Age bands ("aged 65 and over", "aged 18-64", "75+") and rate bases ("per 100,000") blanked
/// to spaces, byte for byte, so offsets still index the original text.
fn blank_qualifiers(text: &str) -> std::borrow::Cow<'_, str> {
    static QUALIFIER: LazyLock<regex::Regex> = LazyLock::new(|| {
        regex::Regex::new(
            r"(?i)(?-u:\b)aged\s+\d{1,2}(?:\s?(?:to|-|–)\s?\d{1,2})?(?:\+|\s+(?:and|or)\s+(?:over|older))?|(?-u:\b)\d{1,2}(?:\+|\s+(?:and|or)\s+(?:over|older)(?-u:\b))|(?-u:\b)(?:per|every|each)\s+(?:100,000|100000|1,000|1000)(?-u:\b)",
        )
        .expect("the qualifier pattern is valid")
    });
    if !QUALIFIER.is_match(text) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for m in QUALIFIER.find_iter(text) {
        out.push_str(&text[last..m.start()]);
        out.extend(std::iter::repeat_n(' ', m.len()));
        last = m.end();
    }
    out.push_str(&text[last..]);
    std::borrow::Cow::Owned(out)
}

fn glue_only(words: &str) -> bool {
    words
        .to_lowercase()
        .split_whitespace()
        .all(|w| GLUE.contains(&w) || w.ends_with('%'))
}

/// Do the words before a cue make it what something is compared with ("than the", "compared
/// with")?
fn comparison_object(before_cue: &str) -> bool {
    let lower = before_cue.to_ascii_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let tail: Vec<&str> = words.iter().rev().take(3).copied().collect();
    tail.iter()
        .any(|w| matches!(*w, "than" | "versus" | "vs" | "against"))
        || tail
            .windows(2)
            .any(|p| p[1] == "compared" && matches!(p[0], "to" | "with"))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Higher,
    Lower,
    Similar,
}

impl Direction {
    pub fn reversed(self) -> Self {
        match self {
            Direction::Higher => Direction::Lower,
            Direction::Lower => Direction::Higher,
            Direction::Similar => Direction::Similar,
        }
    }
}

/// Does a sentence open by referring back to the figure before it ("This is higher than...",
/// "That compares with...")? Then a comparison word in it compares that figure.
pub fn refers_back(sentence_head: &str) -> bool {
    let first = sentence_head
        .trim_start()
        .split(|c: char| !c.is_alphabetic())
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    matches!(
        first.as_str(),
        "this" | "that" | "it" | "these" | "those" | "which" | "both" | "such"
    )
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strength {
    Plain,
    Slight,
    Much,
}

const HIGHER: [&str; 13] = [
    "higher",
    "above",
    "more",
    "greater",
    "exceeds",
    "exceeding",
    "exceeded",
    "larger",
    "bigger",
    "ahead of",
    "up on",
    "outstrips",
    "over",
];
const LOWER: [&str; 9] = [
    "lower", "below", "fewer", "less", "smaller", "behind", "under", "beneath", "short of",
];
const SIMILAR: [&str; 9] = [
    "similar",
    "close to",
    "in line with",
    "broadly the same",
    "the same as",
    "on a par",
    "comparable",
    "matches",
    "level with",
];
const SLIGHT: [&str; 6] = [
    "slightly",
    "a little",
    "marginally",
    "just",
    "somewhat",
    "a bit",
];
const MUCH: [&str; 9] = [
    "much",
    "well",
    "far",
    "considerably",
    "significantly",
    "substantially",
    "markedly",
    "a lot",
    "way",
];
const LINKERS: [&str; 8] = [
    "compared",
    "than",
    "against",
    "versus",
    "vs",
    "relative to",
    "while",
    "whereas",
];

static COMPARISON_AUTOMATON: LazyLock<(AhoCorasick, Vec<Direction>)> = LazyLock::new(|| {
    let mut words = Vec::new();
    let mut dirs = Vec::new();
    for (list, dir) in [
        (&HIGHER[..], Direction::Higher),
        (&LOWER[..], Direction::Lower),
        (&SIMILAR[..], Direction::Similar),
    ] {
        for w in list {
            words.push(*w);
            dirs.push(dir);
        }
    }
    let ac = AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .build(words)
        .expect("the comparison words build");
    (ac, dirs)
});

static LINKER_AUTOMATON: LazyLock<AhoCorasick> = LazyLock::new(|| {
    AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .build(LINKERS)
        .expect("the linkers build")
});

/// Is `text[start..end]` a word of its own, not part of a longer one (with `plural`, an `s`
/// may follow)?
pub(crate) fn whole_word(text: &str, start: usize, end: usize, plural: bool) -> bool {
    let before = text[..start].chars().next_back();
    let after = text[end..].chars().next();
    !before.is_some_and(char::is_alphanumeric)
        && !after.is_some_and(|c| c.is_alphanumeric() && !(plural && c == 's'))
}

pub fn has_linker(segment: &str) -> bool {
    LINKER_AUTOMATON
        .find_iter(segment)
        .any(|m| whole_word(segment, m.start(), m.end(), false))
}

/// The last comparison word in `segment`, with its modifier. A word that ends the segment
/// right before a hedged figure ("more than 1,900") is the hedge, not a comparison.
/// Also returns where the comparison word ends in `segment`, so the words after it can be read.
pub fn comparison(
    segment: &str,
    next_is_hedged: bool,
) -> Option<(Direction, Strength, String, usize)> {
    let (ac, dirs) = &*COMPARISON_AUTOMATON;
    let mut best: Option<(usize, usize, Direction)> = None;
    for m in ac.find_overlapping_iter(segment) {
        let (i, end) = (m.start(), m.end());
        if !whole_word(segment, i, end, false)
            || best.is_some_and(|(b, be, _)| i < b || (i == b && end <= be))
        {
            continue;
        }
        let word = &segment[i..end];
        // "aged 65 and over" is an age band, not a comparison.
        let head = segment[..i].trim_end().to_ascii_lowercase();
        if (word.eq_ignore_ascii_case("over") || word.eq_ignore_ascii_case("under"))
            && (head.ends_with(" and") || head.ends_with(" or"))
        {
            continue;
        }
        let tail = segment[end..].trim_start();
        let tail = tail.strip_prefix("than").unwrap_or(tail).trim_start();
        let tail = tail.strip_prefix('£').unwrap_or(tail);
        if next_is_hedged && tail.is_empty() {
            continue;
        }
        best = Some((i, end, dirs[m.pattern().as_usize()]));
    }
    let (i, end, dir) = best?;
    let lower = segment.to_ascii_lowercase();
    let before: Vec<&str> = lower[..i].split_whitespace().rev().take(2).collect();
    let before: Vec<&str> = before.into_iter().rev().collect();
    let has = |list: &[&str]| {
        let joined = before.join(" ");
        list.iter()
            .any(|m| joined.ends_with(m) || before.contains(m))
    };
    let strength = if has(&MUCH) {
        Strength::Much
    } else if has(&SLIGHT) {
        Strength::Slight
    } else {
        Strength::Plain
    };
    let mut phrase = before.join(" ");
    if !phrase.is_empty() {
        phrase.push(' ');
    }
    phrase.push_str(&lower[i..end]);
    Some((dir, strength, phrase, end))
}

/// Why `a <direction> b` is false, or None when the figures agree with the words.
pub fn contradiction(direction: Direction, strength: Strength, a: f64, b: f64) -> Option<String> {
    let rel = (a - b).abs() / a.abs().max(b.abs()).max(f64::MIN_POSITIVE);
    let order_ok = match direction {
        Direction::Higher => a > b,
        Direction::Lower => a < b,
        Direction::Similar => rel <= SIMILAR_BAND,
    };
    if !order_ok {
        return Some(match direction {
            Direction::Similar => format!("but {a} and {b} differ by {:.0}%", rel * 100.0),
            _ => format!(
                "but {a} is not {} {b}",
                if direction == Direction::Higher {
                    "above"
                } else {
                    "below"
                }
            ),
        });
    }
    match (direction, strength) {
        (Direction::Similar, _) | (_, Strength::Plain) => None,
        (_, Strength::Slight) if rel > SLIGHT_BAND => Some(format!(
            "but {a} and {b} differ by {:.0}%, more than the {:.0}% a slight difference allows",
            rel * 100.0,
            SLIGHT_BAND * 100.0
        )),
        (_, Strength::Much) if rel < SLIGHT_BAND => Some(format!(
            "but {a} and {b} differ by only {:.0}%, less than the {:.0}% a large difference needs",
            rel * 100.0,
            SLIGHT_BAND * 100.0
        )),
        _ => None,
    }
}

/// Words too common in labels and prose to say which measure a sentence is about.
const STOP: [&str; 40] = [
    "with",
    "that",
    "were",
    "from",
    "have",
    "this",
    "their",
    "which",
    "people",
    "share",
    "rate",
    "number",
    "proportion",
    "percent",
    "average",
    "england",
    "council",
    "area",
    "areas",
    "local",
    "authority",
    "than",
    "more",
    "less",
    "lower",
    "higher",
    "about",
    "some",
    "they",
    "there",
    "those",
    "these",
    "into",
    "across",
    "each",
    "year",
    "years",
    "figure",
    "total",
    "value",
];

/// A content word cut to five letters, so "carers" meets "carer" and "satisfied" meets
/// "satisfaction". Fixed-size so comparing two is cheap.
pub type Word = [u8; 5];

/// Content words of a text (ASCII words of four letters or more, not in `STOP`).
pub fn content_words(text: &str) -> Vec<Word> {
    content_words_at(text).into_iter().map(|(_, w)| w).collect()
}

/// Content words with the byte offset each starts at, so a text is split once and the words
/// around each figure are picked by offset.
pub fn content_words_at(text: &str) -> Vec<(usize, Word)> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_alphabetic() {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
            i += 1;
        }
        let w = &text[start..i];
        if w.len() >= 4 && !STOP.iter().any(|s| s.eq_ignore_ascii_case(w)) {
            let mut word = [0u8; 5];
            for (o, b) in word.iter_mut().zip(w.bytes()) {
                *o = b.to_ascii_lowercase();
            }
            out.push((start, word));
        }
    }
    out
}

/// How many of a measure's label words the words around a figure name, `generic` words (shared
/// by many of the section's measures) not counted.
pub fn affinity(label_words: &[Word], context_words: &[Word], generic: &[Word]) -> usize {
    label_words
        .iter()
        .enumerate()
        .filter(|(i, w)| {
            context_words.contains(w) && !label_words[..*i].contains(w) && !generic.contains(w)
        })
        .count()
}

/// A figure is read as another measure's when the words around it name that measure by at
/// least `MEASURE_NAMED` label words, and by `MEASURE_MARGIN` more than any measure whose
/// value it matches. (A margin of 1 flagged correct figures in our golden narratives.)
pub const MEASURE_NAMED: usize = 2;
pub const MEASURE_MARGIN: usize = 2;

/// Where the clause that follows a figure ends: the words after it describe it only that far
/// ("scored 2 on all of them, except partnerships" says nothing of partnerships' score), and
/// not past what it is compared with.
pub fn clause_end(after: &str) -> usize {
    let end = after.find([',', ';', ':', '(']).unwrap_or(after.len());
    CLAUSE_AUTOMATON
        .find(&after[..end])
        .map_or(end, |m| m.start())
}

static CLAUSE_AUTOMATON: LazyLock<AhoCorasick> = LazyLock::new(|| {
    AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .build([
            " except ",
            " while ",
            " whereas ",
            " but ",
            " compared ",
            " against ",
            // What a figure is compared with is described for that figure: "£175.5 million was
            // similar to its budget of £160.1 million" says nothing of budgets of the first.
            " than ",
            " similar to ",
            " close to ",
            " versus ",
            " vs ",
            " vs. ",
            " up from ",
            " down from ",
        ])
        .expect("the clause words build")
});

/// Case-insensitive (ASCII) search for a lower-case needle.
fn find_ascii_ci(hay: &str, needle: &str) -> Option<usize> {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    if n.is_empty() || n.len() > h.len() {
        return None;
    }
    (0..=h.len() - n.len()).find(|&i| {
        hay.is_char_boundary(i)
            && h[i..i + n.len()]
                .iter()
                .zip(n)
                .all(|(a, b)| a.to_ascii_lowercase() == *b)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_owner_after_an_age_band_or_rate_base_is_the_figures() {
        let cues = OwnerCues::new("Coventry", Some("West Midlands"), true);
        let owner_after = |text: &str| {
            let found = cues.find(text);
            let at = text.find("8,010").expect("the figure") + "8,010".len();
            OwnerCues::following(&found, text, at, text.len()).map(|(o, _)| o)
        };
        for text in [
            "There were 8,010 requests from people aged 65 and over in Coventry.",
            "There were 8,010 requests from adults aged 18-64 in Coventry.",
            "There were 8,010 requests per 100,000 people aged 75+ in Coventry.",
            "There were 8,010 for each 100,000 adults aged 18-64 in Coventry, well above England.",
        ] {
            assert_eq!(owner_after(text), Some(Owner::Council), "{text}");
        }
        // A figure or a clause of its own still ends the search.
        assert_eq!(
            owner_after("There were 8,010 requests, and 2,437 in England."),
            None
        );
        assert_eq!(
            owner_after("There were 8,010 requests against 9,000 in England."),
            None
        );
    }

    #[test]
    fn rounding_to_the_written_precision_is_supported() {
        assert!(value_matches(559.0, 1.0, 1.0, None, 559.2));
        assert!(value_matches(2469.0, 1.0, 1.0, None, 2468.5));
        assert!(value_matches(26.0, 1.0, 1.0, None, 25.97));
        assert!(
            !value_matches(965.8, 0.1, 0.1, None, 965.88),
            "truncation is not rounding"
        );
        assert!(
            !value_matches(200_000.0, 1.0, 100_000.0, None, 199_818.0),
            "no hedge: integers are exact"
        );
    }

    #[test]
    fn hedged_rounding_accepts_about_200000_for_199818() {
        assert!(value_matches(
            200_000.0,
            1.0,
            100_000.0,
            Some(Hedge::About),
            199_818.0
        ));
        assert!(!value_matches(
            250_000.0,
            1.0,
            10_000.0,
            Some(Hedge::About),
            199_818.0
        ));
    }

    #[test]
    fn nearly_needs_the_fact_a_little_below() {
        assert!(value_matches(
            2000.0,
            1.0,
            1000.0,
            Some(Hedge::Nearly),
            1930.0
        ));
        assert!(!value_matches(
            1900.0,
            1.0,
            100.0,
            Some(Hedge::Nearly),
            1930.0
        ));
        assert!(!value_matches(
            3000.0,
            1.0,
            1000.0,
            Some(Hedge::Nearly),
            1930.0
        ));
    }

    #[test]
    fn over_needs_the_fact_a_little_above() {
        assert!(value_matches(1900.0, 1.0, 100.0, Some(Hedge::Over), 1930.0));
        assert!(!value_matches(
            1000.0,
            1.0,
            1000.0,
            Some(Hedge::Over),
            1930.0
        ));
        assert!(!value_matches(
            2000.0,
            1.0,
            1000.0,
            Some(Hedge::Over),
            1930.0
        ));
    }

    #[test]
    fn under_needs_the_fact_a_little_below() {
        assert!(value_matches(20.0, 1.0, 10.0, Some(Hedge::Under), 19.3));
        assert!(!value_matches(20.0, 1.0, 10.0, Some(Hedge::Under), 20.4));
    }

    #[test]
    fn one_in_five_is_about_twenty_percent() {
        assert!(fraction_matches(0.2, Some(5), None, 19.3));
        assert!(!fraction_matches(0.2, Some(5), None, 30.0));
        assert!(fraction_matches(1.0 / 3.0, None, None, 34.0));
        assert!(!fraction_matches(1.0 / 3.0, None, None, 45.0));
    }

    #[test]
    fn periods_written_relative_to_the_sentence() {
        for (words, years) in [
            (" the year before.", Some(-1)),
            ("A year earlier, it had", Some(-1)),
            (" in the previous year", Some(-1)),
            (" last year", Some(-1)),
            (" two years earlier", Some(-2)),
            (" 3 years before", Some(-3)),
            (" a year later", Some(1)),
            (" the following year", Some(1)),
            (" two years ago", None),
            (" in the year to March", None),
            (" a year", None),
            (" two years before being assessed", None),
        ] {
            assert_eq!(relative_years(words), years, "{words}");
        }
    }

    #[test]
    fn list_items_are_sentences_of_their_own() {
        let text = "Key points:\n- 8,010 requests in Coventry\n- England's rate was higher.\n\
                    1. A first point\n2. A second point\nA closing line.";
        let spans: Vec<&str> = sentences(text)
            .into_iter()
            .map(|(s, e)| text[s..e].trim())
            .collect();
        assert_eq!(
            spans,
            [
                "Key points:",
                "- 8,010 requests in Coventry",
                "- England's rate was higher.",
                "1. A first point",
                "2. A second point",
                "A closing line."
            ]
        );
        // A line break inside a paragraph is not a split.
        assert_eq!(sentences("It was 16.2%\nin 2024.").len(), 1);
    }

    #[test]
    fn sentences_do_not_split_decimals() {
        let s = sentences("It was 16.2%. England was 17.6%.");
        assert_eq!(s.len(), 2);
    }

    #[test]
    fn comparison_reads_the_last_word_and_its_modifier() {
        let (d, s, _, _) = comparison(", slightly below the England average of ", false).unwrap();
        assert_eq!((d, s), (Direction::Lower, Strength::Slight));
        let (d, s, _, _) = comparison(" was well above ", false).unwrap();
        assert_eq!((d, s), (Direction::Higher, Strength::Much));
        assert!(comparison(" and ", false).is_none());
        assert!(
            comparison(" requests, more than ", true).is_none(),
            "a hedge, not a comparison"
        );
    }

    #[test]
    fn contradiction_uses_the_documented_bands() {
        assert!(contradiction(Direction::Lower, Strength::Slight, 16.2, 17.6).is_none());
        assert!(contradiction(Direction::Higher, Strength::Plain, 16.2, 17.6).is_some());
        assert!(contradiction(Direction::Lower, Strength::Slight, 10.01, 13.75).is_some());
        assert!(contradiction(Direction::Lower, Strength::Much, 15.01, 47.95).is_none());
        assert!(contradiction(Direction::Similar, Strength::Plain, 30.1, 30.0).is_none());
        assert!(contradiction(Direction::Similar, Strength::Plain, 37.4, 29.3).is_some());
    }
}
