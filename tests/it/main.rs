//! The one integration test binary: drives the `narrator` binary and the library end to end.

mod bad_input;
mod bench;
mod browser;
mod check_cli;
mod check_props;
mod constrained;
mod corpus;
mod facts_check;
mod golden_check;
mod golden_prompts;
mod helpers;
mod import;
mod local_model;
mod metrics;
mod mock_llm;
mod prompt_cli;
mod refresh;
mod review;
mod run;
mod seed_coverage;
mod store;
mod web;
