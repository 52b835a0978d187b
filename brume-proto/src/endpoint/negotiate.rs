//! Connection attempts through the hub: offers, answers, trickled candidates,
//! glare, deadlines and ICE restarts.

use std::time::Instant;

use str0m::Candidate;
use str0m::change::{SdpAnswer, SdpOffer};

use super::identity;
use super::peer::{self, MAIN_CHANNEL, Peer, PeerState};
use super::{Endpoint, EndpointError, EndpointEvent, PeerCloseReason};
use crate::error::ErrorCode;
use crate::signal::{Address, AttemptId, ClientMsg, GroupId, PeerId};

impl Endpoint {
    /// Sends a fresh offer to `peer` with the main channel in it.
    pub(super) fn start_offer(
        &mut self,
        now: Instant,
        name: &Address,
        group: Option<GroupId>,
    ) -> Result<(), EndpointError> {
        let mut rtc = self.new_rtc(now);
        let mut change = rtc.sdp_api();
        change.add_channel(MAIN_CHANNEL.into());
        let Some((offer, pending)) = change.apply() else {
            return Err(EndpointError::Rtc("no offer was produced".into()));
        };
        let attempt = self.new_attempt_id();
        let parity = self.config.datagram_parity;
        let mut peer = Peer::new(
            rtc,
            PeerState::Offering { pending },
            attempt.clone(),
            now,
            parity,
        );
        peer.deadline = Some(now + self.config.connect_timeout);
        self.peers.insert(name.clone(), peer);
        self.send_hub(&ClientMsg::Offer {
            attempt,
            to: name.clone(),
            group,
            sdp: self.signed(offer.to_sdp_string()),
            restart: false,
        });
        self.pump(now, name);
        Ok(())
    }

    pub(super) fn on_offer(
        &mut self,
        now: Instant,
        caller: PeerId,
        attempt: AttemptId,
        group: Option<GroupId>,
        sdp: &str,
        restart: bool,
    ) {
        let from = Address::Device(caller.clone());
        let reject = |this: &mut Self, reason: &str| {
            this.send_hub(&ClientMsg::Reject {
                attempt: attempt.clone(),
                to: from.clone(),
                reason: Some(reason.to_owned()),
            })
        };
        self.note_remote_relays(sdp);
        let Ok(offer) = SdpOffer::from_sdp_string(&identity::strip_identity(sdp)) else {
            return reject(self, "unreadable offer");
        };
        if !self.identity_ok(&caller, sdp) {
            // Not a word of why to the caller: it may be the hub lying.
            return reject(self, "identity check failed");
        }
        let remote_max = peer::sdp_max_message(sdp, super::MAX_MESSAGE_LEN);
        if restart {
            return self.on_restart_offer(now, &from, attempt, offer);
        }
        // Our own unanswered call to the bare user meets theirs when they
        // call from a device that takes calls (where ours likely went).
        let bare = Address::User(caller.user.clone());
        let glare_key = if self.peers.contains_key(&from) {
            from.clone()
        } else if caller.device.instance().is_none()
            && self
                .peers
                .get(&bare)
                .is_some_and(|p| matches!(p.state, PeerState::Offering { .. }))
        {
            bare
        } else {
            from.clone()
        };
        match self.peers.get(&glare_key).map(|p| &p.state) {
            Some(PeerState::Offering { .. }) => {
                // Glare: the offer of the (user, device) that sorts first stands.
                if self.sorts_before(&from) {
                    return reject(self, "glare");
                }
                let ours = self
                    .peers
                    .remove(&glare_key)
                    .map(|p| (p.attempt, p.deadline));
                if let Some((our_attempt, deadline)) = ours {
                    self.send_hub(&ClientMsg::Cancel {
                        attempt: our_attempt,
                        to: glare_key.clone(),
                        reason: Some("glare".into()),
                    });
                    // Our application asked for this connection: answer at once.
                    self.insert_incoming(now, &from, attempt, offer, group);
                    if let Some(p) = self.peers.get_mut(&from) {
                        p.deadline = deadline;
                    }
                    let _ = self.accept_incoming(now, &from);
                }
            }
            Some(PeerState::Incoming { .. }) => {
                // The caller tried again; the newer offer replaces the old.
                self.peers.remove(&from);
                self.insert_incoming(now, &from, attempt, offer, group);
            }
            Some(state) => {
                let from = from.clone();
                // A fresh offer from a peer we are connected to: it lost its
                // state (restarted), so the old connection is dead.
                let established = state.established();
                self.shut_peer(now, &from);
                let reason = PeerCloseReason::Replaced;
                self.event(if established {
                    EndpointEvent::PeerClosed {
                        peer: from.clone(),
                        reason,
                    }
                } else {
                    EndpointEvent::PeerFailed {
                        peer: from.clone(),
                        code: ErrorCode::Cancelled,
                        reason: reason.to_string(),
                    }
                });
                self.announce_incoming(now, from, attempt, offer, group);
            }
            None => self.announce_incoming(now, from.clone(), attempt, offer, group),
        }
        if let Some(p) = self.peers.get_mut(&from) {
            p.remote_max_message = remote_max;
        }
    }

