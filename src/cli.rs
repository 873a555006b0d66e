//! Command-line flags as parsed by clap: raw values only, no I/O.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Writes the explanatory text on council adult social care pages, and proves every number in it.
#[derive(Debug, Parser)]
#[command(name = "narrator", version, about, long_about = None)]
pub struct Cli {
    /// Folder holding the data contract: areas.csv, metrics.toml, sections.toml and facts/*.csv.
    #[arg(long, global = true, env = "NARRATOR_DATA", default_value = "data")]
    pub data: PathBuf,

    /// Folder holding the minijinja prompt templates.
    #[arg(
        long,
        global = true,
        env = "NARRATOR_PROMPTS",
        default_value = "prompts"
    )]
    pub prompts: PathBuf,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate or inspect the facts in the data folder.
    #[command(subcommand)]
    Facts(FactsCommand),

    /// Print the chat messages narrator would send for one council and section.
    Prompt(PromptArgs),

    /// Validate the data and render every council's prompts, printing a summary with fingerprints.
    Render(RenderArgs),

    /// Check every figure in a narrative against one council's and section's facts.
    /// Exit 0 when it passes, 1 when any figure is flagged, 2 on a usage or input error.
    Check(CheckArgs),

    /// Mutate every passing golden narrative and print how many mutants the checker catches.
    EvalChecker(EvalArgs),

    /// Generate drafts for councils and sections through the model, check every figure,
    /// re-ask on failures, and store every attempt. Running the same command again resumes
    /// an interrupted run.
    Run(RunArgs),

    /// List runs, or show one run's jobs.
    #[command(subcommand)]
    Runs(RunsCommand),

    /// Work the open runs made for this model and parameters, claiming jobs with leases;
    /// start several (on several machines) against one PostgreSQL database.
    Worker(WorkerArgs),

    /// The whole pipeline on this machine: validate the data, start the local model (installing
    /// it once) unless NARRATOR_BASE_URL names another, write and check drafts for every seed
    /// council and section, and print a summary with the pass rate.
    Demo(DemoArgs),

    /// Work the review queue: list, claim, show, approve (with edits), reject or skip drafts;
    /// read a page's history; re-check published text against the current facts.
    #[command(subcommand)]
    Review(ReviewCommand),

    /// Thumbs up or down on a published version, from a named member of staff (`--as`) or a
    /// site visitor (`--visitor TOKEN`).
    Feedback(FeedbackArgs),

    /// Serve the JSON API (/api/v1) and the review page (/review) until Ctrl-C or SIGTERM.
    /// Runs started from the web are worked in this process with the provider settings.
    Serve(ServeArgs),

    /// Staff who use the web face: add (prints the token once), list, disable, new token.
    #[command(subcommand)]
    Users(UsersCommand),

    /// Check the store's invariants: every job of a finished run terminal, no attempt stored
    /// twice, every draft with its report, one published version per page. Exit 1 if any
    /// is broken.
    #[command(subcommand)]
    Store(StoreCommand),

    /// Serve a stand-in OpenAI-compatible provider on loopback for load tests and fault drills:
    /// latency, request and token limits enforced with 429 and Retry-After, injected faults,
    /// and drafts that quote the prompt's figures. GET /stats counts what it saw.
    MockProvider(MockArgs),

    /// Write a data folder with N synthetic councils (codes X99..., named "not a real
    /// council") modelled on the seed councils, for scale tests. The export refuses them.
    Synth(SynthArgs),

    /// Measure narrator against the mock provider: throughput beside the analytic minimum
    /// and a naive baseline, kill -9 drills, several workers on one queue.
    #[command(subcommand)]
    Bench(BenchCommand),

    /// Write the site build's files: one JSON file per area of approved text only, and an
    /// index with each file's SHA-256. The same store gives byte-identical files.
    Export(ExportArgs),
}

/// Who is acting: recorded with every change they make.
#[derive(Clone, Debug, Args)]
pub struct ActorArgs {
    /// Your name as a reviewer or member of staff.
    #[arg(long = "as", env = "NARRATOR_USER")]
    pub user: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OnOff {
    On,
    Off,
}

/// The review desk's settings and database.
#[derive(Clone, Debug, Args)]
pub struct DeskArgs {
    #[command(flatten)]
    pub review: ReviewArgs,

