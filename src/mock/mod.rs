//! A stand-in OpenAI-compatible provider for load tests and fault drills (`narrator
//! mock-provider`): latency, request and token limits enforced with 429 and `Retry-After`,
//! token usage, injected faults, and drafts that quote the prompt's own figures (or, at a
//! given rate, a wrong one) so the whole pipeline runs. When asked, every answer carries
//! OpenAI's `x-ratelimit-*` headers from the buckets' real state.

mod structured;

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How the mock answers 429s.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum RetryAfter {
    /// `Retry-After: <seconds>`, the time until a request fits.
    Seconds,
    /// `retry-after-ms: <milliseconds>`.
    Millis,
    /// `Retry-After: <HTTP date>`.
    Date,
    /// No hint at all.
    Absent,
    /// `Retry-After: 3600`, whatever the bucket says.
    Hour,
}

/// The mock's behaviour; rates are fractions of requests from 0 to 1.
#[derive(Clone, Debug)]
pub struct MockSettings {
    pub latency: Duration,
    /// Uniform extra latency from zero to this.
    pub jitter: Duration,
    pub requests_per_minute: f64,
    pub tokens_per_minute: f64,
    /// Seconds of limit a bucket holds when full: 60 is a per-minute window, 1 a per-second one.
    pub bucket_secs: f64,
    pub retry_after: RetryAfter,
    pub server_error_rate: f64,
    pub timeout_rate: f64,
    pub malformed_rate: f64,
    pub truncate_rate: f64,
    pub wrong_figure_rate: f64,
    /// After this long from the first request, the limits fall to this share of themselves.
    pub limit_drop: Option<(Duration, f64)>,
    /// Answer a request carrying `grammar` or a JSON-schema `response_format` with a 400, as
    /// a provider that does not take them does.
    pub refuse_structured: bool,
    /// Send `x-ratelimit-{limit,remaining,reset}-{requests,tokens}` with every answer.
    pub ratelimit_headers: bool,
    pub seed: u64,
}

impl Default for MockSettings {
    fn default() -> Self {
        MockSettings {
            latency: Duration::from_millis(100),
            jitter: Duration::ZERO,
            requests_per_minute: 1e9,
            tokens_per_minute: 1e12,
            bucket_secs: 60.0,
            retry_after: RetryAfter::Seconds,
            server_error_rate: 0.0,
            timeout_rate: 0.0,
            malformed_rate: 0.0,
            truncate_rate: 0.0,
            wrong_figure_rate: 0.0,
            limit_drop: None,
            refuse_structured: false,
            ratelimit_headers: false,
            seed: 1,
        }
    }
}

/// What the mock saw, served at `/stats`.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct MockStats {
    pub requests: u64,
    /// Answers by kind: `ok`, `wrong_figure`, `truncated`, `malformed`, `hang`, `500`, `429`.
    pub answers: BTreeMap<String, u64>,
    /// Requests per (council, section) prompt: a job generated twice shows here.
    pub per_prompt: BTreeMap<String, u64>,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// Requests for a prompt that came before the `Retry-After` its last 429 gave.
    pub early_retries: u64,
    /// Requests that carried a constraint, by kind: `grammar`, `json_schema`.
    #[serde(default)]
    pub constrained: BTreeMap<String, u64>,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

struct Inner {
    settings: MockSettings,
    rng: fastrand::Rng,
    requests: Bucket,
    tokens: Bucket,
    stats: MockStats,
    first_request: Option<Instant>,
    /// Per prompt, when its last 429 said it could come back.
    not_before: std::collections::HashMap<String, Instant>,
}

#[derive(Clone)]
struct Mock(Arc<Mutex<Inner>>);

/// A running mock provider.
pub struct MockProvider {
    pub url: String,
    state: Mock,
    task: tokio::task::JoinHandle<()>,
}

