//! Fuzzes the checker's number extraction (`check::scan`) on any text: it must not panic, and
//! every mention it returns must be a real, non-empty slice of the text, in order.

#![no_main]

use libfuzzer_sys::fuzz_target;
use narrator::check::{scan, Allowlist, Shape};
use narrator::facts;
use std::path::Path;
use std::sync::LazyLock;

/// The project's own allowlist (`data/allowlist.toml`), so protected names are fuzzed too.
static ALLOWLIST: LazyLock<Allowlist> = LazyLock::new(|| {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../data");
    let set = facts::load(&data).expect("the repo's data/ folder loads");
    let area = set.councils().next().expect("data/ has a council");
    let section = set.sections_for(area)[0];
    Allowlist::new(set.section_facts(area, section).structural_names())
});

fuzz_target!(|data: &[u8]| {
    // Drafts are always UTF-8; lossy decoding lets every mutation reach the scanner.
    let text = String::from_utf8_lossy(data);
    let mentions = scan(&text, &ALLOWLIST);
    let mut previous_end = 0;
    for m in &mentions {
        assert!(
            m.start < m.end && m.end <= text.len(),
            "span {}..{} outside a text of {} bytes: {m:?}",
            m.start,
            m.end,
            text.len()
        );
        assert!(
            text.is_char_boundary(m.start) && text.is_char_boundary(m.end),
            "span {}..{} splits a character: {m:?}",
            m.start,
            m.end
        );
        // The judge finds each mention's sentence by its start and reads them in order.
        assert!(
            m.start >= previous_end,
            "mention {m:?} overlaps or precedes the one ending at {previous_end}"
        );
        previous_end = m.end;
        let written = &text[m.start..m.end];
        assert!(
            written.chars().any(char::is_alphanumeric),
            "mention {written:?} has no digit or letter: {m:?}"
        );
        match m.shape {
            Shape::Number {
                value,
                step,
                sig_step,
                ..
            } => {
                assert!(!value.is_nan(), "{written:?} read as NaN: {m:?}");
                assert!(
                    step >= 0.0 && sig_step >= 0.0,
                    "{written:?} has a negative or NaN step: {m:?}"
                );
            }
            Shape::Ratio { value, step } => {
                assert!(
                    !value.is_nan() && step >= 0.0,
                    "{written:?} read as a bad ratio: {m:?}"
                );
            }
            Shape::Fraction { value, .. } => {
                assert!(
                    (0.0..=1.0).contains(&value),
                    "{written:?} read as a share outside 0..=1: {m:?}"
                );
            }
            Shape::Period(_) | Shape::Structural(_) | Shape::Unreadable => {}
        }
        assert!(
            !m.ordinal || matches!(m.shape, Shape::Number { .. }),
            "only figures are ordinals: {m:?}"
        );
    }
});
