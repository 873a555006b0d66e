//! The bad-input sweep (issue 8): data files that are malformed, wrongly encoded or 1 GB, broken
//! templates, and model answers that are HTML, 1 MB long, without figures or nothing but
//! figures. Each gives a clear error (file, line, what was expected) or a stored failure reason;
//! nothing panics; `store verify` passes afterwards. The cases of `tests/fixtures/bad/` (checked
//! in `facts_check.rs`) are not repeated: each case here is an edit of `tests/fixtures/valid`,
//! written down next to what narrator must say about it.

use crate::helpers::{copy_dir, narrator, root, stderr, stdout};
use crate::mock_llm::{MockLlm, Reply};
use narrator::store::{JobRow, Store};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

/// A copy of `tests/fixtures/valid` in a temporary folder, to break one file of.
struct Data {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
}

impl Data {
    fn new() -> Data {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        copy_dir(&root().join("tests/fixtures/valid"), &dir);
        Data { _tmp: tmp, dir }
    }

    fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    fn read(&self, file: &str) -> Vec<u8> {
        std::fs::read(self.path(file)).unwrap()
    }

    fn write(&self, file: &str, bytes: impl AsRef<[u8]>) {
        std::fs::write(self.path(file), bytes).unwrap();
    }

    /// Replaces the one occurrence of `from` in `file`.
    fn replace(&self, file: &str, from: &str, to: &[u8]) {
        let bytes = self.read(file);
        let at =
            find(&bytes, from.as_bytes()).unwrap_or_else(|| panic!("{from:?} is not in {file}"));
        assert!(
            find(&bytes[at + 1..], from.as_bytes()).is_none(),
            "{from:?} is in {file} more than once"
        );
        let mut out = bytes[..at].to_vec();
        out.extend_from_slice(to);
        out.extend_from_slice(&bytes[at + from.len()..]);
        self.write(file, out);
    }