impl MockProvider {
    /// Serves on `addr` (port 0 picks a free one) until dropped.
    pub async fn start(settings: MockSettings, addr: SocketAddr) -> std::io::Result<MockProvider> {
        let now = Instant::now();
        let inner = Inner {
            rng: fastrand::Rng::with_seed(settings.seed),
            requests: Bucket {
                tokens: settings.requests_per_minute / 60.0 * settings.bucket_secs,
                at: now,
            },
            tokens: Bucket {
                tokens: settings.tokens_per_minute / 60.0 * settings.bucket_secs,
                at: now,
            },
            settings,
            stats: MockStats::default(),
            first_request: None,
            not_before: std::collections::HashMap::new(),
        };
        let state = Mock(Arc::new(Mutex::new(inner)));
        let app = Router::new()
            .route("/v1/chat/completions", post(complete))
            .route(
                "/v1/models",
                get(|| async { Json(json!({"data": [{"id": "mock"}]})) }),
            )
            .route("/stats", get(stats))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let url = format!("http://{}/v1", listener.local_addr()?);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(MockProvider { url, state, task })
    }

    pub fn stats(&self) -> MockStats {
        self.state.0.lock().expect("mock lock").stats.clone()
    }

    /// Serves until Ctrl-C.
    pub async fn wait(self) {
        let _ = tokio::signal::ctrl_c().await;
    }
}

