//! Brume's own ping: a `ping` control message on the main channel, which
//! every endpoint answers with a `pong` carrying the same data, so any Brume
//! client answers, whatever its application does. The pinger remembers when
//! each nonce left and reports the round trip as [`EndpointEvent::Pong`].
//!
//! Control messages live in their own namespace (see [`crate::framing`]): an
//! application message of type `ping` is the application's and is never
//! answered here.

use std::collections::BTreeMap;
use std::time::Instant;

use super::outbox::ControlKind;
use super::{Endpoint, EndpointError, EndpointEvent};
use crate::framing::{self, Data, Namespace};
use crate::signal::Address;

/// The control message that asks for an answer.
pub(super) const PING: &str = "ping";
/// The answer, with the ping's data.
pub(super) const PONG: &str = "pong";
/// The longest ping data answered, in bytes (a nonce needs ten digits).
pub const MAX_PING_DATA: usize = 64;

/// Pings sent to one peer and not answered yet: nonce and when it left.
#[derive(Debug, Default)]
pub(crate) struct PendingPings {
    sent: BTreeMap<u32, Instant>,
}

impl PendingPings {
    /// At most this many wait; a new one pushes out the oldest, whose pong
    /// is then ignored as unknown.
    pub(crate) const LIMIT: usize = 32;

    fn insert(&mut self, nonce: u32, at: Instant) {
        if self.sent.len() >= Self::LIMIT
            && let Some(oldest) = self.sent.iter().min_by_key(|(_, t)| **t).map(|(n, _)| *n)
        {
            self.sent.remove(&oldest);
        }
        self.sent.insert(nonce, at);
    }

    /// When `nonce` left, if it is ours and still waiting.
    fn answered(&mut self, nonce: u32) -> Option<Instant> {
        self.sent.remove(&nonce)
    }
}

impl Endpoint {
    /// Sends a ping on the peer's main channel; returns its nonce. The peer's
    /// endpoint answers on its own, heard as [`EndpointEvent::Pong`] with the
    /// same nonce and the round-trip time. A ping that finds the send buffer
    /// full waits for room like every control message, and that wait counts.
    pub fn ping(&mut self, now: Instant, peer: &Address) -> Result<u32, EndpointError> {
        self.open_peer(peer)?;
        let nonce = self.rng.u32(..);
        let frame = framing::encode_in(Namespace::Control, PING, &Data::Text(nonce.to_string()))?;
        let p = self.open_peer(peer)?;
        p.control
            .push_spare(ControlKind::Ping, frame)
            .map_err(|_| EndpointError::WrongState("too many control messages wait".into()))?;
        p.pings.insert(nonce, now);
        self.pump(now, peer);
        Ok(nonce)
    }

    /// The peer pinged us: answer with its data. Should our send buffer
    /// stay full long enough to fill the outbox, the pong is dropped rather
    /// than the connection: a ping is not worth a connection.
    pub(super) fn on_ping(&mut self, now: Instant, name: &Address, data: String) {
        if data.len() > MAX_PING_DATA {
            return self.event(EndpointEvent::BadMessage {
                peer: name.clone(),
                error: format!("ping data over {MAX_PING_DATA} bytes"),
            });
        }
        let Ok(frame) = framing::encode_in(Namespace::Control, PONG, &Data::Text(data)) else {
            return;
        };
        let Some(peer) = self.peers.get_mut(name) else {
            return;
        };
        if peer.control.push_spare(ControlKind::Pong, frame).is_ok() {
            self.pump(now, name);
        }
    }

    /// The peer answered: report the round trip of a nonce we sent. A pong
    /// we did not ask for (or asked for too long ago) is ignored.
    pub(super) fn on_pong(&mut self, now: Instant, name: &Address, data: &str) {
        let Ok(nonce) = data.parse::<u32>() else {
            return;
        };
        let Some(sent) = self
            .peers
            .get_mut(name)
            .and_then(|p| p.pings.answered(nonce))
        else {
            return;
        };
        self.event(EndpointEvent::Pong {
            peer: name.clone(),
            nonce,
            rtt: now.saturating_duration_since(sent),
        });
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_nonce_is_answered_once() {
        let t0 = brume_tests::origin();
        let mut pings = PendingPings::default();
        pings.insert(7, t0);
        assert_eq!(pings.answered(8), None);
        assert_eq!(pings.answered(7), Some(t0));
        assert_eq!(pings.answered(7), None);
    }

    #[test]
    fn the_oldest_ping_makes_room() {
        let t0 = brume_tests::origin();
        let mut pings = PendingPings::default();
        for i in 0..PendingPings::LIMIT as u32 + 1 {
            pings.insert(100 - i, t0 + Duration::from_millis(i.into()));
        }
        assert_eq!(pings.sent.len(), PendingPings::LIMIT);
        assert_eq!(pings.answered(100), None, "the oldest was dropped");
        assert!(pings.answered(99).is_some());
    }
}
