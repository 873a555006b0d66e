//! Rendering the system and section prompts from `prompts/` templates and a [`SectionFacts`].
//!
//! [`SectionFacts`]: crate::facts::SectionFacts

mod constrain;
mod render;
mod strategy;

pub use constrain::{assemble, constraint, Closing, Constraint, Structured};
pub use render::{Messages, PromptError, Prompter};
pub use strategy::{focused_rows, ground, Grounded, Strategy, FOCUSED_FACTS};
