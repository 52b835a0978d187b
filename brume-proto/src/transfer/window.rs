//! How many bytes a sender keeps queued towards one peer: about what the
//! path holds, learnt from how fast the queue drains, not a fixed amount.
//!
//! str0m has no pacer for SCTP: whatever is queued goes out as fast as the
//! congestion window lets it, so a large queue becomes a burst that overflows
//! a router's buffer or the receiver's socket, and sctp-proto recovers from
//! that loss slowly (its minimum retransmission timeout is 1 s). Bytes in
//! flight also cost CPU, since sctp-proto scans its in-flight queue on every
//! poll. So the window follows the path's bandwidth-delay product.
//!
//! What str0m calls the buffered amount is every byte written and not yet
//! cumulatively acknowledged, queued or in flight. A *round* starts with a
//! write and ends once that write is acknowledged. Its length is how long a
//! byte waited from write to acknowledgement (one round trip plus any queue,
//! ours or the network's); what was acknowledged during it over that length
//! is the delivery rate. The shortest round seen recently
//! is the round trip with no queue, so `rate × shortest` is the
//! bandwidth-delay product.
//!
//! - A round no longer than 5/4 of the shortest saw no queue: if the window
//!   was what held the sender back, it grows. In startup it grows to twice
//!   what the round delivered and at most to twice itself (doubling, as
//!   SCTP's slow start does, whatever one long round delivered);
//!   after startup to 5/4 of the bandwidth-delay product, which is a quarter
//!   more while the window limits the rate and no more once the path is full.
//! - A longer round means a queue. In startup, while the delivery rate still
//!   grows by a quarter within three rounds, it is our own queue behind SCTP's
//!   slow start, and the window holds; otherwise startup ends and the window
//!   falls to 5/4 of the bandwidth-delay product, which leaves SCTP's
//!   congestion window room to grow and keeps a router queue under a quarter
//!   of the path.
//! - Every 10 s the window halves for two rounds, so that the shortest round
//!   is measured without a queue of our own in it.
//!
//! Pure arithmetic over the times and amounts it is given, like the rest of
//! the core.

use std::time::{Duration, Instant};

/// The bounds of a [`SendWindow`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowLimits {
    /// The least kept queued: enough for a loopback or LAN path, whose
    /// bandwidth-delay product is tiny, to stay busy.
    pub min: usize,
    /// The most kept queued: under str0m's send buffer (shared with chat)
    /// and the peer's 1 MiB receive window.
    pub max: usize,
}

impl Default for WindowLimits {
    fn default() -> Self {
        Self {
            min: 32 << 10,
            max: 896 << 10,
        }
    }
}

/// The smallest chunk worth a message of its own.
const MIN_CHUNK: usize = 16 << 10;
/// A round this much longer than the shortest still counts as queue-free.
const SLACK: f64 = 1.25;
/// The window kept over the bandwidth-delay product when a queue shows.
const HEADROOM: f64 = 1.25;
/// In startup, a queue while the delivery rate still grows this much within
/// a few rounds is SCTP's slow start, not the path's.
const STARTUP_GROWTH: f64 = 1.25;
/// Rounds without that growth that end startup.
const STARTUP_ROUNDS: u32 = 3;
/// How long the shortest round is trusted before the window halves for two
/// rounds to measure it again, so a path whose delay grew is learnt anew.
const MIN_DELAY_LIFETIME: Duration = Duration::from_secs(10);
/// Rounds over which the best delivery rate is kept.
const RATE_ROUNDS: usize = 8;

#[derive(Debug, Clone, Copy)]
struct Round {
    start: Instant,
    /// The look before the round began: delivery is timed between looks,
    /// which see the acknowledged amount as it was.
    look: (Instant, u64),
    /// The round ends once this much has been acknowledged.
    ends_at: u64,
    /// The sender wanted to write more than the window allowed.
    window_limited: bool,
}

