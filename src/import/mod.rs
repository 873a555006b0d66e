//! Importing public tables into `data/` through the mapping files in `data/imports/`: the
//! one writer of `data/` besides `synth`. Validates the result as `facts check` does before
//! anything is written, and writes each file whole (temporary file, then rename).

mod groups;
mod mapping;
mod table;
mod write;

use crate::facts::{self, Diagnostic, LoadError, Problems};
pub use mapping::{parse as parse_mapping, Mapping};
use std::path::{Path, PathBuf};

/// Why an import wrote nothing.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}", Problems(.0))]
    Invalid(Vec<Diagnostic>),
}

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
    fn between(before: &facts::FactSet, after: &facts::FactSet) -> Revisions {
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

/// Imports `input` into the data folder `data_dir` as `mapping_path` says.
pub fn import(
    data_dir: &Path,
    mapping_path: &Path,
    input: &Path,
) -> Result<ImportReport, ImportError> {
    let text = read_text(mapping_path)?;
    let mapping = mapping::parse(mapping_path, &text).map_err(ImportError::Invalid)?;
    let current = facts::load(data_dir).map_err(|e| match e {
        LoadError::Io { path, source } => ImportError::Read { path, source },
        LoadError::Invalid(problems) => ImportError::Invalid(problems),
    })?;
    let input_text = read_text(input)?;
    let (files, notes) = match &mapping {
        Mapping::Facts(m) => table::import(data_dir, m, &current, input, &input_text)?,
        Mapping::Groups(m) => groups::import(m, &current, input, &input_text)?,
    };
    let (mut report, after) = write::validate_and_write(data_dir, files)?;
    report.notes = notes;
    report.revisions = Revisions::between(&current, &after);
    Ok(report)
}

/// A file the import will write: its path under the data folder and its whole contents.
pub(crate) struct Output {
    pub relative: PathBuf,
    pub contents: String,
}

/// The loader's own reading: the size limit, a byte-order mark dropped, UTF-16 and other
/// encodings refused where they start.
fn read_text(path: &Path) -> Result<String, ImportError> {
    facts::read_text(path)
        .map_err(|source| ImportError::Read {
            path: path.to_path_buf(),
            source,
        })?
        .map_err(|problem| ImportError::Invalid(vec![problem]))
}
