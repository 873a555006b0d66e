//! Where a council's value stands among a group of councils' values for the same measure and
//! period: median, mean, rank, quartile and distance from the median. The one place these are
//! computed; prompts show them and the checker proves text against them.

use super::metric::Unit;
use super::section::Peers;
use super::value::{Number, Value};
use serde::Serialize;

/// A council's value against a group's values, each figure with how it was derived.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PeerComparison {
    pub peers: Peers,
    /// The group in words: "its nearest neighbours", "councils in the South West".
    pub name: String,
    /// Councils in the group with a value for the period, the council included.
    pub councils: usize,
    pub median: Number,
    /// The median as the table prints a value of the measure ("74.3%").
    pub median_display: String,
    pub mean: Number,
    /// 1 is the highest value; tied values share the better rank.
    pub rank: usize,
    /// The same counted from the lowest value: 1 is the lowest.
    pub rank_from_lowest: usize,
    /// From whichever end is nearer: "12th highest of 151", "lowest of 152".
    pub rank_words: String,
    /// 1 is the quarter with the highest values, 4 the lowest.
    pub quartile: u8,
    /// The council's value minus the median, at the median's precision.
    pub from_median: Number,
    /// How each figure was computed, for a reviewer: the values' range and the rule.
    pub derivation: String,
}

/// The fewest values a comparison is made over: a median of two says nothing.
pub const MIN_COUNCILS: usize = 3;

/// Compares `value` (the council's) with `values` (every group member's with a value, the
/// council's included). None when fewer than [`MIN_COUNCILS`] have a value.
pub fn compare(
    peers: Peers,
    name: String,
    unit: Unit,
    value: Number,
    values: &[Number],
) -> Option<PeerComparison> {
    let n = values.len();
    if n < MIN_COUNCILS {
        return None;
    }
    let decimals = values.iter().map(Number::decimals).max().unwrap_or(0);
    // The set's lists come sorted (once, when it first builds them); a gathered group is
    // sorted here.
    let by_value = |a: &Number, b: &Number| a.value().total_cmp(&b.value());
    let sorted: std::borrow::Cow<'_, [Number]> =
        if values.is_sorted_by(|a, b| by_value(a, b).is_le()) {
            values.into()
        } else {
            let mut owned = values.to_vec();
            owned.sort_by(by_value);
            owned.into()
        };
    let at = |i: usize| sorted[i].value();
    let (median, median_decimals) = if n % 2 == 1 {
        (at(n / 2), decimals)
    } else {
        // A midpoint can need one more place than the values ("74.75" between 74.7 and 74.8).
        let mid = (at(n / 2 - 1) + at(n / 2)) / 2.0;
        let exact =
            Number::rounded(mid, decimals).value() == Number::rounded(mid, decimals + 1).value();
        (mid, if exact { decimals } else { decimals + 1 })
    };
    let mean = sorted.iter().map(Number::value).sum::<f64>() / n as f64;
    let v = value.value();
    let above = n - sorted.partition_point(|x| x.value() <= v);
    let rank = above + 1;
    let below = sorted.partition_point(|x| x.value() < v);
    let rank_from_lowest = below + 1;
    let quartile = u8::try_from((above * 4) / n + 1).unwrap_or(4).min(4);
    let median = Number::rounded(median, median_decimals);
    let from_median = Number::rounded(v - median.value(), median_decimals);
    let derivation = format!(
        "{n} councils with a value, from {} to {}; median {} (the middle value{}), mean {} (their sum over {n}); rank {rank} = 1 + the {above} councils with a higher value; quartile {quartile} (1 holds the highest quarter)",
        Number::rounded(at(0), decimals).grouped(),
        Number::rounded(at(n - 1), decimals).grouped(),
        median.grouped(),
        if n.is_multiple_of(2) { ", halfway between the two middle ones" } else { "" },
        Number::rounded(mean, decimals + 1).grouped(),
    );
    Some(PeerComparison {
        peers,
        name,
        councils: n,
        median_display: Value::Number(median).display(unit),
        median,
        mean: Number::rounded(mean, decimals + 1),
        rank,
        rank_words: rank_words(rank, rank_from_lowest, n),
        rank_from_lowest,
        quartile,
        from_median,
        derivation,
    })
}

fn rank_words(rank: usize, from_lowest: usize, n: usize) -> String {
    let (k, end) = if rank <= from_lowest {
        (rank, "highest")
    } else {
        (from_lowest, "lowest")
    };
    if k == 1 {
        format!("{end} of {n}")
    } else {
        format!("{} {end} of {n}", ordinal(k))
    }
}

/// 1st, 2nd, 3rd, 4th, 11th, 12th, 13th, 21st, 112th.
pub fn ordinal(n: usize) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nums(raw: &[&str]) -> Vec<Number> {
        raw.iter().map(|r| Number::parse(r).unwrap()).collect()
    }

    /// The comparison of `values[i]` among `values`.
    fn of(values: &[Number], i: usize) -> Option<PeerComparison> {
        compare(
            Peers::AllCouncils,
            "all".into(),
            Unit::Score,
            values[i],
            values,
        )
    }

    #[test]
    fn median_rank_and_quartile_follow_the_stated_rules() {
        let values = nums(&["70.1", "74.7", "74.8", "80.0"]);
        let c = of(&values, 1).unwrap();
        assert_eq!(c.median.grouped(), "74.75");
        assert_eq!(c.rank, 3);
        assert_eq!(c.rank_words, "2nd lowest of 4");
        assert_eq!(c.quartile, 3);
        assert_eq!(c.from_median.grouped(), "-0.05");
        let odd = nums(&["3", "1", "2"]);
        let top = of(&odd, 0).unwrap();
        assert_eq!(
            (top.median.grouped().as_str(), top.rank, top.quartile),
            ("2", 1, 1)
        );
        assert_eq!(top.rank_words, "highest of 3");
        assert!(of(&odd[..2], 0).is_none());
    }

    #[test]
    fn values_given_sorted_or_not_compare_alike() {
        let values = nums(&["74.8", "70.1", "80.0", "74.7", "74.7", "91.25"]);
        let mut sorted = values.clone();
        sorted.sort_by(|a, b| a.value().total_cmp(&b.value()));
        for (i, v) in values.iter().enumerate() {
            let j = sorted.iter().position(|s| s == v).unwrap();
            assert_eq!(of(&values, i), of(&sorted, j), "value {}", v.grouped());
        }
    }

    #[test]
    fn ties_share_the_better_rank() {
        let values = nums(&["5", "7", "7", "9"]);
        let c = of(&values, 1).unwrap();
        assert_eq!(c.rank, 2);
        assert_eq!(c.median.grouped(), "7");
    }

    #[test]
    fn ordinals_read_as_english() {
        let got: Vec<String> = [1, 2, 3, 4, 11, 12, 13, 21, 22, 101, 112]
            .map(ordinal)
            .to_vec();
        assert_eq!(
            got,
            [
                "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "101st",
                "112th"
            ]
        );
    }
}
