//! The client side of Brume: a sans-IO endpoint that signals through the hub
//! and owns one str0m `Rtc` per remote user.
//!
//! # Contract
//!
//! The driver owns the hub connection, the UDP sockets and the clock.
//!
//! - **Inputs**: [`Endpoint::hub_connected`], [`Endpoint::handle_hub_frame`],
//!   [`Endpoint::hub_closed`], [`Endpoint::add_local_address`],
//!   [`Endpoint::handle_datagram`] and [`Endpoint::handle_timeout`], each with `now`.
//! - **Application calls**: [`Endpoint::connect`], [`Endpoint::accept`],
//!   [`Endpoint::reject`], [`Endpoint::send`], [`Endpoint::add_media`],
//!   [`Endpoint::open_channel`], [`Endpoint::channel_write`],
//!   [`Endpoint::subscribe`], [`Endpoint::ping`], [`Endpoint::close_peer`],
//!   [`Endpoint::stop`].
//! - **Outputs**: after any of those, drain [`Endpoint::poll_output`] until
//!   `None` (hub frames, datagrams with source and destination, events), then
//!   wake at [`Endpoint::poll_timeout`] and call `handle_timeout`.
//!
//! Every str0m `Rtc` is drained until it asks for a timeout after each input
//! or mutation, inside these calls, so the driver sees one surface.
//!
//! # Connection attempts
//!
//! `offering` (our offer sent) or `incoming` (their offer waits for
//! `accept`) → `connecting` (ICE, DTLS, SCTP) → `open` (main channel up) ⇄
//! `recovering` (the peer silent for `silence_limit`, or ICE lost; open again
//! when heard on a path ICE still holds, restarted after `ice_restart_after`,
//! given up after `recovery_limit`; see `liveness.rs`). Failures are reported as [`EndpointEvent::PeerFailed`]
//! with a Brume error code.
//!
//! **Glare.** When two users connect to each other at once, the offer of the
//! user whose name sorts first stands: that side rejects the other's offer
//! (`glare`), and the other side cancels its own and answers. Exactly one
//! connection results.
//!
//! **After the channel opens** all signaling for that peer goes over the data
//! channel (control messages, see [`crate::framing`]): media changes are
//! offered and answered there, and new channels need no signaling at all (an
//! offer or answer the full send buffer refuses waits in the peer's outbox,
//! see `outbox.rs`, and is never dropped). The
//! one exception is an ICE restart after the path is lost: the data channel
//! rides on that very path, so the restart offer goes through the hub (an
//! `offer` with `restart: true`), sent by the user whose name sorts first.

mod certificate;
mod channel_id;
mod close_reason;
mod config;
mod contacts;
mod control;
mod event;
mod fec;
mod holdback;
mod hub_watch;
mod identity;
mod liveness;
mod media;
mod negotiate;
mod opening;
mod outbox;
mod peer;
mod ping;
mod relay;
mod relay_retry;
mod rpc;
mod signaling;
mod spare;
mod status;
mod stun;

use core::net::SocketAddr;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Instant;

use str0m::channel::ChannelConfig;
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Input, Rtc};

pub use certificate::{Certificate, CertificateError};
pub use channel_id::ChannelId;
pub use close_reason::PeerCloseReason;
pub use config::{EndpointConfig, TurnServer};
pub use contacts::ContactsRequest;
pub use event::{EndpointEvent, EndpointOutput, Transmit};
pub use fec::FecStats;
use holdback::{Arrival, Datagram};
pub use identity::{
    Fingerprint, certificate_fingerprint, identity_public_key, pin_key, sdp_fingerprint, short_form,
};
pub use media::{Direction, MediaId, MediaKind};
pub use peer::MAIN_CHANNEL;
pub use ping::MAX_PING_DATA;
pub use relay::PeerPath;
pub use rpc::{MAX_MODULE_LEN, MAX_RPC_IN_FLIGHT, RpcError};
pub use status::PeerStatus;
pub use stun::binding_response;

use crate::error::ErrorCode;
use crate::framing::{self, Data, FramingError, Namespace};
use crate::signal::{Address, AttemptId, ClientMsg, GroupId, PeerId, UserName, encode_client};
use outbox::{ControlKind, ControlOutbox};
use peer::{Drained, MediaRequest, Peer, PeerState};
use signaling::HubState;
use stun::StunClient;

/// Why an application call was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    /// No ready signaling session (`ENOSRV`).
    #[error("no signaling server connection")]
    NoServer,
    /// No connection to that user.
    #[error("no connection to {0}")]
    NoPeer(Address),
    /// The connection exists but its channel is not open.
    #[error("the connection to {0} is not open")]
    NotOpen(Address),
    /// The call does not fit the connection's state.
    #[error("{0}")]
    WrongState(String),
    /// The message could not be framed.
    #[error(transparent)]
    Framing(#[from] FramingError),
    /// str0m refused the operation.
    #[error("webrtc: {0}")]
    Rtc(String),
    /// The send buffer towards the peer, shared by all its channels, is
    /// full: nothing was sent; try again once it drains.
    #[error("the send buffer towards {0} is full")]
    SendBufferFull(Address),
    /// The endpoint has stopped.
    #[error("the endpoint has stopped")]
    Stopped,
}

