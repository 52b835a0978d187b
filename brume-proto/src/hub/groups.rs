//! Group memberships: who belongs to which `owner/name`, and who sees whose presence.

use std::collections::{BTreeMap, BTreeSet};

use crate::signal::{GroupId, UserName};

#[derive(Debug, Default)]
pub(crate) struct Groups {
    members: BTreeMap<GroupId, BTreeSet<UserName>>,
    /// Every group a user owns or belongs to.
    by_user: BTreeMap<UserName, BTreeSet<GroupId>>,
}

impl Groups {
    /// Replaces a group's members; an empty set deletes the group.
    pub(crate) fn set(&mut self, group: GroupId, members: BTreeSet<UserName>) {
        self.remove(&group);
        if members.is_empty() {
            return;
        }
        self.index(&group.owner, &group);
        for m in &members {
            self.index(m, &group);
        }
        self.members.insert(group, members);
    }

    fn index(&mut self, user: &UserName, group: &GroupId) {
        self.by_user
            .entry(user.clone())
            .or_default()
            .insert(group.clone());
    }

    fn remove(&mut self, group: &GroupId) {
        let Some(old) = self.members.remove(group) else {
            return;
        };
        for user in old.iter().chain(std::iter::once(&group.owner)) {
            if let Some(set) = self.by_user.get_mut(user) {
                set.remove(group);
                if set.is_empty() {
                    self.by_user.remove(user);
                }
            }
        }
    }

    /// Drops a user from every group, and every group they own; returns each
    /// group that changed with its members now (empty: deleted), sorted.
    pub(crate) fn remove_user(&mut self, user: &UserName) -> Vec<(GroupId, Vec<UserName>)> {
        let groups: Vec<GroupId> = self
            .by_user
            .get(user)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default();
        let mut changed = Vec::new();
        for g in groups {
            if &g.owner == user {
                self.remove(&g);
                changed.push((g, Vec::new()));
            } else if let Some(mut members) = self.members.get(&g).cloned() {
                members.remove(user);
                self.set(g.clone(), members.clone());
                changed.push((g, members.into_iter().collect()));
            }
        }
        changed
    }

    pub(crate) fn members(&self, group: &GroupId) -> Option<&BTreeSet<UserName>> {
        self.members.get(group)
    }

    /// True if `user` owns `group` or is one of its members.
    pub(crate) fn belongs(&self, group: &GroupId, user: &UserName) -> bool {
        self.members
            .get(group)
            .is_some_and(|m| &group.owner == user || m.contains(user))
    }

    pub(crate) fn owned_count(&self, owner: &UserName) -> usize {
        self.by_user
            .get(owner)
            .map_or(0, |s| s.iter().filter(|g| &g.owner == owner).count())
    }

    /// Everyone who shares a group with `user`, not counting `user`.
    pub(crate) fn mates(&self, user: &UserName) -> BTreeSet<UserName> {
        let mut out = BTreeSet::new();
        for g in self.by_user.get(user).into_iter().flatten() {
            out.insert(g.owner.clone());
            if let Some(m) = self.members.get(g) {
                out.extend(m.iter().cloned());
            }
        }
        out.remove(user);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signal::GroupName;

    fn u(s: &str) -> UserName {
        UserName::new(s).unwrap()
    }

    fn g(owner: &str, name: &str) -> GroupId {
        GroupId {
            owner: u(owner),
            name: GroupName::new(name).unwrap(),
        }
    }

    #[test]
    fn owner_and_members_are_mates() {
        let mut groups = Groups::default();
        groups.set(g("bob", "photos"), [u("alice"), u("carol")].into());
        assert_eq!(groups.mates(&u("bob")), [u("alice"), u("carol")].into());
        assert_eq!(groups.mates(&u("alice")), [u("bob"), u("carol")].into());
        assert!(groups.mates(&u("dave")).is_empty());
        assert!(groups.belongs(&g("bob", "photos"), &u("bob")));
        assert!(!groups.belongs(&g("bob", "photos"), &u("dave")));
    }

    #[test]
    fn replacing_and_deleting_reindexes() {
        let mut groups = Groups::default();
        groups.set(g("bob", "a"), [u("alice")].into());
        groups.set(g("bob", "a"), [u("carol")].into());
        assert!(groups.mates(&u("alice")).is_empty());
        groups.set(g("bob", "a"), BTreeSet::new());
        assert!(groups.mates(&u("bob")).is_empty());
        assert_eq!(groups.owned_count(&u("bob")), 0);
    }

    #[test]
    fn removing_a_user_drops_their_groups_and_memberships() {
        let mut groups = Groups::default();
        groups.set(g("bob", "a"), [u("alice"), u("carol")].into());
        groups.set(g("alice", "b"), [u("carol")].into());
        let changed = groups.remove_user(&u("alice"));
        assert_eq!(
            changed,
            [(g("alice", "b"), vec![]), (g("bob", "a"), vec![u("carol")])]
        );
        assert!(groups.members(&g("alice", "b")).is_none());
        assert_eq!(
            groups.members(&g("bob", "a")).unwrap(),
            &[u("carol")].into()
        );
    }
}
