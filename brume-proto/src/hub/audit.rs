//! An independent observer of a hub, for property tests and fuzzing: it feeds
//! inputs, reads every output, and checks the hub's promises after each step.
//!
//! It keeps its own account of who is connected and authenticated, built only
//! from the hub's inputs and outputs, and checks that:
//! - every frame the hub sends decodes, and goes to a connection still open;
//! - relayed and presence frames go only to authenticated sessions;
//! - a relayed frame's `from` is the authenticated sender of the frame that caused it;
//! - one user has at most one live session;
//! - every presence frame tells the truth, and every session still holds the
//!   truth for each user it watches;
//! - the hub's session table matches the open connections, and nothing leaks
//!   once they are all gone.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use super::{ConnId, Hub, HubInput, HubOutput};
use crate::signal::{ClientMsg, HubMsg, UserName, decode_client, decode_hub};

/// A hub under audit.
#[derive(Debug)]
pub struct AuditedHub {
    /// The hub itself, for mutators and getters.
    pub hub: Hub,
    open: BTreeSet<ConnId>,
    authed: BTreeMap<ConnId, UserName>,
    explicit: BTreeMap<ConnId, BTreeSet<UserName>>,
    last_presence: BTreeMap<(ConnId, UserName), bool>,
}

/// What caused a step, which decides who may appear as `from`.
enum Cause {
    Frame(ConnId, Option<ClientMsg>),
    Closed(ConnId),
    Other,
}

impl AuditedHub {
    /// Starts auditing a hub that has no sessions yet.
    pub fn new(hub: Hub) -> Self {
        Self {
            hub,
            open: BTreeSet::new(),
            authed: BTreeMap::new(),
            explicit: BTreeMap::new(),
            last_presence: BTreeMap::new(),
        }
    }

    /// Feeds one input and checks everything that came out.
    pub fn step(&mut self, now: Instant, input: HubInput<'_>) -> Result<Vec<HubOutput>, String> {
        let cause = match input {
            HubInput::Opened(c) => {
                if !self.open.contains(&c) {
                    self.forget(c);
                    self.open.insert(c);
                }
                Cause::Other
            }
            HubInput::Frame(c, bytes) => Cause::Frame(c, decode_client(bytes).ok()),
            HubInput::Closed(c) => Cause::Closed(c),
            HubInput::Timeout => Cause::Other,
        };
        let sender = match &cause {
            Cause::Frame(c, _) | Cause::Closed(c) => self.authed.get(c).cloned(),
            Cause::Other => None,
        };
        self.hub.handle_input(now, input);
        if let Cause::Closed(c) = cause {
            self.forget(c);
        }
        self.check_outputs(cause, sender)
    }

    /// Runs a mutator (such as `add_user` or `shutdown`) and checks its
    /// outputs. Use [`AuditedHub::remove_user`] to remove a user.
    pub fn admin(&mut self, f: impl FnOnce(&mut Hub)) -> Result<Vec<HubOutput>, String> {
        f(&mut self.hub);
        self.check_outputs(Cause::Other, None)
    }

    /// Removes a user: sessions stop watching them, as the hub promises.
    pub fn remove_user(&mut self, now: Instant, user: &UserName) -> Result<Vec<HubOutput>, String> {
        self.hub.remove_user(now, user);
        for users in self.explicit.values_mut() {
            users.remove(user);
        }
        self.check_outputs(Cause::Other, None)
    }

    fn forget(&mut self, c: ConnId) {
        self.open.remove(&c);
        self.authed.remove(&c);
        self.explicit.remove(&c);
        self.last_presence.retain(|(conn, _), _| *conn != c);
    }

