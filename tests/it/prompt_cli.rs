//! `narrator prompt` and `narrator facts show` on the repository's data.

use crate::helpers::{narrator, stderr, stdout};

#[test]
fn prompt_accepts_an_area_by_name_in_any_case_and_by_code() {
    let by_name = narrator(&[
        "prompt",
        "--area",
        "bath and north east SOMERSET",
        "--section",
        "carers",
    ]);
    let by_code = narrator(&["prompt", "--area", "E06000022", "--section", "carers"]);
    assert!(by_name.status.success(), "{}", stderr(&by_name));
    assert_eq!(stdout(&by_name), stdout(&by_code));
    let text = stdout(&by_name);
    assert!(
        text.contains("| Measure | Period | Bath and North East Somerset | England |"),
        "{text}"
    );
}

#[test]
fn prompt_json_is_an_array_of_chat_messages() {
    let out = narrator(&[
        "prompt",
        "--area",
        "Coventry",
        "--section",
        "funding",
        "--format",
        "json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let messages: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let roles: Vec<&str> = messages
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["system", "user"]);
}

#[test]
fn an_unknown_area_or_section_is_an_error_listing_the_choices() {
    let out = narrator(&["prompt", "--area", "Atlantis", "--section", "carers"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("areas.csv"), "{}", stderr(&out));
    // A near name is offered rather than every council.
    let out = narrator(&["prompt", "--area", "Coventry City", "--section", "carers"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("did you mean Coventry (E08000026)"),
        "{}",
        stderr(&out)
    );
    let out = narrator(&["prompt", "--area", "Coventry", "--section", "weather"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("older-people"), "{}", stderr(&out));
}

#[test]
fn facts_show_prints_a_table_with_comparators() {
    let out = narrator(&[
        "facts",
        "show",
        "--area",
        "E08000026",
        "--section",
        "working-age",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.starts_with("Coventry (E08000026)"), "{text}");
    assert!(
        text.contains("metric") && text.contains("England"),
        "{text}"
    );
    // The national section shows where the council stands, and how that was computed.
    let out = narrator(&[
        "facts",
        "show",
        "--area",
        "Coventry",
        "--section",
        "outcomes",
    ]);
    let text = stdout(&out);
    assert!(
        text.contains("outcome_users_info_easy 2022-23: councils in England: median 67.5%, 39th highest of 149; 149 councils with a value"),
        "{text}"
    );
}

#[test]
fn a_template_naming_a_missing_fact_fails_with_its_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let prompts = crate::helpers::prompts_dir();
    for entry in std::fs::read_dir(&prompts).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    std::fs::write(
        dir.path().join("carers.j2"),
        "Carers in {{ area.name }}.\n{{ fact.carers_no_such_metric.display }}\n",
    )
    .unwrap();
    let out = narrator(&[
        "--prompts",
        dir.path().to_str().unwrap(),
        "prompt",
        "--area",
        "E06000022",
        "--section",
        "carers",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("carers.j2:2: undefined value"),
        "{}",
        stderr(&out)
    );
}
