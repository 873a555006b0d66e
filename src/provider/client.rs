//! One chat-completion request through `async-openai`, with narrator's own HTTP service so
//! the client does no retrying of its own and every failure keeps its status and headers.

use super::budget::Budget;
use super::error::{parse_retry_after, HttpFailure, ProviderError};
use async_openai::config::OpenAIConfig;
use async_openai::error::OpenAIError;
use async_openai::middleware::HttpRequestFactory;
use async_openai::types::chat::{
    ChatCompletionRequestAssistantMessageArgs, ChatCompletionRequestMessage,
    ChatCompletionRequestSystemMessageArgs, ChatCompletionRequestUserMessageArgs,
    CreateChatCompletionRequestArgs, FinishReason,
};
use async_openai::Client;
use std::cell::Cell;
use std::fmt;
use std::time::Duration;

tokio::task_local! {
    /// The rate-limit headers of the answer to the request this task is sending: async-openai
    /// returns only the parsed body, so narrator's HTTP service leaves them here.
    static HEADERS: Cell<Budget>;
}

/// A secret (the API key): never printed, logged or stored.
#[derive(Clone, Default)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() { "(none)" } else { "***" })
    }
}

/// Everything needed to talk to one OpenAI-compatible endpoint.
#[derive(Clone, Debug)]
pub struct ProviderSettings {
    pub base_url: String,
    pub api_key: Secret,
    pub model: String,
    pub temperature: f32,
    pub max_tokens: u32,
    pub timeout: Duration,
    /// How the endpoint takes a constraint on the answer (for the `constrained` strategy).
    pub structured: crate::prompt::Structured,
}

impl ProviderSettings {
    /// The model parameters that make drafts comparable, as stored with each draft, for
    /// drafts asked for under `strategy` (the run's). The default strategy is left out, so
    /// drafts stored before strategies existed still count as current.
    pub fn params(&self, strategy: crate::prompt::Strategy) -> String {
        let strategy = match strategy {
            crate::prompt::Strategy::Full => String::new(),
            crate::prompt::Strategy::Constrained => format!(
                ",\"strategy\":\"constrained\",\"structured\":\"{}\"",
                self.structured.name()
            ),
            other => format!(",\"strategy\":\"{}\"", other.name()),
        };
        format!(
            "{{\"temperature\":{},\"max_tokens\":{}{strategy}}}",
            self.temperature, self.max_tokens
        )
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    System,
    User,
    Assistant,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChatMessage {
    pub role: Role,
    pub content: String,
}

/// An answer as the endpoint gave it, how it ended, and what it cost. Whether it can be a
/// draft is the job's to judge (`run::answer`), from this alone.
#[derive(Clone, Debug, PartialEq)]
pub struct Completion {
    pub text: String,
    pub ending: Ending,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
}

/// How the endpoint says an answer ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ending {
    /// Finished on its own (or the endpoint did not say).
    Stop,
    /// Hit the token limit (`finish_reason` `length`).
    Length,
    /// Withheld by the provider's content filter.
    ContentFilter,
    /// The model's own refusal, in its words.
    Refused(String),
    /// An answer with no choices at all.
    NoChoices,
}

/// One request's outcome, and what the provider's headers said of its rate limits (on a
/// success or a refusal alike; empty when it sent none).
#[derive(Debug)]
pub struct Reply {
    pub result: Result<Completion, ProviderError>,
    pub budget: Budget,
}

/// A rough token count for budgeting before sending: about four characters a token.
pub fn estimate_tokens(messages: &[ChatMessage]) -> u32 {
    let chars: usize = messages.iter().map(|m| m.content.len() + 8).sum();
    u32::try_from(chars / 4 + 1).unwrap_or(u32::MAX)
}

pub struct Provider {
    client: Client<OpenAIConfig>,
    settings: ProviderSettings,
    /// Set when the endpoint refused the constraint: later requests are not sent, so a run
    /// stops at one refusal rather than one per worker.
    refused: std::sync::atomic::AtomicBool,
}

impl Provider {
    pub fn new(settings: ProviderSettings) -> Result<Provider, ProviderError> {
        // The default reqwest client has no timeout: set one for the whole request.
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(|e| {
                ProviderError::InvalidRequest(format!("cannot build the HTTP client: {e}"))
            })?;
        let service = tower::service_fn(move |factory: HttpRequestFactory| {
            let http = http.clone();
            async move {
                let request = factory.build().await?;
                let response = http.execute(request).await.map_err(OpenAIError::Reqwest)?;
                // Outside `Provider::complete` (no scope) the headers have nowhere to go.
                let _ = HEADERS.try_with(|slot| slot.set(Budget::read(response.headers())));
                if response.status().is_success() {
                    return Ok(response);
                }
                // Keep status, Retry-After and body: async-openai would otherwise reduce a
                // failure to its message, and our one retry loop needs all three.
                let status = response.status().as_u16();
                let retry_after =
                    parse_retry_after(response.headers(), std::time::SystemTime::now());
                let body = response.text().await.unwrap_or_default();
                let failure = HttpFailure {
                    status,
                    retry_after,
                    body,
                };
                Err(OpenAIError::Boxed(Box::new(failure)))
            }
        });
        let config = OpenAIConfig::new()
            .with_api_base(settings.base_url.trim_end_matches('/'))
            .with_api_key(settings.api_key.expose());
        let client = Client::with_config(config).with_http_service(service);
        Ok(Provider {
            client,
            settings,
            refused: std::sync::atomic::AtomicBool::new(false),
        })
    }

