//! Claims in words about where the council stands in a group of councils, with no figure of
//! their own: "in the top quarter of councils in England", "below the median for similar
//! councils", "among the worst quarter". The judge proves each against the group's quartile
//! or median for the measure and year of the council's figure it goes with.

use crate::facts::Polarity;
use regex::Regex;
use std::sync::LazyLock;

/// What a standing claim says, before the measure's polarity is known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Claim {
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
    /// Does the claim put the value at the high end (top quarter, above the median)? None for
    /// best or worst on a measure with no better direction.
    pub fn high(self, polarity: Polarity) -> Option<bool> {
        let rated = |good: bool| match polarity {
            Polarity::HigherIsBetter => Some(good),
            Polarity::HigherIsWorse => Some(!good),
            Polarity::Neutral => None,
        };
        match self {
            Claim::Quarter { high } => Some(high),
            Claim::Median { above } => Some(above),
            Claim::QuarterRated { best } => rated(best),
            Claim::MedianRated { better } => rated(better),
        }
    }

    pub fn is_quarter(self) -> bool {
        matches!(self, Claim::Quarter { .. } | Claim::QuarterRated { .. })
    }
}

static QUARTER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(?P<end>top|bottom|highest|lowest|upper|lower|best|worst)(?:[\s-]+(?:performing|scoring|ranked))?\s+(?:quarter|quartile)\b",
    )
    .expect("the quarter words build")
});

static MEDIAN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(?P<way>above|below|higher\s+than|lower\s+than|better\s+than|worse\s+than|over|under)\s+(?:the\s+|its\s+|their\s+)?(?:\w+\s+){0,3}?median\b",
    )
    .expect("the median words build")
});

/// Each standing claim in `text` as (start, end, claim), in order. A median claim with a
/// figure in its clause ("above the median for councils in England of 67.5%") compares two
/// figures, which the comparison pass judges: `figures` (where the text's numbers start)
/// leaves those out.
pub fn claims(text: &str, figures: &[usize]) -> Vec<(usize, usize, Claim)> {
    let figure_follows = |end: usize| {
        figures
            .iter()
            .any(|&at| at >= end && at - end <= 48 && !text[end..at].contains(['.', ',', ';', ':']))
    };
    let mut out: Vec<(usize, usize, Claim)> = QUARTER
        .captures_iter(text)
        .map(|c| {
            let whole = c.get(0).expect("a match");
            let claim = match &c["end"].to_lowercase()[..] {
                "top" | "highest" | "upper" => Claim::Quarter { high: true },
                "bottom" | "lowest" | "lower" => Claim::Quarter { high: false },
                "best" => Claim::QuarterRated { best: true },
                _ => Claim::QuarterRated { best: false },
            };
            (whole.start(), whole.end(), claim)
        })
        .collect();
    for c in MEDIAN.captures_iter(text) {
        let whole = c.get(0).expect("a match");
        if figure_follows(whole.end()) {
            continue;
        }
        let way = c["way"].to_lowercase();
        let claim = match way.split_whitespace().next().unwrap_or("") {
            "above" | "higher" | "over" => Claim::Median { above: true },
            "below" | "lower" | "under" => Claim::Median { above: false },
            "better" => Claim::MedianRated { better: true },
            _ => Claim::MedianRated { better: false },
        };
        out.push((whole.start(), whole.end(), claim));
    }
    out.sort_by_key(|c| c.0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Vec<Claim> {
        claims(text, &[]).into_iter().map(|c| c.2).collect()
    }

    #[test]
    fn finds_quarters_and_medians_in_their_usual_wordings() {
        assert_eq!(
            found("It was in the top quarter of councils in England."),
            [Claim::Quarter { high: true }]
        );
        assert_eq!(
            found("among the worst-performing quartile of similar councils"),
            [Claim::QuarterRated { best: false }]
        );
        assert_eq!(
            found("This was below the median for its nearest neighbours."),
            [Claim::Median { above: false }]
        );
        assert_eq!(
            found("better than the England median"),
            [Claim::MedianRated { better: true }]
        );
        assert!(found("a quarter of carers").is_empty());
        assert!(found("the median household").is_empty());
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
        let best = Claim::QuarterRated { best: true };
        assert_eq!(best.high(Polarity::HigherIsBetter), Some(true));
        assert_eq!(best.high(Polarity::HigherIsWorse), Some(false));
        assert_eq!(best.high(Polarity::Neutral), None);
    }
}
