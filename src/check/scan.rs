//! Finding numeric mentions in prose: numbers, money, percentages, periods, number words,
//! ratios and fractions, and the structural numbers that are not claims.

use aho_corasick::{AhoCorasick, MatchKind};
use regex::Regex;
use std::sync::LazyLock;

/// What unit the words around a number give it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MentionUnit {
    Percent,
    PercentagePoints,
    Pounds,
    PoundsPerHead,
    PoundsPer100k,
    Per100k,
    PerKm2,
    Days,
    Weeks,
    Months,
    Hours,
    Years,
    /// No unit written: counts, scores, deciles, ranks.
    Bare,
}

impl MentionUnit {
    pub fn name(self) -> &'static str {
        match self {
            MentionUnit::Percent => "percent",
            MentionUnit::PercentagePoints => "percentage_points",
            MentionUnit::Pounds => "pounds",
            MentionUnit::PoundsPerHead => "pounds_per_head",
            MentionUnit::PoundsPer100k => "pounds_per_100k",
            MentionUnit::Per100k => "per_100k",
            MentionUnit::PerKm2 => "people_per_km2",
            MentionUnit::Days => "days",
            MentionUnit::Weeks => "weeks",
            MentionUnit::Months => "months",
            MentionUnit::Hours => "hours",
            MentionUnit::Years => "years",
            MentionUnit::Bare => "number",
        }
    }
}

/// A hedge word written right before a figure; each has its own rule (see `check::rules`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hedge {
    /// about, around, approximately, roughly, some, an estimated
    About,
    /// nearly, almost, just under
    Nearly,
    /// over, more than, just over
    Over,
    /// under, less than, fewer than
    Under,
}

impl Hedge {
    /// The rule's name in the JSON report.
    pub fn name(self) -> &'static str {
        match self {
            Hedge::About => "about",
            Hedge::Nearly => "nearly",
            Hedge::Over => "over",
            Hedge::Under => "under",
        }
    }
}

/// A period as written in prose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WrittenPeriod {
    Year(u16),
    FinancialYear(u16),
    Month(u16, u8),
}

