//! The mapping files under `data/imports/`: how one public table becomes narrator's data.

use crate::facts::{is_kebab_case, line_col, AreaCode, Diagnostic, MetricId, Period};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;
use toml::Spanned;

/// What a mapping imports: a long table of figures, or comparator groups.
#[derive(Debug)]
pub enum Mapping {
    Facts(Box<FactsMapping>),
    Groups(GroupsMapping),
}

/// A long-format table (one row per area, period and measure) mapped onto `data/facts/`.
#[derive(Debug)]
pub struct FactsMapping {
    pub output: String,
    pub source: String,
    pub missing: Vec<String>,
    pub columns: Columns,
    /// Region names as the table writes them, to ONS region codes.
    pub regions: BTreeMap<String, AreaCode>,
    pub measures: BTreeMap<String, Measure>,
    /// Measures the table holds that are deliberately not imported.
    pub skip: Vec<String>,
    pub successors: BTreeMap<AreaCode, Successor>,
    pub former: BTreeMap<AreaCode, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Columns {
    pub area: String,
    pub name: String,
    pub region: String,
    pub period: String,
    pub measure: String,
    pub value: String,
}

#[derive(Debug)]
pub struct Measure {
    pub metric: MetricId,
    /// Decimal places the value is rounded to: published tables carry float noise
    /// ("1031.145464583807") that no reader would quote.
    pub decimals: u8,
    /// Values that mean "not published" for this measure only (a placeholder zero).
    pub missing: Vec<String>,
    /// The citation for this measure where it differs from the mapping's.
    pub source: Option<String>,
}

/// A council whose figures continue under a new code over the same area.
#[derive(Debug)]
pub struct Successor {
    pub to: AreaCode,
    pub name: String,
    pub why: String,
}

/// Nearest-neighbour style groups from a JSON object of code to member codes.
#[derive(Debug)]
pub struct GroupsMapping {
    pub output: String,
    /// Codes the groups were published under, to the code the council has in areas.csv.
    pub renamed: BTreeMap<AreaCode, AreaCode>,
}

#[derive(Deserialize)]
struct Kind {
    kind: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFacts {
    #[allow(dead_code)]
    kind: String,
    output: Spanned<String>,
    source: String,
    #[serde(default)]
    missing: Vec<String>,
    columns: Columns,
    regions: BTreeMap<String, Spanned<String>>,
    measure: Vec<RawMeasure>,
    #[serde(default)]
    skip: Vec<String>,
    #[serde(default)]
    successor: Vec<RawSuccessor>,
    #[serde(default)]
    former: Vec<RawFormer>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMeasure {
    code: Spanned<String>,
    metric: Spanned<String>,
    decimals: u8,
    #[serde(default)]
    missing: Vec<String>,
    source: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSuccessor {
    from: Spanned<String>,
    to: Spanned<String>,
    name: String,
    why: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFormer {
    code: Spanned<String>,
    name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGroups {
    #[allow(dead_code)]
    kind: String,
    output: Spanned<String>,
    #[allow(dead_code)]
    source: String,
    #[serde(default)]
    renamed: BTreeMap<String, Spanned<String>>,
}

/// Parses a mapping, collecting every problem with its line and column.
pub fn parse(path: &Path, text: &str) -> Result<Mapping, Vec<Diagnostic>> {
    let mut problems = Vec::new();
    let at = |problems: &mut Vec<Diagnostic>, offset: usize, message: String| {
        let (line, column) = line_col(text, offset);
        problems.push(Diagnostic::new(path, line, column, message));
    };
    let syntax = |e: toml::de::Error| {
        let (line, column) = line_col(text, e.span().map_or(0, |s| s.start));
        let message = e.message().trim().replace('\n', "; ");
        vec![Diagnostic::new(
            path,
            line,
            column,
            format!("invalid mapping: {message}"),
        )]
    };
    let kind: Kind = toml::from_str(text).map_err(syntax)?;
    let output_ok = |output: &Spanned<String>, problems: &mut Vec<Diagnostic>| {
        let name = output.get_ref();
        if !is_kebab_case(name) {
            at(
                problems,
                output.span().start,
                format!(
                    "expected an output name in kebab-case such as ascof-oflog, found {name:?}"
                ),
            );
        }
    };
    match kind.kind.get_ref().as_str() {
        "groups" => {
            let raw: RawGroups = toml::from_str(text).map_err(syntax)?;
            output_ok(&raw.output, &mut problems);
            let mut renamed = BTreeMap::new();
            for (from, to) in raw.renamed {
                match (AreaCode::parse(&from), AreaCode::parse(to.get_ref())) {
                    (Ok(f), Ok(t)) => {
                        renamed.insert(f, t);
                    }
                    (Err(e), _) | (_, Err(e)) => at(&mut problems, to.span().start, e),
                }
            }
            if problems.is_empty() {
                Ok(Mapping::Groups(GroupsMapping {
                    output: raw.output.into_inner(),
                    renamed,
                }))
            } else {
                Err(problems)
            }
        }
        "facts" => {
            let raw: RawFacts = toml::from_str(text).map_err(syntax)?;
            output_ok(&raw.output, &mut problems);
            let mut regions = BTreeMap::new();
            for (name, code) in raw.regions {
                match AreaCode::parse(code.get_ref()) {
                    Ok(c) => {
                        regions.insert(name, c);
                    }
                    Err(e) => at(&mut problems, code.span().start, e),
                }
            }
            let mut measures = BTreeMap::new();
            for m in raw.measure {
                let metric = match MetricId::parse(m.metric.get_ref()) {
                    Ok(id) => id,
                    Err(e) => {
                        at(&mut problems, m.metric.span().start, e);
                        continue;
                    }
                };
                let code = m.code.get_ref().clone();
                if measures.contains_key(&code) || raw.skip.contains(&code) {
                    at(
                        &mut problems,
                        m.code.span().start,
                        format!("measure {code} is mapped twice"),
                    );
                    continue;
                }
                measures.insert(
                    code,
                    Measure {
                        metric,
                        decimals: m.decimals,
                        missing: m.missing,
                        source: m.source,
                    },
                );
            }
            let mut successors = BTreeMap::new();
            for s in raw.successor {
                match (
                    AreaCode::parse(s.from.get_ref()),
                    AreaCode::parse(s.to.get_ref()),
                ) {
                    (Ok(from), Ok(to)) => {
                        successors.insert(
                            from,
                            Successor {
                                to,
                                name: s.name,
                                why: s.why,
                            },
                        );
                    }
                    (Err(e), _) => at(&mut problems, s.from.span().start, e),
                    (_, Err(e)) => at(&mut problems, s.to.span().start, e),
                }
            }
            let mut former = BTreeMap::new();
            for f in raw.former {
                match AreaCode::parse(f.code.get_ref()) {
                    Ok(code) if successors.contains_key(&code) => at(
                        &mut problems,
                        f.code.span().start,
                        format!(
                            "{code} is both a successor's source and a former council: choose one"
                        ),
                    ),
                    Ok(code) => {
                        former.insert(code, f.name);
                    }
                    Err(e) => at(&mut problems, f.code.span().start, e),
                }
            }
            if problems.is_empty() {
                Ok(Mapping::Facts(Box::new(FactsMapping {
                    output: raw.output.into_inner(),
                    source: raw.source,
                    missing: raw.missing,
                    columns: raw.columns,
                    regions,
                    measures,
                    skip: raw.skip,
                    successors,
                    former,
                })))
            } else {
                Err(problems)
            }
        }
        other => {
            at(
                &mut problems,
                kind.kind.span().start,
                format!("expected kind \"facts\" or \"groups\", found {other:?}"),
            );
            Err(problems)
        }
    }
}

impl FactsMapping {
    /// Whether a raw value means "not published", for this measure.
    pub fn is_missing(&self, measure: &Measure, raw: &str) -> bool {
        self.missing.iter().any(|m| m == raw) || measure.missing.iter().any(|m| m == raw)
    }
}

/// A period as a table writes it: `2022-23`, `2022/23` or `2023`.
pub fn period(raw: &str) -> Result<Period, String> {
    Period::parse(&raw.replace('/', "-"))
}
