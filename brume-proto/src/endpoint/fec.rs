//! Forward error correction for the datagrams between two Brume endpoints.
//!
//! SCTP inside str0m halves its congestion window on every loss, as TCP Reno
//! does, so on a path that drops packets at random its throughput falls as
//! 1/√loss whatever the link can carry: 0.5 % loss over 50 ms gives about
//! 3 Mbit/s. Repairing most losses below SCTP, before it sees them, lifts
//! that ceiling. Each side measures the loss of what it receives (from the
//! gaps in DTLS record numbers) and reports it; the other side then follows
//! every group of its DTLS datagrams with one parity datagram, the XOR of the
//! group, from which the receiver rebuilds any single datagram the group
//! lost. With no loss reported, nothing is added, not even a copy.
//!
//! Both datagrams start with a byte outside RFC 7983's ranges (STUN, DTLS,
//! TURN channels, RTP), so a stack that is not Brume drops them:
//!
//! ```text
//! parity: 0x60 | n u8 | n × (id u64 BE | len u16 BE) | XOR of the n datagrams, each padded with zeros to the longest
//! report: 0x61 | records received u32 BE | records lost u32 BE
//! ```
//!
//! A datagram's id is its first DTLS record's epoch and sequence number
//! (header bytes 3..11), unique within a connection.

use core::net::SocketAddr;
use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use super::event::Transmit;
use super::holdback::{Arrival, Datagram, Holdback};

/// First byte of a parity datagram.
pub const PARITY: u8 = 0x60;
/// First byte of a loss report.
pub const REPORT: u8 = 0x61;

/// DTLS record header: type, version, epoch, sequence number, length.
const RECORD_HEADER: usize = 13;
/// The longest datagram protected, stored or rebuilt.
const MAX_DATAGRAM: usize = 2048;
/// The most datagrams one parity covers.
const MAX_GROUP: usize = 32;
/// A receiver reports after this many DTLS records.
const REPORT_EVERY: u32 = 256;
/// Datagrams a receiver keeps to rebuild from.
const KEEP: usize = 128;
/// After a parity, a receiver keeps datagrams for this many more.
const KEEP_AFTER_PARITY: u32 = 4096;
/// A partial group waits at most this long for its parity (a lost tail
/// would otherwise cost SCTP a retransmission timeout of 1 s or more).
const FLUSH_AFTER: Duration = Duration::from_millis(10);

/// The DTLS datagrams that are protected and measured.
fn is_dtls(datagram: &[u8]) -> bool {
    datagram.len() >= RECORD_HEADER && (20..=63).contains(&datagram[0])
}

/// Epoch and sequence number of the record at `at`, and the next record.
fn record(datagram: &[u8], at: usize) -> Option<(u16, u64, usize)> {
    let h = datagram.get(at..at + RECORD_HEADER)?;
    let epoch = u16::from_be_bytes([h[3], h[4]]);
    let seq = u64::from_be_bytes([0, 0, h[5], h[6], h[7], h[8], h[9], h[10]]);
    let len = usize::from(u16::from_be_bytes([h[11], h[12]]));
    Some((epoch, seq, at + RECORD_HEADER + len))
}

/// The epoch and the first and last record numbers of a DTLS datagram.
pub(super) fn record_range(datagram: &[u8]) -> Option<(u16, u64, u64)> {
    if !is_dtls(datagram) {
        return None;
    }
    let (epoch, first, mut at) = record(datagram, 0)?;
    let mut last = first;
    // Records of one datagram share an epoch (str0m never mixes them).
    while let Some((_, seq, next_at)) = record(datagram, at) {
        last = seq;
        at = next_at;
    }
    Some((epoch, first, last))
}

/// The id of a DTLS datagram: its first record's epoch and sequence number.
fn datagram_id(datagram: &[u8]) -> Option<u64> {
    if !is_dtls(datagram) {
        return None;
    }
    let (epoch, seq, _) = record(datagram, 0)?;
    Some(u64::from(epoch) << 48 | seq)
}

