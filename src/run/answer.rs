//! Reading an answer: whether it can be a draft, and the prose the checker gets if it can.

use crate::facts::FactRow;
use crate::provider::{Completion, Ending};

/// The most bytes one answer token may stand for: English runs about four, so sixteen
/// leaves room for long words and any tokenizer while catching an answer no limit of
/// `max_tokens` could have produced (an endpoint ignoring the limit, or a proxy's page).
const MAX_BYTES_PER_TOKEN: usize = 16;

/// What the request asked the answer to be.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Form<'a> {
    /// Paragraphs, checked as written.
    Prose,
    /// JSON segments (the `constrained` strategy with a JSON schema), which narrator assembles
    /// into prose from these rows.
    Segments(&'a [FactRow]),
    /// Prose with `[fact:ID]` placeholders (the `grounded` strategy), filled from these rows.
    Placeholders(&'a [FactRow]),
}

/// An answer read.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Reading {
    /// Prose for the checker.
    Draft(String),
    /// No draft: why, in words a reviewer reads in the job's history.
    Unusable(String),
}

/// Reads an answer: the endpoint's own verdict first (no choices, refused, truncated,
/// filtered, empty), then its length against `max_tokens` and whether it is prose at all,
/// then the form the request asked for. Pure: the job stores what this says.
pub(crate) fn read(answer: &Completion, max_tokens: u32, form: Form<'_>) -> Reading {
    let text = &answer.text;
    let ended = match &answer.ending {
        Ending::NoChoices => Some("no choices in the answer".to_string()),
        Ending::Refused(why) => Some(format!("the model refused: {why}")),
        Ending::Length => {
            Some("truncated: the answer hit the token limit (finish_reason length)".to_string())
        }
        Ending::ContentFilter => Some("withheld by the provider's content filter".to_string()),
        Ending::Stop if text.trim().is_empty() => Some("empty content".to_string()),
        Ending::Stop => None,
    };
    if let Some(why) = ended.or_else(|| unusable_text(text, max_tokens)) {
        return Reading::Unusable(why);
    }
    match form {
        Form::Prose => Reading::Draft(text.clone()),
        Form::Segments(rows) => match crate::prompt::assemble(text, rows) {
            Ok(prose) => Reading::Draft(prose),
            Err(why) => Reading::Unusable(why),
        },
        Form::Placeholders(rows) => {
            let grounded = crate::prompt::ground(text, rows);
            if grounded.unknown.is_empty() {
                Reading::Draft(grounded.text)
            } else {
                // Placeholders that name no fact leave no figure to check.
                Reading::Unusable(format!(
                    "placeholders naming no fact of the request: {}",
                    grounded.unknown.join(", ")
                ))
            }
        }
    }
}

/// Why an answer cannot be a draft though it arrived whole: far longer than `max_tokens`
/// allows, or not prose (markup, a table or a list of the facts) where paragraphs were asked for.
fn unusable_text(text: &str, max_tokens: u32) -> Option<String> {
    let most = usize::try_from(max_tokens)
        .unwrap_or(usize::MAX)
        .saturating_mul(MAX_BYTES_PER_TOKEN);
    if text.len() > most {
        return Some(format!(
            "answer too long: {} bytes, where {max_tokens} tokens give at most about {most}",
            text.len()
        ));
    }
    crate::check::not_prose(text).map(|why| why.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(text: &str, ending: Ending) -> Completion {
        Completion {
            text: text.to_string(),
            ending,
            prompt_tokens: 10,
            completion_tokens: 5,
        }
    }

    fn unusable(reading: Reading) -> String {
        match reading {
            Reading::Unusable(why) => why,
            Reading::Draft(text) => panic!("read as a draft: {text}"),
        }
    }

    #[test]
    fn prose_that_ended_on_its_own_is_a_draft() {
        let prose = "It rose to 41.6% in 2024.";
        assert_eq!(
            read(&answer(prose, Ending::Stop), 700, Form::Prose),
            Reading::Draft(prose.to_string())
        );
    }

    #[test]
    fn the_endpoints_verdict_comes_before_the_text() {
        let prose = "It rose to 41.6% in 2024.";
        let cases = [
            (Ending::Length, "truncated"),
            (Ending::ContentFilter, "content filter"),
            (
                Ending::Refused("I cannot".into()),
                "the model refused: I cannot",
            ),
            (Ending::NoChoices, "no choices"),
        ];
        for (ending, said) in cases {
            let why = unusable(read(&answer(prose, ending.clone()), 700, Form::Prose));
            assert!(why.contains(said), "{ending:?}: {why}");
        }
        let why = unusable(read(&answer("  \n", Ending::Stop), 700, Form::Prose));
        assert_eq!(why, "empty content");
    }

    #[test]
    fn runaway_html_and_table_answers_are_unusable() {
        // What counts as prose is `check::not_prose`'s to test; here, that it is asked.
        let long = "word ".repeat(3_000);
        let why = unusable(read(&answer(&long, Ending::Stop), 700, Form::Prose));
        assert!(why.contains("15000 bytes"), "{why}");
        assert!(matches!(
            read(&answer(&long, Ending::Stop), 4_000, Form::Prose),
            Reading::Draft(_)
        ));
        let table = "| Measure | Coventry |\n|---|---|\n| Requests | 2,220.67 |";
        let why = unusable(read(&answer(table, Ending::Stop), 700, Form::Prose));
        assert!(why.contains("table"), "{why}");
        let why = unusable(read(&answer("<p>Text</p>", Ending::Stop), 700, Form::Prose));
        assert!(why.contains("HTML markup"), "{why}");
    }

    #[test]
    fn segments_and_placeholders_that_fit_no_row_are_unusable() {
        let why = unusable(read(
            &answer("not json", Ending::Stop),
            700,
            Form::Segments(&[]),
        ));
        assert!(why.contains("segments JSON"), "{why}");
        let why = unusable(read(
            &answer("It was [fact:nope] in 2024.", Ending::Stop),
            700,
            Form::Placeholders(&[]),
        ));
        assert!(why.contains("placeholders naming no fact"), "{why}");
    }
}
