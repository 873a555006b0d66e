//! Golden check cases: every figure of every case under golden/check/ gets its annotated verdict.
//! Re-bless (rewrite the annotations from today's verdicts) with
//! `NARRATOR_BLESS=1 cargo test --test it golden`, then review `git diff golden/`.

use crate::helpers::{blessing, data_dir, root};
use narrator::check::{self, Verdict};
use narrator::eval::{self, compare};
use narrator::facts;
use std::collections::BTreeMap;

#[test]
fn every_golden_check_case_gets_its_expected_verdicts() {
    let set = facts::load(&data_dir()).expect("the repository's data is valid");
    let cases = eval::load_cases(&root().join("golden/check")).expect("cases parse");
    let mut failures = Vec::new();
    for case in &cases {
        let area = set.find_area(&case.area).expect("case area exists");
        let section = set
            .find_section(&case.section)
            .expect("case section exists");
        let report = check::check(&case.text, &set.section_facts(area, section));
        if blessing() {
            std::fs::write(&case.path, case.with_verdicts(&report)).unwrap();
            continue;
        }
        for problem in compare(case, &report) {
            failures.push(format!(
                "{}: {problem}",
                case.path.strip_prefix(root()).unwrap().display()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} golden check differences:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn the_golden_cases_cover_every_verdict_at_least_ten_times_and_every_seed_section() {
    let set = facts::load(&data_dir()).unwrap();
    let cases = eval::load_cases(&root().join("golden/check")).unwrap();
    let mut per_verdict: BTreeMap<Verdict, usize> = BTreeMap::new();
    for case in &cases {
        let kinds: std::collections::BTreeSet<Verdict> =
            case.expected.iter().map(|(_, v)| *v).collect();
        for v in kinds {
            *per_verdict.entry(v).or_default() += 1;
        }
    }
    for v in Verdict::ALL {
        let n = per_verdict.get(&v).copied().unwrap_or(0);
        assert!(n >= 10, "only {n} cases exercise {}", v.name());
    }
    // The seed councils' every section; the national section's other councils are covered
    // by kind (golden/check holds five), not one by one.
    for area in set.seed_councils() {
        for section in set.sections_for(area) {
            let has = cases.iter().any(|c| {
                c.is_passing_narrative()
                    && c.area == area.code().as_str()
                    && c.section == section.id()
            });
            assert!(
                has,
                "no passing narrative for {} {}",
                area.code(),
                section.id()
            );
        }
    }
}

#[test]
fn passing_narratives_pass_and_mutants_are_caught() {
    let set = facts::load(&data_dir()).unwrap();
    let cases = eval::load_cases(&root().join("golden/check")).unwrap();
    let summary = eval::evaluate(&set, &cases).unwrap();
    assert!(summary.meets_targets(), "{}", summary.render());
}