impl Drop for MockProvider {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn stats(State(mock): State<Mock>) -> Json<MockStats> {
    Json(mock.0.lock().expect("mock lock").stats.clone())
}

/// What to do with one request, decided under the lock, done after it.
enum Plan {
    Limited {
        wait_secs: f64,
        mode: RetryAfter,
    },
    ServerError,
    Hang,
    Malformed,
    Answer {
        text: String,
        truncated: bool,
        wrong: bool,
        prompt_tokens: u64,
        completion_tokens: u64,
    },
}

async fn complete(State(mock): State<Mock>, Json(req): Json<serde_json::Value>) -> Response {
    let bad_request = |message: String| {
        (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": {"message": message, "type": "invalid_request_error"}})),
        )
            .into_response()
    };
    let asked = match structured::asked(&req) {
        Ok(asked) => asked,
        Err(message) => return bad_request(message),
    };
    if asked != structured::Asked::Nothing {
        let mut m = mock.0.lock().expect("mock lock");
        let kind = match asked {
            structured::Asked::Grammar => "grammar",
            _ => "json_schema",
        };
        *m.stats.constrained.entry(kind.to_string()).or_default() += 1;
        if m.settings.refuse_structured {
            m.stats.requests += 1;
            let field = if kind == "grammar" {
                "grammar"
            } else {
                "response_format"
            };
            return bad_request(format!("Unrecognized request argument supplied: {field}"));
        }
    }
    let user = req["messages"]
        .as_array()
        .and_then(|m| m.iter().rev().find(|m| m["role"] == "user"))
        .and_then(|m| m["content"].as_str())
        .unwrap_or_default()
        .to_string();
    let first_user = req["messages"]
        .as_array()
        .and_then(|m| m.iter().find(|m| m["role"] == "user"))
        .and_then(|m| m["content"].as_str())
        .unwrap_or_default()
        .to_string();
    let prompt_chars: usize = req["messages"]
        .as_array()
        .map(|m| {
            m.iter()
                .filter_map(|m| m["content"].as_str())
                .map(str::len)
                .sum()
        })
        .unwrap_or(0);
    let max_tokens = req["max_tokens"]
        .as_u64()
        .or(req["max_completion_tokens"].as_u64())
        .unwrap_or(700);
    let (plan, delay, budget) = {
        let mut m = mock.0.lock().expect("mock lock");
        let mut s = m.settings.clone();
        let prompt_key = prompt_key(&first_user);
        m.stats.requests += 1;
        *m.stats.per_prompt.entry(prompt_key.clone()).or_default() += 1;
        let now = Instant::now();
        if let Some(due) = m.not_before.get(&prompt_key).copied() {
            if now < due {
                m.stats.early_retries += 1;
            } else {
                m.not_before.remove(&prompt_key);
            }
        }
        let first = *m.first_request.get_or_insert(now);
        if let Some((after, share)) = s.limit_drop {
            if now.duration_since(first) >= after {
                s.requests_per_minute *= share;
                s.tokens_per_minute *= share;
            }
        }
        let delay = s.latency + s.jitter.mul_f64(m.rng.f64());
        let prompt_tokens = (prompt_chars / 4) as u64 + 1;
        let charged = (prompt_tokens + max_tokens) as f64;
        let req_cap = s.requests_per_minute / 60.0 * s.bucket_secs;
        let tok_cap = s.tokens_per_minute / 60.0 * s.bucket_secs;
        refill(&mut m.requests, s.requests_per_minute / 60.0, req_cap, now);
        refill(&mut m.tokens, s.tokens_per_minute / 60.0, tok_cap, now);
        let plan = if m.requests.tokens < 1.0 || m.tokens.tokens < charged {
            let wait_req = (1.0 - m.requests.tokens).max(0.0) / (s.requests_per_minute / 60.0);
            let wait_tok = (charged - m.tokens.tokens).max(0.0) / (s.tokens_per_minute / 60.0);
            let wait_secs = wait_req.max(wait_tok);
            if let Some(hint) = hinted_wait(wait_secs, s.retry_after) {
                m.not_before.insert(prompt_key, now + hint);
            }
            Plan::Limited {
                wait_secs,
                mode: s.retry_after,
            }
        } else {
            m.requests.tokens -= 1.0;
            m.tokens.tokens -= charged;
            let roll = m.rng.f64();
            let mut edge = s.server_error_rate;
            if roll < edge {
                Plan::ServerError
            } else if roll < {
                edge += s.timeout_rate;
                edge
            } {
                Plan::Hang
            } else if roll < {
                edge += s.malformed_rate;
                edge
            } {
                Plan::Malformed
            } else {
                let truncated = roll < edge + s.truncate_rate;
                let wrong = m.rng.f64() < s.wrong_figure_rate;
                let text = match &asked {
                    structured::Asked::Schema(ids) => structured::segments(ids),
                    _ => draft_from_prompt(&first_user, &user, wrong),
                };
                let completion_tokens = ((text.len() / 4) as u64 + 1).min(max_tokens);
                m.stats.prompt_tokens += prompt_tokens;
                m.stats.completion_tokens += completion_tokens;
                Plan::Answer {
                    text,
                    truncated,
                    wrong: wrong && first_user == user,
                    prompt_tokens,
                    completion_tokens,
                }
            }
        };
        let kind = match &plan {
            Plan::Limited { .. } => "429",
            Plan::ServerError => "500",
            Plan::Hang => "hang",
            Plan::Malformed => "malformed",
            Plan::Answer {
                truncated: true, ..
            } => "truncated",
            Plan::Answer { wrong: true, .. } => "wrong_figure",
            Plan::Answer { .. } => "ok",
        };
        *m.stats.answers.entry(kind.to_string()).or_default() += 1;
        let budget = s.ratelimit_headers.then(|| {
            [
                (
                    "requests",
                    &m.requests,
                    req_cap,
                    s.requests_per_minute / 60.0,
                ),
                ("tokens", &m.tokens, tok_cap, s.tokens_per_minute / 60.0),
            ]
            .map(|(kind, bucket, cap, per_sec)| {
                let reset = Duration::from_secs_f64((cap - bucket.tokens).max(0.0) / per_sec);
                (kind, cap.floor(), bucket.tokens.max(0.0).floor(), reset)
            })
        });
        (plan, delay, budget)
    };
    let mut response = match plan {
        Plan::Limited { wait_secs, mode } => limited(wait_secs, mode),
        Plan::ServerError => {
            tokio::time::sleep(delay).await;
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(json!({"error": {"message": "injected fault", "type": "server_error"}})),
            )
                .into_response()
        }
        Plan::Hang => {
            // Longer than any sane client timeout: the client gives up first.
            tokio::time::sleep(Duration::from_secs(3600)).await;
            StatusCode::GATEWAY_TIMEOUT.into_response()
        }
        Plan::Malformed => {
            tokio::time::sleep(delay).await;
            (
                [(header::CONTENT_TYPE, "application/json")],
                "{\"choices\": [{\"message\": ",
            )
                .into_response()
        }
        Plan::Answer {
            text,
            truncated,
            prompt_tokens,
            completion_tokens,
            ..
        } => {
            tokio::time::sleep(delay).await;
            let text = if truncated {
                text[..text.len() / 2].to_string()
            } else {
                text
            };
            Json(json!({
                "id": "chatcmpl-mock", "object": "chat.completion", "created": 0, "model": "mock",
                "choices": [{"index": 0, "finish_reason": if truncated { "length" } else { "stop" },
                             "message": {"role": "assistant", "content": text}}],
                "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                          "total_tokens": prompt_tokens + completion_tokens}
            }))
            .into_response()
        }
    };
    if let Some(budget) = budget {
        let h = response.headers_mut();
        for (kind, limit, remaining, reset) in budget {
            let mut put = |name: &str, value: String| {
                h.insert(
                    header::HeaderName::try_from(format!("x-ratelimit-{name}-{kind}"))
                        .expect("a valid header name"),
                    HeaderValue::from_str(&value).expect("digits and units are ASCII"),
                );
            };
            put("limit", format!("{limit:.0}"));
            put("remaining", format!("{remaining:.0}"));
            put("reset", crate::provider::format_reset(reset));
        }
    }
    response
}

