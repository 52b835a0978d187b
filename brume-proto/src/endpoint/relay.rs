//! The endpoint's TURN relay: one allocation, from the first local address of
//! the server's family, whose relayed address becomes one more local
//! candidate for every `Rtc`.
//!
//! str0m sends from a relay candidate with that candidate's address as the
//! source and expects its answers addressed to it. So every datagram an `Rtc`
//! sends from the relay address is wrapped here (ChannelData to the server),
//! and every peer datagram the server relays is unwrapped and handed on as
//! if it had arrived at the relay address from the peer. Peers are told
//! apart by their own addresses as the relay saw them, so any number of
//! them can share the one relay address. The driver only moves datagrams.
//!
//! Path choice is ICE's: a relay candidate has the lowest type preference,
//! so a working direct pair wins, and the relayed pair carries the
//! connection only while no direct one works. The path each peer's
//! DTLS/SCTP traffic takes is watched here and reported on each change
//! ([`EndpointEvent::PathChanged`]).

use core::net::SocketAddr;
use std::time::Instant;

use str0m::Candidate;

use super::{Endpoint, EndpointEvent, EndpointOutput, Transmit};
use crate::signal::Address;
use crate::turn::{Received, TurnClient, TurnEvent};

/// The path a peer's traffic takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PeerPath {
    /// Straight between the two hosts (host or server-reflexive candidates).
    Direct,
    /// Through a TURN relay, ours or the peer's.
    Relayed,
}

impl core::fmt::Display for PeerPath {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            PeerPath::Direct => "direct",
            PeerPath::Relayed => "relayed",
        })
    }
}

/// Peers' relay addresses remembered at most.
const MAX_REMOTE_RELAYS: usize = 256;

/// DTLS records (content types 20–63) carry a connection's data, and go
/// only on the pair ICE selected; STUN checks go on every pair.
fn is_dtls(contents: &[u8]) -> bool {
    contents.first().is_some_and(|b| (20..=63).contains(b))
}

impl Endpoint {
    /// Starts the allocation from `base` if a TURN server is configured and
    /// none is under way.
    pub(super) fn start_relay(&mut self, now: Instant, base: SocketAddr) {
        let Some(server) = &self.config.turn_server else {
            return;
        };
        if self.turn.is_some() || server.addr.is_ipv4() != base.is_ipv4() {
            return;
        }
        let seed = self.rng.u64(..);
        let client = TurnClient::new(now, server.addr, base, server.credentials.clone(), seed);
        self.turn = Some(client);
        self.drain_turn(now);
    }

    /// The hub handed out TURN credentials: they replace the configured
    /// ones, and start an allocation unless a working one exists (which
    /// keeps the credentials it was made with).
    pub(super) fn on_turn_grant(
        &mut self,
        now: Instant,
        server: SocketAddr,
        username: String,
        password: String,
    ) {
        let credentials = crate::turn::TurnCredentials { username, password };
        self.config.turn_server = Some(super::TurnServer {
            addr: server,
            credentials,
        });
        let working = self
            .turn
            .as_ref()
            .is_some_and(|t| t.server() == server && !t.is_over());
        if working {
            return;
        }
        self.turn = None;
        let base = self
            .local_addrs
            .iter()
            .find(|a| a.is_ipv4() == server.is_ipv4())
            .copied();
        if let Some(base) = base {
            self.start_relay(now, base);
        }
    }

    /// A failed allocation's retry is due: ask the server afresh, from the
    /// same base, with the latest credentials.
    pub(super) fn retry_relay(&mut self, now: Instant) {
        if !self.relay_retry.due(now) {
            return;
        }
        let Some(base) = self
            .turn
            .as_ref()
            .filter(|t| t.is_over())
            .map(crate::turn::TurnClient::base)
        else {
            return;
        };
        self.turn = None;
        self.start_relay(now, base);
    }

    /// The path `peer`'s traffic takes, once it has sent any.
    pub fn peer_path(&self, peer: &Address) -> Option<PeerPath> {
        self.peers.get(peer)?.path
    }

    /// Why the relay cannot help right now, if one is configured and has
    /// no allocation: for the reason of a connection that found no path.
    pub(super) fn relay_trouble(&self) -> Option<String> {
        let turn = self.turn.as_ref()?;
        if turn.relay_address().is_some() {
            return None;
        }
        Some(match turn.failure() {
            Some(e) => e.to_string(),
            None => format!("TURN server {} has not answered yet", turn.server()),
        })
    }