    #[command(flatten)]
    pub database: DatabaseArgs,
}

/// The review desk's settings.
#[derive(Clone, Debug, Args)]
pub struct ReviewArgs {
    /// The person who started a run may not approve its drafts.
    #[arg(long, env = "NARRATOR_SEPARATION_OF_DUTIES", value_enum, default_value_t = OnOff::On)]
    pub separation_of_duties: OnOff,

    /// Minutes a claim keeps a draft away from other reviewers.
    #[arg(long, env = "NARRATOR_CLAIM_MINUTES", default_value_t = 15)]
    pub claim_minutes: u64,

    /// Down votes since the last review that send a published version back to the queue.
    #[arg(long, env = "NARRATOR_DOWN_VOTE_THRESHOLD", default_value_t = 3)]
    pub down_vote_threshold: i64,
}

/// Narrows the queue; every flag given must match.
#[derive(Clone, Debug, Args)]
pub struct QueueFilterArgs {
    /// Council by code or name.
    #[arg(long)]
    pub area: Option<String>,
    /// Section id.
    #[arg(long)]
    pub section: Option<String>,
    /// Run id.
    #[arg(long)]
    pub run: Option<i64>,
}

#[derive(Debug, Subcommand)]
pub enum ReviewCommand {
    /// Drafts waiting for review, oldest first, with who holds a claim on them.
    Queue {
        #[command(flatten)]
        filter: QueueFilterArgs,
        #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
        format: CheckFormat,
        #[command(flatten)]
        desk: DeskArgs,
    },
    /// Claim a draft (the oldest the filter allows, or the one given) so no other reviewer
    /// works on it until the claim expires, and show it.
    Claim {
        draft: Option<i64>,
        #[command(flatten)]
        filter: QueueFilterArgs,
        #[command(flatten)]
        actor: ActorArgs,
        #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
        format: CheckFormat,
        #[command(flatten)]
        desk: DeskArgs,
    },
    /// A draft with every figure marked as the checker judged it against today's facts, the
    /// fact each rests on, the changes against the published version, the facts changed
    /// since that was approved, and its feedback.
    Show {
        draft: i64,
        #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
        format: CheckFormat,
        #[command(flatten)]
        desk: DeskArgs,
    },
    /// Publish a draft, optionally with your edits (re-checked); text that fails the check
    /// needs `--override` with a reason. Exit 1 when the check fails without one.
    Approve {
        draft: i64,
        /// A file holding the edited text (`-` reads standard input).
        #[arg(long)]
        edit: Option<PathBuf>,
        /// Why failing text should be published anyway; recorded and shown.
        #[arg(long = "override")]
        override_reason: Option<String>,
        #[command(flatten)]
        actor: ActorArgs,
        #[command(flatten)]
        desk: DeskArgs,
    },
    /// Reject a draft with a reason (a published version back on feedback is withdrawn).
    Reject {
        draft: i64,
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        actor: ActorArgs,
        #[command(flatten)]
        desk: DeskArgs,
    },
    /// Pass over a draft: your claim is released and your next claims skip it.
    Skip {
        draft: i64,
        #[command(flatten)]
        actor: ActorArgs,
        #[command(flatten)]
        desk: DeskArgs,
    },
    /// Every change to one page's text: who, when, what and why.
    History {
        #[arg(long)]
        area: String,
        #[arg(long)]
        section: String,
        #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
        format: CheckFormat,
        #[command(flatten)]
        desk: DeskArgs,
    },
    /// Re-check every published version against the current facts, mark those that no
    /// longer pass as stale (queueing their regeneration), and list the stale ones.
    Stale {
        #[command(flatten)]
        actor: ActorArgs,
        #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
        format: CheckFormat,
        #[command(flatten)]
        desk: DeskArgs,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum VoteArg {
    Up,
    Down,
}

#[derive(Debug, Args)]
pub struct FeedbackArgs {
    /// The published version's id (in the export as `version_id`).
    pub version: i64,
    pub vote: VoteArg,
    /// Up to 1,000 characters.
    #[arg(long)]
    pub comment: Option<String>,
    /// Record a site visitor's vote under this token (one vote per token per version; each
    /// token counts as a voice of its own, as no network is known).
    /// (Takes precedence over `--as` and NARRATOR_USER.)
    #[arg(long)]
    pub visitor: Option<String>,
    #[command(flatten)]
    pub actor: ActorArgs,
    #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
    pub format: CheckFormat,
    #[command(flatten)]
    pub desk: DeskArgs,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Folder to write into; made if missing.
    #[arg(long)]
    pub out: PathBuf,
    /// What to do with published text whose facts changed under it.
    #[arg(long, env = "NARRATOR_STALE_POLICY", value_enum, default_value_t = crate::export::StalePolicy::Keep)]
    pub stale_policy: crate::export::StalePolicy,
    #[command(flatten)]
    pub database: DatabaseArgs,
}

#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// Return once no open run has work, instead of waiting for new runs.
    #[arg(long)]
    pub exit_when_idle: bool,

    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Clone, Debug, Args)]
pub struct DatabaseArgs {
    /// `sqlite://path` (the default, a file under .narrator/) or `postgres://...` when several
    /// workers share a queue.
    #[arg(
        long,
        env = "NARRATOR_DATABASE_URL",
        default_value = "sqlite://.narrator/narrator.db"
    )]
    pub database_url: String,
}

