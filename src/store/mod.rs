//! Every SQL statement: runs, jobs and drafts, on SQLite (default) or PostgreSQL.

mod db;
mod runs;

pub use db::{Dialect, Store, StoreError};
pub use runs::{now_ms, JobOutcome, JobRow, NewDraft, NewRun, RunRow};
