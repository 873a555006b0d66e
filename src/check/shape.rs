//! Whether an answer is prose at all: paragraphs (bullet lists of sentences included) are checked
//! figure by figure; markup, tables and lists that repeat the facts are not a narrative.

use std::sync::LazyLock;

use regex::Regex;

/// Why an answer is not a narrative the checker can judge, in words a reviewer can act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NotProse {
    /// HTML tags where plain paragraphs were asked for.
    Markup(String),
    /// A table (markdown pipes), as small models write when they copy the facts they were shown.
    Table { rows: usize },
    /// A list whose items are labels with a figure ("- Requests (2023-24): 2,765"), not sentences.
    FactList { items: usize, of: usize },
}

impl std::fmt::Display for NotProse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotProse::Markup(tag) => {
                write!(f, "the answer holds HTML markup ({tag}), not plain text")
            }
            NotProse::Table { rows } => write!(
                f,
                "the answer holds a table ({rows} rows) that repeats the facts; a narrative is \
                 written in paragraphs"
            ),
            NotProse::FactList { items, of } => write!(
                f,
                "the answer is a list of {items} labelled figures (of {of} items), not sentences; \
                 a narrative says what the figures mean"
            ),
        }
    }
}

/// A list item's marker at a line start: `-`, `*`, `+`, `•`, `–`, or `1.` / `1)`, then a space.
pub(crate) fn list_marker_len(line: &str) -> Option<usize> {
    let trimmed = line.trim_start_matches([' ', '\t']);
    let indent = line.len() - trimmed.len();
    let mut chars = trimmed.char_indices();
    let (_, first) = chars.next()?;
    let after = if matches!(first, '-' | '*' | '+' | '•' | '–') {
        first.len_utf8()
    } else if first.is_ascii_digit() {
        let digits = trimmed.bytes().take_while(u8::is_ascii_digit).count();
        match trimmed.as_bytes().get(digits) {
            Some(b'.' | b')') if digits <= 2 => digits + 1,
            _ => return None,
        }
    } else {
        return None;
    };
    trimmed[after..]
        .starts_with([' ', '\t'])
        .then_some(indent + after + 1)
}

/// `None` when `text` is prose; otherwise why it is not.
pub fn not_prose(text: &str) -> Option<NotProse> {
    static TAG: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"</?[A-Za-z][A-Za-z0-9-]*(\s[^<>]*)?/?>").expect("a valid pattern")
    });
    if let Some(tag) = TAG.find(text) {
        return Some(NotProse::Markup(tag.as_str().chars().take(40).collect()));
    }
    table(text).or_else(|| fact_list(text))
}

/// Two or more lines holding at least two cells between pipes, or a header with its
/// `|---|---|` rule: the shape of a markdown table, whatever is in the cells.
fn table(text: &str) -> Option<NotProse> {
    let piped = |line: &str| line.matches('|').count() >= 2;
    let rule = |line: &str| {
        let t = line.trim();
        t.contains('-') && t.contains('|') && t.chars().all(|c| matches!(c, '|' | '-' | ':' | ' '))
    };
    let lines: Vec<&str> = text.lines().collect();
    let longest_run = lines
        .split(|l| !piped(l))
        .map(<[&str]>::len)
        .max()
        .unwrap_or(0);
    let has_rule = lines.iter().any(|l| rule(l));
    (longest_run >= 3 || (longest_run >= 2 && has_rule)).then(|| NotProse::Table {
        rows: lines.iter().filter(|l| piped(l) && !rule(l)).count(),
    })
}

