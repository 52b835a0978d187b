//! Slows down repeated failed logins from one address: a wrong password on
//! `/login`, or a refused token in `hello`/`refresh` (an expired one is not
//! a failure: clients refresh it).
//!
//! Each address (IPv6 by its /64, which one host usually holds whole) has a
//! failure count. While it is above zero, that address's next login waits
//! until `BASE_DELAY × 2^(count−1)` (at most [`MAX_DELAY`]) after its last
//! failure. The count drops by one for every [`DECAY`] without a failure, so
//! a typo costs a quarter of a second and is forgotten within a minute.
//!
//! Owns: the counts. Never: sockets or the clock (time is an argument).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// The wait after the first failure; it doubles with each further one.
pub const BASE_DELAY: Duration = Duration::from_millis(250);
/// The longest wait (reached at the 7th failure in a row).
pub const MAX_DELAY: Duration = Duration::from_secs(16);
/// Time without a failure that takes one off an address's count.
pub const DECAY: Duration = Duration::from_secs(30);
/// Addresses tracked at most; beyond it, the ones idle longest go first.
const MAX_ADDRESSES: usize = 65_536;

#[derive(Debug, Clone, Copy)]
struct Record {
    failures: u32,
    last: Instant,
}

impl Record {
    /// The count at `now`, after decay.
    fn failures(&self, now: Instant) -> u32 {
        let idle = now.saturating_duration_since(self.last);
        let forgiven = idle.as_secs() / DECAY.as_secs();
        self.failures
            .saturating_sub(u32::try_from(forgiven).unwrap_or(u32::MAX))
    }
}

/// Failure counts per address.
#[derive(Debug, Default)]
pub struct LoginThrottle {
    records: BTreeMap<IpAddr, Record>,
}

/// The key an address is counted under: itself, or its /64 for IPv6.
fn key(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V4(_) => addr,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
        },
    }
}

impl LoginThrottle {
    /// Counts a failed login from `addr` at `now`; returns the new count.
    pub fn failed(&mut self, now: Instant, addr: IpAddr) -> u32 {
        let key = key(addr);
        let failures = self
            .records
            .get(&key)
            .map_or(0, |r| r.failures(now))
            .saturating_add(1);
        if !self.records.contains_key(&key) && self.records.len() >= MAX_ADDRESSES {
            self.prune(now);
            if self.records.len() >= MAX_ADDRESSES
                && let Some(oldest) = self.records.iter().min_by_key(|(_, r)| r.last)
            {
                let oldest = *oldest.0;
                self.records.remove(&oldest);
            }
        }
        self.records.insert(
            key,
            Record {
                failures,
                last: now,
            },
        );
        failures
    }

    /// When `addr` may next try to log in, if that is after `now`.
    pub fn wait_until(&self, now: Instant, addr: IpAddr) -> Option<Instant> {
        let record = self.records.get(&key(addr))?;
        let failures = record.failures(now);
        if failures == 0 {
            return None;
        }
        let doublings = (failures - 1).min(16);
        let delay = BASE_DELAY.saturating_mul(1 << doublings).min(MAX_DELAY);
        let until = record.last + delay;
        (until > now).then_some(until)
    }

    /// Forgets addresses whose count has decayed to zero.
    pub fn prune(&mut self, now: Instant) {
        self.records.retain(|_, r| r.failures(now) > 0);
    }

    /// Addresses tracked.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// True if no address is tracked.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn each_failure_doubles_the_wait_up_to_the_cap() {
        let t0 = Instant::now();
        let mut t = LoginThrottle::default();
        let a = ip("192.0.2.1");
        assert_eq!(t.wait_until(t0, a), None);
        let mut waits = Vec::new();
        for _ in 0..9 {
            t.failed(t0, a);
            waits.push(t.wait_until(t0, a).unwrap() - t0);
        }
        let ms = |n| Duration::from_millis(n);
        assert_eq!(
            waits,
            [
                ms(250),
                ms(500),
                ms(1000),
                ms(2000),
                ms(4000),
                ms(8000),
                ms(16_000),
                ms(16_000),
                ms(16_000)
            ]
        );
        // Over once the wait has passed; other addresses are untouched.
        assert_eq!(t.wait_until(t0 + ms(16_000), a), None);
        assert_eq!(t.wait_until(t0, ip("192.0.2.2")), None);
    }

    #[test]
    fn counts_decay_and_are_pruned() {
        let t0 = Instant::now();
        let mut t = LoginThrottle::default();
        let a = ip("192.0.2.1");
        for _ in 0..3 {
            t.failed(t0, a);
        }
        // One DECAY later the count is 2: the next failure makes it 3 again.
        assert_eq!(t.failed(t0 + DECAY, a), 3);
        t.prune(t0 + DECAY * 2);
        assert_eq!(t.len(), 1);
        t.prune(t0 + DECAY * 4);
        assert!(t.is_empty());
    }

    #[test]
    fn an_ipv6_host_is_counted_by_its_64() {
        let t0 = Instant::now();
        let mut t = LoginThrottle::default();
        t.failed(t0, ip("2001:db8:1:2::1"));
        assert!(t.wait_until(t0, ip("2001:db8:1:2:ffff::9")).is_some());
        assert!(t.wait_until(t0, ip("2001:db8:1:3::1")).is_none());
        t.failed(t0, ip("::ffff:192.0.2.7"));
        assert!(t.wait_until(t0, ip("192.0.2.7")).is_some());
    }

    #[test]
    fn the_table_is_bounded() {
        let t0 = Instant::now();
        let mut t = LoginThrottle::default();
        let n = MAX_ADDRESSES as u32 + 10;
        for i in 0..n {
            t.failed(t0, IpAddr::from(i.to_be_bytes()));
        }
        assert_eq!(t.len(), MAX_ADDRESSES);
        // The newest is kept.
        assert!(
            t.wait_until(t0, IpAddr::from((n - 1).to_be_bytes()))
                .is_some()
        );
        // Decayed ones make room before anyone counting is dropped.
        let later = t0 + DECAY;
        t.failed(later, IpAddr::from(n.to_be_bytes()));
        assert_eq!(t.len(), 1);
    }
}
