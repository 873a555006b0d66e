//! The validated facts, and the per-area, per-section view a prompt and the checker receive.

use super::area::{Area, AreaCode, AreaKind};
use super::cited::Citation;
use super::load::Groups;
use super::metric::{Dating, Metric, MetricId, Polarity, Unit};
use super::peers::{self, PeerComparison};
use super::period::Period;
use super::section::{Comparator, Peers, Section};
use super::value::{Number, Value};
use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::ops::Range;
use std::sync::Arc;

/// One row of `data/facts/*.csv`, validated.
///
/// Small, as a large data set holds hundreds of thousands: the area inline, the measure's id
/// and the citation shared with the other facts that have them.
#[derive(Clone, PartialEq)]
pub struct Fact {
    area: AreaCode,
    period: Period,
    metric: MetricId,
    value: Value,
    cited: Arc<Citation>,
}

impl Fact {
    pub(crate) fn new(
        area: AreaCode,
        metric: MetricId,
        period: Period,
        value: Value,
        cited: Arc<Citation>,
    ) -> Self {
        Self {
            area,
            period,
            metric,
            value,
            cited,
        }
    }
    pub fn area(&self) -> &AreaCode {
        &self.area
    }
    pub fn metric(&self) -> &MetricId {
        &self.metric
    }
    pub fn period(&self) -> Period {
        self.period
    }
    pub fn value(&self) -> &Value {
        &self.value
    }
    pub fn source(&self) -> &str {
        self.cited.source()
    }
    pub fn note(&self) -> &str {
        self.cited.note()
    }
}

/// The row's six fields, as the row has them (the citation's sharing is not the fact's).
impl fmt::Debug for Fact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fact")
            .field("area", &self.area)
            .field("metric", &self.metric)
            .field("period", &self.period)
            .field("value", &self.value)
            .field("source", &self.source())
            .field("note", &self.note())
            .finish()
    }
}

impl Serialize for Fact {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut row = serializer.serialize_struct("Fact", 6)?;
        row.serialize_field("area", &self.area)?;
        row.serialize_field("metric", &self.metric)?;
        row.serialize_field("period", &self.period)?;
        row.serialize_field("value", &self.value)?;
        row.serialize_field("source", self.source())?;
        row.serialize_field("note", self.note())?;
        row.end()
    }
}

/// Fact positions in the order of (area, metric, period), equal keys in the order read: an
/// area's facts for a measure sit together, oldest period first, the first read of a repeated
/// key first.
pub(crate) fn key_order(facts: &[Fact]) -> Vec<u32> {
    let mut order: Vec<u32> = (0..facts.len())
        .map(|i| u32::try_from(i).expect("fewer than 2^32 facts: files are size-limited"))
        .collect();
    // Stable, so a repeated key keeps the order the rows were read in.
    order.sort_by(|&a, &b| {
        let (a, b) = (&facts[a as usize], &facts[b as usize]);
        (&a.area, &a.metric, a.period).cmp(&(&b.area, &b.metric, b.period))
    });
    order
}

/// Everything in `data/`, validated: areas, metric catalogue, sections and facts.
#[derive(Debug)]
pub struct FactSet {
    areas: Vec<Area>,
    metrics: BTreeMap<MetricId, Metric>,
    sections: Vec<Section>,
    facts: Vec<Fact>,
    structural_names: Vec<String>,
    groups: Groups,
    /// Positions in `facts` by (area, metric, period): see [`key_order`].
    by_key: Vec<u32>,
    /// Each area's run of `by_key`. A map of (area, metric) to lists held a key and a list per
    /// pair, several times the facts' own size over many councils; a run is searched instead.
    by_area: HashMap<AreaCode, Range<u32>>,
    by_code: HashMap<AreaCode, usize>,
    /// Every council's value of each measure and period, by region too: built on the first
    /// comparison, so a run over every council reads each fact once rather than once a job.
    council_values: std::sync::OnceLock<CouncilValues>,
}

/// Council values by (measure, period), and by (region, measure, period), each list lowest
/// first.
#[derive(Debug, Default)]
struct CouncilValues {
    all: HashMap<(MetricId, Period), Vec<Number>>,
    by_region: HashMap<(AreaCode, MetricId, Period), Vec<Number>>,
}

