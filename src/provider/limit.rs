//! Rate limits: requests and tokens per minute as token buckets that start with a small burst
//! (about one second's worth, providers often enforce limits per second), a bound on requests
//! in flight, and what a 429 teaches: everyone waits out its `Retry-After`, and the budgets
//! shrink until the provider stops refusing, then grow back slowly.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Limits {
    pub requests_per_minute: f64,
    pub tokens_per_minute: f64,
    pub concurrency: usize,
}

/// After a 429 the budgets are cut to this share of what they were...
const CUT: f64 = 0.85;
/// ...at most once a second, so one burst of refusals (every request in flight answered 429
/// together) counts as one signal, not as many.
const CUT_SPACING: Duration = Duration::from_secs(1);
/// The budgets never shrink below this share of the configured limits.
const FLOOR: f64 = 0.05;
/// Share of the configured limits regained per second without a 429: slow, because a
/// provider that lowered its limit answers the climb back with more refusals.
const RECOVERY_PER_SEC: f64 = 0.02;

struct Bucket {
    capacity: f64,
    level: f64,
    per_second: f64,
}

impl Bucket {
    fn per_minute(limit: f64) -> Bucket {
        let per_second = limit / 60.0;
        let capacity = per_second.max(1.0);
        Bucket {
            capacity,
            level: capacity,
            per_second,
        }
    }

    fn refill(&mut self, elapsed: Duration, share: f64) {
        self.level = (self.level + elapsed.as_secs_f64() * self.per_second * share)
            .min(self.capacity * share.max(0.1));
    }

    /// Seconds until `cost` can be taken. A cost above the capacity waits for a full bucket
    /// and then runs the level negative, so the long-run rate still holds.
    fn wait_for(&self, cost: f64, share: f64) -> f64 {
        let need = cost.min(self.capacity * share.max(0.1));
        if self.level >= need {
            0.0
        } else {
            (need - self.level) / (self.per_second * share)
        }
    }
}

struct Buckets {
    requests: Bucket,
    tokens: Bucket,
    last: Instant,
    /// The share of the configured limits in force, lowered by 429s.
    share: f64,
    last_cut: Option<Instant>,
    /// No request leaves before this: the longest `Retry-After` the provider asked for.
    pause_until: Instant,
}

impl Buckets {
    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last);
        self.last = now;
        if self.share < 1.0 && now >= self.pause_until {
            self.share = (self.share + RECOVERY_PER_SEC * elapsed.as_secs_f64()).min(1.0);
        }
        self.requests.refill(elapsed, self.share);
        self.tokens.refill(elapsed, self.share);
    }
}

/// Shared by every worker task of a process.
#[derive(Clone)]
pub struct RateLimiter {
    /// `None` for the naive baseline of `narrator bench`: a bound in flight and nothing else.
    buckets: Option<Arc<Mutex<Buckets>>>,
    in_flight: Arc<Semaphore>,
    stats: Arc<Counters>,
}

/// A slot in flight: hold it while the request is out.
pub struct Permit {
    _slot: OwnedSemaphorePermit,
    sent: std::time::Instant,
    stats: Arc<Counters>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        let busy = u64::try_from(self.sent.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.stats.busy_nanos.fetch_add(busy, Ordering::Relaxed);
    }
}

#[derive(Default)]
struct Counters {
    dispatched: AtomicU64,
    throttled: AtomicU64,
    busy_nanos: AtomicU64,
    lag: std::sync::Mutex<Histogram>,
}

/// What the limiter saw: for run summaries and `narrator bench`.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PaceStats {
    /// Requests let out.
    pub dispatched: u64,
    /// 429s reported back.
    pub throttled: u64,
    /// Seconds of requests in flight, summed: divided by the wall time, the mean in flight.
    pub busy_secs: f64,
    /// From the moment a request was free to leave (a slot in flight and budget for it) to
    /// the moment it left, in microseconds.
    pub lag_p50_us: u64,
    pub lag_p99_us: u64,
    pub lag_max_us: u64,
}

impl RateLimiter {
    pub fn new(limits: Limits) -> RateLimiter {
        let now = Instant::now();
        RateLimiter {
            buckets: Some(Arc::new(Mutex::new(Buckets {
                requests: Bucket::per_minute(limits.requests_per_minute),
                tokens: Bucket::per_minute(limits.tokens_per_minute),
                last: now,
                share: 1.0,
                last_cut: None,
                pause_until: now,
            }))),
            in_flight: Arc::new(Semaphore::new(limits.concurrency.max(1))),
            stats: Arc::default(),
        }
    }

    /// The naive baseline `narrator bench` compares with: at most `concurrency` in flight,
    /// no budgets, nothing learnt from 429s.
    pub fn naive(concurrency: usize) -> RateLimiter {
        RateLimiter {
            buckets: None,
            in_flight: Arc::new(Semaphore::new(concurrency.max(1))),
            stats: Arc::default(),
        }
    }

