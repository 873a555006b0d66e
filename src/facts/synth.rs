//! Synthetic councils for scale tests: a copy of a data folder plus N councils whose facts are
//! the seed councils' perturbed. Codes start with `X` (no ONS code does) and names say
//! "synthetic", so they cannot be taken for real; the export refuses them.

use super::area::AreaKind;
use super::metric::Unit;
use super::value::{format_grouped, Value};
use super::FactSet;
use std::fmt::Write as _;
use std::path::Path;

/// The letter every synthetic area code starts with.
pub const SYNTHETIC_PREFIX: char = 'X';

#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    #[error("{0} already exists: synth writes a new folder and never overwrites one")]
    Exists(String),
    #[error("the seed data has no council with facts for two sections or more to model synthetic ones on")]
    NoCouncils,
    #[error("--areas must be 1 to 99,999, found {0}")]
    Count(usize),
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
}

/// What `write` made.
#[derive(Debug)]
pub struct SynthSummary {
    pub areas: usize,
    pub facts: usize,
}

/// Writes `out/` (which must not exist): `seed_dir`'s files, with `areas` synthetic councils
/// appended to `areas.csv` and their facts in `facts/synthetic.csv`. The same seed gives the
/// same files. Written under a temporary name and renamed, so a failure leaves nothing.
pub fn write(
    set: &FactSet,
    seed_dir: &Path,
    out: &Path,
    areas: usize,
    seed: u64,
) -> Result<SynthSummary, SynthError> {
    if !(1..=99_999).contains(&areas) {
        return Err(SynthError::Count(areas));
    }
    if out.exists() {
        return Err(SynthError::Exists(out.display().to_string()));
    }
    // A synthetic council stands for a full page, as the benches assume.
    let models: Vec<_> = set.seed_councils().collect();
    if models.is_empty() {
        return Err(SynthError::NoCouncils);
    }
    let tmp = out.with_extension(format!("synth-{}.tmp", std::process::id()));
    let err = |p: &Path| {
        let path = p.display().to_string();
        move |source| SynthError::Write { path, source }
    };
    copy_dir(seed_dir, &tmp).map_err(err(&tmp))?;
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut area_rows = String::new();
    let mut fact_rows = String::from("area_code,metric,period,value,source,note\n");
    let mut facts = 0;
    for i in 1..=areas {
        let model = models[(i - 1) % models.len()];
        let code = format!("{SYNTHETIC_PREFIX}99{i:06}");
        let parent = model.parent().map(|p| p.to_string()).unwrap_or_default();
        let _ = writeln!(
            area_rows,
            "{code},Synthetic council {i:05} (not a real council),la,{parent}"
        );
        debug_assert_eq!(model.kind(), AreaKind::La);
        for fact in set.facts().iter().filter(|f| f.area() == model.code()) {
            let Some(metric) = set.metric(fact.metric()) else {
                continue;
            };
            let value = perturb(fact.value(), metric.unit(), &mut rng);
            let _ = writeln!(
                fact_rows,
                "{code},{},{},{value},synthetic (narrator synth --seed {seed}),modelled on {}",
                fact.metric(),
                fact.period(),
                model.code()
            );
            facts += 1;
        }
    }
    let areas_csv = tmp.join("areas.csv");
    let mut existing = std::fs::read_to_string(&areas_csv).map_err(err(&areas_csv))?;
    if !existing.ends_with('\n') {
        existing.push('\n');
    }
    existing.push_str(&area_rows);
    std::fs::write(&areas_csv, existing).map_err(err(&areas_csv))?;
    let facts_csv = tmp.join("facts").join("synthetic.csv");
    std::fs::write(&facts_csv, fact_rows).map_err(err(&facts_csv))?;
    std::fs::rename(&tmp, out).map_err(err(out))?;
    Ok(SynthSummary { areas, facts })
}

/// A plausible neighbour of a value: within 20%, at the same precision, inside the unit's
/// range. Categories, deciles and scores are kept as they are.
fn perturb(value: &Value, unit: Unit, rng: &mut fastrand::Rng) -> String {
    let Value::Number(n) = value else {
        return match value {
            Value::Category(c) => c.clone(),
            Value::Number(_) => unreachable!(),
        };
    };
    let decimals = usize::from(n.decimals());
    if matches!(unit, Unit::Decile | Unit::Score) {
        return format!("{:.*}", decimals, n.value());
    }
    let mut v = n.value() * (0.8 + 0.4 * rng.f64());
    if unit == Unit::Percent {
        v = v.clamp(0.0, 100.0);
    }
    if unit.is_non_negative() {
        v = v.max(0.0);
    }
    // Plain digits, as the data contract wants: no grouping.
    format_grouped(v, decimals).replace(',', "")
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_data_loads_is_marked_and_repeats_for_a_seed() {
        let seed_dir = Path::new("data");
        let set = crate::facts::load(seed_dir).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        let made = write(&set, seed_dir, &a, 7, 42).unwrap();
        write(&set, seed_dir, &b, 7, 42).unwrap();
        assert_eq!(made.areas, 7);
        let read = |d: &Path| std::fs::read(d.join("facts/synthetic.csv")).unwrap();
        assert_eq!(read(&a), read(&b), "the same seed gives the same facts");
        let synth = crate::facts::load(&a).unwrap();
        let fake: Vec<_> = synth
            .councils()
            .filter(|c| c.code().is_synthetic())
            .collect();
        assert_eq!(fake.len(), 7);
        assert!(fake.iter().all(|c| c.name().contains("not a real council")));
        assert!(matches!(
            write(&set, seed_dir, &a, 7, 42),
            Err(SynthError::Exists(_))
        ));
    }
}
