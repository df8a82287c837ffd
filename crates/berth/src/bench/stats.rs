//! Small statistics over samples, and the process's resident memory.

use std::time::Duration;

/// Summary of a set of durations.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// Number of samples.
    pub n: usize,
    /// Median.
    pub median: Duration,
    /// 95th percentile (nearest rank).
    pub p95: Duration,
    /// Smallest sample.
    pub min: Duration,
    /// Largest sample.
    pub max: Duration,
}

impl Summary {
    /// Summarises `samples`; `None` when there are none.
    pub fn of(samples: &[Duration]) -> Option<Summary> {
        if samples.is_empty() {
            return None;
        }
        let mut sorted = samples.to_vec();
        sorted.sort();
        Some(Summary {
            n: sorted.len(),
            median: median_sorted(&sorted),
            p95: percentile_sorted(&sorted, 95.0),
            min: sorted[0],
            max: sorted[sorted.len() - 1],
        })
    }
}

/// Median of sorted samples (mean of the two middle ones for an even count).
fn median_sorted(sorted: &[Duration]) -> Duration {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2
    }
}

/// Nearest-rank percentile of sorted, non-empty samples.
fn percentile_sorted(sorted: &[Duration], p: f64) -> Duration {
    #[allow(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss
    )] // sample counts are small and the rank is clamped
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Milliseconds of a duration, as a float.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// CPU time (user + system) the whole process has used, from `/proc/self/stat` (in clock
/// ticks of 1/100 s, the value on every Linux platform berth builds for); `None` elsewhere.
///
/// Never inlined: the control-plane benchmark reads it exactly at the edges of its timed
/// window, so `valgrind --tool=callgrind --dump-before=berth::bench::stats::cpu_time` writes
/// the window's instruction counts to a file of their own (the second dump).
#[inline(never)]
pub fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split_whitespace();
    // utime and stime are fields 14 and 15; `rest` starts at field 3.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 10))
}

/// The process's resident set size in KiB (`VmRSS` of `/proc/self/status`); `None` where
/// there is no such file.
pub fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms_list(values: &[u64]) -> Vec<Duration> {
        values.iter().map(|v| Duration::from_millis(*v)).collect()
    }

    #[test]
    fn cpu_time_grows_with_work() {
        let before = cpu_time().expect("/proc/self/stat");
        let start = std::time::Instant::now();
        let mut x = 0u64;
        while start.elapsed() < Duration::from_millis(300) {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
        }
        let after = cpu_time().expect("/proc/self/stat");
        assert!(
            after >= before + Duration::from_millis(100),
            "{before:?} -> {after:?}"
        );
    }

    #[test]
    fn summary_reads_median_and_p95() {
        let s = Summary::of(&ms_list(&[5, 1, 3, 2, 4])).unwrap();
        assert_eq!(s.median, Duration::from_millis(3));
        assert_eq!(s.p95, Duration::from_millis(5));
        assert_eq!(s.min, Duration::from_millis(1));
        let even = Summary::of(&ms_list(&[1, 2, 3, 4])).unwrap();
        assert_eq!(even.median, Duration::from_micros(2500));
        let many: Vec<u64> = (1..=100).collect();
        assert_eq!(
            Summary::of(&ms_list(&many)).unwrap().p95,
            Duration::from_millis(95)
        );
        assert!(Summary::of(&[]).is_none());
    }

    #[test]
    fn rss_is_read_on_linux() {
        assert!(rss_kib().is_some_and(|kib| kib > 0));
    }
}
