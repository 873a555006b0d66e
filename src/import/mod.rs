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
    let mut report = write::validate_and_write(data_dir, files)?;
    report.notes = notes;
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