    fn check(&self) -> Output {
        narrator(&["--data", self.dir.to_str().unwrap(), "facts", "check"])
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// `text` as UTF-16 with a byte-order mark (what Excel's "Unicode text" and some Windows
/// tools write).
fn utf16(text: &[u8], big_endian: bool) -> Vec<u8> {
    let text = std::str::from_utf8(text).unwrap();
    let mut out = if big_endian {
        vec![0xFE, 0xFF]
    } else {
        vec![0xFF, 0xFE]
    };
    for unit in text.encode_utf16() {
        out.extend(if big_endian {
            unit.to_be_bytes()
        } else {
            unit.to_le_bytes()
        });
    }
    out
}

/// One broken data folder: how it is broken, and the one problem `facts check` must report
/// (its location inside the data folder, and the start of its message).
struct Case {
    name: &'static str,
    edit: fn(&Data),
    location: &'static str,
    message: &'static str,
}

const FACTS: &str = "facts/fixture.csv";

const CASES: &[Case] = &[
    // Values.
    Case {
        name: "infinity",
        edit: |d| d.replace(FACTS, ",7.5,", b",inf,"),
        location: "facts/fixture.csv:3:42",
        message: "expected a plain finite number such as 1930 or 965.88, found \"inf\"",
    },
    Case {
        name: "a count too large for a number",
        edit: |d| d.replace(FACTS, ",199818,", format!(",{},", "9".repeat(400)).as_bytes()),
        location: "facts/fixture.csv:2:27",
        message: "expected a plain finite number such as 1930 or 965.88, found \"999",
    },
    Case {
        name: "an empty value",
        edit: |d| d.replace(FACTS, ",7.5,", b",,"),
        location: "facts/fixture.csv:3:42",
        message: "expected a plain finite number such as 1930 or 965.88, found \"\"",
    },
    Case {
        name: "a count with grouping commas",
        edit: |d| d.replace(FACTS, ",199818,", b",\"199,818\","),
        location: "facts/fixture.csv:2:27",
        message: "expected a plain finite number such as 1930 or 965.88, found \"199,818\"",
    },
    Case {
        name: "a negative percent",
        edit: |d| d.replace(FACTS, ",30.1,", b",-0.5,"),
        location: "facts/fixture.csv:5:41",
        message: "expected a percent from 0 to 100 for carers_social_contact, found -0.5",
    },
    Case {
        name: "an empty source",
        edit: |d| {
            d.replace(
                FACTS,
                "7.5,Survey of Adult Carers in England 2023-24,",
                b"7.5,,",
            )
        },
        location: "facts/fixture.csv:3:46",
        message: "expected the source dataset (table, sheet or question), found nothing",
    },
    // Codes.
    Case {
        name: "a malformed area code",
        edit: |d| d.replace(FACTS, "E06000022,population", b"e06000022,population"),
        location: "facts/fixture.csv:2:1",
        message: "expected an ONS area code such as E06000022, found \"e06000022\"",
    },
    Case {
        name: "a malformed metric id",
        edit: |d| d.replace(FACTS, "E06000022,population", b"E06000022,Population"),
        location: "facts/fixture.csv:2:11",
        message: "expected a metric id in snake_case such as carers_social_contact, found \"Population\"",
    },
    Case {
        name: "an area name given twice in another case",
        edit: |d| {
            let mut areas = d.read("areas.csv");
            areas.extend_from_slice(b"E06000023,bath and north east somerset,la,E12000009\n");
            d.write("areas.csv", areas);
        },
        location: "areas.csv:5:1",
        message: "duplicate area name: E06000023 \"bath and north east somerset\" is already on line 4",
    },
    // Rows and columns.
    Case {
        name: "a missing column",
        edit: |d| {
            d.replace(
                FACTS,
                "7.5,Survey of Adult Carers in England 2023-24,\n",
                b"7.5\n",
            )
        },
        location: "facts/fixture.csv:3:1",
        message: "expected 6 fields (area_code,metric,period,value,source,note), found 4",
    },
    Case {
        name: "an extra column",
        edit: |d| {
            d.replace(
                FACTS,
                "7.5,Survey of Adult Carers in England 2023-24,\n",
                b"7.5,Survey of Adult Carers in England 2023-24,,extra\n",
            )
        },
        location: "facts/fixture.csv:3:1",
        message: "expected 6 fields (area_code,metric,period,value,source,note), found 7",
    },
    Case {
        name: "a quoted field left open",
        edit: |d| d.replace(FACTS, "30.1,\"Survey of Adult Carers in England 2023-24, Q12\",", b"30.1,\"Survey of Adult Carers in England 2023-24, Q12,"),
        location: "facts/fixture.csv:5:46",
        message: "expected every field on one line, found a quoted field running on to line 6: is its closing double quote missing?",
    },
    Case {
        name: "a quoted field left open on the last line",
        edit: |d| d.replace(FACTS, "Requires improvement,CQC", b"Requires improvement,\"CQC"),
        location: "facts/fixture.csv:8:59",
        message: "expected every field on one line, found a quoted field running to the end of the file",
    },
    Case {
        name: "the same fact in two files",
        edit: |d| {
            d.write(
                "facts/second.csv",
                "area_code,metric,period,value,source,note\n\
                 E06000022,population,2023,199818,ONS mid-year estimates 2023,\n",
            )
        },
        location: "facts/second.csv:2:1",
        message: "duplicate fact: E06000022 population 2023 is already given at ",
    },
    Case {
        name: "an empty facts file",
        edit: |d| d.write(FACTS, ""),
        location: "facts/fixture.csv:1:1",
        message: "expected the header \"area_code,metric,period,value,source,note\", found an empty file",
    },
    // A wrong areas header is one problem, not one more for every fact naming an area.
    Case {
        name: "a wrong areas header",
        edit: |d| d.replace("areas.csv", "area_code,name", b"code,name"),
        location: "areas.csv:1:1",
        message: "expected the header \"area_code,name,kind,parent\", found \"code,name,kind,parent\"",
    },
    // Classic Mac line endings are read, and a problem is still placed on its own line.
    Case {
        name: "bare CR line endings",
        edit: |d| {
            let text = d.read(FACTS);
            let text: Vec<u8> = text.iter().map(|&b| if b == b'\n' { b'\r' } else { b }).collect();
            d.write(FACTS, text);
            d.replace(FACTS, ",7.5,", b",x7.5,");
        },
        location: "facts/fixture.csv:3:42",
        message: "expected a plain finite number such as 1930 or 965.88, found \"x7.5\"",
    },
    // Encodings.
    Case {
        name: "UTF-16 little-endian with a byte-order mark",
        edit: |d| d.write(FACTS, utf16(&d.read(FACTS), false)),
        location: "facts/fixture.csv:1:1",
        message: "expected UTF-8 text, found UTF-16 (little-endian: the file starts with the byte-order mark FF FE); save it as UTF-8 (in Excel: \"CSV UTF-8\")",
    },
    Case {
        name: "UTF-16 big-endian with a byte-order mark",
        edit: |d| d.write("areas.csv", utf16(&d.read("areas.csv"), true)),
        location: "areas.csv:1:1",
        message: "expected UTF-8 text, found UTF-16 (big-endian: the file starts with the byte-order mark FE FF)",
    },
    Case {
        name: "UTF-16 without a byte-order mark",
        edit: |d| d.write(FACTS, &utf16(&d.read(FACTS), false)[2..]),
        location: "facts/fixture.csv:1:2",
        message: "expected UTF-8 text, found a NUL byte (UTF-16 without a byte-order mark, or not a text file?)",
    },
    Case {
        name: "a Latin-1 pound sign",
        edit: |d| d.replace(FACTS, "ONS mid-year estimates 2023,", b"ONS mid-year estimates 2023 (\xA3),"),
        location: "facts/fixture.csv:2:63",
        message: "expected UTF-8 text, found the byte 0xA3 ('£' in Latin-1 or Windows-1252), which is not UTF-8; save it as UTF-8 (in Excel: \"CSV UTF-8\")",
    },
    Case {
        name: "a Windows-1252 dash",
        edit: |d| d.replace(FACTS, "7.5,Survey of Adult Carers in England 2023-24,", b"7.5,Survey of Adult Carers in England 2023\x9624,"),
        location: "facts/fixture.csv:3:84",
        message: "expected UTF-8 text, found the byte 0x96 ('–' in Windows-1252)",
    },
    Case {
        name: "a Latin-1 accent in the metric catalogue",
        edit: |d| d.replace("metrics.toml", "People living in the area.", b"People living in the area (r\xE9sidents)."),
        location: "metrics.toml:6:43",
        message: "expected UTF-8 text, found the byte 0xE9 ('é' in Latin-1 or Windows-1252), which is not UTF-8; save it as UTF-8",
    },
    Case {
        name: "a broken UTF-8 sequence in the middle of a file",
        edit: |d| d.replace(FACTS, "Q12\",\nE12000009", b"Q12\",\nE12000009\xC3("),
        location: "facts/fixture.csv:7:10",
        message: "expected UTF-8 text, found the byte 0xC3",
    },
    // TOML.
    Case {
        name: "a TOML syntax error in sections.toml",
        edit: |d| d.replace("sections.toml", "\"cqc_overall_rating\"]", b"\"cqc_overall_rating\""),
        location: "sections.toml:5:1",
        message: "invalid sections file: invalid array; expected `]`",
    },
    Case {
        name: "a TOML value of the wrong type",
        edit: |d| d.replace("metrics.toml", "unit = \"count\"", b"unit = 5"),
        location: "metrics.toml:4:8",
        message: "invalid metric catalogue: invalid type: integer `5`, expected a string",
    },
    Case {
        name: "a TOML list given as a string",
        edit: |d| d.replace("sections.toml", "context = [\"population\"]", b"context = \"population\""),
        location: "sections.toml:5:11",
        message: "invalid sections file: invalid type: string \"population\", expected a sequence",
    },
    Case {
        name: "a TOML field narrator does not know",
        edit: |d| d.replace("metrics.toml", "unit = \"count\"", b"unit = \"count\"\ncolour = \"red\""),
        location: "metrics.toml:5:1",
        message: "invalid metric catalogue: unknown field `colour`, expected one of `id`, `label`",
    },
    Case {
        name: "a required TOML field missing from the second entry",
        edit: |d| d.replace("metrics.toml", "label = \"Carer-reported quality of life\"\n", b""),
        location: "metrics.toml:9:1",
        message: "invalid metric catalogue: missing field `label`",
    },
];

#[test]
fn each_broken_data_folder_fails_with_one_problem_at_its_location() {
    for case in CASES {
        let data = Data::new();
        (case.edit)(&data);
        let out = data.check();
        let err = stderr(&out);
        let name = case.name;
        assert_eq!(out.status.code(), Some(1), "{name}: {err}");
        let expected = format!("{}/{}: {}", data.dir.display(), case.location, case.message);
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(
            lines.len(),
            2,
            "{name}: exactly one problem expected:\n{err}"
        );
        assert!(
            lines[0].starts_with(&expected),
            "{name}:\n  expected {expected}\n  found    {}",
            lines[0]
        );
        assert_eq!(
            lines[1], "1 problem(s) found; nothing was written",
            "{name}"
        );
        assert!(stdout(&out).is_empty(), "{name}: nothing on stdout");
    }
}

/// What spreadsheets write and we accept: Windows line endings and Excel's "CSV UTF-8"
/// byte-order mark, in any data file.
#[test]
fn crlf_line_endings_and_a_utf8_byte_order_mark_are_accepted() {
    type Edit = fn(&Data);
    let cases: &[(&str, Edit)] = &[
        ("CRLF line endings everywhere", |d| {
            for file in ["areas.csv", FACTS, "metrics.toml", "sections.toml"] {
                let text = String::from_utf8(d.read(file)).unwrap();
                d.write(file, text.replace('\n', "\r\n"));
            }
        }),
        ("a UTF-8 byte-order mark on every file", |d| {
            for file in ["areas.csv", FACTS, "metrics.toml", "sections.toml"] {
                let mut bytes = b"\xEF\xBB\xBF".to_vec();
                bytes.extend(d.read(file));
                d.write(file, bytes);
            }
        }),
        ("bare CR line endings", |d| {
            let text = String::from_utf8(d.read(FACTS)).unwrap();
            d.write(FACTS, text.replace('\n', "\r"));
        }),
    ];
    for (name, edit) in cases {
        let data = Data::new();
        edit(&data);
        let out = data.check();
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        assert!(
            stdout(&out).ends_with("ok: 3 areas, 4 metrics, 1 sections, 7 facts\n"),
            "{name}: {}",
            stdout(&out)
        );
    }
    // The byte-order mark is not part of the first area code or the prompt's text.
    let data = Data::new();
    let mut areas = b"\xEF\xBB\xBF".to_vec();
    areas.extend(data.read("areas.csv"));
    data.write("areas.csv", areas);
    let out = narrator(&[
        "--data",
        data.dir.to_str().unwrap(),
        "prompt",
        "--area",
        "E06000022",
        "--section",
        "carers",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stdout(&out).contains('\u{feff}'));
}

/// A 1 GB facts file is refused from its size, before any of it is read: fast, and in the
/// same file:line:column form as every other problem. The file is sparse, so the test writes
/// nothing to disk.
#[test]
fn a_1_gb_facts_file_is_refused_from_its_size_at_once() {
    let data = Data::new();
    let big = std::fs::File::create(data.path("facts/export.csv")).unwrap();
    big.set_len(1 << 30).unwrap();
    let started = Instant::now();
    let out = data.check();
    let took = started.elapsed();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let expected = format!(
        "{}/facts/export.csv:1:1: expected a data file of at most 256 MB, found 1 GB \
         (1,073,741,824 bytes): is it the right file? (a large facts table can be split over \
         several files in facts/)",
        data.dir.display()
    );
    assert_eq!(err.lines().next(), Some(expected.as_str()), "{err}");
    assert_eq!(err.lines().count(), 2, "one problem: {err}");
    eprintln!("1 GB facts file refused in {took:?}");
    assert!(took < Duration::from_secs(5), "took {took:?}");
    // The limit is the documented constant, and one byte over it is refused too.
    assert_eq!(narrator::facts::MAX_FILE_BYTES, 256 * 1024 * 1024);
    big.set_len(narrator::facts::MAX_FILE_BYTES + 1).unwrap();
    let err = stderr(&data.check());
    assert!(err.contains("found 256.0 MB (268,435,457 bytes)"), "{err}");
}

/// A copy of `prompts/` to break one template of, rendered against the valid fixture.
fn prompts_with(file: &str, edit: impl FnOnce(String) -> Vec<u8>) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("prompts");
    copy_dir(&crate::helpers::prompts_dir(), &dir);
    let path = dir.join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    std::fs::write(&path, edit(text)).unwrap();
    (tmp, dir)
}

fn prompt(data: &Path, prompts: &Path) -> Output {
    narrator(&[
        "--data",
        data.to_str().unwrap(),
        "--prompts",
        prompts.to_str().unwrap(),
        "prompt",
        "--area",
        "E06000022",
        "--section",
        "carers",
    ])
}

/// Template errors name the template's path and line and quote what failed; `render` stops
/// before writing anything.
#[test]
fn broken_templates_fail_with_their_file_line_and_the_failing_expression() {
    let valid = root().join("tests/fixtures/valid");
    type Edit = fn(String) -> Vec<u8>;
    let cases: &[(&str, &str, Edit, &str)] = &[
        (
            "a syntax error",
            "carers.j2",
            |t| {
                t.replace("{% block focus %}", "{% block focus %}\n{% if %}")
                    .into()
            },
            "carers.j2:3: syntax error: unexpected end of block",
        ),
        (
            "a tag left open",
            "carers.j2",
            |t| {
                t.replace("{% endblock %}", "{{ area.name\n{% endblock %}")
                    .into()
            },
            "carers.j2:5: syntax error: unexpected `{`, expected end of variable block",
        ),
        (
            "a misspelt variable",
            "carers.j2",
            |t| {
                t.replace("{% endblock %}", "{{ area.nmae }}\n{% endblock %}")
                    .into()
            },
            "carers.j2:4: undefined value: `area.nmae`",
        ),
        (
            "a fact the section does not have",
            "carers.j2",
            |t| {
                t.replace(
                    "{% endblock %}",
                    "{{ fact.carers_no_such.display }}\n{% endblock %}",
                )
                .into()
            },
            "carers.j2:4: undefined value: `fact.carers_no_such.display` (this area and section \
             have no such fact; fact holds carers_quality_of_life, carers_social_contact, \
             cqc_overall_rating)",
        ),
        (
            "a macro called with too many arguments",
            "macros.j2",
            |_| b"{% macro facts_table(rows) %}{{ rows }}{% endmacro %}\n".to_vec(),
            "section.j2:8: too many arguments: `m.facts_table(facts, area, region, has_region, \
             strategy in [\"grounded\", \"constrained\"])`",
        ),
        (
            "a template that is not UTF-8",
            "carers.j2",
            |t| [&b"\xA3"[..], t.as_bytes()].concat(),
            "carers.j2:1:1: expected UTF-8 text, found the byte 0xA3 ('£' in Latin-1 or \
             Windows-1252), which is not UTF-8; save it as UTF-8",
        ),
        (
            // minijinja panics compiling this (an `unreachable!` in its code generator, 2.24
            // and 3.1): narrator refuses it first.
            "an import bound to something that is not a name",
            "section.j2",
            |t| t.replace("as m %}", "as m[0] %}").into(),
            "section.j2:2:26: expected a name after `as` in an import, found `m[0]`",
        ),
        (
            "a missing template",
            "system.j2",
            |_| Vec::new(),
            "system.j2: template not found",
        ),
    ];
    for (name, file, edit, message) in cases {
        let (_tmp, prompts) = prompts_with(file, edit);
        if *name == "a missing template" {
            std::fs::remove_file(prompts.join(file)).unwrap();
        }
        let expected = format!("{}/{message}", prompts.display());
        let out = prompt(&valid, &prompts);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{name}: {err}");
        assert!(
            err.contains(&expected),
            "{name}:\n  expected {expected}\n  found    {err}"
        );
        assert_eq!(err.lines().count(), 1, "{name}: one line: {err}");

        let out_dir = prompts.with_file_name("rendered");
        let out = narrator(&[
            "--data",
            valid.to_str().unwrap(),
            "--prompts",
            prompts.to_str().unwrap(),
            "render",
            "--out",
            out_dir.to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(2), "{name}: {}", stderr(&out));
        assert!(stderr(&out).contains(&expected), "{name}: {}", stderr(&out));
        assert!(!out_dir.exists(), "{name}: render wrote nothing");
    }
}

/// A section whose `template` names a file that is not there.
#[test]
fn a_section_naming_a_missing_template_fails_naming_it() {
    let data = Data::new();
    data.replace(
        "sections.toml",
        "id = \"carers\"\n",
        b"id = \"carers\"\ntemplate = \"carer.j2\"\n",
    );
    let prompts = crate::helpers::prompts_dir();
    let out = prompt(&data.dir, &prompts);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!(
            "{}: template not found",
            prompts.join("carer.j2").display()
        )),
        "{err}"
    );
}

// Model output. Each answer goes through `narrator run` (the binary, as an editor runs it)
// against the scripted server; the job must end terminal with a stored draft and report or a
// stored reason, the process must exit by itself (0, or 1 for a job that failed), and
// `store verify` must pass.

const GOOD: &str = "In 2023-24, Coventry spent £46,992 per 100,000 people on adult social care, \
                    slightly below the England average of £47,758.16.";

/// What one job came to.
struct Ran {
    out: Output,
    job: JobRow,
    store: Store,
    requests: usize,
    took: Duration,
    _tmp: tempfile::TempDir,
}

impl Ran {
    /// Text, report and pass of the job's draft.
    async fn draft(&self) -> (String, serde_json::Value, bool) {
        let id = self.job.draft_id.expect("the job kept a draft");
        let draft = self.store.draft_row(id).await.unwrap().unwrap();
        (
            draft.text,
            serde_json::from_str(&draft.report).unwrap(),
            draft.pass,
        )
    }