impl FactSet {
    pub(crate) fn new(
        areas: Vec<Area>,
        metrics: BTreeMap<MetricId, Metric>,
        sections: Vec<Section>,
        mut facts: Vec<Fact>,
        by_key: Vec<u32>,
        structural_names: Vec<String>,
        groups: Groups,
    ) -> Self {
        debug_assert_eq!(by_key, key_order(&facts), "by_key is the facts' key order");
        facts.shrink_to_fit();
        let mut by_area: HashMap<AreaCode, Range<u32>> = HashMap::new();
        for (at, &i) in (0u32..).zip(&by_key) {
            by_area
                .entry(facts[i as usize].area.clone())
                .and_modify(|run| run.end = at + 1)
                .or_insert(at..at + 1);
        }
        let by_code = areas
            .iter()
            .enumerate()
            .map(|(i, a)| (a.code().clone(), i))
            .collect();
        Self {
            areas,
            metrics,
            sections,
            facts,
            structural_names,
            groups,
            by_key,
            by_area,
            by_code,
            council_values: std::sync::OnceLock::new(),
        }
    }

    fn council_values(&self) -> &CouncilValues {
        self.council_values.get_or_init(|| {
            // Each council number with its measure, period and region.
            let numbers = || {
                self.facts.iter().filter_map(|fact| {
                    let area = self.area_by_code(&fact.area).filter(|a| a.is_council())?;
                    Some((fact, area.parent(), fact.value.as_number()?))
                })
            };
            // Counted first so that each list is made at its size: grown a value at a time, the
            // lists held up to twice their values' room, and left holes when shrunk.
            let mut all: HashMap<(MetricId, Period), usize> = HashMap::new();
            let mut by_region: HashMap<(AreaCode, MetricId, Period), usize> = HashMap::new();
            for (fact, region, _) in numbers() {
                *all.entry((fact.metric.clone(), fact.period)).or_default() += 1;
                if let Some(region) = region {
                    *by_region
                        .entry((region.clone(), fact.metric.clone(), fact.period))
                        .or_default() += 1;
                }
            }
            let mut values = CouncilValues {
                all: all
                    .into_iter()
                    .map(|(key, n)| (key, Vec::with_capacity(n)))
                    .collect(),
                by_region: by_region
                    .into_iter()
                    .map(|(key, n)| (key, Vec::with_capacity(n)))
                    .collect(),
            };
            for (fact, region, n) in numbers() {
                let counted = "every list was counted above";
                let key = (fact.metric.clone(), fact.period);
                values.all.get_mut(&key).expect(counted).push(n);
                if let Some(region) = region {
                    let key = (region.clone(), fact.metric.clone(), fact.period);
                    values.by_region.get_mut(&key).expect(counted).push(n);
                }
            }
            // Sorted once here, so that no comparison sorts them again.
            let by_value = |a: &Number, b: &Number| a.value().total_cmp(&b.value());
            for list in values.all.values_mut().chain(values.by_region.values_mut()) {
                list.sort_by(by_value);
            }
            values
        })
    }

    /// A council's members of a named group (itself included), if it has one.
    pub fn group(&self, name: &str, area: &AreaCode) -> Option<&[AreaCode]> {
        self.groups.get(name)?.get(area).map(Vec::as_slice)
    }

    /// Where `fact` (a council's) stands among `peers`' values for the same measure and period.
    pub fn compare_with(&self, fact: &Fact, peers: &Peers) -> Option<PeerComparison> {
        let value = fact.value.as_number()?;
        let (values, name) = self.peer_values(&fact.area, &fact.metric, fact.period, peers)?;
        let unit = self.metrics.get(&fact.metric)?.unit();
        peers::compare(peers.clone(), name, unit, value, &values)
    }

    /// The values of `area`'s group `peers` (the area's own included) for one measure and
    /// period, with the group's name in words; None when the area has no such group. The
    /// lists of all councils and of a region's come lowest first.
    pub fn peer_values(
        &self,
        area: &AreaCode,
        metric: &MetricId,
        period: Period,
        peers: &Peers,
    ) -> Option<(std::borrow::Cow<'_, [Number]>, String)> {
        let council = self.area_by_code(area)?;
        // The council-wide lists are borrowed from the set's index; a group's are gathered.
        Some(match peers {
            Peers::AllCouncils => (
                self.council_values()
                    .all
                    .get(&(metric.clone(), period))?
                    .into(),
                "councils in England".to_string(),
            ),
            Peers::RegionCouncils => {
                let code = council.parent()?;
                let region = self.area_by_code(code)?;
                (
                    self.council_values()
                        .by_region
                        .get(&(code.clone(), metric.clone(), period))?
                        .into(),
                    format!("councils in {}", with_article(region.name())),
                )
            }
            Peers::Group(group) => (
                self.group(group, area)?
                    .iter()
                    .filter_map(|m| self.fact_at(m, metric, period))
                    .filter_map(|f| f.value.as_number())
                    .collect::<Vec<_>>()
                    .into(),
                format!("its {}", group.replace('-', " ")),
            ),
        })
    }

