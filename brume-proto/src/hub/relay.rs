//! Connection attempts: the hub relays offer, answer, candidate, reject and
//! cancel between the two sessions of an attempt, stamping `from` (the
//! sender's user and device) itself, and only while the attempt lives.
//!
//! An offer's `to` picks the callee session: a bare user means the one of
//! their sessions that accepts calls and was used most recently (never the
//! caller's own); `user/device` means exactly that session. Every later
//! message of the attempt must name its other side.

use std::time::Instant;

use super::session::SessionState;
use super::timers::TimerKey;
use super::{CancelWhy, ConnId, Hub, HubOutput, error_msg};
use crate::error::ErrorCode;
use crate::signal::{Address, AttemptId, GroupId, HubMsg, PeerId};

/// An attempt, keyed in the hub by `(caller, id)`.
#[derive(Debug)]
pub(crate) struct Attempt {
    caller_conn: ConnId,
    callee: PeerId,
    callee_conn: ConnId,
    answered: bool,
    deadline: Instant,
}

/// Which side of an attempt a message came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Caller,
    Callee,
}

type Key = (PeerId, AttemptId);

impl Hub {
    #[allow(clippy::too_many_arguments)] // one per field of the message
    pub(super) fn on_offer(
        &mut self,
        now: Instant,
        conn: ConnId,
        me: PeerId,
        attempt: AttemptId,
        to: Address,
        group: Option<GroupId>,
        sdp: String,
        restart: bool,
    ) {
        let refuse = |code, text: String| error_msg(code, Some(attempt.clone()), &text);
        let user = &me.user;
        let callee = to.user();
        if to.device() == Some(&me.device) && callee == user {
            return self.send(
                conn,
                &refuse(ErrorCode::BadDest, "cannot connect to yourself".into()),
            );
        }
        if !self.users.contains(callee) {
            return self.send(
                conn,
                &refuse(ErrorCode::BadDest, format!("unknown user {callee}")),
            );
        }
        if !self.may_reach(user, callee) {
            let text =
                format!("{callee} is not a contact of yours; this hub lets only contacts call");
            return self.send(conn, &refuse(ErrorCode::NotContact, text));
        }
        if let Some(g) = &group
            && (!self.groups.belongs(g, user) || !self.groups.belongs(g, callee))
        {
            let text = format!("{user} and {callee} are not both in group {g}");
            return self.send(conn, &refuse(ErrorCode::NotMember, text));
        }
        let served = group
            .as_ref()
            .and_then(|g| self.serving_session(conn, &to, g));
        let Some((callee, callee_conn)) = served.or_else(|| self.resolve(conn, &to)) else {
            let text = match &to {
                Address::User(u) if u == user => "none of your other devices takes calls".into(),
                Address::User(u) => format!("{u} is not connected"),
                Address::Device(p) => format!("{p} is not connected"),
            };
            return self.send(conn, &refuse(ErrorCode::NoDest, text));
        };
        let Some(session) = self.sessions.get(&conn) else {
            return;
        };
        if session.pending_calls >= self.config.limits.max_pending_attempts {
            let text = format!(
                "at most {} attempts may wait for an answer",
                self.config.limits.max_pending_attempts
            );
            return self.send(conn, &refuse(ErrorCode::AttemptLimit, text));
        }
        // Ids are the caller's, so (caller, id) names an attempt. An id is
        // also kept unique within each session's attempts, so a reply that
        // names only the other side's user is never ambiguous.
        if self.holds_id(conn, &attempt) || self.holds_id(callee_conn, &attempt) {
            let text = format!("attempt id {attempt} is already in use");
            return self.send(conn, &refuse(ErrorCode::BadMessage, text));
        }
        let relayed = HubMsg::Offer {
            attempt: attempt.clone(),
            from: me.clone(),
            group,
            sdp,
            restart,
        };
        let Some(frame) = self.relay_frame(conn, &attempt, &relayed) else {
            return;
        };
        let deadline = now + self.config.limits.attempt_timeout;
        let key = (me, attempt);
        self.timers.reschedule(
            TimerKey::Attempt(key.0.clone(), key.1.clone()),
            None,
            deadline,
        );
        self.attempts.insert(
            key.clone(),
            Attempt {
                caller_conn: conn,
                callee,
                callee_conn,
                answered: false,
                deadline,
            },
        );
        for c in [conn, callee_conn] {
            if let Some(s) = self.sessions.get_mut(&c) {
                s.attempts.insert(key.clone());
            }
        }
        if let Some(s) = self.sessions.get_mut(&conn) {
            s.pending_calls += 1;
        }
        self.touch(conn);
        self.outputs.push_back(HubOutput::Send {
            conn: callee_conn,
            frame,
        });
    }

