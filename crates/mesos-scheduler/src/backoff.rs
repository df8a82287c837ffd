//! Capped, jittered exponential backoff between reconnection attempts.
//!
//! The delay for attempt `n` (0-based) is `min(max, initial × 2ⁿ)`, then shortened by a random
//! fraction of up to `jitter` of itself, so that many frameworks dropped by one master failover
//! do not all come back in the same instant. The random sample is an argument, which keeps
//! [`BackoffConfig::delay`] pure and testable.

use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

/// Reconnection delay policy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BackoffConfig {
    /// Delay before the first reconnection attempt (before jitter).
    pub initial: Duration,
    /// Upper bound for any delay.
    pub max: Duration,
    /// Fraction (0..=1) of a delay that jitter may remove: the delay lies in
    /// `[(1 - jitter) × d, d]`.
    pub jitter: f64,
}

impl Default for BackoffConfig {
    /// 500 ms doubling up to 15 s (the cap Mesos' docs suggest), 50 % jitter.
    fn default() -> Self {
        BackoffConfig {
            initial: Duration::from_millis(500),
            max: Duration::from_secs(15),
            jitter: 0.5,
        }
    }
}

impl BackoffConfig {
    /// The delay before attempt `attempt` given a uniform random `sample` in `[0, 1)`.
    pub fn delay(&self, attempt: u32, sample: f64) -> Duration {
        let factor = 2u32.checked_pow(attempt.min(31)).unwrap_or(u32::MAX);
        let base = self.initial.saturating_mul(factor).min(self.max);
        let sample = if sample.is_finite() {
            sample.clamp(0.0, 1.0)
        } else {
            0.0
        };
        let keep = 1.0 - self.jitter.clamp(0.0, 1.0) * sample;
        base.mul_f64(keep).min(self.max)
    }

    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.initial.is_zero() {
            return Err("backoff.initial must be positive".into());
        }
        if self.max < self.initial {
            return Err("backoff.max must be at least backoff.initial".into());
        }
        if !(0.0..=1.0).contains(&self.jitter) {
            return Err("backoff.jitter must lie in 0..=1".into());
        }
        Ok(())
    }
}

/// A uniform sample in `[0, 1)` for jitter.
///
/// Jitter needs no cryptographic quality, only different values per process and call; std's
/// randomly keyed SipHash gives that without another dependency.
pub(crate) fn jitter_sample() -> f64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0x6a09_e667_f3bc_c908);
    let high = u32::try_from(h.finish() >> 32).unwrap_or(0);
    f64::from(high) / 4_294_967_296.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> BackoffConfig {
        BackoffConfig {
            initial: Duration::from_millis(500),
            max: Duration::from_secs(15),
            jitter: 0.5,
        }
    }

    #[test]
    fn delay_doubles_per_attempt_without_jitter() {
        let c = cfg();
        let got: Vec<_> = (0..5).map(|a| c.delay(a, 0.0)).collect();
        assert_eq!(
            got,
            [500, 1000, 2000, 4000, 8000].map(Duration::from_millis)
        );
    }

    #[test]
    fn delay_is_capped_even_for_huge_attempts() {
        let c = cfg();
        assert_eq!(c.delay(6, 0.0), Duration::from_secs(15));
        assert_eq!(c.delay(u32::MAX, 0.0), Duration::from_secs(15));
        for s in [0.0, 0.3, 0.999] {
            assert!(c.delay(1000, s) <= Duration::from_secs(15));
        }
    }

    #[test]
    fn jitter_shortens_by_at_most_the_configured_fraction() {
        let c = cfg();
        assert_eq!(
            c.delay(10, 0.999_999),
            Duration::from_secs(15).mul_f64(0.500_000_5)
        );
        for i in 0..100 {
            let s = f64::from(i) / 100.0;
            let d = c.delay(10, s);
            assert!(d >= Duration::from_millis(7500) && d <= Duration::from_secs(15));
        }
    }

    #[test]
    fn jitter_samples_vary_and_stay_in_unit_interval() {
        let samples: Vec<f64> = (0..64).map(|_| jitter_sample()).collect();
        assert!(samples.iter().all(|s| (0.0..1.0).contains(s)));
        let first = samples[0];
        assert!(samples.iter().any(|s| *s != first));
    }

    #[test]
    fn validate_rejects_bad_values() {
        let mut c = cfg();
        c.jitter = 1.5;
        assert!(c.validate().is_err());
        let mut c = cfg();
        c.max = Duration::from_millis(1);
        assert!(c.validate().is_err());
    }
}
