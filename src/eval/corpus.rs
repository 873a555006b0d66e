//! The checker on published text we did not write: the seed pages' narratives, read from
//! `../shared/seeds` at run time, against our annotation of every figure they quote.
//!
//! An annotation file names a seed page, its council and the SHA-256 of the page (line numbers
//! mean nothing on another version of it), then each section's narrative as a range of the
//! page's lines, then one line per figure: the page line it stands on, the figure as written,
//! the verdict it deserves and, for the page's own slips, what kind of slip it is. Nothing of
//! the pages' sentences is copied: only figures and line numbers.
//!
//! ```text
//! page 000_e36909d2fd9068bc.txt E06000022 sha256=…
//! section working-age 32-46
//! 32 "16.2%" supported
//! 130 "57%" supported            # a national survey's figure, given to England
//! 130 "99.8" unsupported slip=percent-as-count
//! ```

use super::mutate::{excerpt, mutants, render_escapes, render_kinds, tally, MutantKind};
use crate::check::{Checker, Report, Verdict};
use crate::facts::{FactSet, SectionFacts};
use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Targets from the issue: false flags on true figures, precision of flags, mutants caught.
pub const FALSE_FLAG_TARGET: f64 = 0.01;
pub const PRECISION_TARGET: f64 = 0.90;
pub const MUTANT_TARGET: f64 = 0.98;
pub const MUTANT_KIND_TARGET: f64 = 0.95;

/// One annotated seed page.
#[derive(Clone, Debug)]
pub struct Page {
    path: PathBuf,
    seed: String,
    area: String,
    sha256: String,
    sections: Vec<Section>,
}

#[derive(Clone, Debug)]
struct Section {
    id: String,
    first: usize,
    last: usize,
    figures: Vec<Expected>,
}

#[derive(Clone, Debug)]
struct Expected {
    /// Line of the annotation file, for messages.
    at: usize,
    /// Line of the seed page the figure stands on.
    line: usize,
    figure: String,
    verdict: Verdict,
    slip: Option<String>,
}

impl Page {
    /// Parses one annotation file; every problem names the file and line.
    pub fn parse(path: &Path, raw: &str) -> Result<Page> {
        let here = |n: usize| format!("{}:{}", path.display(), n + 1);
        let mut page: Option<Page> = None;
        for (n, line) in raw.lines().enumerate() {
            let line = strip_comment(line).trim();
            if line.is_empty() {
                continue;
            }
            let mut words = line.split_whitespace();
            let head = words.next().expect("a non-empty line has a word");
            match head {
                "page" => {
                    if page.is_some() {
                        bail!("{}: a second `page` line (one page a file)", here(n));
                    }
                    let (Some(seed), Some(area), Some(sha)) =
                        (words.next(), words.next(), words.next())
                    else {
                        bail!(
                            "{}: expected `page <seed file> <area code> sha256=<hex>`",
                            here(n)
                        );
                    };
                    let sha256 = sha
                        .strip_prefix("sha256=")
                        .filter(|h| h.len() == 64)
                        .with_context(|| format!("{}: expected sha256=<64 hex digits>", here(n)))?;
                    page = Some(Page {
                        path: path.to_path_buf(),
                        seed: seed.to_string(),
                        area: area.to_string(),
                        sha256: sha256.to_ascii_lowercase(),
                        sections: Vec::new(),
                    });
                }
                "section" => {
                    let p = page
                        .as_mut()
                        .with_context(|| format!("{}: `section` before `page`", here(n)))?;
                    let (Some(id), Some(range)) = (words.next(), words.next()) else {
                        bail!("{}: expected `section <id> <first>-<last>`", here(n));
                    };
                    let (first, last) = range
                        .split_once('-')
                        .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
                        .filter(|(a, b): &(usize, usize)| *a >= 1 && a <= b)
                        .with_context(|| {
                            format!(
                                "{}: expected a line range like 32-46, got {range:?}",
                                here(n)
                            )
                        })?;
                    p.sections.push(Section {
                        id: id.to_string(),
                        first,
                        last,
                        figures: Vec::new(),
                    });
                }
                _ => {
                    let section = page
                        .as_mut()
                        .and_then(|p| p.sections.last_mut())
                        .with_context(|| format!("{}: a figure before any `section`", here(n)))?;
                    let expected = parse_figure(line, n + 1).with_context(|| {
                        format!(
                            "{}: expected `<line> \"<figure>\" <verdict> [slip=<kind>]`",
                            here(n)
                        )
                    })?;
                    if expected.line < section.first || expected.line > section.last {
                        bail!(
                            "{}: line {} is outside section {} ({}-{})",
                            here(n),
                            expected.line,
                            section.id,
                            section.first,
                            section.last
                        );
                    }
                    if expected.verdict.is_flag() != expected.slip.is_some() {
                        bail!(
                            "{}: a flagged verdict needs slip=<kind>, and only a flagged one has it",
                            here(n)
                        );
                    }
                    section.figures.push(expected);
                }
            }
        }
        page.with_context(|| format!("{}: no `page` line", path.display()))
    }
}

