//! Validated settings built from the raw flags, one step per command before any I/O; secrets
//! stay wrapped.

use crate::cli::{
    ActorArgs, DemoArgs, MockArgs, OnOff, ProviderArgs, ReviewArgs, RunArgs, RunnerArgs, ServeArgs,
};
use crate::mock::MockSettings;
use crate::prompt::{Strategy, Structured};
use crate::provider::{Limits, ProviderSettings, RetryPolicy, Secret};
use crate::review::ReviewSettings;
use crate::run::RunOptions;
use anyhow::{bail, Context, Result};
use std::ffi::OsStr;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
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
    Ok(ProviderSettings {
        base_url: args.base_url.clone(),
        api_key,
        model: args.model.clone(),
        temperature: args.temperature,
        max_tokens: args.max_tokens,
        timeout: Duration::from_secs(args.timeout_secs),
        structured,
    })
}

/// The prompt strategy drafts are asked for with: `--strategy`, else the best measured one for
/// an endpoint that takes constraints as `structured` says (README, "Prompt strategies").
pub fn strategy(args: &ProviderArgs, structured: Structured) -> Result<Strategy> {
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
    Ok(strategy)
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

/// How runs are worked; `structured` is the endpoint's, which picks the default strategy.
pub fn run_options(
    args: &RunnerArgs,
    structured: Structured,
    started_by: &str,
    force: bool,
) -> Result<RunOptions> {
    let strategy = strategy(&args.provider, structured)?;
    if args.concurrency == 0 || args.max_attempts == 0 || args.lease_secs == 0 {
        bail!("--concurrency, --max-attempts and --lease-secs must be above zero");
    }
    if !(args.rpm > 0.0 && args.tpm > 0.0) {
        bail!("--rpm and --tpm must be above zero");
    }
    Ok(RunOptions {
        started_by: started_by.to_string(),
        strategy,
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
            burst: args.burst,
        },
        prices: (args.price_prompt, args.price_completion),
    })
}

/// What a runner needs: the provider, how runs are worked, and the database.
#[derive(Clone, Debug)]
pub struct RunnerSettings {
    pub provider: ProviderSettings,
    pub options: RunOptions,
    pub database_url: String,
    /// Where `run`, `worker` and `demo` serve `/metrics` (`--metrics-addr`), if anywhere.
    pub metrics_addr: Option<SocketAddr>,
}

pub fn runner_settings(args: &RunnerArgs, started_by: &str, force: bool) -> Result<RunnerSettings> {
    let provider = provider_settings(&args.provider)?;
    Ok(RunnerSettings {
        options: run_options(args, provider.structured, started_by, force)?,
        provider,
        database_url: args.database.database_url.clone(),
        metrics_addr: None,
    })
}

/// A `run` or `worker`: the runner, recorded as started by `--started-by` (or NARRATOR_USER),
/// else $USER, else `editor`.
pub fn run_settings(args: &RunArgs) -> Result<RunnerSettings> {
    let started_by = args
        .started_by
        .clone()
        .or_else(|| args.login_user.clone().and_then(|u| u.into_string().ok()))
        .unwrap_or_else(|| "editor".to_string());
    Ok(RunnerSettings {
        metrics_addr: args.metrics_addr.as_deref().map(metrics_addr).transpose()?,
        ..runner_settings(&args.runner, &started_by, args.force)?
    })
}

/// `--metrics-addr`: an IP address and a port, as a listener binds them (a host name would
/// leave which interface serves the metrics to the resolver).
fn metrics_addr(raw: &str) -> Result<SocketAddr> {
    raw.trim().parse().map_err(|_| {
        anyhow::anyhow!(
            "--metrics-addr (NARRATOR_METRICS_ADDR) must be an IP address and port such as \
             127.0.0.1:9187 or [::1]:9187, found {raw:?}"
        )
    })
}

/// Stands in for the local model's address, which is known only once it has started (on a
/// free port); `narrator demo` puts the real one in its place.
pub const LOCAL_MODEL_URL: &str = "http://127.0.0.1:0/v1";

