//! Page sections: which metrics, comparators and context each prompt receives.

use super::metric::MetricId;
use serde::Serialize;

/// Which other areas' values sit beside the council's own in a prompt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Comparator {
    England,
    Region,
}

impl Comparator {
    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw {
            "england" => Ok(Self::England),
            "region" => Ok(Self::Region),
            other => Err(format!(
                "expected comparator england or region, found {other:?}"
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
    pub fn has_comparator(&self, comparator: Comparator) -> bool {
        self.comparators.contains(&comparator)
    }
    /// Metrics the text must compare with England: each council value needs an England row.
    pub fn compare(&self) -> &[MetricId] {
        &self.compare
    }
}
