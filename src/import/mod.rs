//! Importing public tables into `data/` through the mapping files in `data/imports/`: the
//! one writer of `data/` besides `synth`. Validates the result as `facts check` does before
//! anything is written, and writes each file whole (temporary file, then rename).
mod error;
mod groups;
mod mapping;
mod report;
mod run;
mod table;
mod write;

pub use error::ImportError;
pub use mapping::{parse as parse_mapping, Mapping};
pub use report::{ImportReport, Revisions};
pub use run::import;
