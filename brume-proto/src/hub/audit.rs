//! An independent observer of a hub, for property tests and fuzzing: it feeds
//! inputs, reads every output, and checks the hub's promises after each step.
//!
//! It keeps its own account of who is connected and authenticated, on which
//! device, built only from the hub's inputs and outputs, and checks that:
//! - every frame the hub sends decodes, and goes to a connection still open;
//! - relayed and presence frames go only to authenticated sessions;
//! - a relayed frame's `from` is the true sender's user and device: the
//!   authenticated sender of the frame that caused it;
//! - a user's devices are unique, and a user has at most `max_devices`;
//! - a session that accepts calls holds the device it asked for; one that
//!   does not, or that asked not to replace and found its device held,
//!   holds `BASE~N`, the smallest N free;
//! - an offer to a bare user reaches the session of theirs that accepts
//!   calls and was used most recently (logged in, or had an offer or answer
//!   relayed), never the caller; `ENODEST` only when there is none; an offer
//!   to `user/device` reaches exactly that session; a reply reaches only a
//!   session its `to` names;
//! - every presence frame lists exactly the user's online devices that
//!   accept calls, and every session still holds the truth for each user it
//!   watches;
//! - the hub's session table matches the open connections, and nothing leaks
//!   once they are all gone.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use super::{ConnId, Hub, HubInput, HubOutput};
use crate::error::ErrorCode;
use crate::signal::{
    Address, ClientMsg, CloseReason, DeviceName, GroupId, HubMsg, PeerId, UserName, decode_client,
    decode_hub,
};

/// A hub under audit.
#[derive(Debug)]
pub struct AuditedHub {
    /// The hub itself, for mutators and getters.
    pub hub: Hub,
    open: BTreeSet<ConnId>,
    authed: BTreeMap<ConnId, Seen>,
    /// The audit's own count of uses, to order sessions as the hub must.
    uses: u64,
    explicit: BTreeMap<ConnId, BTreeSet<UserName>>,
    last_presence: BTreeMap<(ConnId, UserName), Vec<DeviceName>>,
    /// The session that last had a group's members confirmed: it serves
    /// the group's scoped calls to its owner.
    serving: BTreeMap<GroupId, ConnId>,
}

