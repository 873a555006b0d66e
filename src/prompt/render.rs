//! The minijinja environment over `prompts/`, with strict undefined variables.

use super::strategy::{focused_rows, Strategy};
use crate::facts::{FactRow, SectionFacts};
use minijinja::{context, Environment, ErrorKind, UndefinedBehavior};
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
    /// `file` is the template's path (the templates folder joined with its name); `line` is
    /// known for syntax and rendering errors, not for a template that is missing; `column`
    /// only for a file that is not UTF-8.
    #[error("{file}{}{}: {message}", at(.line), at(.column))]
    Render {
        file: String,
        line: Option<usize>,
        column: Option<usize>,
        message: String,
    },
}

/// `:N` for a known line or column, nothing otherwise.
fn at(n: &Option<usize>) -> String {
    n.map(|n| format!(":{n}")).unwrap_or_default()
}

impl PromptError {
    /// The error with the template's path, its line, and for an undefined value the
    /// expression that names it (never the values in scope: those are the facts).
    fn from_minijinja(err: &minijinja::Error, dir: &Path, fallback: &str, ctx: &Names) -> Self {
        let name = err.name().unwrap_or(fallback);
        let file = dir.join(name).display().to_string();
        if let Some(bad) = std::error::Error::source(err).and_then(|s| s.downcast_ref::<Refused>())
        {
            return Self::Render {
                file: dir.join(&bad.name).display().to_string(),
                line: Some(bad.line),
                column: Some(bad.column),
                message: bad.message.clone(),
            };
        }
        let mut message = err.kind().to_string();
        if let Some(detail) = err.detail() {
            message = format!("{message}: {detail}");
        }
        if let Some(expression) = err
            .template_source()
            .zip(err.range())
            .and_then(|(source, range)| failing_expression(source, range))
        {
            message = format!("{message}: `{expression}`");
            if err.kind() == ErrorKind::UndefinedError {
                message.push_str(&ctx.hint(expression));
            }
        }
        if err.kind() == ErrorKind::InvalidOperation {
            if let Some(source) = std::error::Error::source(err) {
                message = format!("{message}: {source}");
            }
        }
        Self::Render {
            file,
            line: err.line(),
            column: None,
            message,
        }
    }
}

/// The source of the failing expression. minijinja's span of an attribute lookup starts at
/// its dot (`.carers_x.display`), so the names before it are taken back in (`fact.carers_x.display`).
fn failing_expression(source: &str, range: std::ops::Range<usize>) -> Option<&str> {
    let span = source.get(range.clone())?;
    let start = if span.starts_with(['.', '[']) {
        let before = source.get(..range.start)?;
        before
            .char_indices()
            .rev()
            .take_while(|&(_, c)| c.is_alphanumeric() || matches!(c, '_' | '.' | '[' | ']'))
            .last()
            .map_or(range.start, |(i, _)| i)
    } else {
        range.start
    };
    source
        .get(start..range.end)
        .filter(|e| !e.trim().is_empty())
}

/// A template file the loader refuses before minijinja compiles it (not UTF-8 text, or an
/// import minijinja cannot compile), and where: read back by `from_minijinja` so the message
/// points at the place.
#[derive(Debug, thiserror::Error)]
#[error("{name}:{line}:{column}: {message}")]
struct Refused {
    /// The refused template, which may be one the rendered template extends or imports.
    name: String,
    line: usize,
    column: usize,
    message: String,
}

/// The names a template may use for facts, to say which exist when it names one that does
/// not: a template naming a fact the area lacks is the usual undefined value.
struct Names {
    fact: Vec<String>,
    context_fact: Vec<String>,
}

impl Names {
    fn of(facts: &SectionFacts) -> Names {
        let ids = |rows: &[FactRow]| -> Vec<String> {
            let ids: std::collections::BTreeSet<String> =
                rows.iter().map(|r| r.metric.to_string()).collect();
            ids.into_iter().collect()
        };
        Names {
            fact: ids(facts.rows()),
            context_fact: ids(facts.context()),
        }
    }

    /// What to add to "undefined value: `fact.x`": the facts there are, when `x` is not one.
    fn hint(&self, expression: &str) -> String {
        let (list, names) = if expression.starts_with("fact.") {
            ("fact", &self.fact)
        } else if expression.starts_with("context_fact.") {
            ("context_fact", &self.context_fact)
        } else {
            return String::new();
        };
        let id = expression[list.len() + 1..]
            .split(['.', '['])
            .next()
            .unwrap_or_default();
        if names.iter().any(|n| n == id) {
            // The fact is there; the field named after it is not.
            return String::new();
        }
        if names.is_empty() {
            format!(" (this area and section have no {list} entries)")
        } else {
            format!(
                " (this area and section have no such fact; {list} holds {})",
                names.join(", ")
            )
        }
    }
}