#[derive(Clone, Debug, Args)]
pub struct ProviderArgs {
    /// Base URL of an OpenAI-compatible API (OpenAI, vLLM, Ollama, llama.cpp's server).
    #[arg(
        long,
        env = "NARRATOR_BASE_URL",
        default_value = "http://127.0.0.1:8000/v1"
    )]
    pub base_url: String,

    /// API key; never printed, logged or stored. Given on the command line it shows in `ps`
    /// to every user of the machine: prefer NARRATOR_API_KEY or --api-key-file.
    #[arg(
        long,
        env = "NARRATOR_API_KEY",
        default_value = "",
        hide_env_values = true,
        hide_default_value = true
    )]
    pub api_key: String,

    /// A file holding the API key on one line (a trailing newline is ignored), in place of
    /// --api-key.
    #[arg(long, env = "NARRATOR_API_KEY_FILE", value_name = "PATH")]
    pub api_key_file: Option<PathBuf>,

    /// Model name as the endpoint knows it.
    #[arg(long, env = "NARRATOR_MODEL", default_value = "smollm2-135m-instruct")]
    pub model: String,

    #[arg(long, env = "NARRATOR_TEMPERATURE", default_value_t = 0.2)]
    pub temperature: f32,

    /// Most tokens one answer may have.
    #[arg(long, env = "NARRATOR_MAX_TOKENS", default_value_t = 700)]
    pub max_tokens: u32,

    /// Seconds one request may take before it counts as timed out.
    #[arg(long, env = "NARRATOR_TIMEOUT_SECS", default_value_t = 120)]
    pub timeout_secs: u64,

    /// How the prompt shows the facts and asks for figures (see the README's measurements). By
    /// default `constrained` where the endpoint takes a grammar (llama.cpp, the local model),
    /// else `focused`.
    #[arg(long, env = "NARRATOR_STRATEGY", value_enum)]
    pub strategy: Option<crate::prompt::Strategy>,

    /// How the endpoint takes a constraint on the answer, for `--strategy constrained`:
    /// `grammar` (llama.cpp), `json-schema` (OpenAI, Ollama) or `none`. By default, from the
    /// base URL: grammar for llama.cpp's ports on this machine (8000, 8080) and the demo's
    /// local model, json-schema for OpenAI and Ollama, none otherwise.
    #[arg(long, env = "NARRATOR_STRUCTURED", value_enum)]
    pub structured: Option<crate::prompt::Structured>,
}

#[derive(Clone, Debug, Args)]
pub struct RunArgs {
    /// Council by code or name; repeat for several.
    #[arg(long = "area")]
    pub areas: Vec<String>,

