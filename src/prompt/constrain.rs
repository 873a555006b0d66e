//! Constrained generation: what a request allows the model to write, built from the facts the
//! request shows. As a GBNF grammar (llama.cpp, vLLM), sentence frames whose figures, owners
//! and periods are the facts' as the table prints them; as a JSON
//! schema (providers with structured outputs only), the answer is a list of segments, text
//! with no digit or a fact named by id, which narrator assembles. Either way the length is
//! bounded so an answer ends before the token limit, and the result is checked like any text.

use super::strategy::ground;
use crate::facts::{FactRow, SectionFacts};
use serde_json::json;
use std::collections::BTreeSet;

/// How a provider takes a constraint on what it writes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Structured {
    /// A GBNF grammar in the request's `grammar` field (llama.cpp's server, llama-cpp-python).
    Grammar,
    /// `response_format` with a JSON schema (OpenAI structured outputs, Ollama, vLLM).
    JsonSchema,
    /// No constraint: the provider takes neither.
    #[default]
    None,
}

impl Structured {
    pub fn name(self) -> &'static str {
        match self {
            Structured::Grammar => "grammar",
            Structured::JsonSchema => "json-schema",
            Structured::None => "none",
        }
    }

    /// The sensible default for an endpoint: llama.cpp's servers on this machine
    /// (llama-cpp-python on port 8000, `llama-server` on 8080) take a grammar; OpenAI and
    /// Ollama (port 11434) take a JSON schema; anything else is not assumed to take either.
    pub fn default_for(base_url: &str) -> Structured {
        let url = base_url.to_ascii_lowercase();
        let local = ["://127.0.0.1:", "://localhost:"]
            .iter()
            .any(|h| url.contains(h));
        if local && (url.contains(":8000") || url.contains(":8080")) {
            Structured::Grammar
        } else if url.contains("api.openai.com") || url.contains(":11434") {
            Structured::JsonSchema
        } else {
            Structured::None
        }
    }
}

/// What one request allows, in both forms; the provider sends the one it takes.
#[derive(Clone, Debug, PartialEq)]
pub struct Constraint {
    /// GBNF for llama.cpp.
    pub grammar: String,
    /// JSON schema of `{"segments": [...]}` answers.
    pub schema: serde_json::Value,
    /// Every text the grammar writes that holds a digit (labels, values, periods): the only
    /// figures an answer under it can hold.
    pub figures: Vec<String>,
}

/// At most this many figures in one constrained answer: enough for two short paragraphs.
const MAX_FIGURES: usize = 12;

/// About how many characters a token holds in English prose, kept low so the bound errs short.
const CHARS_PER_TOKEN: u32 = 3;

/// Whether a grammar leaves the model a closing sentence in its own words after the frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Closing {
    /// An optional sentence of the model's words (no digit, markup or line break).
    Words,
    /// Frames only: for a correction, as what the checker flags in a draft of frames lies in
    /// the model's own words, and the small model repeats them when asked again.
    None,
}

/// The constraint for a request showing `rows` of `view`, bounded to `max_tokens`.
pub fn constraint(
    rows: &[FactRow],
    view: &SectionFacts,
    max_tokens: u32,
    closing: Closing,
) -> Constraint {
    let grammar = frames(rows, view, max_tokens, closing);
    let figures = literals(&grammar)
        .into_iter()
        .filter(|l| l.chars().any(|c| c.is_ascii_digit()))
        .collect();
    let ids = ids(rows);
    let slots = MAX_FIGURES.min(rows.len() * 3).max(1);
    // Prose between figures: the token budget shared out, with room left for the figures.
    let budget = max_tokens.saturating_mul(CHARS_PER_TOKEN) as usize;
    let chunk = (budget / (slots + 1)).clamp(40, 400);
    Constraint {
        grammar,
        schema: schema(&ids, slots, chunk),
        figures,
    }
}