/// Counts of what the sending side did, for tests and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FecStats {
    /// Parity datagrams sent.
    pub parity_sent: u64,
    /// Datagrams rebuilt from parity.
    pub recovered: u64,
    /// Loss reports sent.
    pub reports_sent: u64,
    /// The group size in use now (0: off).
    pub group: usize,
}

/// Both directions of one peer's datagram protection.
#[derive(Debug, Default)]
pub(crate) struct Fec {
    /// Off: no reports, no parity (what the peer sends is still used).
    enabled: bool,
    tx: Encoder,
    rx: Decoder,
    holdback: Holdback,
    meter: LossMeter,
    stats: FecStats,
}

impl Fec {
    pub(crate) fn new(enabled: bool) -> Self {
        Self {
            enabled,
            ..Self::default()
        }
    }

    pub(crate) fn stats(&self) -> FecStats {
        FecStats {
            group: self.tx.group,
            ..self.stats
        }
    }

    /// A datagram is about to be sent: the parity that completes its group, if any.
    pub(crate) fn on_send(&mut self, now: Instant, t: &Transmit) -> Option<Transmit> {
        let parity = self.tx.add(now, t)?;
        self.stats.parity_sent += 1;
        Some(parity)
    }

    /// The parity of a partial group whose time is up.
    pub(crate) fn on_timeout(&mut self, now: Instant) -> Option<Transmit> {
        if self.tx.flush_at.is_none_or(|at| at > now) {
            return None;
        }
        let parity = self.tx.seal()?;
        self.stats.parity_sent += 1;
        Some(parity)
    }

    pub(crate) fn next_timeout(&self) -> Option<Instant> {
        [self.tx.flush_at, self.holdback.deadline()]
            .into_iter()
            .flatten()
            .min()
    }

    /// Datagrams held behind a gap whose wait is over.
    pub(crate) fn release_due(&mut self, now: Instant, released: &mut Vec<Datagram>) {
        self.holdback.release_due(now, released);
    }

    /// A datagram arrived from the peer (or was rebuilt, which is kept but
    /// not measured: the report is of the path's loss). Says whether to hand
    /// it to str0m now (followed by what it `released`), and returns a loss
    /// report to send back when one is due.
    pub(crate) fn on_receive(
        &mut self,
        now: Instant,
        path: (SocketAddr, SocketAddr),
        datagram: &[u8],
        rebuilt: bool,
        released: &mut Vec<Datagram>,
    ) -> (Arrival, Option<Transmit>) {
        self.rx.keep(datagram);
        let hold = self.rx.keeping > 0;
        let arrival = self.holdback.arrive(now, hold, path, datagram, released);
        if rebuilt || !self.enabled {
            return (arrival, None);
        }
        (arrival, self.report(path, datagram))
    }

    fn report(
        &mut self,
        (source, destination): (SocketAddr, SocketAddr),
        datagram: &[u8],
    ) -> Option<Transmit> {
        let (received, lost) = self.meter.observe(datagram)?;
        self.stats.reports_sent += 1;
        let mut contents = Vec::with_capacity(9);
        contents.push(REPORT);
        contents.extend_from_slice(&received.to_be_bytes());
        contents.extend_from_slice(&lost.to_be_bytes());
        Some(Transmit {
            source: destination,
            destination: source,
            contents,
        })
    }

    /// A parity or report from the peer; a rebuilt datagram, if any.
    pub(crate) fn on_fec_datagram(&mut self, datagram: &[u8]) -> Option<Vec<u8>> {
        match datagram.first() {
            Some(&PARITY) => {
                let rebuilt = self.rx.rebuild(datagram)?;
                self.stats.recovered += 1;
                Some(rebuilt)
            }
            Some(&REPORT) if self.enabled && datagram.len() == 9 => {
                let word = |i: usize| {
                    u32::from_be_bytes([
                        datagram[i],
                        datagram[i + 1],
                        datagram[i + 2],
                        datagram[i + 3],
                    ])
                };
                self.tx.on_report(word(1), word(5));
                None
            }
            _ => None,
        }
    }
}

