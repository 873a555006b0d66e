//! The mock's side of constrained generation: a request's `grammar` (GBNF) or
//! `response_format` JSON schema is checked the way a server would parse it, refused on
//! request (to stand in for a provider that does not take it), and a JSON-schema request is
//! answered with segments naming facts from the schema's own list of ids.

use serde_json::{json, Value};

/// What a request asked to constrain its answer with.
#[derive(Debug, PartialEq)]
pub enum Asked {
    Nothing,
    Grammar,
    /// The ids a `fact` segment may name, from the schema.
    Schema(Vec<String>),
}

/// Reads and checks a request's constraint: Err is the 400 body's message.
pub fn asked(req: &Value) -> Result<Asked, String> {
    if let Some(g) = req.get("grammar") {
        let g = g.as_str().ok_or("`grammar` must be a string")?;
        check_gbnf(g).map_err(|e| format!("failed to parse grammar: {e}"))?;
        return Ok(Asked::Grammar);
    }
    let Some(format) = req.get("response_format") else {
        return Ok(Asked::Nothing);
    };
    match format["type"].as_str() {
        Some("json_schema") => {}
        Some("text") | None => return Ok(Asked::Nothing),
        Some(other) => return Err(format!("response_format type {other:?} is not supported")),
    }
    let schema = &format["json_schema"]["schema"];
    if !schema.is_object() || schema["type"] != "object" {
        return Err("response_format.json_schema.schema must be an object schema".into());
    }
    let items = &schema["properties"]["segments"]["items"]["anyOf"];
    let ids = items
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v["properties"]["fact"]["enum"].as_array())
        .flatten()
        .filter_map(|id| id.as_str().map(str::to_string))
        .collect();
    Ok(Asked::Schema(ids))
}

/// A segments answer from the schema's ids: the first measure with a figure of the council's,
/// its period, England's figure and a group's median when the schema offers them.
pub fn segments(ids: &[String]) -> String {
    let metric = ids
        .iter()
        .find_map(|id| id.strip_prefix("fact:"))
        .unwrap_or("");
    let has = |id: String| ids.contains(&id).then_some(id);
    let mut parts = vec![
        json!({"text": "In"}),
        json!({"fact": format!("period:{metric}")}),
        json!({"text": ", the council's figure was"}),
        json!({"fact": format!("fact:{metric}")}),
    ];
    if let Some(id) = has(format!("england:{metric}")) {
        parts.push(json!({"text": ", against the England average of"}));
        parts.push(json!({"fact": id}));
    } else if let Some(id) = has(format!("median:all-councils:{metric}")) {
        parts.push(json!({"text": ", against the median for councils in England of"}));
        parts.push(json!({"fact": id}));
    }
    parts.push(json!({"text": "."}));
    json!({ "segments": parts }).to_string()
}

