//! Comparator groups (nearest neighbours) from a JSON object of council code to member codes,
//! into `data/groups/<output>.csv`.

use super::mapping::GroupsMapping;
use super::write::Output;
use super::ImportError;
use crate::facts::{AreaCode, Diagnostic, FactSet};
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

pub(super) fn import(
    mapping: &GroupsMapping,
    current: &FactSet,
    input: &Path,
    text: &str,
) -> Result<(Vec<Output>, Vec<String>), ImportError> {
    let raw: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(text).map_err(|e| {
            ImportError::Invalid(vec![Diagnostic::new(
                input,
                e.line(),
                e.column(),
                format!("expected a JSON object of area code to a list of area codes: {e}"),
            )])
        })?;
    let line_of = |key: &str| {
        text.find(&format!("\"{key}\""))
            .map_or(1, |offset| crate::facts::line_col(text, offset).0)
    };
    // Groups are for the councils that get pages; their members may be any council, current
    // or former, and nothing else: districts and combined authorities do no social care.
    let pages: HashSet<&AreaCode> = current.councils().map(|a| a.code()).collect();
    let councils: HashSet<&AreaCode> = current
        .areas()
        .iter()
        .filter(|a| a.is_council())
        .map(|a| a.code())
        .collect();
    let mut problems = Vec::new();
    let mut groups: BTreeMap<AreaCode, Vec<AreaCode>> = BTreeMap::new();
    let (mut other_keys, mut dropped_members) = (0usize, 0usize);
    for (key, members) in &raw {
        let code = match AreaCode::parse(key) {
            Ok(c) => mapping.renamed.get(&c).cloned().unwrap_or(c),
            Err(e) => {
                problems.push(Diagnostic::new(input, line_of(key), 1, e));
                continue;
            }
        };
        let Some(list) = members.as_array() else {
            problems.push(Diagnostic::new(
                input,
                line_of(key),
                1,
                format!("{key}: expected a list of area codes"),
            ));
            continue;
        };
        if !pages.contains(&code) {
            other_keys += 1;
            continue;
        }
        let mut kept = Vec::new();
        for member in list {
            let parsed = member
                .as_str()
                .ok_or_else(|| format!("expected an area code string, found {member}"))
                .and_then(AreaCode::parse)
                .map(|m| mapping.renamed.get(&m).cloned().unwrap_or(m));
            match parsed {
                Ok(m) if councils.contains(&m) => {
                    if !kept.contains(&m) {
                        kept.push(m);
                    }
                }
                Ok(_) => dropped_members += 1,
                Err(e) => problems.push(Diagnostic::new(
                    input,
                    line_of(key),
                    1,
                    format!("{key}: {e}"),
                )),
            }
        }
        // The council is its own first member in the published lists; where it is not, it
        // still belongs to its own comparison.
        if !kept.contains(&code) {
            kept.insert(0, code.clone());
        }
        groups.insert(code, kept);
    }
    if !problems.is_empty() {
        return Err(ImportError::Invalid(problems));
    }
    let without: Vec<String> = current
        .councils()
        .filter(|a| !groups.contains_key(a.code()))
        .map(|a| format!("{} ({})", a.name(), a.code()))
        .collect();
    let mut sizes: BTreeMap<usize, usize> = BTreeMap::new();
    for members in groups.values() {
        *sizes.entry(members.len()).or_default() += 1;
    }
    let usual = sizes
        .iter()
        .max_by_key(|(_, n)| **n)
        .map_or(0, |(size, _)| *size);
    let odd: Vec<String> = groups
        .iter()
        .filter(|(_, m)| m.len() != usual)
        .map(|(code, m)| {
            let name = current.area_by_code(code).map_or("", |a| a.name());
            format!("{name} ({code}) has {}", m.len())
        })
        .collect();

    let mut writer = csv::Writer::from_writer(Vec::new());
    writer
        .write_record(["area_code", "member"])
        .expect("memory");
    for (code, members) in &groups {
        for member in members {
            writer
                .write_record([code.as_str(), member.as_str()])
                .expect("memory");
        }
    }
    let contents = String::from_utf8(writer.into_inner().expect("memory")).expect("UTF-8");
    let mut notes = vec![
        format!(
            "{} groups, usually of {usual} councils including the council itself",
            groups.len()
        ),
        format!(
            "{other_keys} entries for areas without a page (districts, combined authorities, former councils) and {dropped_members} members that are not councils, left out"
        ),
    ];
    if !odd.is_empty() {
        notes.push(format!(
            "groups of another size, kept as published: {}",
            odd.join("; ")
        ));
    }
    if !without.is_empty() {
        notes.push(format!("councils with no group: {}", without.join(", ")));
    }
    Ok((
        vec![Output {
            relative: PathBuf::from("groups").join(format!("{}.csv", mapping.output)),
            contents,
        }],
        notes,
    ))
}