fn strip_comment(line: &str) -> &str {
    // A `#` inside the quoted figure is not a comment (no figure has one, but be exact).
    let mut quoted = false;
    for (i, c) in line.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '#' if !quoted => return &line[..i],
            _ => {}
        }
    }
    line
}

fn parse_figure(line: &str, at: usize) -> Option<Expected> {
    let (number, rest) = line.split_once(char::is_whitespace)?;
    let rest = rest.trim_start().strip_prefix('"')?;
    let (figure, rest) = rest.split_once('"')?;
    let mut words = rest.split_whitespace();
    let verdict = Verdict::parse(words.next()?)?;
    let slip = match words.next() {
        Some(w) => Some(w.strip_prefix("slip=")?.to_string()),
        None => None,
    };
    if words.next().is_some() || figure.is_empty() {
        return None;
    }
    Some(Expected {
        at,
        line: number.parse().ok()?,
        figure: figure.to_string(),
        verdict,
        slip,
    })
}

/// Every `*.corpus` file under `dir`, sorted by name.
pub fn load_pages(dir: &Path) -> Result<Vec<Page>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "corpus"))
        .collect();
    paths.sort();
    if paths.is_empty() {
        bail!("{}: no *.corpus annotation files", dir.display());
    }
    paths
        .iter()
        .map(|p| {
            let raw =
                std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            Page::parse(p, &raw)
        })
        .collect()
}

/// A section's narrative: its lines of the page, one paragraph each (the page dump puts each
/// paragraph on one line; the blank line between them is what a model's answer would have).
/// Returns the text and the byte offset where each page line starts in it.
fn narrative(page_lines: &[&str], first: usize, last: usize) -> (String, Vec<(usize, usize)>) {
    let mut text = String::new();
    let mut starts = Vec::new();
    for n in first..=last {
        if n > first {
            text.push_str("\n\n");
        }
        starts.push((n, text.len()));
        text.push_str(page_lines.get(n - 1).copied().unwrap_or(""));
    }
    (text, starts)
}

fn line_of(starts: &[(usize, usize)], at: usize) -> usize {
    starts
        .iter()
        .rev()
        .find(|&&(_, s)| s <= at)
        .map_or(0, |&(n, _)| n)
}

/// One section's counts.
#[derive(Debug, Default, Clone)]
pub struct SectionRow {
    /// `area:section`
    pub name: String,
    /// Figures the annotation calls true, and how many of them the checker flagged.
    pub true_figures: usize,
    pub false_flags: usize,
    /// The page's own slips, how many were flagged, and how many with the annotated verdict.
    pub slips: usize,
    pub slips_flagged: usize,
    pub slips_right: usize,
}

impl SectionRow {
    fn add(&mut self, other: &SectionRow) {
        self.true_figures += other.true_figures;
        self.false_flags += other.false_flags;
        self.slips += other.slips;
        self.slips_flagged += other.slips_flagged;
        self.slips_right += other.slips_right;
    }
}

/// What the corpus evaluation found, section by section.
#[derive(Debug, Default)]
pub struct CorpusSummary {
    pub sections: Vec<SectionRow>,
    /// False flags counted by the verdict the checker gave.
    pub false_flags_by_verdict: BTreeMap<&'static str, usize>,
    /// One line per false flag, per missed or misjudged slip, per unannotated or missing figure.
    pub false_flags: Vec<String>,
    pub slips: Vec<String>,
    pub coverage: Vec<String>,
    /// (kind, mutants, caught)
    pub kinds: Vec<(MutantKind, usize, usize)>,
    pub escapes: Vec<String>,
    pub show_all: bool,
}

