//! What an endpoint hands its driver and its application.

use core::net::SocketAddr;
use std::time::Duration;

use crate::endpoint::ChannelId;

use super::{Direction, MediaId, MediaKind, PeerCloseReason};
use crate::error::ErrorCode;
use crate::framing::Data;
use crate::signal::{Address, CloseReason, DeviceName, GroupId, UserName};

/// A datagram to send from `source` (one of the driver's local addresses) to `destination`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// The local address to send from; the driver must use the socket bound to it.
    pub source: SocketAddr,
    /// Where to send it.
    pub destination: SocketAddr,
    /// The bytes.
    pub contents: Vec<u8>,
}

/// Something for the driver to do, in order.
#[derive(Debug)]
pub enum EndpointOutput {
    /// Send this text frame to the hub.
    HubFrame(String),
    /// Close the hub connection (after sending what was queued).
    CloseHub,
    /// Send a UDP datagram.
    Transmit(Transmit),
    /// Tell the application.
    Event(EndpointEvent),
}

/// What happened, for the application.
#[derive(Debug, Clone, PartialEq)]
pub enum EndpointEvent {
    /// The signaling session is authenticated as `user`.
    Ready {
        /// This endpoint's user name (the token's subject).
        user: UserName,
        /// The device this session holds, as the hub confirmed it.
        device: DeviceName,
    },
    /// The access token was refreshed; store the new one with the config.
    Reauth {
        /// The new access token.
        access_token: String,
        /// Its expiry, seconds since the Unix epoch.
        expires_at: u64,
    },
    /// The signaling session ended; open peers carry on.
    HubClosed {
        /// The hub's reason, if it gave one.
        reason: Option<CloseReason>,
        /// A failure that ended it (for example a refused token), if any.
        error: Option<ErrorCode>,
    },
    /// The hub reported an error that concerns no peer.
    HubError {
        /// The code.
        code: ErrorCode,
        /// The hub's words.
        message: String,
    },
    /// The hub's answer to `ContactsRequest::Invite`.
    Invitation {
        /// The single-use token to hand to the person it is for.
        token: String,
        /// The alias the request named.
        alias: String,
        /// When it stops being claimable, Unix seconds.
        expires_at: u64,
    },
    /// A new contact: this user claimed an invitation, or one of theirs
    /// was claimed.
    Contact {
        /// The contact.
        user: UserName,
        /// This user's name for them.
        alias: String,
    },
    /// The hub's answer to `ContactsRequest::List`, sorted by user.
    Contacts {
        /// The contacts.
        contacts: Vec<crate::signal::ContactEntry>,
    },
    /// A watched user came online or went offline.
    Presence {
        /// The user.
        user: UserName,
        /// Whether any device of theirs takes calls.
        online: bool,
        /// Their online devices that take calls, sorted.
        devices: Vec<DeviceName>,
    },
    /// `peer` wants to connect; call `accept` after setting up, or `reject`.
    Incoming {
        /// Who is calling.
        peer: Address,
        /// The group the attempt is scoped to, if any.
        group: Option<GroupId>,
    },
    /// The data channel to `peer` is open.
    PeerOpen {
        /// The peer.
        peer: Address,
    },
    /// An attempt to or from `peer` failed before it opened.
    PeerFailed {
        /// The peer.
        peer: Address,
        /// Why, as a Brume error code.
        code: ErrorCode,
        /// Detail for people.
        reason: String,
    },
    /// An open connection ended.
    PeerClosed {
        /// The peer.
        peer: Address,
        /// Why.
        reason: PeerCloseReason,
    },
    /// `peer` is unreachable: silent for `silence_limit` (3 s), or ICE lost
    /// the path. The endpoint is trying to recover (an ICE restart after
    /// `ice_restart_after`); past `recovery_limit` it gives up with
    /// [`EndpointEvent::PeerClosed`].
    PeerReconnecting {
        /// The peer.
        peer: Address,
    },
    /// `peer` is reachable again, on the same path or a restarted one.
    PeerReconnected {
        /// The peer.
        peer: Address,
    },
    /// An application message arrived on the peer's main channel.
    Message {
        /// From whom.
        peer: Address,
        /// Its `type`.
        kind: String,
        /// Its `data`.
        data: Data,
    },
    /// `peer` answered our [`Endpoint::ping`](super::Endpoint::ping).
    Pong {
        /// Who answered.
        peer: Address,
        /// The nonce `ping` returned.
        nonce: u32,
        /// From the ping's call to the pong's arrival.
        rtt: Duration,
    },
    /// A device met for the first time: its fingerprint is now pinned;
    /// the driver keeps it with the config.
    PeerPinned {
        /// The device.
        peer: Address,
        /// Its fingerprint.
        fingerprint: String,
    },
    /// A device presented another fingerprint than the one pinned: a hub
    /// in the middle, or a device that was set up again. Its attempt
    /// fails with `EIDENTITY`; it connects again only once the user trusts
    /// the new fingerprint (`Endpoint::pin`).
    IdentityChanged {
        /// The device.
        peer: Address,
        /// What was pinned.
        pinned: String,
        /// What it presented now.
        presented: String,
    },
    /// `peer` asks a module this endpoint serves; answer with `respond`.
    RpcRequest {
        /// Who asks.
        peer: Address,
        /// The request's id, for `respond`.
        id: u64,
        /// The module asked.
        module: String,
        /// What the requester sent.
        payload: serde_json::Value,
    },
    /// The one outcome of a `request` of ours.
    RpcResponse {
        /// Whom it was sent to.
        peer: Address,
        /// The id `request` returned.
        id: u64,
        /// The handler's answer, or why there is none.
        result: Result<serde_json::Value, super::RpcError>,
    },
    /// A message on the main channel could not be read; it was dropped.
    BadMessage {
        /// From whom.
        peer: Address,
        /// What was wrong with it.
        error: String,
    },
    /// Another data channel opened (by either side).
    ChannelOpen {
        /// The peer.
        peer: Address,
        /// The channel.
        channel: ChannelId,
        /// Its label.
        label: String,
    },
    /// Bytes arrived on another data channel.
    ChannelData {
        /// The peer.
        peer: Address,
        /// The channel.
        channel: ChannelId,
        /// The bytes.
        data: Vec<u8>,
    },
    /// A channel's buffered amount fell below its low threshold: write more.
    ChannelBufferedLow {
        /// The peer.
        peer: Address,
        /// The channel.
        channel: ChannelId,
    },
    /// Another data channel closed.
    ChannelClosed {
        /// The peer.
        peer: Address,
        /// The channel.
        channel: ChannelId,
    },
    /// The peer added a media track (negotiated over the data channel).
    MediaAdded {
        /// The peer.
        peer: Address,
        /// The track's media id.
        mid: MediaId,
        /// Audio or video.
        kind: MediaKind,
    },
    /// A track's direction changed; `Inactive` once either side stopped it.
    MediaChanged {
        /// The peer.
        peer: Address,
        /// The track's media id.
        mid: MediaId,
        /// Its direction now.
        direction: Direction,
    },
    /// The path to `peer` changed: first chosen, fell back to the relay,
    /// or moved back to direct.
    PathChanged {
        /// The peer.
        peer: Address,
        /// The path its traffic takes now.
        path: super::PeerPath,
    },
    /// The TURN relay could not be had or was lost; only direct paths remain.
    RelayFailed {
        /// Why, naming the server (for people).
        error: String,
    },
    /// The endpoint has stopped; nothing more will happen.
    Stopped,
}