/// The grammar: up to four sentences, each a different measure's frame "<its label> in <council> was
/// <its value> in <its period>", with one comparator the table gives where it gives any,
/// named as the checker reads owners (", against the England average of <England's value>",
/// "the median for councils in England of ..."), then, with `Closing::Words`, an optional
/// closing sentence in the model's own words, which hold no digit, currency sign, markup,
/// bracket or line break. The model chooses the measures, the comparators and the closing
/// words; the figures, whose they are and their periods come from the facts.
///
/// A comparator is required where the table has one: a council's figure alone tells a reader
/// little that the chart above does not, and left optional the model dropped it in 6 of the
/// demo's 17 jobs (one run, README).
///
/// Two looser grammars were measured first (README, "Constrained generation"): prose running
/// freely between any of the table's figures, and frames with the model's words in place of
/// the label. SmolLM2-135M filled the words with phrases of the prompt ("the England
/// average") and the checker rightly gave the figures to England.
fn frames(rows: &[FactRow], view: &SectionFacts, max_tokens: u32, closing: Closing) -> String {
    // With no measure to frame, the model's words are all there is.
    let closing = if rows.is_empty() {
        Closing::Words
    } else {
        closing
    };
    let sentences = rows.len().clamp(1, 4);
    // Words per sentence: the token budget shared out, three characters a token, kept short.
    let budget = max_tokens.saturating_mul(CHARS_PER_TOKEN) as usize;
    let words = (budget / (sentences * 2)).clamp(24, 80);
    // Not a second sentence forced: where the model would stop, a grammar that forbids
    // it makes llama.cpp test token after token against it, seconds a token.
    let mut g = String::from("root ::= sentences");
    if closing == Closing::Words {
        g.push_str(&format!(
            " (\" \" comment)?\n\
             comment ::= [A-Z] word{{8,{words}}} \".\"\n\
             word ::= [^.!?%:;()\"£$€{NOT_PROSE}]\n"
        ));
    } else {
        g.push('\n');
    }
    if rows.is_empty() {
        g.push_str("sentences ::= comment\n");
        return g;
    }
    // Each measure at most once and in the table's order (the headline first): asked to
    // correct a draft, the model otherwise wrote one frame three or four times over (3 of the
    // demo's 4 corrections, one run). `s{i}-{k}` is measure i's frame then at most k - 1 more
    // of later measures.
    let start: Vec<String> = (0..rows.len())
        .map(|i| format!("s{i}-{sentences}"))
        .collect();
    g.push_str(&format!("sentences ::= {}\n", start.join(" | ")));
    for k in 1..=sentences {
        for i in 0..rows.len() {
            let later: Vec<String> = (i + 1..rows.len())
                .map(|j| format!("s{j}-{}", k - 1))
                .collect();
            if k == 1 || later.is_empty() {
                g.push_str(&format!("s{i}-{k} ::= m{i}\n"));
            } else {
                g.push_str(&format!(
                    "s{i}-{k} ::= m{i} (\" \" ({}))?\n",
                    later.join(" | ")
                ));
            }
        }
    }
    // The council's own figure is given to it by name: "<measure> in Coventry was <value>".
    let owner = literal(&format!(" in {} was ", view.area().name()));
    for (i, r) in rows.iter().enumerate() {
        let mut periods = vec![literal(&r.period_spelled)];
        if r.period.spelled() != r.period_spelled {
            periods.push(literal(&r.period.spelled()));
        }
        // Each comparator named as the checker reads owners.
        let mut comparators: Vec<String> = Vec::new();
        let mut compared = |words: String, value: &str| {
            comparators.push(format!("{} {}", literal(&words), literal(value)));
        };
        if let Some(e) = &r.england {
            compared(", against the England average of ".into(), &e.display);
        }
        if let Some(c) = &r.region {
            compared(
                format!(", against the figure for {} of ", c.name),
                &c.display,
            );
        }
        for p in &r.peers {
            compared(
                format!(", against the median for {} of ", p.name),
                &p.median_display,
            );
        }
        let compare = if comparators.is_empty() {
            String::new()
        } else {
            format!(" ({})", comparators.join(" | "))
        };
        g.push_str(&format!(
            "m{i} ::= {} {owner} {} \" in \" ({}){compare} \".\"\n",
            literal(&r.label),
            literal(&r.display),
            periods.join(" | ")
        ));
    }
    g
}

/// The string literals of a grammar, unescaped, each once.
fn literals(grammar: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut chars = grammar.chars();
    while let Some(c) = chars.next() {
        // A character class may hold a quote: skip it whole.
        if c == '[' {
            while let Some(c) = chars.next() {
                match c {
                    ']' => break,
                    '\\' => {
                        chars.next();
                    }
                    _ => {}
                }
            }
            continue;
        }
        if c != '"' {
            continue;
        }
        let mut lit = String::new();
        while let Some(c) = chars.next() {
            match c {
                '"' => break,
                '\\' => match chars.next() {
                    Some('n') => lit.push('\n'),
                    Some(other) => lit.push(other),
                    None => break,
                },
                c => lit.push(c),
            }
        }
        out.insert(lit);
    }
    out
}