    pub fn settings(&self) -> &ProviderSettings {
        &self.settings
    }

    /// Sends one request, once, with `constraint` in the form the endpoint takes (none when
    /// `structured` is `none`). Retrying is the caller's (see `retry::complete_with_retries`).
    pub async fn complete(
        &self,
        messages: &[ChatMessage],
        constraint: Option<&crate::prompt::Constraint>,
    ) -> Reply {
        HEADERS
            .scope(Cell::new(Budget::default()), async {
                let result = self.send(messages, constraint).await;
                Reply {
                    result,
                    budget: HEADERS.with(Cell::get),
                }
            })
            .await
    }

    async fn send(
        &self,
        messages: &[ChatMessage],
        constraint: Option<&crate::prompt::Constraint>,
    ) -> Result<Completion, ProviderError> {
        let messages = messages
            .iter()
            .map(to_request_message)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ProviderError::InvalidRequest(e.to_string()))?;
        #[allow(deprecated)]
        let request = CreateChatCompletionRequestArgs::default()
            .model(self.settings.model.clone())
            .messages(messages)
            .temperature(self.settings.temperature)
            // `max_tokens` rather than `max_completion_tokens`: llama.cpp, vLLM and Ollama read it.
            .max_tokens(self.settings.max_tokens)
            .build()
            .map_err(|e| ProviderError::InvalidRequest(e.to_string()))?;
        if constraint.is_some() && self.refused.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(ProviderError::Stopped);
        }
        let mut body = serde_json::to_value(&request)
            .map_err(|e| ProviderError::InvalidRequest(e.to_string()))?;
        // llama.cpp reads `grammar`; structured outputs read `response_format`. Neither is in
        // async-openai's request type for every provider, so the body is extended as JSON.
        let sent = match (constraint, self.settings.structured) {
            (Some(c), crate::prompt::Structured::Grammar) => {
                body["grammar"] = serde_json::Value::String(c.grammar.clone());
                Some("grammar")
            }
            (Some(c), crate::prompt::Structured::JsonSchema) => {
                body["response_format"] = serde_json::json!({
                    "type": "json_schema",
                    "json_schema": { "name": "narrative", "strict": true, "schema": c.schema },
                });
                Some("JSON schema (response_format)")
            }
            _ => None,
        };
        let response: async_openai::types::chat::CreateChatCompletionResponse =
            self.client.chat().create_byot(body).await.map_err(|e| {
                match (ProviderError::from_openai(e), sent) {
                    // A 400 or 422 naming the field: the endpoint does not take it.
                    (ProviderError::Client { status, body }, Some(what))
                        if matches!(status, 400 | 422)
                            && ["grammar", "response_format", "json_schema", "schema"]
                                .iter()
                                .any(|k| body.to_ascii_lowercase().contains(k)) =>
                    {
                        self.refused
                            .store(true, std::sync::atomic::Ordering::SeqCst);
                        ProviderError::ConstraintRefused { what, status, body }
                    }
                    (e, _) => e,
                }
            })?;
        let (prompt_tokens, completion_tokens) = response.usage.as_ref().map_or((0, 0), |u| {
            (i64::from(u.prompt_tokens), i64::from(u.completion_tokens))
        });
        let Some(choice) = response.choices.into_iter().next() else {
            return Ok(Completion {
                text: String::new(),
                ending: Ending::NoChoices,
                prompt_tokens,
                completion_tokens,
            });
        };
        let refusal = choice.message.refusal.filter(|r| !r.trim().is_empty());
        let ending = match (refusal, choice.finish_reason) {
            (Some(refusal), _) => Ending::Refused(refusal),
            (None, Some(FinishReason::Length)) => Ending::Length,
            (None, Some(FinishReason::ContentFilter)) => Ending::ContentFilter,
            (None, _) => Ending::Stop,
        };
        Ok(Completion {
            text: choice.message.content.unwrap_or_default(),
            ending,
            prompt_tokens,
            completion_tokens,
        })
    }
}

fn to_request_message(m: &ChatMessage) -> Result<ChatCompletionRequestMessage, OpenAIError> {
    Ok(match m.role {
        Role::System => ChatCompletionRequestSystemMessageArgs::default()
            .content(m.content.as_str())
            .build()?
            .into(),
        Role::User => ChatCompletionRequestUserMessageArgs::default()
            .content(m.content.as_str())
            .build()?
            .into(),
        Role::Assistant => ChatCompletionRequestAssistantMessageArgs::default()
            .content(m.content.clone())
            .build()?
            .into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_never_prints() {
        let s = ProviderSettings {
            base_url: "http://x".into(),
            api_key: Secret::new("sk-very-secret"),
            model: "m".into(),
            temperature: 0.2,
            max_tokens: 10,
            timeout: Duration::from_secs(1),
            structured: crate::prompt::Structured::None,
        };
        let shown = format!("{s:?}");
        assert!(!shown.contains("sk-very-secret"), "{shown}");
        assert!(shown.contains("***"));
    }
}
