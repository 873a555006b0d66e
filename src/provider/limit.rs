//! Rate limits: requests and tokens per minute as token buckets, a bound on requests in
//! flight, and what the provider teaches. A run starts with one second's budget and doubles
//! it each second (slow start) while the provider takes everything, up to the configured
//! minute's budget: a provider that grants a minute's bucket is spent at its own pace, one
//! that enforces per second costs one refusal. Rate-limit headers, when the provider sends
//! them, say what its buckets hold and replace the guess. A 429 makes everyone wait out its
//! `Retry-After`, ends any burst, and (after the first) shrinks the budgets until the
//! provider stops refusing, then they grow back slowly.

use super::budget::{Budget, Window};
use std::collections::BTreeMap;
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
    pub burst: Burst,
}

/// How a run starts spending its budget.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Burst {
    /// One second's budget, doubled each second until the first 429 or a minute's budget.
    #[default]
    SlowStart,
    /// One second's budget at a time, paced, from the start (headers can only hold it back).
    Steady,
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
/// Slow start stops doubling at a minute's budget a second: the stored minute binds by then.
const MINUTE_SECS: f64 = 60.0;

/// A token bucket: `level` units now, refilled at `per_second`, holding at most `capacity`.
/// `rate` and `cap` scale the refill and the capacity (the share in force, the probe's factor).
struct Bucket {
    capacity: f64,
    level: f64,
    per_second: f64,
}

impl Bucket {
    fn full(capacity: f64, per_second: f64) -> Bucket {
        Bucket {
            capacity,
            level: capacity,
            per_second,
        }
    }

    fn refill(&mut self, elapsed: Duration, rate: f64, cap: f64) {
        self.level =
            (self.level + elapsed.as_secs_f64() * self.per_second * rate).min(self.capacity * cap);
    }

    /// Seconds until `cost` can be taken. A cost above the capacity waits for a full bucket
    /// and then runs the level negative, so the long-run rate still holds.
    fn wait_for(&self, cost: f64, rate: f64, cap: f64) -> f64 {
        let need = cost.min(self.capacity * cap);
        if self.level >= need {
            0.0
        } else {
            (need - self.level) / (self.per_second * rate)
        }
    }
}

/// A bucket for requests and one for tokens.
struct Pair {
    requests: Bucket,
    tokens: Bucket,
}

impl Pair {
    fn refill(&mut self, elapsed: Duration, rate: f64, cap: f64) {
        self.requests.refill(elapsed, rate, cap);
        self.tokens.refill(elapsed, rate, cap);
    }

    fn wait_for(&self, cost: f64, rate: f64, cap: f64) -> f64 {
        self.requests
            .wait_for(1.0, rate, cap)
            .max(self.tokens.wait_for(cost, rate, cap))
    }

    fn take(&mut self, cost: f64) {
        self.requests.level -= 1.0;
        self.tokens.level -= cost;
    }

    fn empty(&mut self) {
        self.requests.level = self.requests.level.min(0.0);
        self.tokens.level = self.tokens.level.min(0.0);
    }
}

/// How fast budget may be spent, beside what the provider's bucket holds.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Pace {
    /// Slow start since this moment: one second's budget a second, doubled each second.
    Probing(Instant),
    /// The provider's headers say what it holds, and nothing was refused since: spend it.
    Open,
    /// One second's budget a second (scaled by the share in force): after a 429, or asked for.
    Steady,
}

