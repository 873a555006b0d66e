//! A process's CPU time and peak memory, read from /proc (Linux), and the analytic minimum
//! wall time a run can take against a provider's limits.

use std::time::Duration;

/// Kernel clock ticks per second for /proc's CPU times: 100 on every Linux `narrator` targets
/// (USER_HZ is fixed by the kernel's ABI, whatever the kernel's own tick rate).
const TICKS_PER_SEC: f64 = 100.0;

/// User plus system CPU seconds of a process (`None`: this one), to 10 ms.
pub fn cpu_secs(pid: Option<u32>) -> Option<f64> {
    let path = pid.map_or_else(
        || "/proc/self/stat".to_string(),
        |p| format!("/proc/{p}/stat"),
    );
    let stat = std::fs::read_to_string(path).ok()?;
    // The command name may hold spaces and brackets: fields are counted after its last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name and state.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / TICKS_PER_SEC)
}

/// This process's peak resident memory in KB (VmHWM).
pub fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// How fast a provider lets requests through: `by_concurrency` a second (C / L) and
/// `by_budget` a second under its limits (`min(RPM / 60, TPM / (60 t))`, with `t` the tokens
/// charged per request: prompt plus the most the answer may take), with `stored` requests'
/// worth banked in its bucket, which starts full.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Supply {
    pub by_concurrency: f64,
    pub by_budget: f64,
    pub stored: f64,
}

impl Supply {
    pub fn new(
        concurrency: usize,
        latency: Duration,
        (rpm, tpm, bucket_secs): (f64, f64, f64),
        tokens_per_request: f64,
    ) -> Supply {
        let by_concurrency = if latency.is_zero() {
            f64::INFINITY
        } else {
            concurrency as f64 / latency.as_secs_f64()
        };
        let by_budget = (rpm / 60.0).min(tpm / (60.0 * tokens_per_request.max(1.0)));
        Supply {
            by_concurrency,
            by_budget,
            stored: by_budget * bucket_secs,
        }
    }

    /// The steady rate: what a run long enough to spend the stored bucket keeps to.
    pub fn ceiling(&self) -> f64 {
        self.by_concurrency.min(self.by_budget)
    }
}

/// The least wall time for `jobs` requests: by time `s` at most `min(C/L * s, stored +
/// by_budget * s)` can have left (the stored bucket spent as fast as the requests in flight
/// allow, then the limits' rate), plus one latency for the last answer. With a limit drop
/// (one-second buckets), the jobs before the drop at the full ceiling and the rest at the
/// lowered one.
pub fn t_min(jobs: usize, supply: Supply, latency: Duration, drop: Option<(f64, f64)>) -> f64 {
    let n = jobs as f64;
    let l = latency.as_secs_f64();
    let ceiling = supply.ceiling();
    if !ceiling.is_finite() {
        return l;
    }
    if let Some((after, share)) = drop {
        return if n > ceiling * after {
            after + (n - ceiling * after) / (ceiling * share) + l
        } else {
            n / ceiling + l
        };
    }
    let (c, r) = (supply.by_concurrency, supply.by_budget);
    if c <= r {
        return n / c + l;
    }
    // Until `crossing` the requests in flight bind; after it, the emptied bucket.
    let crossing = supply.stored / (c - r);
    if n <= c * crossing {
        n / c + l
    } else {
        crossing + (n - c * crossing) / r + l
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_cpu_time_and_memory() {
        let spin = std::time::Instant::now();
        let mut x = 0u64;
        while spin.elapsed() < Duration::from_millis(60) {
            x = x.wrapping_add(std::hint::black_box(1));
        }
        assert!(x > 0);
        assert!(cpu_secs(None).expect("/proc/self/stat") > 0.0);
        assert!(peak_rss_kb().expect("/proc/self/status") > 100);
    }

    #[test]
    fn the_ceiling_is_the_tightest_limit() {
        let l = Duration::from_millis(100);
        let ceiling = |rpm, tpm| Supply::new(10, l, (rpm, tpm, 60.0), 1000.0).ceiling();
        assert_eq!(ceiling(1e9, 1e12), 100.0);
        assert_eq!(ceiling(600.0, 1e12), 10.0);
        assert_eq!(ceiling(1e9, 60_000.0), 1.0);
        assert!(Supply::new(10, Duration::ZERO, (1e12, 1e15, 60.0), 1.0).ceiling() > 1e6);
        let flight_bound = Supply::new(10, l, (1e9, 1e12, 1.0), 1.0);
        assert_eq!(t_min(1000, flight_bound, l, None), 10.1);
        // 5 s at 100/s then 500 jobs at 50/s.
        assert_eq!(t_min(1000, flight_bound, l, Some((5.0, 0.5))), 15.1);
    }

    #[test]
    fn a_full_bucket_is_spent_as_fast_as_the_requests_in_flight_allow() {
        let l = Duration::from_millis(500);
        // 128 a second in flight, 10 a second by the limits, a minute's 600 banked: the
        // bucket empties at 600 / 118 s, 650 requests gone; 350 more at 10 a second.
        let minute = Supply::new(64, l, (600.0, 1e12, 60.0), 1.0);
        let t = t_min(1000, minute, l, None);
        assert!(
            (t - (600.0 / 118.0 + 350.0 / 10.0 + 0.5)).abs() < 0.2,
            "{t}"
        );
        // A bucket holding every job: the requests in flight alone bind.
        assert!((t_min(500, minute, l, None) - (500.0 / 128.0 + 0.5)).abs() < 1e-9);
        // A one-second bucket saves one second on steady pacing.
        let second = Supply::new(64, l, (600.0, 1e12, 1.0), 1.0);
        assert!((t_min(1000, second, l, None) - (99.0 + 0.5)).abs() < 1e-9);
    }
}
