//! Which data a text rests on: the periods and sources of the figures it quotes, as the site
//! prints them under the text ("Data: Census 2021 to 2023-24, ...").

use super::metric::MetricId;
use super::period::Period;
use super::set::SectionFacts;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// The id the checker gives a fact: `area:metric:period`.
pub fn fact_id(area: &str, metric: &MetricId, period: Period) -> String {
    format!("{area}:{metric}:{period}")
}

/// The id of a figure computed among a group of councils for a fact (`stat` is `median`,
/// `rank`, `rank_from_lowest` or `councils`): `area:metric:period~stat@group`.
pub fn group_fact_id(
    area: &str,
    metric: &MetricId,
    period: Period,
    stat: &str,
    group: &str,
) -> String {
    format!("{}~{stat}@{group}", fact_id(area, metric, period))
}

/// (area, metric, period) of a fact id, a group figure's being its fact's.
fn fact_of(id: &str) -> Option<(&str, &str, &str)> {
    let base = id.split_once('~').map_or(id, |(base, _)| base);
    let mut parts = base.rsplitn(3, ':');
    let (period, metric, area) = (parts.next()?, parts.next()?, parts.next()?);
    Some((area, metric, period))
}

/// The periods and sources of the facts a text quotes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DataBasis {
    /// The earliest period quoted, as prose dates it ("Census 2021", "2023-24"); empty when the
    /// text quotes no figure.
    pub earliest: String,
    /// The latest period quoted.
    pub latest: String,
    /// Every period quoted, oldest first.
    pub periods: Vec<String>,
    /// Every source the quoted figures cite, in alphabetical order.
    pub sources: Vec<String>,
    /// The line a page prints: "Census 2021 to 2023-24; sources: A; B". Empty when nothing is
    /// quoted.
    pub summary: String,
}

impl DataBasis {
    /// The basis of the facts with these ids (`area:metric:period`, or a group figure's
    /// `area:metric:period~stat@group`, which rests on the same table's values for the
    /// period). Ids the view does not hold are skipped: they name no data.
    pub fn of<'a>(ids: impl IntoIterator<Item = &'a str>, view: &SectionFacts) -> DataBasis {
        // One entry per period, however measures date it ("2023-24", "2024 (2023-24)"): the
        // first spelling met.
        let mut periods: BTreeMap<Chronological, String> = BTreeMap::new();
        let mut sources: BTreeSet<String> = BTreeSet::new();
        for id in ids {
            let Some((area, metric, period)) = fact_of(id) else {
                continue;
            };
            let Some((row, source)) = view.source_of(area, metric, period) else {
                continue;
            };
            periods
                .entry(Chronological(row.period))
                .or_insert_with(|| row.period_spelled.clone());
            sources.insert(source.to_string());
        }
        let periods: Vec<String> = periods.into_values().collect();
        let sources: Vec<String> = sources.into_iter().collect();
        let (earliest, latest) = match (periods.first(), periods.last()) {
            (Some(a), Some(b)) => (a.clone(), b.clone()),
            _ => return DataBasis::default(),
        };
        let span = if earliest == latest {
            latest.clone()
        } else {
            format!("{earliest} to {latest}")
        };
        let summary = format!("{span}; sources: {}", sources.join("; "));
        DataBasis {
            earliest,
            latest,
            periods,
            sources,
            summary,
        }
    }

    /// A version approved before bases were kept: only its page's latest period is known.
    pub fn period_only(period: &str) -> DataBasis {
        if period.is_empty() {
            return DataBasis::default();
        }
        DataBasis {
            earliest: period.to_string(),
            latest: period.to_string(),
            periods: vec![period.to_string()],
            sources: Vec::new(),
            summary: period.to_string(),
        }
    }
}

/// Periods in calendar order: by when each ends, then by when it starts. (`Period`'s own
/// order groups by kind first, which would put a census after a later financial year.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Chronological(pub Period);

impl Chronological {
    /// (year, month) of the period's first and last month.
    fn months(self) -> ((u16, u8), (u16, u8)) {
        match self.0 {
            Period::Year(y) => ((y, 1), (y, 12)),
            Period::FinancialYear(y) => ((y, 4), (y + 1, 3)),
            Period::Month(y, m) => ((y, m), (y, m)),
            // Census day falls in March (21 March 2021).
            Period::Census(y) => ((y, 3), (y, 3)),
        }
    }
}

impl Ord for Chronological {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        let ((a_start, a_end), (b_start, b_end)) = (self.months(), other.months());
        a_end
            .cmp(&b_end)
            .then(a_start.cmp(&b_start))
            .then(self.0.cmp(&other.0))
    }
}

impl PartialOrd for Chronological {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_sort_by_the_calendar_not_by_kind() {
        let census = Chronological(Period::Census(2021));
        let fy = Chronological(Period::FinancialYear(2023));
        let year = Chronological(Period::Year(2023));
        let month = Chronological(Period::Month(2025, 1));
        let mut all = vec![month, fy, census, year];
        all.sort();
        assert_eq!(all, vec![census, year, fy, month]);
        // 2020-21 ends in March 2021, with census day; it started earlier.
        assert!(Chronological(Period::FinancialYear(2020)) < census);
    }

    #[test]
    fn a_basis_with_no_period_is_empty() {
        assert_eq!(DataBasis::period_only(""), DataBasis::default());
        assert_eq!(DataBasis::period_only("2023-24").summary, "2023-24");
    }
}
