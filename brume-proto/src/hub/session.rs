//! One client connection's state: authentication, keepalive, rate limit and
//! what it is entangled with (attempts, subscriptions).

use std::collections::BTreeSet;
use std::time::Instant;

use super::HubLimits;
use super::rate::TokenBucket;
use crate::signal::{AttemptId, PeerId, UserName};

#[derive(Debug)]
pub(crate) enum SessionState {
    /// Connected, not yet authenticated: only `hello`, `refresh`, `ping` and `close` are read.
    Pending { deadline: Instant, failures: u8 },
    /// Authenticated as `peer`: the token's subject and the device it holds.
    Authenticated {
        peer: PeerId,
        /// Takes incoming calls addressed to the bare user.
        calls: bool,
        /// The hub-wide sequence number of its last use (login, offer or
        /// answer): a bare-user address picks the highest.
        last_used: u64,
    },
}

#[derive(Debug)]
pub(crate) struct Session {
    pub(crate) state: SessionState,
    last_heard: Instant,
    /// A `ping` went out since the client was last heard from.
    pub(crate) ping_sent: bool,
    pub(crate) pings: u32,
    pub(crate) bucket: TokenBucket,
    /// An `ERATELIMIT` went out for the current overrun.
    pub(crate) rate_warned: bool,
    pub(crate) subscriptions: BTreeSet<UserName>,
    /// Attempts this session is the caller or callee of, keyed as in the hub
    /// by (caller, id). Ids are unique within one session's set.
    pub(crate) attempts: BTreeSet<(PeerId, AttemptId)>,
    /// Of those, the ones it called that are still unanswered.
    pub(crate) pending_calls: usize,
    /// Where this session sits in the timer table.
    pub(crate) scheduled: Option<Instant>,
}

/// What a session's timer found when it fired.
pub(crate) enum Due {
    AuthTimeout,
    Idle,
    Ping,
    Nothing,
}

impl Session {
    pub(crate) fn new(now: Instant, limits: &HubLimits) -> Self {
        Self {
            state: SessionState::Pending {
                deadline: now + limits.auth_timeout,
                failures: 0,
            },
            last_heard: now,
            ping_sent: false,
            pings: 0,
            bucket: TokenBucket::full(limits.burst, now),
            rate_warned: false,
            subscriptions: BTreeSet::new(),
            attempts: BTreeSet::new(),
            pending_calls: 0,
            scheduled: None,
        }
    }

    pub(crate) fn heard_from(&mut self, now: Instant) {
        self.last_heard = self.last_heard.max(now);
        self.ping_sent = false;
    }

    pub(crate) fn deadline(&self, limits: &HubLimits) -> Instant {
        match self.state {
            SessionState::Pending { deadline, .. } => deadline,
            SessionState::Authenticated { .. } if self.ping_sent => {
                self.last_heard + limits.idle_timeout
            }
            SessionState::Authenticated { .. } => self.last_heard + limits.ping_after,
        }
    }

    pub(crate) fn due(&self, now: Instant, limits: &HubLimits) -> Due {
        match self.state {
            SessionState::Pending { deadline, .. } if now >= deadline => Due::AuthTimeout,
            SessionState::Pending { .. } => Due::Nothing,
            SessionState::Authenticated { .. } => {
                if now >= self.last_heard + limits.idle_timeout {
                    Due::Idle
                } else if !self.ping_sent && now >= self.last_heard + limits.ping_after {
                    Due::Ping
                } else {
                    Due::Nothing
                }
            }
        }
    }
}