/// `narrator demo`.
#[derive(Clone, Debug)]
pub struct DemoSettings {
    /// The scope flags (areas, sections, resume), as a run takes them.
    pub run: RunArgs,
    pub runner: RunnerSettings,
    /// No NARRATOR_BASE_URL in the environment: the demo starts the local model, whose address
    /// replaces [`LOCAL_MODEL_URL`] in `runner.provider.base_url`.
    pub local_model: bool,
    /// Where the site's files are written (NARRATOR_EXPORT).
    pub export_dir: PathBuf,
    /// Where the review page is served at the end: only in a terminal outside CI; elsewhere
    /// the demo says how to start it.
    pub review_page: Option<SocketAddr>,
}

pub fn demo_settings(args: &DemoArgs) -> Result<DemoSettings> {
    let mut run = args.run.clone();
    // Another endpoint named in the environment replaces the local model.
    let local_model = args.base_url_in_env.is_none();
    if local_model {
        run.runner.provider.base_url = LOCAL_MODEL_URL.to_string();
        // llama.cpp's server takes a grammar.
        run.runner
            .provider
            .structured
            .get_or_insert(Structured::Grammar);
        // llama.cpp's server answers one request at a time on two cores: queueing more only
        // turns waits into timeouts.
        run.runner.concurrency = 1;
    }
    let runner = run_settings(&run)?;
    let export_dir = PathBuf::from(
        args.export_dir
            .clone()
            .unwrap_or_else(|| ".narrator/export".into()),
    );
    let interactive = std::io::IsTerminal::is_terminal(&std::io::stdout()) && args.ci.is_none();
    let review_page = if interactive {
        let addr = args
            .review_addr
            .clone()
            .and_then(|a| a.into_string().ok())
            .unwrap_or_else(|| "127.0.0.1:8080".to_string());
        Some(
            addr.parse()
                .context("--review-addr (NARRATOR_ADDR) must be an address like 127.0.0.1:8080")?,
        )
    } else {
        None
    };
    Ok(DemoSettings {
        run,
        runner,
        local_model,
        export_dir,
        review_page,
    })
}

/// `narrator serve`.
#[derive(Clone, Debug)]
pub struct ServeSettings {
    pub review: ReviewSettings,
    pub votes_per_minute: f64,
    /// The runner (and so the model) is used only for runs started from the web.
    pub runner: RunnerSettings,
    pub limits: crate::web::Limits,
}

pub fn serve_settings(args: &ServeArgs) -> Result<ServeSettings> {
    let review = review_settings(&args.review)?;
    if args.votes_per_minute.is_nan() || args.votes_per_minute < 1.0 {
        bail!("--votes-per-minute must be at least 1");
    }
    Ok(ServeSettings {
        review,
        votes_per_minute: args.votes_per_minute,
        runner: runner_settings(&args.runner, "web", false)?,
        limits: crate::web::Limits {
            header_read: Duration::from_secs(args.header_read_timeout_secs),
            request: Duration::from_secs(args.request_timeout_secs),
            connections: usize::try_from(args.max_connections).unwrap_or(usize::MAX),
        },
    })
}

/// The review desk's settings.
pub fn review_settings(args: &ReviewArgs) -> Result<ReviewSettings> {
    if !(1..=24 * 60).contains(&args.claim_minutes) || args.down_vote_threshold < 1 {
        bail!("--claim-minutes must be 1 to 1440 and --down-vote-threshold at least 1");
    }
    Ok(ReviewSettings {
        separation_of_duties: args.separation_of_duties == OnOff::On,
        claim_lease: Duration::from_secs(args.claim_minutes * 60),
        down_vote_threshold: args.down_vote_threshold,
    })
}

/// Who is acting (`--as` or NARRATOR_USER): a name that is not blank.
pub fn actor(args: &ActorArgs) -> Result<String> {
    match args.user.as_deref().map(str::trim) {
        Some(name) if !name.is_empty() => Ok(name.to_string()),
        _ => bail!("say who you are with --as NAME or NARRATOR_USER"),
    }
}

