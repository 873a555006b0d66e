//! Running an import: the mapping, the current data and the table read, the table turned
//! into files, and those validated with the rest of `data/` and written.

use super::error::ImportError;
use super::mapping::{self, Mapping};
use super::report::{ImportReport, Revisions};
use super::{groups, table, write};
use crate::facts::{self, LoadError};
use std::path::Path;

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
