//! Typed periods: calendar year, financial year, month and census.

use serde::{Serialize, Serializer};
use std::fmt;

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// When a fact applies. Written in `data/` as `2024`, `2023-24`, `2024-11` or `census-2021`.
///
/// `YYYY-NN` is a financial year when NN is the last two digits of YYYY + 1, else a month;
/// so months from 2000-01 to 2011-12 that collide with a financial year cannot be written,
/// which no data here is old enough to need.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Period {
    Year(u16),
    /// April of the given year to March of the next.
    FinancialYear(u16),
    Month(u16, u8),
    Census(u16),
}

impl Period {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let expected = || {
            format!(
                "expected a period: a year (2024), a financial year (2023-24), a month (2024-11) or a census (census-2021); found {raw:?}"
            )
        };
        let year = |s: &str| -> Option<u16> {
            (s.len() == 4 && s.bytes().all(|b| b.is_ascii_digit()))
                .then(|| s.parse::<u16>().ok())
                .flatten()
                .filter(|y| (1900..=2100).contains(y))
        };
        if let Some(rest) = raw.strip_prefix("census-") {
            return year(rest).map(Period::Census).ok_or_else(expected);
        }
        if let Some(y) = year(raw) {
            return Ok(Period::Year(y));
        }
        let (head, tail) = raw.split_once('-').ok_or_else(expected)?;
        let y = year(head).ok_or_else(expected)?;
        if tail.len() != 2 || !tail.bytes().all(|b| b.is_ascii_digit()) {
            return Err(expected());
        }
        let n: u8 = tail.parse().map_err(|_| expected())?;
        if u16::from(n) == (y + 1) % 100 {
            Ok(Period::FinancialYear(y))
        } else if (1..=12).contains(&n) {
            Ok(Period::Month(y, n))
        } else {
            Err(expected())
        }
    }

    /// The form written in `data/`.
    pub fn code(&self) -> String {
        match self {
            Period::Year(y) => y.to_string(),
            Period::FinancialYear(y) => format!("{y}-{:02}", (y + 1) % 100),
            Period::Month(y, m) => format!("{y}-{m:02}"),
            Period::Census(y) => format!("census-{y}"),
        }
    }

    /// The form a reader expects in prose: `2024`, `2023-24`, `November 2024`, `Census 2021`.
    pub fn spelled(&self) -> String {
        match self {
            Period::Year(y) => y.to_string(),
            Period::FinancialYear(_) => self.code(),
            Period::Month(y, m) => format!("{} {y}", MONTHS[usize::from(*m) - 1]),
            Period::Census(y) => format!("Census {y}"),
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.code())
    }
}

impl Serialize for Period {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_kind_of_period() {
        assert_eq!(Period::parse("2024"), Ok(Period::Year(2024)));
        assert_eq!(Period::parse("2023-24"), Ok(Period::FinancialYear(2023)));
        assert_eq!(Period::parse("2099-00"), Ok(Period::FinancialYear(2099)));
        assert_eq!(Period::parse("2024-11"), Ok(Period::Month(2024, 11)));
        assert_eq!(Period::parse("census-2021"), Ok(Period::Census(2021)));
    }

    #[test]
    fn rejects_malformed_periods() {
        for bad in [
            "",
            "24",
            "2023/24",
            "2023-25",
            "2024-13",
            "census-21",
            "FY2023",
            "2024-1",
        ] {
            assert!(Period::parse(bad).is_err(), "{bad} should not parse");
        }
    }

    #[test]
    fn codes_round_trip_and_spell_for_prose() {
        for raw in ["2024", "2023-24", "2024-11", "census-2021"] {
            assert_eq!(Period::parse(raw).unwrap().code(), raw);
        }
        assert_eq!(Period::Month(2024, 11).spelled(), "November 2024");
        assert_eq!(Period::Census(2021).spelled(), "Census 2021");
    }
}
