//! What a hub is built with: its signing key and its limits.

use std::time::Duration;

use crate::signal::{MAX_FRAME_LEN, SessionLimits};
use crate::token::TokenKey;

/// Every limit the hub enforces. Each one answers with a clear error and
/// disturbs nothing else.
#[derive(Debug, Clone)]
pub struct HubLimits {
    /// Open connections, authenticated or not.
    pub max_sessions: usize,
    /// The largest frame read, in bytes; at most [`MAX_FRAME_LEN`].
    pub max_frame: usize,
    /// Frames a session may send in one burst.
    pub burst: u32,
    /// Frames per second the burst refills.
    pub rate_per_sec: u32,
    /// Attempts a session may have waiting for an answer.
    pub max_pending_attempts: usize,
    /// Users a session may watch explicitly.
    pub max_subscriptions: usize,
    /// Sessions one user may hold at once, one per device.
    pub max_devices: usize,
    /// Members of one group.
    pub max_group_members: usize,
    /// Groups one owner may publish.
    pub max_groups_per_owner: usize,
    /// Contacts one user may have.
    pub max_contacts: usize,
    /// Failed authentications before the session is closed.
    pub max_auth_failures: u8,
    /// Time to authenticate after the connection opens.
    pub auth_timeout: Duration,
    /// Silence after which the hub sends a `ping`.
    pub ping_after: Duration,
    /// Silence after which the hub closes the session (`idle`).
    pub idle_timeout: Duration,
    /// Time a callee has to answer an offer before the hub gives up.
    pub attempt_timeout: Duration,
    /// How long an answered attempt still relays trickled candidates.
    pub attempt_linger: Duration,
}

impl Default for HubLimits {
    fn default() -> Self {
        Self {
            max_sessions: 100_000,
            max_frame: MAX_FRAME_LEN,
            burst: 50,
            rate_per_sec: 20,
            max_pending_attempts: 16,
            max_subscriptions: 1024,
            max_devices: 16,
            max_group_members: 256,
            max_groups_per_owner: 64,
            max_contacts: 1024,
            max_auth_failures: 3,
            auth_timeout: Duration::from_secs(10),
            ping_after: Duration::from_secs(20),
            idle_timeout: Duration::from_secs(45),
            attempt_timeout: Duration::from_secs(30),
            attempt_linger: Duration::from_secs(30),
        }
    }
}

impl HubLimits {
    /// The part of the limits a client is told in `welcome`.
    pub fn session_limits(&self) -> SessionLimits {
        let sat = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        SessionLimits {
            max_frame: sat(self.max_frame.min(MAX_FRAME_LEN)),
            rate_per_sec: self.rate_per_sec,
            burst: self.burst,
            max_pending_attempts: sat(self.max_pending_attempts),
            max_subscriptions: sat(self.max_subscriptions),
            idle_timeout_secs: u32::try_from(self.idle_timeout.as_secs()).unwrap_or(u32::MAX),
            max_devices: sat(self.max_devices),
        }
    }
}

/// Everything a hub is constructed with.
#[derive(Debug, Clone)]
pub struct HubConfig {
    /// Signs and checks access and refresh tokens.
    pub key: TokenKey,
    /// Lifetime of the access tokens the hub mints on `refresh`.
    pub access_token_lifetime: Duration,
    /// The limits.
    pub limits: HubLimits,
    /// Queue [`HubEvent`](super::HubEvent)s for
    /// [`Hub::poll_event`](super::Hub::poll_event); off by default.
    pub session_events: bool,
    /// Who may call, and watch, whom.
    pub policy: CallPolicy,
    /// How long an invitation may wait to be claimed.
    pub invitation_lifetime: Duration,
    /// A number the driver draws at random for each run of the hub: it
    /// keeps invitation ids unique across restarts (the hub has no
    /// randomness of its own).
    pub instance: u64,
    /// A TURN server whose credentials the hub hands out, if any.
    pub turn: Option<HubTurn>,
}

/// Who may call whom on a hub (a user may always call their own devices).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CallPolicy {
    /// Anyone may call, or watch, anyone; the callee decides (linkup).
    #[default]
    Open,
    /// Only contacts and members of a shared group (BoneValue): any other
    /// `offer` or `subscribe` is refused with `ENOTCONTACT`.
    Contacts,
}

/// A TURN server sharing a secret with the hub (coturn's
/// `static-auth-secret`): each authenticated session is sent credentials
/// made from it, valid for `lifetime`.
#[derive(Clone)]
pub struct HubTurn {
    /// The TURN server's UDP address, as clients reach it.
    pub server: core::net::SocketAddr,
    /// The shared secret.
    pub secret: Vec<u8>,
    /// How long handed-out credentials stay valid. An allocation outliving
    /// them fails its next refresh, so this is long (default 24 h).
    pub lifetime: Duration,
}

impl HubTurn {
    /// Credentials valid for a day.
    pub fn new(server: core::net::SocketAddr, secret: Vec<u8>) -> Self {
        Self {
            server,
            secret,
            lifetime: Duration::from_secs(24 * 3600),
        }
    }
}

impl core::fmt::Debug for HubTurn {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // The secret stays out of logs.
        f.debug_struct("HubTurn")
            .field("server", &self.server)
            .field("lifetime", &self.lifetime)
            .finish_non_exhaustive()
    }
}

impl HubConfig {
    /// A config with default limits and one-hour access tokens.
    pub fn new(key: TokenKey) -> Self {
        Self {
            key,
            access_token_lifetime: Duration::from_secs(3600),
            limits: HubLimits::default(),
            session_events: false,
            policy: CallPolicy::Open,
            invitation_lifetime: Duration::from_secs(7 * 24 * 3600),
            instance: 0,
            turn: None,
        }
    }
}
