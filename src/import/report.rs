//! What an import did, for the editor: the files it changed, its notes, and how the data's
//! values moved.

use crate::facts;
use std::path::PathBuf;

/// What an import did, for the editor.
#[derive(Debug, Default)]
pub struct ImportReport {
    /// Files whose contents changed (an identical re-run lists none).
    pub changed: Vec<PathBuf>,
    pub unchanged: Vec<PathBuf>,
    /// Lines of summary: counts, what was dropped and why.
    pub notes: Vec<String>,
    /// Values that differ from the data before the import, by fact.
    pub revisions: Revisions,
}

/// How the data's values moved: what an annual refresh brings, for the editor to read before
/// committing (a revised figure makes the texts quoting it stale).
#[derive(Debug, Default, PartialEq)]
pub struct Revisions {
    /// (area, metric, period, before, after) for each value that changed, sorted, the values
    /// printed as a reader sees them.
    pub revised: Vec<(String, String, String, String, String)>,
    /// Facts the data did not have before.
    pub added: usize,
    /// Facts the data no longer has.
    pub removed: usize,
}

impl Revisions {
    pub(super) fn between(before: &facts::FactSet, after: &facts::FactSet) -> Revisions {
        use std::collections::BTreeMap;
        let key = |f: &facts::Fact| {
            (
                f.area().to_string(),
                f.metric().to_string(),
                f.period().code(),
            )
        };
        let shown = |set: &facts::FactSet, f: &facts::Fact| {
            let unit = set
                .metric(f.metric())
                .map_or(facts::Unit::Count, |m| m.unit());
            (f.value().clone(), f.value().display(unit))
        };
        let old: BTreeMap<_, _> = before
            .facts()
            .iter()
            .map(|f| (key(f), shown(before, f)))
            .collect();
        let new: BTreeMap<_, _> = after
            .facts()
            .iter()
            .map(|f| (key(f), shown(after, f)))
            .collect();
        let mut out = Revisions::default();
        for (k, v) in &new {
            match old.get(k) {
                None => out.added += 1,
                Some(was) if was.0 != v.0 => out.revised.push((
                    k.0.clone(),
                    k.1.clone(),
                    k.2.clone(),
                    was.1.clone(),
                    v.1.clone(),
                )),
                Some(_) => {}
            }
        }
        out.removed = old.keys().filter(|k| !new.contains_key(*k)).count();
        out
    }
}