    pub fn areas(&self) -> &[Area] {
        &self.areas
    }
    /// The councils (kind `la`): the areas narratives are written for.
    pub fn councils(&self) -> impl Iterator<Item = &Area> {
        self.areas.iter().filter(|a| a.kind() == AreaKind::La)
    }
    /// Councils with facts for two sections or more: those whose own pages and reports were
    /// typed in, beyond the national table's one section. The demo and the synthetic councils
    /// start from them.
    pub fn seed_councils(&self) -> impl Iterator<Item = &Area> {
        self.councils().filter(|c| self.sections_for(c).len() >= 2)
    }
    pub fn sections(&self) -> &[Section] {
        &self.sections
    }
    pub fn facts(&self) -> &[Fact] {
        &self.facts
    }
    pub fn metric(&self, id: &MetricId) -> Option<&Metric> {
        self.metrics.get(id)
    }
    pub fn metrics(&self) -> impl Iterator<Item = &Metric> {
        self.metrics.values()
    }

    /// Finds an area by ONS code or by name, ignoring case.
    pub fn find_area(&self, query: &str) -> Result<&Area, String> {
        let q = query.trim();
        self.areas
            .iter()
            .find(|a| a.code().as_str().eq_ignore_ascii_case(q) || a.name().eq_ignore_ascii_case(q))
            .ok_or_else(|| {
                // Near names rather than every council: there are about 150.
                let lower = q.to_lowercase();
                let near: Vec<String> = self
                    .councils()
                    .filter(|a| {
                        let name = a.name().to_lowercase();
                        lower
                            .split_whitespace()
                            .any(|w| w.len() > 2 && name.contains(w))
                    })
                    .map(|a| format!("{} ({})", a.name(), a.code()))
                    .collect();
                if near.is_empty() {
                    format!(
                        "no area with code or name {q:?}; the {} councils are in areas.csv",
                        self.councils().count()
                    )
                } else {
                    format!(
                        "no area with code or name {q:?}; did you mean {}?",
                        near.join(", ")
                    )
                }
            })
    }

    pub fn find_section(&self, id: &str) -> Result<&Section, String> {
        self.sections.iter().find(|s| s.id() == id).ok_or_else(|| {
            let known: Vec<&str> = self.sections.iter().map(Section::id).collect();
            format!("no section {id:?}; sections: {}", known.join(", "))
        })
    }

    pub fn area_by_code(&self, code: &AreaCode) -> Option<&Area> {
        self.by_code.get(code).map(|&i| &self.areas[i])
    }

    /// An area's facts for one metric, oldest period first.
    pub fn facts_for(&self, area: &AreaCode, metric: &MetricId) -> impl Iterator<Item = &Fact> {
        let run = self
            .by_area
            .get(area)
            .map_or(&[][..], |r| &self.by_key[r.start as usize..r.end as usize]);
        let metric_of = |i: &u32| &self.facts[*i as usize].metric;
        let start = run.partition_point(|i| metric_of(i) < metric);
        let len = run[start..].partition_point(|i| metric_of(i) == metric);
        run[start..start + len]
            .iter()
            .map(|&i| &self.facts[i as usize])
    }

    fn fact_at(&self, area: &AreaCode, metric: &MetricId, period: Period) -> Option<&Fact> {
        self.facts_for(area, metric).find(|f| f.period == period)
    }

    /// The sections an area has any facts for, in `sections.toml` order.
    pub fn sections_for(&self, area: &Area) -> Vec<&Section> {
        self.sections
            .iter()
            .filter(|s| {
                s.metrics()
                    .iter()
                    .any(|m| self.facts_for(area.code(), m).next().is_some())
            })
            .collect()
    }