impl WrittenPeriod {
    /// The same kind of period `years` later (earlier when negative).
    pub fn shifted(self, years: i16) -> Self {
        let by = |y: u16| y.saturating_add_signed(years);
        match self {
            WrittenPeriod::Year(y) => WrittenPeriod::Year(by(y)),
            WrittenPeriod::FinancialYear(y) => WrittenPeriod::FinancialYear(by(y)),
            WrittenPeriod::Month(y, m) => WrittenPeriod::Month(by(y), m),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Shape {
    /// A figure: `value` as written times its scale; `step` is the size of its last written digit.
    Number {
        value: f64,
        step: f64,
        /// The step when trailing zeros of an integer are not significant (for hedges).
        sig_step: f64,
        unit: MentionUnit,
    },
    Period(WrittenPeriod),
    /// twice, double, three times, 2.3 times, halved: `step` as for numbers (0 for words).
    Ratio {
        value: f64,
        step: f64,
    },
    /// half, a third, two thirds, one in five: a share.
    Fraction {
        value: f64,
        one_in: Option<u32>,
    },
    Structural(&'static str),
    /// Digits other than 0-9 (`٣٤٥`, `１２`): a figure the checker cannot read, flagged rather
    /// than guessed or passed over.
    Unreadable,
}

#[derive(Clone, Debug, PartialEq)]
pub struct RawMention {
    pub start: usize,
    pub end: usize,
    pub shape: Shape,
    pub hedge: Option<Hedge>,
    pub ordinal: bool,
}

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];
const UNITS: [&str; 20] = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
];
const TENS: [&str; 8] = [
    "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
];
/// Ages that make `N to M`, `aged N`, `N+` and `N and over` an age band, not a claim.
const AGES: [u32; 12] = [16, 18, 25, 50, 60, 64, 65, 74, 75, 79, 84, 85];

/// The kinds of mention, in priority order (the first that matches at a position wins).
fn alternatives() -> [String; 10] {
    let month =
        "january|february|march|april|may|june|july|august|september|october|november|december";
    let small = "two|three|four|five|six|seven|eight|nine|ten";
    let word = "eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety";
    [
        format!(r"(?P<month>\b(?:{month})\s+(?P<my>(?:19|20)\d\d)\b)"),
        r"(?P<fy>\b(?P<fy1>(?:19|20)\d\d)\s?(?:-|/|–)\s?(?P<fy2>(?:19|20)?\d\d)\b)".to_string(),
        r"(?P<band>\b(?P<b1>\d{1,2})\s?(?:to|-|–)\s?(?P<b2>\d{1,2})\b)".to_string(),
        format!(r"(?P<onein>\b(?:one|1)\s+in\s+(?P<oin>every\s+)?(?P<oiv>{small}|\d+)\b)"),
        format!(r"(?P<times>\b(?P<tw>{small}|\d+(?:\.\d+)?)\s+times\b)"),
        r"(?P<twice>\b(?:twice|double|doubled|halved)\b)".to_string(),
        r"(?P<frac>\b(?:a\s+half|half|a\s+third|one\s+third|a\s+quarter|one\s+quarter|two\s+thirds|three\s+quarters)\b)".to_string(),
        NUMBER.to_string(),
        format!(r"(?P<word>\b(?:{word}|{small})(?:-(?:one|two|three|four|five|six|seven|eight|nine))?\b)"),
        // Last: any run of digits that no figure above took (those take 0-9 only).
        r"(?P<unread>\p{Nd}+(?:[.,]\p{Nd}+)*)".to_string(),
    ]
}

/// A figure in digits: optional £, grouped digits, decimals, and an attached %, scale or
/// ordinal suffix.
const NUMBER: &str = r"(?P<num>(?P<pound>£\s?)?(?P<digits>\d{1,3}(?:,\d{3})+|\d+)(?P<dec>\.\d+)?(?P<suffix>\s?%|\s?per\s?cent\b|\s?(?:million|billion|thousand)\b|(?:m|bn|k)\b|(?:st|nd|rd|th)\b|\+)?)";

/// A case-insensitive pattern read in ASCII (`-u`: word boundaries, digits 0-9 and letter case)
/// except for spaces, which may be any Unicode space (`£\u{a0}45m`). ASCII word boundaries let
/// the regex engine use its fast automata; ASCII digits and case are what the code taking a
/// mention apart understands: with Unicode ones `٣٤٥` was read as 0 (found by `scripts/fuzz`)
/// and `auguſt 2024` (long s, which folds to s) was a month that no month name starts: a panic.
fn build(pattern: &str) -> Regex {
    let pattern = pattern
        .replace(r"\s", r"(?u:\s)")
        .replace(r"\p{Nd}", r"(?u:\p{Nd})");
    Regex::new(&format!("(?i-u){pattern}")).expect("the mention pattern is valid")
}

/// Every kind of mention, in priority order. `find_iter` locates mentions with the fast
/// automata; groups are asked for only on the short text of a mention that is not a plain figure.
static MENTION: LazyLock<(Regex, Groups)> = LazyLock::new(|| {
    let re = build(&alternatives().join("|"));
    let g = Groups::of(&re);
    (re, g)
});
/// A whole mention that is a plain figure (`£1,930.5m`, `16.2%`, `142nd`): taken apart by hand.
static PLAIN_NUMBER: LazyLock<Regex> = LazyLock::new(|| build(&format!("^(?:{NUMBER})$")));

/// Indices of the mention pattern's groups, looked up once (by-name lookups hash every time).
struct Groups {
    month: usize,
    my: usize,
    fy: usize,
    fy1: usize,
    fy2: usize,
    band: usize,
    b1: usize,
    b2: usize,
    onein: usize,
    oiv: usize,
    times: usize,
    tw: usize,
    twice: usize,
    frac: usize,
    num: usize,
    pound: usize,
    digits: usize,
    dec: usize,
    suffix: usize,
    word: usize,
    unread: usize,
}

impl Groups {
    /// Group indices in `re`; a group the pattern lacks gets an index no match has.
    fn of(re: &Regex) -> Self {
        let index = |name: &str| {
            re.capture_names()
                .position(|n| n == Some(name))
                .unwrap_or(usize::MAX)
        };
        Groups {
            month: index("month"),
            my: index("my"),
            fy: index("fy"),
            fy1: index("fy1"),
            fy2: index("fy2"),
            band: index("band"),
            b1: index("b1"),
            b2: index("b2"),
            onein: index("onein"),
            oiv: index("oiv"),
            times: index("times"),
            tw: index("tw"),
            twice: index("twice"),
            frac: index("frac"),
            num: index("num"),
            pound: index("pound"),
            digits: index("digits"),
            dec: index("dec"),
            suffix: index("suffix"),
            word: index("word"),
            unread: index("unread"),
        }
    }
}

static HEDGE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(about|around|approximately|approx\.|roughly|some|an estimated|nearly|almost|just under|just over|over|more than|under|less than|fewer than)\s*$")
        .expect("the hedge pattern is valid")
});