/// A GBNF string literal.
fn literal(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Characters prose may not hold: digits (ASCII, superscript, subscript, fractions, circled,
/// full-width), markup, bullets and control characters (so line breaks too).
const NOT_PROSE: &str = r"0-9<>|#*_`\[\]{}\\\x00-\x1F\u00B2\u00B3\u00B9\u00BC-\u00BE\u2022\u2070-\u209F\u2150-\u218F\u2460-\u24FF\u25CF\uFF10-\uFF19\uFFFD";

/// The ids a segment may name: the council's figure, England's, the region's, the period,
/// each group's median and the council's rank in it, per measure of the request.
pub fn ids(rows: &[FactRow]) -> Vec<String> {
    let mut out: BTreeSet<String> = BTreeSet::new();
    for r in rows {
        let m = r.metric.as_str();
        out.insert(format!("fact:{m}"));
        out.insert(format!("period:{m}"));
        if r.england.is_some() {
            out.insert(format!("england:{m}"));
        }
        if r.region.is_some() {
            out.insert(format!("region:{m}"));
        }
        for p in &r.peers {
            out.insert(format!("median:{}:{m}", p.peers.key()));
            out.insert(format!("rank:{}:{m}", p.peers.key()));
        }
    }
    out.into_iter().collect()
}

fn schema(ids: &[String], slots: usize, chunk: usize) -> serde_json::Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["segments"],
        "properties": {
            "segments": {
                "type": "array",
                "minItems": 1,
                "maxItems": 2 * slots + 1,
                "items": {
                    "anyOf": [
                        {
                            "type": "object",
                            "additionalProperties": false,
                            "required": ["text"],
                            "properties": {
                                "text": { "type": "string", "maxLength": chunk, "pattern": "^[^0-9]*$" }
                            }
                        },
                        {
                            "type": "object",
                            "additionalProperties": false,
                            "required": ["fact"],
                            "properties": { "fact": { "type": "string", "enum": ids } }
                        }
                    ]
                }
            }
        }
    })
}