/// The sending side: groups of DTLS datagrams and their XOR.
#[derive(Debug, Default)]
struct Encoder {
    /// Datagrams per parity; 0 while the peer reports no loss.
    group: usize,
    /// Smoothed loss the peer reports, in parts per million.
    loss_ppm: Option<u64>,
    /// The addresses of the group being built: a parity follows its group.
    path: Option<(SocketAddr, SocketAddr)>,
    members: Vec<(u64, u16)>,
    xor: Vec<u8>,
    flush_at: Option<Instant>,
}

impl Encoder {
    fn on_report(&mut self, received: u32, lost: u32) {
        let total = u64::from(received) + u64::from(lost);
        if total == 0 {
            return;
        }
        let ppm = u64::from(lost) * 1_000_000 / total;
        // One window holds about one loss at 0.5 %: smooth over eight.
        let smooth = self.loss_ppm.map_or(ppm, |s| (s * 7 + ppm) / 8);
        self.loss_ppm = Some(smooth);
        // Groups sized so that two losses in one group stay rare.
        self.group = match smooth {
            10_000.. => 4,
            2_000.. => 8,
            300.. => 16,
            _ => 0,
        };
    }

    fn add(&mut self, now: Instant, t: &Transmit) -> Option<Transmit> {
        if self.group == 0 {
            return None;
        }
        let id = datagram_id(&t.contents).filter(|_| t.contents.len() <= MAX_DATAGRAM)?;
        let path = (t.source, t.destination);
        // A group never spans two paths: seal the old one first.
        let sealed = if self.path.is_some_and(|p| p != path) {
            self.seal()
        } else {
            None
        };
        self.path = Some(path);
        if self.xor.len() < t.contents.len() {
            self.xor.resize(t.contents.len(), 0);
        }
        for (x, b) in self.xor.iter_mut().zip(&t.contents) {
            *x ^= b;
        }
        self.members.push((id, t.contents.len() as u16));
        self.flush_at.get_or_insert(now + FLUSH_AFTER);
        if self.members.len() >= self.group.min(MAX_GROUP) {
            return self.seal().or(sealed);
        }
        sealed
    }

    /// The parity of the group so far, which starts a new group.
    fn seal(&mut self) -> Option<Transmit> {
        self.flush_at = None;
        let (source, destination) = self.path?;
        if self.members.is_empty() {
            return None;
        }
        let mut contents = Vec::with_capacity(2 + self.members.len() * 10 + self.xor.len());
        contents.push(PARITY);
        contents.push(self.members.len() as u8);
        for (id, len) in self.members.drain(..) {
            contents.extend_from_slice(&id.to_be_bytes());
            contents.extend_from_slice(&len.to_be_bytes());
        }
        contents.append(&mut self.xor);
        Some(Transmit {
            source,
            destination,
            contents,
        })
    }
}

/// The receiving side: recent datagrams, and rebuilding from parity.
#[derive(Debug, Default)]
struct Decoder {
    /// While above 0, datagrams are kept (a parity came lately).
    keeping: u32,
    kept: BTreeMap<u64, Vec<u8>>,
    order: VecDeque<u64>,
}

impl Decoder {
    fn keep(&mut self, datagram: &[u8]) {
        if self.keeping == 0 || datagram.len() > MAX_DATAGRAM {
            return;
        }
        let Some(id) = datagram_id(datagram) else {
            return;
        };
        self.keeping -= 1;
        if self.kept.insert(id, datagram.to_vec()).is_none() {
            self.order.push_back(id);
        }
        while self.order.len() > KEEP {
            if let Some(old) = self.order.pop_front() {
                self.kept.remove(&old);
            }
        }
    }