struct Buckets {
    /// Budget by the second: one second's worth, refilled at the limits' rate, scaled by the
    /// share in force and, while probing, by the probe's factor.
    pace: Pair,
    /// The provider's bucket as narrator believes it: the configured minute's budget, full at
    /// first, or what its headers last said. Binds while probing and once told; in steady
    /// pacing without headers it is not consulted.
    stored: Pair,
    /// The configured limits a second: nothing the headers say raises the budgets above them.
    requests_per_sec: f64,
    tokens_per_sec: f64,
    pace_mode: Pace,
    /// The provider has sent rate-limit headers.
    told: bool,
    /// Requests and tokens let out so far: an answer's headers describe the bucket when its
    /// request arrived, so what left after it is taken off.
    spent_requests: f64,
    spent_tokens: f64,
    last: Instant,
    /// The share of the configured limits in force, lowered by 429s.
    share: f64,
    last_cut: Option<Instant>,
    /// No request leaves before this: the longest `Retry-After` the provider asked for.
    pause_until: Instant,
}

impl Buckets {
    /// The scale of the pace's refill and capacity, or `None` when it does not bind.
    fn pace_scale(&self, now: Instant) -> Option<(f64, f64)> {
        let steady = (self.share, self.share.max(0.1));
        match self.pace_mode {
            Pace::Probing(since) => {
                // Whole seconds: the first second is today's pace exactly, so a provider
                // that sends headers has answered before anything is risked.
                let doublings = now.saturating_duration_since(since).as_secs();
                let factor = 2f64.powi(doublings.min(16) as i32).min(MINUTE_SECS);
                Some((steady.0 * factor, steady.1 * factor))
            }
            Pace::Open => None,
            Pace::Steady => Some(steady),
        }
    }

    fn stored_binds(&self) -> bool {
        self.told || self.pace_mode != Pace::Steady
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last);
        self.last = now;
        if self.share < 1.0 && now >= self.pause_until {
            self.share = (self.share + RECOVERY_PER_SEC * elapsed.as_secs_f64()).min(1.0);
        }
        if let Some((rate, cap)) = self.pace_scale(now) {
            self.pace.refill(elapsed, rate, cap);
        }
        self.stored.refill(elapsed, self.share, 1.0);
    }

    /// Seconds until a request costing `cost` tokens may leave.
    fn wait_for(&self, cost: f64, now: Instant) -> f64 {
        let mut wait = self
            .pause_until
            .saturating_duration_since(now)
            .as_secs_f64();
        if let Some((rate, cap)) = self.pace_scale(now) {
            wait = wait.max(self.pace.wait_for(cost, rate, cap));
        }
        if self.stored_binds() {
            wait = wait.max(self.stored.wait_for(cost, self.share, 1.0));
        }
        wait
    }

    /// Sets one stored bucket from a window the provider reported for a request that left
    /// `age` ago, with `later` units let out since. One request's worth (`margin`) is held
    /// back: the provider counted what remained when the request arrived, a little after it
    /// left, so a little less has refilled since than `age` says, and at an empty bucket
    /// that little decides whether the next request is refused.
    fn tell(
        bucket: &mut Bucket,
        window: &Window,
        ceiling_per_sec: f64,
        share: f64,
        age: Duration,
        (later, margin): (f64, f64),
    ) {
        bucket.capacity = window.limit.min(ceiling_per_sec * MINUTE_SECS);
        if let Some(rate) = window.refill_per_sec() {
            bucket.per_second = rate.min(ceiling_per_sec);
        }
        let refilled = bucket.per_second * share * age.as_secs_f64();
        bucket.level = (window.remaining + refilled - later - margin).min(bucket.capacity);
    }
}

/// Shared by every worker task of a process.
#[derive(Clone)]
pub struct RateLimiter {
    /// `None` for the naive baseline of `narrator bench`: a bound in flight and nothing else.
    buckets: Option<Arc<Mutex<Buckets>>>,
    in_flight: Arc<Semaphore>,
    unanswered: Arc<std::sync::Mutex<Unanswered>>,
    stats: Arc<Counters>,
}

/// The requests out and not yet answered, by the order they left, with their token costs.
/// One that left before a request but reached the provider after it is not in that request's
/// reported remaining: reading the headers, narrator counts every earlier one still out as
/// spent, so its belief never runs ahead of the provider's bucket.
#[derive(Default)]
struct Unanswered {
    next: u64,
    costs: BTreeMap<u64, f64>,
}