    /// What one prompt receives: the area's facts for the section with their comparators.
    pub fn section_facts(&self, area: &Area, section: &Section) -> SectionFacts {
        let region = area
            .parent()
            .and_then(|code| self.area_by_code(code))
            .filter(|r| r.kind() == AreaKind::Region);
        let england = self.areas.iter().find(|a| a.code().is_england());
        let rows_for = |metrics: &[MetricId]| -> Vec<FactRow> {
            let mut rows = Vec::new();
            for id in metrics {
                let metric = self
                    .metrics
                    .get(id)
                    .expect("sections only name catalogued metrics: checked on load");
                for fact in self.facts_for(area.code(), id) {
                    let comparator = |which: &Comparator, with: Option<&Area>| {
                        let with = with.filter(|_| section.has_comparator(which))?;
                        let f = self.fact_at(with.code(), id, fact.period)?;
                        Some(ComparatorValue {
                            area: with.code().clone(),
                            name: with.name().to_string(),
                            value: f.value.clone(),
                            display: f.value.display(metric.unit()),
                            source: f.source().to_string(),
                        })
                    };
                    let mut row = FactRow::new(
                        metric,
                        fact,
                        comparator(&Comparator::England, england),
                        comparator(&Comparator::Region, region),
                    );
                    row.peers = section
                        .peers()
                        .filter_map(|p| self.compare_with(fact, p))
                        .collect();
                    rows.push(row);
                }
            }
            rows
        };
        // Measures the section names that only England has a figure for (a national survey):
        // the prompt shows them as England's, and the checker knows them.
        let england_only = |metrics: &[MetricId]| -> Vec<FactRow> {
            let Some(england) = england.filter(|_| section.has_comparator(&Comparator::England))
            else {
                return Vec::new();
            };
            let mut rows = Vec::new();
            for id in metrics {
                if self.facts_for(area.code(), id).next().is_some() {
                    continue;
                }
                let metric = self
                    .metrics
                    .get(id)
                    .expect("sections only name catalogued metrics: checked on load");
                for fact in self.facts_for(england.code(), id) {
                    rows.push(FactRow::new(metric, fact, None, None));
                }
            }
            rows
        };
        let mut national = england_only(section.metrics());
        national.extend(england_only(section.context()));
        SectionFacts {
            england_only: national,
            structural_names: names_with_areas(&self.structural_names, area, region),
            area: area.clone(),
            region: region.cloned(),
            section: section.clone(),
            rows: rows_for(section.metrics()),
            context: rows_for(section.context()),
        }
    }
}

/// The value of a comparator area (England or the region) for the same metric and period.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ComparatorValue {
    pub area: AreaCode,
    pub name: String,
    pub value: Value,
    pub display: String,
    pub source: String,
}

/// One fact of the council's, ready for a prompt: formatted, with its comparators beside it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FactRow {
    pub metric: MetricId,
    pub label: String,
    pub unit: Unit,
    pub polarity: Polarity,
    /// For a rate or share: the population metric it is of (lets the checker derive counts).
    pub denominator: Option<MetricId>,
    pub period: Period,
    pub period_spelled: String,
    /// How prose may date the period (the publisher's convention).
    pub dated_by: Dating,
    /// What a higher value means in words ("less deprived"), where the scale runs against it.
    pub higher_means: Option<String>,
    /// The measure's label and definition, lower case: words a comparison word may belong to
    /// ("more or much more challenging" names the measure, it compares nothing).
    #[serde(skip)]
    pub wording: String,
    pub value: Value,
    pub display: String,
    pub source: String,
    pub note: String,
    pub england: Option<ComparatorValue>,
    pub region: Option<ComparatorValue>,
    /// Where the value stands among the section's groups of councils (median, rank).
    /// Left out of the fingerprint when empty, so sections without groups keep theirs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub peers: Vec<PeerComparison>,
}

impl FactRow {
    fn new(
        metric: &Metric,
        fact: &Fact,
        england: Option<ComparatorValue>,
        region: Option<ComparatorValue>,
    ) -> Self {
        FactRow {
            metric: metric.id().clone(),
            label: metric.label().to_string(),
            unit: metric.unit(),
            polarity: metric.polarity(),
            denominator: metric.denominator().cloned(),
            period: fact.period,
            period_spelled: spelled(fact.period, metric.dated_by()),
            dated_by: metric.dated_by(),
            higher_means: metric.higher_means().map(str::to_string),
            wording: wording(metric),
            value: fact.value.clone(),
            display: fact.value.display(metric.unit()),
            source: fact.source().to_string(),
            note: fact.note().to_string(),
            england,
            region,
            peers: Vec::new(),
        }
    }
}