    /// The one datagram of the parity's group that is missing, rebuilt; or
    /// `None` (nothing missing, too much missing, or a malformed parity).
    fn rebuild(&mut self, parity: &[u8]) -> Option<Vec<u8>> {
        self.keeping = KEEP_AFTER_PARITY;
        let (&n, rest) = parity.get(1..)?.split_first()?;
        let n = usize::from(n);
        if n == 0 || n > MAX_GROUP || rest.len() < n * 10 {
            return None;
        }
        let (list, xor) = rest.split_at(n * 10);
        if xor.len() > MAX_DATAGRAM {
            return None;
        }
        let members: Vec<(u64, usize)> = list
            .chunks_exact(10)
            .map(|m| {
                let id = u64::from_be_bytes([m[0], m[1], m[2], m[3], m[4], m[5], m[6], m[7]]);
                (id, usize::from(u16::from_be_bytes([m[8], m[9]])))
            })
            .collect();
        if members.iter().any(|&(_, len)| len > xor.len()) {
            return None;
        }
        let mut lost = members.iter().filter(|(id, _)| !self.kept.contains_key(id));
        let (Some(&(id, len)), None) = (lost.next(), lost.next()) else {
            return None; // nothing lost, or two: beyond one parity
        };
        let mut out = xor.to_vec();
        for bytes in members.iter().filter_map(|(other, _)| self.kept.get(other)) {
            for (o, b) in out.iter_mut().zip(bytes) {
                *o ^= b;
            }
        }
        out.truncate(len);
        // A wrong parity (or a hostile one) rebuilds garbage: only a datagram
        // that names itself as the missing one goes on, and DTLS checks it.
        (datagram_id(&out) == Some(id)).then_some(out)
    }
}

/// Loss of the peer's DTLS records, from gaps in their sequence numbers.
#[derive(Debug, Default)]
struct LossMeter {
    epoch: Option<u16>,
    /// The sequence number expected next.
    next: u64,
    received: u32,
    lost: u32,
}

impl LossMeter {
    /// Counts a datagram's records; `(received, lost)` when a report is due.
    fn observe(&mut self, datagram: &[u8]) -> Option<(u32, u32)> {
        if !is_dtls(datagram) {
            return None;
        }
        let mut at = 0;
        while let Some((epoch, seq, next_at)) = record(datagram, at) {
            if self.epoch != Some(epoch) {
                // A new epoch numbers from 0: start over, counting nothing.
                self.epoch = Some(epoch);
                self.next = seq + 1;
            } else if seq >= self.next {
                let gap = (seq - self.next).min(u64::from(u32::MAX)) as u32;
                self.lost = self.lost.saturating_add(gap);
                self.received += 1;
                self.next = seq + 1;
            } else {
                // Late: it was counted lost when its successor came.
                self.lost = self.lost.saturating_sub(1);
                self.received += 1;
            }
            at = next_at;
        }
        if self.received < REPORT_EVERY {
            return None;
        }
        let report = (self.received, self.lost);
        self.received = 0;
        self.lost = 0;
        Some(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([10, 0, 0, 1], port))
    }

    /// A DTLS-looking datagram: one record with this sequence number.
    fn dtls(seq: u64, len: usize) -> Vec<u8> {
        let mut d = vec![23, 0xfe, 0xfd, 0, 1];
        d.extend_from_slice(&seq.to_be_bytes()[2..]);
        let body = len - RECORD_HEADER;
        d.extend_from_slice(&(body as u16).to_be_bytes());
        d.extend((0..body).map(|i| (i as u64 * 7 + seq) as u8));
        d
    }

    fn transmit(contents: Vec<u8>) -> Transmit {
        Transmit {
            source: addr(1),
            destination: addr(2),
            contents,
        }
    }

    fn report(received: u32, lost: u32) -> Vec<u8> {
        let mut r = vec![REPORT];
        r.extend_from_slice(&received.to_be_bytes());
        r.extend_from_slice(&lost.to_be_bytes());
        r
    }

    /// A sender told of `ppm` loss, and the parities of `datagrams`.
    fn parities(now: Instant, lost_per_256: u32, datagrams: &[Vec<u8>]) -> (Fec, Vec<Transmit>) {
        let mut tx = Fec::new(true);
        tx.on_fec_datagram(&report(256 - lost_per_256, lost_per_256));
        let out = datagrams
            .iter()
            .filter_map(|d| tx.on_send(now, &transmit(d.clone())))
            .collect();
        (tx, out)
    }