/// Allowlisted phrases (such as "Care Act 2014") whose numbers are names, not claims.
pub struct Allowlist(Option<AhoCorasick>);

impl Allowlist {
    pub fn new(phrases: &[String]) -> Self {
        // A handful of phrases: the non-contiguous automaton builds in microseconds.
        let ac = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostLongest)
            .kind(Some(aho_corasick::AhoCorasickKind::NoncontiguousNFA))
            .build(phrases)
            .ok()
            .filter(|_| !phrases.is_empty());
        Self(ac)
    }
}

/// Finds every mention in `text`, in order. `structural` lists allowlisted phrases
/// (such as "Care Act 2014") whose numbers are names, not claims.
pub fn scan(text: &str, structural: &Allowlist) -> Vec<RawMention> {
    let protected: Vec<(usize, usize)> = structural
        .0
        .as_ref()
        .map(|ac| ac.find_iter(text).map(|m| (m.start(), m.end())).collect())
        .unwrap_or_default();
    let mut out = Vec::new();
    let (mention_re, g) = &*MENTION;
    for found in mention_re.find_iter(text) {
        let (start, end) = (found.start(), found.end());
        // Only the words next to a figure matter; slicing keeps the scan linear in the text.
        let before = tail(&text[..start], 48);
        let after = head(&text[end..], 96);
        if protected.iter().any(|&(s, e)| s <= start && end <= e) {
            out.push(mention(
                start,
                end,
                Shape::Structural("allowlisted name"),
                None,
            ));
            continue;
        }
        let t = found.as_str();
        let digit_first = t.starts_with(|c: char| c.is_ascii_digit() || c == '£');
        // Most mentions are plain figures: take them apart by hand, which is far cheaper than
        // asking the regex engine for its groups.
        if digit_first && PLAIN_NUMBER.is_match(t) {
            let pound = t.starts_with('£');
            let body = t.trim_start_matches('£').trim_start();
            let digits_len = body
                .find(|c: char| !(c.is_ascii_digit() || c == ',' || c == '.'))
                .unwrap_or(body.len());
            // A trailing full stop ends the sentence, not the number.
            let digits = body[..digits_len].trim_end_matches(['.', ',']);
            let suffix = &body[digits.len()..];
            if before
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || c == '-' || c == '.')
                && !pound
            {
                continue;
            }
            out.push(number(
                text,
                start,
                end,
                digits,
                pound.then_some(()),
                suffix,
                true,
            ));
            continue;
        }
        let Some(caps) = mention_re.captures(t) else {
            continue;
        };
        // Group offsets are into `t`; shift them into the text.
        let at = |m: regex::Match| (start + m.start(), start + m.end());
        if caps.get(g.month).is_some() {
            let m = caps.get(g.month).expect("matched").as_str().to_lowercase();
            let month = MONTHS
                .iter()
                .position(|name| m.starts_with(name))
                .expect("the pattern only matches month names") as u8
                + 1;
            let year = parse_u16(caps.get(g.my).map_or("", |m| m.as_str()));
            out.push(mention(
                start,
                end,
                Shape::Period(WrittenPeriod::Month(year, month)),
                None,
            ));
        } else if caps.get(g.fy).is_some() {
            let y1 = parse_u16(caps.get(g.fy1).map_or("", |m| m.as_str()));
            let y2raw = caps.get(g.fy2).map_or("", |m| m.as_str());
            let y2 = if y2raw.len() == 4 {
                parse_u16(y2raw)
            } else {
                (y1 / 100) * 100 + parse_u16(y2raw)
            };
            if y2 == y1 + 1 {
                out.push(mention(
                    start,
                    end,
                    Shape::Period(WrittenPeriod::FinancialYear(y1)),
                    None,
                ));
            } else if y2raw.len() == 4 {
                // "2019-2023": two years.
                let g1 = at(caps.get(g.fy1).expect("matched"));
                let g2 = at(caps.get(g.fy2).expect("matched"));
                out.push(mention(
                    g1.0,
                    g1.1,
                    Shape::Period(WrittenPeriod::Year(y1)),
                    None,
                ));
                out.push(mention(
                    g2.0,
                    g2.1,
                    Shape::Period(WrittenPeriod::Year(y2)),
                    None,
                ));
            } else {
                out.push(mention(
                    start,
                    end,
                    Shape::Structural("unreadable period"),
                    None,
                ));
            }
        } else if caps.get(g.band).is_some() {
            let (b1, b2) = (
                parse_u16(caps.get(g.b1).map_or("", |m| m.as_str())) as u32,
                parse_u16(caps.get(g.b2).map_or("", |m| m.as_str())) as u32,
            );
            let is_scale = b1 == 1 && (b2 == 10 || b2 == 4 || b2 == 5);
            let is_ages = AGES.contains(&b1) && AGES.contains(&b2) && b1 < b2;
            if is_scale || is_ages {
                let why = if is_scale { "scale" } else { "age band" };
                out.push(mention(start, end, Shape::Structural(why), None));
            } else {
                // Not a band: read the two numbers separately.
                for g in [g.b1, g.b2] {
                    let m = caps.get(g).expect("matched");
                    let (s, e) = at(m);
                    out.push(number(text, s, e, m.as_str(), None, "", false));
                }
            }
        } else if caps.get(g.onein).is_some() {
            let n =
                word_or_digits(caps.get(g.oiv).map_or("", |m| m.as_str())).unwrap_or(0.0) as u32;
            let value = if n == 0 { 0.0 } else { 1.0 / f64::from(n) };
            out.push(mention(
                start,
                end,
                Shape::Fraction {
                    value,
                    one_in: Some(n),
                },
                hedge(before),
            ));
        } else if caps.get(g.times).is_some() {
            let raw = caps.get(g.tw).map_or("", |m| m.as_str());
            let value = word_or_digits(raw).unwrap_or(0.0);
            let step = if raw.chars().all(|c| c.is_ascii_alphabetic()) {
                0.0
            } else {
                decimal_step(raw)
            };
            out.push(mention(
                start,
                end,
                Shape::Ratio { value, step },
                hedge(before),
            ));
        } else if caps.get(g.twice).is_some() {
            let value = if caps[0].eq_ignore_ascii_case("halved") {
                0.5
            } else {
                2.0
            };
            out.push(mention(
                start,
                end,
                Shape::Ratio { value, step: 0.0 },
                hedge(before),
            ));
        } else if caps.get(g.frac).is_some() {
            let w = caps[0].to_lowercase();
            // "half as many" compares two figures; "half of carers" is a share.
            if w.ends_with("half") && after.to_lowercase().starts_with(" as ") {
                out.push(mention(
                    start,
                    end,
                    Shape::Ratio {
                        value: 0.5,
                        step: 0.0,
                    },
                    hedge(before),
                ));
                continue;
            }
            let value = if w.contains("half") {
                0.5
            } else if w.contains("two") {
                2.0 / 3.0
            } else if w.contains("three") {
                0.75
            } else if w.contains("third") {
                1.0 / 3.0
            } else {
                0.25
            };
            out.push(mention(
                start,
                end,
                Shape::Fraction {
                    value,
                    one_in: None,
                },
                hedge(before),
            ));
        } else if caps.get(g.num).is_some() {
            // Digits glued to letters (T34, Q11, COVID-19) are names, not figures.
            if before
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || c == '-' || c == '.')
                && caps.get(g.pound).is_none()
            {
                continue;
            }
            let suffix = caps.get(g.suffix).map_or("", |m| m.as_str());
            let digits = format!(
                "{}{}",
                caps.get(g.digits).map_or("", |m| m.as_str()),
                caps.get(g.dec).map_or("", |m| m.as_str())
            );
            out.push(number(
                text,
                start,
                end,
                &digits,
                caps.get(g.pound).map(|_| ()),
                suffix,
                true,
            ));
        } else if caps.get(g.word).is_some() {
            if years_apart(after) {
                out.push(mention(start, end, Shape::Structural("years apart"), None));
            } else if let Some(v) = word_or_digits(&caps[0]) {
                let shape = Shape::Number {
                    value: v,
                    step: 1.0,
                    sig_step: 1.0,
                    unit: unit_after(after, false),
                };
                out.push(mention(start, end, shape, hedge(before)));
            }
        } else if caps.get(g.unread).is_some() {
            out.push(mention(start, end, Shape::Unreadable, None));
        }
    }
    out
}

