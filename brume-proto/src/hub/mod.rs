//! The signaling hub: a sans-IO state machine that authenticates users and
//! introduces them to each other. No user data passes through it.
//!
//! # Contract
//!
//! The driver owns the connections and the clock. It feeds [`HubInput`]s with
//! [`Hub::handle_input`] (or mutates the user and group tables), then drains
//! [`Hub::poll_output`] until it returns `None`, and sleeps until
//! [`Hub::poll_timeout`], when it feeds [`HubInput::Timeout`]. With
//! [`HubConfig::session_events`] on, it also drains [`Hub::poll_event`] (who
//! authenticated, whose token was refused, which session ended), for its
//! logs; the hub knows users, the driver knows addresses.
//!
//! Users come with a token generation ([`HubUser`]): a token counts only at
//! its user's current generation, so handing the hub a new generation with
//! [`Hub::add_user`] revokes every older token and ends each of their live sessions.
//!
//! ```
//! # use std::time::Instant;
//! # use brume_proto::hub::{ConnId, Hub, HubConfig, HubInput, HubOutput, HubUser};
//! # use brume_proto::token::TokenKey;
//! # fn drive(start: Instant) {
//! # let key = TokenKey::from_secret(&[1; 32]).unwrap();
//! let users: Vec<HubUser> = Vec::new(); // names and token generations, from storage
//! let mut hub = Hub::new(HubConfig::new(key), users, start, 1_700_000_000);
//! hub.handle_input(start, HubInput::Opened(ConnId(1)));
//! hub.handle_input(start, HubInput::Frame(ConnId(1), br#"{"type":"ping","nonce":1}"#));
//! while let Some(out) = hub.poll_output() {
//!     match out {
//!         HubOutput::Send { conn, frame } => { /* write `frame` as a text frame to `conn` */ }
//!         HubOutput::Close { conn, reason } => { /* close `conn` */ }
//!         HubOutput::GroupChanged { .. }
//!         | HubOutput::ContactChanged { .. }
//!         | HubOutput::InvitationClaimed { .. } => { /* persist it */ }
//!     }
//! }
//! let wake_at = hub.poll_timeout(); // then feed HubInput::Timeout at that time
//! # assert!(wake_at.is_some());
//! # }
//! ```
//!
//! The hub never blocks, never reads a clock and iterates only ordered
//! collections, so the same inputs always give the same outputs.

mod auth;
mod config;
mod contacts;
mod event;
mod groups;
mod invite;
mod online;
mod presence;
mod rate;
mod relay;
mod serving;
mod session;
mod timers;
mod turn_grant;
mod users;

#[cfg(any(test, feature = "testing"))]
pub mod audit;
#[cfg(test)]
mod contact_tests;
#[cfg(test)]
mod device_tests;
#[cfg(test)]
mod serving_tests;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Instant;

pub use config::{CallPolicy, HubConfig, HubLimits, HubTurn};
pub use contacts::{MAX_ALIAS_LEN, alias_problem};
pub use event::HubEvent;
pub use users::HubUser;

use crate::error::ErrorCode;
use crate::signal::{
    AttemptId, ClientMsg, CloseReason, DecodeError, DeviceName, GroupId, HubMsg, PeerId, UserName,
    encode_hub,
};
use contacts::Contacts;
use groups::Groups;
use online::Online;
use relay::Attempt;
use session::{Session, SessionState};
use timers::{TimerKey, Timers};
use users::Users;

/// The driver's name for one client connection. The hub never invents these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConnId(pub u64);

/// What the driver tells the hub.
#[derive(Debug, Clone, Copy)]
pub enum HubInput<'a> {
    /// A client connection opened (after the WebSocket handshake).
    Opened(ConnId),
    /// A complete frame arrived on a connection.
    Frame(ConnId, &'a [u8]),
    /// The connection is gone, whoever closed it.
    Closed(ConnId),
    /// The time from [`Hub::poll_timeout`] has come.
    Timeout,
}

