//! Loading and validating the data contract in `data/` into a [`FactSet`].

mod area;
mod basis;
mod cited;
mod diagnostic;
mod load;
mod metric;
mod peers;
mod period;
mod section;
mod set;
pub mod synth;
mod value;

pub use area::{Area, AreaCode, AreaKind, ENGLAND};
pub use basis::{fact_id, group_fact_id, Chronological, DataBasis};
pub use diagnostic::Diagnostic;
pub(crate) use diagnostic::{line_col, utf8_text};
pub(crate) use load::{is_kebab_case, read_text};
pub use load::{load, LoadError, Problems, MAX_FILE_BYTES};
pub use metric::{Dating, Metric, MetricId, Polarity, Unit};
pub use peers::{ordinal, PeerComparison, MIN_COUNCILS};
pub use period::Period;
pub use section::{Comparator, Peers, Section};
pub use set::hex_digest;
pub use set::{ComparatorValue, Fact, FactRow, FactSet, SectionFacts};
pub use value::{format_grouped, Number, Value};
