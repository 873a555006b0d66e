//! Evaluating the checker: golden check cases with expected verdicts, and the mutation harness.

mod cases;
mod corpus;
mod mutate;

pub use cases::{annotate, compare, load_cases, Case};
pub use corpus::{
    draft_annotation, evaluate_corpus, load_pages, CorpusSummary, Page, SectionRow,
    FALSE_FLAG_TARGET, MUTANT_KIND_TARGET, MUTANT_TARGET, PRECISION_TARGET,
};
pub use mutate::{evaluate, MutantKind, Summary};
