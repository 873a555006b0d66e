//! Reads `data/` and validates it, collecting every problem before giving up.

use super::area::{Area, AreaCode, AreaKind};
use super::cited::Citations;
use super::diagnostic::{csv_field_column, line_col, size, utf8_text, Diagnostic};
use super::metric::{Dating, Metric, MetricId, Polarity, Unit};
use super::period::Period;
use super::section::{Comparator, Section};
use super::set::{key_order, Fact, FactSet};
use super::value::{format_grouped, Number, Value};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::ops::Range;
use std::path::{Path, PathBuf};
use toml::Spanned;

const AREAS_HEADER: [&str; 4] = ["area_code", "name", "kind", "parent"];
const FACTS_HEADER: [&str; 6] = ["area_code", "metric", "period", "value", "source", "note"];
const GROUPS_HEADER: [&str; 2] = ["area_code", "member"];

/// Comparator groups by name (the file stem under `groups/`): each council's members.
pub(crate) type Groups = BTreeMap<String, BTreeMap<AreaCode, Vec<AreaCode>>>;

/// The largest data file narrator reads. A plain UTF-8 CSV is parsed as it is read, but a
/// TOML file, a CSV to report or mend, and a table to import are read whole, so a wrong file (a
/// database dump, a 1 GB export) is refused from its size before it is read instead of
/// exhausting memory. Every English council with every metric and several years of history
/// is a few tens of megabytes; this also holds `narrator synth`'s output for about 12,000
/// synthetic councils in one file. A larger table can be split over several files in `facts/`.
pub const MAX_FILE_BYTES: u64 = 256 * 1024 * 1024;

/// Why `data/` could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}", Problems(.0))]
    Invalid(Vec<Diagnostic>),
}

/// Diagnostics as one message: a count, then one problem a line.
pub struct Problems<'a>(pub &'a [Diagnostic]);

impl fmt::Display for Problems<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        writeln!(
            f,
            "{n} problem{} in the data:",
            if n == 1 { "" } else { "s" }
        )?;
        for d in self.0 {
            writeln!(f, "  {d}")?;
        }
        Ok(())
    }
}

/// Loads and validates `dir/areas.csv`, `dir/metrics.toml`, `dir/facts/*.csv` and
/// `dir/sections.toml`. Reads only; every problem found is returned together.
pub fn load(dir: &Path) -> Result<FactSet, LoadError> {
    let mut loader = Loader::default();
    let areas = loader.areas(&dir.join("areas.csv"))?;
    let metrics = loader.metrics(&dir.join("metrics.toml"))?;
    let read = loader.facts(&dir.join("facts"), &areas, &metrics)?;
    let groups = loader.groups(&dir.join("groups"), &areas)?;
    let group_names: Vec<String> = groups.keys().cloned().collect();
    let sections = loader.sections(
        &dir.join("sections.toml"),
        &areas,
        &metrics,
        &read,
        &group_names,
    )?;
    let allowlist = loader.allowlist(&dir.join("allowlist.toml"))?;
    if loader.problems.is_empty() {
        Ok(FactSet::new(
            areas, metrics, sections, read.facts, read.order, allowlist, groups,
        ))
    } else {
        Err(LoadError::Invalid(loader.problems))
    }
}

/// The facts of `facts/*.csv`, each once, with where each was read from.
struct FactsRead {
    facts: Vec<Fact>,
    /// Positions in `facts` by key: see [`super::set::key_order`].
    order: Vec<u32>,
    origins: Origins,
}

/// Where each fact was read from, for messages that point back at it.
#[derive(Default)]
struct Origins {
    files: Vec<PathBuf>,
    /// Per fact, its file's position in `files` and its line: two numbers, not a path a fact.
    rows: Vec<(u32, u32)>,
}

impl Origins {
    fn of(&self, fact: usize) -> Origin<'_> {
        let (file, line) = self.rows[fact];
        Origin {
            file: &self.files[file as usize],
            line,
        }
    }
}

/// Where one fact row was read from: `file:line`.
struct Origin<'a> {
    file: &'a Path,
    line: u32,
}

impl fmt::Display for Origin<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// One record of a CSV file, lent to the code that reads it while the next is parsed: a large
/// table is never held as rows.
struct CsvRow<'a> {
    line: usize,
    /// The line the record starts on, for the column of a field in messages.
    text: &'a str,
    fields: &'a csv::StringRecord,
}

impl CsvRow<'_> {
    fn problem(&self, file: &Path, field: usize, message: impl Into<String>) -> Diagnostic {
        let column = csv_field_column(self.text, field);
        Diagnostic::new(file, self.line, column, message)
    }
}

/// The lines of a file, met in order: the line a record starts on, without holding the file.
struct Lines<R> {
    reader: R,
    /// The line last read and its number.
    number: usize,
    text: String,
}

impl<R: BufRead> Lines<R> {
    fn new(reader: R) -> Self {
        Lines {
            reader,
            number: 0,
            text: String::new(),
        }
    }

    /// Line `n` (1-based, at least the last asked for) without its line ending, as
    /// `str::lines` gives it, or "" past the end.
    fn get(&mut self, n: usize) -> &str {
        while self.number < n {
            self.number += 1;
            self.text.clear();
            // Only a file changed since it was checked can fail here: its line shows as nothing.
            if self.reader.read_line(&mut self.text).is_err() {
                self.text.clear();
            }
            if self.text.ends_with('\n') {
                self.text.pop();
                if self.text.ends_with('\r') {
                    self.text.pop();
                }
            }
        }
        &self.text
    }
}