    /// Waits for a slot in flight and for budget for one request costing `tokens`; hold the
    /// permit until the request finishes. If the provider has asked everyone to wait longer
    /// than `max_wait`, returns that wait instead, so the job can be put back for later.
    pub async fn acquire(&self, tokens: u32, max_wait: Duration) -> Result<Permit, Duration> {
        let slot = Arc::clone(&self.in_flight)
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        let mut free_at = Instant::now();
        let Some(buckets) = &self.buckets else {
            return Ok(self.dispatch(slot, free_at));
        };
        let cost = f64::from(tokens);
        loop {
            let wait = {
                let mut b = buckets.lock().await;
                let now = Instant::now();
                b.refill(now);
                let paused = b.pause_until.saturating_duration_since(now);
                if paused > max_wait {
                    return Err(paused);
                }
                let share = b.share;
                let wait = paused
                    .as_secs_f64()
                    .max(b.requests.wait_for(1.0, share))
                    .max(b.tokens.wait_for(cost, share));
                if wait == 0.0 {
                    b.requests.level -= 1.0;
                    b.tokens.level -= cost;
                    drop(b);
                    return Ok(self.dispatch(slot, free_at));
                }
                wait
            };
            let wait = Duration::from_secs_f64(wait.min(60.0));
            free_at = Instant::now() + wait;
            tokio::time::sleep(wait).await;
        }
    }

    fn dispatch(&self, slot: OwnedSemaphorePermit, free_at: Instant) -> Permit {
        let lag = Instant::now().saturating_duration_since(free_at);
        self.stats.dispatched.fetch_add(1, Ordering::Relaxed);
        self.stats
            .lag
            .lock()
            .expect("lag histogram lock")
            .record(u64::try_from(lag.as_micros()).unwrap_or(u64::MAX));
        Permit {
            _slot: slot,
            sent: std::time::Instant::now(),
            stats: Arc::clone(&self.stats),
        }
    }

    /// The provider answered 429: nobody sends before its `Retry-After`, nothing banked is
    /// spent in a burst afterwards, and the budgets shrink (at most once a second).
    pub async fn throttled(&self, retry_after: Option<Duration>) {
        self.stats.throttled.fetch_add(1, Ordering::Relaxed);
        let Some(buckets) = &self.buckets else {
            return;
        };
        let mut b = buckets.lock().await;
        let now = Instant::now();
        b.refill(now);
        if let Some(wait) = retry_after {
            b.pause_until = b.pause_until.max(now + wait);
        }
        if b.last_cut
            .is_none_or(|at| now.duration_since(at) >= CUT_SPACING)
        {
            b.share = (b.share * CUT).max(FLOOR);
            b.last_cut = Some(now);
        }
        b.requests.level = b.requests.level.min(0.0);
        b.tokens.level = b.tokens.level.min(0.0);
    }

    pub fn stats(&self) -> PaceStats {
        let lag = self.stats.lag.lock().expect("lag histogram lock");
        PaceStats {
            dispatched: self.stats.dispatched.load(Ordering::Relaxed),
            throttled: self.stats.throttled.load(Ordering::Relaxed),
            busy_secs: self.stats.busy_nanos.load(Ordering::Relaxed) as f64 / 1e9,
            lag_p50_us: lag.quantile(0.50),
            lag_p99_us: lag.quantile(0.99),
            lag_max_us: lag.max,
        }
    }
}

/// Counts of values in buckets about 3% wide (exact below 64), so quantiles of millions of
/// samples take a fixed 16 KB.
struct Histogram {
    counts: Vec<u64>,
    total: u64,
    max: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: vec![0; 64 + 58 * 32],
            total: 0,
            max: 0,
        }
    }
}

impl Histogram {
    fn index(v: u64) -> usize {
        if v < 64 {
            return v as usize;
        }
        let exp = 63 - v.leading_zeros() as usize; // 6 and up
        let sub = ((v >> (exp - 5)) & 31) as usize;
        64 + (exp - 6) * 32 + sub
    }

    /// The smallest value that falls in bucket `i`.
    fn low(i: usize) -> u64 {
        if i < 64 {
            return i as u64;
        }
        let (exp, sub) = ((i - 64) / 32 + 6, (i - 64) % 32);
        (1u64 << exp) | ((sub as u64) << (exp - 5))
    }

    fn record(&mut self, v: u64) {
        self.counts[Self::index(v)] += 1;
        self.total += 1;
        self.max = self.max.max(v);
    }