    /// The session an offer's `to` names, never the caller's own: a device
    /// exactly (accepting calls or not, so an ICE restart reaches the
    /// session that called), a bare user by the most recently used of
    /// their sessions that accept calls.
    fn resolve(&self, caller: ConnId, to: &Address) -> Option<(PeerId, ConnId)> {
        match to {
            Address::Device(p) => self.online.get(p).map(|c| (p.clone(), c)),
            Address::User(u) => self
                .online
                .devices(u)
                .filter(|&(_, c)| c != caller)
                .filter_map(|(d, c)| match self.sessions.get(&c)?.state {
                    SessionState::Authenticated {
                        calls: true,
                        last_used,
                        ..
                    } => Some((last_used, d, c)),
                    _ => None,
                })
                .max_by_key(|&(last_used, _, _)| last_used)
                .map(|(_, d, c)| (PeerId::new(u.clone(), d.clone()), c)),
        }
    }

    /// For a call scoped to `group` to its owner by bare name: the owner's
    /// session that serves the group (see `serving`), if it is not the caller.
    fn serving_session(
        &self,
        caller: ConnId,
        to: &Address,
        group: &GroupId,
    ) -> Option<(PeerId, ConnId)> {
        let Address::User(owner) = to else {
            return None;
        };
        if *owner != group.owner {
            return None;
        }
        let conn = self.serving.server(group).filter(|c| *c != caller)?;
        let peer = self.peer_of(conn).filter(|p| p.user == *owner)?;
        Some((peer.clone(), conn))
    }

    fn holds_id(&self, conn: ConnId, id: &AttemptId) -> bool {
        self.sessions
            .get(&conn)
            .is_some_and(|s| s.attempts.iter().any(|(_, a)| a == id))
    }

    pub(super) fn on_answer(
        &mut self,
        now: Instant,
        conn: ConnId,
        me: PeerId,
        attempt: AttemptId,
        to: Address,
        sdp: String,
    ) {
        let Some((key, Role::Callee)) = self.find(conn, &me, &attempt, &to) else {
            return self.no_attempt(conn, attempt, &to);
        };
        let linger = now + self.config.limits.attempt_linger;
        let Some(a) = self.attempts.get(&key) else {
            return;
        };
        if a.answered {
            let text = format!("attempt {attempt} is already answered");
            return self.send(
                conn,
                &error_msg(ErrorCode::BadMessage, Some(attempt), &text),
            );
        }
        let relayed = HubMsg::Answer {
            attempt: attempt.clone(),
            from: me,
            sdp,
        };
        let Some(frame) = self.relay_frame(conn, &attempt, &relayed) else {
            return;
        };
        let Some(a) = self.attempts.get_mut(&key) else {
            return;
        };
        a.answered = true;
        let (caller_conn, old) = (a.caller_conn, a.deadline);
        a.deadline = linger;
        self.timers
            .reschedule(TimerKey::Attempt(key.0, key.1), Some(old), linger);
        if let Some(s) = self.sessions.get_mut(&caller_conn) {
            s.pending_calls = s.pending_calls.saturating_sub(1);
        }
        self.touch(conn);
        self.outputs.push_back(HubOutput::Send {
            conn: caller_conn,
            frame,
        });
    }

    pub(super) fn on_candidate(
        &mut self,
        conn: ConnId,
        me: PeerId,
        attempt: AttemptId,
        to: Address,
        candidate: String,
    ) {
        let Some((key, role)) = self.find(conn, &me, &attempt, &to) else {
            return self.no_attempt(conn, attempt, &to);
        };
        let Some(other) = self.other_conn(&key, role) else {
            return;
        };
        let relayed = HubMsg::Candidate {
            attempt: attempt.clone(),
            from: me,
            candidate,
        };
        if let Some(frame) = self.relay_frame(conn, &attempt, &relayed) {
            self.outputs
                .push_back(HubOutput::Send { conn: other, frame });
        }
    }

    pub(super) fn on_reject(
        &mut self,
        conn: ConnId,
        me: PeerId,
        attempt: AttemptId,
        to: Address,
        reason: Option<String>,
    ) {
        let Some((key, Role::Callee)) = self.find(conn, &me, &attempt, &to) else {
            return self.no_attempt(conn, attempt, &to);
        };
        if let Some(a) = self.remove_attempt(&key) {
            self.send(
                a.caller_conn,
                &HubMsg::Reject {
                    attempt,
                    from: me,
                    reason: short(reason),
                },
            );
        }
    }