/// What may follow a relative-period phrase for it to end its clause ("122 two years earlier,"
/// or "… earlier and"), not to begin a duration ("two years before being assessed").
pub(super) const PHRASE_ENDS: &str = r"(?:\s*[.,;:)!?]|\s*$|\s+(?:and|but|while|whereas|when|in|for|at|to|from|it|there|the|this|that)(?-u:\b))";

/// Does a count of years relate a figure's period to the sentence's ("122 two years earlier")?
/// Then the count is no claim. A duration ("two years before being assessed") is.
fn years_apart(after: &str) -> bool {
    static APART: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(&format!(
            r"(?i)^\s+years\s+(?:before|earlier|previously|later|after|on){PHRASE_ENDS}"
        ))
        .expect("the years-apart pattern is valid")
    });
    // Cheap first: the pattern only matters right before "years".
    let rest = after.trim_start();
    rest.len() < after.len()
        && rest
            .get(..5)
            .is_some_and(|w| w.eq_ignore_ascii_case("years"))
        && APART.is_match(after)
}

/// The last `n` bytes of `s` (or fewer, to land on a character boundary).
fn tail(s: &str, n: usize) -> &str {
    let mut i = s.len().saturating_sub(n);
    while !s.is_char_boundary(i) {
        i += 1;
    }
    &s[i..]
}