    fn quantile(&self, q: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let rank = ((self.total as f64 * q).ceil() as u64).clamp(1, self.total);
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Self::low(i).min(self.max);
            }
        }
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: Duration = Duration::from_secs(60);

    #[tokio::test(start_paused = true)]
    async fn requests_per_minute_are_spread_not_burst() {
        let limiter = RateLimiter::new(Limits {
            requests_per_minute: 120.0,
            tokens_per_minute: 1e9,
            concurrency: 100,
        });
        let start = Instant::now();
        for _ in 0..10 {
            drop(limiter.acquire(1, MAX).await);
        }
        // 2 a second with a burst of 2: the tenth request waits about four seconds.
        let took = start.elapsed().as_secs_f64();
        assert!((3.9..=4.2).contains(&took), "{took}");
    }

    #[tokio::test(start_paused = true)]
    async fn tokens_per_minute_hold_for_requests_larger_than_a_second_of_budget() {
        let limiter = RateLimiter::new(Limits {
            requests_per_minute: 1e6,
            tokens_per_minute: 6_000.0,
            concurrency: 100,
        });
        let start = Instant::now();
        for _ in 0..4 {
            drop(limiter.acquire(500, MAX).await);
        }
        // 100 tokens a second: 2,000 tokens take about 20 s less the first second's budget.
        let took = start.elapsed().as_secs_f64();
        assert!((13.0..=21.0).contains(&took), "{took}");
    }

    #[tokio::test]
    async fn concurrency_is_bounded() {
        let limiter = RateLimiter::new(Limits {
            requests_per_minute: 1e9,
            tokens_per_minute: 1e12,
            concurrency: 2,
        });
        let a = limiter.acquire(1, MAX).await;
        let _b = limiter.acquire(1, MAX).await;
        let third = tokio::time::timeout(Duration::from_millis(50), limiter.acquire(1, MAX)).await;
        assert!(third.is_err(), "a third request must wait");
        drop(a);
        let third = tokio::time::timeout(Duration::from_millis(500), limiter.acquire(1, MAX)).await;
        assert!(third.is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_holds_everyone_until_its_retry_after_and_cuts_the_budget() {
        let limiter = RateLimiter::new(Limits {
            requests_per_minute: 600.0,
            tokens_per_minute: 1e12,
            concurrency: 100,
        });
        let start = Instant::now();
        limiter.throttled(Some(Duration::from_secs(3))).await;
        drop(limiter.acquire(1, MAX).await.expect("3 s is under the cap"));
        assert!(start.elapsed() >= Duration::from_secs(3));
        // 10 a second cut to 8.5 (regaining 2% a second): after the second's burst the pause
        // refilled, 30 requests take over 2.2 s, where the uncut 10 a second takes 2.0 s.
        let after_pause = Instant::now();
        for _ in 0..30 {
            drop(limiter.acquire(1, MAX).await.expect("no pause"));
        }
        let took = after_pause.elapsed().as_secs_f64();
        assert!((2.2..2.6).contains(&took), "{took}");
        assert_eq!(limiter.stats().throttled, 1);
        assert_eq!(limiter.stats().dispatched, 31);
    }

    #[tokio::test(start_paused = true)]
    async fn a_pause_longer_than_the_cap_is_handed_back() {
        let limiter = RateLimiter::new(Limits {
            requests_per_minute: 600.0,
            tokens_per_minute: 1e12,
            concurrency: 1,
        });
        limiter.throttled(Some(Duration::from_secs(3600))).await;
        let wait = limiter
            .acquire(1, MAX)
            .await
            .err()
            .expect("an hour is over the cap");
        assert!(wait > Duration::from_secs(3590), "{wait:?}");
        // The slot was given back with the refusal.
        limiter.throttled(None).await;
        assert!(limiter.acquire(1, MAX).await.is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn the_naive_limiter_only_bounds_in_flight() {
        let limiter = RateLimiter::naive(2);
        limiter.throttled(Some(Duration::from_secs(3600))).await;
        let _a = limiter.acquire(1, MAX).await.expect("no budget");
        let _b = limiter.acquire(1, MAX).await.expect("no budget");
        let third = tokio::time::timeout(Duration::from_millis(50), limiter.acquire(1, MAX)).await;
        assert!(third.is_err());
    }

    #[test]
    fn histogram_quantiles_are_within_a_bucket() {
        let mut h = Histogram::default();
        for v in 1..=10_000u64 {
            h.record(v);
        }
        let p50 = h.quantile(0.5) as f64;
        let p99 = h.quantile(0.99) as f64;
        assert!((p50 / 5_000.0 - 1.0).abs() < 0.04, "{p50}");
        assert!((p99 / 9_900.0 - 1.0).abs() < 0.04, "{p99}");
        assert_eq!(
            h.quantile(1.0),
            10_000u64.min(Histogram::low(Histogram::index(10_000)))
        );
        for v in [0u64, 1, 63, 64, 65, 1_000, 1 << 40, u64::MAX] {
            assert!(Histogram::low(Histogram::index(v)) <= v, "{v}");
        }
    }
}