impl CorpusSummary {
    fn totals(&self) -> SectionRow {
        let mut all = SectionRow {
            name: "all".to_string(),
            ..SectionRow::default()
        };
        for row in &self.sections {
            all.add(row);
        }
        all
    }

    pub fn false_flag_rate(&self) -> f64 {
        let all = self.totals();
        ratio(all.false_flags, all.true_figures)
    }

    /// True flags (on slips) over all flags.
    pub fn precision(&self) -> f64 {
        let all = self.totals();
        let flags = all.false_flags + all.slips_flagged;
        if flags == 0 {
            1.0
        } else {
            ratio(all.slips_flagged, flags)
        }
    }

    pub fn mutants_caught(&self) -> (usize, usize) {
        self.kinds
            .iter()
            .fold((0, 0), |(m, c), k| (m + k.1, c + k.2))
    }

    pub fn meets_targets(&self) -> bool {
        let all = self.totals();
        let (m, c) = self.mutants_caught();
        self.coverage.is_empty()
            && self.false_flag_rate() <= FALSE_FLAG_TARGET
            && self.precision() >= PRECISION_TARGET
            && all.slips_right == all.slips
            && m > 0
            && ratio(c, m) >= MUTANT_TARGET
            && self
                .kinds
                .iter()
                .filter(|k| k.1 > 0)
                .all(|&(_, m, c)| ratio(c, m) >= MUTANT_KIND_TARGET)
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "the checker on the seed pages' published narratives (text read from the seeds at run time)"
        );
        let _ = writeln!(
            out,
            "{:<34} {:>6} {:>7} {:>6} {:>8} {:>8}",
            "page:section", "true", "f.flags", "slips", "flagged", "right"
        );
        let all = self.totals();
        for row in self.sections.iter().chain([&all]) {
            let _ = writeln!(
                out,
                "{:<34} {:>6} {:>7} {:>6} {:>8} {:>8}",
                row.name,
                row.true_figures,
                row.false_flags,
                row.slips,
                row.slips_flagged,
                row.slips_right
            );
        }
        let _ = writeln!(
            out,
            "false flags on true figures: {} of {} ({:.1}%, target <= {:.0}%)",
            all.false_flags,
            all.true_figures,
            self.false_flag_rate() * 100.0,
            FALSE_FLAG_TARGET * 100.0
        );
        let by: Vec<String> = self
            .false_flags_by_verdict
            .iter()
            .map(|(v, n)| format!("{n} {v}"))
            .collect();
        if !by.is_empty() {
            let _ = writeln!(out, "  by verdict given: {}", by.join(", "));
        }
        let _ = writeln!(
            out,
            "precision of flags: {:.1}% (target >= {:.0}%); slips flagged {} of {}, with the right verdict {} of {}",
            self.precision() * 100.0,
            PRECISION_TARGET * 100.0,
            all.slips_flagged,
            all.slips,
            all.slips_right,
            all.slips
        );
        for line in self
            .false_flags
            .iter()
            .chain(&self.slips)
            .chain(&self.coverage)
        {
            let _ = writeln!(out, "  {line}");
        }
        let _ = writeln!(out, "\nmutation harness over the same narratives");
        render_kinds(&mut out, &self.kinds);
        render_escapes(&mut out, &self.escapes, self.show_all);
        let _ = writeln!(
            out,
            "targets: false flags <= {:.0}%, precision >= {:.0}%, every slip with its verdict, every figure annotated, mutants >= {:.0}% and every kind >= {:.0}%: {}",
            FALSE_FLAG_TARGET * 100.0,
            PRECISION_TARGET * 100.0,
            MUTANT_TARGET * 100.0,
            MUTANT_KIND_TARGET * 100.0,
            if self.meets_targets() { "met" } else { "NOT met" }
        );
        out
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// Reads a seed page, refusing one whose digest is not the annotated one.
fn read_seed(seeds: &Path, page: &Page) -> Result<String> {
    let path = seeds.join(&page.seed);
    let raw = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "reading {} (named by {}): the corpus evaluation needs the seed pages beside the \
             clone (../shared/seeds, or --seeds DIR); it never passes without them",
            path.display(),
            page.path.display()
        )
    })?;
    let digest: String = Sha256::digest(raw.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    if digest != page.sha256 {
        bail!(
            "{}: sha256 is {digest}, but {} was annotated for {}: its line numbers no longer hold",
            path.display(),
            page.path.display(),
            page.sha256
        );
    }
    Ok(raw)
}

