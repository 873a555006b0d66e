//! The site build's files: one JSON file per area holding only published (approved) text,
//! and an index naming each file with its content hash. Built from the store alone, so the
//! same store always gives byte-identical files.

mod documents;
mod write;

pub use documents::{
    documents, rfc3339, AreaDocument, AreaFile, ExportSummary, SectionEntry, StalePolicy,
};
pub use write::{export, ExportError};