fn refill(b: &mut Bucket, per_sec: f64, cap: f64, now: Instant) {
    b.tokens = (b.tokens + now.duration_since(b.at).as_secs_f64() * per_sec).min(cap);
    b.at = now;
}

/// The wait a 429 asks for (an HTTP date is to the second, so it counts as its whole seconds).
fn hinted_wait(wait_secs: f64, mode: RetryAfter) -> Option<Duration> {
    let secs = wait_secs.ceil().max(1.0);
    match mode {
        RetryAfter::Seconds | RetryAfter::Date => Some(Duration::from_secs_f64(secs)),
        RetryAfter::Millis => Some(Duration::from_millis(
            (wait_secs * 1000.0).ceil().max(1.0) as u64
        )),
        RetryAfter::Absent => None,
        RetryAfter::Hour => Some(Duration::from_secs(3600)),
    }
}

fn limited(wait_secs: f64, mode: RetryAfter) -> Response {
    let body =
        Json(json!({"error": {"message": "rate limit reached", "type": "rate_limit_error"}}));
    let mut r = (StatusCode::TOO_MANY_REQUESTS, body).into_response();
    let h = r.headers_mut();
    let secs = wait_secs.ceil().max(1.0) as u64;
    match mode {
        RetryAfter::Seconds => {
            h.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        RetryAfter::Millis => {
            let ms = (wait_secs * 1000.0).ceil().max(1.0) as u64;
            h.insert("retry-after-ms", HeaderValue::from(ms));
        }
        RetryAfter::Date => {
            // An HTTP date is to the second: round up so it is never early.
            let at = std::time::SystemTime::now() + Duration::from_secs(secs + 1);
            let date = httpdate::fmt_http_date(at);
            h.insert(
                header::RETRY_AFTER,
                HeaderValue::from_str(&date).expect("HTTP dates are ASCII"),
            );
        }
        RetryAfter::Absent => {}
        RetryAfter::Hour => {
            h.insert(header::RETRY_AFTER, HeaderValue::from(3600u64));
        }
    }
    r
}

/// The council and section a prompt is for, from its first line.
fn prompt_key(user: &str) -> String {
    user.lines()
        .next()
        .unwrap_or_default()
        .trim_start_matches("Write the ")
        .chars()
        .take(120)
        .collect()
}

/// A draft quoting the council's first figures exactly as the prompt's table gives them (a
/// correction request gets the same answer, so a wrong draft is followed by a right one).
pub fn draft_from_prompt(first_user: &str, last_user: &str, wrong: bool) -> String {
    // "... explanation for <name> (<code>), a council ...": the name may hold brackets of
    // its own ("(not a real council)"), so the code is the last bracket before the comma.
    let council = first_user
        .split(" explanation for ")
        .nth(1)
        .and_then(|rest| rest.split("),").next())
        .and_then(|named| named.rsplit_once(" ("))
        .map_or("the council", |(name, _)| name);
    // The facts table: under "Facts for" in most sections; the outcomes table stands alone.
    let table = match first_user.split("Facts for").nth(1) {
        Some(t) => t.split("Background about").next().unwrap_or_default(),
        None => first_user,
    };
    // (measure, period, value, comparison cell) for each row, in the table's order.
    let mut rows: Vec<(String, &str, &str, Option<&str>)> = Vec::new();
    for line in table
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| Measure") && !l.starts_with("| ID"))
    {
        let cells: Vec<&str> = line.trim_matches('|').split(" | ").map(str::trim).collect();
        // With an ID column (grounded prompts) the measure is the second cell.
        let cells = if cells.len() >= 4 && !cells[0].contains(' ') && cells[0].contains('_') {
            &cells[1..]
        } else {
            &cells[..]
        };
        if cells.len() < 3 {
            continue;
        }
        let measure = cells[0]
            .replace(" (higher is better)", "")
            .replace(" (lower is better)", "");
        if measure.chars().any(|c| c.is_ascii_digit()) {
            continue;
        }
        let compared = cells.get(3).filter(|c| c.contains(": median "));
        rows.push((measure, cells[1], cells[2], compared.copied()));
    }
    let mut sentences = Vec::new();
    let mut measures: Vec<&str> = Vec::new();
    for (measure, _, _, _) in &rows {
        if !measures.contains(&measure.as_str()) {
            measures.push(measure);
        }
    }
    for measure in measures {
        if sentences.len() >= 4 {
            break;
        }
        let series: Vec<&(String, &str, &str, Option<&str>)> =
            rows.iter().filter(|r| r.0 == measure).collect();
        let (first, last) = (series[0], series[series.len() - 1]);
        let mut sentence = format!(
            "In {}, the figure for {} was {} in {council}",
            last.1,
            measure.to_lowercase(),
            last.2
        );
        // "councils in England: median 67.5%, 39th highest of 149; ...": the first group.
        if let Some((group, rest)) = last
            .3
            .and_then(|c| c.split(';').next()?.split_once(": median "))
        {
            if let Some((median, rank)) = rest.split_once(", ") {
                sentence += &format!(", against a median of {median} for {group}, the {rank}");
            }
        }
        sentence.push('.');
        sentences.push(sentence);
        if series.len() > 1 && first.1 != last.1 {
            sentences.push(format!(
                "It went from {} in {} to {} in {}.",
                first.2, first.1, last.2, last.1
            ));
        }
    }
    if sentences.is_empty() {
        sentences.push(format!("The figures for {council} are in the tables."));
    }
    let mut text = sentences.join(" ");
    // Only a first draft is wrong: a correction request is answered correctly.
    if wrong && first_user == last_user {
        if let Some(pos) = text.find(|c: char| c.is_ascii_digit() && c != '0') {
            let digit = text.as_bytes()[pos];
            let replacement = if digit == b'9' {
                '1'
            } else {
                (digit + 1) as char
            };
            text.replace_range(pos..pos + 1, &replacement.to_string());
        }
    }
    text
}
