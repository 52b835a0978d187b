//! The client↔hub messages: JSON objects tagged by `type`, one per WebSocket text frame.
//!
//! Clients name the other party in `to`, an [`Address`] (a user or one of
//! their devices); the hub replaces it with `from`, the authenticated
//! sender's [`PeerId`], when it relays. docs/PROTOCOL.md documents each one.

use serde::{Deserialize, Serialize};

use super::address::{Address, DeviceName, PeerId};
use super::names::{AttemptId, GroupId, GroupName, UserName};
use crate::error::ErrorCode;

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_true(b: &bool) -> bool {
    *b
}

fn yes() -> bool {
    true
}

/// The protocol version this crate speaks, sent in `hello` and `welcome`.
pub const PROTOCOL_VERSION: u32 = 2;

/// A message from a client to the hub.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMsg {
    /// Opens the session: the protocol version and an access token.
    Hello {
        /// The protocol version the client speaks.
        version: u32,
        /// The access token (a JWT); absent means `ETOKENMISSING`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token: Option<String>,
        /// The device this session holds (a base name); absent means `"default"`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        device: Option<DeviceName>,
        /// This session accepts incoming calls (absent: true). A session that
        /// does not is given an instance name `device~N` and replaces no one.
        #[serde(default = "yes", skip_serializing_if = "is_true")]
        calls: bool,
        /// With `calls`, whether this session ends an older live session on
        /// the same device (absent: true). False leaves a held device to its
        /// session: this one then gets an instance name and takes no calls,
        /// as with `calls: false`.
        #[serde(default = "yes", skip_serializing_if = "is_true")]
        replace: bool,
    },
    /// Trades a refresh token for a new access token; also authenticates a
    /// session that has not yet done so.
    Refresh {
        /// The protocol version the client speaks.
        version: u32,
        /// The refresh token; absent means `ETOKENMISSING`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        refresh_token: Option<String>,
        /// The device this session holds (a base name); absent means `"default"`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        device: Option<DeviceName>,
        /// This session accepts incoming calls (absent: true). A session that
        /// does not is given an instance name `device~N` and replaces no one.
        #[serde(default = "yes", skip_serializing_if = "is_true")]
        calls: bool,
        /// With `calls`, whether this session ends an older live session on
        /// the same device (absent: true). False leaves a held device to its
        /// session: this one then gets an instance name and takes no calls,
        /// as with `calls: false`.
        #[serde(default = "yes", skip_serializing_if = "is_true")]
        replace: bool,
    },
    /// Starts a connection attempt to `to`, carrying the offer SDP.
    Offer {
        /// The caller's id for this attempt.
        attempt: AttemptId,
        /// The callee: a user, or one device.
        to: Address,
        /// Scopes the attempt to a group both users belong to.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        group: Option<GroupId>,
        /// The offer SDP.
        sdp: String,
        /// An ICE restart of the connection the two already have, not a new one.
        #[serde(default, skip_serializing_if = "is_false")]
        restart: bool,
    },
    /// The callee's answer SDP.
    Answer {
        /// The attempt being answered.
        attempt: AttemptId,
        /// The caller (its user, or its exact device).
        to: Address,
        /// The answer SDP.
        sdp: String,
    },
    /// A trickled ICE candidate for an attempt, from either side.
    Candidate {
        /// The attempt the candidate belongs to.
        attempt: AttemptId,
        /// The other side of the attempt (its user, or its exact device).
        to: Address,
        /// The candidate line, as in SDP (`candidate:…`).
        candidate: String,
    },
    /// The callee declines an attempt.
    Reject {
        /// The attempt being declined.
        attempt: AttemptId,
        /// The caller (its user, or its exact device).
        to: Address,
        /// Why, for people.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// Either side abandons an attempt.
    Cancel {
        /// The attempt being abandoned.
        attempt: AttemptId,
        /// The other side of the attempt (its user, or its exact device).
        to: Address,
        /// Why, for people.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// Asks for presence of these users: their current state now, changes later.
    Subscribe {
        /// The users to watch.
        users: Vec<UserName>,
    },
    /// Stops presence notifications for these users.
    Unsubscribe {
        /// The users to stop watching.
        users: Vec<UserName>,
    },
    /// Publishes the membership of one of the sender's own groups (its `.members`).
    Members {
        /// The group's name; its owner is the sender.
        group: GroupName,
        /// Every member; the owner is implied.
        members: Vec<UserName>,
    },
    /// Keepalive; the hub answers `pong` with the same nonce.
    Ping {
        /// Echoed in the `pong`.
        nonce: u32,
    },
    /// The answer to a hub `ping`.
    Pong {
        /// The nonce of the `ping`.
        nonce: u32,
    },
    /// The client is leaving.
    Close {
        /// Why, for logs.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// Asks for an invitation token for someone the sender will call `alias`.
    Invite {
        /// The sender's name for the person the token is meant for.
        alias: String,
    },
    /// Claims an invitation: the sender and its inviter become contacts.
    Claim {
        /// The invitation token, as the inviter passed it on.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token: Option<String>,
        /// The sender's name for the inviter.
        alias: String,
    },
    /// Asks for the sender's contacts; the hub answers `contacts`.
    Contacts {},
}

/// A message from the hub to a client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum HubMsg {
    /// The session is authenticated.
    Welcome {
        /// The protocol version the hub speaks.
        version: u32,
        /// The authenticated user name (the token's subject).
        user: UserName,
        /// The device the session holds, as the hub assigned it.
        device: DeviceName,
        /// The limits this hub enforces on the session.
        limits: SessionLimits,
    },
    /// A new access token, in answer to `refresh`.
    Token {
        /// The new access token (a JWT).
        access_token: String,
        /// When it expires, in seconds since the Unix epoch.
        expires_at: u64,
    },
    /// An offer relayed from `from`.
    Offer {
        /// The caller's id for this attempt.
        attempt: AttemptId,
        /// The caller, as authenticated by the hub.
        from: PeerId,
        /// The group the attempt is scoped to, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        group: Option<GroupId>,
        /// The offer SDP.
        sdp: String,
        /// An ICE restart of the connection the two already have.
        #[serde(default, skip_serializing_if = "is_false")]
        restart: bool,
    },
    /// An answer relayed from the callee.
    Answer {
        /// The attempt.
        attempt: AttemptId,
        /// The callee.
        from: PeerId,
        /// The answer SDP.
        sdp: String,
    },
    /// A candidate relayed from the other side.
    Candidate {
        /// The attempt.
        attempt: AttemptId,
        /// The other side.
        from: PeerId,
        /// The candidate line.
        candidate: String,
    },
    /// The callee declined.
    Reject {
        /// The attempt.
        attempt: AttemptId,
        /// The callee.
        from: PeerId,
        /// Why, for people.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// The other side, or the hub on its behalf, abandoned the attempt.
    Cancel {
        /// The attempt.
        attempt: AttemptId,
        /// The other side.
        from: PeerId,
        /// Why, for people.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// The devices of a watched user that accept calls changed (also sent
    /// once on subscribe).
    Presence {
        /// The user.
        user: UserName,
        /// `devices` is not empty (kept for readers of version 1).
        online: bool,
        /// The user's online devices that accept calls, sorted.
        #[serde(default)]
        devices: Vec<DeviceName>,
    },
    /// The membership the hub now holds for one of the sender's groups.
    Members {
        /// The group.
        group: GroupId,
        /// Its members, sorted.
        members: Vec<UserName>,
    },
    /// Keepalive; the client answers `pong` with the same nonce.
    Ping {
        /// Echoed in the `pong`.
        nonce: u32,
    },
    /// The answer to a client `ping`.
    Pong {
        /// The nonce of the `ping`.
        nonce: u32,
    },
    /// A request failed.
    Error {
        /// The stable error code.
        code: ErrorCode,
        /// The attempt the error is about, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        attempt: Option<AttemptId>,
        /// Detail for people; never parse it.
        message: String,
    },
    /// The hub is closing the session; the connection ends after this frame.
    Close {
        /// Why.
        reason: CloseReason,
    },
    /// The answer to `invite`: a token to hand to the person it is for.
    Invitation {
        /// The token; single use.
        token: String,
        /// The alias the invite named.
        alias: String,
        /// When it stops being claimable, seconds since the Unix epoch.
        expires_at: u64,
    },
    /// A new contact, to both sides of a claimed invitation.
    Contact {
        /// The contact.
        user: UserName,
        /// The recipient's name for them.
        alias: String,
    },
    /// The answer to `contacts`: every contact of the user, sorted by user.
    Contacts {
        /// The contacts.
        contacts: Vec<ContactEntry>,
    },
    /// Short-lived TURN credentials (coturn's `use-auth-secret` scheme),
    /// sent right after `welcome` (and a login's `token`) by a hub that
    /// has a TURN server; a client allocates its relay candidate with them.
    Turn {
        /// The TURN server's UDP address, `ip:port`.
        server: core::net::SocketAddr,
        /// `expires_at:user`.
        username: String,
        /// base64(HMAC-SHA1(secret, username)).
        password: String,
        /// When the credentials stop working, seconds since the Unix epoch.
        expires_at: u64,
    },
    /// A message type this version does not know; clients ignore it.
    #[serde(other)]
    Unknown,
}

/// One contact in a `contacts` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactEntry {
    /// The contact.
    pub user: UserName,
    /// The user's own name for them.
    pub alias: String,
}

/// The limits a hub enforces on each session, told in `welcome`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionLimits {
    /// The largest frame the hub reads, in bytes.
    pub max_frame: u32,
    /// Frames per second the rate limit refills.
    pub rate_per_sec: u32,
    /// Frames that may arrive in one burst.
    pub burst: u32,
    /// Attempts that may wait for an answer at once.
    pub max_pending_attempts: u32,
    /// Users one session may watch.
    pub max_subscriptions: u32,
    /// Seconds without a frame before the hub closes the session.
    pub idle_timeout_secs: u32,
    /// Sessions (devices) one user may have at once.
    pub max_devices: u32,
}

/// Why the hub closed a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CloseReason {
    /// A newer session of the same user and device took over.
    Replaced,
    /// Nothing was heard for the idle timeout.
    Idle,
    /// The session did not authenticate in time.
    AuthTimeout,
    /// Authentication failed for good.
    AuthFailed,
    /// The client speaks a protocol version the hub does not.
    Version,
    /// The hub is at its session limit.
    Full,
    /// The hub is shutting down.
    Shutdown,
    /// The user was removed from the hub.
    UserRemoved,
    /// The client asked to close.
    Client,
    /// The user already has as many sessions as the hub allows.
    TooManyDevices,
    /// A reason this version does not know.
    #[serde(other)]
    Unknown,
}