    /// Section id; repeat for several. None means every section.
    #[arg(long = "section")]
    pub sections: Vec<String>,

    /// Every council.
    #[arg(long)]
    pub all: bool,

    /// Generate again even where a passing draft from the same facts, prompt, model and
    /// parameters exists.
    #[arg(long)]
    pub force: bool,

    /// Continue this run id instead of the latest unfinished run of the same scope.
    #[arg(long)]
    pub resume: Option<i64>,

    /// Who started the run, as recorded with it (separation of duties compares it with the
    /// reviewer's name): the same NARRATOR_USER that names reviewers, else $USER.
    #[arg(long, env = "NARRATOR_USER")]
    pub started_by: Option<String>,

    /// $USER, the fallback for --started-by. Read from the environment only: hidden.
    #[arg(long = "login-user", env = "USER", hide = true)]
    pub login_user: Option<std::ffi::OsString>,

    /// Serve Prometheus metrics at http://ADDR/metrics while the process lives, ADDR such as
    /// 127.0.0.1:9187 (port 0 picks a free one, printed at start). Nothing asks who scrapes:
    /// bind an address only the monitoring network reaches.
    #[arg(long, env = "NARRATOR_METRICS_ADDR", value_name = "ADDR")]
    pub metrics_addr: Option<String>,

    #[command(flatten)]
    pub runner: RunnerArgs,
}

/// `narrator demo`: a run's flags, and what the demo reads from the environment. The hidden
/// fields are environment variables that are not flags of their own; clap reads them so the
/// commands read no environment.
#[derive(Clone, Debug, Args)]
pub struct DemoArgs {
    #[command(flatten)]
    pub run: RunArgs,

    /// NARRATOR_BASE_URL as set in the environment: when it is, its endpoint (through
    /// --base-url, which reads it too) replaces the local model.
    #[arg(long = "base-url-in-env", env = "NARRATOR_BASE_URL", hide = true)]
    pub base_url_in_env: Option<std::ffi::OsString>,

    /// Where the demo writes the site's files [default: .narrator/export]
    #[arg(long = "export-dir", env = "NARRATOR_EXPORT")]
    pub export_dir: Option<std::ffi::OsString>,

    /// Where the demo serves the review page at its end, in a terminal outside CI [default:
    /// 127.0.0.1:8080]
    #[arg(long = "review-addr", env = "NARRATOR_ADDR")]
    pub review_addr: Option<std::ffi::OsString>,

    /// CI: set on continuous integration, where the demo does not serve the review page.
    #[arg(long = "ci", env = "CI", hide = true)]
    pub ci: Option<std::ffi::OsString>,
}

/// How runs are worked: limits, attempts, prices, the provider and the database.
#[derive(Clone, Debug, Args)]
pub struct RunnerArgs {
    /// Requests in flight at once.
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,

    /// Requests per minute the provider allows.
    #[arg(long, env = "NARRATOR_RPM", default_value_t = 60.0)]
    pub rpm: f64,

    /// Tokens per minute the provider allows (prompt estimate plus max tokens are charged).
    #[arg(long, env = "NARRATOR_TPM", default_value_t = 100_000.0)]
    pub tpm: f64,

    /// How a run starts spending the budget: `slow-start` begins with one second's budget
    /// and doubles it each second until the provider's first 429 or a minute's budget (a
    /// provider's per-minute bucket is spent at its pace); `steady` paces one second's
    /// budget at a time from the start. The provider's rate-limit headers, when sent, say
    /// what its buckets hold either way.
    #[arg(long, value_enum, env = "NARRATOR_BURST", default_value_t = crate::provider::Burst::SlowStart)]
    pub burst: crate::provider::Burst,

    /// Drafts per job: the first and up to this many minus one corrections.
    #[arg(long, default_value_t = 3)]
    pub max_attempts: usize,

    /// Retries of one request on 5xx, timeouts, malformed answers and connection errors.
    #[arg(long, default_value_t = 5)]
    pub max_retries: usize,

