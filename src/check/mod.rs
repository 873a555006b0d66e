//! The number checker: every figure in a draft proven from the facts, or flagged with the reason.
//! Pure: text and a `SectionFacts` in, a `Report` out; no I/O, never calls the provider.

mod judge;
mod report;
mod rules;
mod scan;
mod shape;
mod standing;
mod trend;

pub use judge::{check, Checker};
pub use report::{Derivation, Mention, Report, Verdict};
pub(crate) use rules::whole_word;
pub use rules::{sentences, HEDGE_BAND, RATIO_BAND, SIMILAR_BAND, SLIGHT_BAND};
/// The number extraction on its own, for the fuzz targets in `fuzz/`; not part of the API.
#[doc(hidden)]
pub use scan::{scan, Allowlist, RawMention, Shape};
pub use shape::{not_prose, NotProse};
pub(crate) use standing::claims as standing_claims;
