//! Fuzzes the whole check (`Checker::check`) against the real facts of every (council, section)
//! in `data/`: it must not panic, each mention must quote its span of the text, and the report
//! must serialise and print.

#![no_main]

use libfuzzer_sys::fuzz_target;
use narrator::check::{Checker, Verdict};
use narrator::facts::{self, SectionFacts};
use std::path::Path;
use std::sync::LazyLock;

/// Every council's section facts, loaded once.
static VIEWS: LazyLock<Vec<SectionFacts>> = LazyLock::new(|| {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../data");
    let set = facts::load(&data).expect("the repo's data/ folder loads");
    set.councils()
        .flat_map(|area| {
            set.sections_for(area)
                .into_iter()
                .map(|section| set.section_facts(area, section))
                .collect::<Vec<_>>()
        })
        .collect()
});

/// One prepared checker per view, as a run prepares one per prompt.
static CHECKERS: LazyLock<Vec<Checker<'static>>> =
    LazyLock::new(|| VIEWS.iter().map(Checker::new).collect());

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // The length picks the facts, so the seed files stay plain prose (no selector byte).
    let checker = &CHECKERS[text.len() % CHECKERS.len()];
    let report = checker.check(&text);
    for m in &report.mentions {
        let (start, end) = m.span;
        assert!(
            start < end && end <= text.len(),
            "span outside the text: {m:?}"
        );
        assert_eq!(
            text.get(start..end),
            Some(m.text.as_str()),
            "the mention does not quote its span"
        );
    }
    assert_eq!(
        report.pass,
        !report.mentions.iter().any(|m| m.verdict.is_flag()),
        "pass disagrees with the verdicts"
    );
    let _ = report.count(Verdict::Supported);
    let _ = report.to_json();
    let _ = report.render_text(&text);
});
