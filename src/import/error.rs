//! Why an import wrote nothing: a file it could not read or write, or data that would not
//! load.

use crate::facts::{Diagnostic, Problems};
use std::path::PathBuf;

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