/// The send window towards one peer. See the module documentation.
#[derive(Debug, Clone)]
pub struct SendWindow {
    limits: WindowLimits,
    window: usize,
    written: u64,
    acked: u64,
    /// When the buffered amount was last seen, and what had been acknowledged then.
    last_look: Option<(Instant, u64)>,
    round: Option<Round>,
    /// The shortest round and when it was measured.
    min_delay: Option<(Duration, Instant)>,
    /// Delivery rates of the latest rounds, bytes per second.
    rates: [f64; RATE_ROUNDS],
    next_rate: usize,
    /// Doubling until the first queue shows.
    startup: bool,
    /// While timing the path afresh: the window to go back to, and the
    /// rounds left.
    probe: Option<usize>,
    probe_rounds: u32,
    /// The delivery rate the latest growth reached, and rounds since.
    plateau_rate: f64,
    plateau: u32,
}

impl SendWindow {
    /// A window starting at its minimum.
    pub fn new(limits: WindowLimits) -> Self {
        let limits = WindowLimits {
            min: limits.min.max(2 * MIN_CHUNK),
            max: limits.max.max(limits.min.max(2 * MIN_CHUNK)),
        };
        Self {
            limits,
            window: limits.min,
            written: 0,
            acked: 0,
            last_look: None,
            round: None,
            min_delay: None,
            rates: [0.0; RATE_ROUNDS],
            next_rate: 0,
            startup: true,
            probe: None,
            probe_rounds: 0,
            plateau_rate: 0.0,
            plateau: 0,
        }
    }

    /// Bytes that may be buffered now.
    pub fn size(&self) -> usize {
        self.window
    }

    /// The chunk to cut data into: an eighth of the window, so a refill is a
    /// few messages and no one burst is large, within `[16 KiB, max_message]`.
    pub fn chunk(&self, max_message: usize) -> usize {
        (self.window / 8).max(MIN_CHUNK).min(max_message.max(1))
    }

    /// Whether `len` more bytes fit with `queued` already waiting; if not,
    /// the window is what holds the sender back this round.
    pub fn admits(&mut self, queued: usize, len: usize) -> bool {
        // One message always goes when nothing waits, however large.
        let fits = queued == 0 || queued.saturating_add(len) <= self.window;
        if !fits && let Some(round) = &mut self.round {
            round.window_limited = true;
        }
        fits
    }

    /// `len` bytes were written to the peer's channels. The first write
    /// after a round ends starts the next: it lasts until that byte is
    /// acknowledged.
    pub fn on_write(&mut self, now: Instant, len: usize) {
        self.written += len as u64;
        if self.round.is_none() {
            self.round = Some(Round {
                start: now,
                look: self.last_look.unwrap_or((now, self.acked)),
                ends_at: self.written,
                window_limited: false,
            });
        }
    }

    /// `len` bytes counted by [`SendWindow::on_write`] were handed back
    /// unwritten: they go again later.
    pub fn on_unwritten(&mut self, len: usize) {
        self.written = self.written.saturating_sub(len as u64);
    }

    /// The channels now hold `buffered` bytes written and not yet
    /// acknowledged. Call it whenever the sender wakes.
    pub fn on_buffered(&mut self, now: Instant, buffered: usize) {
        let acked = self.written.saturating_sub(buffered as u64);
        self.acked = self.acked.max(acked);
        self.last_look = Some((now, self.acked));
        if let Some(round) = self.round
            && self.acked >= round.ends_at
        {
            self.round = None;
            self.end_round(now, round);
        }
    }