impl EndpointError {
    /// The Brume error code closest to this failure.
    pub fn code(&self) -> ErrorCode {
        match self {
            EndpointError::NoServer | EndpointError::Stopped => ErrorCode::NoServer,
            EndpointError::NoPeer(_) | EndpointError::NotOpen(_) => ErrorCode::NoDest,
            EndpointError::WrongState(_) | EndpointError::Framing(_) => ErrorCode::BadMessage,
            EndpointError::Rtc(_) => ErrorCode::Negotiation,
            EndpointError::SendBufferFull(_) => ErrorCode::Busy,
        }
    }
}

/// The largest message the main channel accepts, in bytes.
pub const MAX_MESSAGE_LEN: usize = 256 * 1024;

/// The client endpoint. See the module documentation for the contract.
#[derive(Debug)]
pub struct Endpoint {
    config: EndpointConfig,
    rng: fastrand::Rng,
    hub: HubState,
    local_addrs: BTreeSet<SocketAddr>,
    stun: Option<StunClient>,
    /// The server-reflexive candidate STUN found: (mapped, base).
    srflx: Option<(SocketAddr, SocketAddr)>,
    /// The TURN allocation, if a server is configured (see `relay.rs`).
    turn: Option<crate::turn::TurnClient>,
    /// When to try the TURN server again after a failed allocation.
    relay_retry: relay_retry::RelayRetry,
    /// Peers' relay candidates: a path to one of them is relayed too.
    remote_relays: BTreeSet<SocketAddr>,
    peers: BTreeMap<Address, Peer>,
    /// A ready-built Rtc for the next connection (see `new_rtc`).
    spare: spare::Spare,
    /// The latest `now` seen, to ask for an immediate timeout.
    last_now: Instant,
    /// The next Brume channel id.
    next_channel: u64,
    /// Remote addresses whose STUN named a peer's Rtc.
    learned: BTreeMap<SocketAddr, Address>,
    /// Peers whose Rtc took channel writes or thresholds since it was last
    /// drained. One drain after a burst of writes costs what one after each
    /// write would (sctp-proto scans everything in flight on every poll), so
    /// it waits for the next output, timeout or input, whichever comes first.
    unpumped: BTreeSet<Address>,
    /// Users whose presence the application asked for; asked again of every
    /// new hub session, so a watch outlives a hub outage.
    subscriptions: BTreeSet<UserName>,
    /// Whether the hub still answers.
    hub_watch: hub_watch::HubWatch,
    /// Modules served and requests waiting for answers.
    rpc: rpc::Rpc,
    /// The fingerprint each peer's latest SDP carried, pinned on open.
    presented: BTreeMap<Address, String>,
    outputs: VecDeque<EndpointOutput>,
    /// A drain's buffers, kept between pumps: a busy connection drains
    /// after every datagram, and would allocate them each time.
    scratch: Drained,
    stopped: bool,
}

impl Endpoint {
    /// A new endpoint; nothing happens until the driver connects to the hub.
    pub fn new(config: EndpointConfig, now: Instant) -> Self {
        let rng = fastrand::Rng::with_seed(config.seed);
        let stun = config.stun_server.map(StunClient::new);
        let mut spare = spare::Spare::default();
        spare.put(now, Self::bare_rtc(&config, now));
        let hub_watch = hub_watch::HubWatch::new(config.hub_quiet_after, config.hub_answer_within);
        Self {
            spare,
            last_now: now,
            next_channel: 0,
            config,
            rng,
            hub: HubState::Disconnected,
            local_addrs: BTreeSet::new(),
            stun,
            srflx: None,
            turn: None,
            relay_retry: Default::default(),
            remote_relays: BTreeSet::new(),
            peers: BTreeMap::new(),
            learned: BTreeMap::new(),
            unpumped: BTreeSet::new(),
            subscriptions: BTreeSet::new(),
            hub_watch,
            rpc: rpc::Rpc::default(),
            presented: BTreeMap::new(),
            outputs: VecDeque::new(),
            scratch: Drained::default(),
            stopped: false,
        }
    }

    // ----- getters -----

    /// What the endpoint was built with (tokens as last refreshed).
    pub fn config(&self) -> &EndpointConfig {
        &self.config
    }

    /// This endpoint's user name, once the hub has authenticated it.
    pub fn user(&self) -> Option<&UserName> {
        self.hub.user()
    }

    /// This endpoint's user and device, once the hub has authenticated it.
    pub fn me(&self) -> Option<&PeerId> {
        self.hub.me()
    }

    /// True if this session sorts before `peer` by (user, device): its
    /// offer stands in glare, and it is the one to restart ICE.
    pub(super) fn sorts_before(&self, peer: &Address) -> bool {
        match (self.me(), peer) {
            (Some(me), Address::Device(p)) => me < p,
            (Some(me), Address::User(u)) => me.user < *u,
            (None, _) => false,
        }
    }

    /// True when connections can be started.
    pub fn is_ready(&self) -> bool {
        self.hub.user().is_some() && !self.stopped
    }