/// The first `n` bytes of `s` (or fewer, to land on a character boundary).
fn head(s: &str, n: usize) -> &str {
    let mut i = n.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    &s[..i]
}

fn mention(start: usize, end: usize, shape: Shape, hedge: Option<Hedge>) -> RawMention {
    RawMention {
        start,
        end,
        shape,
        hedge,
        ordinal: false,
    }
}

/// A figure written in digits, with its suffix and the unit words after it.
fn number(
    text: &str,
    start: usize,
    end: usize,
    digits: &str,
    pound: Option<()>,
    suffix: &str,
    allow_year: bool,
) -> RawMention {
    let before = tail(&text[..start], 48);
    let after = head(&text[end..], 96);
    let plain: String = digits.chars().filter(|c| *c != ',').collect();
    let base: f64 = plain.parse().unwrap_or(0.0);
    let suffix_l = suffix.trim().to_lowercase();
    let scale = match suffix_l.as_str() {
        "m" | "million" => 1e6,
        "bn" | "billion" => 1e9,
        "k" | "thousand" => 1e3,
        _ => 1.0,
    };
    let ordinal = matches!(suffix_l.as_str(), "st" | "nd" | "rd" | "th");
    let plus = suffix_l == "+";
    let step = decimal_step(&plain) * scale;
    let sig_step = if plain.contains('.') || scale != 1.0 {
        step
    } else {
        let zeros = plain.len() - plain.trim_end_matches('0').len();
        let zeros = zeros.min(plain.len().saturating_sub(1));
        10f64.powi(zeros as i32)
    };
    let value = base * scale;
    let lower_before = before.to_lowercase();
    let lower_after = after.to_lowercase();
    let as_int = (base.fract() == 0.0 && !digits.contains('.')).then_some(base as u32);

    // Structural numbers first: list markers, years apart, per 100,000, ages, scales.
    if pound.is_none() && as_int.is_some_and(|n| n <= 20) && years_apart(&text[end..]) {
        return mention(start, end, Shape::Structural("years apart"), None);
    }
    // "2. " opening a line numbers a list item: the figure lies inside the line's marker.
    let line_start = text[..start].rfind('\n').map_or(0, |n| n + 1);
    if pound.is_none()
        && super::shape::list_marker_len(&text[line_start..])
            .is_some_and(|n| line_start + n > start)
    {
        return mention(start, end, Shape::Structural("list marker"), None);
    }
    // "per 100,000", "for every 100,000", "for each 100,000": the base of a rate.
    let before_base = lower_before.trim_end();
    if plain == "100000"
        && ["per", "every", "each"]
            .iter()
            .any(|w| before_base.ends_with(w))
        && pound.is_none()
    {
        return mention(start, end, Shape::Structural("per 100,000"), None);
    }
    if let Some(n) = as_int {
        let aged = lower_before.trim_end().ends_with("aged")
            || lower_before.trim_end().ends_with("over-")
            || lower_before.ends_with("over ")
                && (lower_after.starts_with("s ")
                    || lower_after.starts_with("s,")
                    || lower_after.starts_with("s."));
        let band_after = [
            "+",
            " and over",
            " and older",
            " or over",
            " or older",
            "s ",
            "-year",
            " year",
        ]
        .iter()
        .any(|s| lower_after.starts_with(s));
        if AGES.contains(&n) && (plus || aged || band_after) && pound.is_none() {
            return mention(start, end, Shape::Structural("age band"), None);
        }
        if (n == 10 || n == 4) && lower_before.trim_end().ends_with("out of") {
            return mention(start, end, Shape::Structural("scale"), None);
        }
        // A scale explained: "where 10 is least deprived", "1 is the most deprived".
        let explains = [
            " is least",
            " is most",
            " is the least",
            " is the most",
            " is best",
            " is worst",
            " is the best",
            " is the worst",
            " means least",
            " means most",
        ]
        .iter()
        .any(|s| lower_after.starts_with(s));
        if matches!(n, 1 | 4 | 5 | 10) && explains {
            return mention(start, end, Shape::Structural("scale"), None);
        }
        if allow_year
            && pound.is_none()
            && suffix_l.is_empty()
            && plain.len() == 4
            && !digits.contains(',')
        {
            if let Ok(y) = u16::try_from(n) {
                if (1990..=2039).contains(&y) && !unit_words_follow(&lower_after) {
                    return mention(start, end, Shape::Period(WrittenPeriod::Year(y)), None);
                }
            }
        }
    }
    if lower_after.starts_with(" times") {
        return mention(start, end, Shape::Ratio { value, step }, hedge(before));
    }
    let unit = if suffix_l == "%" || suffix_l.starts_with("per") {
        MentionUnit::Percent
    } else {
        unit_after(after, pound.is_some())
    };
    let mut m = mention(
        start,
        end,
        Shape::Number {
            value,
            step,
            sig_step,
            unit,
        },
        hedge(before),
    );
    m.ordinal = ordinal;
    m
}

