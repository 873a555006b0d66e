//! The metric catalogue: what each measure is, its unit and which direction is good.

use serde::{Serialize, Serializer};
use std::borrow::Borrow;
use std::fmt;
use std::sync::Arc;

/// A metric id from `data/metrics.toml`: lower-case snake_case.
///
/// Shared, not copied: the loader gives each fact a clone of the catalogue's id, so the many
/// facts of a measure hold one string between them and a clone costs no allocation.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MetricId(Arc<str>);

impl MetricId {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let mut chars = raw.chars();
        let first_ok = chars.next().is_some_and(|c| c.is_ascii_lowercase());
        let rest_ok = chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if first_ok && rest_ok {
            Ok(Self(raw.into()))
        } else {
            Err(format!(
                "expected a metric id in snake_case such as carers_social_contact, found {raw:?}"
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MetricId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The id as a string, as a `String` field would be.
impl Serialize for MetricId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

/// Lets the catalogue be searched by the text of a row without making an id first: an id
/// compares, orders and hashes as its text does.
impl Borrow<str> for MetricId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

/// What a metric's value measures; decides formatting and range checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    Count,
    Percent,
    Per100k,
    Pounds,
    PoundsPerHead,
    PoundsPer100k,
    Days,
    Weeks,
    Months,
    Decile,
    Score,
    PeoplePerKm2,
    Rank,
    Hours,
    Years,
    Ratio,
    Category,
}

impl Unit {
    pub const ALL: [(&'static str, Unit); 17] = [
        ("count", Unit::Count),
        ("percent", Unit::Percent),
        ("per_100k", Unit::Per100k),
        ("pounds", Unit::Pounds),
        ("pounds_per_head", Unit::PoundsPerHead),
        ("pounds_per_100k", Unit::PoundsPer100k),
        ("days", Unit::Days),
        ("weeks", Unit::Weeks),
        ("months", Unit::Months),
        ("decile", Unit::Decile),
        ("score", Unit::Score),
        ("people_per_km2", Unit::PeoplePerKm2),
        ("rank", Unit::Rank),
        ("hours", Unit::Hours),
        ("years", Unit::Years),
        ("ratio", Unit::Ratio),
        ("category", Unit::Category),
    ];

    pub fn parse(raw: &str) -> Result<Self, String> {
        Self::ALL
            .iter()
            .find(|(name, _)| *name == raw)
            .map(|(_, unit)| *unit)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|(n, _)| *n).collect();
                format!(
                    "expected a unit, one of {}; found {raw:?}",
                    names.join(", ")
                )
            })
    }

    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, unit)| *unit == self)
            .map(|(name, _)| *name)
            .expect("every unit is listed in Unit::ALL")
    }

    /// Values of these units can never be negative.
    pub fn is_non_negative(self) -> bool {
        !matches!(self, Unit::Pounds | Unit::Ratio | Unit::Score)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Polarity {
    HigherIsBetter,
    HigherIsWorse,
    Neutral,
}

impl Polarity {
    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw {
            "higher_is_better" => Ok(Self::HigherIsBetter),
            "higher_is_worse" => Ok(Self::HigherIsWorse),
            "neutral" => Ok(Self::Neutral),
            other => Err(format!(
                "expected polarity higher_is_better, higher_is_worse or neutral, found {other:?}"
            )),
        }
    }
}

/// How the publisher dates a financial year's figures in prose, which the checker accepts
/// besides the range itself ("2023-24", "2023/24").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Dating {
    /// Only the range: 2023-24.
    #[default]
    Range,
    /// Also the calendar year it ends, as SALT, ASCFR and the surveys' pages do: 2023-24 may be
    /// written "2024" or "the year to March 2024".
    YearEnding,
}

impl Dating {
    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw {
            "range" => Ok(Self::Range),
            "year_ending" => Ok(Self::YearEnding),
            other => Err(format!(
                "expected dated_by \"range\" or \"year_ending\", found {other:?}"
            )),
        }
    }
}

/// One entry of the metric catalogue, validated.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Metric {
    id: MetricId,
    label: String,
    unit: Unit,
    polarity: Polarity,
    definition: String,
    source: String,
    denominator: Option<MetricId>,
    count_metric: Option<MetricId>,
    values: Vec<String>,
    dated_by: Dating,
    higher_means: Option<String>,
}

impl Metric {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        id: MetricId,
        label: String,
        unit: Unit,
        polarity: Polarity,
        definition: String,
        source: String,
        denominator: Option<MetricId>,
        count_metric: Option<MetricId>,
        values: Vec<String>,
        dated_by: Dating,
        higher_means: Option<String>,
    ) -> Self {
        Self {
            id,
            label,
            unit,
            polarity,
            definition,
            source,
            denominator,
            count_metric,
            values,
            dated_by,
            higher_means,
        }
    }

    /// What a higher value means in words, where the scale runs against the word prose uses
    /// ("less deprived" for a deprivation decile).
    pub fn higher_means(&self) -> Option<&str> {
        self.higher_means.as_deref()
    }

    /// How prose may date this measure's financial years.
    pub fn dated_by(&self) -> Dating {
        self.dated_by
    }

    pub fn id(&self) -> &MetricId {
        &self.id
    }
    pub fn label(&self) -> &str {
        &self.label
    }
    pub fn unit(&self) -> Unit {
        self.unit
    }
    pub fn polarity(&self) -> Polarity {
        self.polarity
    }
    pub fn definition(&self) -> &str {
        &self.definition
    }
    pub fn source(&self) -> &str {
        &self.source
    }
    /// For a rate per 100,000: the population metric it is a rate of.
    pub fn denominator(&self) -> Option<&MetricId> {
        self.denominator.as_ref()
    }
    /// For a rate: the matching count metric.
    pub fn count_metric(&self) -> Option<&MetricId> {
        self.count_metric.as_ref()
    }
    /// For a category metric: its allowed values.
    pub fn values(&self) -> &[String] {
        &self.values
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_unit_name_round_trips() {
        for (name, unit) in Unit::ALL {
            assert_eq!(Unit::parse(name), Ok(unit));
            assert_eq!(unit.name(), name);
        }
    }

    #[test]
    fn unknown_unit_lists_the_allowed_ones() {
        let err = Unit::parse("furlongs").unwrap_err();
        assert!(err.contains("per_100k"), "{err}");
    }
}
