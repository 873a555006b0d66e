//! Claims in words about where the council stands in a group of councils, with no figure of
//! their own: "in the top quarter of councils in England", "below the median for similar
//! councils", "among the worst quarter". The judge proves each against the group's quartile
//! or median for the measure and year of the council's figure it goes with.

use crate::facts::Polarity;
use regex::Regex;
use std::sync::LazyLock;

/// What a standing claim says, before the measure's polarity is known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Claim {
    pub said: Said,
    /// "no longer in the bottom quarter", "not above the median": true when the words
    /// before deny it.
    pub negated: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Said {
    /// In the quarter with the highest (`true`) or lowest values.
    Quarter { high: bool },
    /// In the best (`true`) or worst quarter, which the polarity turns into high or low.
    QuarterRated { best: bool },
    /// Above (`true`) or below the group's median.
    Median { above: bool },
    /// Better (`true`) or worse than the group's median.
    MedianRated { better: bool },
}

impl Claim {
    pub fn high(self, polarity: Polarity) -> Option<bool> {
        self.said.high(polarity)
    }
    pub fn is_quarter(self) -> bool {
        self.said.is_quarter()
    }
    pub fn negated(self) -> bool {
        self.negated
    }
}

impl Said {
    /// Does the claim put the value at the high end (top quarter, above the median)? None for
    /// best or worst on a measure with no better direction.
    pub fn high(self, polarity: Polarity) -> Option<bool> {
        let rated = |good: bool| match polarity {
            Polarity::HigherIsBetter => Some(good),
            Polarity::HigherIsWorse => Some(!good),
            Polarity::Neutral => None,
        };
        match self {
            Said::Quarter { high } => Some(high),
            Said::Median { above } => Some(above),
            Said::QuarterRated { best } => rated(best),
            Said::MedianRated { better } => rated(better),
        }
    }

    pub fn is_quarter(self) -> bool {
        matches!(self, Said::Quarter { .. } | Said::QuarterRated { .. })
    }
}

static QUARTER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(?P<end>top|bottom|highest|lowest|upper|lower|best|worst)(?:[\s-]+(?:performing|scoring|ranked))?\s+(?:quarter|quartile)\b",
    )
    .expect("the quarter words build")
});

/// Words just before a claim that deny it: "no longer in", "not", "never", "outside".
static NEGATION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:not|no\s+longer|never|outside|out\s+of|n't)\b(?:\s+\w+){0,3}?\s*$|n't(?:\s+\w+){0,3}?\s*$")
        .expect("the negation words build")
});

static MEDIAN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(?P<way>above|below|higher\s+than|lower\s+than|better\s+than|worse\s+than)\s+(?:the\s+|its\s+|their\s+)?(?:\w+\s+){0,3}?median\b",
    )
    .expect("the median words build")
});

/// Each standing claim in `text` as (start, end, claim), in order. A median claim with a
/// figure in its clause ("above the median for councils in England of 67.5%") compares two
/// figures, which the comparison pass judges: `figures` (where the text's numbers start)
/// leaves those out.
pub fn claims(text: &str, figures: &[usize]) -> Vec<(usize, usize, Claim)> {
    let negated = |start: usize| NEGATION.is_match(&text[..start]);
    let figure_follows = |end: usize| {
        figures
            .iter()
            .any(|&at| at >= end && at - end <= 48 && !text[end..at].contains(['.', ',', ';', ':']))
    };
    let mut out: Vec<(usize, usize, Claim)> = QUARTER
        .captures_iter(text)
        .map(|c| {
            let whole = c.get(0).expect("a match");
            let said = match &c["end"].to_lowercase()[..] {
                "top" | "highest" | "upper" => Said::Quarter { high: true },
                "bottom" | "lowest" | "lower" => Said::Quarter { high: false },
                "best" => Said::QuarterRated { best: true },
                _ => Said::QuarterRated { best: false },
            };
            let negated = negated(whole.start());
            (whole.start(), whole.end(), Claim { said, negated })
        })
        .collect();
    for c in MEDIAN.captures_iter(text) {
        let whole = c.get(0).expect("a match");
        if figure_follows(whole.end()) {
            continue;
        }
        let way = c["way"].to_lowercase();
        let said = match way.split_whitespace().next().unwrap_or("") {
            "above" | "higher" => Said::Median { above: true },
            "below" | "lower" => Said::Median { above: false },
            "better" => Said::MedianRated { better: true },
            _ => Said::MedianRated { better: false },
        };
        let negated = negated(whole.start());
        out.push((whole.start(), whole.end(), Claim { said, negated }));
    }
    out.sort_by_key(|c| c.0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Vec<Said> {
        claims(text, &[]).into_iter().map(|c| c.2.said).collect()
    }

    #[test]
    fn finds_quarters_and_medians_in_their_usual_wordings() {
        assert_eq!(
            found("It was in the top quarter of councils in England."),
            [Said::Quarter { high: true }]
        );
        assert_eq!(
            found("among the worst-performing quartile of similar councils"),
            [Said::QuarterRated { best: false }]
        );
        assert_eq!(
            found("This was below the median for its nearest neighbours."),
            [Said::Median { above: false }]
        );
        assert_eq!(
            found("better than the England median"),
            [Said::MedianRated { better: true }]
        );
        assert!(found("a quarter of carers").is_empty());
        assert!(found("the median household").is_empty());
        assert!(found("Over the last year the median for its nearest neighbours fell").is_empty());
    }

    #[test]
    fn words_that_deny_a_claim_are_read() {
        let negated = |text: &str| claims(text, &[]).first().map(|c| c.2.negated);
        assert_eq!(
            negated("It was no longer in the bottom quarter."),
            Some(true)
        );
        assert_eq!(negated("It was not above the median."), Some(true));
        assert_eq!(negated("It wasn't in the top quarter."), Some(true));
        assert_eq!(negated("It was just outside the top quarter."), Some(true));
        assert_eq!(
            negated("Not only was it in the top quarter of all councils, it rose."),
            Some(false)
        );
        assert_eq!(negated("It was in the top quarter."), Some(false));
    }

    #[test]
    fn a_median_with_its_figure_in_the_clause_is_left_to_the_comparison_pass() {
        let text = "above the median for councils in England of 67.5%";
        assert!(claims(text, &[text.find("67.5").unwrap()]).is_empty());
        let text = "above the median, at 70.5% in 2022-23";
        assert_eq!(claims(text, &[text.find("70.5").unwrap()]).len(), 1);
    }

    #[test]
    fn best_and_worst_follow_the_polarity() {
        let best = Said::QuarterRated { best: true };
        assert_eq!(best.high(Polarity::HigherIsBetter), Some(true));
        assert_eq!(best.high(Polarity::HigherIsWorse), Some(false));
        assert_eq!(best.high(Polarity::Neutral), None);
    }
}