/// The templates folder's loader: as minijinja's `path_loader` (names with a segment starting
/// with `.` are never loaded), except that a file that is not UTF-8 is reported at its bad
/// byte, a leading UTF-8 byte-order mark is dropped rather than sent to the model, and an
/// import that would crash minijinja is refused.
fn load_template(dir: &Path, name: &str) -> Result<Option<String>, minijinja::Error> {
    let mut path = dir.to_path_buf();
    for segment in name.split('/') {
        if segment.starts_with('.') || segment.contains('\\') {
            return Ok(None);
        }
        path.push(segment);
    }
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(minijinja::Error::new(
                ErrorKind::InvalidOperation,
                "could not read template",
            )
            .with_source(e))
        }
    };
    let refused = |(line, column, message)| {
        minijinja::Error::new(ErrorKind::InvalidOperation, "could not read template").with_source(
            Refused {
                name: name.to_string(),
                line,
                column,
                message,
            },
        )
    };
    let source = crate::facts::utf8_text(bytes, "save it as UTF-8").map_err(refused)?;
    check_imports(&source).map_err(refused)?;
    Ok(Some(source))
}

/// minijinja (2.24, and 3.1 still) panics compiling `{% import "x.j2" as m[0] %}`: its
/// parser takes any expression after `as` and its code generator reaches `unreachable!()` for
/// anything but a name. So each import's target must be a name (or dotted names), checked
/// here with its line and column; anything else minijinja reports as a syntax error itself.
fn check_imports(source: &str) -> Result<(), (usize, usize, String)> {
    let is_name = |s: &str| {
        let mut chars = s.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    let is_word_at = |text: &str, at: usize, word: &str| {
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        let apart = |c: Option<char>| !c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
        apart(before) && apart(after)
    };
    let mut from = 0;
    while let Some(open) = source[from..].find("{%") {
        let start = from + open + 2;
        let Some(len) = source[start..].find("%}") else {
            break;
        };
        from = start + len + 2;
        let tag = source[start..start + len]
            .trim_start_matches(['-', '+'])
            .trim_end_matches(['-', '+'])
            .trim();
        let Some(rest) = tag.strip_prefix("import") else {
            continue;
        };
        if !rest.starts_with(char::is_whitespace) {
            continue;
        }
        let Some(at) = rest
            .rmatch_indices("as")
            .map(|(i, _)| i)
            .find(|&i| is_word_at(rest, i, "as"))
        else {
            continue;
        };
        let mut target = rest[at + 2..].trim();
        for marker in ["with context", "without context"] {
            if let Some(t) = target.strip_suffix(marker) {
                target = t.trim_end();
            }
        }
        if !target.split('.').all(is_name) {
            let offset = target.as_ptr() as usize - source.as_ptr() as usize;
            let (line, column) = crate::facts::line_col(source, offset);
            return Err((
                line,
                column,
                format!("expected a name after `as` in an import, found `{target}`"),
            ));
        }
    }
    Ok(())
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
    dir: PathBuf,
}

impl Prompter {
    pub fn new(dir: &Path) -> Result<Self, PromptError> {
        if !dir.is_dir() {
            return Err(PromptError::MissingDir(dir.to_path_buf()));
        }
        let mut env = Environment::new();
        let root = dir.to_path_buf();
        env.set_loader(move |name| load_template(&root, name));
        // A template that names a fact the data lacks must fail, not print an empty string.
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        // Errors then carry the span of the failing expression (in release builds too), so a
        // message can quote it.
        env.set_debug(true);
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_keep_trailing_newline(true);
        Ok(Self {
            env,
            dir: dir.to_path_buf(),
        })
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
            england_only => facts.england_only(),
            has_region => facts.section().has_comparator(&crate::facts::Comparator::Region),
            strategy => strategy.name(),
        };
        let error = |e: minijinja::Error, name: &str| {
            PromptError::from_minijinja(&e, &self.dir, name, &Names::of(facts))
        };
        let render = |name: &str| -> Result<String, PromptError> {
            let template = self.env.get_template(name).map_err(|e| error(e, name))?;
            template.render(&ctx).map_err(|e| error(e, name))
        };
        Ok(Messages {
            system: render(SYSTEM_TEMPLATE)?,
            user: render(facts.section().template())?,
        })
    }
}