    fn announce_incoming(
        &mut self,
        now: Instant,
        from: Address,
        attempt: AttemptId,
        offer: SdpOffer,
        group: Option<GroupId>,
    ) {
        self.insert_incoming(now, &from, attempt, offer, group.clone());
        self.event(EndpointEvent::Incoming { peer: from, group });
    }

    fn insert_incoming(
        &mut self,
        now: Instant,
        from: &Address,
        attempt: AttemptId,
        offer: SdpOffer,
        group: Option<GroupId>,
    ) {
        let rtc = self.new_rtc(now);
        let _ = group; // announced in the event; the state needs only the offer
        let parity = self.config.datagram_parity;
        let mut peer = Peer::new(rtc, PeerState::Incoming { offer }, attempt, now, parity);
        peer.deadline = Some(now + self.config.incoming_timeout);
        self.peers.insert(from.clone(), peer);
    }

    pub(super) fn accept_incoming(
        &mut self,
        now: Instant,
        name: &Address,
    ) -> Result<(), EndpointError> {
        let connect_timeout = self.config.connect_timeout;
        let Some(peer) = self.peers.get_mut(name) else {
            return Err(EndpointError::NoPeer(name.clone()));
        };
        let PeerState::Incoming { offer, .. } =
            std::mem::replace(&mut peer.state, PeerState::Connecting)
        else {
            return Err(EndpointError::WrongState(format!(
                "no incoming attempt from {name}"
            )));
        };
        let attempt = peer.attempt.clone();
        match peer.rtc_mut().sdp_api().accept_offer(offer) {
            Ok(answer) => {
                for c in std::mem::take(&mut peer.early_candidates) {
                    peer.rtc_mut().add_remote_candidate(c);
                }
                let deadline = now + connect_timeout;
                peer.deadline = Some(peer.deadline.map_or(deadline, |d| d.max(deadline)));
                self.send_hub(&ClientMsg::Answer {
                    attempt,
                    to: name.clone(),
                    sdp: self.signed(answer.to_sdp_string()),
                });
                self.pump(now, name);
                Ok(())
            }
            Err(e) => {
                self.send_hub_if_ready(&ClientMsg::Reject {
                    attempt,
                    to: name.clone(),
                    reason: Some("unusable offer".into()),
                });
                self.fail_peer(name, ErrorCode::Negotiation, e.to_string());
                Err(EndpointError::Rtc(e.to_string()))
            }
        }
    }

    pub(super) fn on_answer(
        &mut self,
        now: Instant,
        from: &Address,
        attempt: &AttemptId,
        sdp: &str,
    ) {
        let Some(peer) = self.peers.get_mut(from) else {
            return;
        };
        if peer.attempt != *attempt {
            return; // a stale attempt, such as a glare loser's
        }
        self.note_remote_relays(sdp);
        let Ok(answer) = SdpAnswer::from_sdp_string(&identity::strip_identity(sdp)) else {
            return self.fail_peer(from, ErrorCode::Negotiation, "unreadable answer".into());
        };
        if let Address::Device(callee) = from
            && !self.identity_ok(callee, sdp)
        {
            let why = format!("{from} is not the device pinned for it (its identity key changed)");
            return self.fail_peer(from, ErrorCode::Identity, why);
        }
        let Some(peer) = self.peers.get_mut(from) else {
            return;
        };
        peer.remote_max_message = peer::sdp_max_message(sdp, super::MAX_MESSAGE_LEN);
        let result = match &mut peer.state {
            PeerState::Offering { .. } => {
                let PeerState::Offering { pending } =
                    std::mem::replace(&mut peer.state, PeerState::Connecting)
                else {
                    unreachable!("matched just above")
                };
                peer.rtc_mut().sdp_api().accept_answer(pending, answer)
            }
            // Our ICE restart, answered; the path may have come back on its
            // own meanwhile, but the peer restarted its side, so ours must too.
            PeerState::Recovering { .. } | PeerState::Open => match peer.restart_pending.take() {
                Some(pending) => peer.rtc_mut().sdp_api().accept_answer(pending, answer),
                None => return,
            },
            _ => return,
        };
        match result {
            Ok(()) => self.pump(now, from),
            Err(e) => self.peer_error(now, from, e.to_string()),
        }
    }

