//! One validation problem, located at a file, line and column.

use std::fmt;
use std::path::{Path, PathBuf};

/// A problem found while validating `data/`; many are collected and reported at once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    file: PathBuf,
    line: usize,
    column: usize,
    message: String,
}

impl Diagnostic {
    pub fn new(file: &Path, line: usize, column: usize, message: impl Into<String>) -> Self {
        Self {
            file: file.to_path_buf(),
            line,
            column,
            message: message.into(),
        }
    }

    pub fn file(&self) -> &Path {
        &self.file
    }

    pub fn line(&self) -> usize {
        self.line
    }

    pub fn column(&self) -> usize {
        self.column
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file.display(),
            self.line,
            self.column,
            self.message
        )
    }
}

/// 1-based line and column of a byte offset in `text` (columns count characters).
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// 1-based column at which CSV field `index` starts on `line`, honouring double quotes.
pub(crate) fn csv_field_column(line: &str, index: usize) -> usize {
    let mut field = 0;
    let mut in_quotes = false;
    for (column, c) in line.chars().enumerate() {
        if field == index {
            return column + 1;
        }
        match c {
            '"' => in_quotes = !in_quotes,
            ',' if !in_quotes => field += 1,
            _ => {}
        }
    }
    line.chars().count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_from_one() {
        assert_eq!(line_col("ab\ncd", 0), (1, 1));
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
    }

    #[test]
    fn csv_field_column_skips_commas_inside_quotes() {
        let line = r#"E1,"a, b",c"#;
        assert_eq!(csv_field_column(line, 0), 1);
        assert_eq!(csv_field_column(line, 1), 4);
        assert_eq!(csv_field_column(line, 2), 11);
    }
}
