//! Every SQL statement: runs, jobs, drafts, review, published versions, feedback and the
//! audit trail, on SQLite (default) or PostgreSQL.

mod audit;
mod columns;
mod db;
mod feedback;
mod queue;
mod runs;
mod scratch;
mod status;
mod tx;
mod users;
mod verify;
mod versions;

pub use audit::AuditEntry;
pub use db::{Dialect, Store, StoreError};
pub use feedback::{FeedbackRow, Vote, VoteCounts, VoteOutcome, Voter};
pub use queue::{QueueFilter, ReviewItem};
pub use runs::{DraftRow, JobCounts, JobOutcome, JobRow, NewDraft, RunRow};
pub use scratch::ScratchDatabase;
pub use status::{ItemState, JobStatus, RunStatus, VersionState};
pub use tx::{now_ms, NewRun};
pub use users::{SessionRow, UserRow};
pub use verify::Verification;
pub use versions::{NewVersion, Published, StaleMark, VersionRow};