/// Does a 4-digit integer look like a quantity ("2024 people") rather than a year?
fn unit_words_follow(after: &str) -> bool {
    let next = after
        .trim_start()
        .split(|c: char| !c.is_alphabetic())
        .next()
        .unwrap_or("");
    matches!(
        next,
        "people"
            | "adults"
            | "carers"
            | "residents"
            | "requests"
            | "staff"
            | "beds"
            | "hours"
            | "days"
            | "per"
    )
}

/// The unit given by the words after a number: "percentage points", "per 100,000", "days", ...
pub fn unit_after(after: &str, pound: bool) -> MentionUnit {
    let lower = after.to_lowercase();
    let t = lower.trim_start();
    if t.starts_with("percentage point") || t.starts_with("points") || t.starts_with("pp") {
        return MentionUnit::PercentagePoints;
    }
    // Look a few words ahead, stopping at punctuation or another figure.
    let window: String = t
        .chars()
        .take_while(|c| {
            c.is_alphabetic() || c.is_whitespace() || *c == '-' || *c == '\'' || *c == '²'
        })
        .collect();
    let words: Vec<&str> = window.split_whitespace().take(6).collect();
    let joined = words.join(" ");
    let rest_after_window = &t[window.len()..];
    let per_100k = (joined.ends_with("per")
        || joined == "per"
        || joined.ends_with("every")
        || joined.ends_with("each"))
        && (rest_after_window.starts_with("100,000")
            || rest_after_window.starts_with("100 000")
            || rest_after_window.starts_with("100k"));
    if per_100k && words.len() <= 5 {
        return if pound {
            MentionUnit::PoundsPer100k
        } else {
            MentionUnit::Per100k
        };
    }
    if joined.contains("per square kilomet")
        || joined.contains("per km")
        || joined.contains("per sq")
    {
        return MentionUnit::PerKm2;
    }
    if pound {
        let first_two = words.iter().take(2).copied().collect::<Vec<_>>().join(" ");
        if first_two.starts_with("per head")
            || first_two.starts_with("per person")
            || first_two.starts_with("a head")
        {
            return MentionUnit::PoundsPerHead;
        }
        return MentionUnit::Pounds;
    }
    let first = words.first().copied().unwrap_or("");
    let second = words.get(1).copied().unwrap_or("");
    let unit_word = if first == "working" || first == "calendar" {
        second
    } else {
        first
    };
    match unit_word {
        "day" | "days" => MentionUnit::Days,
        "week" | "weeks" => MentionUnit::Weeks,
        "month" | "months" => MentionUnit::Months,
        "hour" | "hours" => MentionUnit::Hours,
        "year" | "years" => MentionUnit::Years,
        _ => MentionUnit::Bare,
    }
}