/// Most items of a list are a label and a figure, with no sentence around it: the facts
/// table again, one line per row. Lists of sentences are prose.
fn fact_list(text: &str) -> Option<NotProse> {
    // A label (no sentence end inside), a colon or dash, then the value and at most a bracket
    // or a few words of unit after it.
    static LABELLED: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(
            r"^[^.!?:]{1,100}(?::|\s[-–=]\s)\s*(?:about\s+|around\s+)?[£$€]?\d[\d,.]*\s*(?:%|million|m|k|bn)?(?:\s+[A-Za-z²0-9,]+){0,4}\s*(?:\([^()]*\))?\s*\.?$",
        )
        .expect("a valid pattern")
    });
    // A metric id copied from the facts table (`wa_requests_rate`): no sentence names one.
    static METRIC_ID: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"\b[a-z0-9]+(?:_[a-z0-9]+){1,}\b").expect("a valid pattern"));
    let items: Vec<&str> = text
        .lines()
        .filter_map(|line| list_marker_len(line).map(|n| line[n..].trim()))
        .collect();
    if items.len() < 2 {
        return None;
    }
    let labelled = items
        .iter()
        .filter(|item| {
            let plain = item.replace("**", "");
            LABELLED.is_match(&plain) || METRIC_ID.is_match(&plain)
        })
        .count();
    (labelled * 2 > items.len()).then_some(NotProse::FactList {
        items: labelled,
        of: items.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paragraphs_and_lists_of_sentences_are_prose() {
        let prose = "In 2023-24, 41.6% of carers said they had as much social contact as they \
                     wanted, below the England average of 43.9% (a < b > c is no tag).";
        assert_eq!(not_prose(prose), None);
        let sentences = "What the figures show:\n\n- In 2024, 8,010 older people asked for care.\n\
                         - That is 2,220.67 per 100,000, below England's 2,437.85\n\
                         - Fewer of them, 95.65 per 100,000, moved into nursing homes.";
        assert_eq!(not_prose(sentences), None);
        let ratio = "Spending rose by 5% - from £74.6 million to £78.3 million - in a year.";
        assert_eq!(not_prose(ratio), None);
    }

    #[test]
    fn markup_is_not_prose() {
        for html in [
            "<p>Text</p>",
            "Text<br/>",
            "<script>alert(1)</script>",
            "<img src=x onerror=y>",
        ] {
            let reason = not_prose(html).expect(html).to_string();
            assert!(reason.contains("HTML markup"), "{reason}");
        }
    }

    #[test]
    fn a_copied_facts_table_is_not_prose() {
        let table = "Here are the figures.\n\n| Measure | Coventry | England |\n|---|---|---|\n\
                     | Requests per 100,000 | 2,220.67 | 2,437.85 |\n| Nursing per 100,000 | 95.65 | 111.9 |";
        assert_eq!(not_prose(table), Some(NotProse::Table { rows: 3 }));
        let bare = "life | 58.77 | higher\nsatisfied | 64.7 | 61.4\nworkforce | 8.4 | 10.16";
        assert!(matches!(not_prose(bare), Some(NotProse::Table { .. })));
        // One aside with pipes is not a table.
        assert_eq!(
            not_prose("Rates (council | England) were 3 | 4 apart."),
            None
        );
    }

    #[test]
    fn a_list_of_labelled_figures_is_not_prose() {
        let list = "- Requests from older people (2023-24): 2,220.67 per 100,000\n\
                    - England: 2,437.85\n- **Nursing placements**: 95.65 (2023-24)\n\
                    - op_nursing_rate 95.65";
        let reason = not_prose(list).expect("a fact list");
        assert_eq!(reason, NotProse::FactList { items: 4, of: 4 });
        assert!(reason.to_string().contains("not sentences"));
        let numbered = "1. Vacancy rate - 10.16%\n2. Turnover - 20%\n3. It rose in 2024.";
        assert!(matches!(
            not_prose(numbered),
            Some(NotProse::FactList { items: 2, of: 3 })
        ));
    }

    #[test]
    fn list_markers_are_read_at_a_line_start_only() {
        assert_eq!(list_marker_len("- item"), Some(2));
        assert_eq!(list_marker_len("  * item"), Some(4));
        assert_eq!(list_marker_len("12. item"), Some(4));
        assert_eq!(list_marker_len("• item"), Some(4));
        assert_eq!(list_marker_len("2024. The year"), None);
        assert_eq!(list_marker_len("-5% fell"), None);
        assert_eq!(list_marker_len("In 2024 - a year"), None);
    }
}