    #[test]
    fn no_reported_loss_adds_nothing() {
        let now = brume_tests::origin();
        let (tx, out) = parities(now, 0, &[dtls(1, 100), dtls(2, 100)]);
        assert!(out.is_empty());
        assert_eq!(tx.next_timeout(), None);
        assert_eq!(tx.stats().group, 0);
    }

    #[test]
    fn one_lost_datagram_per_group_is_rebuilt_exactly() {
        let now = brume_tests::origin();
        // 2 of 256 lost: groups of 8.
        let sent: Vec<Vec<u8>> = (0..16).map(|i| dtls(i, 60 + i as usize * 13)).collect();
        let (tx, parity) = parities(now, 2, &sent);
        assert_eq!(tx.stats().group, 8);
        assert_eq!(parity.len(), 2);
        let mut rx = Fec::new(true);
        // The first parity turns keeping on; from then on, 3 and 12 are lost.
        assert_eq!(rx.on_fec_datagram(&parity[0].contents), None);
        for (i, d) in sent.iter().enumerate() {
            if i != 3 && i != 12 {
                rx.on_receive(now, (addr(1), addr(2)), d, false, &mut Vec::new());
            }
        }
        assert_eq!(
            rx.on_fec_datagram(&parity[0].contents),
            Some(sent[3].clone())
        );
        assert_eq!(
            rx.on_fec_datagram(&parity[1].contents),
            Some(sent[12].clone())
        );
        // A repeated parity rebuilds nothing new once the datagram is kept.
        rx.on_receive(now, (addr(1), addr(2)), &sent[12], true, &mut Vec::new());
        assert_eq!(rx.on_fec_datagram(&parity[1].contents), None);
        assert_eq!(rx.stats().recovered, 2);
    }

    #[test]
    fn two_losses_in_a_group_rebuild_nothing() {
        let now = brume_tests::origin();
        let sent: Vec<Vec<u8>> = (0..8).map(|i| dtls(i, 80)).collect();
        let (_, parity) = parities(now, 2, &sent);
        let mut rx = Fec::new(true);
        rx.on_fec_datagram(&parity[0].contents);
        for d in &sent[2..] {
            rx.on_receive(now, (addr(1), addr(2)), d, false, &mut Vec::new());
        }
        assert_eq!(rx.on_fec_datagram(&parity[0].contents), None);
    }

    #[test]
    fn a_partial_group_is_sealed_when_its_time_is_up() {
        let now = brume_tests::origin();
        let sent = [dtls(1, 50), dtls(2, 70)];
        let (mut tx, parity) = parities(now, 2, &sent);
        assert!(parity.is_empty());
        let due = tx.next_timeout().expect("a flush is due");
        assert_eq!(tx.on_timeout(due - Duration::from_millis(1)), None);
        let p = tx.on_timeout(due).expect("parity");
        assert_eq!(&p.contents[..2], &[PARITY, 2]);
        assert_eq!(tx.next_timeout(), None);
    }

    #[test]
    fn a_new_path_seals_the_group_of_the_old_one() {
        let now = brume_tests::origin();
        let (mut tx, _) = parities(now, 2, &[dtls(1, 50)]);
        let moved = Transmit {
            destination: addr(3),
            ..transmit(dtls(2, 50))
        };
        let p = tx.on_send(now, &moved).expect("the old group's parity");
        assert_eq!(p.destination, addr(2));
        assert_eq!(p.contents[1], 1);
    }

    #[test]
    fn the_meter_reports_gaps_and_forgives_late_arrivals() {
        let mut m = LossMeter::default();
        let mut reports = Vec::new();
        // 300 records; 10 never come and 5 come late.
        for seq in 0..300u64 {
            if seq % 30 == 7 {
                continue;
            }
            if let Some(r) = m.observe(&dtls(seq, 40)) {
                reports.push(r);
            }
            if seq % 60 == 20 {
                reports.extend(m.observe(&dtls(seq - 13, 40)));
            }
        }
        // The first record only sets the epoch; 256 counted make a report.
        assert_eq!(reports.len(), 1);
        let (received, lost) = reports[0];
        assert_eq!(received, REPORT_EVERY);
        assert!((4..=8).contains(&lost), "lost {lost}");
    }