impl CloseReason {
    /// The wire string, such as `"replaced"`.
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::Replaced => "replaced",
            CloseReason::Idle => "idle",
            CloseReason::AuthTimeout => "auth_timeout",
            CloseReason::AuthFailed => "auth_failed",
            CloseReason::Version => "version",
            CloseReason::Full => "full",
            CloseReason::Shutdown => "shutdown",
            CloseReason::UserRemoved => "user_removed",
            CloseReason::Client => "client",
            CloseReason::TooManyDevices => "too_many_devices",
            CloseReason::Unknown => "unknown",
        }
    }
}

impl ClientMsg {
    /// The `type` string, for logs and error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            ClientMsg::Hello { .. } => "hello",
            ClientMsg::Refresh { .. } => "refresh",
            ClientMsg::Offer { .. } => "offer",
            ClientMsg::Answer { .. } => "answer",
            ClientMsg::Candidate { .. } => "candidate",
            ClientMsg::Reject { .. } => "reject",
            ClientMsg::Cancel { .. } => "cancel",
            ClientMsg::Subscribe { .. } => "subscribe",
            ClientMsg::Unsubscribe { .. } => "unsubscribe",
            ClientMsg::Members { .. } => "members",
            ClientMsg::Ping { .. } => "ping",
            ClientMsg::Pong { .. } => "pong",
            ClientMsg::Close { .. } => "close",
            ClientMsg::Invite { .. } => "invite",
            ClientMsg::Claim { .. } => "claim",
            ClientMsg::Contacts { .. } => "contacts",
        }
    }
}