    fn end_round(&mut self, now: Instant, round: Round) {
        let delay = now.saturating_duration_since(round.start);
        let (then, acked_then) = round.look;
        let elapsed = now.saturating_duration_since(then);
        if delay.is_zero() || elapsed.is_zero() {
            return; // acknowledged before it could be timed: nothing learnt
        }
        let delivered = (self.acked - acked_then) as f64;
        let round_rate = delivered / elapsed.as_secs_f64();
        if round_rate >= self.plateau_rate * STARTUP_GROWTH {
            (self.plateau_rate, self.plateau) = (round_rate, 0);
        } else {
            self.plateau += 1;
        }
        self.rates[self.next_rate] = round_rate;
        self.next_rate = (self.next_rate + 1) % RATE_ROUNDS;
        if let Some(restore) = self.probe {
            // Draining to time the path afresh: the first round empties our
            // queue, the second is timed with none.
            self.probe_rounds -= 1;
            if self.probe_rounds == 0 {
                self.min_delay = Some((delay, now));
                self.window = restore;
                self.probe = None;
            }
            return;
        }
        let min_delay = match self.min_delay {
            Some((d, _)) if d > delay => {
                self.min_delay = Some((delay, now));
                delay
            }
            Some((d, at)) => {
                if now.saturating_duration_since(at) >= MIN_DELAY_LIFETIME {
                    // Stale: a queue of our own would pass for the path's
                    // delay, so shrink for two rounds and measure.
                    self.probe = Some(self.window);
                    self.probe_rounds = 2;
                    self.window = (self.window / 2).max(self.limits.min);
                    return;
                }
                d
            }
            None => {
                self.min_delay = Some((delay, now));
                delay
            }
        };
        let rate = self.rates.iter().copied().fold(0.0, f64::max);
        let target = (rate * min_delay.as_secs_f64() * HEADROOM) as usize;
        if delay.as_secs_f64() <= min_delay.as_secs_f64() * SLACK {
            if round.window_limited {
                // Past startup the window follows the delivery rate: a window
                // that limited the rate earns a quarter more, one that did
                // not (the path is full) stays at 5/4 of the path.
                let grown = if self.startup {
                    // Twice what the round delivered: about doubling, and no
                    // faster than SCTP's own slow start. Never more than twice
                    // the window: a first round stalled by the peer (busy
                    // with a large offer) delivers a burst over a long round,
                    // and would pass for a long fat path.
                    let delivered = round_rate * min_delay.as_secs_f64();
                    self.window
                        .max(((2.0 * delivered) as usize).min(2 * self.window))
                } else {
                    self.window.max(target)
                };
                self.window = grown.min(self.limits.max);
            }
        } else if self.startup && self.plateau < STARTUP_ROUNDS {
            // A queue, but the rate still climbs: it is our own queue behind
            // SCTP's congestion window in slow start. Hold.
        } else {
            self.startup = false;
            self.window = target.clamp(self.limits.min, self.window.max(self.limits.min));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    /// A path of `rate` bytes/s behind a FIFO of `buffer` bytes, `rtt` long:
    /// a byte is acknowledged one RTT after it leaves the queue. The sender
    /// refills in chunks whenever it wakes, four times per window drained.
    struct Path {
        rate: f64,
        rtt: Duration,
        buffer: usize,
        /// (acknowledged at, cumulative bytes).
        acks: VecDeque<(Instant, u64)>,
        sent: u64,
        dropped: u64,
        link_free: Instant,
    }

    impl Path {
        fn send(&mut self, now: Instant, len: usize) {
            self.link_free = self.link_free.max(now);
            let backlog = (self.link_free - now).as_secs_f64() * self.rate;
            if backlog as usize + len > self.buffer {
                self.dropped += len as u64;
            }
            self.link_free += Duration::from_secs_f64(len as f64 / self.rate);
            self.sent += len as u64;
            self.acks.push_back((self.link_free + self.rtt, self.sent));
        }
    }

    /// Runs `secs` of a sender that always has data; returns the window and
    /// the goodput in bytes/s over the last half, and bytes dropped.
    fn run(rate: f64, rtt_ms: u64, buffer: usize, secs: u64) -> (SendWindow, f64, u64) {
        let start = brume_tests::origin();
        let mut w = SendWindow::new(WindowLimits::default());
        let mut path = Path {
            rate,
            rtt: Duration::from_millis(rtt_ms),
            buffer,
            acks: VecDeque::new(),
            sent: 0,
            dropped: 0,
            link_free: start,
        };
        let mut acked = 0u64;
        let mut now = start;
        let half = start + Duration::from_secs(secs) / 2;
        let mut acked_at_half = None;
        while now < start + Duration::from_secs(secs) {
            let buffered = (path.sent - acked) as usize;
            w.on_buffered(now, buffered);
            let chunk = w.chunk(256 << 10);
            let mut queued = buffered;
            while w.admits(queued, chunk) {
                path.send(now, chunk);
                w.on_write(now, chunk);
                queued += chunk;
            }
            // Wake when a quarter of what is queued has been acknowledged.
            let wake_at = acked + (queued as u64 / 4).max(1);
            while let Some(&(at, total)) = path.acks.front() {
                now = now.max(at);
                path.acks.pop_front();
                acked = total;
                if acked >= wake_at {
                    break;
                }
            }
            if now >= half && acked_at_half.is_none() {
                acked_at_half = Some((now, acked));
            }
        }
        let (t, a) = acked_at_half.unwrap();
        let goodput = (acked - a) as f64 / (now - t).as_secs_f64();
        (w, goodput, path.dropped)
    }

    #[test]
    fn fills_a_long_fat_path_without_overflowing_its_buffer() {
        // 100 Mbit/s, 50 ms: a bandwidth-delay product of 625 kB, and as much buffer.
        let rate = 12.5e6;
        let (w, goodput, dropped) = run(rate, 50, 625_000, 20);
        assert!(goodput > 0.95 * rate, "goodput {goodput}");
        assert_eq!(dropped, 0);
        assert!(
            w.size() >= 625_000 && w.size() <= 625_000 * 2,
            "{}",
            w.size()
        );
    }

    #[test]
    fn stays_small_on_a_short_path() {
        // 1 Gbit/s with no propagation delay: what is queued is all delay.
        let (w, goodput, _) = run(125e6, 0, 1 << 20, 2);
        assert!(w.size() <= 2 * WindowLimits::default().min, "{}", w.size());
        assert!(goodput > 0.9 * 125e6, "goodput {goodput}");
    }

    #[test]
    fn never_leaves_its_limits() {
        let limits = WindowLimits::default();
        let (w, _, _) = run(1e9, 200, usize::MAX, 10);
        assert_eq!(w.size(), limits.max);
        let (w, _, _) = run(1e4, 10, 4 << 10, 10);
        assert_eq!(w.size(), limits.min);
    }

    #[test]
    fn a_stalled_first_round_at_most_doubles_the_window() {
        // The first write waits 600 ms for its acknowledgement (the peer was
        // busy with a large offer) while writes on other channels went
        // through: a megabyte delivered over a long round, which a long fat
        // path would also show, but here after one round only.
        let t0 = brume_tests::origin();
        let mut w = SendWindow::new(WindowLimits::default());
        let min = w.size();
        w.on_write(t0, min);
        assert!(!w.admits(min, 1)); // the window holds the sender back
        w.on_buffered(t0, min);
        let later = t0 + Duration::from_millis(600);
        w.on_write(later, 1 << 20);
        w.on_buffered(later, 0);
        assert!(w.size() > min, "a window-limited round grows it");
        assert!(w.size() <= 2 * min, "{} after one round", w.size());
    }

    #[test]
    fn admits_one_message_into_an_empty_queue() {
        let mut w = SendWindow::new(WindowLimits::default());
        w.on_write(brume_tests::origin(), 1);
        let min = WindowLimits::default().min;
        assert!(w.admits(0, 10 << 20));
        assert!(w.admits(min / 2, min / 2));
        assert!(!w.admits(min / 2, min / 2 + 1));
    }
}