    /// Retries of one request on 429 (rate limited), counted apart, each after the wait the
    /// provider asked for.
    #[arg(long, default_value_t = 20)]
    pub max_throttled_retries: usize,

    /// Seconds a job's lease lasts without renewal (a dead worker's jobs are retaken after it).
    #[arg(long, default_value_t = 30)]
    pub lease_secs: u64,

    /// Price per 1,000 prompt tokens, for the cost column.
    #[arg(long, env = "NARRATOR_PRICE_PROMPT", default_value_t = 0.0)]
    pub price_prompt: f64,

    /// Price per 1,000 completion tokens.
    #[arg(long, env = "NARRATOR_PRICE_COMPLETION", default_value_t = 0.0)]
    pub price_completion: f64,

    #[command(flatten)]
    pub provider: ProviderArgs,

    #[command(flatten)]
    pub database: DatabaseArgs,
}

#[derive(Debug, Subcommand)]
pub enum RunsCommand {
    /// The most recent runs.
    List {
        #[arg(long, default_value_t = 20)]
        limit: i64,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// One run: each job's status, attempts, last error and draft.
    Show {
        id: i64,
        #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
        format: CheckFormat,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Council, by ONS code or name, any case.
    #[arg(long)]
    pub area: String,

    /// Section id from sections.toml.
    #[arg(long)]
    pub section: String,

    /// The narrative to check; `-` or nothing reads standard input.
    pub file: Option<PathBuf>,

    /// `text` shows each flagged sentence with a caret under the figure; `json` is the full report.
    #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
    pub format: CheckFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CheckFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Folder of golden check cases (`<area code>/<case>.txt`).
    #[arg(long, default_value = "golden/check")]
    pub cases: PathBuf,

    /// List every escaped mutant, not just the first ten.
    #[arg(long)]
    pub show_escapes: bool,

    /// Evaluate on the seed pages' published narratives instead: every figure against our
    /// annotation in --annotations, and the mutation harness over the same texts.
    #[arg(long)]
    pub corpus: bool,

    /// Annotation files (`*.corpus`) of the published narratives, for --corpus.
    #[arg(long, default_value = "golden/corpus")]
    pub annotations: PathBuf,

    /// The seed pages, read at run time (their text is never copied into the project).
    #[arg(long, env = "NARRATOR_SEEDS", default_value = "../shared/seeds")]
    pub seeds: PathBuf,

    /// With --corpus: print each page's figures as the checker judges them today, in the
    /// annotation format, instead of evaluating (a start for annotating a new page).
    #[arg(long, requires = "corpus")]
    pub draft: bool,
}

#[derive(Debug, Subcommand)]
pub enum FactsCommand {
    /// Validate every data file; print each problem as file:line:column and exit 1 if any.
    /// Reads only: writes nothing anywhere.
    Check,

    /// Print a council's facts as a table, with England and regional comparators.
    Show(ShowArgs),

    /// Import a public table into the data folder as a mapping under data/imports/ says:
    /// a long table of figures into facts/<output>.csv (and new areas into areas.csv), or
    /// comparator groups into groups/<output>.csv. Validates the result as `facts check`
    /// does and writes nothing unless it passes; a re-run on the same input changes nothing.
    Import(ImportArgs),
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The mapping file, for example data/imports/ascof-oflog.toml.
    pub mapping: PathBuf,

    /// The public table the mapping describes, for example ../shared/data/ascof-oflog.csv.
    #[arg(long)]
    pub input: PathBuf,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Council, by ONS code (E06000022) or name ("Bath and North East Somerset"), any case.
    #[arg(long)]
    pub area: String,

    /// Only the facts one section's prompt receives (for example carers).
    #[arg(long)]
    pub section: Option<String>,
}

#[derive(Debug, Args)]
pub struct PromptArgs {
    /// Council, by ONS code or name, any case.
    #[arg(long)]
    pub area: String,

    /// Section id from sections.toml (working-age, older-people, carers, providers, quality,
    /// funding, cqc-assessment, annual-report).
    #[arg(long)]
    pub section: String,

    /// `text` for reading, `json` for an OpenAI-style messages array.
    #[arg(long, value_enum, default_value_t = PromptFormat::Text)]
    pub format: PromptFormat,

    /// The prompt strategy to render.
    #[arg(long, value_enum, default_value_t = crate::prompt::Strategy::Focused)]
    pub strategy: crate::prompt::Strategy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PromptFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// Also write each rendered prompt to OUT/<area code>/<section>.txt.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "NARRATOR_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: std::net::SocketAddr,

    /// Visitors' votes each client address may send per minute.
    #[arg(long, env = "NARRATOR_VOTES_PER_MINUTE", default_value_t = 10.0)]
    pub votes_per_minute: f64,

    /// Send cookies without `Secure`, for plain http on a name other than localhost (a
    /// private network); browsers accept `Secure` cookies on https and on localhost.
    #[arg(long)]
    pub insecure_cookies: bool,

    /// Seconds a client has to send a request's head (line and headers), and an idle
    /// keep-alive connection is kept; the connection is closed after.
    #[arg(long, env = "NARRATOR_HEADER_READ_TIMEOUT_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub header_read_timeout_secs: u64,

    /// Seconds a request may take, its body read and answered; 408 after.
    #[arg(long, env = "NARRATOR_REQUEST_TIMEOUT_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub request_timeout_secs: u64,

    /// Connections open at once; more wait in the listener's backlog.
    #[arg(long, env = "NARRATOR_MAX_CONNECTIONS", default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub max_connections: u64,

    /// A reverse proxy in front whose `X-Forwarded-For` names the client (its last
    /// address); votes, their networks and failed sign-ins count by that client. Repeat, or
    /// separate with commas.
    #[arg(long, env = "NARRATOR_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxy: Vec<std::net::IpAddr>,

    /// What the public API does with published text whose facts changed under it.
    #[arg(long, env = "NARRATOR_STALE_POLICY", value_enum, default_value_t = crate::export::StalePolicy::Keep)]
    pub stale_policy: crate::export::StalePolicy,

    #[command(flatten)]
    pub review: ReviewArgs,

    #[command(flatten)]
    pub runner: RunnerArgs,
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Add a user and print their token, once: only its hash is stored.
    Add {
        name: String,
        #[arg(long, value_enum)]
        role: crate::web::Role,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Users, roles and whether they are disabled; never tokens.
    List {
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Stop a user's token working and end their sessions.
    Disable {
        name: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Let a disabled user's token work again.
    Enable {
        name: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Give a user a new token (printed once); the old one stops working. A disabled user stays
    /// disabled until `users enable`.
    Token {
        name: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

#[derive(Debug, Args)]
pub struct SynthArgs {
    /// How many synthetic councils.
    #[arg(long)]
    pub areas: usize,
    /// The random seed: the same seed gives the same files.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The new data folder (must not exist).
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    Verify {
        #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
        format: CheckFormat,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

#[derive(Debug, Args)]
pub struct MockArgs {
    #[arg(long, default_value = "127.0.0.1:0")]
    pub addr: std::net::SocketAddr,
    /// Milliseconds every answer takes.
    #[arg(long, default_value_t = 100)]
    pub latency_ms: u64,
    /// Up to this many milliseconds more, uniformly.
    #[arg(long, default_value_t = 0)]
    pub jitter_ms: u64,
    #[arg(long, default_value_t = 1e9)]
    pub rpm: f64,
    #[arg(long, default_value_t = 1e12)]
    pub tpm: f64,
    /// Seconds of limit the buckets hold: 60 for a per-minute window, 1 for per-second.
    #[arg(long, default_value_t = 60.0)]
    pub bucket_secs: f64,
    #[arg(long, value_enum, default_value_t = crate::mock::RetryAfter::Seconds)]
    pub retry_after: crate::mock::RetryAfter,
    /// Fractions of requests, 0 to 1: 500s, hangs, malformed bodies, truncated answers, and
    /// first drafts with one wrong figure.
    #[arg(long, default_value_t = 0.0)]
    pub server_errors: f64,
    #[arg(long, default_value_t = 0.0)]
    pub timeouts: f64,
    #[arg(long, default_value_t = 0.0)]
    pub malformed: f64,
    #[arg(long, default_value_t = 0.0)]
    pub truncated: f64,
    #[arg(long, default_value_t = 0.0)]
    pub wrong_figures: f64,
    /// Seconds after the first request at which the limits fall to --drop-to of themselves.
    #[arg(long)]
    pub drop_after_secs: Option<f64>,
    /// The share of --rpm and --tpm left after the drop.
    #[arg(long, default_value_t = 0.5)]
    pub drop_to: f64,
    /// Refuse `grammar` and JSON-schema `response_format` with a 400, as a provider that does
    /// not take them does (otherwise both are checked and followed).
    #[arg(long)]
    pub refuse_structured: bool,
    /// Send OpenAI's rate-limit headers (`x-ratelimit-limit-requests` and the rest, with
    /// resets like `1.5s` or `6m0s`) with every answer, from the buckets' state.
    #[arg(long)]
    pub ratelimit_headers: bool,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Every scenario (or those named) against a mock provider process, narrator and the
    /// naive baseline side by side; exits 1 if narrator lost a job, retried before a
    /// Retry-After, or left a broken store.
    Run {
        /// Scenarios by name (see BENCHMARKS.md); all when none.
        #[arg(long, value_delimiter = ',')]
        scenario: Vec<String>,
        /// Job counts to run each scenario at, instead of the scenario's own.
        #[arg(long, value_delimiter = ',')]
        jobs: Vec<usize>,
        /// Skip the naive baseline.
        #[arg(long)]
        no_baseline: bool,
        /// How narrator's runs start spending the budget (`steady`: as before slow start,
        /// shown as `steady` in the table); several, comma-separated, run side by side.
        #[arg(long, value_enum, value_delimiter = ',', default_value = "slow-start")]
        burst: Vec<crate::provider::Burst>,
        /// Runs of each scenario, taken in turn with the other bursts and the baseline so
        /// drift on a shared machine falls on all of them; with more than one, a summary of
        /// each one's median, fastest and slowest wall time follows the table.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
        repeat: u32,
        /// Working folder: synthetic data, databases and logs.
        #[arg(long, default_value = "target/bench")]
        dir: PathBuf,
        /// Also write every figure as JSON here.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// Kill -9 drill: a worker killed with SIGKILL at random moments and restarted each
    /// time, then `store verify`; exits 1 if any invariant broke.
    Kill {
        #[arg(long, default_value_t = 1_000)]
        jobs: usize,
        #[arg(long, default_value_t = 20)]
        kills: usize,
        /// Drill on a fresh database on this PostgreSQL server (its admin URL) instead of
        /// SQLite.
        #[arg(long)]
        postgres: Option<String>,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long, default_value = "target/bench")]
        dir: PathBuf,
    },
    /// Several worker processes on one queue: throughput and duplicate generations for
    /// each count of workers.
    Workers {
        #[arg(long, default_value_t = 1_000)]
        jobs: usize,
        #[arg(long, value_delimiter = ',', default_value = "1,2,4")]
        workers: Vec<usize>,
        /// A fresh database on this PostgreSQL server (admin URL); SQLite when not given.
        #[arg(long)]
        postgres: Option<String>,
        #[arg(long, default_value = "target/bench")]
        dir: PathBuf,
    },
    /// One measured run in this process; prints its report as one JSON line (used by `run`).
    #[command(hide = true)]
    Worker(BenchWorkerArgs),
}

#[derive(Debug, Args)]
pub struct BenchWorkerArgs {
    #[arg(long)]
    pub database_url: String,
    #[arg(long)]
    pub base_url: String,
    #[arg(long)]
    pub jobs: usize,
    #[arg(long)]
    pub concurrency: usize,
    #[arg(long)]
    pub rpm: f64,
    #[arg(long)]
    pub tpm: f64,
    #[arg(long, value_enum, default_value_t = crate::provider::Burst::SlowStart)]
    pub burst: crate::provider::Burst,
    #[arg(long)]
    pub naive: bool,
    #[arg(long)]
    pub deadline_secs: Option<u64>,
}
