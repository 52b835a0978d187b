//! What a peer's Rtc reports, and Brume's control messages on the main
//! channel: renegotiation after the channel opens never touches the hub.

use std::time::Instant;

use str0m::change::{SdpAnswer, SdpOffer};
use str0m::{Event, IceConnectionState};

use super::outbox::ControlKind;
use super::peer::{MAIN_CHANNEL, MediaRequest, Peer, PeerState};
use super::{
    Direction, Endpoint, EndpointEvent, MAX_MESSAGE_LEN, MediaId, MediaKind, PeerCloseReason,
};
use super::{ping, rpc};
use crate::framing::{self, Data, Namespace};
use crate::signal::Address;

/// Control message kinds (in the control namespace of the main channel).
pub(super) const SDP_OFFER: &str = "sdp-offer";
pub(super) const SDP_ANSWER: &str = "sdp-answer";

impl Endpoint {
    pub(super) fn on_rtc_event(&mut self, now: Instant, name: &Address, event: Event) {
        match event {
            Event::IceConnectionStateChange(state) => self.on_ice_state(now, name, state),
            Event::ChannelOpen(id, label) => {
                let Some(peer) = self.peers.get_mut(name) else {
                    return;
                };
                if label == MAIN_CHANNEL && peer.main.is_none() {
                    peer.main = Some(id);
                    if matches!(peer.state, PeerState::Connecting) {
                        peer.state = PeerState::Open;
                        peer.deadline = None;
                        peer.last_heard = now;
                        self.event(EndpointEvent::PeerOpen { peer: name.clone() });
                        self.pin_on_open(name);
                        self.renegotiate(now, name);
                    }
                } else {
                    peer.opening.retain(|(c, _)| *c != id);
                    let channel = peer.channels.name(id, &mut self.next_channel);
                    self.event(EndpointEvent::ChannelOpen {
                        peer: name.clone(),
                        channel,
                        label,
                    });
                }
            }
            Event::ChannelData(d) => {
                let Some(peer) = self.peers.get_mut(name) else {
                    return;
                };
                if Some(d.id) != peer.main {
                    let channel = peer.channels.name(d.id, &mut self.next_channel);
                    return self.event(EndpointEvent::ChannelData {
                        peer: name.clone(),
                        channel,
                        data: d.data,
                    });
                }
                match framing::decode(&d.data, MAX_MESSAGE_LEN) {
                    Ok(msg) if msg.namespace == Namespace::App => {
                        self.event(EndpointEvent::Message {
                            peer: name.clone(),
                            kind: msg.kind,
                            data: msg.data,
                        })
                    }
                    Ok(msg) => self.on_control(now, name, &msg.kind, msg.data),
                    Err(e) => self.event(EndpointEvent::BadMessage {
                        peer: name.clone(),
                        error: e.to_string(),
                    }),
                }
            }
            Event::ChannelClose(id) => {
                if let Some(p) = self.peers.get_mut(name) {
                    p.opening.retain(|(c, _)| *c != id);
                }
                let main = self.peers.get(name).and_then(|p| p.main);
                if Some(id) == main {
                    self.shut_peer(now, name);
                    self.event(EndpointEvent::PeerClosed {
                        peer: name.clone(),
                        reason: PeerCloseReason::Remote,
                    });
                } else if let Some(channel) =
                    self.peers.get_mut(name).and_then(|p| p.channels.forget(id))
                {
                    self.event(EndpointEvent::ChannelClosed {
                        peer: name.clone(),
                        channel,
                    });
                }
            }
            Event::ChannelBufferedAmountLow(id) => {
                let Some(peer) = self.peers.get_mut(name) else {
                    return;
                };
                let channel = peer.channels.name(id, &mut self.next_channel);
                self.event(EndpointEvent::ChannelBufferedLow {
                    peer: name.clone(),
                    channel,
                })
            }
            Event::MediaAdded(m) => {
                if let Some(p) = self.peers.get_mut(name) {
                    p.mids.insert(m.mid);
                }
                self.event(EndpointEvent::MediaAdded {
                    peer: name.clone(),
                    mid: MediaId::from_str0m(m.mid),
                    kind: MediaKind::from_str0m(m.kind),
                })
            }
            Event::MediaChanged(m) => self.event(EndpointEvent::MediaChanged {
                peer: name.clone(),
                mid: MediaId::from_str0m(m.mid),
                direction: Direction::from_str0m(m.direction),
            }),
            Event::Closed if self.peers.remove(name).is_some() => {
                self.event(EndpointEvent::PeerClosed {
                    peer: name.clone(),
                    reason: PeerCloseReason::Remote,
                });
            }
            _ => {}
        }
    }