/// Parses GBNF as llama.cpp does, as far as a request can be wrong: rules `name ::= body`,
/// closed string literals and character classes, balanced groups, repetition counts, every
/// rule used defined and a `root`.
pub fn check_gbnf(g: &str) -> Result<(), String> {
    let mut defined: Vec<String> = Vec::new();
    let mut used: Vec<String> = Vec::new();
    let chars: Vec<char> = g.chars().collect();
    let mut i = 0;
    let mut depth = 0i32;
    let name_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    let mut expect_name = true;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '#' => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            c if c.is_whitespace() => i += 1,
            '"' => {
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    if chars[i] == '\\' {
                        i += 1;
                    }
                    if i < chars.len() && chars[i] == '\n' {
                        return Err("a string literal runs past the end of its line".into());
                    }
                    i += 1;
                }
                if i >= chars.len() {
                    return Err("an unclosed string literal".into());
                }
                i += 1;
            }
            '[' => {
                i += 1;
                while i < chars.len() && chars[i] != ']' {
                    if chars[i] == '\\' {
                        i += 1;
                    }
                    i += 1;
                }
                if i >= chars.len() {
                    return Err("an unclosed character class".into());
                }
                i += 1;
            }
            '{' => {
                let start = i;
                while i < chars.len() && chars[i] != '}' {
                    i += 1;
                }
                let inner: String = chars[start + 1..i.min(chars.len())].iter().collect();
                let ok = inner
                    .split(',')
                    .all(|n| n.trim().is_empty() || n.trim().parse::<u32>().is_ok());
                if i >= chars.len() || !ok || inner.trim().is_empty() {
                    return Err(format!("a bad repetition {{{inner}"));
                }
                i += 1;
            }
            '(' => {
                depth += 1;
                i += 1;
            }
            ')' => {
                depth -= 1;
                if depth < 0 {
                    return Err("a `)` with no `(`".into());
                }
                i += 1;
            }
            '|' | '*' | '+' | '?' | '.' => i += 1,
            c if name_char(c) => {
                let start = i;
                while i < chars.len() && name_char(chars[i]) {
                    i += 1;
                }
                let name: String = chars[start..i].iter().collect();
                let mut j = i;
                while j < chars.len() && chars[j].is_whitespace() && chars[j] != '\n' {
                    j += 1;
                }
                let defines = chars[j..].starts_with(&[':', ':', '=']);
                if defines {
                    if depth != 0 {
                        return Err(format!("unbalanced brackets before rule {name}"));
                    }
                    defined.push(name);
                    i = j + 3;
                    expect_name = false;
                } else if expect_name {
                    return Err(format!("expected `{name} ::=`"));
                } else {
                    used.push(name);
                }
            }
            ':' => return Err("a stray `:`".into()),
            other => return Err(format!("unexpected {other:?}")),
        }
    }
    if depth != 0 {
        return Err("unbalanced brackets".into());
    }
    if !defined.iter().any(|d| d == "root") {
        return Err("no `root` rule".into());
    }
    if let Some(missing) = used.iter().find(|u| !defined.contains(u)) {
        return Err(format!("rule {missing} is used but not defined"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn narrators_grammars_parse_and_broken_ones_do_not() {
        let set = crate::facts::load(std::path::Path::new("data")).unwrap();
        let area = set.find_area("E08000026").unwrap();
        for section in ["funding", "outcomes", "carers"] {
            let view = set.section_facts(area, set.find_section(section).unwrap());
            let rows = crate::prompt::focused_rows(&view);
            let c = crate::prompt::constraint(&rows, &view, 700, crate::prompt::Closing::Words);
            assert_eq!(check_gbnf(&c.grammar), Ok(()), "{}", c.grammar);
        }
        assert!(check_gbnf("root ::= \"a").is_err());
        assert!(check_gbnf("root ::= other").unwrap_err().contains("other"));
        assert!(check_gbnf("start ::= \"a\"").unwrap_err().contains("root"));
        assert!(check_gbnf("root ::= (\"a\"").is_err());
        assert!(check_gbnf("root ::= [a-z").is_err());
    }

    #[test]
    fn a_schema_request_is_answered_with_segments_naming_its_ids() {
        let req = json!({"response_format": {"type": "json_schema", "json_schema": {"name": "n", "schema": {
        "type": "object", "properties": {"segments": {"items": {"anyOf": [
            {"properties": {"text": {"type": "string"}}},
            {"properties": {"fact": {"enum": ["fact:x", "period:x", "england:x"]}}}
        ]}}}}}}});
        let Asked::Schema(ids) = asked(&req).unwrap() else {
            panic!("a schema request");
        };
        let answer: Value = serde_json::from_str(&segments(&ids)).unwrap();
        let facts: Vec<&str> = answer["segments"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|s| s["fact"].as_str())
            .collect();
        assert_eq!(facts, ["period:x", "fact:x", "england:x"]);
        assert!(asked(
            &json!({"response_format": {"type": "json_schema", "json_schema": {"schema": 3}}})
        )
        .is_err());
    }
}
