//! A long-format table (one row per area, period and measure) into `data/facts/<output>.csv`
//! and the areas it introduces into `areas.csv`.

use super::mapping::{self, FactsMapping};
use super::write::Output;
use super::ImportError;
use crate::facts::{AreaCode, AreaKind, Diagnostic, FactSet, MetricId, Period, ENGLAND};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

/// What the table says about one area: its name, region and the periods it reports.
struct Seen {
    name: String,
    region: AreaCode,
    line: usize,
    last: Period,
}

pub(super) fn import(
    data_dir: &Path,
    mapping: &FactsMapping,
    current: &FactSet,
    input: &Path,
    text: &str,
) -> Result<(Vec<Output>, Vec<String>), ImportError> {
    let mut problems = Vec::new();
    let at = |problems: &mut Vec<Diagnostic>, line: usize, column: usize, message: String| {
        problems.push(Diagnostic::new(input, line, column, message));
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut records = reader.records();
    let header = match records.next() {
        Some(Ok(h)) => h,
        Some(Err(e)) => return Err(invalid(input, 1, format!("unreadable CSV header: {e}"))),
        None => {
            return Err(invalid(
                input,
                1,
                "the table is empty: expected a header row".into(),
            ))
        }
    };
    let c = &mapping.columns;
    let wanted = [&c.area, &c.name, &c.region, &c.period, &c.measure, &c.value];
    let mut index = [0usize; 6];
    for (slot, name) in index.iter_mut().zip(wanted) {
        match header.iter().position(|h| h.trim() == name.as_str()) {
            Some(i) => *slot = i,
            None => at(
                &mut problems,
                1,
                1,
                format!(
                    "no column {name:?}, which the mapping names; the header has: {}",
                    header.iter().collect::<Vec<_>>().join(", ")
                ),
            ),
        }
    }
    if !problems.is_empty() {
        return Err(ImportError::Invalid(problems));
    }
    let [i_area, i_name, i_region, i_period, i_measure, i_value] = index;

    let mut rows: BTreeMap<(AreaCode, MetricId, Period), (String, String, usize)> = BTreeMap::new();
    let mut seen: BTreeMap<AreaCode, Seen> = BTreeMap::new();
    let mut unmapped: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut unknown_regions: BTreeMap<String, usize> = BTreeMap::new();
    let (mut missing, mut skipped, mut successor_rows) = (0usize, 0usize, 0usize);
    let mut latest: Option<Period> = None;
    let mut sources: HashMap<MetricId, &String> = HashMap::new();
    for record in records {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(1, |p| p.line() as usize);
                at(&mut problems, line, 1, format!("unreadable CSV: {e}"));
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line() as usize);
        let field = |i: usize| record.get(i).unwrap_or("").trim();
        let code = field(i_measure);
        let Some(measure) = mapping.measures.get(code) else {
            if mapping.skip.iter().any(|s| s == code) {
                skipped += 1;
            } else {
                unmapped.entry(code.to_string()).or_insert((line, 0)).1 += 1;
            }
            continue;
        };
        let period = match mapping::period(field(i_period)) {
            Ok(p) => p,
            Err(e) => {
                at(&mut problems, line, 1, format!("{}: {e}", c.period));
                continue;
            }
        };
        latest = latest.max(Some(period));
        let published = match AreaCode::parse(field(i_area)) {
            Ok(a) => a,
            Err(e) => {
                at(&mut problems, line, 1, format!("{}: {e}", c.area));
                continue;
            }
        };
        let region_name = field(i_region);
        let Some(region) = mapping.regions.get(region_name) else {
            unknown_regions
                .entry(region_name.to_string())
                .or_insert(line);
            continue;
        };
        let (area, name, note) = match mapping.successors.get(&published) {
            Some(s) => {
                successor_rows += 1;
                let note = format!("published for {} ({published}); {}", field(i_name), s.why);
                (s.to.clone(), s.name.clone(), note)
            }
            None => (published.clone(), field(i_name).to_string(), String::new()),
        };
        match seen.get_mut(&area) {
            Some(s) if s.region != *region => at(
                &mut problems,
                line,
                1,
                format!(
                    "{area} is in {region_name} here but in {} on line {}",
                    s.region, s.line
                ),
            ),
            Some(s) => s.last = s.last.max(period),
            None => {
                seen.insert(
                    area.clone(),
                    Seen {
                        name,
                        region: region.clone(),
                        line,
                        last: period,
                    },
                );
            }
        }
        let raw = field(i_value);
        if mapping.is_missing(measure, raw) {
            missing += 1;
            continue;
        }
        let value = match raw.parse::<f64>() {
            Ok(v) if v.is_finite() => format!("{v:.*}", usize::from(measure.decimals)),
            _ => {
                at(
                    &mut problems,
                    line,
                    1,
                    format!(
                        "expected a number or a missing marker ({}), found {raw:?}",
                        missing_markers(mapping, measure)
                    ),
                );
                continue;
            }
        };
        let key = (area.clone(), measure.metric.clone(), period);
        if let Some((_, _, first)) = rows.get(&key) {
            at(
                &mut problems,
                line,
                1,
                format!(
                    "a second value for {area} {} {period}: the first is on line {first}",
                    measure.metric
                ),
            );
            continue;
        }
        rows.insert(key, (value, note, line));
        sources.insert(
            measure.metric.clone(),
            measure.source.as_ref().unwrap_or(&mapping.source),
        );
    }
    for (code, (line, count)) in &unmapped {
        at(&mut problems, *line, 1, format!(
            "measure {code:?} ({count} rows) is not in the mapping: map it under [[measure]] or list it in skip"
        ));
    }
    for (name, line) in &unknown_regions {
        at(
            &mut problems,
            *line,
            1,
            format!("region {name:?} is not in the mapping's [regions]: add it with its ONS code"),
        );
    }
    let Some(latest) = latest else {
        problems.push(Diagnostic::new(input, 1, 1, "no rows of a mapped measure"));
        return Err(ImportError::Invalid(problems));
    };

    // Areas: every council the table names, former councils marked, regions and England.
    let known: HashMap<&AreaCode, _> = current.areas().iter().map(|a| (a.code(), a)).collect();
    let mut new_areas: Vec<(AreaKind, AreaCode, String, Option<AreaCode>)> = Vec::new();
    let mut regions_used: BTreeSet<&AreaCode> = BTreeSet::new();
    for (code, s) in &seen {
        regions_used.insert(&s.region);
        let (kind, name) = match mapping.former.get(code) {
            Some(name) => (AreaKind::Former, name.clone()),
            None if s.last < latest => {
                problems.push(Diagnostic::new(input, s.line, 1, format!(
                    "{code} {} has no row after {}, while the table runs to {}: list it under [[former]] with a name that says when it ended, or under [[successor]] if another code carries on its area",
                    s.name, s.last, latest
                )));
                continue;
            }
            None => (AreaKind::La, s.name.clone()),
        };
        match known.get(code) {
            Some(area) if area.kind() != kind => problems.push(Diagnostic::new(
                input,
                s.line,
                1,
                format!(
                    "{code} is a {} in areas.csv but the table makes it a {}",
                    area.kind().name(),
                    kind.name()
                ),
            )),
            Some(area) if area.parent() != Some(&s.region) => problems.push(Diagnostic::new(
                input,
                s.line,
                1,
                format!(
                    "{code} {} has parent {} in areas.csv but the table puts it in {}",
                    area.name(),
                    area.parent()
                        .map_or("none".to_string(), ToString::to_string),
                    s.region
                ),
            )),
            Some(_) => {}
            None => new_areas.push((kind, code.clone(), name, Some(s.region.clone()))),
        }
    }
    let england = AreaCode::parse(ENGLAND).expect("England's code is well formed");
    for region in regions_used {
        if !known.contains_key(region) {
            let name = mapping
                .regions
                .iter()
                .find(|(_, c)| *c == region)
                .map(|(n, _)| n.clone())
                .expect("regions used come from the mapping");
            new_areas.push((
                AreaKind::Region,
                region.clone(),
                name,
                Some(england.clone()),
            ));
        }
    }
    if !known.contains_key(&england) {
        new_areas.push((AreaKind::Country, england, "England".into(), None));
    }
    if !problems.is_empty() {
        return Err(ImportError::Invalid(problems));
    }
    // Parents before children, then by code: the same input always gives the same file.
    new_areas.sort_by_key(|(kind, code, ..)| (kind_order(*kind), code.clone()));

    let areas_path = data_dir.join("areas.csv");
    let mut areas = std::fs::read_to_string(&areas_path).map_err(|source| ImportError::Read {
        path: areas_path.clone(),
        source,
    })?;
    if !areas.is_empty() && !areas.ends_with('\n') {
        areas.push('\n');
    }
    let mut writer = csv::Writer::from_writer(Vec::new());
    for (kind, code, name, parent) in &new_areas {
        let parent = parent.as_ref().map_or("", AreaCode::as_str);
        writer
            .write_record([code.as_str(), name, kind.name(), parent])
            .expect("writing to memory cannot fail");
    }
    areas.push_str(
        &String::from_utf8(writer.into_inner().expect("memory")).expect("UTF-8 in, UTF-8 out"),
    );

    let mut writer = csv::Writer::from_writer(Vec::new());
    writer
        .write_record(["area_code", "metric", "period", "value", "source", "note"])
        .expect("memory");
    for ((area, metric, period), (value, note, _)) in &rows {
        writer
            .write_record([
                area.as_str(),
                metric.as_str(),
                &period.code(),
                value,
                sources[metric],
                note,
            ])
            .expect("memory");
    }
    let facts =
        String::from_utf8(writer.into_inner().expect("memory")).expect("UTF-8 in, UTF-8 out");

    let first = rows
        .keys()
        .map(|(_, _, p)| *p)
        .min()
        .expect("at least one row");
    let mut notes = vec![format!(
        "{} values for {} councils, {first} to {latest}",
        rows.len(),
        seen.len()
    )];
    notes.push(format!(
        "{missing} rows not published (a missing marker), left out"
    ));
    if skipped > 0 {
        notes.push(format!("{skipped} rows of skipped measures"));
    }
    if successor_rows > 0 {
        notes.push(format!(
            "{successor_rows} rows carried to a successor's code ([[successor]] in the mapping)"
        ));
    }
    notes.push(format!("{} areas new to areas.csv", new_areas.len()));
    Ok((
        vec![
            Output {
                relative: PathBuf::from("areas.csv"),
                contents: areas,
            },
            Output {
                relative: PathBuf::from("facts").join(format!("{}.csv", mapping.output)),
                contents: facts,
            },
        ],
        notes,
    ))
}

fn kind_order(kind: AreaKind) -> u8 {
    match kind {
        AreaKind::Country => 0,
        AreaKind::Region => 1,
        AreaKind::La => 2,
        AreaKind::Former => 3,
    }
}

fn missing_markers(mapping: &FactsMapping, measure: &super::mapping::Measure) -> String {
    mapping
        .missing
        .iter()
        .chain(&measure.missing)
        .map(|m| format!("{m:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn invalid(path: &Path, line: usize, message: String) -> ImportError {
    ImportError::Invalid(vec![Diagnostic::new(path, line, 1, message)])
}
