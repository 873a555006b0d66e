//! Every SQL statement: runs, jobs, drafts, review, published versions, feedback and the
//! audit trail, on SQLite (default) or PostgreSQL.

mod db;
mod review;
mod runs;
mod users;
mod verify;

pub use db::{Dialect, Store, StoreError};
pub use review::{
    AuditEntry, DraftRow, FeedbackRow, NewVersion, Published, QueueFilter, ReviewItem, StaleMark,
    VersionRow, Vote, VoteCounts, VoteOutcome, Voter,
};
pub use runs::{now_ms, JobOutcome, JobRow, NewDraft, NewRun, RunRow};
pub use users::{SessionRow, UserRow};
pub use verify::Verification;