    pub(super) fn on_candidate(
        &mut self,
        now: Instant,
        from: &Address,
        attempt: &AttemptId,
        line: &str,
    ) {
        let Some(peer) = self.peers.get(from) else {
            return;
        };
        if peer.attempt != *attempt {
            return;
        }
        self.note_remote_relays(line);
        let Some(peer) = self.peers.get_mut(from) else {
            return;
        };
        let Ok(candidate) = Candidate::from_sdp_string(line) else {
            return; // one bad candidate from a peer costs nothing else
        };
        if matches!(peer.state, PeerState::Incoming { .. }) {
            peer.early_candidates.push(candidate);
            return;
        }
        peer.rtc_mut().add_remote_candidate(candidate);
        self.pump(now, from);
    }

    pub(super) fn on_reject(
        &mut self,
        now: Instant,
        from: &Address,
        attempt: &AttemptId,
        reason: Option<String>,
    ) {
        let Some(peer) = self.peers.get(from).filter(|p| p.attempt == *attempt) else {
            return;
        };
        let reason = reason.unwrap_or_else(|| "declined".into());
        match peer.state {
            PeerState::Offering { .. } => self.fail_peer(from, ErrorCode::Rejected, reason),
            // Our restart lost a glare: the peer's own restart carries on.
            PeerState::Recovering { .. } | PeerState::Open if reason == "glare" => {
                if let Some(p) = self.peers.get_mut(from) {
                    p.restart_pending = None;
                }
            }
            // Our ICE restart was refused: the peer lost the connection (it
            // restarted, say), so ours is dead too.
            PeerState::Recovering { .. } => {
                self.shut_peer(now, from);
                self.event(EndpointEvent::PeerClosed {
                    peer: from.clone(),
                    reason: PeerCloseReason::RestartRefused { reason },
                });
            }
            _ => {}
        }
    }

    pub(super) fn on_cancel(
        &mut self,
        from: &Address,
        attempt: &AttemptId,
        reason: Option<String>,
    ) {
        let Some(peer) = self.peers.get(from) else {
            return;
        };
        if peer.attempt != *attempt {
            return;
        }
        let reason = reason.unwrap_or_else(|| "cancelled".into());
        // Once offer and answer are through, the connection no longer needs
        // the hub: the other side's hub session ending is no reason to stop.
        let hub_side_loss = matches!(reason.as_str(), "peer_gone" | "replaced");
        match peer.state {
            PeerState::Offering { .. } | PeerState::Incoming { .. } => {
                self.fail_peer(from, ErrorCode::Cancelled, reason)
            }
            PeerState::Connecting if !hub_side_loss => {
                self.fail_peer(from, ErrorCode::Cancelled, reason)
            }
            _ => {}
        }
    }

