//! Connection attempts: the hub relays offer, answer, candidate, reject and
//! cancel between the two users of an attempt, stamping `from` itself, and
//! only while the attempt lives.

use std::time::Instant;

use super::timers::TimerKey;
use super::{CancelWhy, ConnId, Hub, HubOutput, error_msg};
use crate::error::ErrorCode;
use crate::signal::{AttemptId, GroupId, HubMsg, UserName};

/// An attempt, keyed in the hub by `(caller, id)`.
#[derive(Debug)]
pub(crate) struct Attempt {
    caller_conn: ConnId,
    callee: UserName,
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

type Key = (UserName, AttemptId);

impl Hub {
    #[allow(clippy::too_many_arguments)] // one per field of the message
    pub(super) fn on_offer(
        &mut self,
        now: Instant,
        conn: ConnId,
        user: UserName,
        attempt: AttemptId,
        to: UserName,
        group: Option<GroupId>,
        sdp: String,
        restart: bool,
    ) {
        let refuse = |code, text: String| error_msg(code, Some(attempt.clone()), &text);
        if to == user {
            return self.send(
                conn,
                &refuse(ErrorCode::BadDest, "cannot connect to yourself".into()),
            );
        }
        if !self.users.contains(&to) {
            return self.send(
                conn,
                &refuse(ErrorCode::BadDest, format!("unknown user {to}")),
            );
        }
        if let Some(g) = &group
            && (!self.groups.belongs(g, &user) || !self.groups.belongs(g, &to))
        {
            let text = format!("{user} and {to} are not both in group {g}");
            return self.send(conn, &refuse(ErrorCode::NotMember, text));
        }
        let Some(&callee_conn) = self.online.get(&to) else {
            return self.send(
                conn,
                &refuse(ErrorCode::NoDest, format!("{to} is not connected")),
            );
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
        // Ids are the caller's, so the pair (caller, id) names an attempt; an
        // id also used by the callee towards this caller would make replies ambiguous.
        if self.find(&user, &attempt, &to).is_some()
            || self.attempts.contains_key(&(user.clone(), attempt.clone()))
        {
            let text = format!("attempt id {attempt} is already in use");
            return self.send(conn, &refuse(ErrorCode::BadMessage, text));
        }
        let relayed = HubMsg::Offer {
            attempt: attempt.clone(),
            from: user.clone(),
            group,
            sdp,
            restart,
        };
        let Some(frame) = self.relay_frame(conn, &attempt, &relayed) else {
            return;
        };
        let deadline = now + self.config.limits.attempt_timeout;
        let key = (user.clone(), attempt.clone());
        self.timers
            .reschedule(TimerKey::Attempt(user, attempt), None, deadline);
        self.attempts.insert(
            key.clone(),
            Attempt {
                caller_conn: conn,
                callee: to,
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
        self.outputs.push_back(HubOutput::Send {
            conn: callee_conn,
            frame,
        });
    }

    pub(super) fn on_answer(
        &mut self,
        now: Instant,
        conn: ConnId,
        user: UserName,
        attempt: AttemptId,
        to: UserName,
        sdp: String,
    ) {
        let Some((key, Role::Callee)) = self.find(&user, &attempt, &to) else {
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
            from: user,
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
        self.outputs.push_back(HubOutput::Send {
            conn: caller_conn,
            frame,
        });
    }

    pub(super) fn on_candidate(
        &mut self,
        conn: ConnId,
        user: UserName,
        attempt: AttemptId,
        to: UserName,
        candidate: String,
    ) {
        let Some((key, role)) = self.find(&user, &attempt, &to) else {
            return self.no_attempt(conn, attempt, &to);
        };
        let Some(other) = self.other_conn(&key, role) else {
            return;
        };
        let relayed = HubMsg::Candidate {
            attempt: attempt.clone(),
            from: user,
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
        user: UserName,
        attempt: AttemptId,
        to: UserName,
        reason: Option<String>,
    ) {
        let Some((key, Role::Callee)) = self.find(&user, &attempt, &to) else {
            return self.no_attempt(conn, attempt, &to);
        };
        if let Some(a) = self.remove_attempt(&key) {
            self.send(
                a.caller_conn,
                &HubMsg::Reject {
                    attempt,
                    from: user,
                    reason: short(reason),
                },
            );
        }
    }

    pub(super) fn on_cancel(
        &mut self,
        conn: ConnId,
        user: UserName,
        attempt: AttemptId,
        to: UserName,
        reason: Option<String>,
    ) {
        let Some((key, role)) = self.find(&user, &attempt, &to) else {
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
                from: user,
                reason: short(reason),
            },
        );
    }

    pub(super) fn on_attempt_timer(&mut self, now: Instant, caller: UserName, id: AttemptId) {
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

    /// Finds the attempt `id` between `user` and `to`, and `user`'s role in it.
    fn find(&self, user: &UserName, id: &AttemptId, to: &UserName) -> Option<(Key, Role)> {
        let as_caller = (user.clone(), id.clone());
        if self
            .attempts
            .get(&as_caller)
            .is_some_and(|a| &a.callee == to)
        {
            return Some((as_caller, Role::Caller));
        }
        let as_callee = (to.clone(), id.clone());
        if self
            .attempts
            .get(&as_callee)
            .is_some_and(|a| &a.callee == user)
        {
            return Some((as_callee, Role::Callee));
        }
        None
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

    fn no_attempt(&mut self, conn: ConnId, attempt: AttemptId, to: &UserName) {
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
