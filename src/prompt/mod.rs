//! Rendering the system and section prompts from `prompts/` templates and a [`SectionFacts`].
//!
//! [`SectionFacts`]: crate::facts::SectionFacts

mod render;

pub use render::{Messages, PromptError, Prompter};