    #[test]
    fn loss_reports_choose_the_group() {
        let mut e = Encoder::default();
        e.on_report(250, 6); // 2.3 %
        assert_eq!(e.group, 4);
        let mut e = Encoder::default();
        e.on_report(255, 1); // 0.4 %
        assert_eq!(e.group, 8);
        for _ in 0..40 {
            e.on_report(256, 0);
        }
        assert_eq!(e.group, 0, "smoothed loss decays to nothing");
    }

    #[test]
    fn reports_of_the_wrong_length_or_while_off_change_nothing() {
        let mut on = Fec::new(true);
        let mut long = report(200, 56);
        long.push(0);
        on.on_fec_datagram(&long);
        on.on_fec_datagram(&long[..8]);
        assert_eq!(on.stats().group, 0);
        on.on_fec_datagram(&report(200, 56));
        assert_eq!(on.stats().group, 4);
        let mut off = Fec::new(false);
        off.on_fec_datagram(&report(200, 56));
        assert_eq!(off.stats().group, 0);
        let now = brume_tests::origin();
        for seq in 0..600 {
            let (_, report) = off.on_receive(
                now,
                (addr(1), addr(2)),
                &dtls(seq * 2, 40),
                false,
                &mut Vec::new(),
            );
            assert!(report.is_none(), "off: no reports");
        }
    }

    #[test]
    fn a_forged_parity_rebuilds_nothing() {
        let mut rx = Fec::new(true);
        rx.on_fec_datagram(&[PARITY, 1, 0, 0, 0, 0, 0, 0, 0, 9, 0, 20]);
        // Claims datagram 9 of 20 bytes, but the XOR is not a datagram 9.
        let mut forged = vec![PARITY, 1, 0, 1, 0, 0, 0, 0, 0, 9, 0, 20];
        forged.extend_from_slice(&[0x55; 20]);
        assert_eq!(rx.on_fec_datagram(&forged), None);
    }

    /// The vector in docs/PROTOCOL.md ("Datagram parity").
    #[test]
    fn the_documented_vector() {
        let hex = |s: &str| -> Vec<u8> {
            let s: String = s.split_whitespace().collect();
            (0..s.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
                .collect()
        };
        let a = hex("17 fefd 0001 000000000001 0002 aabb");
        let b = hex("17 fefd 0001 000000000002 0001 cc");
        let parity = hex("60 02 0001000000000001 000f 0001000000000002 000e
             0000000000000000000003000366bb");
        let report = hex("61 00000100 00000002");
        assert_eq!(report, super::tests::report(256, 2));
        let now = brume_tests::origin();
        let mut tx = Fec::new(true);
        tx.on_fec_datagram(&report);
        assert!(tx.on_send(now, &transmit(a.clone())).is_none());
        assert!(tx.on_send(now, &transmit(b.clone())).is_none());
        let sealed = tx.on_timeout(now + FLUSH_AFTER).expect("parity");
        assert_eq!(sealed.contents, parity);
        let mut rx = Fec::new(true);
        rx.on_fec_datagram(&parity);
        rx.on_receive(now, (addr(1), addr(2)), &a, false, &mut Vec::new());
        assert_eq!(rx.on_fec_datagram(&parity), Some(b));
    }

    proptest! {
        #[test]
        fn any_bytes_are_safe(bytes in proptest::collection::vec(any::<u8>(), 0..400), first in 0x60u8..=0x61) {
            let mut fec = Fec::new(true);
            let mut d = bytes.clone();
            d.insert(0, first);
            fec.on_fec_datagram(&d);
            fec.on_receive(brume_tests::origin(), (addr(1), addr(2)), &bytes, false, &mut Vec::new());
            fec.on_fec_datagram(&d);
        }
    }
}
