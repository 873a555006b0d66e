//! narrator: writes the explanatory text on council adult social care pages, and proves every
//! number in it. See ARCHITECTURE.md for the codemap.

pub mod bench;
pub mod check;
pub mod cli;
pub mod commands;
pub mod config;
pub mod eval;
pub mod export;
pub mod facts;
pub mod import;
pub mod local;
pub mod metrics;
pub mod mock;
pub mod prompt;
pub mod provider;
pub mod review;
pub mod run;
pub mod store;
pub mod web;