    fn on_ice_state(&mut self, now: Instant, name: &Address, state: IceConnectionState) {
        let restart_after = self.config.ice_restart_after;
        let Some(peer) = self.peers.get_mut(name) else {
            return;
        };
        match (&peer.state, Peer::path_lost(state)) {
            (PeerState::Open, true) => {
                peer.state = PeerState::Recovering {
                    since: now,
                    restart_sent: false,
                };
                peer.deadline = Some(now + restart_after);
                self.event(EndpointEvent::PeerReconnecting { peer: name.clone() });
            }
            (PeerState::Recovering { .. }, false)
                if matches!(
                    state,
                    IceConnectionState::Connected | IceConnectionState::Completed
                ) =>
            {
                peer.state = PeerState::Open;
                peer.deadline = None;
                peer.last_heard = now;
                peer.restart_pending = None;
                self.event(EndpointEvent::PeerReconnected { peer: name.clone() });
                self.renegotiate(now, name);
            }
            _ => {}
        }
    }

    fn on_control(&mut self, now: Instant, name: &Address, kind: &str, data: Data) {
        let Data::Text(text) = data else {
            return self.bad_control(name, kind);
        };
        match kind {
            SDP_OFFER => self.on_channel_offer(now, name, &text),
            SDP_ANSWER => self.on_channel_answer(now, name, &text),
            ping::PING => self.on_ping(now, name, text),
            ping::PONG => self.on_pong(now, name, &text),
            rpc::RPC => self.on_rpc(now, name, &text),
            rpc::RPC_RESULT => self.on_rpc_result(name, &text),
            _ => {} // a newer peer's control message: ignored
        }
    }

    fn bad_control(&mut self, name: &Address, kind: &str) {
        self.event(EndpointEvent::BadMessage {
            peer: name.clone(),
            error: format!("control message {kind} without text"),
        });
    }

    /// Perfect negotiation: on an offer collision the user whose name sorts
    /// first ignores the other's offer; the other rolls its own back, answers,
    /// and offers its changes again afterwards.
    fn on_channel_offer(&mut self, now: Instant, name: &Address, sdp: &str) {
        self.note_remote_relays(sdp);
        let Ok(offer) = SdpOffer::from_sdp_string(sdp) else {
            return self.bad_control(name, SDP_OFFER);
        };
        let impolite = self.sorts_before(name);
        let Some(peer) = self.peers.get_mut(name) else {
            return;
        };
        if peer.reneg_in_flight.is_some() {
            if impolite {
                return;
            }
            peer.requeue_in_flight();
        }
        match peer.rtc_mut().sdp_api().accept_offer(offer) {
            Ok(answer) => {
                self.pump(now, name);
                self.write_control(now, name, ControlKind::Answer, answer.to_sdp_string());
                self.renegotiate(now, name);
            }
            Err(e) => self.event(EndpointEvent::BadMessage {
                peer: name.clone(),
                error: format!("renegotiation offer refused: {e}"),
            }),
        }
    }

    fn on_channel_answer(&mut self, now: Instant, name: &Address, sdp: &str) {
        self.note_remote_relays(sdp);
        let Ok(answer) = SdpAnswer::from_sdp_string(sdp) else {
            return self.bad_control(name, SDP_ANSWER);
        };
        let Some(peer) = self.peers.get_mut(name) else {
            return;
        };
        let Some((pending, _)) = peer.reneg_in_flight.take() else {
            return; // rolled back already
        };
        if let Err(e) = peer.rtc_mut().sdp_api().accept_answer(pending, answer) {
            self.event(EndpointEvent::BadMessage {
                peer: name.clone(),
                error: format!("renegotiation answer refused: {e}"),
            });
        }
        self.pump(now, name);
        self.renegotiate(now, name);
    }

    /// Offers the queued media changes over the data channel, one offer at a time.
    pub(super) fn renegotiate(&mut self, now: Instant, name: &Address) {
        let Some(peer) = self.peers.get_mut(name) else {
            return;
        };
        if !matches!(peer.state, PeerState::Open)
            || peer.reneg_in_flight.is_some()
            || peer.reneg_queue.is_empty()
        {
            return;
        }
        let requests = std::mem::take(&mut peer.reneg_queue);
        let mut added = Vec::new();
        let mut change = peer.rtc_mut().sdp_api();
        for r in &requests {
            match *r {
                MediaRequest::Add { kind, direction } => {
                    let mid = change.add_media(kind, direction, None, None, None);
                    added.push(mid);
                }
                MediaRequest::Stop(mid) => change.stop_media(mid),
            }
        }
        let Some((offer, pending)) = change.apply() else {
            return;
        };
        peer.mids.extend(added);
        // In flight from here on: the offer is never dropped, only queued
        // until the send buffer has room (or withdrawn by a rollback).
        peer.reneg_in_flight = Some((pending, requests));
        self.write_control(now, name, ControlKind::Offer, offer.to_sdp_string());
    }
}
