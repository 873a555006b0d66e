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

/// `bytes` as UTF-8 text without a leading byte-order mark (Excel's "CSV UTF-8" writes one),
/// or where and why they are not text: UTF-16, bytes that are not UTF-8 (a Latin-1 or
/// Windows-1252 export), or NUL bytes. The error is (line, column, message), the message
/// ending with `advice` (what to do about it).
pub(crate) fn utf8_text(
    mut bytes: Vec<u8>,
    advice: &str,
) -> Result<String, (usize, usize, String)> {
    if let [first @ (0xFF | 0xFE), second @ (0xFF | 0xFE), ..] = bytes[..] {
        if first != second {
            let order = if first == 0xFF { "little" } else { "big" };
            return Err((
                1,
                1,
                format!(
                    "expected UTF-8 text, found UTF-16 ({order}-endian: the file starts with \
                     the byte-order mark {first:02X} {second:02X}); {advice}"
                ),
            ));
        }
    }
    if bytes.starts_with(&[0xEF, 0xBB, 0xBF]) {
        bytes.drain(..3);
    }
    match String::from_utf8(bytes) {
        Ok(text) => match text.find('\0') {
            Some(offset) => {
                let (line, column) = line_col(&text, offset);
                Err((
                    line,
                    column,
                    format!(
                        "expected UTF-8 text, found a NUL byte (UTF-16 without a byte-order \
                         mark, or not a text file?); {advice}"
                    ),
                ))
            }
            None => Ok(text),
        },
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let bytes = e.as_bytes();
            let valid = std::str::from_utf8(&bytes[..at]).expect("valid up to `valid_up_to`");
            let (line, column) = line_col(valid, at);
            let byte = bytes[at];
            let guess = match legacy_char(byte) {
                Some(c) if byte >= 0xA0 => format!(" ({c:?} in Latin-1 or Windows-1252)"),
                Some(c) => format!(" ({c:?} in Windows-1252)"),
                None => String::new(),
            };
            Err((
                line,
                column,
                format!(
                    "expected UTF-8 text, found the byte 0x{byte:02X}{guess}, which is not \
                     UTF-8; {advice}"
                ),
            ))
        }
    }
}

/// What a byte that is not UTF-8 most likely meant in the single-byte encodings spreadsheets
/// export: Latin-1 above 0xA0, and Windows-1252's usual punctuation below it.
fn legacy_char(byte: u8) -> Option<char> {
    match byte {
        0xA0..=0xFF => Some(char::from(byte)),
        0x80 => Some('€'),
        0x85 => Some('…'),
        0x91 => Some('‘'),
        0x92 => Some('’'),
        0x93 => Some('“'),
        0x94 => Some('”'),
        0x96 => Some('–'),
        0x97 => Some('—'),
        _ => None,
    }
}

/// A file size as a reader wants it: `1.0 GB`, `256 MB`, `12 KB` (1,024-based).
pub(crate) fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["bytes", "KB", "MB", "GB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 || value.fract() == 0.0 {
        format!("{value:.0} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_text_drops_a_byte_order_mark_and_keeps_everything_else() {
        assert_eq!(
            utf8_text(b"\xEF\xBB\xBFa,b\n".to_vec(), "").unwrap(),
            "a,b\n"
        );
        assert_eq!(
            utf8_text("£5\r\n".as_bytes().to_vec(), "").unwrap(),
            "£5\r\n"
        );
    }

    #[test]
    fn utf8_text_names_utf16_latin1_and_nul_bytes_where_they_are() {
        let (line, column, message) = utf8_text(b"\xFF\xFEa\0".to_vec(), "").unwrap_err();
        assert_eq!((line, column), (1, 1));
        assert!(message.contains("UTF-16 (little-endian"), "{message}");
        let (line, column, message) = utf8_text(b"a,b\nSouthend,\xA35\n".to_vec(), "").unwrap_err();
        assert_eq!((line, column), (2, 10));
        assert!(
            message.contains("the byte 0xA3 ('£' in Latin-1"),
            "{message}"
        );
        let (line, column, message) = utf8_text(b"a\0r\0".to_vec(), "").unwrap_err();
        assert_eq!((line, column), (1, 2));
        assert!(message.contains("NUL byte"), "{message}");
    }

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(size(1 << 30), "1 GB");
        assert_eq!(size((1 << 30) + (1 << 29)), "1.5 GB");
        assert_eq!(size(256 * 1024 * 1024), "256 MB");
        assert_eq!(size(12), "12 bytes");
    }

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
