//! Holding the peer's datagrams behind a gap for a moment, while parity may
//! fill it.
//!
//! SCTP reports a missing packet in every SACK, and three reports make the
//! sender retransmit it and halve its congestion window. A datagram rebuilt
//! from parity comes once the rest of its group has arrived, which is too
//! late: the reports have gone. So while the peer sends parity, datagrams
//! after a gap in DTLS record numbers wait (at most [`HOLD`], at most
//! [`MAX_HELD`] of them) and reach str0m in order once the gap is filled, or
//! as they are when the wait is over.

use core::net::SocketAddr;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::fec::record_range;

/// The longest a datagram waits behind a gap: the sender seals a group's
/// parity 10 ms after its first datagram at the latest.
pub(crate) const HOLD: Duration = Duration::from_millis(25);
/// The most datagrams held at once.
pub(crate) const MAX_HELD: usize = 64;

/// A datagram, with the addresses it came by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Datagram {
    pub(crate) source: SocketAddr,
    pub(crate) destination: SocketAddr,
    pub(crate) contents: Vec<u8>,
}

/// What became of an arriving datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Arrival {
    /// Hand it to str0m now, before anything released with it.
    Deliver,
    /// It is held, or among what was released (in order).
    Taken,
}

#[derive(Debug, Default)]
pub(crate) struct Holdback {
    /// The epoch and the record sequence number expected next.
    next: Option<(u16, u64)>,
    /// Held datagrams by first record number, with their last.
    held: BTreeMap<u64, (u64, Datagram)>,
    until: Option<Instant>,
}

impl Holdback {
    /// A datagram arrived; `hold` says whether gaps may be waited on (the
    /// peer sends parity). Datagrams released by it are pushed on `released`.
    pub(crate) fn arrive(
        &mut self,
        now: Instant,
        hold: bool,
        (source, destination): (SocketAddr, SocketAddr),
        contents: &[u8],
        released: &mut Vec<Datagram>,
    ) -> Arrival {
        let datagram = || Datagram {
            source,
            destination,
            contents: contents.to_vec(),
        };
        let Some((epoch, first, last)) = record_range(contents) else {
            return Arrival::Deliver; // not DTLS: nothing to order
        };
        let next = match self.next {
            Some((e, next)) if e == epoch => next,
            _ => {
                // The first datagram, or a new epoch: what is held goes first.
                self.next = Some((epoch, last + 1));
                if self.held.is_empty() {
                    return Arrival::Deliver;
                }
                self.release_all(released);
                self.next = Some((epoch, last + 1));
                released.push(datagram());
                return Arrival::Taken;
            }
        };
        if first <= next {
            // In order (or late, which SCTP sorts out).
            self.next = Some((epoch, next.max(last + 1)));
            self.release_contiguous(released);
            return Arrival::Deliver;
        }
        if !hold && self.held.is_empty() {
            self.next = Some((epoch, last + 1));
            return Arrival::Deliver;
        }
        self.held.insert(first, (last, datagram()));
        if !hold || self.held.len() >= MAX_HELD {
            self.release_all(released);
        } else {
            self.until.get_or_insert(now + HOLD);
        }
        Arrival::Taken
    }

    /// Releases everything held once the wait is over.
    pub(crate) fn release_due(&mut self, now: Instant, released: &mut Vec<Datagram>) {
        if self.until.is_some_and(|at| at <= now) {
            self.release_all(released);
        }
    }

    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.until
    }

    fn release_contiguous(&mut self, released: &mut Vec<Datagram>) {
        while let Some((&first, _)) = self.held.first_key_value() {
            let Some((epoch, next)) = self.next else {
                break;
            };
            if first > next {
                break;
            }
            if let Some((last, d)) = self.held.remove(&first) {
                self.next = Some((epoch, next.max(last + 1)));
                released.push(d);
            }
        }
        if self.held.is_empty() {
            self.until = None;
        }
    }

    /// Gives up on the gaps: everything held goes, in order.
    fn release_all(&mut self, released: &mut Vec<Datagram>) {
        self.until = None;
        for (_, (last, d)) in std::mem::take(&mut self.held) {
            if let Some((_, next)) = &mut self.next {
                *next = (*next).max(last + 1);
            }
            released.push(d);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dtls(epoch: u16, seq: u64) -> Datagram {
        let mut d = vec![23, 0xfe, 0xfd];
        d.extend_from_slice(&epoch.to_be_bytes());
        d.extend_from_slice(&seq.to_be_bytes()[2..]);
        d.extend_from_slice(&[0, 1, 0xaa]);
        Datagram {
            source: SocketAddr::from(([10, 0, 0, 1], 1)),
            destination: SocketAddr::from(([10, 0, 0, 2], 2)),
            contents: d,
        }
    }

    /// Sequence numbers in the order str0m would see them.
    fn run(h: &mut Holdback, now: Instant, hold: bool, seqs: &[u64]) -> Vec<u64> {
        let mut seen = Vec::new();
        for &s in seqs {
            let d = dtls(1, s);
            let mut released = Vec::new();
            let path = (d.source, d.destination);
            if h.arrive(now, hold, path, &d.contents, &mut released) == Arrival::Deliver {
                seen.push(s);
            }
            seen.extend(
                released
                    .iter()
                    .map(|d| record_range(&d.contents).unwrap().1),
            );
        }
        seen
    }

    #[test]
    fn a_filled_gap_delivers_in_order() {
        let now = brume_tests::origin();
        let mut h = Holdback::default();
        assert_eq!(
            run(&mut h, now, true, &[1, 2, 4, 5, 3, 6]),
            [1, 2, 3, 4, 5, 6]
        );
        assert_eq!(h.deadline(), None);
    }

    #[test]
    fn a_gap_left_open_is_given_up_when_the_wait_is_over() {
        let now = brume_tests::origin();
        let mut h = Holdback::default();
        assert_eq!(run(&mut h, now, true, &[1, 3, 4]), [1]);
        let due = h.deadline().expect("waiting");
        assert_eq!(due, now + HOLD);
        let mut released = Vec::new();
        h.release_due(due - Duration::from_millis(1), &mut released);
        assert!(released.is_empty());
        h.release_due(due, &mut released);
        assert_eq!(released.len(), 2);
        // The gap stays behind: 5 follows 4 at once, and 2 is late, not held.
        assert_eq!(run(&mut h, due, true, &[5, 2]), [5, 2]);
    }

    #[test]
    fn without_parity_nothing_waits() {
        let now = brume_tests::origin();
        let mut h = Holdback::default();
        assert_eq!(run(&mut h, now, false, &[1, 3, 2, 4]), [1, 3, 2, 4]);
        assert_eq!(h.deadline(), None);
    }

    #[test]
    fn holding_is_bounded() {
        let now = brume_tests::origin();
        let mut h = Holdback::default();
        let seqs: Vec<u64> = std::iter::once(0).chain(2..=MAX_HELD as u64 + 1).collect();
        let seen = run(&mut h, now, true, &seqs);
        assert_eq!(seen, seqs, "the 64th held releases them all, in order");
    }

    #[test]
    fn a_new_epoch_releases_what_is_held_first() {
        let now = brume_tests::origin();
        let mut h = Holdback::default();
        run(&mut h, now, true, &[1, 3]);
        let mut released = Vec::new();
        let fresh = dtls(2, 0);
        let path = (fresh.source, fresh.destination);
        let arrival = h.arrive(now, true, path, &fresh.contents, &mut released);
        assert_eq!(arrival, Arrival::Taken);
        assert_eq!(released, [dtls(1, 3), fresh]);
    }
}
