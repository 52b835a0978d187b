//! When to try the hub again: capped exponential backoff with jitter.
//!
//! The first retry comes after about a second, each failure doubles the
//! wait up to 30 s, and every wait is drawn from ±20 % of its nominal value
//! so that the clients of a hub that restarts do not all knock at once.

use std::time::Duration;

/// The nominal wait after the first failure.
pub const FIRST: Duration = Duration::from_secs(1);
/// No wait is longer than this.
pub const CAP: Duration = Duration::from_secs(30);

/// Failures so far, and the draws for jitter.
#[derive(Debug)]
pub struct Backoff {
    failures: u32,
    rng: fastrand::Rng,
}

impl Backoff {
    /// A backoff whose jitter is drawn from `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            failures: 0,
            rng: fastrand::Rng::with_seed(seed),
        }
    }

    /// Counts a failure; how long to wait before the next try.
    pub fn next_wait(&mut self) -> Duration {
        let nominal = FIRST.saturating_mul(1 << self.failures.min(16)).min(CAP);
        self.failures = self.failures.saturating_add(1);
        let jitter = 0.8 + 0.4 * self.rng.f64();
        nominal.mul_f64(jitter).min(CAP)
    }

    /// The hub answered: the next failure waits about a second again.
    pub fn reset(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_from_about_a_second_up_to_the_cap() {
        let mut b = Backoff::new(7);
        let waits: Vec<Duration> = (0..10).map(|_| b.next_wait()).collect();
        for (i, w) in waits.iter().enumerate() {
            let nominal = FIRST.saturating_mul(1 << i).min(CAP);
            assert!(*w >= nominal.mul_f64(0.8), "{i}: {w:?}");
            assert!(*w <= nominal.mul_f64(1.2).min(CAP), "{i}: {w:?}");
        }
        assert!(waits[9] >= CAP.mul_f64(0.8));
    }

    #[test]
    fn a_reset_starts_again_from_about_a_second() {
        let mut b = Backoff::new(1);
        for _ in 0..6 {
            b.next_wait();
        }
        b.reset();
        assert!(b.next_wait() <= FIRST.mul_f64(1.2));
    }

    #[test]
    fn clients_with_other_seeds_spread_out() {
        let first: Vec<Duration> = (0..8).map(|s| Backoff::new(s).next_wait()).collect();
        let distinct: std::collections::BTreeSet<_> = first.iter().collect();
        assert!(distinct.len() > 4, "{first:?}");
    }

    #[test]
    fn many_failures_neither_overflow_nor_pass_the_cap() {
        let mut b = Backoff::new(3);
        for _ in 0..100 {
            assert!(b.next_wait() <= CAP);
        }
    }
}