/// A segments answer as text: each fact printed as the table prints it, with a space where
/// a word and a figure would otherwise touch. Err says why the answer is unusable.
pub fn assemble(answer: &str, rows: &[FactRow]) -> Result<String, String> {
    let parsed: serde_json::Value = serde_json::from_str(answer.trim())
        .map_err(|e| format!("not the segments JSON the schema asks for: {e}"))?;
    let segments = parsed
        .get("segments")
        .and_then(|s| s.as_array())
        .ok_or("no \"segments\" list in the answer")?;
    let mut out = String::new();
    for s in segments {
        let piece = if let Some(text) = s.get("text").and_then(|t| t.as_str()) {
            if text.chars().any(|c| c.is_ascii_digit()) {
                return Err(format!("a text segment holds a digit: {text:?}"));
            }
            text.to_string()
        } else if let Some(id) = s.get("fact").and_then(|t| t.as_str()) {
            let g = ground(&format!("[{id}]"), rows);
            if !g.unknown.is_empty() || g.text == format!("[{id}]") {
                return Err(format!("a segment names no fact of the request: {id:?}"));
            }
            g.text
        } else {
            return Err(format!("a segment is neither text nor fact: {s}"));
        };
        // "spent" + "£46,992" + ", below": a space where a word or a comma meets a figure,
        // none before closing punctuation or after an opening bracket.
        let apart = |a: Option<char>, b: Option<char>| match (a, b) {
            (Some(a), Some(b)) => {
                !a.is_whitespace()
                    && !"([“‘\"'".contains(a)
                    && !b.is_whitespace()
                    && !".,;:!?)]”’\"'%".contains(b)
            }
            _ => false,
        };
        if apart(out.chars().last(), piece.chars().next()) {
            out.push(' ');
        }
        out.push_str(&piece);
    }
    if out.trim().is_empty() {
        return Err("the segments hold no text".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prompt::focused_rows;

    fn view(section: &str) -> SectionFacts {
        let set = crate::facts::load(std::path::Path::new("data")).unwrap();
        let area = set.find_area("E08000026").unwrap();
        set.section_facts(area, set.find_section(section).unwrap())
    }

    #[test]
    fn the_grammar_allows_the_tables_figures_and_no_other_digit() {
        let v = view("funding");
        let rows = focused_rows(&v);
        let c = constraint(&rows, &v, 700, Closing::Words);
        for f in [
            "£46,992 per 100,000",
            "£47,758.16 per 100,000",
            "Gross social care spending per 100,000 people",
            "2023-24",
            "2024 (2023-24)",
        ] {
            assert!(c.figures.iter().any(|x| x == f), "{f} in {:?}", c.figures);
        }
        // Each sentence is one measure's frame: its period, the council named, the model's
        // words, its value, and a comparator named as the checker reads owners.
        assert!(
            c.grammar.contains(
                "m0 ::= \"Gross social care spending per 100,000 people\" \" in Coventry was \" \"£46,992 per 100,000\" \" in \" (\"2024 (2023-24)\" | \"2023-24\") (\", against the England average of \" \"£47,758.16 per 100,000\") \".\""
            ),
            "{}",
            c.grammar
        );
        assert!(c
            .grammar
            .starts_with("root ::= sentences (\" \" comment)?\n"));
        // Four frames at most, each measure once, in the table's order.
        assert!(c.grammar.contains("sentences ::= s0-4 | s1-4 | s2-4"));
        assert!(c.grammar.contains("s0-4 ::= m0 (\" \" (s1-3 | s2-3"));
        assert!(c.grammar.contains("s0-1 ::= m0\n"));
        assert!(c
            .figures
            .iter()
            .all(|f| f.chars().any(|c| c.is_ascii_digit())));
    }

    #[test]
    fn a_correction_has_frames_only_and_every_frame_a_comparator_where_one_exists() {
        let v = view("outcomes");
        let rows = focused_rows(&v);
        let c = constraint(&rows, &v, 700, Closing::None);
        assert!(c.grammar.starts_with("root ::= sentences\n"));
        assert!(!c.grammar.contains("comment"), "{}", c.grammar);
        // Every measure of the outcomes page has a group to compare with: no frame may end
        // straight after its period.
        for line in c.grammar.lines().filter(|l| l.starts_with('m')) {
            assert!(!line.contains(")? \".\""), "{line}");
            assert!(line.contains(", against the "), "{line}");
        }
    }

    #[test]
    fn a_groups_median_is_a_figure_too() {
        let v = view("outcomes");
        let rows = focused_rows(&v);
        let c = constraint(&rows, &v, 700, Closing::Words);
        for f in ["70.5%", "67.5%", "67.65%", "2022-23"] {
            assert!(c.figures.iter().any(|x| x == f), "{f}");
        }
        let ids = ids(&rows);
        assert!(ids.contains(&"median:nearest-neighbours:outcome_users_info_easy".to_string()));
    }

    #[test]
    fn segments_assemble_into_text_with_the_tables_figures() {
        let v = view("funding");
        let rows = focused_rows(&v);
        let answer = r#"{"segments":[{"text":"In"},{"fact":"period:funding_gross_per_100k"},{"text":", Coventry spent"},{"fact":"fact:funding_gross_per_100k"},{"text":", below the England average of"},{"fact":"england:funding_gross_per_100k"},{"text":"."}]}"#;
        assert_eq!(
            assemble(answer, &rows).unwrap(),
            "In 2024 (2023-24), Coventry spent £46,992 per 100,000, below the England average of £47,758.16 per 100,000."
        );
        assert!(assemble(r#"{"segments":[{"text":"In 2024"}]}"#, &rows)
            .unwrap_err()
            .contains("digit"));
        assert!(assemble(r#"{"segments":[{"fact":"fact:nope"}]}"#, &rows)
            .unwrap_err()
            .contains("nope"));
        assert!(assemble("Coventry spent a lot.", &rows).is_err());
    }

    #[test]
    fn the_bound_shares_the_token_budget_between_prose_chunks() {
        let v = view("funding");
        let rows = focused_rows(&v);
        let c = constraint(&rows, &v, 130, Closing::Words);
        // 130 tokens * 3 characters: 48 characters of the model's closing words.
        assert!(
            c.grammar.contains("comment ::= [A-Z] word{8,48}"),
            "{}",
            c.grammar
        );
        assert_eq!(c.schema["properties"]["segments"]["maxItems"], 25);
    }
}