    pub(super) fn on_cancel(
        &mut self,
        conn: ConnId,
        me: PeerId,
        attempt: AttemptId,
        to: Address,
        reason: Option<String>,
    ) {
        let Some((key, role)) = self.find(conn, &me, &attempt, &to) else {
            return self.no_attempt(conn, attempt, &to);
        };
        let Some(other) = self.other_conn(&key, role) else {
            return;
        };
        self.remove_attempt(&key);
        self.send(
            other,
            &HubMsg::Cancel {
                attempt,
                from: me,
                reason: short(reason),
            },
        );
    }

    pub(super) fn on_attempt_timer(&mut self, now: Instant, caller: PeerId, id: AttemptId) {
        let key = (caller, id);
        let Some(a) = self.attempts.get(&key) else {
            return;
        };
        if a.deadline > now {
            return; // rescheduled since; its new entry is in the table
        }
        let Some(a) = self.remove_attempt(&key) else {
            return;
        };
        if a.answered {
            return; // the linger ended; both sides are past signaling
        }
        let (caller, attempt) = key;
        let text = format!("{} did not answer in time", a.callee);
        self.send(
            a.caller_conn,
            &error_msg(ErrorCode::OfferTimeout, Some(attempt.clone()), &text),
        );
        self.send(
            a.callee_conn,
            &HubMsg::Cancel {
                attempt,
                from: caller,
                reason: Some(CancelWhy::Timeout.as_str().to_owned()),
            },
        );
    }

    /// Ends an attempt because `gone` (one side's session) closed, telling the other side.
    pub(super) fn end_attempt(&mut self, key: &Key, gone: Option<ConnId>, reason: &str) {
        let Some(a) = self.remove_attempt(key) else {
            return;
        };
        let (other, from) = if gone == Some(a.caller_conn) {
            (a.callee_conn, key.0.clone())
        } else {
            (a.caller_conn, a.callee.clone())
        };
        self.send(
            other,
            &HubMsg::Cancel {
                attempt: key.1.clone(),
                from,
                reason: Some(reason.to_owned()),
            },
        );
    }

    /// Finds the attempt `id` of session `conn` (which is `me`) whose other
    /// side `to` names, and `me`'s role in it.
    fn find(&self, conn: ConnId, me: &PeerId, id: &AttemptId, to: &Address) -> Option<(Key, Role)> {
        let key = self
            .sessions
            .get(&conn)?
            .attempts
            .iter()
            .find(|(_, a)| a == id)?;
        let a = self.attempts.get(key)?;
        let (role, other) = if key.0 == *me && a.caller_conn == conn {
            (Role::Caller, &a.callee)
        } else if a.callee_conn == conn {
            (Role::Callee, &key.0)
        } else {
            return None;
        };
        to.matches(other).then(|| (key.clone(), role))
    }

    fn other_conn(&self, key: &Key, role: Role) -> Option<ConnId> {
        let a = self.attempts.get(key)?;
        Some(match role {
            Role::Caller => a.callee_conn,
            Role::Callee => a.caller_conn,
        })
    }

    /// Forgets an attempt everywhere it is recorded.
    fn remove_attempt(&mut self, key: &Key) -> Option<Attempt> {
        let a = self.attempts.remove(key)?;
        self.timers
            .cancel(TimerKey::Attempt(key.0.clone(), key.1.clone()), a.deadline);
        for c in [a.caller_conn, a.callee_conn] {
            if let Some(s) = self.sessions.get_mut(&c) {
                s.attempts.remove(key);
            }
        }
        if !a.answered
            && let Some(s) = self.sessions.get_mut(&a.caller_conn)
        {
            s.pending_calls = s.pending_calls.saturating_sub(1);
        }
        Some(a)
    }

    fn no_attempt(&mut self, conn: ConnId, attempt: AttemptId, to: &Address) {
        let text = format!("no live attempt {attempt} with {to}");
        self.send(conn, &error_msg(ErrorCode::NoAttempt, Some(attempt), &text));
    }
}

/// Reasons are for people; a long one is cut so the relayed frame stays small.
fn short(reason: Option<String>) -> Option<String> {
    reason.map(|r| match r.char_indices().nth(MAX_REASON_CHARS) {
        Some((cut, _)) => r[..cut].to_owned(),
        None => r,
    })
}

/// The longest reason relayed, in characters.
const MAX_REASON_CHARS: usize = 256;
