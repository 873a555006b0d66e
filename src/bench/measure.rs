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

/// The most requests a second a provider's limits allow: `min(C / L, RPM / 60, TPM / (60 t))`
/// with `t` the tokens charged per request (prompt plus the most the answer may take).
pub fn ceiling_per_sec(
    concurrency: usize,
    latency: Duration,
    rpm: f64,
    tpm: f64,
    tokens_per_request: f64,
) -> f64 {
    let by_concurrency = if latency.is_zero() {
        f64::INFINITY
    } else {
        concurrency as f64 / latency.as_secs_f64()
    };
    by_concurrency
        .min(rpm / 60.0)
        .min(tpm / (60.0 * tokens_per_request.max(1.0)))
}

/// `T_min = N / ceiling + L`; with a limit drop, the jobs before the drop at the full
/// ceiling and the rest at the lowered one.
pub fn t_min(jobs: usize, ceiling: f64, latency: Duration, drop: Option<(f64, f64)>) -> f64 {
    let n = jobs as f64;
    let l = latency.as_secs_f64();
    if !ceiling.is_finite() {
        return l;
    }
    match drop {
        Some((after, share)) if n > ceiling * after => {
            after + (n - ceiling * after) / (ceiling * share) + l
        }
        _ => n / ceiling + l,
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
        assert_eq!(ceiling_per_sec(10, l, 1e9, 1e12, 1000.0), 100.0);
        assert_eq!(ceiling_per_sec(10, l, 600.0, 1e12, 1000.0), 10.0);
        assert_eq!(ceiling_per_sec(10, l, 1e9, 60_000.0, 1000.0), 1.0);
        assert!(ceiling_per_sec(10, Duration::ZERO, 1e9, 1e12, 1.0) > 1e6);
        assert_eq!(t_min(1000, 100.0, l, None), 10.1);
        // 5 s at 100/s then 500 jobs at 50/s.
        assert_eq!(t_min(1000, 100.0, l, Some((5.0, 0.5))), 15.1);
    }
}