/// What the hub asks the driver to do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HubOutput {
    /// Write `frame` as one WebSocket text frame to `conn`.
    Send {
        /// The connection.
        conn: ConnId,
        /// The JSON text.
        frame: String,
    },
    /// Close `conn` after writing what was queued for it. The hub has already
    /// forgotten it; a later [`HubInput::Closed`] for it is ignored.
    Close {
        /// The connection.
        conn: ConnId,
        /// Why; the client was sent a `close` frame saying so.
        reason: CloseReason,
    },
    /// An owner published a group's membership; the driver persists it.
    GroupChanged {
        /// The group.
        group: GroupId,
        /// Its members, sorted; empty means the group was deleted.
        members: Vec<UserName>,
    },
    /// `user` now calls `contact` `alias`; the driver persists it (and
    /// loads it back with [`Hub::add_contact`]).
    ContactChanged {
        /// The user.
        user: UserName,
        /// Their contact.
        contact: UserName,
        /// The user's name for the contact.
        alias: String,
    },
    /// An invitation was claimed; the driver keeps its id until it expires
    /// (and loads it back with [`Hub::add_claimed_invitation`]), so it is
    /// never claimed twice, across restarts too.
    InvitationClaimed {
        /// The invitation's id.
        id: String,
        /// When it expires, Unix seconds.
        expires_at: u64,
    },
}

/// The signaling hub. See the module documentation for the contract.
#[derive(Debug)]
pub struct Hub {
    config: HubConfig,
    /// `unix_anchor` seconds since the epoch at `instant_anchor`.
    instant_anchor: Instant,
    unix_anchor: u64,
    users: Users,
    sessions: BTreeMap<ConnId, Session>,
    online: Online,
    /// The last sequence number handed to a session's use (see `Session`).
    uses: u64,
    /// Explicit presence subscriptions: watched user → watching sessions.
    watchers: BTreeMap<UserName, BTreeSet<ConnId>>,
    groups: Groups,
    /// The session serving each group (its last `members` publisher).
    serving: serving::Serving,
    contacts: Contacts,
    /// Invitations minted in this run: with `config.instance`, their ids.
    invitations_minted: u64,
    attempts: BTreeMap<(PeerId, AttemptId), Attempt>,
    timers: Timers,
    outputs: VecDeque<HubOutput>,
    /// Only filled when `config.session_events` is set.
    events: VecDeque<HubEvent>,
}

