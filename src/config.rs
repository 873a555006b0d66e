//! Validated settings built from the raw flags; secrets stay wrapped.

use crate::cli::{ProviderArgs, RunnerArgs};
use crate::prompt::{Strategy, Structured};
use crate::provider::{Limits, ProviderSettings, RetryPolicy, Secret};
use crate::run::RunOptions;
use anyhow::{bail, Context, Result};
use std::ffi::OsStr;
use std::path::Path;
use std::time::Duration;

/// Printed when the key is among the process's arguments, where any user of the machine can
/// read it.
pub const KEY_ON_COMMAND_LINE: &str = "warning: --api-key on the command line is visible to \
     every user of this machine (ps, /proc/PID/cmdline); set NARRATOR_API_KEY or use \
     --api-key-file PATH instead";

pub fn provider_settings(args: &ProviderArgs) -> Result<ProviderSettings> {
    if !args.api_key.is_empty() && key_on_command_line(std::env::args_os()) {
        // Only a warning: the flag keeps working for scripts that pass it today.
        eprintln!("{KEY_ON_COMMAND_LINE}");
    }
    let api_key = api_key(args)?;
    if !(args.base_url.starts_with("http://") || args.base_url.starts_with("https://")) {
        bail!(
            "--base-url must be an http:// or https:// URL, found {:?}",
            args.base_url
        );
    }
    if !(0.0..=2.0).contains(&args.temperature) {
        bail!(
            "--temperature must be between 0 and 2, found {}",
            args.temperature
        );
    }
    if args.max_tokens == 0 || args.timeout_secs == 0 {
        bail!("--max-tokens and --timeout-secs must be above zero");
    }
    let structured = args
        .structured
        .unwrap_or_else(|| Structured::default_for(&args.base_url));
    // The best measured strategy for the endpoint (README, "Prompt strategies").
    let strategy = args
        .strategy
        .unwrap_or(if structured == Structured::Grammar {
            Strategy::Constrained
        } else {
            Strategy::Focused
        });
    if strategy == Strategy::Constrained && structured == Structured::None {
        bail!(
            "--strategy constrained needs an endpoint that takes a constraint: --structured \
             grammar (llama.cpp) or json-schema (OpenAI, Ollama, vLLM); {} is not assumed to \
             take either",
            args.base_url
        );
    }
    Ok(ProviderSettings {
        base_url: args.base_url.clone(),
        api_key,
        model: args.model.clone(),
        temperature: args.temperature,
        max_tokens: args.max_tokens,
        timeout: Duration::from_secs(args.timeout_secs),
        strategy,
        structured,
    })
}

/// The key given by --api-key (or NARRATOR_API_KEY), or read from --api-key-file (or
/// NARRATOR_API_KEY_FILE); both at once is refused rather than one silently winning.
fn api_key(args: &ProviderArgs) -> Result<Secret> {
    let Some(path) = &args.api_key_file else {
        return Ok(Secret::new(args.api_key.clone()));
    };
    if !args.api_key.is_empty() {
        bail!(
            "the API key is given twice, by --api-key (or NARRATOR_API_KEY) and by \
             --api-key-file (or NARRATOR_API_KEY_FILE) {}: give one",
            path.display()
        );
    }
    read_key_file(path)
}

/// The key a file holds. Surrounding whitespace is dropped (editors and `echo` end the file
/// with a newline that is no part of the key); a key is one line, so a second line is refused
/// instead of being sent in a header.
fn read_key_file(path: &Path) -> Result<Secret> {
    let raw = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the API key file {}", path.display()))?;
    let key = raw.trim();
    if key.is_empty() {
        bail!(
            "the API key file {} is empty: expected the key on one line",
            path.display()
        );
    }
    if key.contains(['\n', '\r']) {
        bail!(
            "the API key file {} holds more than one line: expected the key on one line",
            path.display()
        );
    }
    Ok(Secret::new(key))
}

/// Whether `--api-key` is among the process's arguments, which `ps` shows, rather than in the
/// environment, which clap reads into the same field. Arguments after `--` are not flags.
fn key_on_command_line<I, S>(argv: I) -> bool
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    argv.into_iter()
        .skip(1)
        .map(|arg| arg.as_ref().to_string_lossy().into_owned())
        .take_while(|arg| arg != "--")
        .any(|arg| arg == "--api-key" || arg.starts_with("--api-key="))
}

