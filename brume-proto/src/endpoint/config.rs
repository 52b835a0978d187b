//! What an endpoint is built with.

use core::net::SocketAddr;
use std::time::Duration;

use super::Certificate;

use crate::signal::DeviceName;

/// Everything an endpoint needs from its driver and user config.
#[derive(Debug, Clone)]
pub struct EndpointConfig {
    /// The access token sent in `hello`.
    pub access_token: String,
    /// The refresh token, used when the access token has expired.
    pub refresh_token: Option<String>,
    /// The device this endpoint's session holds at the hub. Default `"default"`.
    pub device: DeviceName,
    /// Take incoming calls addressed to the bare user (`calls` in `hello`).
    /// A short-lived command sets it false: the hub then gives it an
    /// instance name `device~N` and it ends no other session. Default true.
    pub accepts_calls: bool,
    /// With `accepts_calls`, end an older session that holds the same device
    /// (`replace` in `hello`). False leaves a held device to the program
    /// there (a `chat` beside a running `recv`): this endpoint then gets an
    /// instance name and takes no calls. Default true.
    pub replaces_device: bool,
    /// This device's DTLS certificate. The driver makes it once, keeps it with
    /// the user's config and hands it in: making one per connection costs
    /// milliseconds and OS randomness, and a stable fingerprint per device is
    /// what peer pinning builds on.
    pub dtls_cert: Certificate,
    /// This device's identity key, an ed25519 seed the driver makes once
    /// and keeps with the config: it signs the DTLS fingerprint in every
    /// offer and answer. `None` signs nothing (the peer pins nothing).
    pub identity_key: Option<[u8; 32]>,
    /// The identity keys (hex) of the devices met before, `user/device` →
    /// key, which the driver keeps with the config: a device presenting
    /// another is refused (`EIDENTITY`) until the user trusts it.
    pub pins: std::collections::BTreeMap<crate::signal::PeerId, String>,
    /// Seeds every choice the endpoint makes (attempt ids).
    pub seed: u64,
    /// From `connect` to an open channel; past it the attempt fails with
    /// `EOFFERTIMEOUT`. Default 15 s, under the hub's 30 s so the endpoint's
    /// own deadline is the one users see.
    pub connect_timeout: Duration,
    /// How long an incoming offer waits for `accept` before it is rejected.
    /// Default 25 s, under the hub's 30 s, so the callee's own deadline decides.
    pub incoming_timeout: Duration,
    /// How long an open peer may send nothing at all before it is reported
    /// unreachable ([`EndpointEvent::PeerReconnecting`]) and recovery starts.
    /// A live peer answers our ICE checks, one every `keepalive`, so this is
    /// three missed ones. str0m's ICE alone declares a path lost only 15 s
    /// after the peer's own last check (and ~20 s in all), too late for
    /// people. Default 3 s.
    ///
    /// [`EndpointEvent::PeerReconnecting`]: super::EndpointEvent::PeerReconnecting
    pub silence_limit: Duration,
    /// How often ICE checks a working path (str0m's maximum STUN
    /// retransmission timeout, 3 s by default there). Default 1 s.
    pub keepalive: Duration,
    /// How long a lost path may stay lost before the endpoint restarts ICE. Default 2 s.
    pub ice_restart_after: Duration,
    /// How long recovery may take, from the moment the peer was reported
    /// unreachable, before the endpoint gives up on it
    /// ([`EndpointEvent::PeerClosed`], "connection lost"). Default 30 s.
    ///
    /// [`EndpointEvent::PeerClosed`]: super::EndpointEvent::PeerClosed
    pub recovery_limit: Duration,
    /// How long a channel this endpoint opened may wait for the peer's
    /// acknowledgement before it is closed (`ChannelClosed`): str0m can
    /// leave a channel on a just-reused stream id unanswered for good (see
    /// `endpoint/opening.rs`). Default 10 s, str0m's own limit for opening
    /// a stream while an old one's reset is under way.
    pub channel_open_timeout: Duration,
    /// A STUN server for a server-reflexive candidate, if any.
    pub stun_server: Option<SocketAddr>,
    /// A TURN server for a relay candidate, if any (see `endpoint/relay.rs`).
    pub turn_server: Option<TurnServer>,
    /// str0m's SCTP send buffer across all channels of one peer. The default
    /// 128 KiB caps throughput at 128 KiB per round trip; 1 MiB keeps a
    /// 100 Mbit/s, 50 ms path full.
    pub sctp_max_buffered_amount: usize,
    /// SNAP puts the SCTP INIT in the SDP and saves a round trip at connect.
    pub snap: bool,
    /// Repair random loss below SCTP (see `endpoint/fec.rs`): report the
    /// loss of what arrives, send parity when the peer reports loss, and
    /// hold datagrams behind a gap while the peer sends parity. Default on;
    /// off, this endpoint neither reports nor sends parity.
    pub datagram_parity: bool,
    /// After this long without a frame from the hub, the endpoint pings it.
    /// Default 15 s (the hub pings a quiet client after 20 s, so a live hub
    /// is seldom pinged).
    pub hub_quiet_after: Duration,
    /// If nothing at all arrives within this long of that ping, the hub
    /// connection counts as lost (`CloseHub`, then `HubClosed`), so the
    /// driver reconnects instead of waiting on a mute socket. Default 10 s.
    pub hub_answer_within: Duration,
}

impl EndpointConfig {
    /// A config with the documented defaults.
    pub fn new(access_token: String, dtls_cert: Certificate, seed: u64) -> Self {
        Self {
            access_token,
            refresh_token: None,
            device: DeviceName::default(),
            accepts_calls: true,
            replaces_device: true,
            dtls_cert,
            identity_key: None,
            pins: Default::default(),
            seed,
            connect_timeout: Duration::from_secs(15),
            incoming_timeout: Duration::from_secs(25),
            silence_limit: Duration::from_secs(3),
            keepalive: Duration::from_secs(1),
            ice_restart_after: Duration::from_secs(2),
            recovery_limit: Duration::from_secs(30),
            channel_open_timeout: Duration::from_secs(10),
            stun_server: None,
            turn_server: None,
            sctp_max_buffered_amount: 1024 * 1024,
            snap: true,
            datagram_parity: true,
            hub_quiet_after: Duration::from_secs(15),
            hub_answer_within: Duration::from_secs(10),
        }
    }
}

/// A TURN server and the credentials to allocate on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TurnServer {
    /// Its UDP address.
    pub addr: SocketAddr,
    /// Long-term credentials (from the hub, in coturn's shared-secret scheme).
    pub credentials: crate::turn::TurnCredentials,
}
