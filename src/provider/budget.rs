//! The provider's own word on its rate limits: OpenAI-style `x-ratelimit-*` headers (sent
//! by OpenAI, Azure OpenAI and others with every answer), read into what remains of each
//! bucket and how long until it is full again. Missing or inconsistent headers read as absent.

use super::error::{header_count, header_text};
use std::time::Duration;

/// What one answer's headers said of the provider's buckets.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Budget {
    pub requests: Option<Window>,
    pub tokens: Option<Window>,
}

/// One bucket as the provider reported it when it took the request.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Window {
    /// What the bucket holds when full (`x-ratelimit-limit-*`).
    pub limit: f64,
    /// What is left in it (`x-ratelimit-remaining-*`).
    pub remaining: f64,
    /// Until it is full again (`x-ratelimit-reset-*`).
    pub reset: Duration,
}

/// A reset further off than this is not a rate limit narrator can pace by (a per-day quota,
/// or a timestamp where a duration belongs): the window is read as absent.
const LONGEST_RESET: Duration = Duration::from_secs(24 * 3600);

impl Budget {
    pub fn read(headers: &reqwest::header::HeaderMap) -> Budget {
        Budget {
            requests: Window::read(
                headers,
                [
                    "x-ratelimit-limit-requests",
                    "x-ratelimit-remaining-requests",
                    "x-ratelimit-reset-requests",
                ],
            ),
            tokens: Window::read(
                headers,
                [
                    "x-ratelimit-limit-tokens",
                    "x-ratelimit-remaining-tokens",
                    "x-ratelimit-reset-tokens",
                ],
            ),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.requests.is_none() && self.tokens.is_none()
    }
}

impl Window {
    /// From the limit, remaining and reset headers named (every answer is read: no
    /// allocation for names).
    fn read(
        headers: &reqwest::header::HeaderMap,
        [limit, remaining, reset]: [&'static str; 3],
    ) -> Option<Window> {
        let limit = header_count(headers, limit)?;
        let remaining = header_count(headers, remaining)?;
        let reset = parse_reset(header_text(headers, reset)?)?;
        // Headers that contradict themselves are worse than none.
        if limit <= 0.0 || remaining > limit || reset > LONGEST_RESET {
            return None;
        }
        Some(Window {
            limit,
            remaining,
            reset,
        })
    }

    /// The bucket's refill rate per second, when the headers allow a fair estimate: the
    /// bucket is at least half spent (a nearly full one says too little: the remaining count
    /// is whole, so one unit's rounding would dominate), and the reset is not nil.
    pub fn refill_per_sec(&self) -> Option<f64> {
        let spent = self.limit - self.remaining;
        (spent >= self.limit / 2.0 && !self.reset.is_zero())
            .then(|| spent / self.reset.as_secs_f64())
    }
}

/// A reset time in any form seen in the field: Go durations (`1s`, `250ms`, `6m0s`,
/// `1h2m3.5s`, `20us`) or plain seconds (`7`, `0.5`).
pub fn parse_reset(text: &str) -> Option<Duration> {
    let text = text.trim();
    if let Ok(secs) = text.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let mut total = 0.0;
    let mut rest = text;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            _ => return None,
        };
        rest = &rest[unit..];
        total += number * scale;
    }
    total.is_finite().then(|| Duration::from_secs_f64(total))
}

/// A duration as OpenAI writes its resets: `250ms` under a second, `1.5s` under a minute,
/// `6m0s` beyond (what the mock provider sends).
pub fn format_reset(reset: Duration) -> String {
    let ms = reset.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{}s", ms as f64 / 1000.0)
    } else {
        let secs = reset.as_secs();
        format!("{}m{}s", secs / 60, secs % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::super::error::headers;
    use super::*;

    #[test]
    fn every_reset_form_we_know_parses() {
        let cases = [
            ("1s", 1.0),
            ("250ms", 0.25),
            ("6m0s", 360.0),
            ("1h2m3.5s", 3723.5),
            ("20us", 20e-6),
            ("1.5s", 1.5),
            ("7", 7.0),
            ("0.5", 0.5),
            (" 2s ", 2.0),
        ];
        for (text, secs) in cases {
            let got = parse_reset(text).unwrap_or_else(|| panic!("{text}"));
            assert!((got.as_secs_f64() - secs).abs() < 1e-9, "{text}: {got:?}");
        }
        for bad in ["", "s", "1x", "soon", "-1", "1s-", "NaN"] {
            assert_eq!(parse_reset(bad), None, "{bad}");
        }
    }

    #[test]
    fn formatted_resets_read_back() {
        for ms in [0u64, 20, 999, 1000, 1500, 59_999, 60_000, 361_000] {
            let d = Duration::from_millis(ms);
            let back = parse_reset(&format_reset(d)).unwrap();
            // Past a minute the format keeps whole seconds.
            assert!(d.saturating_sub(back) < Duration::from_secs(1), "{ms}");
            assert!(back <= d, "{ms}");
        }
    }

    #[test]
    fn openai_headers_read_as_two_windows() {
        let b = Budget::read(&headers(&[
            ("x-ratelimit-limit-requests", "60"),
            ("x-ratelimit-remaining-requests", "59"),
            ("x-ratelimit-reset-requests", "1s"),
            ("x-ratelimit-limit-tokens", "150000"),
            ("x-ratelimit-remaining-tokens", "149984"),
            ("x-ratelimit-reset-tokens", "6m0s"),
        ]));
        let r = b.requests.unwrap();
        assert_eq!((r.limit, r.remaining), (60.0, 59.0));
        assert_eq!(r.reset, Duration::from_secs(1));
        assert_eq!(b.tokens.unwrap().reset, Duration::from_secs(360));
        // Nearly full: too little spent to say how fast it refills.
        assert_eq!(r.refill_per_sec(), None);
    }

    #[test]
    fn missing_or_inconsistent_headers_read_as_absent() {
        assert!(Budget::read(&headers(&[])).is_empty());
        let partial = Budget::read(&headers(&[
            ("x-ratelimit-limit-requests", "60"),
            ("x-ratelimit-remaining-requests", "10"),
        ]));
        assert!(partial.is_empty(), "no reset: {partial:?}");
        for (limit, remaining, reset) in [
            ("60", "61", "1s"),
            ("0", "0", "1s"),
            ("60", "-1", "1s"),
            ("sixty", "1", "1s"),
            ("60", "1", "1700000000"),
            ("60", "1", "tomorrow"),
        ] {
            let b = Budget::read(&headers(&[
                ("x-ratelimit-limit-tokens", limit),
                ("x-ratelimit-remaining-tokens", remaining),
                ("x-ratelimit-reset-tokens", reset),
            ]));
            assert!(b.is_empty(), "{limit} {remaining} {reset}: {b:?}");
        }
    }

    #[test]
    fn a_half_spent_bucket_tells_its_refill_rate() {
        let w = Window {
            limit: 600.0,
            remaining: 100.0,
            reset: Duration::from_secs(50),
        };
        assert_eq!(w.refill_per_sec(), Some(10.0));
        let nil = Window {
            reset: Duration::ZERO,
            ..w
        };
        assert_eq!(nil.refill_per_sec(), None);
    }
}
