//! The facts a version was approved against, kept with it, and what changed since.

use crate::facts::SectionFacts;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The facts a version was approved against, kept with it so later changes can be shown.
#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FactSnapshot {
    rows: BTreeMap<String, SnapshotRow>,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct SnapshotRow {
    label: String,
    value: String,
}

#[derive(Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct FactChange {
    /// `metric period`.
    pub fact: String,
    pub label: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

impl FactSnapshot {
    pub fn of(view: &SectionFacts) -> FactSnapshot {
        let mut rows = BTreeMap::new();
        for r in view.rows().iter().chain(view.context()) {
            let mut value = r.display.clone();
            for c in [&r.england, &r.region].into_iter().flatten() {
                let _ = write!(value, "; {} {}", c.name, c.display);
            }
            let _ = write!(value, " ({})", r.source);
            rows.insert(
                format!("{} {}", r.metric, r.period_spelled),
                SnapshotRow {
                    label: r.label.clone(),
                    value,
                },
            );
        }
        FactSnapshot { rows }
    }

    /// What changed from `self` (then) to `now`, by fact.
    pub fn changes(&self, now: &FactSnapshot) -> Vec<FactChange> {
        let mut keys: Vec<&String> = self.rows.keys().chain(now.rows.keys()).collect();
        keys.sort();
        keys.dedup();
        keys.into_iter()
            .filter_map(|k| {
                let (a, b) = (self.rows.get(k), now.rows.get(k));
                if a.map(|r| &r.value) == b.map(|r| &r.value) {
                    return None;
                }
                Some(FactChange {
                    fact: k.clone(),
                    label: a.or(b).map(|r| r.label.clone()).unwrap_or_default(),
                    before: a.map(|r| r.value.clone()),
                    after: b.map(|r| r.value.clone()),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_changes_name_each_changed_fact() {
        let set = crate::facts::load(std::path::Path::new("data")).unwrap();
        let area = set.find_area("E06000022").unwrap();
        let view = set.section_facts(area, set.find_section("carers").unwrap());
        let then = FactSnapshot::of(&view);
        let mut now = FactSnapshot::of(&view);
        assert!(then.changes(&now).is_empty());
        let key = now.rows.keys().next().unwrap().clone();
        now.rows.get_mut(&key).unwrap().value = "99".into();
        let changes = then.changes(&now);
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].fact, key);
        assert_eq!(changes[0].after.as_deref(), Some("99"));
    }
}