    fn check_outputs(
        &mut self,
        cause: Cause,
        sender_before: Option<UserName>,
    ) -> Result<Vec<HubOutput>, String> {
        let mut outputs = Vec::new();
        let mut relays_from = Vec::new();
        let mut presences = Vec::new();
        while let Some(out) = self.hub.poll_output() {
            match &out {
                HubOutput::Send { conn, frame } => {
                    let msg = decode_hub(frame.as_bytes())
                        .map_err(|e| format!("hub sent an undecodable frame {frame}: {e}"))?;
                    if !self.open.contains(conn) {
                        return Err(format!("sent {frame} to closed {conn:?}"));
                    }
                    let needs_auth = matches!(
                        msg,
                        HubMsg::Offer { .. }
                            | HubMsg::Answer { .. }
                            | HubMsg::Candidate { .. }
                            | HubMsg::Reject { .. }
                            | HubMsg::Cancel { .. }
                            | HubMsg::Presence { .. }
                            | HubMsg::Members { .. }
                            | HubMsg::Ping { .. }
                            | HubMsg::Token { .. }
                    );
                    if needs_auth && !self.authed.contains_key(conn) {
                        // `token` goes out right after `welcome`, which the loop sees first.
                        return Err(format!("sent {frame} to unauthenticated {conn:?}"));
                    }
                    match msg {
                        HubMsg::Welcome { user, .. } => {
                            self.authed.insert(*conn, user);
                        }
                        HubMsg::Offer { from, .. }
                        | HubMsg::Answer { from, .. }
                        | HubMsg::Candidate { from, .. }
                        | HubMsg::Reject { from, .. } => relays_from.push((false, from)),
                        HubMsg::Cancel { from, .. } => relays_from.push((true, from)),
                        HubMsg::Presence { user, online } => {
                            self.last_presence.insert((*conn, user.clone()), online);
                            presences.push((*conn, user, online));
                        }
                        HubMsg::Unknown => {
                            return Err(format!("hub sent an unknown type: {frame}"));
                        }
                        _ => {}
                    }
                }
                HubOutput::Close { conn, .. } => self.forget(*conn),
                HubOutput::GroupChanged { .. } => {}
            }
            outputs.push(out);
        }

        // Who may be named `from`: the sender of the frame behind this step.
        match &cause {
            Cause::Frame(c, _) => {
                let sender = self.authed.get(c).cloned().or(sender_before);
                for (_, from) in &relays_from {
                    if Some(from) != sender.as_ref() {
                        return Err(format!("relayed from {from} but {c:?} is {sender:?}"));
                    }
                }
            }
            Cause::Closed(_) | Cause::Other => {
                for (is_cancel, from) in &relays_from {
                    if !is_cancel {
                        return Err(format!(
                            "relayed a non-cancel from {from} with no frame behind it"
                        ));
                    }
                    if let (Cause::Closed(_), Some(s)) = (&cause, &sender_before)
                        && from != s
                    {
                        return Err(format!("cancel from {from} when {s} left"));
                    }
                }
            }
        }

        // Explicit subscriptions, as the frames and replies show them.
        if let Cause::Frame(c, Some(msg)) = &cause {
            match msg {
                ClientMsg::Subscribe { users } => {
                    for (conn, user, _) in &presences {
                        if conn == c && users.contains(user) {
                            self.explicit.entry(*c).or_default().insert(user.clone());
                        }
                    }
                }
                ClientMsg::Unsubscribe { users } => {
                    if let Some(set) = self.explicit.get_mut(c) {
                        for u in users {
                            set.remove(u);
                        }
                    }
                }
                _ => {}
            }
        }

        let online: BTreeSet<&UserName> = self.authed.values().collect();
        if online.len() != self.authed.len() {
            return Err(format!("two live sessions for one user: {:?}", self.authed));
        }
        for (conn, user, said) in &presences {
            if *said != online.contains(user) {
                return Err(format!(
                    "told {conn:?} {user} online={said}, which is false"
                ));
            }
        }
        for (conn, users) in &self.explicit {
            for user in users {
                let last = self.last_presence.get(&(*conn, user.clone()));
                if last != Some(&online.contains(user)) {
                    return Err(format!("{conn:?} watches {user} but holds {last:?}"));
                }
            }
        }
        for ((conn, user), last) in &self.last_presence {
            if self.hub.watches(*conn, user) && *last != online.contains(user) {
                return Err(format!(
                    "{conn:?} is a mate of {user} but holds online={last}"
                ));
            }
        }

        if self.hub.session_count() != self.open.len() {
            return Err(format!(
                "hub holds {} sessions, {} are open",
                self.hub.session_count(),
                self.open.len()
            ));
        }
        let hub_online: Vec<&UserName> = self.hub.online_users().collect();
        if hub_online != online.iter().copied().collect::<Vec<_>>() {
            return Err(format!(
                "hub says {hub_online:?} are online, outputs say {online:?}"
            ));
        }
        if self.open.is_empty() && (self.hub.timer_count() != 0 || self.hub.attempt_count() != 0) {
            return Err("timers or attempts outlive every session".into());
        }
        Ok(outputs)
    }
}
