//! Rate limits: requests and tokens per minute as token buckets that start with a small burst
//! (about one second's worth, providers often enforce limits per second), and a bound on
//! requests in flight.

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

    fn refill(&mut self, elapsed: Duration) {
        self.level = (self.level + elapsed.as_secs_f64() * self.per_second).min(self.capacity);
    }

    /// Seconds until `cost` can be taken. A cost above the capacity waits for a full bucket
    /// and then runs the level negative, so the long-run rate still holds.
    fn wait_for(&self, cost: f64) -> f64 {
        let need = cost.min(self.capacity);
        if self.level >= need {
            0.0
        } else {
            (need - self.level) / self.per_second
        }
    }
}

struct Buckets {
    requests: Bucket,
    tokens: Bucket,
    last: Instant,
}

/// Shared by every worker task of a process.
#[derive(Clone)]
pub struct RateLimiter {
    buckets: Arc<Mutex<Buckets>>,
    in_flight: Arc<Semaphore>,
}

impl RateLimiter {
    pub fn new(limits: Limits) -> RateLimiter {
        RateLimiter {
            buckets: Arc::new(Mutex::new(Buckets {
                requests: Bucket::per_minute(limits.requests_per_minute),
                tokens: Bucket::per_minute(limits.tokens_per_minute),
                last: Instant::now(),
            })),
            in_flight: Arc::new(Semaphore::new(limits.concurrency.max(1))),
        }
    }

    /// Waits for a slot in flight and for budget for one request costing `tokens`; hold the
    /// permit until the request finishes.
    pub async fn acquire(&self, tokens: u32) -> OwnedSemaphorePermit {
        let permit = Arc::clone(&self.in_flight)
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        let cost = f64::from(tokens);
        loop {
            let wait = {
                let mut b = self.buckets.lock().await;
                let now = Instant::now();
                let elapsed = now - b.last;
                b.last = now;
                b.requests.refill(elapsed);
                b.tokens.refill(elapsed);
                let wait = b.requests.wait_for(1.0).max(b.tokens.wait_for(cost));
                if wait == 0.0 {
                    b.requests.level -= 1.0;
                    b.tokens.level -= cost;
                    return permit;
                }
                wait
            };
            tokio::time::sleep(Duration::from_secs_f64(wait.min(60.0))).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn requests_per_minute_are_spread_not_burst() {
        let limiter = RateLimiter::new(Limits {
            requests_per_minute: 120.0,
            tokens_per_minute: 1e9,
            concurrency: 100,
        });
        let start = Instant::now();
        for _ in 0..10 {
            drop(limiter.acquire(1).await);
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
            drop(limiter.acquire(500).await);
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
        let a = limiter.acquire(1).await;
        let _b = limiter.acquire(1).await;
        let third = tokio::time::timeout(Duration::from_millis(50), limiter.acquire(1)).await;
        assert!(third.is_err(), "a third request must wait");
        drop(a);
        let third = tokio::time::timeout(Duration::from_millis(500), limiter.acquire(1)).await;
        assert!(third.is_ok());
    }
}