/// The facts one (area, section) prompt receives; its fingerprint is stored with every draft.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SectionFacts {
    area: Area,
    region: Option<Area>,
    section: Section,
    rows: Vec<FactRow>,
    context: Vec<FactRow>,
    /// England's figures for measures the area has none of; `value` is England's.
    england_only: Vec<FactRow>,
    /// Named things whose numbers are not claims ("Care Act 2014"), from `data/allowlist.toml`.
    structural_names: Vec<String>,
}

impl SectionFacts {
    pub fn structural_names(&self) -> &[String] {
        &self.structural_names
    }
    pub fn area(&self) -> &Area {
        &self.area
    }
    pub fn region(&self) -> Option<&Area> {
        self.region.as_ref()
    }
    pub fn section(&self) -> &Section {
        &self.section
    }
    pub fn rows(&self) -> &[FactRow] {
        &self.rows
    }
    pub fn context(&self) -> &[FactRow] {
        &self.context
    }
    /// England's figures for measures the area has none of (each row's `value` is England's).
    pub fn england_only(&self) -> &[FactRow] {
        &self.england_only
    }

    /// The row holding the fact `area:metric:period` (the council's, a comparator's, or an
    /// England-only figure) and the source that fact cites.
    pub fn source_of(&self, area: &str, metric: &str, period: &str) -> Option<(&FactRow, &str)> {
        let rows = self.rows.iter().chain(&self.context);
        let matching = |r: &&FactRow| r.metric.as_str() == metric && r.period.code() == period;
        if area == self.area.code().as_str() {
            return rows.filter(matching).map(|r| (r, r.source.as_str())).next();
        }
        for r in rows.filter(matching) {
            for c in [&r.england, &r.region].into_iter().flatten() {
                if c.area.as_str() == area {
                    return Some((r, c.source.as_str()));
                }
            }
        }
        self.england_only
            .iter()
            .filter(matching)
            .find(|_| area == super::ENGLAND)
            .map(|r| (r, r.source.as_str()))
    }

    /// SHA-256 over the canonical JSON of these facts: changes whenever a value, period,
    /// source, label or comparator the prompt sees changes.
    pub fn fingerprint(&self) -> String {
        let json = serde_json::to_vec(self).expect("fact views always serialise");
        hex_digest(&Sha256::digest(json))
    }
}

/// The data's structural names plus the area's and region's own names where they hold a
/// digit (synthetic councils are numbered): a name is not a figure to prove. The name before
/// a bracketed qualifier counts too, as writers drop "(not a real council)".
fn names_with_areas(structural: &[String], area: &Area, region: Option<&Area>) -> Vec<String> {
    let mut names = structural.to_vec();
    for name in std::iter::once(area).chain(region).map(Area::name) {
        let short = name.split_once(" (").map(|(short, _)| short);
        for n in std::iter::once(name).chain(short) {
            if n.chars().any(|c| c.is_ascii_digit()) && !names.iter().any(|m| m == n) {
                names.push(n.to_string());
            }
        }
    }
    names
}

/// A region's name as a sentence writes it: "the South West", "the East of England", but
/// "London" and "Yorkshire and The Humber": names that open on a compass point take "the".
pub fn with_article(region: &str) -> String {
    let compass = ["North", "South", "East", "West"];
    if region
        .split_whitespace()
        .next()
        .is_some_and(|w| compass.contains(&w))
    {
        format!("the {region}")
    } else {
        region.to_string()
    }
}

pub fn hex_digest(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A period as the prompt shows it: the publisher's own label first where it dates a financial
/// year by the year it ends ("2024 (2023-24)").
fn spelled(period: Period, dated_by: Dating) -> String {
    match (period, dated_by) {
        (Period::FinancialYear(y), Dating::YearEnding) => {
            format!("{} ({})", y + 1, period.spelled())
        }
        _ => period.spelled(),
    }
}

fn wording(metric: &Metric) -> String {
    format!("{} {}", metric.label(), metric.definition()).to_lowercase()
}
