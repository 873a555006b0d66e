//! The checker on the seed pages' published narratives, read from `../shared/seeds` at run
//! time (CI has it beside the clone; the test fails, never skips, without it).

use crate::helpers::{data_dir, narrator, root, stderr};
use narrator::eval;
use narrator::facts;

fn seeds() -> std::path::PathBuf {
    root().join("../shared/seeds")
}

#[test]
fn the_seed_pages_narratives_meet_the_precision_targets() {
    let set = facts::load(&data_dir()).expect("the repository's data is valid");
    let pages = eval::load_pages(&root().join("golden/corpus")).expect("annotations parse");
    let summary = eval::evaluate_corpus(&set, &pages, &seeds())
        .expect("the seed pages are beside the clone, at the annotated digests");
    let report = summary.render();
    assert!(summary.coverage.is_empty(), "{report}");
    assert!(
        summary.false_flag_rate() <= eval::FALSE_FLAG_TARGET,
        "{report}"
    );
    assert!(summary.precision() >= eval::PRECISION_TARGET, "{report}");
    assert!(
        summary.slips.is_empty(),
        "every slip with its verdict\n{report}"
    );
    let (m, c) = summary.mutants_caught();
    assert!(c as f64 / m as f64 >= eval::MUTANT_TARGET, "{report}");
    for &(kind, m, c) in &summary.kinds {
        if m > 0 {
            assert!(
                c as f64 / m as f64 >= eval::MUTANT_KIND_TARGET,
                "{kind:?}\n{report}"
            );
        }
    }
}

#[test]
fn the_corpus_evaluation_refuses_to_run_without_the_seed_pages() {
    let out = narrator(&["eval-checker", "--corpus", "--seeds", "no/such/seeds"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no/such/seeds") && stderr(&out).contains("never passes"),
        "{}",
        stderr(&out)
    );
}
