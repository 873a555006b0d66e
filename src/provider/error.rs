//! What can go wrong with a provider call, and whether trying again can help.

use std::time::Duration;

/// A non-success HTTP answer, kept whole: status, what `Retry-After` asked for, and the body.
#[derive(Debug, thiserror::Error)]
#[error("HTTP {status}: {body}")]
pub struct HttpFailure {
    pub status: u16,
    pub retry_after: Option<Duration>,
    pub body: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("rate limited (429){}: {body}", wait(.retry_after))]
    RateLimited {
        retry_after: Option<Duration>,
        body: String,
    },
    #[error("quota exhausted (insufficient_quota): {body}")]
    QuotaExhausted { body: String },
    #[error("server error {status}{}: {body}", wait(.retry_after))]
    Server {
        status: u16,
        retry_after: Option<Duration>,
        body: String,
    },
    #[error("request rejected with {status}: {body}")]
    Client { status: u16, body: String },
    #[error("request timed out")]
    Timeout,
    #[error("connection failed: {0}")]
    Connection(String),
    #[error("malformed response: {0}")]
    Malformed(String),
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The provider refused the constraint narrator sent (`grammar` or `response_format`):
    /// every request of the run would be refused the same way.
    #[error("the provider refused the {what} narrator sent ({status}: {body}); run with --structured none, or json-schema if it takes JSON schemas, or another --strategy")]
    ConstraintRefused {
        what: &'static str,
        status: u16,
        body: String,
    },
    /// The worker was told to stop while this request waited for a slot: it was never sent.
    #[error("stopped before the request was sent")]
    Stopped,
}

fn wait(d: &Option<Duration>) -> String {
    d.map_or(String::new(), |d| {
        format!(", retry after {:.1}s", d.as_secs_f64())
    })
}

impl ProviderError {
    /// Worth trying the same request again: rate limits, server errors, timeouts, broken
    /// connections and garbled bodies. An exhausted quota and other 4xx are not.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ProviderError::RateLimited { .. }
                | ProviderError::Server { .. }
                | ProviderError::Timeout
                | ProviderError::Connection(_)
                | ProviderError::Malformed(_)
        )
    }

    /// How long the provider asked us to wait, if it said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ProviderError::RateLimited { retry_after, .. }
            | ProviderError::Server { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    pub(crate) fn from_openai(err: async_openai::error::OpenAIError) -> Self {
        use async_openai::error::OpenAIError as E;
        match err {
            E::Boxed(boxed) => match boxed.downcast::<HttpFailure>() {
                Ok(f) => Self::from_http(*f),
                Err(other) => match other.downcast::<reqwest::Error>() {
                    Ok(e) => Self::from_reqwest(&e),
                    Err(other) => ProviderError::Connection(other.to_string()),
                },
            },
            E::Reqwest(e) => Self::from_reqwest(&e),
            E::JSONDeserialize(e, content) => {
                let snippet: String = content.chars().take(200).collect();
                ProviderError::Malformed(format!("{e}; body starts {snippet:?}"))
            }
            E::ApiError(api) => ProviderError::Client {
                status: 0,
                body: api.to_string(),
            },
            E::InvalidArgument(m) => ProviderError::InvalidRequest(m),
            other => ProviderError::Connection(other.to_string()),
        }
    }

    fn from_reqwest(e: &reqwest::Error) -> Self {
        if e.is_timeout() {
            ProviderError::Timeout
        } else if e.is_decode() || e.is_body() {
            ProviderError::Malformed(e.to_string())
        } else {
            ProviderError::Connection(e.to_string())
        }
    }

    pub(crate) fn from_http(f: HttpFailure) -> Self {
        match f.status {
            429 if f.body.contains("insufficient_quota") => {
                ProviderError::QuotaExhausted { body: f.body }
            }
            429 => ProviderError::RateLimited {
                retry_after: f.retry_after,
                body: f.body,
            },
            408 => ProviderError::Timeout,
            500..=599 => ProviderError::Server {
                status: f.status,
                retry_after: f.retry_after,
                body: f.body,
            },
            status => ProviderError::Client {
                status,
                body: f.body,
            },
        }
    }
}

/// Reads `retry-after-ms` (milliseconds), then `retry-after` (seconds, or an HTTP date).
pub fn parse_retry_after(
    headers: &reqwest::header::HeaderMap,
    now: std::time::SystemTime,
) -> Option<Duration> {
    if let Some(ms) = header_count(headers, "retry-after-ms") {
        return Some(Duration::from_secs_f64(ms / 1000.0));
    }
    let value = header_text(headers, "retry-after")?;
    if let Ok(secs) = value.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

/// A response header's value, trimmed; None when missing or not text.
pub(super) fn header_text<'h>(
    headers: &'h reqwest::header::HeaderMap,
    name: &str,
) -> Option<&'h str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// A response header holding a number that is finite and not negative; None otherwise.
pub(super) fn header_count(headers: &reqwest::header::HeaderMap, name: &str) -> Option<f64> {
    header_text(headers, name)?
        .parse::<f64>()
        .ok()
        .filter(|n| n.is_finite() && *n >= 0.0)
}

/// Response headers from name and value pairs, for the provider's tests.
#[cfg(test)]
pub(super) fn headers(pairs: &[(&'static str, &str)]) -> reqwest::header::HeaderMap {
    let mut h = reqwest::header::HeaderMap::new();
    for (k, v) in pairs {
        h.insert(*k, reqwest::header::HeaderValue::from_str(v).unwrap());
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_milliseconds_and_dates() {
        let now = std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        assert_eq!(
            parse_retry_after(&headers(&[("retry-after", "7")]), now),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            parse_retry_after(&headers(&[("retry-after-ms", "250")]), now),
            Some(Duration::from_millis(250))
        );
        let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(
            parse_retry_after(&headers(&[("retry-after", &later)]), now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after(&headers(&[("retry-after", "soon")]), now),
            None
        );
        assert_eq!(parse_retry_after(&headers(&[]), now), None);
    }

    #[test]
    fn an_exhausted_quota_and_a_bad_key_are_permanent() {
        let quota = HttpFailure {
            status: 429,
            retry_after: None,
            body: r#"{"error":{"code":"insufficient_quota"}}"#.into(),
        };
        assert!(!ProviderError::from_http(quota).is_retryable());
        let key = HttpFailure {
            status: 401,
            retry_after: None,
            body: "invalid api key".into(),
        };
        assert!(!ProviderError::from_http(key).is_retryable());
        let limited = HttpFailure {
            status: 429,
            retry_after: Some(Duration::from_secs(2)),
            body: "slow down".into(),
        };
        let e = ProviderError::from_http(limited);
        assert!(e.is_retryable());
        assert_eq!(e.retry_after(), Some(Duration::from_secs(2)));
        assert!(ProviderError::from_http(HttpFailure {
            status: 503,
            retry_after: None,
            body: String::new()
        })
        .is_retryable());
    }
}