    /// Drafts stored for the job: the run has this job alone, and every draft its report.
    async fn drafts(&self) -> usize {
        self.store.run_reports(self.job.run_id).await.unwrap().len()
    }
}

/// Runs Coventry's funding job with the model answering `answers` in turn, then verifies the
/// store.
async fn run_job(answers: Vec<Reply>, max_attempts: usize) -> Ran {
    let mock = MockLlm::start(answers, false).await;
    let tmp = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", tmp.path().join("bad-input.db").display());
    let args: Vec<String> = [
        "run",
        "--area",
        "Coventry",
        "--section",
        "funding",
        "--strategy",
        "full",
        "--model",
        "mock",
        "--api-key",
        "sk-test",
        "--base-url",
        &mock.url,
        "--database-url",
        &db,
        "--max-attempts",
        &max_attempts.to_string(),
        "--max-retries",
        "0",
        "--rpm",
        "60000",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let started = Instant::now();
    let out = tokio::task::spawn_blocking(move || {
        narrator(&args.iter().map(String::as_str).collect::<Vec<_>>())
    })
    .await
    .unwrap();
    let took = started.elapsed();
    let verify_db = db.clone();
    let verified = tokio::task::spawn_blocking(move || {
        narrator(&["store", "verify", "--database-url", &verify_db])
    })
    .await
    .unwrap();
    assert_eq!(
        verified.status.code(),
        Some(0),
        "store verify: {}{}",
        stdout(&verified),
        stderr(&verified)
    );
    assert!(
        stdout(&verified).starts_with("ok: 1 runs, 1 jobs"),
        "{}",
        stdout(&verified)
    );
    let store = Store::connect(&db).await.unwrap();
    let run = store.runs(1).await.unwrap().remove(0);
    assert_eq!(run.status, "finished");
    let job = store.jobs(run.id).await.unwrap().remove(0);
    Ran {
        out,
        job,
        store,
        requests: mock.requests().len(),
        took,
        _tmp: tmp,
    }
}

/// Exit 0 when the job passed, 1 when it failed; never 2 (an error) or 101 (a panic).
fn assert_exits_cleanly(ran: &Ran, passed: bool) {
    let expected = if passed { 0 } else { 1 };
    assert_eq!(
        ran.out.status.code(),
        Some(expected),
        "{}{}",
        stdout(&ran.out),
        stderr(&ran.out)
    );
    assert!(
        !stderr(&ran.out).contains("panicked"),
        "{}",
        stderr(&ran.out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_html_answer_is_an_unusable_attempt_and_a_plain_one_follows() {
    let html = format!(
        "<html><body><script>alert(\"owned\")</script><p>{GOOD}</p><img src=x onerror=alert(document.cookie)></body></html>"
    );
    // Markup was not asked for: the attempt is spent, nothing is stored as a draft, and the
    // next attempt asks afresh (not "correct this"), so the markup is never sent back.
    let ran = run_job(vec![Reply::chat(&html), Reply::chat(GOOD)], 2).await;
    assert_exits_cleanly(&ran, true);
    assert_eq!(
        (ran.job.status.as_str(), ran.job.attempts),
        ("needs_review", 2)
    );
    assert_eq!(ran.drafts().await, 1);
    let (text, report, pass) = ran.draft().await;
    assert!(pass && text == GOOD, "{report}");

    let only_html = run_job(vec![Reply::chat(&html)], 1).await;
    assert_exits_cleanly(&only_html, false);
    assert_eq!(only_html.job.status, "failed");
    let reason = only_html.job.last_error.clone().unwrap_or_default();
    assert!(
        reason.contains("HTML markup (<html>)"),
        "the reason names the markup: {reason}"
    );
    assert_eq!(only_html.drafts().await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_1_mb_answer_is_refused_unchecked_and_never_sent_back() {
    let filler = "The council works with carers, providers and the NHS to plan support. ";
    let wrong = "In 2023-24, Coventry spent £49,992 per 100,000 people on adult social care. ";
    let mut huge = wrong.to_string();
    while huge.len() < 1 << 20 {
        huge.push_str(filler);
    }
    // 1 MB where 700 tokens give at most about 11 KB: an unusable attempt, neither checked
    // (the checker is not linear in the figures of a text) nor sent back for correction
    // (which would charge its whole length again); the next attempt asks afresh.
    let ran = run_job(vec![Reply::chat(&huge), Reply::chat(GOOD)], 2).await;
    assert_exits_cleanly(&ran, true);
    assert_eq!(
        (ran.job.status.as_str(), ran.job.attempts),
        ("needs_review", 2)
    );
    assert_eq!(ran.drafts().await, 1);
    let (text, _, pass) = ran.draft().await;
    assert!(pass && text == GOOD);
    assert_eq!(ran.requests, 2);
    assert!(ran.took < Duration::from_secs(20), "took {:?}", ran.took);

    let only_huge = run_job(vec![Reply::chat(&huge)], 1).await;
    assert_exits_cleanly(&only_huge, false);
    let reason = only_huge.job.last_error.clone().unwrap_or_default();
    assert!(reason.contains("answer too long: 1048"), "{reason}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_with_no_figures_passes_with_an_empty_report() {
    let words = "Coventry's council supports many people who need care, and the carers who help \
                 them, working with local providers.";
    let ran = run_job(vec![Reply::chat(words)], 1).await;
    assert_exits_cleanly(&ran, true);
    // Nothing to disprove: the draft passes and a reviewer judges whether it says enough
    // (README: the small model's passing drafts quote no figure at all).
    assert_eq!(ran.job.status, "needs_review");
    let (text, report, pass) = ran.draft().await;
    assert_eq!(text, words);
    assert!(pass);
    assert_eq!(report["mentions"].as_array().unwrap().len(), 0, "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_of_nothing_but_figures_fails_its_checks_with_each_flagged() {
    let figures = "12 34.5 67% 2023";
    let ran = run_job(vec![Reply::chat(figures), Reply::chat(figures)], 2).await;
    assert_exits_cleanly(&ran, false);
    assert_eq!(
        (ran.job.status.as_str(), ran.job.attempts),
        ("failed_checks", 2)
    );
    let (text, report, pass) = ran.draft().await;
    assert_eq!(text, figures);
    assert!(!pass);
    let flagged: Vec<(&str, &str)> = report["mentions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["text"].as_str().unwrap(), m["verdict"].as_str().unwrap()))
        .filter(|(_, v)| !matches!(*v, "supported" | "derived" | "period" | "structural"))
        .collect();
    for figure in ["12", "34.5", "67%"] {
        assert!(
            flagged.iter().any(|(t, _)| *t == figure),
            "{figure} flagged: {report}"
        );
    }
    assert!(
        stdout(&ran.out).contains("failed_checks"),
        "{}",
        stdout(&ran.out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blank_answer_leaves_a_stored_reason_and_no_draft() {
    let ran = run_job(vec![Reply::chat(" \n\t "), Reply::chat("")], 2).await;
    assert_exits_cleanly(&ran, false);
    assert_eq!(ran.job.status, "failed");
    assert_eq!(ran.job.draft_id, None);
    assert_eq!(
        ran.job.last_error.as_deref(),
        Some("every attempt was unusable; last: empty content")
    );
}

// Issue 16, hardening: a store row altered behind narrator's back, and the API key's ways in.

/// Every file under `dir`, as paths relative to it.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(
                files_under(&path)
                    .into_iter()
                    .map(|p| path.strip_prefix(dir).unwrap().join(p)),
            );
        } else {
            found.push(path.strip_prefix(dir).unwrap().to_path_buf());
        }
    }
    found.sort();
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_refuses_an_area_code_that_is_a_path_and_writes_nothing() {
    use crate::review::{draft, seed_facts, settings, FUNDING};
    use narrator::review::{Approval, Desk};
    let tmp = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", tmp.path().join("narrator.db").display());
    let store = Store::connect(&db).await.unwrap();
    let set = seed_facts();
    let id = draft(&store, &set, "ed", "funding", FUNDING).await;
    let approved = Desk::new(&store, &set, settings())
        .approve("rita", id, None, None)
        .await
        .unwrap();
    assert!(matches!(approved, Approval::Published(_)), "{approved:?}");
    store.close().await;
    // No narrator path writes such a code: only someone with the database can.
    let raw = sqlx::AnyPool::connect(&db).await.unwrap();
    sqlx::query("UPDATE versions SET area_code = '../../../pwned'")
        .execute(&raw)
        .await
        .unwrap();
    raw.close().await;
    let before = files_under(tmp.path());

    // Three levels down, so `../../../pwned.json` would land in `tmp`, where it is looked for.
    let out = tmp.path().join("a").join("b").join("site");
    let out_arg = out.display().to_string();
    let export = tokio::task::spawn_blocking(move || {
        narrator(&["export", "--out", &out_arg, "--database-url", &db])
    })
    .await
    .unwrap();
    let err = stderr(&export);
    assert_eq!(export.status.code(), Some(2), "{}{err}", stdout(&export));
    assert!(
        err.contains("area_code")
            && err.contains("\"../../../pwned\"")
            && err.contains("expected an ONS area code"),
        "{err}"
    );
    assert_eq!(err.matches("pwned").count(), 1, "said once: {err}");
    assert!(!stdout(&export).contains("exported"), "{}", stdout(&export));
    // Nothing written: not the file outside --out, not a partial export inside it, not even
    // the folder.
    assert!(!tmp.path().join("pwned.json").exists());
    assert!(!out.exists(), "{:?}", files_under(tmp.path()));
    let after: Vec<PathBuf> = files_under(tmp.path())
        .into_iter()
        .filter(|p| !before.contains(p))
        .collect();
    let written: Vec<&PathBuf> = after
        .iter()
        // SQLite's own journal files come and go with any connection.
        .filter(|p| !p.to_string_lossy().starts_with("narrator.db"))
        .collect();
    assert!(written.is_empty(), "{written:?}");
}

/// How a run is given its key: arguments added to the command line, and the whole
/// environment.
struct KeyGiven<'a> {
    args: &'a [&'a str],
    env: &'a [(&'a str, &'a str)],
}

/// `narrator run` of Coventry's funding section against `mock_url`, given its key as `key`
/// says. Nothing else is in the environment, so a NARRATOR_API_KEY of the person running the
/// tests cannot change the outcome.
fn run_with_key(mock_url: &str, key: &KeyGiven) -> Output {
    let tmp = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", tmp.path().join("narrator.db").display());
    std::process::Command::new(env!("CARGO_BIN_EXE_narrator"))
        .args([
            "run",
            "--area",
            "Coventry",
            "--section",
            "funding",
            "--model",
            "mock",
            "--base-url",
            mock_url,
            "--database-url",
            &db,
            "--max-retries",
            "0",
        ])
        .args(key.args)
        .current_dir(root())
        .env_clear()
        .envs(key.env.iter().copied())
        .output()
        .expect("the narrator binary runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_key_on_the_command_line_is_warned_about_and_the_other_ways_are_not() {
    use narrator::config::KEY_ON_COMMAND_LINE;
    let mock = MockLlm::start(Vec::new(), true).await;
    let keys = tempfile::tempdir().unwrap();
    let key_file = keys.path().join("key");
    std::fs::write(&key_file, "sk-from-file\n").unwrap();
    let key_path = key_file.display().to_string();
    let url = mock.url.clone();
    let runs = tokio::task::spawn_blocking(move || {
        let cases = [
            (
                "--api-key",
                KeyGiven {
                    args: &["--api-key", "sk-on-the-line"],
                    env: &[],
                },
            ),
            (
                "NARRATOR_API_KEY",
                KeyGiven {
                    args: &[],
                    env: &[("NARRATOR_API_KEY", "sk-from-env")],
                },
            ),
            (
                "--api-key-file",
                KeyGiven {
                    args: &["--api-key-file", &key_path],
                    env: &[],
                },
            ),
            (
                "NARRATOR_API_KEY_FILE",
                KeyGiven {
                    args: &[],
                    env: &[("NARRATOR_API_KEY_FILE", &key_path)],
                },
            ),
        ];
        cases.map(|(how, key)| (how, run_with_key(&url, &key)))
    })
    .await
    .unwrap();
    for (how, out) in &runs {
        let err = stderr(out);
        assert_eq!(out.status.code(), Some(0), "{how}: {}{err}", stdout(out));
        let warned = err.contains(KEY_ON_COMMAND_LINE);
        assert_eq!(warned, *how == "--api-key", "{how}: {err}");
        for key in ["sk-on-the-line", "sk-from-env", "sk-from-file"] {
            assert!(!err.contains(key) && !stdout(out).contains(key), "{how}");
        }
    }
    assert!(KEY_ON_COMMAND_LINE.contains("NARRATOR_API_KEY"));
    assert!(KEY_ON_COMMAND_LINE.contains("--api-key-file"));
    assert_eq!(mock.requests().len(), 4, "one request per run");
}

#[test]
fn a_bad_api_key_file_is_refused_naming_it() {
    let keys = tempfile::tempdir().unwrap();
    let missing = keys.path().join("missing");
    let empty = keys.path().join("empty");
    std::fs::write(&empty, "\n").unwrap();
    let good = keys.path().join("key");
    std::fs::write(&good, "sk-from-file\n").unwrap();
    let (missing, empty, good) = (
        missing.display().to_string(),
        empty.display().to_string(),
        good.display().to_string(),
    );
    // Refused while the settings are built, before any request: the base URL is never used.
    let unused = "http://127.0.0.1:9/v1";
    let cases = [
        (
            KeyGiven {
                args: &["--api-key-file", &missing],
                env: &[],
            },
            format!("cannot read the API key file {missing}"),
        ),
        (
            KeyGiven {
                args: &["--api-key-file", &empty],
                env: &[],
            },
            format!("the API key file {empty} is empty"),
        ),
        (
            KeyGiven {
                args: &["--api-key", "sk-on-the-line", "--api-key-file", &good],
                env: &[],
            },
            format!("the API key is given twice, by --api-key (or NARRATOR_API_KEY) and by --api-key-file (or NARRATOR_API_KEY_FILE) {good}"),
        ),
        (
            KeyGiven {
                args: &["--api-key-file", &good],
                env: &[("NARRATOR_API_KEY", "sk-from-env")],
            },
            "the API key is given twice".to_string(),
        ),
    ];
    for (key, expected) in cases {
        let out = run_with_key(unused, &key);
        let err = stderr(&out);
        let given = (key.args, key.env);
        assert_eq!(out.status.code(), Some(2), "{given:?}: {err}");
        assert!(err.contains(&expected), "{given:?}: {err}");
        assert!(!err.contains("sk-"), "{given:?}: {err}");
    }
}
