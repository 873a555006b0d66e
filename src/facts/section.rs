//! Page sections: which metrics, comparators and context each prompt receives.

use super::metric::MetricId;
use serde::Serialize;

/// What sits beside the council's own value in a prompt: another area's published value
/// (England's, the region's), or where the council stands among a group of councils.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Comparator {
    England,
    Region,
    Peers(Peers),
}

/// A group of councils whose values for the same measure and period narrator compares the
/// council with (median, rank, quartile): computed, never typed in.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Peers {
    /// Every council in England with a value.
    AllCouncils,
    /// The councils of the council's region.
    RegionCouncils,
    /// A group from `data/groups/<name>.csv`, such as nearest-neighbours.
    Group(String),
}

impl Peers {
    /// The name a section's `comparators` gives the group, which fact ids of its figures carry:
    /// `all-councils`, `region-councils` or the group file's name.
    pub fn key(&self) -> &str {
        match self {
            Peers::AllCouncils => "all-councils",
            Peers::RegionCouncils => "region-councils",
            Peers::Group(name) => name,
        }
    }
}

impl Comparator {
    /// `england`, `region`, `all-councils`, `region-councils`, or the name of a group file.
    pub fn parse(raw: &str, groups: &[String]) -> Result<Self, String> {
        match raw {
            "england" => Ok(Self::England),
            "region" => Ok(Self::Region),
            "all-councils" => Ok(Self::Peers(Peers::AllCouncils)),
            "region-councils" => Ok(Self::Peers(Peers::RegionCouncils)),
            other if groups.iter().any(|g| g == other) => {
                Ok(Self::Peers(Peers::Group(other.to_string())))
            }
            other => Err(format!(
                "expected comparator england, region, all-councils, region-councils or a group in groups/ ({}), found {other:?}",
                if groups.is_empty() { "none".to_string() } else { groups.join(", ") }
            )),
        }
    }
}

/// One entry of `data/sections.toml`, validated against the metric catalogue.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Section {
    id: String,
    title: String,
    template: String,
    metrics: Vec<MetricId>,
    context: Vec<MetricId>,
    comparators: Vec<Comparator>,
    compare: Vec<MetricId>,
}

impl Section {
    pub(crate) fn new(
        id: String,
        title: String,
        template: String,
        metrics: Vec<MetricId>,
        context: Vec<MetricId>,
        comparators: Vec<Comparator>,
        compare: Vec<MetricId>,
    ) -> Self {
        Self {
            id,
            title,
            template,
            metrics,
            context,
            comparators,
            compare,
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }
    pub fn title(&self) -> &str {
        &self.title
    }
    /// The template file under `prompts/` for this section's user message.
    pub fn template(&self) -> &str {
        &self.template
    }
    /// The metrics this section's text is about, in the order the prompt lists them.
    pub fn metrics(&self) -> &[MetricId] {
        &self.metrics
    }
    /// Background metrics (population, density, rurality, deprivation).
    pub fn context(&self) -> &[MetricId] {
        &self.context
    }
    pub fn comparators(&self) -> &[Comparator] {
        &self.comparators
    }
    pub fn has_comparator(&self, comparator: &Comparator) -> bool {
        self.comparators.contains(comparator)
    }
    /// The groups of councils this section compares the council with.
    pub fn peers(&self) -> impl Iterator<Item = &Peers> {
        self.comparators.iter().filter_map(|c| match c {
            Comparator::Peers(p) => Some(p),
            _ => None,
        })
    }
    /// Metrics the text must compare with England: each council value needs an England row.
    pub fn compare(&self) -> &[MetricId] {
        &self.compare
    }
}
