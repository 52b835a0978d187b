//! When to ask the TURN server again after an allocation failed: a relay
//! that was down when the endpoint started (or that dropped the
//! allocation) comes back without waiting for the hub's next `turn`
//! message, which may be hours away.

use std::time::{Duration, Instant};

/// The first retry's delay; each failure in a row doubles it.
const FIRST: Duration = Duration::from_secs(5);
/// The longest delay between two tries.
const LONGEST: Duration = Duration::from_secs(300);

/// Backoff for allocations: 5 s after the first failure, doubling to at
/// most 5 minutes; an allocation that succeeds starts it over.
#[derive(Debug, Default)]
pub(crate) struct RelayRetry {
    failures: u32,
    at: Option<Instant>,
}

impl RelayRetry {
    /// The allocation failed at `now`.
    pub(crate) fn on_failed(&mut self, now: Instant) {
        let delay = FIRST
            .saturating_mul(1 << self.failures.min(16))
            .min(LONGEST);
        self.failures = self.failures.saturating_add(1);
        self.at = Some(now + delay);
    }

    /// An allocation succeeded.
    pub(crate) fn on_allocated(&mut self) {
        *self = Self::default();
    }

    /// True once, when the retry is due.
    pub(crate) fn due(&mut self, now: Instant) -> bool {
        if self.at.is_some_and(|at| at <= now) {
            self.at = None;
            return true;
        }
        false
    }

    pub(crate) fn next_timeout(&self) -> Option<Instant> {
        self.at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_to_its_longest_and_starts_over_after_a_success() {
        let t0 = brume_tests::origin();
        let mut r = RelayRetry::default();
        let mut delays = Vec::new();
        for _ in 0..9 {
            r.on_failed(t0);
            delays.push(r.next_timeout().unwrap() - t0);
        }
        let secs: Vec<u64> = delays.iter().map(Duration::as_secs).collect();
        assert_eq!(secs, [5, 10, 20, 40, 80, 160, 300, 300, 300]);
        assert!(!r.due(t0 + Duration::from_secs(299)));
        assert!(r.due(t0 + Duration::from_secs(300)));
        assert!(!r.due(t0 + Duration::from_secs(301)), "due once");
        r.on_allocated();
        r.on_failed(t0);
        assert_eq!(r.next_timeout(), Some(t0 + FIRST));
    }
}