fn facts_for(set: &FactSet, page: &Page, section: &str) -> Result<SectionFacts> {
    let area = set
        .find_area(&page.area)
        .map_err(anyhow::Error::msg)
        .with_context(|| page.path.display().to_string())?;
    let section = set
        .find_section(section)
        .map_err(anyhow::Error::msg)
        .with_context(|| page.path.display().to_string())?;
    Ok(set.section_facts(area, section))
}

/// Checks every annotated narrative, compares each figure's verdict with the annotation, and
/// runs the mutation harness over the same texts.
pub fn evaluate_corpus(set: &FactSet, pages: &[Page], seeds: &Path) -> Result<CorpusSummary> {
    let mut summary = CorpusSummary {
        kinds: MutantKind::ALL.iter().map(|k| (*k, 0, 0)).collect(),
        ..CorpusSummary::default()
    };
    for page in pages {
        let raw = read_seed(seeds, page)?;
        let page_lines: Vec<&str> = raw.lines().collect();
        for section in &page.sections {
            if section.last > page_lines.len() {
                bail!(
                    "{}: section {} ends at line {}, but {} has {} lines",
                    page.path.display(),
                    section.id,
                    section.last,
                    page.seed,
                    page_lines.len()
                );
            }
            let facts = facts_for(set, page, &section.id)?;
            let (text, starts) = narrative(&page_lines, section.first, section.last);
            let checker = Checker::new(&facts);
            let report = checker.check(&text);
            let row = judge_section(page, section, &starts, &report, &mut summary);
            summary.sections.push(row);
            mutate_section(
                page,
                section,
                &text,
                &starts,
                &report,
                &checker,
                &facts,
                &mut summary,
            );
        }
    }
    Ok(summary)
}

/// Pairs the report's mentions with the annotation, in order within each page line, and
/// counts.
fn judge_section(
    page: &Page,
    section: &Section,
    starts: &[(usize, usize)],
    report: &Report,
    summary: &mut CorpusSummary,
) -> SectionRow {
    let mut used = vec![false; section.figures.len()];
    let mut row = SectionRow {
        name: format!("{}:{}", page.area, section.id),
        ..SectionRow::default()
    };
    let seed = &page.seed;
    for m in &report.mentions {
        let line = line_of(starts, m.span.0);
        let found = section
            .figures
            .iter()
            .enumerate()
            .find(|(k, e)| !used[*k] && e.line == line && e.figure == m.text);
        let Some((k, e)) = found else {
            summary.coverage.push(format!(
                "{seed}:{line}: {:?} ({}) is a figure the annotation ({}, section {}) lacks",
                m.text,
                m.verdict.name(),
                page.path.display(),
                section.id
            ));
            continue;
        };
        used[k] = true;
        if e.verdict.is_flag() {
            row.slips += 1;
            let slip = e.slip.as_deref().unwrap_or("");
            if m.verdict.is_flag() {
                row.slips_flagged += 1;
            }
            if m.verdict == e.verdict {
                row.slips_right += 1;
            } else {
                summary.slips.push(format!(
                    "slip {seed}:{line} {:?} [{slip}]: expected {}, got {}: {}",
                    m.text,
                    e.verdict.name(),
                    m.verdict.name(),
                    m.message
                ));
            }
        } else {
            row.true_figures += 1;
            if m.verdict.is_flag() {
                row.false_flags += 1;
                *summary
                    .false_flags_by_verdict
                    .entry(m.verdict.name())
                    .or_default() += 1;
                summary.false_flags.push(format!(
                    "false flag {seed}:{line} {:?} {}: {}",
                    m.text,
                    m.verdict.name(),
                    m.message
                ));
            }
        }
    }
    for (k, e) in section.figures.iter().enumerate() {
        if !used[k] {
            summary.coverage.push(format!(
                "{}:{}: {:?} on {seed}:{} was not found as a figure",
                page.path.display(),
                e.at,
                e.figure,
                e.line
            ));
        }
    }
    row
}

