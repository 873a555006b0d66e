//! The one integration test binary: drives the `narrator` binary and the library end to end.

mod facts_check;
mod golden_prompts;
mod helpers;
mod prompt_cli;
mod seed_coverage;