impl Hub {
    /// A hub that knows `users` (names, at generation 0, or [`HubUser`]s),
    /// at time `now`, which is `unix_now` seconds since the Unix epoch (used
    /// only to check and mint token expiry).
    pub fn new<U: Into<HubUser>>(
        config: HubConfig,
        users: impl IntoIterator<Item = U>,
        now: Instant,
        unix_now: u64,
    ) -> Self {
        Self {
            config,
            instant_anchor: now,
            unix_anchor: unix_now,
            users: users.into_iter().map(Into::into).collect(),
            sessions: BTreeMap::new(),
            online: Online::default(),
            uses: 0,
            watchers: BTreeMap::new(),
            groups: Groups::default(),
            serving: serving::Serving::default(),
            contacts: Contacts::default(),
            invitations_minted: 0,
            attempts: BTreeMap::new(),
            timers: Timers::default(),
            outputs: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    // ----- getters -----

    /// Open connections, authenticated or not.
    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// Users with a live authenticated session (on any device), sorted.
    pub fn online_users(&self) -> impl Iterator<Item = &UserName> {
        self.online.users()
    }

    /// The user a connection is authenticated as, if it is.
    pub fn user_of(&self, conn: ConnId) -> Option<&UserName> {
        self.peer_of(conn).map(|p| &p.user)
    }

    /// The user and device a connection is authenticated as, if it is.
    pub fn peer_of(&self, conn: ConnId) -> Option<&PeerId> {
        match &self.sessions.get(&conn)?.state {
            SessionState::Authenticated { peer, .. } => Some(peer),
            SessionState::Pending { .. } => None,
        }
    }

    /// A user's online devices that accept calls, sorted: what presence tells.
    pub fn accepting_devices(&self, user: &UserName) -> Vec<DeviceName> {
        self.online
            .devices(user)
            .filter(|(_, c)| self.accepts_calls(*c))
            .map(|(d, _)| d.clone())
            .collect()
    }

    /// Every live session of a user, with its connection, sorted by device.
    pub fn sessions_of(&self, user: &UserName) -> Vec<(DeviceName, ConnId)> {
        self.online
            .devices(user)
            .map(|(d, c)| (d.clone(), c))
            .collect()
    }

    /// The limits this hub enforces.
    pub fn limits(&self) -> &HubLimits {
        &self.config.limits
    }

    /// True if the hub keeps `conn` informed of `user`'s presence, by an
    /// explicit subscription or because they share a group.
    pub fn watches(&self, conn: ConnId, user: &UserName) -> bool {
        let Some(me) = self.user_of(conn) else {
            return false;
        };
        self.watchers.get(user).is_some_and(|w| w.contains(&conn))
            || self.groups.mates(me).contains(user)
    }

    /// Seconds since the Unix epoch at `now`.
    pub fn unix_time(&self, now: Instant) -> u64 {
        self.unix_anchor + now.saturating_duration_since(self.instant_anchor).as_secs()
    }

    // ----- inputs -----

    /// Feeds one input. Drain [`Hub::poll_output`] afterwards.
    pub fn handle_input(&mut self, now: Instant, input: HubInput<'_>) {
        match input {
            HubInput::Opened(conn) => self.on_opened(now, conn),
            HubInput::Frame(conn, bytes) => self.on_frame(now, conn, bytes),
            HubInput::Closed(conn) => {
                if self.sessions.contains_key(&conn) {
                    let peer = self.peer_of(conn).cloned();
                    self.forget_session(conn, CancelWhy::PeerGone);
                    self.event(HubEvent::Closed {
                        conn,
                        user: peer.as_ref().map(|p| p.user.clone()),
                        device: peer.map(|p| p.device),
                        reason: None,
                    });
                }
            }
            HubInput::Timeout => self.on_timeout(now),
        }
    }

    // ----- mutators -----

    /// Re-anchors wall-clock time, should the driver see it drift from the monotonic clock.
    pub fn set_wall_clock(&mut self, now: Instant, unix_now: u64) {
        self.instant_anchor = now;
        self.unix_anchor = unix_now;
    }

    /// A new user can now be reached and can log in; a name alone is at
    /// generation 0. For a known user at a new generation, every older token
    /// is revoked: each of their live sessions is told `ETOKENINVALID`
    /// (`token revoked`) and closed (`auth_failed`).
    pub fn add_user(&mut self, user: impl Into<HubUser>) {
        let user = user.into();
        let name = user.name.clone();
        let generation = user.generation;
        let before = self.users.insert(user);
        if before.is_some_and(|g| g != generation) {
            for conn in self.online.conns(&name) {
                let e = crate::token::TokenError::Revoked;
                self.send(conn, &error_msg(e.code(), None, &e.to_string()));
                self.close_session(conn, CloseReason::AuthFailed);
            }
        }
    }

    /// Removes a user: their sessions close (`user_removed`), their groups go
    /// and the groups they were in shrink, each reported as `GroupChanged`.
    pub fn remove_user(&mut self, _now: Instant, user: &UserName) {
        self.users.remove(user);
        self.contacts.remove_user(user);
        for conn in self.online.conns(user) {
            self.close_session(conn, CloseReason::UserRemoved);
        }
        // Groups it owned go, groups it was in shrink: the driver saves both.
        for (group, members) in self.groups.remove_user(user) {
            self.outputs
                .push_back(HubOutput::GroupChanged { group, members });
        }
        for conn in self.watchers.remove(user).unwrap_or_default() {
            if let Some(s) = self.sessions.get_mut(&conn) {
                s.subscriptions.remove(user);
            }
        }
    }

    /// Loads a group's membership from storage (no `GroupChanged` output).
    /// Members unknown to the hub are dropped. Safe while sessions are open:
    /// new group-mates are told each other's presence.
    pub fn set_group(&mut self, group: GroupId, members: impl IntoIterator<Item = UserName>) {
        let members = members
            .into_iter()
            .filter(|m| self.users.contains(m) && *m != group.owner)
            .collect();
        self.replace_group(group, members);
    }

    /// Loads a contact from storage (no `ContactChanged` output): `user`
    /// calls `contact` `alias`. Both directions are loaded one by one.
    pub fn add_contact(&mut self, user: UserName, contact: UserName, alias: String) {
        if self.users.contains(&user) && self.users.contains(&contact) && user != contact {
            self.contacts.set_alias(user, contact, alias);
        }
    }

    /// Loads a claimed invitation's id from storage; it is refused
    /// (`EINVITEUSED`) until it expires.
    pub fn add_claimed_invitation(&mut self, now: Instant, id: String, expires_at: u64) {
        let unix = self.unix_time(now);
        self.contacts.claim(id, expires_at, unix);
    }

    /// Closes every session with `shutdown`.
    pub fn shutdown(&mut self, _now: Instant) {
        let conns: Vec<ConnId> = self.sessions.keys().copied().collect();
        for conn in conns {
            self.close_session(conn, CloseReason::Shutdown);
        }
    }

    // ----- outputs -----

    /// The next thing for the driver to do, or `None` when there is nothing.
    #[must_use]
    pub fn poll_output(&mut self) -> Option<HubOutput> {
        self.outputs.pop_front()
    }

    /// The next session event, if [`HubConfig::session_events`] is on;
    /// drain it with the outputs.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<HubEvent> {
        self.events.pop_front()
    }

    /// When to feed [`HubInput::Timeout`] next; `None` if no timer is set.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    // ----- internals -----

    fn on_opened(&mut self, now: Instant, conn: ConnId) {
        if self.sessions.contains_key(&conn) {
            return; // a driver bug; the first session stands
        }
        if self.sessions.len() >= self.config.limits.max_sessions {
            self.send(
                conn,
                &error_msg(ErrorCode::Full, None, "the hub is at its session limit"),
            );
            self.send(
                conn,
                &HubMsg::Close {
                    reason: CloseReason::Full,
                },
            );
            self.outputs.push_back(HubOutput::Close {
                conn,
                reason: CloseReason::Full,
            });
            return;
        }
        let session = Session::new(now, &self.config.limits);
        self.sessions.insert(conn, session);
        self.reschedule_session(conn);
    }

    fn on_frame(&mut self, now: Instant, conn: ConnId, bytes: &[u8]) {
        let limits = &self.config.limits;
        let Some(session) = self.sessions.get_mut(&conn) else {
            return; // closed already; frames in flight are dropped
        };
        session.heard_from(now);
        if !session.bucket.take(now, limits.burst, limits.rate_per_sec) {
            // One error per overrun, not one per dropped frame, so a flood
            // cannot turn the hub into an amplifier.
            if !std::mem::replace(&mut session.rate_warned, true) {
                self.send(
                    conn,
                    &error_msg(
                        ErrorCode::RateLimited,
                        None,
                        "frame dropped: over the rate limit",
                    ),
                );
            }
            self.reschedule_session(conn);
            return;
        }
        session.rate_warned = false;
        self.reschedule_session(conn);
        let msg = if bytes.len() > self.config.limits.max_frame {
            Err(DecodeError::TooLarge { len: bytes.len() })
        } else {
            crate::signal::decode_client(bytes)
        };
        match msg {
            Ok(msg) => self.on_message(now, conn, msg),
            Err(e) => self.send(conn, &error_msg(e.code(), None, &e.to_string())),
        }
    }

    fn on_message(&mut self, now: Instant, conn: ConnId, msg: ClientMsg) {
        let me = match self.peer_of(conn) {
            Some(peer) => peer.clone(),
            None => return self.on_unauthenticated(now, conn, msg),
        };
        match msg {
            ClientMsg::Hello { .. } => self.send(
                conn,
                &error_msg(ErrorCode::BadMessage, None, "already authenticated"),
            ),
            // A live session keeps its device; `device` and `calls` count
            // only when a `refresh` authenticates.
            ClientMsg::Refresh {
                version,
                refresh_token,
                ..
            } => self.on_refresh(now, conn, Some(&me.user), version, refresh_token.as_deref()),
            ClientMsg::Offer {
                attempt,
                to,
                group,
                sdp,
                restart,
            } => self.on_offer(now, conn, me, attempt, to, group, sdp, restart),
            ClientMsg::Answer { attempt, to, sdp } => {
                self.on_answer(now, conn, me, attempt, to, sdp)
            }
            ClientMsg::Candidate {
                attempt,
                to,
                candidate,
            } => self.on_candidate(conn, me, attempt, to, candidate),
            ClientMsg::Reject {
                attempt,
                to,
                reason,
            } => self.on_reject(conn, me, attempt, to, reason),
            ClientMsg::Cancel {
                attempt,
                to,
                reason,
            } => self.on_cancel(conn, me, attempt, to, reason),
            ClientMsg::Subscribe { users } => self.on_subscribe(conn, users),
            ClientMsg::Unsubscribe { users } => self.on_unsubscribe(conn, users),
            ClientMsg::Members { group, members } => self.on_members(conn, me.user, group, members),
            ClientMsg::Ping { nonce } => self.send(conn, &HubMsg::Pong { nonce }),
            ClientMsg::Pong { .. } => {}
            ClientMsg::Close { .. } => self.close_session(conn, CloseReason::Client),
            ClientMsg::Invite { alias } => self.on_invite(now, conn, me.user, alias),
            ClientMsg::Claim { token, alias } => {
                self.on_claim(now, conn, me.user, token.as_deref(), alias);
            }
            ClientMsg::Contacts {} => self.on_contacts(conn, &me.user),
        }
    }

    fn on_timeout(&mut self, now: Instant) {
        while let Some(key) = self.timers.pop_due(now) {
            match key {
                TimerKey::Session(conn) => self.on_session_timer(now, conn),
                TimerKey::Attempt(caller, id) => self.on_attempt_timer(now, caller, id),
            }
        }
    }

    fn on_session_timer(&mut self, now: Instant, conn: ConnId) {
        let limits = &self.config.limits;
        let Some(session) = self.sessions.get_mut(&conn) else {
            return;
        };
        session.scheduled = None; // popped from the table
        match session.due(now, limits) {
            session::Due::AuthTimeout => self.close_session(conn, CloseReason::AuthTimeout),
            session::Due::Idle => self.close_session(conn, CloseReason::Idle),
            session::Due::Ping => {
                session.ping_sent = true;
                session.pings = session.pings.wrapping_add(1);
                let nonce = session.pings;
                self.send(conn, &HubMsg::Ping { nonce });
                self.reschedule_session(conn);
            }
            session::Due::Nothing => self.reschedule_session(conn),
        }
    }

    fn reschedule_session(&mut self, conn: ConnId) {
        let limits = &self.config.limits;
        if let Some(session) = self.sessions.get_mut(&conn) {
            let at = session.deadline(limits);
            self.timers
                .reschedule(TimerKey::Session(conn), session.scheduled, at);
            session.scheduled = Some(at);
        }
    }

    /// Tells the client why, asks the driver to close, and forgets the session.
    fn close_session(&mut self, conn: ConnId, reason: CloseReason) {
        if !self.sessions.contains_key(&conn) {
            return;
        }
        self.send(conn, &HubMsg::Close { reason });
        self.outputs.push_back(HubOutput::Close { conn, reason });
        let why = if reason == CloseReason::Replaced {
            CancelWhy::Replaced
        } else {
            CancelWhy::PeerGone
        };
        let peer = self.peer_of(conn).cloned();
        self.forget_session(conn, why);
        self.event(HubEvent::Closed {
            conn,
            user: peer.as_ref().map(|p| p.user.clone()),
            device: peer.map(|p| p.device),
            reason: Some(reason),
        });
    }

    /// Drops every trace of a session: its timer, attempts, subscriptions and
    /// presence. Peers it was negotiating with are told the attempt is over.
    fn forget_session(&mut self, conn: ConnId, why: CancelWhy) {
        let Some(session) = self.sessions.remove(&conn) else {
            return;
        };
        self.serving.forget(conn);
        if let Some(at) = session.scheduled {
            self.timers.cancel(TimerKey::Session(conn), at);
        }
        for key in &session.attempts {
            self.end_attempt(key, Some(conn), why.as_str());
        }
        for user in &session.subscriptions {
            if let Some(set) = self.watchers.get_mut(user) {
                set.remove(&conn);
                if set.is_empty() {
                    self.watchers.remove(user);
                }
            }
        }
        if let SessionState::Authenticated { peer, calls, .. } = session.state
            && self.online.remove(&peer, conn)
            // A replaced session hands over to its successor without a
            // flap; a session that takes no calls was never in presence.
            && calls
            && why != CancelWhy::Replaced
        {
            self.broadcast_presence(&peer.user);
        }
    }

    fn accepts_calls(&self, conn: ConnId) -> bool {
        self.sessions
            .get(&conn)
            .is_some_and(|s| matches!(s.state, SessionState::Authenticated { calls: true, .. }))
    }

    /// Marks a session as just used, for bare-user addressing.
    fn touch(&mut self, conn: ConnId) {
        self.uses += 1;
        let n = self.uses;
        if let Some(Session {
            state: SessionState::Authenticated { last_used, .. },
            ..
        }) = self.sessions.get_mut(&conn)
        {
            *last_used = n;
        }
    }

    fn event(&mut self, event: HubEvent) {
        if self.config.session_events {
            self.events.push_back(event);
        }
    }

    fn send(&mut self, conn: ConnId, msg: &HubMsg) {
        self.outputs.push_back(HubOutput::Send {
            conn,
            frame: encode_hub(msg),
        });
    }

    /// Encodes a frame to relay. `from` is often longer than the `to` it
    /// replaces, so a frame near the limit could grow past it: such a frame
    /// is refused to its sender (`ETOOBIG`) rather than sent oversized.
    fn relay_frame(&mut self, sender: ConnId, attempt: &AttemptId, msg: &HubMsg) -> Option<String> {
        let frame = encode_hub(msg);
        if frame.len() <= crate::signal::MAX_FRAME_LEN {
            return Some(frame);
        }
        let text = format!("relayed, it would be {} bytes, over the limit", frame.len());
        self.send(
            sender,
            &error_msg(ErrorCode::TooBig, Some(attempt.clone()), &text),
        );
        None
    }

    #[cfg(any(test, feature = "testing"))]
    /// Entries in the timer table (tests check nothing leaks).
    pub fn timer_count(&self) -> usize {
        self.timers.len()
    }

    #[cfg(any(test, feature = "testing"))]
    /// Live connection attempts (tests check nothing leaks).
    pub fn attempt_count(&self) -> usize {
        self.attempts.len()
    }
}

/// Why the hub cancels an attempt on a peer's behalf; the `reason` string it sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CancelWhy {
    /// The other side's session ended.
    PeerGone,
    /// The other side logged in again elsewhere.
    Replaced,
    /// The callee did not answer in time.
    Timeout,
}

impl CancelWhy {
    fn as_str(self) -> &'static str {
        match self {
            CancelWhy::PeerGone => "peer_gone",
            CancelWhy::Replaced => "replaced",
            CancelWhy::Timeout => "timeout",
        }
    }
}

/// The longest `message` in an error frame; serde's errors quote the
/// offending input, which must not make the reply outgrow the frame limit.
const MAX_ERROR_TEXT: usize = 256;

pub(crate) fn error_msg(code: ErrorCode, attempt: Option<AttemptId>, message: &str) -> HubMsg {
    let mut end = message.len().min(MAX_ERROR_TEXT);
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    HubMsg::Error {
        code,
        attempt,
        message: message[..end].to_owned(),
    }
}