#[allow(clippy::too_many_arguments)]
fn mutate_section(
    page: &Page,
    section: &Section,
    text: &str,
    starts: &[(usize, usize)],
    report: &Report,
    checker: &Checker,
    facts: &SectionFacts,
    summary: &mut CorpusSummary,
) {
    // Mutate only figures the annotation calls true: a slip made worse proves nothing.
    let is_true = |m: &crate::check::Mention| {
        let line = line_of(starts, m.span.0);
        section
            .figures
            .iter()
            .any(|e| e.line == line && e.figure == m.text && !e.verdict.is_flag())
    };
    let original: Vec<(&str, Verdict)> = report
        .flagged()
        .map(|m| (m.text.as_str(), m.verdict))
        .collect();
    // The mutants are made from the figures the annotation calls true only.
    let mut trusted = report.clone();
    trusted.mentions.retain(is_true);
    for mutant in mutants(text, &trusted, facts) {
        let got = checker.check(&mutant.text);
        // Caught when the mutant is flagged somewhere the original was not.
        let mut left = original.clone();
        let caught = got.flagged().any(|m| {
            match left
                .iter()
                .position(|(t, v)| *t == m.text && *v == m.verdict)
            {
                Some(i) => {
                    left.remove(i);
                    false
                }
                None => true,
            }
        });
        if !tally(&mut summary.kinds, mutant.kind, caught) {
            let at = mutant.at.unwrap_or(0);
            summary.escapes.push(format!(
                "{}:{} [{}]: ...{}...",
                page.seed,
                line_of(starts, at),
                mutant.kind.name(),
                excerpt(&mutant.text, mutant.at)
            ));
        }
    }
}

/// Annotation lines for a section as the checker judges it today, for starting a new page's
/// annotation (each line still needs a person's verdict).
pub fn draft_annotation(set: &FactSet, page: &Page, seeds: &Path) -> Result<String> {
    let raw = read_seed(seeds, page)?;
    let page_lines: Vec<&str> = raw.lines().collect();
    let mut out = String::new();
    for section in &page.sections {
        let facts = facts_for(set, page, &section.id)?;
        let (text, starts) = narrative(&page_lines, section.first, section.last);
        let report = Checker::new(&facts).check(&text);
        let _ = writeln!(
            out,
            "section {} {}-{}",
            section.id, section.first, section.last
        );
        for m in &report.mentions {
            let slip = if m.verdict.is_flag() { " slip=?" } else { "" };
            let _ = writeln!(
                out,
                "{} {:?} {}{slip}  # {}",
                line_of(&starts, m.span.0),
                m.text,
                m.verdict.name(),
                m.message
            );
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "page p.txt E06000022 sha256=0000000000000000000000000000000000000000000000000000000000000000\n";

    #[test]
    fn an_annotation_reads_sections_and_figures() {
        let raw = format!(
            "{HEAD}section carers 3-5\n3 \"37.4%\" supported  # a comment\n5 \"one in five\" unsupported slip=made-up\n"
        );
        let page = Page::parse(Path::new("a.corpus"), &raw).unwrap();
        assert_eq!(page.sections.len(), 1);
        let figs = &page.sections[0].figures;
        assert_eq!(figs[0].figure, "37.4%");
        assert_eq!(figs[1].figure, "one in five");
        assert_eq!(figs[1].slip.as_deref(), Some("made-up"));
    }

    #[test]
    fn a_bad_annotation_line_names_the_file_and_line() {
        for bad in [
            "section carers 3-5\n3 37.4% supported\n",
            "section carers 3-5\n9 \"37.4%\" supported\n",
            "section carers 3-5\n3 \"37.4%\" unsupported\n",
            "section carers 3-5\n3 \"37.4%\" supported slip=x\n",
            "section carers 5-3\n",
        ] {
            let err = Page::parse(Path::new("b.corpus"), &format!("{HEAD}{bad}"))
                .unwrap_err()
                .to_string();
            assert!(err.starts_with("b.corpus:"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn the_narrative_puts_a_blank_line_between_page_lines() {
        let lines = ["a", "b.", "c"];
        let (text, starts) = narrative(&lines, 2, 3);
        assert_eq!(text, "b.\n\nc");
        assert_eq!(line_of(&starts, 0), 2);
        assert_eq!(line_of(&starts, 4), 3);
    }
}
