//! Presence: explicit subscriptions, group-mates, and membership publishing.
//! Presence is per device: a user's online devices that accept calls.

use std::collections::{BTreeMap, BTreeSet};

use super::{ConnId, Hub, HubOutput, error_msg};
use crate::error::ErrorCode;
use crate::signal::{GroupId, GroupName, HubMsg, UserName};

impl Hub {
    pub(super) fn on_subscribe(&mut self, conn: ConnId, users: Vec<UserName>) {
        let max = self.config.limits.max_subscriptions;
        for user in users.into_iter().collect::<BTreeSet<_>>() {
            if !self.users.contains(&user) {
                let text = format!("unknown user {user}");
                self.send(conn, &error_msg(ErrorCode::BadDest, None, &text));
                continue;
            }
            if let Some(me) = self.user_of(conn)
                && !self.may_reach(me, &user)
            {
                let text =
                    format!("{user} is not a contact of yours; this hub shows only contacts");
                self.send(conn, &error_msg(ErrorCode::NotContact, None, &text));
                continue;
            }
            let Some(session) = self.sessions.get_mut(&conn) else {
                return;
            };
            if !session.subscriptions.contains(&user) && session.subscriptions.len() >= max {
                let text = format!("at most {max} subscriptions; {user} not added");
                self.send(conn, &error_msg(ErrorCode::Limit, None, &text));
                continue;
            }
            session.subscriptions.insert(user.clone());
            self.watchers.entry(user.clone()).or_default().insert(conn);
            let presence = self.presence_msg(&user);
            self.send(conn, &presence);
        }
    }

    pub(super) fn on_unsubscribe(&mut self, conn: ConnId, users: Vec<UserName>) {
        let Some(session) = self.sessions.get_mut(&conn) else {
            return;
        };
        for user in users {
            session.subscriptions.remove(&user);
            if let Some(set) = self.watchers.get_mut(&user) {
                set.remove(&conn);
                if set.is_empty() {
                    self.watchers.remove(&user);
                }
            }
        }
    }

    /// What `user`'s presence is now.
    pub(super) fn presence_msg(&self, user: &UserName) -> HubMsg {
        let devices = self.accepting_devices(user);
        HubMsg::Presence {
            user: user.clone(),
            online: !devices.is_empty(),
            devices,
        }
    }

    /// Tells everyone who watches `user` (explicitly, or every session of a
    /// group-mate) the devices of theirs that accept calls, which just changed.
    pub(super) fn broadcast_presence(&mut self, user: &UserName) {
        let mut to: BTreeSet<ConnId> = self.watchers.get(user).cloned().unwrap_or_default();
        for mate in self.groups.mates(user) {
            to.extend(self.online.conns(&mate));
        }
        if to.is_empty() {
            return;
        }
        let frame = crate::signal::encode_hub(&self.presence_msg(user));
        for conn in to {
            self.outputs.push_back(HubOutput::Send {
                conn,
                frame: frame.clone(),
            });
        }
    }

    /// Sets a group's members; users who become group-mates learn each
    /// other's presence at once, so the hub's promise holds whoever changed it.
    pub(super) fn replace_group(&mut self, group: GroupId, members: BTreeSet<UserName>) {
        let old = self.groups.members(&group).cloned().unwrap_or_default();
        let affected: BTreeSet<UserName> = old
            .iter()
            .chain(&members)
            .chain(std::iter::once(&group.owner))
            .cloned()
            .collect();
        let before: BTreeMap<UserName, BTreeSet<UserName>> = affected
            .iter()
            .map(|u| (u.clone(), self.groups.mates(u)))
            .collect();
        self.groups.set(group, members);
        for (user, was) in before {
            for c in self.online.conns(&user) {
                for mate in self.groups.mates(&user).difference(&was) {
                    let presence = self.presence_msg(mate);
                    self.send(c, &presence);
                }
            }
        }
    }

    /// An owner publishes one of their groups. The whole list is checked
    /// before anything changes; users who become group-mates learn each
    /// other's presence at once.
    pub(super) fn on_members(
        &mut self,
        conn: ConnId,
        owner: UserName,
        name: GroupName,
        members: Vec<UserName>,
    ) {
        let limits = &self.config.limits;
        let group = GroupId {
            owner: owner.clone(),
            name,
        };
        let members: BTreeSet<UserName> = members.into_iter().filter(|m| *m != owner).collect();
        if members.len() > limits.max_group_members {
            let text = format!("at most {} members per group", limits.max_group_members);
            return self.send(conn, &error_msg(ErrorCode::Limit, None, &text));
        }
        if let Some(unknown) = members.iter().find(|m| !self.users.contains(m)) {
            let text = format!("unknown user {unknown}; group {group} unchanged");
            return self.send(conn, &error_msg(ErrorCode::BadDest, None, &text));
        }
        let old = self.groups.members(&group).cloned().unwrap_or_default();
        if old.is_empty()
            && !members.is_empty()
            && self.groups.owned_count(&owner) >= limits.max_groups_per_owner
        {
            let text = format!("at most {} groups per owner", limits.max_groups_per_owner);
            return self.send(conn, &error_msg(ErrorCode::Limit, None, &text));
        }
        self.replace_group(group.clone(), members.clone());
        self.serving.serve(group.clone(), conn);
        let members: Vec<UserName> = members.into_iter().collect();
        self.send(
            conn,
            &HubMsg::Members {
                group: group.clone(),
                members: members.clone(),
            },
        );
        self.outputs
            .push_back(HubOutput::GroupChanged { group, members });
    }
}