    /// The peer restarts ICE through the hub because the old path is gone.
    fn on_restart_offer(
        &mut self,
        now: Instant,
        from: &Address,
        attempt: AttemptId,
        offer: SdpOffer,
    ) {
        let we_sort_first = self.sorts_before(from);
        let Some(peer) = self.peers.get_mut(from).filter(|p| p.state.established()) else {
            return self.send_hub(&ClientMsg::Reject {
                attempt,
                to: from.clone(),
                reason: Some("no connection to restart".into()),
            });
        };
        // Restarts that cross (the peer's and one asked for here with
        // `Endpoint::restart_ice`): the session that sorts first keeps its
        // own, as with connection glare; the other drops its own and
        // answers, and hears `glare` for the one it dropped.
        if peer.restart_pending.is_some() {
            if we_sort_first {
                return self.send_hub(&ClientMsg::Reject {
                    attempt,
                    to: from.clone(),
                    reason: Some("glare".into()),
                });
            }
            // str0m rolls our pending offer back when it accepts theirs.
            peer.restart_pending = None;
        }
        peer.attempt = attempt.clone();
        // A restart offer supersedes anything we had in flight on the channel.
        peer.requeue_in_flight();
        match peer.rtc_mut().sdp_api().accept_offer(offer) {
            Ok(answer) => {
                self.send_hub(&ClientMsg::Answer {
                    attempt,
                    to: from.clone(),
                    sdp: self.signed(answer.to_sdp_string()),
                });
                self.pump(now, from);
            }
            Err(e) => self.peer_error(now, from, e.to_string()),
        }
    }

    /// Acts on a peer's own deadline: attempt timeouts and ICE recovery.
    pub(super) fn on_peer_deadline(&mut self, now: Instant, name: &Address) {
        let Some(peer) = self.peers.get(name) else {
            return;
        };
        if peer.deadline.is_none_or(|d| d > now) {
            return;
        }
        match peer.state {
            PeerState::Offering { .. } | PeerState::Connecting => {
                let attempt = peer.attempt.clone();
                // Answered, yet no path: say so, and why the relay did not help.
                let reason = match (&peer.state, self.relay_trouble()) {
                    (PeerState::Connecting, Some(relay)) => {
                        format!("no direct path, and no relay: {relay}")
                    }
                    _ => "no open channel before the deadline".into(),
                };
                self.send_hub_if_ready(&ClientMsg::Cancel {
                    attempt,
                    to: name.clone(),
                    reason: Some("timeout".into()),
                });
                self.shut_peer(now, name);
                self.event(EndpointEvent::PeerFailed {
                    peer: name.clone(),
                    code: ErrorCode::OfferTimeout,
                    reason,
                });
            }
            PeerState::Incoming { .. } => {
                let attempt = peer.attempt.clone();
                self.send_hub_if_ready(&ClientMsg::Reject {
                    attempt,
                    to: name.clone(),
                    reason: Some("not accepted in time".into()),
                });
                self.fail_peer(name, ErrorCode::OfferTimeout, "not accepted in time".into());
            }
            PeerState::Recovering {
                since,
                restart_sent,
            } => {
                if now >= since + self.config.recovery_limit {
                    self.shut_peer(now, name);
                    self.event(EndpointEvent::PeerClosed {
                        peer: name.clone(),
                        reason: PeerCloseReason::ConnectionLost,
                    });
                    return;
                }
                let initiator = self.sorts_before(name);
                if !restart_sent && initiator {
                    self.offer_restart(now, name, since);
                } else if let Some(p) = self.peers.get_mut(name) {
                    p.deadline = Some(since + self.config.recovery_limit);
                }
            }
            PeerState::Open => {
                if let Some(p) = self.peers.get_mut(name) {
                    p.deadline = None;
                }
            }
        }
    }

    /// Offers an ICE restart through the hub.
    pub(super) fn offer_restart(&mut self, now: Instant, name: &Address, since: Instant) {
        let limit = since + self.config.recovery_limit;
        let attempt = self.new_attempt_id();
        let Some(peer) = self.peers.get_mut(name) else {
            return;
        };
        peer.deadline = Some(limit);
        peer.requeue_in_flight();
        let mut change = peer.rtc_mut().sdp_api();
        change.ice_restart(true);
        let Some((offer, pending)) = change.apply() else {
            return;
        };
        peer.restart_pending = Some(pending);
        peer.attempt = attempt.clone();
        // A restart asked for on a live path leaves it open: nothing was lost.
        if matches!(peer.state, PeerState::Recovering { .. }) {
            peer.state = PeerState::Recovering {
                since,
                restart_sent: true,
            };
        }
        let to = name.clone();
        self.send_hub_if_ready(&ClientMsg::Offer {
            attempt,
            to,
            group: None,
            sdp: self.signed(offer.to_sdp_string()),
            restart: true,
        });
        self.pump(now, name);
    }
}