/// An authenticated session, as the outputs show it.
#[derive(Debug, Clone)]
struct Seen {
    peer: PeerId,
    calls: bool,
    used: u64,
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
            uses: 0,
            explicit: BTreeMap::new(),
            last_presence: BTreeMap::new(),
            serving: BTreeMap::new(),
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
            Cause::Frame(c, _) | Cause::Closed(c) => self.authed.get(c).map(|s| s.peer.clone()),
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
        self.serving.retain(|_, conn| *conn != c);
    }

    /// The user's devices that accept calls, sorted: what presence must say.
    fn accepting(&self, user: &UserName) -> Vec<DeviceName> {
        let mut v: Vec<DeviceName> = self
            .authed
            .values()
            .filter(|s| s.calls && s.peer.user == *user)
            .map(|s| s.peer.device.clone())
            .collect();
        v.sort();
        v
    }

    /// The session a bare-user offer from `caller` must reach.
    fn most_recent(&self, user: &UserName, caller: ConnId) -> Option<ConnId> {
        self.authed
            .iter()
            .filter(|(c, s)| **c != caller && s.calls && s.peer.user == *user)
            .max_by_key(|(_, s)| s.used)
            .map(|(c, _)| *c)
    }

    fn touch(&mut self, conn: ConnId) {
        self.uses += 1;
        if let Some(s) = self.authed.get_mut(&conn) {
            s.used = self.uses;
        }
    }

    /// A `welcome` to `conn`: the device it holds must be the one asked for,
    /// or the smallest free instance of it.
    fn welcomed(&mut self, conn: ConnId, peer: PeerId, cause: &Cause) -> Result<(), String> {
        let asked = match cause {
            Cause::Frame(
                c,
                Some(ClientMsg::Hello {
                    device,
                    calls,
                    replace,
                    ..
                }),
            )
            | Cause::Frame(
                c,
                Some(ClientMsg::Refresh {
                    device,
                    calls,
                    replace,
                    ..
                }),
            ) if *c == conn => (device.clone().unwrap_or_default(), *calls, *replace),
            _ => return Err(format!("welcome to {conn:?} without its hello or refresh")),
        };
        let (device, calls, replace) = asked;
        // A login that may not replace, on a device held, takes no calls.
        let held = self
            .authed
            .iter()
            .any(|(c, s)| *c != conn && s.peer.user == peer.user && s.peer.device == device);
        let calls = calls && (replace || !held);
        if calls && peer.device != device {
            return Err(format!("{conn:?} asked for {device}, was given {peer}"));
        }
        if !calls {
            let taken: BTreeSet<&DeviceName> = self
                .authed
                .iter()
                .filter(|(c, s)| **c != conn && s.peer.user == peer.user)
                .map(|(_, s)| &s.peer.device)
                .collect();
            let expected = (1..=16)
                .filter_map(|n| device.with_instance(n))
                .find(|d| !taken.contains(d));
            if expected.as_ref() != Some(&peer.device) {
                return Err(format!(
                    "{conn:?} takes no calls and got {peer}, expected {expected:?}"
                ));
            }
        }
        self.authed.insert(
            conn,
            Seen {
                peer,
                calls,
                used: 0,
            },
        );
        self.touch(conn);
        Ok(())
    }

    /// An offer frame from `caller` reached `callee`: the one `to` names.
    fn check_route(
        &self,
        caller: ConnId,
        to: &Address,
        group: Option<&GroupId>,
        callee: ConnId,
    ) -> Result<(), String> {
        let served = group
            .filter(|g| *to == Address::User(g.owner.clone()))
            .and_then(|g| self.serving.get(g))
            .filter(|c| **c != caller)
            .filter(|c| {
                self.authed
                    .get(c)
                    .is_some_and(|s| Address::User(s.peer.user.clone()) == *to)
            })
            .copied();
        let expected = match to {
            Address::User(_) if served.is_some() => served,
            Address::User(u) => self.most_recent(u, caller),
            Address::Device(p) => self
                .authed
                .iter()
                .find(|(_, s)| s.peer == *p)
                .map(|(c, _)| *c),
        };
        if expected != Some(callee) {
            return Err(format!(
                "offer to {to} reached {callee:?}, expected {expected:?}"
            ));
        }
        Ok(())
    }

    /// A reply a client sent reached the session its `to` names.
    fn check_reply_to(&self, cause: &Cause, recipient: ConnId) -> Result<(), String> {
        let to = match cause {
            Cause::Frame(
                _,
                Some(
                    ClientMsg::Answer { to, .. }
                    | ClientMsg::Candidate { to, .. }
                    | ClientMsg::Reject { to, .. }
                    | ClientMsg::Cancel { to, .. },
                ),
            ) => to,
            _ => return Ok(()),
        };
        match self.authed.get(&recipient) {
            Some(s) if to.matches(&s.peer) => Ok(()),
            other => Err(format!(
                "a reply to {to} reached {recipient:?} ({:?})",
                other.map(|s| &s.peer)
            )),
        }
    }

    fn check_outputs(
        &mut self,
        cause: Cause,
        sender_before: Option<PeerId>,
    ) -> Result<Vec<HubOutput>, String> {
        let mut outputs = Vec::new();
        let mut relays_from = Vec::new();
        let mut presences = Vec::new();
        let mut used_by_sender = false;
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
                        HubMsg::Welcome { user, device, .. } => {
                            self.welcomed(*conn, PeerId::new(user, device), &cause)?;
                        }
                        HubMsg::Offer { from, .. } => {
                            if let Cause::Frame(c, Some(ClientMsg::Offer { to, group, .. })) =
                                &cause
                            {
                                self.check_route(*c, to, group.as_ref(), *conn)?;
                            }
                            used_by_sender = true;
                            relays_from.push((false, from));
                        }
                        HubMsg::Answer { from, .. } => {
                            self.check_reply_to(&cause, *conn)?;
                            used_by_sender = true;
                            relays_from.push((false, from));
                        }
                        HubMsg::Candidate { from, .. } | HubMsg::Reject { from, .. } => {
                            self.check_reply_to(&cause, *conn)?;
                            relays_from.push((false, from))
                        }
                        HubMsg::Cancel { from, .. } => {
                            self.check_reply_to(&cause, *conn)?;
                            relays_from.push((true, from))
                        }
                        HubMsg::Presence {
                            user,
                            online,
                            devices,
                        } => {
                            if online == devices.is_empty() {
                                return Err(format!(
                                    "presence of {user}: online={online} with devices {devices:?}"
                                ));
                            }
                            // Against the truth as of this frame: one step
                            // may close several of a user's sessions in turn.
                            let truth = self.accepting(&user);
                            if devices != truth {
                                return Err(format!(
                                    "told {conn:?} {user} has devices {devices:?}, but they are {truth:?}"
                                ));
                            }
                            self.last_presence
                                .insert((*conn, user.clone()), devices.clone());
                            presences.push((*conn, user));
                        }
                        HubMsg::Error {
                            code: ErrorCode::NoDest,
                            ..
                        } => {
                            if let Cause::Frame(c, Some(ClientMsg::Offer { to, .. })) = &cause {
                                let exists = match to {
                                    Address::User(u) => self.most_recent(u, *c).is_some(),
                                    Address::Device(p) => {
                                        self.authed.values().any(|s| s.peer == *p)
                                    }
                                };
                                if exists {
                                    return Err(format!(
                                        "ENODEST for an offer to {to}, who is online"
                                    ));
                                }
                            }
                        }
                        HubMsg::Members { group, .. } => {
                            // Confirming a publish: that session serves the group.
                            if let Cause::Frame(c, Some(ClientMsg::Members { .. })) = &cause
                                && c == conn
                            {
                                self.serving.insert(group, *conn);
                            }
                        }
                        HubMsg::Unknown => {
                            return Err(format!("hub sent an unknown type: {frame}"));
                        }
                        _ => {}
                    }
                }
                HubOutput::Close { conn, reason } => {
                    // Only a session that takes calls, on the same device, replaces another.
                    if *reason == CloseReason::Replaced {
                        let by = match &cause {
                            Cause::Frame(
                                c,
                                Some(ClientMsg::Hello {
                                    calls: true,
                                    replace: true,
                                    device,
                                    ..
                                }),
                            )
                            | Cause::Frame(
                                c,
                                Some(ClientMsg::Refresh {
                                    calls: true,
                                    replace: true,
                                    device,
                                    ..
                                }),
                            ) if !self.authed.contains_key(c) => device.clone().unwrap_or_default(),
                            _ => {
                                return Err(format!(
                                    "{conn:?} replaced, but not by a login that takes calls and may replace"
                                ));
                            }
                        };
                        let old = self.authed.get(conn).map(|s| &s.peer.device);
                        if old != Some(&by) {
                            return Err(format!("{conn:?} on {old:?} replaced by a login on {by}"));
                        }
                    }
                    self.forget(*conn)
                }
                HubOutput::GroupChanged { .. }
                | HubOutput::ContactChanged { .. }
                | HubOutput::InvitationClaimed { .. } => {}
            }
            outputs.push(out);
        }

        // Who may be named `from`: the sender of the frame behind this step.
        match &cause {
            Cause::Frame(c, _) => {
                let sender = self.authed.get(c).map(|s| s.peer.clone()).or(sender_before);
                for (_, from) in &relays_from {
                    if Some(from) != sender.as_ref() {
                        return Err(format!("relayed from {from} but {c:?} is {sender:?}"));
                    }
                }
                if used_by_sender {
                    self.touch(*c);
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
                    for (conn, user) in &presences {
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

        self.check_devices()?;
        for (conn, users) in &self.explicit {
            for user in users {
                let last = self.last_presence.get(&(*conn, user.clone()));
                if last != Some(&self.accepting(user)) {
                    return Err(format!("{conn:?} watches {user} but holds {last:?}"));
                }
            }
        }
        for ((conn, user), last) in &self.last_presence {
            if self.hub.watches(*conn, user) && *last != self.accepting(user) {
                return Err(format!(
                    "{conn:?} is a mate of {user} but holds devices {last:?}"
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
        if self.open.is_empty() && (self.hub.timer_count() != 0 || self.hub.attempt_count() != 0) {
            return Err("timers or attempts outlive every session".into());
        }
        Ok(outputs)
    }

    /// Devices are unique per user and bounded, and the hub agrees on who holds what.
    fn check_devices(&self) -> Result<(), String> {
        let mut per_user: BTreeMap<&UserName, BTreeSet<&DeviceName>> = BTreeMap::new();
        for (conn, s) in &self.authed {
            if !per_user
                .entry(&s.peer.user)
                .or_default()
                .insert(&s.peer.device)
            {
                return Err(format!("two live sessions hold {}", s.peer));
            }
            if self.hub.peer_of(*conn) != Some(&s.peer) {
                return Err(format!(
                    "{conn:?} is {} by its welcome, {:?} by the hub",
                    s.peer,
                    self.hub.peer_of(*conn)
                ));
            }
        }
        let max = self.hub.limits().max_devices;
        if let Some((user, d)) = per_user.iter().find(|(_, d)| d.len() > max) {
            return Err(format!("{user} holds {} devices, over {max}", d.len()));
        }
        let hub_online: Vec<&UserName> = self.hub.online_users().collect();
        let online: Vec<&UserName> = per_user.keys().copied().collect();
        if hub_online != online {
            return Err(format!(
                "hub says {hub_online:?} are online, outputs say {online:?}"
            ));
        }
        Ok(())
    }
}