/// `narrator mock-provider`.
pub fn mock_settings(args: &MockArgs) -> Result<MockSettings> {
    let rates = [
        args.server_errors,
        args.timeouts,
        args.malformed,
        args.truncated,
        args.wrong_figures,
    ];
    if rates.iter().any(|r| !(0.0..=1.0).contains(r)) || rates[..4].iter().sum::<f64>() > 1.0 {
        bail!("fault rates must be from 0 to 1, and the first four may not add up to more than 1");
    }
    if !(args.rpm > 0.0 && args.tpm > 0.0 && args.bucket_secs > 0.0) {
        bail!("--rpm, --tpm and --bucket-secs must be above zero");
    }
    if !(args.drop_to > 0.0 && args.drop_to <= 1.0)
        || args
            .drop_after_secs
            .is_some_and(|s| !(s >= 0.0 && s.is_finite()))
    {
        bail!("--drop-to must be above 0 and at most 1, --drop-after-secs 0 or more");
    }
    Ok(MockSettings {
        latency: Duration::from_millis(args.latency_ms),
        jitter: Duration::from_millis(args.jitter_ms),
        requests_per_minute: args.rpm,
        tokens_per_minute: args.tpm,
        bucket_secs: args.bucket_secs,
        retry_after: args.retry_after,
        server_error_rate: args.server_errors,
        timeout_rate: args.timeouts,
        malformed_rate: args.malformed,
        truncate_rate: args.truncated,
        wrong_figure_rate: args.wrong_figures,
        limit_drop: args
            .drop_after_secs
            .map(|secs| (Duration::from_secs_f64(secs), args.drop_to)),
        refuse_structured: args.refuse_structured,
        ratelimit_headers: args.ratelimit_headers,
        seed: args.seed,
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

    /// The flags of one command line, as clap parses them (flags win over the environment).
    fn parse(argv: &[&str]) -> crate::cli::Command {
        use clap::Parser;
        crate::cli::Cli::try_parse_from(argv).unwrap().command
    }

    #[test]
    fn mock_fault_rates_adding_up_to_more_than_one_are_refused() {
        let crate::cli::Command::MockProvider(args) = parse(&[
            "narrator",
            "mock-provider",
            "--server-errors=0.6",
            "--timeouts=0.6",
        ]) else {
            unreachable!()
        };
        let why = format!("{:#}", mock_settings(&args).expect_err("refused"));
        assert!(why.starts_with("fault rates must be from 0 to 1"), "{why}");
    }

    #[test]
    fn a_claim_of_no_minutes_is_refused() {
        let crate::cli::Command::Review(crate::cli::ReviewCommand::Queue { desk, .. }) =
            parse(&["narrator", "review", "queue", "--claim-minutes=0"])
        else {
            unreachable!()
        };
        let why = format!("{:#}", review_settings(&desk.review).expect_err("refused"));
        assert!(
            why.starts_with("--claim-minutes must be 1 to 1440"),
            "{why}"
        );
    }

    #[test]
    fn a_metrics_address_without_a_port_or_with_a_host_name_is_refused_saying_what_is_expected() {
        for bad in ["127.0.0.1", "localhost:9187", "9187", "127.0.0.1:port", ""] {
            let crate::cli::Command::Run(args) = parse(&["narrator", "run", "--metrics-addr", bad])
            else {
                unreachable!()
            };
            let why = format!("{:#}", run_settings(&args).expect_err(bad));
            assert!(
                why.starts_with("--metrics-addr (NARRATOR_METRICS_ADDR) must be an IP address and port such as 127.0.0.1:9187")
                    && why.ends_with(&format!("found {bad:?}")),
                "{why}"
            );
        }
    }

    #[test]
    fn a_metrics_address_is_the_socket_address_it_names() {
        let crate::cli::Command::Worker(args) =
            parse(&["narrator", "worker", "--metrics-addr", "0.0.0.0:9187"])
        else {
            unreachable!()
        };
        let settings = run_settings(&args.run).unwrap();
        assert_eq!(
            settings.metrics_addr,
            Some(SocketAddr::from(([0, 0, 0, 0], 9187)))
        );
        let crate::cli::Command::Run(args) = parse(&["narrator", "run"]) else {
            unreachable!()
        };
        assert_eq!(run_settings(&args).unwrap().metrics_addr, None);
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