#[derive(Default)]
struct Loader {
    problems: Vec<Diagnostic>,
    /// Metric ids whose catalogue entry was reported broken (or every id, when the catalogue
    /// could not be parsed): rows naming them are not reported again as unknown metrics.
    broken_metrics: HashSet<String>,
    catalogue_unreadable: bool,
    /// `areas.csv` could not be read: facts are not reported again as naming unknown areas.
    areas_unreadable: bool,
    /// The facts' sources and notes, each pair held once.
    citations: Citations,
}

/// Why a data file is refused before it is read: its size, against [`MAX_FILE_BYTES`].
fn too_large(bytes: u64) -> String {
    format!(
        "expected a data file of at most {}, found {} ({} bytes): is it the right file? \
         (a large facts table can be split over several files in facts/)",
        size(MAX_FILE_BYTES),
        size(bytes),
        format_grouped(bytes as f64, 0)
    )
}

impl Loader {
    /// Reads a data file as UTF-8 text. A file over [`MAX_FILE_BYTES`], or one that is not
    /// UTF-8, is reported where the problem is and gives `None`; only I/O failures are errors.
    fn read(&mut self, path: &Path) -> Result<Option<String>, LoadError> {
        match read_text(path) {
            Ok(Ok(text)) => Ok(Some(text)),
            Ok(Err(problem)) => {
                self.problems.push(problem);
                Ok(None)
            }
            Err(source) => Err(LoadError::Io {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    fn at(&mut self, file: &Path, line: usize, column: usize, message: impl Into<String>) {
        self.problems
            .push(Diagnostic::new(file, line, column, message));
    }

    fn at_field(&mut self, file: &Path, row: &CsvRow, field: usize, message: impl Into<String>) {
        self.problems.push(row.problem(file, field, message));
    }

    fn at_span(&mut self, file: &Path, text: &str, offset: usize, message: impl Into<String>) {
        let (line, column) = line_col(text, offset);
        self.at(file, line, column, message);
    }

    fn is_broken(&self, id: &MetricId) -> bool {
        self.catalogue_unreadable || self.broken_metrics.contains(id.as_str())
    }

    /// Reads a CSV with an exact header and hands each row to `each`, in order; rows of the
    /// wrong width are reported and skipped. Nothing is handed on when the file is unreadable
    /// or its header wrong (already reported). The problems with the file's form come before
    /// those `each` reports, as though every row were read first; the answer is where in
    /// `problems` the latter start, `None` when the file was unreadable or its header wrong.
    ///
    /// A plain UTF-8 file, as nearly all are, is read from disk as it is parsed rather than held
    /// whole: a large facts table's text was the biggest thing in memory while it loaded.
    fn csv_each(
        &mut self,
        path: &Path,
        header: &[&str],
        each: impl FnMut(&mut Self, &CsvRow<'_>),
    ) -> Result<Option<usize>, LoadError> {
        let io = |source| LoadError::Io {
            path: path.to_path_buf(),
            source,
        };
        if let Some(line_count) = plain_line_count(path).map_err(io)? {
            let open = || -> std::io::Result<_> {
                let mut reader = BufReader::new(File::open(path)?);
                skip_byte_order_mark(&mut reader)?;
                Ok(reader)
            };
            let (records, lines) = (open().map_err(io)?, open().map_err(io)?);
            return self.csv_rows(path, header, records, lines, line_count, each);
        }
        let Some(text) = self.read(path)? else {
            return Ok(None);
        };
        // Classic Mac line endings (a bare CR, from Excel's "CSV (Macintosh)"): the CSV reader
        // splits records on them but counts lines by LF, so make them LF for the line numbers.
        let bare_cr = text
            .match_indices('\r')
            .any(|(i, _)| text.as_bytes().get(i + 1) != Some(&b'\n'));
        let text = if bare_cr {
            text.replace("\r\n", "\n").replace('\r', "\n")
        } else {
            text
        };
        let line_count = text.lines().count();
        self.csv_rows(
            path,
            header,
            text.as_bytes(),
            text.as_bytes(),
            line_count,
            each,
        )
    }

    /// [`Self::csv_each`] over a file's records and, read beside them, its lines.
    fn csv_rows(
        &mut self,
        path: &Path,
        header: &[&str],
        records: impl Read,
        lines: impl BufRead,
        line_count: usize,
        mut each: impl FnMut(&mut Self, &CsvRow<'_>),
    ) -> Result<Option<usize>, LoadError> {
        let start = self.problems.len();
        let mut lines = Lines::new(lines);
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(records);
        // Problems with the file's form, put before the rows' when the file is done.
        let mut form = Vec::new();
        let mut record = csv::StringRecord::new();
        let mut seen_header = false;
        let mut header_ok = false;
        loop {
            match reader.read_record(&mut record) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) if matches!(e.kind(), csv::ErrorKind::Io(_)) => {
                    let csv::ErrorKind::Io(source) = e.into_kind() else {
                        unreachable!("matched as an I/O error")
                    };
                    return Err(LoadError::Io {
                        path: path.to_path_buf(),
                        source,
                    });
                }
                Err(e) => {
                    let line = e.position().map_or(1, |p| p.line() as usize);
                    form.push(Diagnostic::new(
                        path,
                        line,
                        1,
                        format!("unreadable CSV: {e}"),
                    ));
                    continue;
                }
            }
            let line = record.position().map_or(1, |p| p.line() as usize);
            if !seen_header {
                seen_header = true;
                let found: Vec<&str> = record.iter().collect();
                if found != header {
                    form.push(Diagnostic::new(
                        path,
                        line,
                        1,
                        format!(
                            "expected the header {:?}, found {:?}",
                            header.join(","),
                            found.join(",")
                        ),
                    ));
                    break;
                }
                header_ok = true;
                continue;
            }
            let row = CsvRow {
                line,
                text: lines.get(line),
                fields: &record,
            };
            if row.fields.iter().all(str::is_empty) {
                continue;
            }
            // No field of the contract holds a line break: one that does is almost always a
            // quoted field whose closing quote is missing, swallowing the lines after it.
            if let Some(field) = row.fields.iter().position(|f| f.contains(['\n', '\r'])) {
                let end = line
                    + row
                        .fields
                        .iter()
                        .map(|f| f.matches('\n').count())
                        .sum::<usize>();
                let reach = if end > line_count {
                    "to the end of the file".to_string()
                } else {
                    format!("on to line {end}")
                };
                form.push(row.problem(
                    path,
                    field,
                    format!(
                        "expected every field on one line, found a quoted field running {reach}: \
                         is its closing double quote missing?"
                    ),
                ));
                continue;
            }
            if row.fields.len() != header.len() {
                form.push(Diagnostic::new(
                    path,
                    line,
                    1,
                    format!(
                        "expected {} fields ({}), found {}",
                        header.len(),
                        header.join(","),
                        row.fields.len()
                    ),
                ));
                continue;
            }
            each(self, &row);
        }
        if !seen_header {
            form.push(Diagnostic::new(
                path,
                1,
                1,
                format!(
                    "expected the header {:?}, found an empty file",
                    header.join(",")
                ),
            ));
        }
        let rows_start = start + form.len();
        self.problems.splice(start..start, form);
        Ok(header_ok.then_some(rows_start))
    }

    fn areas(&mut self, path: &Path) -> Result<Vec<Area>, LoadError> {
        // Each area with its line and the column of its parent, for a message about the parent.
        let mut areas: Vec<(Area, usize, usize)> = Vec::new();
        // First line of each code and lower-cased name, so duplicates are found in one pass.
        let mut codes: HashMap<AreaCode, usize> = HashMap::new();
        let mut names: HashMap<String, usize> = HashMap::new();
        let read = self.csv_each(path, &AREAS_HEADER, |this, row| {
            let code = match AreaCode::parse(&row.fields[0]) {
                Ok(c) => c,
                Err(e) => {
                    this.at_field(path, row, 0, e);
                    return;
                }
            };
            let name = row.fields[1].trim().to_string();
            if name.is_empty() {
                this.at_field(path, row, 1, "expected the area's name, found nothing");
                return;
            }
            let kind = match AreaKind::parse(&row.fields[2]) {
                Ok(k) => k,
                Err(e) => {
                    this.at_field(path, row, 2, e);
                    return;
                }
            };
            let parent = match &row.fields[3] {
                "" => None,
                raw => match AreaCode::parse(raw) {
                    Ok(p) => Some(p),
                    Err(e) => {
                        this.at_field(path, row, 3, e);
                        return;
                    }
                },
            };
            let prior = match codes.get(&code) {
                Some(&line) => Some(("code", line)),
                None => names
                    .get(&name.to_ascii_lowercase())
                    .map(|&line| ("name", line)),
            };
            if let Some((what, line)) = prior {
                let message =
                    format!("duplicate area {what}: {code} {name:?} is already on line {line}");
                this.at_field(path, row, 0, message);
                return;
            }
            codes.insert(code.clone(), row.line);
            names.insert(name.to_ascii_lowercase(), row.line);
            let parent_column = csv_field_column(row.text, 3);
            areas.push((Area::new(code, name, kind, parent), row.line, parent_column));
        })?;
        if read.is_none() {
            self.areas_unreadable = true;
            return Ok(Vec::new());
        }
        let kinds: HashMap<&AreaCode, AreaKind> =
            areas.iter().map(|(a, ..)| (a.code(), a.kind())).collect();
        // Parents are checked once every area is known, so the file's order does not matter.
        for (area, line, parent_column) in &areas {
            let expected_parent = match area.kind() {
                AreaKind::La | AreaKind::Former => Some(AreaKind::Region),
                AreaKind::Region => Some(AreaKind::Country),
                AreaKind::Country => None,
            };
            let parent = area.parent().map(|p| (p, kinds.get(p).copied()));
            let message = match (expected_parent, parent) {
                (None, None) => None,
                (None, Some(_)) => Some("a country has no parent; leave it empty".to_string()),
                (Some(kind), None) => Some(format!(
                    "expected a parent area of kind {kind:?}, found none"
                )),
                (Some(_), Some((code, None))) => {
                    Some(format!("unknown parent area {code}: add it to areas.csv"))
                }
                (Some(kind), Some((code, Some(found)))) if found != kind => {
                    Some(format!("parent {code} is a {found:?}; expected a {kind:?}"))
                }
                _ => None,
            };
            if let Some(message) = message {
                self.at(path, *line, *parent_column, message);
            }
        }
        Ok(areas.into_iter().map(|(a, ..)| a).collect())
    }

    /// Parses a TOML file, reporting a syntax or shape error at its line and column.
    fn toml<T: serde::de::DeserializeOwned>(
        &mut self,
        path: &Path,
        text: &str,
        what: &str,
    ) -> Option<T> {
        match toml::from_str(text) {
            Ok(v) => Some(v),
            Err(e) => {
                let offset = e
                    .span()
                    .map(|s| s.start)
                    .or_else(|| missing_field_offset(text, e.message()))
                    .unwrap_or(0);
                // Some of toml's messages run over two lines ("invalid array\nexpected `]`"):
                // one problem is one line of output.
                let message = e.message().trim().replace('\n', "; ");
                self.at_span(path, text, offset, format!("invalid {what}: {message}"));
                None
            }
        }
    }

    fn metrics(&mut self, path: &Path) -> Result<BTreeMap<MetricId, Metric>, LoadError> {
        let Some(text) = self.read(path)? else {
            self.catalogue_unreadable = true;
            return Ok(BTreeMap::new());
        };
        let Some(raw) = self.toml::<RawMetrics>(path, &text, "metric catalogue") else {
            self.catalogue_unreadable = true;
            return Ok(BTreeMap::new());
        };
        let mut metrics = BTreeMap::new();
        let mut links = Vec::new();
        for m in raw.metric {
            let id = match MetricId::parse(m.id.get_ref()) {
                Ok(id) => id,
                Err(e) => {
                    self.at_span(path, &text, m.id.span().start, e);
                    continue;
                }
            };
            if metrics.contains_key(&id) {
                self.at_span(
                    path,
                    &text,
                    m.id.span().start,
                    format!("duplicate metric id {id}"),
                );
                continue;
            }
            self.broken_metrics.insert(id.to_string());
            let unit = Unit::parse(m.unit.get_ref());
            let polarity = Polarity::parse(m.polarity.get_ref());
            let (unit, polarity) = match (unit, polarity) {
                (Ok(u), Ok(p)) => (u, p),
                (u, p) => {
                    if let Err(e) = u {
                        self.at_span(path, &text, m.unit.span().start, e);
                    }
                    if let Err(e) = p {
                        self.at_span(path, &text, m.polarity.span().start, e);
                    }
                    continue;
                }
            };
            let values = m.values.map(|v| (v.span().start, v.into_inner()));
            let values = match (unit, values) {
                (Unit::Category, Some((_, v))) if !v.is_empty() => v,
                (Unit::Category, _) => {
                    self.at_span(
                        path,
                        &text,
                        m.unit.span().start,
                        format!("category metric {id} needs a non-empty `values` list"),
                    );
                    continue;
                }
                (_, Some((at, _))) => {
                    self.at_span(
                        path,
                        &text,
                        at,
                        format!(
                            "`values` is only for unit = \"category\"; {id} has unit {}",
                            unit.name()
                        ),
                    );
                    continue;
                }
                (_, None) => Vec::new(),
            };
            let mut link = |field: Option<Spanned<String>>| -> Option<MetricId> {
                let field = field?;
                match MetricId::parse(field.get_ref()) {
                    Ok(other) => {
                        links.push((field.span().start, other.clone()));
                        Some(other)
                    }
                    Err(e) => {
                        self.problems.push({
                            let (l, c) = line_col(&text, field.span().start);
                            Diagnostic::new(path, l, c, e)
                        });
                        None
                    }
                }
            };
            let denominator = link(m.denominator);
            let count_metric = link(m.count_metric);
            let dated_by = match m
                .dated_by
                .map(|d| (d.span().start, Dating::parse(d.get_ref())))
            {
                None => Dating::default(),
                Some((_, Ok(d))) => d,
                Some((at, Err(e))) => {
                    self.at_span(path, &text, at, e);
                    continue;
                }
            };
            let higher_means = match m.higher_means {
                Some(h) if !higher_means_ok(h.get_ref()) => {
                    self.at_span(
                        path,
                        &text,
                        h.span().start,
                        format!(
                            "expected higher_means as \"more <word>\" or \"less <word>\", found {:?}",
                            h.get_ref()
                        ),
                    );
                    continue;
                }
                h => h.map(Spanned::into_inner),
            };
            self.broken_metrics.remove(id.as_str());
            metrics.insert(
                id.clone(),
                Metric::new(
                    id,
                    m.label,
                    unit,
                    polarity,
                    m.definition,
                    m.source,
                    denominator,
                    count_metric,
                    values,
                    dated_by,
                    higher_means,
                ),
            );
        }
        for (at, other) in links {
            if !metrics.contains_key(&other) {
                self.at_span(
                    path,
                    &text,
                    at,
                    format!("unknown metric {other}: expected an id defined in this file"),
                );
            }
        }
        Ok(metrics)
    }

    fn facts(
        &mut self,
        dir: &Path,
        areas: &[Area],
        metrics: &BTreeMap<MetricId, Metric>,
    ) -> Result<FactsRead, LoadError> {
        let files = csv_files(dir).map_err(|source| LoadError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        if files.is_empty() {
            self.at(
                dir,
                1,
                1,
                "expected at least one facts file *.csv, found none",
            );
        }
        let mut facts: Vec<Fact> = Vec::new();
        let mut origins = Origins::default();
        // Where each file's rows' problems sit in `problems`: a repeated fact, found once every
        // file is read, is reported among them.
        let mut row_problems: Vec<Range<usize>> = Vec::new();
        let known: HashSet<&AreaCode> = areas.iter().map(Area::code).collect();
        for path in files {
            let file = u32::try_from(origins.files.len()).expect("fewer than 2^32 files");
            let rows_start = self.csv_each(&path, &FACTS_HEADER, |this, row| {
                if let Some(fact) = this.fact(&path, row, &known, metrics) {
                    facts.push(fact);
                    let line =
                        u32::try_from(row.line).expect("a size-limited file has < 2^32 lines");
                    origins.rows.push((file, line));
                }
            })?;
            let end = self.problems.len();
            row_problems.push(rows_start.unwrap_or(end)..end);
            origins.files.push(path);
        }
        let mut order = key_order(&facts);
        let repeated = repeated_keys(&facts, &order);
        if !repeated.is_empty() {
            self.report_repeated(&facts, &origins, &repeated, &row_problems);
            let mut kept = vec![true; facts.len()];
            for &(again, _) in &repeated {
                kept[again] = false;
            }
            let mut keep = kept.iter().copied();
            facts.retain(|_| keep.next().unwrap_or(true));
            let mut keep = kept.iter().copied();
            origins.rows.retain(|_| keep.next().unwrap_or(true));
            order = key_order(&facts);
        }
        Ok(FactsRead {
            facts,
            order,
            origins,
        })
    }

    /// Reports each fact read again (`repeated`: its position and the first's) at its row,
    /// among that file's other rows' problems in line order, as if found while reading.
    fn report_repeated(
        &mut self,
        facts: &[Fact],
        origins: &Origins,
        repeated: &[(usize, usize)],
        row_problems: &[Range<usize>],
    ) {
        let mut found: Vec<(u32, u32, Diagnostic)> = repeated
            .iter()
            .map(|&(again, first)| {
                let (file, line) = origins.rows[again];
                let fact = &facts[again];
                let message = format!(
                    "duplicate fact: {} {} {} is already given at {}",
                    fact.area(),
                    fact.metric(),
                    fact.period(),
                    origins.of(first)
                );
                // At the area code: the first field, where the row starts.
                let at = Diagnostic::new(&origins.files[file as usize], line as usize, 1, message);
                (file, line, at)
            })
            .collect();
        found.sort_by_key(|&(file, line, _)| (file, line));
        let mut found = found.into_iter().peekable();
        let mut earlier = std::mem::take(&mut self.problems).into_iter();
        let mut merged = Vec::with_capacity(earlier.len() + repeated.len());
        let mut at = 0;
        for (file, rows) in (0u32..).zip(row_problems) {
            merged.extend(earlier.by_ref().take(rows.start - at));
            for problem in earlier.by_ref().take(rows.len()) {
                while let Some((.., d)) =
                    found.next_if(|(f, line, _)| *f == file && (*line as usize) < problem.line())
                {
                    merged.push(d);
                }
                merged.push(problem);
            }
            while let Some((.., d)) = found.next_if(|(f, ..)| *f == file) {
                merged.push(d);
            }
            at = rows.end;
        }
        merged.extend(earlier);
        self.problems = merged;
    }

    /// Optional: `groups/*.csv`, each council's comparator group (nearest neighbours). A
    /// group belongs to a council with a page; its members are councils, current or former.
    fn groups(&mut self, dir: &Path, areas: &[Area]) -> Result<Groups, LoadError> {
        let mut groups = Groups::new();
        if !dir.exists() {
            return Ok(groups);
        }
        let files = csv_files(dir).map_err(|source| LoadError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let kinds: HashMap<&AreaCode, AreaKind> =
            areas.iter().map(|a| (a.code(), a.kind())).collect();
        for path in files {
            let name = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            if !is_kebab_case(&name)
                || ["england", "region", "all-councils", "region-councils"].contains(&name.as_str())
            {
                self.at(&path, 1, 1, format!("expected a group file named in kebab-case other than a built-in comparator, such as nearest-neighbours.csv, found {name:?}"));
                continue;
            }
            let mut members: BTreeMap<AreaCode, Vec<AreaCode>> = BTreeMap::new();
            let read = self.csv_each(&path, &GROUPS_HEADER, |this, row| {
                let (owner, member) = match (
                    AreaCode::parse(&row.fields[0]),
                    AreaCode::parse(&row.fields[1]),
                ) {
                    (Ok(o), Ok(m)) => (o, m),
                    (Err(e), _) => {
                        this.at_field(&path, row, 0, e);
                        return;
                    }
                    (_, Err(e)) => {
                        this.at_field(&path, row, 1, e);
                        return;
                    }
                };
                if kinds.get(&owner) != Some(&AreaKind::La) {
                    this.at_field(&path, row, 0, format!("{owner} is not a council in areas.csv (kind la): a group belongs to a council with a page"));
                    return;
                }
                if !matches!(kinds.get(&member), Some(AreaKind::La | AreaKind::Former)) {
                    this.at_field(
                        &path,
                        row,
                        1,
                        format!("{member} is not a council in areas.csv (kind la or former)"),
                    );
                    return;
                }
                let list = members.entry(owner.clone()).or_default();
                if list.contains(&member) {
                    this.at_field(
                        &path,
                        row,
                        1,
                        format!("{member} is already in {owner}'s group"),
                    );
                    return;
                }
                list.push(member);
            })?;
            if read.is_none() {
                continue;
            }
            groups.insert(name, members);
        }
        Ok(groups)
    }

    fn fact(
        &mut self,
        path: &Path,
        row: &CsvRow,
        areas: &HashSet<&AreaCode>,
        metrics: &BTreeMap<MetricId, Metric>,
    ) -> Option<Fact> {
        let f = &row.fields;
        let mut ok = true;
        let area = match AreaCode::parse(&f[0]) {
            Ok(code) if areas.contains(&code) => Some(code),
            Ok(_) if self.areas_unreadable => None,
            Ok(code) => {
                self.at_field(
                    path,
                    row,
                    0,
                    format!("unknown area {code}: expected a code from areas.csv"),
                );
                None
            }
            Err(e) => {
                self.at_field(path, row, 0, e);
                None
            }
        };
        // A catalogued id is looked up by its text: no id is made per row.
        let metric = match metrics.get_key_value(&f[1]) {
            Some((_, m)) => Some(m),
            None => match MetricId::parse(&f[1]) {
                Ok(id) => {
                    if !self.is_broken(&id) {
                        self.at_field(
                            path,
                            row,
                            1,
                            format!("unknown metric {id}: expected an id from metrics.toml"),
                        );
                    }
                    None
                }
                Err(e) => {
                    self.at_field(path, row, 1, e);
                    None
                }
            },
        };
        let period = Period::parse(&f[2])
            .map_err(|e| self.at_field(path, row, 2, e))
            .ok();
        let value = metric.and_then(|m| match self.value(m, &f[3]) {
            Ok(v) => Some(v),
            Err(e) => {
                self.at_field(path, row, 3, e);
                None
            }
        });
        if f[4].trim().is_empty() {
            self.at_field(
                path,
                row,
                4,
                "expected the source dataset (table, sheet or question), found nothing",
            );
            ok = false;
        }
        match (area, metric, period, value, ok) {
            (Some(area), Some(metric), Some(period), Some(value), true) => Some(Fact::new(
                area,
                metric.id().clone(),
                period,
                value,
                self.citations.get(f[4].trim(), f[5].trim()),
            )),
            _ => None,
        }
    }

    fn value(&self, metric: &Metric, raw: &str) -> Result<Value, String> {
        if metric.unit() == Unit::Category {
            return if metric.values().iter().any(|v| v == raw) {
                Ok(Value::Category(raw.to_string()))
            } else {
                Err(format!(
                    "expected one of {} for {}, found {raw:?}",
                    metric.values().join(" / "),
                    metric.id()
                ))
            };
        }
        let n = Number::parse(raw)?;
        let v = n.value();
        if metric.unit() == Unit::Percent && !(0.0..=100.0).contains(&v) {
            return Err(format!(
                "expected a percent from 0 to 100 for {}, found {raw}",
                metric.id()
            ));
        }
        if metric.unit() == Unit::Decile && !(1.0..=10.0).contains(&v) {
            return Err(format!(
                "expected a decile from 1 to 10 for {}, found {raw}",
                metric.id()
            ));
        }
        if metric.unit().is_non_negative() && v < 0.0 {
            return Err(format!(
                "expected a non-negative value for {} (unit {}), found {raw}",
                metric.id(),
                metric.unit().name()
            ));
        }
        Ok(Value::Number(n))
    }

    /// Optional: named things whose numbers the checker treats as structural.
    fn allowlist(&mut self, path: &Path) -> Result<Vec<String>, LoadError> {
        if !path.exists() {
            return Ok(Vec::new());
        }
        let Some(text) = self.read(path)? else {
            return Ok(Vec::new());
        };
        Ok(self
            .toml::<RawAllowlist>(path, &text, "allowlist")
            .map_or_else(Vec::new, |raw| raw.names))
    }

    fn sections(
        &mut self,
        path: &Path,
        areas: &[Area],
        metrics: &BTreeMap<MetricId, Metric>,
        read: &FactsRead,
        groups: &[String],
    ) -> Result<Vec<Section>, LoadError> {
        let Some(text) = self.read(path)? else {
            return Ok(Vec::new());
        };
        let Some(raw) = self.toml::<RawSections>(path, &text, "sections file") else {
            return Ok(Vec::new());
        };
        // Indexed once, so checking every council value for its England value stays linear.
        let councils: HashSet<&AreaCode> = areas
            .iter()
            .filter(|a| a.kind() == AreaKind::La)
            .map(Area::code)
            .collect();
        let has_england_row: HashSet<(&MetricId, Period)> = read
            .facts
            .iter()
            .filter(|f| f.area().is_england())
            .map(|f| (f.metric(), f.period()))
            .collect();
        let mut ids = HashSet::new();
        let mut sections = Vec::new();
        for s in raw.section {
            let id = s.id.get_ref().clone();
            if !is_kebab_case(&id) {
                self.at_span(
                    path,
                    &text,
                    s.id.span().start,
                    format!(
                        "expected a section id in kebab-case such as older-people, found {id:?}"
                    ),
                );
                continue;
            }
            if !ids.insert(id.clone()) {
                self.at_span(
                    path,
                    &text,
                    s.id.span().start,
                    format!("duplicate section id {id}"),
                );
                continue;
            }
            let mut resolve = |list: &[Spanned<String>], what: &str| -> Vec<MetricId> {
                let mut out = Vec::new();
                for item in list {
                    match MetricId::parse(item.get_ref()) {
                        Ok(m) if metrics.contains_key(&m) => out.push(m),
                        Ok(m) if self.is_broken(&m) => {}
                        Ok(m) => {
                            let (l, c) = line_col(&text, item.span().start);
                            self.problems.push(Diagnostic::new(path, l, c, format!("section {id} names unknown {what}metric {m}: expected an id from metrics.toml")));
                        }
                        Err(e) => {
                            let (l, c) = line_col(&text, item.span().start);
                            self.problems.push(Diagnostic::new(path, l, c, e));
                        }
                    }
                }
                out
            };
            let section_metrics = resolve(&s.metrics, "");
            let context = resolve(&s.context, "context ");
            let compare = resolve(&s.compare, "compared ");
            let mut comparators = Vec::new();
            for c in &s.comparators {
                match Comparator::parse(c.get_ref(), groups) {
                    Ok(c) => comparators.push(c),
                    Err(e) => self.at_span(path, &text, c.span().start, e),
                }
            }
            if section_metrics.is_empty() && s.metrics.is_empty() {
                self.at_span(
                    path,
                    &text,
                    s.id.span().start,
                    format!("section {id} lists no metrics"),
                );
            }
            for item in &s.compare {
                let Some(m) = compare.iter().find(|m| m.as_str() == item.get_ref()) else {
                    continue; // already reported as unknown
                };
                if !section_metrics.contains(m) && !context.contains(m) {
                    self.at_span(
                        path,
                        &text,
                        item.span().start,
                        format!(
                            "section {id} compares {m}, which is not among its metrics or context"
                        ),
                    );
                    continue;
                }
                if !comparators.contains(&Comparator::England) {
                    self.at_span(path, &text, item.span().start, format!("section {id} compares {m} but its comparators do not include \"england\""));
                    continue;
                }
                // Every council value of a compared metric needs England's value for that period.
                for (i, fact) in read.facts.iter().enumerate() {
                    if fact.metric() != m {
                        continue;
                    }
                    let origin = read.origins.of(i);
                    let is_council = councils.contains(fact.area());
                    let has_england = has_england_row.contains(&(m, fact.period()));
                    if is_council && !has_england {
                        self.at_span(path, &text, item.span().start, format!(
                            "missing England comparator: section {id} compares {m}, but there is no {} row for period {} (the council's value is at {origin})",
                            super::area::ENGLAND,
                            fact.period()
                        ));
                    }
                }
            }
            let template = s.template.unwrap_or_else(|| format!("{id}.j2"));
            sections.push(Section::new(
                id,
                s.title,
                template,
                section_metrics,
                context,
                comparators,
                compare,
            ));
        }
        Ok(sections)
    }
}

/// Reads a data file (or a public table to import) as UTF-8 text without a byte-order mark:
/// the inner `Err` says where and why it is not, a file over [`MAX_FILE_BYTES`] or not UTF-8;
/// the outer one is an I/O failure.
pub(crate) fn read_text(path: &Path) -> std::io::Result<Result<String, Diagnostic>> {
    let file = std::fs::File::open(path)?;
    let declared = file.metadata()?.len();
    if declared > MAX_FILE_BYTES {
        return Ok(Err(Diagnostic::new(path, 1, 1, too_large(declared))));
    }
    // The limit holds for a file that grows while it is read, or a device with no end. Room
    // for the declared size at once: grown by doubling, a large file's buffer took twice it.
    let mut bytes = Vec::with_capacity(usize::try_from(declared).unwrap_or(0));
    file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Ok(Err(Diagnostic::new(
            path,
            1,
            1,
            too_large(bytes.len() as u64),
        )));
    }
    let advice = if path.extension().is_some_and(|e| e == "csv") {
        "save it as UTF-8 (in Excel: \"CSV UTF-8\")"
    } else {
        "save it as UTF-8"
    };
    Ok(utf8_text(bytes, advice)
        .map_err(|(line, column, message)| Diagnostic::new(path, line, column, message)))
}

/// The number of lines of a CSV file that can be parsed straight from disk: at most
/// [`MAX_FILE_BYTES`], UTF-8 (a byte-order mark aside) with no NUL byte and no bare CR. `None`
/// for any other file, which is read whole, so that its encoding is reported where it goes
/// wrong or its line endings made LF. Lines count as `str::lines` counts them.
fn plain_line_count(path: &Path) -> std::io::Result<Option<usize>> {
    let file = File::open(path)?;
    if file.metadata()?.len() > MAX_FILE_BYTES {
        return Ok(None);
    }
    let mut reader = BufReader::new(file.take(MAX_FILE_BYTES + 1));
    let mut read = skip_byte_order_mark(&mut reader)?;
    let (mut lines, mut line) = (0, Vec::new());
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line)?;
        if n == 0 {
            return Ok(Some(lines));
        }
        read += n;
        lines += 1;
        // A line ends at a LF, so UTF-8 can be checked a line at a time; a CR may only end one.
        let body = line.strip_suffix(b"\r\n").unwrap_or(&line);
        let plain =
            std::str::from_utf8(&line).is_ok() && !line.contains(&0) && !body.contains(&b'\r');
        if !plain || read as u64 > MAX_FILE_BYTES {
            return Ok(None);
        }
    }
}

/// Skips a UTF-8 byte-order mark at the start of `reader`, as the whole-file read drops it;
/// the answer is how many bytes were skipped.
fn skip_byte_order_mark(reader: &mut impl BufRead) -> std::io::Result<usize> {
    const MARK: [u8; 3] = [0xEF, 0xBB, 0xBF];
    if reader.fill_buf()?.starts_with(&MARK) {
        reader.consume(MARK.len());
        return Ok(MARK.len());
    }
    Ok(0)
}

/// Section ids, group and import names: lower-case letters, digits and hyphens.
pub(crate) fn is_kebab_case(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// The `*.csv` files of a folder, in name order.
fn csv_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "csv"))
        .collect();
    files.sort();
    Ok(files)
}

/// Each fact whose (area, metric, period) an earlier row already gave, with that row's fact:
/// neighbours in `order` (see [`key_order`]), the first read first among equals.
fn repeated_keys(facts: &[Fact], order: &[u32]) -> Vec<(usize, usize)> {
    let key = |i: u32| {
        let f = &facts[i as usize];
        (f.area(), f.metric(), f.period())
    };
    let mut repeated = Vec::new();
    let mut first = None;
    for &i in order {
        match first {
            Some(f) if key(f) == key(i) => repeated.push((i as usize, f as usize)),
            _ => first = Some(i),
        }
    }
    repeated
}

/// Where a `[[table]]` entry lacks a required field: toml reports "missing field `label`" with
/// no place, so find the first entry of any array of tables without that field and point at its
/// header.
fn missing_field_offset(text: &str, message: &str) -> Option<usize> {
    let field = message.strip_prefix("missing field `")?.split('`').next()?;
    let document: toml::Table = text.parse().ok()?;
    let (array, index) = document.iter().find_map(|(name, value)| {
        let entries = value.as_array()?;
        let index = entries
            .iter()
            .position(|e| e.as_table().is_some_and(|t| !t.contains_key(field)))?;
        Some((name, index))
    })?;
    let header = format!("[[{array}]]");
    let mut offset = 0;
    let mut seen = 0;
    for line in text.split_inclusive('\n') {
        if line.trim_start().starts_with(&header) {
            if seen == index {
                return Some(offset);
            }
            seen += 1;
        }
        offset += line.len();
    }
    None
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMetrics {
    #[serde(default)]
    metric: Vec<RawMetric>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMetric {
    id: Spanned<String>,
    label: String,
    unit: Spanned<String>,
    polarity: Spanned<String>,
    definition: String,
    source: String,
    denominator: Option<Spanned<String>>,
    count_metric: Option<Spanned<String>>,
    values: Option<Spanned<Vec<String>>>,
    dated_by: Option<Spanned<String>>,
    higher_means: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSections {
    #[serde(default)]
    section: Vec<RawSection>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSection {
    id: Spanned<String>,
    title: String,
    template: Option<String>,
    metrics: Vec<Spanned<String>>,
    #[serde(default)]
    context: Vec<Spanned<String>>,
    #[serde(default)]
    comparators: Vec<Spanned<String>>,
    #[serde(default)]
    compare: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAllowlist {
    names: Vec<String>,
}

/// `higher_means` is "more <word>" or "less <word>": the checker reads comparison words
/// against it.
fn higher_means_ok(raw: &str) -> bool {
    let mut words = raw.split_whitespace();
    matches!(words.next(), Some("more" | "less"))
        && words
            .next()
            .is_some_and(|w| w.chars().all(|c| c.is_ascii_alphabetic()))
        && words.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_dir() {
                copy(&entry.path(), &to.join(entry.file_name()));
            } else {
                std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
            }
        }
    }

    #[test]
    fn only_plain_utf8_is_streamed_and_its_lines_count_as_str_lines_does() {
        let dir = tempfile::tempdir().unwrap();
        let count = |bytes: &[u8]| {
            let path = dir.path().join("t.csv");
            std::fs::write(&path, bytes).unwrap();
            plain_line_count(&path).unwrap()
        };
        for text in ["", "a", "a\n", "a\nb", "a\r\nb\r\n", "\n\n", "£5,x\n"] {
            assert_eq!(
                count(text.as_bytes()),
                Some(text.lines().count()),
                "{text:?}"
            );
        }
        assert_eq!(count(b"\xEF\xBB\xBFa\nb\n"), Some(2));
        for other in [&b"a\rb\n"[..], b"a\r", b"\xA3\n", b"a\0b", b"\xFF\xFEa\0"] {
            assert_eq!(count(other), None, "{other:?}");
        }
    }

    /// Problems come as if every file were read row by row: each file's form first, then its
    /// rows' in line order, a repeated fact among them, though repeats are found at the end.
    #[test]
    fn repeated_facts_are_reported_in_reading_order() {
        let dir = tempfile::tempdir().unwrap();
        copy(Path::new("data"), dir.path());
        let header = "area_code,metric,period,value,source,note\n";
        let a = format!(
            "{header}E06000022,population,2023,1,x,\n\
             E06000022,population,2030,1,x\n\
             Nope,population,2030,1,x,\n\
             E06000022,population,2031,1,x,\n\
             E06000022,population,2031,2,x,\n\
             E06000022,population,2032,1,x,x,x\n"
        );
        std::fs::write(dir.path().join("facts/zz-a.csv"), a).unwrap();
        let b = format!("{header}E06000022,population,2031,3,x,\n");
        std::fs::write(dir.path().join("facts/zz-b.csv"), b).unwrap();
        let Err(LoadError::Invalid(problems)) = load(dir.path()) else {
            panic!("the repeats are problems");
        };
        let ours: Vec<(String, usize, &str)> = problems
            .iter()
            .filter_map(|p| {
                let name = p.file().file_name()?.to_string_lossy().into_owned();
                name.starts_with("zz-")
                    .then(|| (name, p.line(), p.message().split(':').next().unwrap()))
            })
            .collect();
        let at = |file: &str, line, what| (file.to_string(), line, what);
        assert_eq!(
            ours,
            [
                at(
                    "zz-a.csv",
                    3,
                    "expected 6 fields (area_code,metric,period,value,source,note), found 5"
                ),
                at(
                    "zz-a.csv",
                    7,
                    "expected 6 fields (area_code,metric,period,value,source,note), found 7"
                ),
                at("zz-a.csv", 2, "duplicate fact"),
                at(
                    "zz-a.csv",
                    4,
                    "expected an ONS area code such as E06000022, found \"Nope\""
                ),
                at("zz-a.csv", 6, "duplicate fact"),
                at("zz-b.csv", 2, "duplicate fact"),
            ]
        );
        let repeat = |file: &str, line| {
            problems
                .iter()
                .find(|p| p.file().ends_with(file) && p.line() == line)
                .unwrap()
                .message()
                .to_string()
        };
        assert!(repeat("zz-a.csv", 2).ends_with("bath-and-north-east-somerset.csv:2"));
        assert!(repeat("zz-b.csv", 2).ends_with("zz-a.csv:5"));
    }
}
