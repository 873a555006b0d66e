//! Evaluating the checker: golden check cases with expected verdicts, and the mutation harness.

mod cases;
mod mutate;

pub use cases::{annotate, compare, load_cases, Case};
pub use mutate::{evaluate, MutantKind, Summary};