    /// The state of the connection to `peer`; `None` if there is none.
    pub fn peer_state(&self, peer: &Address) -> Option<PeerStatus> {
        self.peers.get(peer).map(|p| p.state.status())
    }

    /// The users this endpoint has a connection or an attempt with, sorted.
    pub fn peers(&self) -> impl Iterator<Item = &Address> {
        self.peers.keys()
    }

    /// Bytes queued on a channel and not yet acknowledged, as of the
    /// connection's latest input or write.
    pub fn buffered_amount(&self, peer: &Address, channel: ChannelId) -> Option<usize> {
        self.peers.get(peer)?.channels.buffered(channel)
    }

    /// Bytes the peer's send buffer, which all its channels share, still
    /// takes: a write larger than this is refused.
    pub fn send_room(&self, peer: &Address) -> usize {
        self.peers.get(peer).map_or(0, |p| {
            let held = p.main_buffered + p.channels.total_buffered();
            self.config.sctp_max_buffered_amount.saturating_sub(held)
        })
    }

    /// What datagram protection did on this connection (see `fec.rs`).
    pub fn fec_stats(&self, peer: &Address) -> Option<FecStats> {
        self.peers.get(peer).map(|p| p.fec.stats())
    }

    /// The largest data-channel message both sides accept on this connection.
    pub fn max_message_size(&self, peer: &Address) -> Option<usize> {
        let p = self.peers.get(peer)?;
        Some(p.remote_max_message.min(MAX_MESSAGE_LEN))
    }

    /// Bytes queued on the peer's main channel and not yet acknowledged;
    /// [`Endpoint::send`] refuses messages once str0m's buffer is full.
    pub fn main_buffered_amount(&self, peer: &Address) -> Option<usize> {
        let p = self.peers.get(peer)?;
        p.main.map(|_| p.main_buffered)
    }

    // ----- network inputs -----

    /// A local address the driver has a UDP socket bound to: a host candidate.
    pub fn add_local_address(&mut self, now: Instant, addr: SocketAddr) {
        if !self.local_addrs.insert(addr) {
            return;
        }
        let trans_id: [u8; 12] = std::array::from_fn(|_| self.rng.u8(..));
        if let Some(stun) = &mut self.stun {
            stun.add_base(now, addr, trans_id);
        }
        let Ok(candidate) = Candidate::host(addr, "udp") else {
            return;
        };
        self.add_candidate_to_all(now, candidate);
        self.drain_stun();
        self.start_relay(now, addr);
    }

