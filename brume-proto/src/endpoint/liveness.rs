//! Noticing a peer that stopped answering, and one that answers again.
//!
//! str0m's ICE declares a path lost only when its checks have gone
//! unanswered and the peer's own checks stopped 15 s before (a constant of
//! its ICE agent), about 20 s after a peer dies. The endpoint does not wait
//! for that: a live peer answers our ICE checks, sent every
//! `EndpointConfig::keepalive`, so an open peer that sends nothing for
//! `silence_limit` is reported unreachable and recovered as if ICE had
//! lost the path. If it is heard again before an ICE restart, the same
//! path simply carries on.

use std::time::Instant;

use super::peer::PeerState;
use super::{Endpoint, EndpointEvent};
use crate::signal::Address;

impl Endpoint {
    /// A datagram from `name` reached its Rtc.
    pub(super) fn on_heard(&mut self, now: Instant, name: &Address) {
        let Some(peer) = self.peers.get_mut(name) else {
            return;
        };
        peer.last_heard = now;
        // Back from silence on a path ICE still holds: nothing to restart.
        // (While ICE itself has lost the path, recovery waits for ICE.)
        if matches!(peer.state, PeerState::Recovering { .. }) && peer.rtc().is_connected() {
            peer.state = PeerState::Open;
            peer.deadline = None;
            self.event(EndpointEvent::PeerReconnected { peer: name.clone() });
            self.renegotiate(now, name);
        }
    }

    /// Reports an open peer that has been silent for `silence_limit`.
    pub(super) fn check_silence(&mut self, now: Instant, name: &Address) {
        let limit = self.config.silence_limit;
        let restart_after = self.config.ice_restart_after;
        let Some(peer) = self.peers.get_mut(name) else {
            return;
        };
        if peer.silent_at(limit).is_none_or(|at| at > now) {
            return;
        }
        peer.state = PeerState::Recovering {
            since: now,
            restart_sent: false,
        };
        peer.deadline = Some(now + restart_after);
        self.event(EndpointEvent::PeerReconnecting { peer: name.clone() });
    }
}
