//! What a page's charts show, measure by measure: the council's latest value against its
//! comparators and group medians, the council among each group's values, and the series over
//! the years. Data only; `web/charts.rs` draws it.

use crate::facts::{Chronological, FactRow, FactSet, Peers, Polarity, SectionFacts, Unit, Value};
use serde::Serialize;

/// The charts of one compared measure.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct MeasureChart {
    pub metric: String,
    pub label: String,
    pub unit: Unit,
    pub polarity: Polarity,
    /// Decimal places the measure is published with (for axis labels).
    pub decimals: u8,
    /// The latest period the council has a value for, as prose dates it.
    pub period: String,
    /// The council's value first, then each comparator's and each group's median, same period.
    pub bars: Vec<Bar>,
    /// The council among each group's values for the latest period.
    pub strips: Vec<Strip>,
    /// Periods of the series, oldest first (at least two, or no trend is drawn).
    pub periods: Vec<String>,
    /// The council's series first, then England's and the region's where the page has them.
    pub series: Vec<Series>,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Bar {
    pub name: String,
    pub value: f64,
    pub display: String,
    /// `council`, `area` (another area's published value) or `median` (computed).
    pub kind: &'static str,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Strip {
    /// The group in words, with its size: "its nearest neighbours (16)".
    pub name: String,
    /// Every member's value, the council's included.
    pub values: Vec<f64>,
    pub council: f64,
    pub council_display: String,
    pub median: f64,
    pub median_display: String,
    /// "12th highest of 151".
    pub rank_words: String,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Series {
    pub name: String,
    /// One per period of the chart; None where the area has no value that year.
    pub values: Vec<Option<f64>>,
    pub displays: Vec<Option<String>>,
    pub council: bool,
}

/// The charts of a page: one per measure the council has a number for that has something to
/// be drawn against (another area, a group of councils, or other years), in the section's
/// order.
pub fn page_charts(facts: &FactSet, view: &SectionFacts) -> Vec<MeasureChart> {
    let section = view.section();
    let mut charts = Vec::new();
    for metric in section.metrics() {
        let mut rows: Vec<&FactRow> = view
            .rows()
            .iter()
            .filter(|r| &r.metric == metric && r.value.as_number().is_some())
            .collect();
        rows.sort_by_key(|r| Chronological(r.period));
        let Some(latest) = rows.last().copied() else {
            continue;
        };
        let bars = bars(view, latest);
        if bars.len() < 2 && rows.len() < 2 {
            continue;
        }
        charts.push(MeasureChart {
            metric: metric.to_string(),
            label: latest.label.clone(),
            unit: latest.unit,
            polarity: latest.polarity,
            decimals: latest.value.as_number().map_or(0, |n| n.decimals()),
            period: latest.period_spelled.clone(),
            bars,
            strips: strips(facts, view, latest),
            periods: rows.iter().map(|r| r.period_spelled.clone()).collect(),
            series: if rows.len() < 2 {
                Vec::new()
            } else {
                series(view, &rows)
            },
        });
    }
    charts
}

fn number(value: &Value) -> Option<f64> {
    value.as_number().map(|n| n.value())
}

fn bars(view: &SectionFacts, row: &FactRow) -> Vec<Bar> {
    let mut out = Vec::new();
    if let Some(v) = number(&row.value) {
        out.push(Bar {
            name: view.area().name().to_string(),
            value: v,
            display: row.display.clone(),
            kind: "council",
        });
    }
    for c in [&row.region, &row.england].into_iter().flatten() {
        if let Some(v) = number(&c.value) {
            out.push(Bar {
                name: c.name.clone(),
                value: v,
                display: c.display.clone(),
                kind: "area",
            });
        }
    }
    for p in &row.peers {
        out.push(Bar {
            name: format!("median of {}", p.name.trim_start_matches("its ")),
            value: p.median.value(),
            display: p.median_display.clone(),
            kind: "median",
        });
    }
    out
}

fn strips(facts: &FactSet, view: &SectionFacts, row: &FactRow) -> Vec<Strip> {
    let Some(council) = number(&row.value) else {
        return Vec::new();
    };
    row.peers
        .iter()
        .filter_map(|p| {
            let (values, _) =
                facts.peer_values(view.area().code(), &row.metric, row.period, &p.peers)?;
            Some(Strip {
                name: format!("{} ({})", p.name.trim_start_matches("its "), p.councils),
                values: values.iter().map(|n| n.value()).collect(),
                council,
                council_display: row.display.clone(),
                median: p.median.value(),
                median_display: p.median_display.clone(),
                rank_words: p.rank_words.clone(),
            })
        })
        .collect()
}

fn series(view: &SectionFacts, rows: &[&FactRow]) -> Vec<Series> {
    let council = Series {
        name: view.area().name().to_string(),
        values: rows.iter().map(|r| number(&r.value)).collect(),
        displays: rows.iter().map(|r| Some(r.display.clone())).collect(),
        council: true,
    };
    let mut out = vec![council];
    // England's line is its published values where the page has any, else the median of all
    // councils; the region's likewise. One kind per line: a year with no published value is
    // a gap, never a median under England's name.
    for peers in [Peers::AllCouncils, Peers::RegionCouncils] {
        let published = |r: &FactRow| -> Option<Point> {
            let c = match peers {
                Peers::AllCouncils => r.england.as_ref(),
                _ => r.region.as_ref(),
            }?;
            Some((c.name.clone(), number(&c.value)?, c.display.clone()))
        };
        let median = |r: &FactRow| -> Option<Point> {
            let p = r.peers.iter().find(|p| p.peers == peers)?;
            Some((
                format!("median of {}", p.name),
                p.median.value(),
                p.median_display.clone(),
            ))
        };
        let mut points: Vec<Option<Point>> = rows.iter().map(|r| published(r)).collect();
        if points.iter().all(Option::is_none) {
            points = rows.iter().map(|r| median(r)).collect();
        }
        let Some(name) = points.iter().flatten().map(|(n, _, _)| n.clone()).next() else {
            continue;
        };
        out.push(Series {
            name,
            values: points.iter().map(|p| p.as_ref().map(|p| p.1)).collect(),
            displays: points
                .iter()
                .map(|p| p.as_ref().map(|p| p.2.clone()))
                .collect(),
            council: false,
        });
    }
    out
}

/// A point of a comparator's series: (name, value, as printed).
type Point = (String, f64, String);