    /// The relayed address, once allocated.
    pub(super) fn relay_address(&self) -> Option<SocketAddr> {
        self.turn.as_ref().and_then(TurnClient::relay_address)
    }

    /// The relay candidate, once allocated.
    pub(super) fn relay_candidate(&self) -> Option<Candidate> {
        let turn = self.turn.as_ref()?;
        Candidate::relayed(turn.relay_address()?, turn.base(), "udp").ok()
    }

    /// A datagram from the TURN server: `None` if handled here, else the
    /// (source, destination, contents) to route as if it came from a peer.
    pub(super) fn unwrap_relayed(
        &mut self,
        now: Instant,
        source: SocketAddr,
        destination: SocketAddr,
        contents: &[u8],
    ) -> Option<Option<(SocketAddr, SocketAddr, Vec<u8>)>> {
        let turn = self.turn.as_mut().filter(|t| t.base() == destination)?;
        let routed = match turn.handle_datagram(now, source, contents) {
            Received::NotOurs => return None,
            Received::Handled => None,
            Received::Data { peer, data } => turn.relay_address().map(|relay| (peer, relay, data)),
        };
        self.drain_turn(now);
        Some(routed)
    }

    /// Every datagram an `Rtc` (or its parity) sends goes out here: wrapped
    /// for the relay if it leaves from the relay address, and watched for
    /// the path it takes.
    pub(super) fn transmit(&mut self, now: Instant, peer: Option<&Address>, t: Transmit) {
        let ours = self.relay_address() == Some(t.source);
        let relayed = ours || self.remote_relays.contains(&t.destination);
        if let Some(name) = peer
            && is_dtls(&t.contents)
        {
            let path = if relayed {
                PeerPath::Relayed
            } else {
                PeerPath::Direct
            };
            self.note_path(name, path);
            if let Some(peer) = self.peers.get_mut(name) {
                peer.selected_pair = Some((t.source, t.destination));
            }
        }
        if !ours {
            self.outputs.push_back(EndpointOutput::Transmit(t));
            return;
        }
        if let Some(turn) = &mut self.turn {
            turn.send_to(now, t.destination, &t.contents);
            while let Some(t) = turn.poll_transmit() {
                self.outputs.push_back(EndpointOutput::Transmit(t));
            }
        }
    }

    /// Remembers the relay candidates in an SDP or a candidate line
    /// (`candidate:<foundation> <component> <proto> <priority> <ip> <port>
    /// typ relay ...`), bounded so a peer cannot grow it without end.
    pub(super) fn note_remote_relays(&mut self, sdp: &str) {
        for line in sdp.lines() {
            let Some((_, rest)) = line.split_once("candidate:") else {
                continue;
            };
            let fields: Vec<&str> = rest.split_whitespace().collect();
            if fields.get(6..8) != Some(&["typ", "relay"][..]) {
                continue;
            }
            let (Some(ip), Some(port)) = (fields.get(4), fields.get(5)) else {
                continue;
            };
            if let (Ok(ip), Ok(port)) = (ip.parse(), port.parse()) {
                if self.remote_relays.len() >= MAX_REMOTE_RELAYS {
                    self.remote_relays.pop_first();
                }
                self.remote_relays.insert(SocketAddr::new(ip, port));
            }
        }
    }

    fn note_path(&mut self, name: &Address, path: PeerPath) {
        let Some(peer) = self.peers.get_mut(name) else {
            return;
        };
        if peer.path == Some(path) {
            return;
        }
        peer.path = Some(path);
        self.event(EndpointEvent::PathChanged {
            peer: name.clone(),
            path,
        });
    }

    /// The relay's datagrams to the driver, and its events acted on.
    pub(super) fn drain_turn(&mut self, now: Instant) {
        let Some(turn) = &mut self.turn else {
            return;
        };
        while let Some(t) = turn.poll_transmit() {
            self.outputs.push_back(EndpointOutput::Transmit(t));
        }
        let events: Vec<TurnEvent> = std::iter::from_fn(|| turn.poll_event()).collect();
        for e in events {
            match e {
                TurnEvent::Allocated { .. } => {
                    self.relay_retry.on_allocated();
                    if let Some(c) = self.relay_candidate() {
                        self.add_candidate_to_all(now, c);
                    }
                }
                TurnEvent::Failed(error) => {
                    self.relay_retry.on_failed(now);
                    self.event(EndpointEvent::RelayFailed {
                        error: error.to_string(),
                    })
                }
                // The binding is tried again on the next datagram to that peer.
                TurnEvent::PeerRefused { .. } => {}
            }
        }
    }
}