/// A slot in flight: hold it while the request is out.
pub struct Permit {
    _slot: OwnedSemaphorePermit,
    sent: std::time::Instant,
    /// When it left and what it cost, and what had left before it, to read its answer's
    /// rate-limit headers against.
    left: Instant,
    cost: f64,
    spent_before: (f64, f64),
    order: u64,
    unanswered: Arc<std::sync::Mutex<Unanswered>>,
    stats: Arc<Counters>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.unanswered
            .lock()
            .expect("unanswered lock")
            .costs
            .remove(&self.order);
        let busy = u64::try_from(self.sent.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.stats.busy_nanos.fetch_add(busy, Ordering::Relaxed);
    }
}

#[derive(Default)]
struct Counters {
    dispatched: AtomicU64,
    throttled: AtomicU64,
    told: AtomicU64,
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
    /// Answers whose rate-limit headers were read.
    #[serde(default)]
    pub told: u64,
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
        let requests_per_sec = limits.requests_per_minute / 60.0;
        let tokens_per_sec = limits.tokens_per_minute / 60.0;
        // One second's budget (at least one request's worth) by the second...
        let second = |per_sec: f64| Bucket::full(per_sec.max(1.0), per_sec);
        // ...and a minute's, full at first, as a provider's per-minute bucket starts.
        let minute = |per_sec: f64| Bucket::full((per_sec * MINUTE_SECS).max(1.0), per_sec);
        RateLimiter {
            buckets: Some(Arc::new(Mutex::new(Buckets {
                pace: Pair {
                    requests: second(requests_per_sec),
                    tokens: second(tokens_per_sec),
                },
                stored: Pair {
                    requests: minute(requests_per_sec),
                    tokens: minute(tokens_per_sec),
                },
                requests_per_sec,
                tokens_per_sec,
                pace_mode: match limits.burst {
                    Burst::SlowStart => Pace::Probing(now),
                    Burst::Steady => Pace::Steady,
                },
                told: false,
                spent_requests: 0.0,
                spent_tokens: 0.0,
                last: now,
                share: 1.0,
                last_cut: None,
                pause_until: now,
            }))),
            in_flight: Arc::new(Semaphore::new(limits.concurrency.max(1))),
            unanswered: Arc::default(),
            stats: Arc::default(),
        }
    }

    /// The naive baseline `narrator bench` compares with: at most `concurrency` in flight,
    /// no budgets, nothing learnt from 429s.
    pub fn naive(concurrency: usize) -> RateLimiter {
        RateLimiter {
            buckets: None,
            in_flight: Arc::new(Semaphore::new(concurrency.max(1))),
            unanswered: Arc::default(),
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
        let cost = f64::from(tokens);
        let Some(buckets) = &self.buckets else {
            return Ok(self.dispatch(slot, free_at, cost, (0.0, 0.0)));
        };
        loop {
            let wait = {
                let mut b = buckets.lock().await;
                let now = Instant::now();
                b.refill(now);
                let paused = b.pause_until.saturating_duration_since(now);
                if paused > max_wait {
                    return Err(paused);
                }
                let wait = b.wait_for(cost, now);
                if wait == 0.0 {
                    // A pace that does not bind is not spent from: it would be owed later.
                    if b.pace_scale(now).is_some() {
                        b.pace.take(cost);
                    }
                    b.stored.take(cost);
                    let spent_before = (b.spent_requests, b.spent_tokens);
                    b.spent_requests += 1.0;
                    b.spent_tokens += cost;
                    // Still under the lock, so the order requests left in is the order
                    // their spending was counted in.
                    return Ok(self.dispatch(slot, free_at, cost, spent_before));
                }
                wait
            };
            // At least the timer's millisecond: a wait rounded to nothing would spin.
            let wait = Duration::from_secs_f64(wait.clamp(0.001, 60.0));
            free_at = Instant::now() + wait;
            tokio::time::sleep(wait).await;
        }
    }

    fn dispatch(
        &self,
        slot: OwnedSemaphorePermit,
        free_at: Instant,
        cost: f64,
        spent_before: (f64, f64),
    ) -> Permit {
        let now = Instant::now();
        let order = {
            let mut out = self.unanswered.lock().expect("unanswered lock");
            let order = out.next;
            out.next += 1;
            out.costs.insert(order, cost);
            order
        };
        let lag = now.saturating_duration_since(free_at);
        self.stats.dispatched.fetch_add(1, Ordering::Relaxed);
        self.stats
            .lag
            .lock()
            .expect("lag histogram lock")
            .record(u64::try_from(lag.as_micros()).unwrap_or(u64::MAX));
        Permit {
            _slot: slot,
            sent: std::time::Instant::now(),
            left: now,
            cost,
            spent_before,
            order,
            unanswered: Arc::clone(&self.unanswered),
            stats: Arc::clone(&self.stats),
        }
    }

    /// The answer to `permit`'s request came with the provider's word on its buckets: what
    /// remains, less what left since, is what may be spent, never above the configured
    /// limits. The first such answer ends the probing: there is nothing left to guess.
    pub async fn observe(&self, permit: &Permit, budget: &Budget) {
        let Some(buckets) = &self.buckets else {
            return;
        };
        if budget.is_empty() {
            return;
        }
        self.stats.told.fetch_add(1, Ordering::Relaxed);
        let mut b = buckets.lock().await;
        let now = Instant::now();
        b.refill(now);
        b.told = true;
        if matches!(b.pace_mode, Pace::Probing(_)) {
            b.pace_mode = Pace::Open;
        }
        let age = now.saturating_duration_since(permit.left);
        let share = b.share;
        let (earlier, earlier_tokens) = self
            .unanswered
            .lock()
            .expect("unanswered lock")
            .costs
            .range(..permit.order)
            .fold((0.0, 0.0), |(n, t), (_, cost)| (n + 1.0, t + cost));
        if let Some(w) = &budget.requests {
            let later = b.spent_requests - permit.spent_before.0 - 1.0 + earlier;
            let ceiling = b.requests_per_sec;
            Buckets::tell(&mut b.stored.requests, w, ceiling, share, age, (later, 1.0));
        }
        if let Some(w) = &budget.tokens {
            let later = b.spent_tokens - permit.spent_before.1 - permit.cost + earlier_tokens;
            let ceiling = b.tokens_per_sec;
            Buckets::tell(
                &mut b.stored.tokens,
                w,
                ceiling,
                share,
                age,
                (later, permit.cost),
            );
        }
    }

    /// The provider answered 429: nobody sends before its `Retry-After`, nothing banked is
    /// spent in a burst afterwards, and pacing turns steady. The refusal that ends spending
    /// beyond the configured pace (slow start past its first second, or what the headers
    /// said remained), with its companions in the same second, cuts nothing: the burst
    /// overshot, not the configured limits. Other refusals cut the budgets (at most once a
    /// second).
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
        // In slow start's first second the pace is the configured one: a refusal then is
        // the configured limits' own, and cuts as in steady pacing.
        let bursting = match b.pace_mode {
            Pace::Probing(since) => now.saturating_duration_since(since) >= Duration::from_secs(1),
            Pace::Open => true,
            Pace::Steady => false,
        };
        if bursting {
            b.last_cut = Some(now);
        } else if b
            .last_cut
            .is_none_or(|at| now.duration_since(at) >= CUT_SPACING)
        {
            b.share = (b.share * CUT).max(FLOOR);
            b.last_cut = Some(now);
        }
        b.pace_mode = Pace::Steady;
        b.pace.empty();
        b.stored.empty();
    }

    pub fn stats(&self) -> PaceStats {
        let lag = self.stats.lag.lock().expect("lag histogram lock");
        PaceStats {
            dispatched: self.stats.dispatched.load(Ordering::Relaxed),
            throttled: self.stats.throttled.load(Ordering::Relaxed),
            told: self.stats.told.load(Ordering::Relaxed),
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
            burst: Burst::Steady,
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
            burst: Burst::Steady,
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
            burst: Burst::Steady,
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
            burst: Burst::Steady,
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
            burst: Burst::Steady,
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

    fn limits(rpm: f64, burst: Burst) -> Limits {
        Limits {
            requests_per_minute: rpm,
            tokens_per_minute: 1e12,
            concurrency: 10_000,
            burst,
        }
    }

    fn told(limit: f64, remaining: f64, reset_ms: u64) -> Budget {
        Budget {
            requests: Some(Window {
                limit,
                remaining,
                reset: Duration::from_millis(reset_ms),
            }),
            tokens: None,
        }
    }

    /// One request sent and answered with the provider's word `budget` on its buckets.
    async fn answered(limiter: &RateLimiter, budget: &Budget) {
        let permit = limiter.acquire(1, MAX).await.unwrap();
        limiter.observe(&permit, budget).await;
    }

    async fn take(limiter: &RateLimiter, n: usize) -> f64 {
        let start = Instant::now();
        for _ in 0..n {
            drop(limiter.acquire(1, MAX).await.expect("no pause"));
        }
        start.elapsed().as_secs_f64()
    }

    #[tokio::test(start_paused = true)]
    async fn slow_start_spends_a_stored_minute_doubling_each_second_then_paces() {
        // 10 a second: one second's budget doubling each second (10, 20, 40, ... after the
        // first 10 at once) reaches the minute's 600 in under 6 s, where steady pacing takes
        // a minute.
        let limiter = RateLimiter::new(limits(600.0, Burst::SlowStart));
        let took = take(&limiter, 600).await;
        assert!((5.5..6.0).contains(&took), "{took}");
        // The minute is spent: what refilled meanwhile goes, then 10 a second.
        let took = take(&limiter, 100).await;
        assert!((4.0..5.5).contains(&took), "{took}");
        assert_eq!(limiter.stats().throttled, 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_in_slow_starts_first_second_cuts_as_steady_pacing_does() {
        let limiter = RateLimiter::new(limits(600.0, Burst::SlowStart));
        limiter.throttled(None).await;
        let took = take(&limiter, 30).await;
        assert!((3.3..3.8).contains(&took), "{took}");
    }

    #[tokio::test(start_paused = true)]
    async fn the_429_that_ends_slow_start_turns_pacing_steady_without_a_cut() {
        let limiter = RateLimiter::new(limits(600.0, Burst::SlowStart));
        take(&limiter, 30).await;
        limiter.throttled(None).await;
        // Nothing banked is left: 30 requests at the full 10 a second take 3 s (cut, 3.5 s).
        let took = take(&limiter, 30).await;
        assert!((2.9..3.2).contains(&took), "{took}");
        // The next refusal is the configured limits' own: it cuts to 8.5 a second, regaining
        // 2% a second.
        limiter.throttled(None).await;
        let took = take(&limiter, 30).await;
        assert!((3.3..3.8).contains(&took), "{took}");
    }

    #[tokio::test(start_paused = true)]
    async fn the_429_that_ends_spending_what_the_headers_said_cuts_nothing_either() {
        let limiter = RateLimiter::new(limits(600.0, Burst::SlowStart));
        answered(&limiter, &told(600.0, 0.0, 60_000)).await;
        limiter.throttled(None).await;
        // The full 10 a second from a request's margin below zero: 30 take 3.1 s (cut, 3.6).
        let took = take(&limiter, 30).await;
        assert!((3.0..3.2).contains(&took), "{took}");
    }

    #[tokio::test(start_paused = true)]
    async fn steady_burst_keeps_one_seconds_budget_from_the_start() {
        let limiter = RateLimiter::new(limits(600.0, Burst::Steady));
        // A second's 10 at once, then 10 a second: 60 requests in 5 s.
        let took = take(&limiter, 60).await;
        assert!((4.9..5.1).contains(&took), "{took}");
    }

    #[tokio::test(start_paused = true)]
    async fn what_the_headers_say_remains_is_spent_at_once() {
        let limiter = RateLimiter::new(limits(600.0, Burst::SlowStart));
        // The provider holds 599 more (and it is full again in 0.1 s): all but one request's
        // margin goes at once.
        answered(&limiter, &told(600.0, 599.0, 100)).await;
        let took = take(&limiter, 598).await;
        assert!(took < 0.01, "{took}");
        // Then its pace: 10 a second.
        let took = take(&limiter, 20).await;
        assert!((1.9..2.1).contains(&took), "{took}");
        assert_eq!(limiter.stats().told, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn headers_never_raise_the_budget_above_the_configured_limits() {
        let limiter = RateLimiter::new(limits(60.0, Burst::SlowStart));
        answered(&limiter, &told(6_000.0, 5_999.0, 10)).await;
        // The configured minute's bucket holds 60, no more whatever the provider says: 60
        // now, then one a second.
        let took = take(&limiter, 60).await;
        assert!(took < 0.01, "{took}");
        let took = take(&limiter, 5).await;
        assert!((4.9..5.1).contains(&took), "{took}");
    }

    #[tokio::test(start_paused = true)]
    async fn an_empty_bucket_is_waited_for_at_the_rate_its_reset_implies() {
        let limiter = RateLimiter::new(limits(6_000.0, Burst::SlowStart));
        // Ten a minute and none left: full again in 60 s, so one every 6 s, after the margin.
        answered(&limiter, &told(10.0, 0.0, 60_000)).await;
        let took = take(&limiter, 2).await;
        assert!((17.9..18.1).contains(&took), "{took}");
    }

    #[tokio::test(start_paused = true)]
    async fn headers_hold_back_even_steady_pacing() {
        let limiter = RateLimiter::new(limits(600.0, Burst::Steady));
        answered(&limiter, &told(600.0, 0.0, 60_000)).await;
        // One second's budget is 10, but the provider has nothing: 10 a second from a
        // request's margin below zero.
        let took = take(&limiter, 10).await;
        assert!((1.05..1.15).contains(&took), "{took}");
    }

    #[tokio::test(start_paused = true)]
    async fn requests_sent_after_the_answered_one_are_taken_off_what_it_reported() {
        let limiter = RateLimiter::new(limits(600.0, Burst::SlowStart));
        let first = limiter.acquire(1, MAX).await.unwrap();
        take(&limiter, 5).await;
        // The first request's answer says 10 remained when it arrived; five left since, and
        // one is the margin.
        limiter.observe(&first, &told(600.0, 10.0, 59_000)).await;
        drop(first);
        let took = take(&limiter, 4).await;
        assert!(took < 0.01, "{took}");
        let took = take(&limiter, 1).await;
        assert!((0.09..0.11).contains(&took), "{took}");
    }

    #[tokio::test(start_paused = true)]
    async fn an_earlier_request_still_unanswered_counts_as_spent_when_reading_headers() {
        let limiter = RateLimiter::new(limits(600.0, Burst::SlowStart));
        let earlier = limiter.acquire(1, MAX).await.unwrap();
        let answered = limiter.acquire(1, MAX).await.unwrap();
        // Ten remained when the second arrived; the first may not have arrived yet, and one
        // is the margin.
        limiter.observe(&answered, &told(600.0, 10.0, 59_000)).await;
        drop(answered);
        let took = take(&limiter, 8).await;
        assert!(took < 0.01, "{took}");
        let took = take(&limiter, 1).await;
        assert!((0.09..0.11).contains(&took), "{took}");
        drop(earlier);
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
