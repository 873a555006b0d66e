//! Properties of the checker: it never panics, and every fact printed the British way at any
//! precision it can be rounded to is supported.

use crate::helpers::data_dir;
use narrator::check::{self, Verdict};
use narrator::facts::{self, format_grouped, FactRow, Unit, Value};
use proptest::prelude::*;
use std::sync::LazyLock;

static FACTS: LazyLock<facts::FactSet> = LazyLock::new(|| facts::load(&data_dir()).unwrap());

fn written(row: &FactRow, decimals: usize, value: f64) -> Option<String> {
    let g = format_grouped(value, decimals);
    let magnitude = format_grouped(value.abs(), decimals);
    Some(match row.unit {
        Unit::Percent => format!("{g}%"),
        // The British way with a negative sum: -£300,000.
        Unit::Pounds if value < 0.0 => format!("-£{magnitude}"),
        Unit::Pounds => format!("£{g}"),
        Unit::PoundsPer100k => format!("£{g} per 100,000 people"),
        Unit::PoundsPerHead => format!("£{g} per head"),
        Unit::Per100k => format!("{g} per 100,000 people"),
        Unit::PeoplePerKm2 => format!("{g} people per square kilometre"),
        Unit::Days => format!("{g} days"),
        Unit::Weeks => format!("{g} weeks"),
        Unit::Months => format!("{g} months"),
        Unit::Hours => format!("{g} hours"),
        Unit::Years => format!("{g} years"),
        Unit::Count | Unit::Score | Unit::Decile | Unit::Rank | Unit::Ratio => g,
        Unit::Category => return None,
    })
}

#[test]
fn any_fact_printed_the_british_way_at_any_precision_is_supported() {
    let set = facts::load(&data_dir()).unwrap();
    let mut checked = 0;
    let mut failures = Vec::new();
    for area in set.councils() {
        for section in set.sections_for(area) {
            let view = set.section_facts(area, section);
            for row in view.rows().iter().chain(view.context()) {
                let mut values = vec![(area.name().to_string(), row.value.clone())];
                for c in row.england.iter().chain(&row.region) {
                    values.push((c.name.clone(), c.value.clone()));
                }
                for (owner, value) in values {
                    let Value::Number(n) = value else { continue };
                    for decimals in 0..=usize::from(n.decimals()) {
                        let Some(figure) = written(row, decimals, n.value()) else {
                            continue;
                        };
                        let text = format!("For {owner}, the figure was {figure}.");
                        let report = check::check(&text, &view);
                        let m = report
                            .mentions
                            .iter()
                            .find(|m| m.verdict != Verdict::Structural);
                        if m.map(|m| m.verdict) != Some(Verdict::Supported) {
                            failures.push(format!(
                                "{} {}: {text:?} -> {m:?}",
                                area.code(),
                                row.metric
                            ));
                        }
                        checked += 1;
                    }
                }
            }
        }
    }
    assert!(checked > 1200, "only {checked} figures");
    assert!(
        failures.is_empty(),
        "{} of {checked} not supported:\n{}",
        failures.len(),
        failures[..failures.len().min(20)].join("\n")
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn the_checker_never_panics_on_arbitrary_text(text in "\\PC{0,300}") {
        let set = &*FACTS;
        let area = set.find_area("E06000022").unwrap();
        let section = set.find_section("carers").unwrap();
        let _ = check::check(&text, &set.section_facts(area, section));
    }

    #[test]
    fn the_checker_never_panics_on_figure_heavy_text(
        parts in proptest::collection::vec(
            prop_oneof![
                Just("£".to_string()), Just("%".to_string()), Just(" per 100,000".to_string()),
                Just(" about ".to_string()), Just(" higher than ".to_string()), Just(" England ".to_string()),
                Just("2023-24".to_string()), Just(". ".to_string()), Just(" twice ".to_string()),
                Just(" one in ".to_string()), Just("m".to_string()), Just("ü".to_string()),
                "[0-9]{1,7}", "[0-9]{1,3}(,[0-9]{3}){0,2}(\\.[0-9]{1,3})?", "[a-z ]{1,12}",
            ],
            0..40,
        )
    ) {
        let text: String = parts.concat();
        let set = &*FACTS;
        let area = set.find_area("Coventry").unwrap();
        let section = set.find_section("funding").unwrap();
        let report = check::check(&text, &set.section_facts(area, section));
        for m in &report.mentions {
            prop_assert!(m.span.0 < m.span.1 && m.span.1 <= text.len());
            prop_assert_eq!(&text[m.span.0..m.span.1], m.text.as_str());
        }
    }
}