fn hedge(before: &str) -> Option<Hedge> {
    let caps = HEDGE.captures(before.strip_suffix('£').unwrap_or(before))?;
    let w = caps[1].to_lowercase();
    Some(match w.as_str() {
        "nearly" | "almost" | "just under" => Hedge::Nearly,
        "over" | "more than" | "just over" => Hedge::Over,
        "under" | "less than" | "fewer than" => Hedge::Under,
        _ => Hedge::About,
    })
}

fn parse_u16(s: &str) -> u16 {
    s.parse().unwrap_or(0)
}

/// The size of the last written digit: 1 for "12", 0.1 for "12.5".
fn decimal_step(raw: &str) -> f64 {
    match raw.split_once('.') {
        Some((_, frac)) => 10f64.powi(-(frac.len() as i32)),
        None => 1.0,
    }
}

/// "five", "twenty-one" or "12" as a number.
fn word_or_digits(raw: &str) -> Option<f64> {
    let w = raw.trim().to_lowercase();
    if let Ok(v) = w.parse::<f64>() {
        return Some(v);
    }
    let (head, tail) = match w.split_once('-') {
        Some((h, t)) => (h, Some(t)),
        None => (w.as_str(), None),
    };
    let unit = |s: &str| UNITS.iter().position(|u| *u == s).map(|v| v as f64);
    let tens = |s: &str| {
        TENS.iter()
            .position(|u| *u == s)
            .map(|v| (v as f64 + 2.0) * 10.0)
    };
    match tail {
        None => unit(head).or_else(|| tens(head)),
        Some(t) => Some(tens(head)? + unit(t).filter(|v| *v < 10.0 && *v > 0.0)?),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shapes(text: &str) -> Vec<(String, Shape)> {
        scan(text, &Allowlist::new(&["Care Act 2014".to_string()]))
            .into_iter()
            .map(|m| (text[m.start..m.end].to_string(), m.shape))
            .collect()
    }

    fn number_of(text: &str) -> (f64, MentionUnit) {
        match &shapes(text)[0].1 {
            Shape::Number { value, unit, .. } => (*value, *unit),
            other => panic!("{text}: {other:?}"),
        }
    }

    #[test]
    fn reads_grouped_decimal_and_currency_figures() {
        assert_eq!(number_of("1,930 requests"), (1930.0, MentionUnit::Bare));
        assert_eq!(
            number_of("2,468.5 people per square kilometre").1,
            MentionUnit::PerKm2
        );
        assert_eq!(
            number_of("£46,917.19 per 100,000 people"),
            (46917.19, MentionUnit::PoundsPer100k)
        );
        assert_eq!(number_of("£160.1m"), (160.1e6, MentionUnit::Pounds));
        assert_eq!(number_of("£15.4 million"), (15.4e6, MentionUnit::Pounds));
        assert_eq!(number_of("£1.6bn"), (1.6e9, MentionUnit::Pounds));
        assert_eq!(number_of("16.2%"), (16.2, MentionUnit::Percent));
        assert_eq!(number_of("16.2 per cent"), (16.2, MentionUnit::Percent));
        assert_eq!(
            number_of("1.4 percentage points"),
            (1.4, MentionUnit::PercentagePoints)
        );
        assert_eq!(
            number_of("965.88 requests per 100,000"),
            (965.88, MentionUnit::Per100k)
        );
        assert_eq!(number_of("322 working days"), (322.0, MentionUnit::Days));
        assert_eq!(number_of("twenty-one carers"), (21.0, MentionUnit::Bare));
    }

    #[test]
    fn reads_periods() {
        let s = shapes("In 2024, 2023-24, 2023/24, 2022/2023 and November 2024, from 2019-2023.");
        let periods: Vec<Shape> = s.into_iter().map(|(_, sh)| sh).collect();
        use WrittenPeriod::*;
        assert_eq!(
            periods,
            vec![
                Shape::Period(Year(2024)),
                Shape::Period(FinancialYear(2023)),
                Shape::Period(FinancialYear(2023)),
                Shape::Period(FinancialYear(2022)),
                Shape::Period(Month(2024, 11)),
                Shape::Period(Year(2019)),
                Shape::Period(Year(2023)),
            ]
        );
    }

    #[test]
    fn a_duration_in_years_is_a_figure_and_years_apart_are_not() {
        let s = shapes("some waited two years before being assessed");
        assert!(
            matches!(s[0].1, Shape::Number { value, .. } if value == 2.0),
            "{s:?}"
        );
        let s = shapes("it had 122 two years earlier, and 4 years later it had 193.");
        let apart = s
            .iter()
            .filter(|(_, sh)| *sh == Shape::Structural("years apart"))
            .count();
        assert_eq!(apart, 2, "{s:?}");
    }

    #[test]
    fn recognises_structural_numbers() {
        for text in [
            "per 100,000 people",
            "adults aged 18 to 64",
            "people aged 65 and over",
            "the 85+ group",
            "on a scale of 1 to 10",
            "a decile out of 10",
            "under the Care Act 2014",
            "for each 100,000 adults",
            "Points:\n2. The rate rose",
            "  3) The rate rose",
            "up from there two years earlier.",
            "a level 3 years before, then",
        ] {
            let s = shapes(text);
            assert!(
                s.iter().any(|(_, sh)| matches!(sh, Shape::Structural(_))),
                "{text}: {s:?}"
            );
            assert!(
                !s.iter().any(|(_, sh)| matches!(sh, Shape::Number { .. })),
                "{text}: {s:?}"
            );
        }
    }

    #[test]
    fn reads_ratio_and_fraction_words() {
        let s = shapes("twice as many, three times, 2.3 times, a third, one in five, half");
        let kinds: Vec<&Shape> = s.iter().map(|(_, sh)| sh).collect();
        assert!(matches!(kinds[0], Shape::Ratio { value, .. } if *value == 2.0));
        assert!(matches!(kinds[1], Shape::Ratio { value, .. } if *value == 3.0));
        assert!(matches!(kinds[2], Shape::Ratio { value, .. } if *value == 2.3));
        assert!(matches!(kinds[3], Shape::Fraction { one_in: None, .. }));
        assert!(matches!(
            kinds[4],
            Shape::Fraction {
                one_in: Some(5),
                ..
            }
        ));
        assert!(matches!(kinds[5], Shape::Fraction { value, .. } if *value == 0.5));
    }

    #[test]
    fn reads_hedges_right_before_a_figure() {
        let m = &scan("about 200,000 people", &Allowlist::new(&[]))[0];
        assert_eq!(m.hedge, Some(Hedge::About));
        let m = &scan("more than £1,900", &Allowlist::new(&[]))[0];
        assert_eq!(m.hedge, Some(Hedge::Over));
        let m = &scan("more people than 1,900", &Allowlist::new(&[]))[0];
        assert_eq!(m.hedge, None);
    }

    #[test]
    fn ignores_digits_inside_names_and_the_word_one() {
        assert!(shapes("Sheet T34 and Q11, one area").is_empty());
    }

    #[test]
    fn digits_other_than_0_to_9_are_unreadable_not_zero() {
        // Found by `scripts/fuzz scan`: `٣٤٥` was a figure of value 0.
        assert_eq!(
            shapes("Arabic-Indic ٣٤٥ carers"),
            vec![("٣٤٥".to_string(), Shape::Unreadable)]
        );
        assert_eq!(
            shapes("fullwidth １２,３４５.６ and Devanagari १२"),
            vec![
                ("１２,３４５.６".to_string(), Shape::Unreadable),
                ("१२".to_string(), Shape::Unreadable),
            ]
        );
        let s = shapes("1٣ people");
        assert_eq!(s[0].0, "1");
        assert_eq!(s[1], ("٣".to_string(), Shape::Unreadable));
    }

    #[test]
    fn letters_that_fold_to_ascii_do_not_make_words() {
        // `ſ` (long s) and `K` (Kelvin sign) fold to s and k in Unicode: "auguſt 2024" was
        // matched as a month, then no month name started it and the scan panicked.
        assert_eq!(
            shapes("In auguſt 2024 and ſeptember 2023"),
            vec![
                ("2024".to_string(), Shape::Period(WrittenPeriod::Year(2024))),
                ("2023".to_string(), Shape::Period(WrittenPeriod::Year(2023))),
            ]
        );
        assert_eq!(number_of("£5\u{212a} a year"), (5.0, MentionUnit::Pounds));
        assert!(shapes("ſixty carers").is_empty());
    }

    #[test]
    fn spaces_around_a_figure_may_be_any_unicode_space() {
        assert_eq!(number_of("£\u{a0}45m"), (45e6, MentionUnit::Pounds));
        assert_eq!(number_of("12\u{202f}%"), (12.0, MentionUnit::Percent));
    }

    #[test]
    fn ordinals_are_figures() {
        let m = &scan("ranked 142nd", &Allowlist::new(&[]))[0];
        assert!(m.ordinal);
    }
}