pub fn run_options(args: &RunnerArgs, started_by: &str, force: bool) -> Result<RunOptions> {
    if args.concurrency == 0 || args.max_attempts == 0 || args.lease_secs == 0 {
        bail!("--concurrency, --max-attempts and --lease-secs must be above zero");
    }
    if !(args.rpm > 0.0 && args.tpm > 0.0) {
        bail!("--rpm and --tpm must be above zero");
    }
    Ok(RunOptions {
        started_by: started_by.to_string(),
        force,
        max_attempts: args.max_attempts,
        lease: Duration::from_secs(args.lease_secs),
        retry: RetryPolicy {
            max_retries: args.max_retries,
            max_throttled_retries: args.max_throttled_retries,
            ..RetryPolicy::default()
        },
        limits: Limits {
            requests_per_minute: args.rpm,
            tokens_per_minute: args.tpm,
            concurrency: args.concurrency,
        },
        prices: (args.price_prompt, args.price_completion),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn args(api_key: &str, api_key_file: Option<PathBuf>) -> ProviderArgs {
        ProviderArgs {
            base_url: "http://127.0.0.1:8000/v1".to_string(),
            api_key: api_key.to_string(),
            api_key_file,
            model: "m".to_string(),
            temperature: 0.2,
            max_tokens: 700,
            timeout_secs: 120,
            strategy: None,
            structured: None,
        }
    }

    /// A file holding `contents`, and the folder that keeps it alive.
    fn key_file(contents: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        std::fs::write(&path, contents).unwrap();
        (dir, path)
    }

    fn refusal(args: &ProviderArgs) -> String {
        format!("{:#}", provider_settings(args).expect_err("refused"))
    }

    #[test]
    fn a_key_file_gives_its_key_without_the_trailing_newline() {
        let (_dir, path) = key_file("sk-from-file\n");
        let settings = provider_settings(&args("", Some(path))).unwrap();
        assert_eq!(settings.api_key.expose(), "sk-from-file");
        let (_dir, path) = key_file("sk-from-file\r\n");
        let settings = provider_settings(&args("", Some(path))).unwrap();
        assert_eq!(settings.api_key.expose(), "sk-from-file");
    }

    #[test]
    fn the_key_flag_is_used_when_there_is_no_file() {
        let settings = provider_settings(&args("sk-flag", None)).unwrap();
        assert_eq!(settings.api_key.expose(), "sk-flag");
    }

    #[test]
    fn an_empty_key_file_is_refused_with_its_path() {
        let (_dir, path) = key_file("\n");
        let why = refusal(&args("", Some(path.clone())));
        assert!(
            why.contains(&path.display().to_string()) && why.contains("is empty"),
            "{why}"
        );
    }

    #[test]
    fn a_key_file_of_two_lines_is_refused_without_showing_them() {
        let (_dir, path) = key_file("sk-one\nsk-two\n");
        let why = refusal(&args("", Some(path.clone())));
        assert!(why.contains("more than one line"), "{why}");
        assert!(!why.contains("sk-one"), "{why}");
    }

    #[test]
    fn an_unreadable_key_file_is_refused_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing-key");
        let why = refusal(&args("", Some(path.clone())));
        assert!(
            why.contains("cannot read the API key file")
                && why.contains(&path.display().to_string()),
            "{why}"
        );
    }

    #[test]
    fn a_key_and_a_key_file_together_are_refused() {
        let (_dir, path) = key_file("sk-from-file\n");
        let why = refusal(&args("sk-flag", Some(path)));
        assert!(
            why.contains("given twice") && why.contains("--api-key-file"),
            "{why}"
        );
        assert!(
            !why.contains("sk-flag") && !why.contains("sk-from-file"),
            "{why}"
        );
    }

    #[test]
    fn only_a_key_among_the_arguments_counts_as_on_the_command_line() {
        let on = |argv: &[&str]| key_on_command_line(argv);
        assert!(on(&["narrator", "run", "--api-key", "sk"]));
        assert!(on(&["narrator", "run", "--api-key=sk"]));
        assert!(!on(&["narrator", "run", "--api-key-file", "key"]));
        assert!(!on(&["narrator", "run", "--model", "m"]));
        assert!(!on(&["narrator", "run", "--", "--api-key"]));
        // The program's own name is not an argument.
        assert!(!on(&["--api-key"]));
    }
}
