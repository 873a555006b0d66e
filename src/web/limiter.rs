//! Rate limits per client address: a token bucket each, IPv6 counted by its /64.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

/// A token bucket per client address: `per_minute` requests, bursting to the same number.
pub struct AddressLimiter {
    per_minute: f64,
    buckets: Mutex<Buckets>,
}

#[derive(Default)]
struct Buckets {
    by_client: HashMap<Option<IpAddr>, (f64, Instant)>,
    calls: u64,
}

/// The client a bucket belongs to: an IPv4 address, or an IPv6 /64 (one machine's usual
/// allocation, so a client cannot walk its own prefix for fresh buckets).
fn client_key(addr: Option<IpAddr>) -> Option<IpAddr> {
    match addr {
        Some(IpAddr::V6(v6)) => {
            let mut s = v6.segments();
            s[4..].fill(0);
            Some(IpAddr::V6(s.into()))
        }
        other => other,
    }
}

impl AddressLimiter {
    pub fn new(per_minute: f64) -> Self {
        AddressLimiter {
            per_minute,
            buckets: Mutex::new(Buckets::default()),
        }
    }

    /// Whether the address's bucket is empty, and if so how many seconds until it is not;
    /// takes nothing.
    pub fn blocked(&self, addr: Option<IpAddr>) -> Option<u64> {
        let b = self.buckets.lock().expect("limiter lock");
        let (tokens, at) = b.by_client.get(&client_key(addr))?;
        let level = self.refilled(*tokens, *at, Instant::now());
        (level < 1.0).then(|| self.wait_secs(level))
    }

    /// A bucket's level at `now`, refilled since `at` and capped.
    fn refilled(&self, tokens: f64, at: Instant, now: Instant) -> f64 {
        (tokens + now.duration_since(at).as_secs_f64() * self.per_minute / 60.0)
            .min(self.per_minute)
    }

    /// Whole seconds until a bucket at `level` holds one request.
    fn wait_secs(&self, level: f64) -> u64 {
        ((1.0 - level) / (self.per_minute / 60.0)).ceil().max(1.0) as u64
    }

    /// Takes one request from the address's bucket, or says how many seconds until one is free.
    pub fn take(&self, addr: Option<IpAddr>) -> Result<(), u64> {
        let now = Instant::now();
        let cap = self.per_minute;
        let mut b = self.buckets.lock().expect("limiter lock");
        b.calls += 1;
        // Full buckets carry no information: now and then (not on every call) forget them,
        // so memory stays bounded by the clients of the last minute.
        if b.calls.is_multiple_of(1024) && b.by_client.len() > 10_000 {
            b.by_client
                .retain(|_, (tokens, at)| self.refilled(*tokens, *at, now) < cap);
        }
        let (tokens, at) = b.by_client.entry(client_key(addr)).or_insert((cap, now));
        *tokens = self.refilled(*tokens, *at, now);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(self.wait_secs(*tokens))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_address_has_its_own_bucket() {
        let limiter = AddressLimiter::new(3.0);
        let a = Some("10.0.0.1".parse().unwrap());
        let b = Some("10.0.0.2".parse().unwrap());
        for _ in 0..3 {
            assert!(limiter.take(a).is_ok());
        }
        let wait = limiter.take(a).unwrap_err();
        assert!((1..=20).contains(&wait), "{wait}");
        assert!(limiter.take(b).is_ok());
        // Looking does not take.
        assert!(limiter.blocked(a).is_some());
        assert_eq!(limiter.blocked(b), None);
        assert_eq!(limiter.blocked(Some("10.0.0.3".parse().unwrap())), None);
    }
}
