//! A token bucket: `burst` frames at once, refilled at `per_sec` frames a second.

use std::time::{Duration, Instant};

/// One session's rate limit. Tokens are kept in thousandths so slow refill
/// rates lose nothing to rounding.
#[derive(Debug, Clone)]
pub(crate) struct TokenBucket {
    milli_tokens: u64,
    last: Instant,
}

impl TokenBucket {
    pub(crate) fn full(burst: u32, now: Instant) -> Self {
        Self {
            milli_tokens: u64::from(burst) * 1000,
            last: now,
        }
    }

    /// Takes one token if there is one. Time never runs backwards here: an
    /// older `now` than the last one refills nothing.
    pub(crate) fn take(&mut self, now: Instant, burst: u32, per_sec: u32) -> bool {
        let elapsed = now.saturating_duration_since(self.last);
        self.last = self.last.max(now);
        let refill = elapsed
            .min(Duration::from_secs(3600))
            .as_millis()
            .saturating_mul(u128::from(per_sec));
        let cap = u64::from(burst) * 1000;
        self.milli_tokens = (u128::from(self.milli_tokens) + refill).min(u128::from(cap)) as u64;
        if self.milli_tokens >= 1000 {
            self.milli_tokens -= 1000;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use brume_tests::origin as t0;

    #[test]
    fn a_burst_then_the_refill_rate() {
        let start = t0();
        let mut b = TokenBucket::full(3, start);
        assert!((0..3).all(|_| b.take(start, 3, 10)));
        assert!(!b.take(start, 3, 10));
        // 10 per second: one token every 100 ms.
        assert!(!b.take(start + Duration::from_millis(99), 3, 10));
        assert!(b.take(start + Duration::from_millis(100), 3, 10));
        assert!(!b.take(start + Duration::from_millis(100), 3, 10));
    }

    #[test]
    fn refill_stops_at_the_burst() {
        let start = t0();
        let mut b = TokenBucket::full(2, start);
        let later = start + Duration::from_secs(100);
        assert!(b.take(later, 2, 10) && b.take(later, 2, 10));
        assert!(!b.take(later, 2, 10));
    }
}
