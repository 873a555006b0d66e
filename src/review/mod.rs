//! The review lifecycle: the queue and its claims, approval (with edits re-checked and
//! overrides recorded), rejection, feedback and its threshold, and staleness when facts change.

mod charts;
mod desk;
mod show;
mod snapshot;
mod stale;

pub use charts::{page_charts, Bar, MeasureChart, Series, Strip};
pub use desk::{
    same_person, visitor, Approval, Desk, ReviewError, ReviewSettings, MAX_COMMENT_CHARS,
};
pub use show::{
    figure_notes, parse_comments_cursor, DraftView, FactNote, FigureNote, WordChange,
    COMMENTS_SHOWN,
};
pub use snapshot::{FactChange, FactSnapshot};
pub use stale::StaleSummary;
