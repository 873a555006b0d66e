//! The minijinja environment over `prompts/`, with strict undefined variables.

use super::strategy::{focused_rows, Strategy};
use crate::facts::{FactRow, SectionFacts};
use minijinja::{context, Environment, UndefinedBehavior};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The system template every section shares.
pub const SYSTEM_TEMPLATE: &str = "system.j2";

#[derive(Debug, thiserror::Error)]
pub enum PromptError {
    #[error("prompt templates folder {} does not exist", .0.display())]
    MissingDir(PathBuf),
    #[error("{file}:{line}: {message}")]
    Render {
        file: String,
        line: usize,
        message: String,
    },
}

impl PromptError {
    fn from_minijinja(err: &minijinja::Error, fallback: &str) -> Self {
        let file = err.name().unwrap_or(fallback).to_string();
        let line = err.line().unwrap_or(0);
        let mut message = err.kind().to_string();
        if let Some(detail) = err.detail() {
            message = format!("{message}: {detail}");
        }
        Self::Render {
            file,
            line,
            message,
        }
    }
}

/// The chat messages for one (area, section).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Messages {
    system: String,
    user: String,
}

#[derive(Serialize)]
struct ChatMessage<'a> {
    role: &'a str,
    content: &'a str,
}

impl Messages {
    pub fn system(&self) -> &str {
        &self.system
    }

    pub fn user(&self) -> &str {
        &self.user
    }

    /// The messages as an OpenAI-style `messages` array.
    pub fn to_chat_json(&self) -> String {
        let messages = [
            ChatMessage {
                role: "system",
                content: &self.system,
            },
            ChatMessage {
                role: "user",
                content: &self.user,
            },
        ];
        serde_json::to_string_pretty(&messages).expect("strings always serialise")
    }

    /// Plain text for reading and for golden files.
    pub fn to_text(&self) -> String {
        format!(
            "=== system ===\n{}\n=== user ===\n{}\n",
            self.system.trim_end(),
            self.user.trim_end()
        )
    }

    /// SHA-256 of the rendered messages: changes when a template or anything it shows changes.
    pub fn fingerprint(&self) -> String {
        let mut h = Sha256::new();
        h.update(self.system.as_bytes());
        h.update([0]);
        h.update(self.user.as_bytes());
        crate::facts::hex_digest(&h.finalize())
    }
}

/// Renders prompts from a templates folder.
pub struct Prompter {
    env: Environment<'static>,
}

impl Prompter {
    pub fn new(dir: &Path) -> Result<Self, PromptError> {
        if !dir.is_dir() {
            return Err(PromptError::MissingDir(dir.to_path_buf()));
        }
        let mut env = Environment::new();
        env.set_loader(minijinja::path_loader(dir));
        // A template that names a fact the data lacks must fail, not print an empty string.
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_keep_trailing_newline(true);
        Ok(Self { env })
    }

    /// The full prompt (every fact of the section and its background), as the golden files
    /// hold it.
    pub fn render(&self, facts: &SectionFacts) -> Result<Messages, PromptError> {
        self.render_with(facts, Strategy::Full)
    }

    /// The prompt under a strategy: focused ones show only the section's compared measures
    /// and no background.
    pub fn render_with(
        &self,
        facts: &SectionFacts,
        strategy: Strategy,
    ) -> Result<Messages, PromptError> {
        let by_metric = |rows: &[FactRow]| -> BTreeMap<String, FactRow> {
            // Rows are oldest first, so the latest period wins.
            rows.iter()
                .map(|r| (r.metric.as_str().to_string(), r.clone()))
                .collect()
        };
        let (rows, context): (Vec<FactRow>, &[FactRow]) = if strategy.focused() {
            (focused_rows(facts), &[])
        } else {
            (facts.rows().to_vec(), facts.context())
        };
        let ctx = context! {
            area => facts.area(),
            region => facts.region(),
            section => facts.section(),
            facts => &rows,
            fact => by_metric(facts.rows()),
            context => context,
            context_fact => by_metric(facts.context()),
            has_region => facts.section().has_comparator(crate::facts::Comparator::Region),
            strategy => strategy.name(),
        };
        let render = |name: &str| -> Result<String, PromptError> {
            let template = self
                .env
                .get_template(name)
                .map_err(|e| PromptError::from_minijinja(&e, name))?;
            template
                .render(&ctx)
                .map_err(|e| PromptError::from_minijinja(&e, name))
        };
        Ok(Messages {
            system: render(SYSTEM_TEMPLATE)?,
            user: render(facts.section().template())?,
        })
    }
}