    /// A datagram arrived on the socket bound to `destination`.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        source: SocketAddr,
        destination: SocketAddr,
        contents: &[u8],
    ) {
        self.last_now = self.last_now.max(now);
        self.pump_deferred(now);
        if let Some(stun) = &mut self.stun
            && let Some(mapped) = stun.handle_response(source, destination, contents)
        {
            self.on_srflx(now, mapped, destination);
            return;
        }
        match self.unwrap_relayed(now, source, destination, contents) {
            None => self.route_datagram(now, source, destination, contents),
            Some(Some((peer, relay, data))) => self.route_datagram(now, peer, relay, &data),
            Some(None) => {}
        }
    }

    /// A datagram for a peer: parity, or one for an `Rtc`.
    fn route_datagram(
        &mut self,
        now: Instant,
        source: SocketAddr,
        destination: SocketAddr,
        contents: &[u8],
    ) {
        if matches!(contents.first(), Some(&fec::PARITY | &fec::REPORT)) {
            // Only from an address STUN tied to a peer.
            let Some(name) = self.learned.get(&source).cloned() else {
                return;
            };
            let rebuilt = self
                .peers
                .get_mut(&name)
                .and_then(|p| p.fec.on_fec_datagram(contents));
            if let Some(rebuilt) = rebuilt {
                self.receive(now, source, destination, &rebuilt, true);
            }
            return;
        }
        self.receive(now, source, destination, contents, false);
    }

    /// A datagram for an `Rtc`, as it came or `rebuilt` from parity.
    fn receive(
        &mut self,
        now: Instant,
        source: SocketAddr,
        destination: SocketAddr,
        contents: &[u8],
        rebuilt: bool,
    ) {
        let Ok(receive) = Receive::new(Protocol::Udp, source, destination, contents) else {
            return; // not STUN, DTLS, RTP or RTCP: nobody's
        };
        let input = Input::Receive(now, receive);
        let owner = self
            .peers
            .iter()
            .find(|(_, p)| p.rtc().accepts(&input))
            .map(|(name, _)| name.clone());
        // STUN names its Rtc by ufrag, so the address it came from is known to
        // be that peer's. str0m only accepts DTLS from an address once its own
        // check on that pair succeeded, which can come a moment after the
        // peer's first DTLS flight; without this, that flight is dropped and
        // the handshake waits a full one-second retransmission.
        let is_stun = contents.first().is_some_and(|b| *b < 2);
        let owner = match owner {
            Some(name) => {
                if is_stun && self.learned.insert(source, name.clone()).is_none() {
                    let peers = &self.peers;
                    self.learned.retain(|_, n| peers.contains_key(n));
                }
                Some(name)
            }
            None => self.learned.get(&source).cloned(),
        };
        let Some(name) = owner.filter(|n| self.peers.contains_key(n)) else {
            return;
        };
        let Some(peer) = self.peers.get_mut(&name) else {
            return;
        };
        let mut released = Vec::new();
        let path = (source, destination);
        let (arrival, report) = peer
            .fec
            .on_receive(now, path, contents, rebuilt, &mut released);
        let delivered = if arrival == Arrival::Deliver {
            peer.rtc_mut().handle_input(input).map(|_| true)
        } else {
            Ok(false)
        };
        if let Some(report) = report {
            self.transmit(now, None, report);
        }
        match delivered {
            Err(e) => return self.peer_error(now, &name, e.to_string()),
            Ok(true) => self.pump(now, &name),
            Ok(false) => {}
        }
        self.deliver(now, &name, released);
        let on_path = self
            .peers
            .get(&name)
            .is_some_and(|p| p.selected_pair.is_none_or(|s| s == (destination, source)));
        if on_path {
            self.on_heard(now, &name);
        }
    }

    /// Hands datagrams that waited behind a gap to a peer's Rtc, in order,
    /// draining it after each as after any input (DTLS bounds its queue).
    fn deliver(&mut self, now: Instant, name: &Address, datagrams: Vec<Datagram>) {
        for d in datagrams {
            let Some(peer) = self.peers.get_mut(name) else {
                return;
            };
            let Ok(receive) = Receive::new(Protocol::Udp, d.source, d.destination, &d.contents)
            else {
                continue;
            };
            if let Err(e) = peer.rtc_mut().handle_input(Input::Receive(now, receive)) {
                return self.peer_error(now, name, e.to_string());
            }
            self.pump(now, name);
        }
    }

    /// Time has reached [`Endpoint::poll_timeout`] (or later).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.last_now = self.last_now.max(now);
        self.pump_deferred(now);
        self.refill_spare(now);
        if let Some(stun) = &mut self.stun {
            stun.handle_timeout(now);
        }
        self.drain_stun();
        if let Some(turn) = &mut self.turn {
            turn.handle_timeout(now);
        }
        self.drain_turn(now);
        self.retry_relay(now);
        self.check_hub(now);
        self.expire_rpc(now);
        let names: Vec<Address> = self.peers.keys().cloned().collect();
        for name in names {
            self.check_silence(now, &name);
            self.check_channel_opens(now, &name);
            self.on_peer_deadline(now, &name);
            let Some(peer) = self.peers.get_mut(&name) else {
                continue;
            };
            let parity = peer.fec.on_timeout(now);
            let mut released = Vec::new();
            peer.fec.release_due(now, &mut released);
            if let Some(parity) = parity {
                self.transmit(now, None, parity);
            }
            self.deliver(now, &name, released);
            let Some(peer) = self.peers.get_mut(&name) else {
                continue;
            };
            if peer.rtc_timeout <= now {
                if let Err(e) = peer.rtc_mut().handle_input(Input::Timeout(now)) {
                    self.peer_error(now, &name, e.to_string());
                    continue;
                }
                self.pump(now, &name);
            }
        }
    }

    // ----- application calls -----

    /// Connects to `peer`, optionally scoped to a group, or returns the
    /// connection that already exists (Brume's semantics). Progress comes as
    /// events: [`EndpointEvent::PeerOpen`] or [`EndpointEvent::PeerFailed`].
    pub fn connect(
        &mut self,
        now: Instant,
        peer: &Address,
        group: Option<GroupId>,
    ) -> Result<(), EndpointError> {
        if self.stopped {
            return Err(EndpointError::Stopped);
        }
        match self.peers.get(peer).map(|p| &p.state) {
            Some(PeerState::Incoming { .. }) => return self.accept(now, peer),
            Some(_) => return Ok(()),
            None => {}
        }
        // A bare call to a user we already have a connection with (or a
        // call from) is that connection: name the device to reach another.
        if let Address::User(user) = peer
            && let Some((key, state)) = self.peers.iter().find(|(k, _)| k.user() == user)
        {
            if matches!(state.state, PeerState::Incoming { .. }) {
                let key = key.clone();
                return self.accept(now, &key);
            }
            return Ok(());
        }
        if !self.is_ready() {
            return Err(EndpointError::NoServer);
        }
        self.start_offer(now, peer, group)
    }

    /// Accepts the incoming attempt from `peer`, once the application is set up for it.
    pub fn accept(&mut self, now: Instant, peer: &Address) -> Result<(), EndpointError> {
        self.accept_incoming(now, peer)
    }

    /// Declines the incoming attempt from `peer`.
    pub fn reject(
        &mut self,
        now: Instant,
        peer: &Address,
        reason: &str,
    ) -> Result<(), EndpointError> {
        let Some(p) = self.peers.get(peer) else {
            return Err(EndpointError::NoPeer(peer.clone()));
        };
        if !matches!(p.state, PeerState::Incoming { .. }) {
            return Err(EndpointError::WrongState(format!(
                "no incoming attempt from {peer}"
            )));
        }
        let attempt = p.attempt.clone();
        self.peers.remove(peer);
        self.send_hub(&ClientMsg::Reject {
            attempt,
            to: peer.clone(),
            reason: Some(reason.to_owned()),
        });
        let _ = now;
        Ok(())
    }

    /// Sends an application message `{type: kind, data}` on the peer's main channel.
    pub fn send(
        &mut self,
        now: Instant,
        peer: &Address,
        kind: &str,
        data: &Data,
    ) -> Result<(), EndpointError> {
        let bytes = framing::encode(kind, data)?;
        self.write_main(now, peer, &bytes)
    }

    /// Adds an audio or video track, negotiated over the data channel.
    pub fn add_media(
        &mut self,
        now: Instant,
        peer: &Address,
        kind: MediaKind,
        direction: Direction,
    ) -> Result<(), EndpointError> {
        let p = self.open_peer(peer)?;
        p.reneg_queue.push(MediaRequest::Add {
            kind: kind.to_str0m(),
            direction: direction.to_str0m(),
        });
        self.renegotiate(now, peer);
        Ok(())
    }

    /// Stops a track, negotiated over the data channel.
    pub fn remove_media(
        &mut self,
        now: Instant,
        peer: &Address,
        mid: MediaId,
    ) -> Result<(), EndpointError> {
        let p = self.open_peer(peer)?;
        p.reneg_queue.push(MediaRequest::Stop(mid.to_str0m()));
        self.renegotiate(now, peer);
        Ok(())
    }

    /// The tracks of the connection to `peer`, with their kinds.
    pub fn media(&self, peer: &Address) -> Vec<(MediaId, MediaKind)> {
        let Some(p) = self.peers.get(peer) else {
            return Vec::new();
        };
        p.mids
            .iter()
            .filter_map(|mid| {
                let kind = MediaKind::from_str0m(p.rtc().media(*mid)?.kind());
                Some((MediaId::from_str0m(*mid), kind))
            })
            .collect()
    }

    /// Closes a data channel opened with [`Endpoint::open_channel`] (or by the peer).
    pub fn close_channel(
        &mut self,
        now: Instant,
        peer: &Address,
        channel: ChannelId,
    ) -> Result<(), EndpointError> {
        let p = self.open_peer(peer)?;
        let Some(raw) = p.channels.raw(channel) else {
            return Err(EndpointError::WrongState(format!("no {channel} to close")));
        };
        if p.main == Some(raw) {
            return Err(EndpointError::WrongState(
                "the main channel closes with the connection".into(),
            ));
        }
        p.rtc_mut().direct_api().close_data_channel(raw);
        self.pump(now, peer);
        Ok(())
    }

    /// Opens another data channel to `peer` (for a file transfer, say). No
    /// signaling is needed: the channel is announced in-band.
    pub fn open_channel(
        &mut self,
        now: Instant,
        peer: &Address,
        label: &str,
    ) -> Result<ChannelId, EndpointError> {
        let deadline = now + self.config.channel_open_timeout;
        let mut next = self.next_channel;
        let p = self.open_peer(peer)?;
        let config = ChannelConfig {
            label: label.to_owned(),
            ..ChannelConfig::default()
        };
        let raw = p.rtc_mut().direct_api().create_data_channel(config);
        let id = p.channels.name(raw, &mut next);
        self.next_channel = next;
        let p = self.open_peer(peer)?;
        p.opening.push((raw, deadline));
        self.pump(now, peer);
        Ok(id)
    }

    /// Writes raw bytes on another data channel. `Ok(false)` means the send
    /// buffer is full: wait for [`EndpointEvent::ChannelBufferedLow`].
    pub fn channel_write(
        &mut self,
        now: Instant,
        peer: &Address,
        channel: ChannelId,
        data: &[u8],
    ) -> Result<bool, EndpointError> {
        let p = self.open_peer(peer)?;
        let Some(raw) = p.channels.raw(channel) else {
            return Err(EndpointError::WrongState(format!("{channel} is not open")));
        };
        let Some(mut ch) = p.rtc_to_write().channel(raw) else {
            return Err(EndpointError::WrongState(format!("{channel} is not open")));
        };
        let accepted = ch
            .write(true, data)
            .map_err(|e| EndpointError::Rtc(e.to_string()))?;
        p.record_level(raw);
        self.defer_pump(now, peer);
        Ok(accepted)
    }

    /// Sets the level below which a channel reports [`EndpointEvent::ChannelBufferedLow`].
    pub fn set_buffered_low(
        &mut self,
        now: Instant,
        peer: &Address,
        channel: ChannelId,
        threshold: usize,
    ) -> Result<(), EndpointError> {
        let p = self.open_peer(peer)?;
        let Some(mut ch) = p
            .channels
            .raw(channel)
            .and_then(|raw| p.rtc_mut().channel(raw))
        else {
            return Err(EndpointError::WrongState(format!("{channel} is not open")));
        };
        ch.set_buffered_amount_low_threshold(threshold);
        // str0m hands the threshold to SCTP on its next poll, which must come
        // before the next input: the very SACK that crosses the threshold
        // would otherwise be weighed against the old one, and the event
        // never come. Every input drains deferred peers first.
        self.defer_pump(now, peer);
        Ok(())
    }

    /// Asks the hub for presence of these users, now if the hub session is
    /// ready and again at the start of every later session (after a hub
    /// outage, say), so the watch lasts as long as the endpoint.
    pub fn subscribe(&mut self, users: Vec<UserName>) -> Result<(), EndpointError> {
        if self.stopped {
            return Err(EndpointError::Stopped);
        }
        self.subscriptions.extend(users.iter().cloned());
        if self.is_ready() {
            self.send_hub(&ClientMsg::Subscribe { users });
        }
        Ok(())
    }

    /// Restarts ICE on an open connection through the hub, now, rather
    /// than once it has been silent for `ice_restart_after` (the
    /// application knows its network changed, say). Channels, tracks and
    /// transfers carry on. One restart at a time: asked while one is in
    /// flight, it does nothing.
    pub fn restart_ice(&mut self, now: Instant, peer: &Address) -> Result<(), EndpointError> {
        let p = self.open_peer(peer)?;
        if p.restart_pending.is_some() {
            return Ok(());
        }
        let since = match p.state {
            PeerState::Recovering { since, .. } => since,
            _ => now,
        };
        self.offer_restart(now, peer, since);
        Ok(())
    }

    /// Closes the connection to `peer` (or abandons the attempt), with events.
    pub fn close_peer(&mut self, now: Instant, peer: &Address) -> Result<(), EndpointError> {
        let Some(p) = self.peers.get(peer) else {
            return Err(EndpointError::NoPeer(peer.clone()));
        };
        match p.state {
            PeerState::Incoming { .. } => return self.reject(now, peer, "closed"),
            PeerState::Offering { .. } | PeerState::Connecting => {
                let attempt = p.attempt.clone();
                self.send_hub_if_ready(&ClientMsg::Cancel {
                    attempt,
                    to: peer.clone(),
                    reason: Some("closed".into()),
                });
            }
            PeerState::Open | PeerState::Recovering { .. } => {}
        }
        self.shut_peer(now, peer);
        self.event(EndpointEvent::PeerClosed {
            peer: peer.clone(),
            reason: PeerCloseReason::Local,
        });
        Ok(())
    }

    /// Closes every connection and the signaling session, then reports [`EndpointEvent::Stopped`].
    pub fn stop(&mut self, now: Instant) {
        if self.stopped {
            return;
        }
        let names: Vec<Address> = self.peers.keys().cloned().collect();
        for name in names {
            let _ = self.close_peer(now, &name);
        }
        if !matches!(self.hub, HubState::Disconnected | HubState::Closed) {
            self.send_hub(&ClientMsg::Close {
                reason: Some("stop".into()),
            });
            self.outputs.push_back(EndpointOutput::CloseHub);
        }
        if let Some(turn) = &mut self.turn {
            turn.deallocate(now);
        }
        self.drain_turn(now);
        self.hub = HubState::Closed;
        self.hub_watch.stop();
        self.stopped = true;
        self.event(EndpointEvent::Stopped);
    }

    // ----- outputs -----

    /// The next thing for the driver to do, or `None`.
    #[must_use]
    pub fn poll_output(&mut self) -> Option<EndpointOutput> {
        if self.outputs.is_empty() {
            self.pump_deferred(self.last_now);
        }
        self.outputs.pop_front()
    }

    /// When to call [`Endpoint::handle_timeout`] next; `None` if nothing is pending.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let silence = self.config.silence_limit;
        let peers = self.peers.values().map(|p| p.next_timeout(silence));
        let stun = self.stun.as_ref().and_then(StunClient::next_timeout);
        let turn = self
            .turn
            .as_ref()
            .and_then(crate::turn::TurnClient::poll_timeout);
        // A missing spare is built at the next quiet moment, an old one
        // replaced when it expires.
        let spare = (!self.stopped && !self.connecting()).then(|| {
            self.spare
                .expires_at()
                .map_or(self.last_now, |at| at.max(self.last_now))
        });
        // A deferred drain is due now (for a driver that did not poll output).
        let deferred = (!self.unpumped.is_empty()).then_some(self.last_now);
        let hub = self.hub_watch.next_timeout();
        let rpc = self.rpc.next_timeout();
        let relay_retry = self.relay_retry.next_timeout();
        peers
            .chain(stun)
            .chain(turn)
            .chain(spare)
            .chain(deferred)
            .chain(hub)
            .chain(rpc)
            .chain(relay_retry)
            .min()
    }

    // ----- internals -----

    fn event(&mut self, e: EndpointEvent) {
        let gone = match &e {
            EndpointEvent::PeerClosed { peer, .. } | EndpointEvent::PeerFailed { peer, .. } => {
                Some(peer.clone())
            }
            _ => None,
        };
        self.outputs.push_back(EndpointOutput::Event(e));
        // After the close, so the application hears the peer go first.
        if let Some(peer) = gone {
            self.fail_rpc(&peer);
            // An identity presented by an attempt that never opened.
            self.presented.remove(&peer);
        }
    }

    fn send_hub(&mut self, msg: &ClientMsg) {
        self.outputs
            .push_back(EndpointOutput::HubFrame(encode_client(msg)));
    }

    fn send_hub_if_ready(&mut self, msg: &ClientMsg) {
        if self.hub.user().is_some() {
            self.send_hub(msg);
        }
    }

    fn new_attempt_id(&mut self) -> AttemptId {
        let id = format!("{:016x}", self.rng.u64(..));
        // 16 hex digits always make a valid id.
        AttemptId::new(id).expect("hex ids are valid attempt ids")
    }

    /// An Rtc with the endpoint's certificate and tuning, no candidates yet.
    pub(crate) fn bare_rtc(config: &EndpointConfig, now: Instant) -> Rtc {
        let mut rtc = Rtc::builder()
            .set_dtls_cert(config.dtls_cert.to_str0m())
            .set_snap_enabled(config.snap)
            .set_sctp_max_buffered_amount(config.sctp_max_buffered_amount)
            .set_stats_interval(None);
        // A check of the working path every keepalive: what `silence_limit`
        // counts on hearing from a live peer.
        rtc.set_max_stun_rto(config.keepalive);
        rtc.build(now)
    }

    /// An Rtc for a new connection, with this endpoint's candidates. Building
    /// one costs about a millisecond of CPU (str0m's DTLS layer validates its
    /// crypto provider each time), so a spare is kept ready, built while no
    /// connection is being set up, and connecting never waits for it.
    fn new_rtc(&mut self, now: Instant) -> Rtc {
        let mut rtc = match self.spare.take_fresh(now) {
            Some(rtc) => rtc,
            None => Self::bare_rtc(&self.config, now),
        };
        for addr in &self.local_addrs {
            if let Ok(c) = Candidate::host(*addr, "udp") {
                rtc.add_local_candidate(c);
            }
        }
        if let Some((mapped, base)) = self.srflx
            && let Ok(c) = Candidate::server_reflexive(mapped, base, "udp")
        {
            rtc.add_local_candidate(c);
        }
        if let Some(c) = self.relay_candidate() {
            rtc.add_local_candidate(c);
        }
        rtc
    }

    /// True while some connection is being set up: not the time for slow work.
    fn connecting(&self) -> bool {
        self.peers.values().any(|p| !p.state.established())
    }

    /// Builds the spare Rtc if it is missing and the moment is quiet.
    fn refill_spare(&mut self, now: Instant) {
        if self.spare.wanted(now) && !self.stopped && !self.connecting() {
            self.spare.put(now, Self::bare_rtc(&self.config, now));
        }
    }

    fn open_peer(&mut self, peer: &Address) -> Result<&mut Peer, EndpointError> {
        match self.peers.get_mut(peer) {
            None => Err(EndpointError::NoPeer(peer.clone())),
            Some(p) if !p.state.established() => Err(EndpointError::NotOpen(peer.clone())),
            Some(p) => Ok(p),
        }
    }

    fn write_main(
        &mut self,
        now: Instant,
        peer: &Address,
        bytes: &[u8],
    ) -> Result<(), EndpointError> {
        let p = self.open_peer(peer)?;
        let Some(main) = p.main else {
            return Err(EndpointError::NotOpen(peer.clone()));
        };
        let Some(mut ch) = p.rtc_mut().channel(main) else {
            return Err(EndpointError::NotOpen(peer.clone()));
        };
        match ch.write(true, bytes) {
            Ok(true) => {}
            Ok(false) => return Err(EndpointError::SendBufferFull(peer.clone())),
            Err(e) => return Err(EndpointError::Rtc(e.to_string())),
        }
        self.pump(now, peer);
        Ok(())
    }

    /// Adds a local candidate to every peer, trickling it to those still signaling.
    fn add_candidate_to_all(&mut self, now: Instant, candidate: Candidate) {
        let names: Vec<Address> = self.peers.keys().cloned().collect();
        for name in names {
            let Some(p) = self.peers.get_mut(&name) else {
                continue;
            };
            let Some(added) = p.rtc_mut().add_local_candidate(candidate.clone()) else {
                continue;
            };
            let line = added.to_sdp_string();
            if matches!(p.state, PeerState::Offering { .. } | PeerState::Connecting) {
                let attempt = p.attempt.clone();
                self.send_hub_if_ready(&ClientMsg::Candidate {
                    attempt,
                    to: name.clone(),
                    candidate: line,
                });
            }
            self.pump(now, &name);
        }
    }

    fn on_srflx(&mut self, now: Instant, mapped: SocketAddr, base: SocketAddr) {
        if self.srflx == Some((mapped, base)) {
            return;
        }
        self.srflx = Some((mapped, base));
        if let Ok(c) = Candidate::server_reflexive(mapped, base, "udp") {
            self.add_candidate_to_all(now, c);
        }
    }

    fn drain_stun(&mut self) {
        let Some(stun) = &mut self.stun else {
            return;
        };
        while let Some(t) = stun.poll_transmit() {
            self.outputs.push_back(EndpointOutput::Transmit(t));
        }
    }

    /// Marks a peer's Rtc for a drain before the next output, timeout or input.
    fn defer_pump(&mut self, now: Instant, name: &Address) {
        self.last_now = self.last_now.max(now);
        if !self.unpumped.contains(name) {
            self.unpumped.insert(name.clone());
        }
    }

    /// Drains every peer whose drain was deferred.
    pub(super) fn pump_deferred(&mut self, now: Instant) {
        while let Some(name) = self.unpumped.pop_first() {
            self.pump(now, &name);
        }
    }

    /// Drains a peer's Rtc, acting on its events, until it is quiet.
    fn pump(&mut self, now: Instant, name: &Address) {
        self.unpumped.remove(name);
        // Control messages that waited for room go first: the input that
        // led here may have freed some.
        if !self.flush_control(now, name) {
            return;
        }
        // Each event handler may write (an answer, a control message), which
        // needs another drain; a peer cannot keep this going forever because
        // every round consumes events str0m produced from finite input. An
        // Rtc nothing reached since its last drain is not drained again.
        for _ in 0..64 {
            let Some(peer) = self.peers.get_mut(name) else {
                return;
            };
            if !peer.needs_drain() {
                break;
            }
            let mut drained = std::mem::take(&mut self.scratch);
            peer.drain(&mut drained);
            // Each datagram, then the parity it completes, if any.
            let mut at = 0;
            while at < drained.transmits.len() {
                if let Some(parity) = peer.fec.on_send(now, &drained.transmits[at]) {
                    drained.transmits.insert(at + 1, parity);
                    at += 1;
                }
                at += 1;
            }
            for t in drained.transmits.drain(..) {
                self.transmit(now, Some(name), t);
            }
            if let Some(err) = drained.error.take() {
                self.scratch = drained;
                return self.peer_error(now, name, err);
            }
            let quiet = drained.events.is_empty();
            let events = std::mem::take(&mut drained.events);
            self.scratch = drained;
            if quiet {
                break;
            }
            for e in events {
                self.on_rtc_event(now, name, e);
            }
        }
        if let Some(peer) = self.peers.get(name)
            && !peer.rtc().is_alive()
            && peer.state.established()
        {
            self.peers.remove(name);
            self.event(EndpointEvent::PeerClosed {
                peer: name.clone(),
                reason: PeerCloseReason::Ended,
            });
        }
    }

    /// Starts an orderly close of a peer's Rtc and forgets it once drained.
    fn shut_peer(&mut self, now: Instant, name: &Address) {
        let Some(mut peer) = self.peers.remove(name) else {
            return;
        };
        if peer.rtc_mut().close().is_ok() {
            let mut drained = Drained::default();
            peer.drain(&mut drained);
            for t in drained.transmits {
                self.transmit(now, None, t);
            }
        }
    }

    /// A peer's Rtc failed: contained to that peer.
    fn peer_error(&mut self, now: Instant, name: &Address, error: String) {
        let Some(peer) = self.peers.remove(name) else {
            return;
        };
        let _ = now;
        if peer.state.established() {
            self.event(EndpointEvent::PeerClosed {
                peer: name.clone(),
                reason: PeerCloseReason::Webrtc { error },
            });
        } else {
            self.event(EndpointEvent::PeerFailed {
                peer: name.clone(),
                code: ErrorCode::Negotiation,
                reason: error,
            });
        }
    }

    fn fail_peer(&mut self, name: &Address, code: ErrorCode, reason: String) {
        if self.peers.remove(name).is_some() {
            self.event(EndpointEvent::PeerFailed {
                peer: name.clone(),
                code,
                reason,
            });
        }
    }

    /// Queues a control message on the peer's main channel and writes what
    /// the send buffer has room for; the rest goes out before later drains
    /// (see `outbox.rs`). A message that cannot be written at all ends the
    /// connection, since the peer's renegotiation would wait for it forever.
    fn write_control(&mut self, now: Instant, name: &Address, kind: ControlKind, text: String) {
        let label = match kind {
            ControlKind::Offer => control::SDP_OFFER,
            ControlKind::Answer => control::SDP_ANSWER,
            ControlKind::Ping => ping::PING,
            ControlKind::Pong => ping::PONG,
            ControlKind::Rpc => rpc::RPC,
            ControlKind::RpcResult => rpc::RPC_RESULT,
        };
        let queued = framing::encode_in(Namespace::Control, label, &Data::Text(text))
            .map_err(|e| e.to_string())
            .and_then(|bytes| {
                let peer = self.peers.get_mut(name).ok_or("no peer")?;
                peer.control.push(kind, bytes).map_err(|_| {
                    format!(
                        "more than {} control messages wait for room",
                        ControlOutbox::LIMIT
                    )
                })
            });
        match queued {
            Ok(()) => self.pump(now, name),
            Err(e) => self.close_for_control(now, name, e),
        }
    }

    /// Writes the peer's waiting control messages that fit; false if a write
    /// failed outright and the connection was closed for it.
    fn flush_control(&mut self, now: Instant, name: &Address) -> bool {
        let Some(peer) = self.peers.get_mut(name) else {
            return true;
        };
        if peer.control.is_empty() {
            return true;
        }
        match peer.flush_control() {
            Ok(()) => true,
            Err(e) => {
                self.close_for_control(now, name, e.to_string());
                false
            }
        }
    }

    fn close_for_control(&mut self, now: Instant, name: &Address, error: String) {
        if !self.peers.contains_key(name) {
            return;
        }
        self.shut_peer(now, name);
        self.event(EndpointEvent::PeerClosed {
            peer: name.clone(),
            reason: PeerCloseReason::ControlWrite { error },
        });
    }
}
