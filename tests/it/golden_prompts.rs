//! Golden prompts: every seed area's every section, rendered and compared with golden/prompts/.
//! Re-bless with `NARRATOR_BLESS=1 cargo test --test it golden`.

use crate::helpers::{blessing, data_dir, prompts_dir, root};
use narrator::facts;
use narrator::prompt::Prompter;
use std::collections::BTreeSet;
use std::path::PathBuf;

#[test]
fn rendered_prompts_match_the_golden_files() {
    let set = facts::load(&data_dir()).expect("the repository's data is valid");
    let prompter = Prompter::new(&prompts_dir()).expect("prompts folder exists");
    let golden = root().join("golden/prompts");
    let mut expected_files = BTreeSet::new();
    let mut mismatches = Vec::new();
    // The seed councils, and councils of each kind for the national section: a unitary that
    // followed two former ones, a county, a metropolitan district, a London borough, and the
    // Isles of Scilly, whose group of nearest neighbours is itself alone.
    let national = [
        "E06000058",
        "E10000030",
        "E08000025",
        "E09000033",
        "E06000053",
    ];
    let areas = set.seed_councils().chain(
        set.councils()
            .filter(|a| national.contains(&a.code().as_str())),
    );
    for area in areas {
        for section in set.sections_for(area) {
            let view = set.section_facts(area, section);
            // Errors go into the snapshot rather than panicking, so one bad template shows as a diff.
            let body = match prompter.render(&view) {
                Ok(m) => format!("prompt fingerprint: {}\n\n{}", m.fingerprint(), m.to_text()),
                Err(e) => format!("ERROR: {e}\n"),
            };
            let text = format!(
                "# narrator prompt --area {} --section {}\n# inputs: data/ ({} facts rows), prompts/{}\n# facts fingerprint: {}\n{body}",
                area.code(),
                section.id(),
                view.rows().len() + view.context().len(),
                section.template(),
                view.fingerprint(),
            );
            let path: PathBuf = golden
                .join(area.code().as_str())
                .join(format!("{}.txt", section.id()));
            expected_files.insert(path.clone());
            if blessing() {
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, &text).unwrap();
            } else if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
                mismatches.push(path.display().to_string());
            }
        }
    }
    let mut on_disk = BTreeSet::new();
    for area_dir in std::fs::read_dir(&golden).unwrap() {
        for file in std::fs::read_dir(area_dir.unwrap().path()).unwrap() {
            on_disk.insert(file.unwrap().path());
        }
    }
    let stale: Vec<_> = on_disk.difference(&expected_files).collect();
    if blessing() {
        for path in stale {
            std::fs::remove_file(path).unwrap();
        }
        return;
    }
    assert!(
        stale.is_empty(),
        "golden files with no prompt behind them: {stale:?}"
    );
    assert!(
        mismatches.is_empty(),
        "golden prompts differ (review with git diff after `NARRATOR_BLESS=1 cargo test --test it golden`): {mismatches:#?}"
    );
}

#[test]
fn every_seed_council_has_golden_prompts() {
    for code in ["E06000022", "E08000026", "E06000066"] {
        let dir = root().join("golden/prompts").join(code);
        assert!(dir.read_dir().map(|d| d.count()).unwrap_or(0) > 0, "{code}");
    }
}
