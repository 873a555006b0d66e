//! Our own list of the figures the seed documents quote, section by section, each of which
//! must be a fact in `data/` and among the metrics that section's prompt receives.

use crate::helpers::{data_dir, root};
use narrator::facts::{self, AreaCode, MetricId, Period, Value};

#[test]
fn every_figure_the_seeds_quote_is_in_the_data() {
    let set = facts::load(&data_dir()).expect("the repository's data is valid");
    let list = root().join("tests/it/seed_figures.csv");
    let mut reader = csv::Reader::from_path(&list).unwrap();
    let mut checked = 0;
    let mut missing = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let r = record.unwrap();
        let line = i + 2;
        let (section, area, metric, period, value) = (&r[0], &r[1], &r[2], &r[3], &r[4]);
        let area = AreaCode::parse(area).unwrap();
        let metric = MetricId::parse(metric).unwrap();
        let period = Period::parse(period).unwrap();
        let found = set.facts_for(&area, &metric).find(|f| f.period() == period);
        let matches = match found.map(|f| f.value()) {
            Some(Value::Number(n)) => value
                .parse::<f64>()
                .is_ok_and(|v| (v - n.value()).abs() < 1e-9),
            Some(Value::Category(c)) => c == value,
            None => false,
        };
        if !matches {
            missing.push(format!(
                "line {line}: {area} {metric} {period} = {value}: {found:?}"
            ));
        }
        let section = set.find_section(section).unwrap();
        if !section.metrics().contains(&metric) && !section.context().contains(&metric) {
            missing.push(format!(
                "line {line}: section {} does not receive {metric}",
                section.id()
            ));
        }
        checked += 1;
    }
    assert!(checked > 500, "only {checked} seed figures listed");
    assert!(
        missing.is_empty(),
        "{} seed figures not in data/:\n{}",
        missing.len(),
        missing.join("\n")
    );
}
