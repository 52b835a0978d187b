//! Is the hub still there? A hub whose machine vanished, or a path that
//! silently drops everything, leaves the WebSocket open and mute: TCP alone
//! may take many minutes to notice. So the endpoint pings the hub after
//! `quiet_after` without hearing from it, and gives the connection up if
//! nothing at all arrives within `answer_within` of that ping.

use std::time::{Duration, Instant};

/// What the watch asks for at a timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HubWatchAction {
    /// Send the hub a `ping` with this nonce.
    Ping(u32),
    /// Nothing came back: treat the connection as lost.
    Lost,
}

/// The liveness of one hub connection.
#[derive(Debug)]
pub(crate) struct HubWatch {
    quiet_after: Duration,
    answer_within: Duration,
    /// When the hub was last heard from; `None` while there is no connection.
    last_heard: Option<Instant>,
    /// When our unanswered ping went out.
    pinged_at: Option<Instant>,
    nonce: u32,
}

impl HubWatch {
    pub(crate) fn new(quiet_after: Duration, answer_within: Duration) -> Self {
        Self {
            quiet_after,
            answer_within,
            last_heard: None,
            pinged_at: None,
            nonce: 0,
        }
    }

    /// A connection opened, or a frame arrived on it.
    pub(crate) fn heard(&mut self, now: Instant) {
        self.last_heard = Some(now);
        self.pinged_at = None;
    }

    /// The connection is gone: nothing to watch.
    pub(crate) fn stop(&mut self) {
        self.last_heard = None;
        self.pinged_at = None;
    }

    pub(crate) fn next_timeout(&self) -> Option<Instant> {
        let heard = self.last_heard?;
        Some(match self.pinged_at {
            Some(at) => at + self.answer_within,
            None => heard + self.quiet_after,
        })
    }

    pub(crate) fn on_timeout(&mut self, now: Instant) -> Option<HubWatchAction> {
        let due = self.next_timeout()?;
        if now < due {
            return None;
        }
        if self.pinged_at.is_some() {
            self.stop();
            return Some(HubWatchAction::Lost);
        }
        self.pinged_at = Some(now);
        self.nonce = self.nonce.wrapping_add(1);
        Some(HubWatchAction::Ping(self.nonce))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUIET: Duration = Duration::from_secs(15);
    const ANSWER: Duration = Duration::from_secs(10);

    #[test]
    fn a_quiet_hub_is_pinged_and_a_mute_one_given_up() {
        let t0 = brume_tests::origin();
        let mut w = HubWatch::new(QUIET, ANSWER);
        assert_eq!(w.next_timeout(), None);
        w.heard(t0);
        assert_eq!(w.on_timeout(t0 + QUIET - Duration::from_millis(1)), None);
        assert_eq!(w.on_timeout(t0 + QUIET), Some(HubWatchAction::Ping(1)));
        assert_eq!(w.next_timeout(), Some(t0 + QUIET + ANSWER));
        assert_eq!(
            w.on_timeout(t0 + QUIET + ANSWER),
            Some(HubWatchAction::Lost)
        );
        assert_eq!(w.next_timeout(), None);
    }

    #[test]
    fn any_frame_answers_the_ping() {
        let t0 = brume_tests::origin();
        let mut w = HubWatch::new(QUIET, ANSWER);
        w.heard(t0);
        assert_eq!(w.on_timeout(t0 + QUIET), Some(HubWatchAction::Ping(1)));
        w.heard(t0 + QUIET + Duration::from_secs(1));
        assert_eq!(w.on_timeout(t0 + QUIET + ANSWER), None);
        let next = t0 + QUIET + Duration::from_secs(1) + QUIET;
        assert_eq!(w.next_timeout(), Some(next));
        assert_eq!(w.on_timeout(next), Some(HubWatchAction::Ping(2)));
    }
}
