//! Which session serves each group: the one that last published its
//! members (`members`), until it closes. A bare-user call scoped to a group
//! (`offer.group`) to the group's owner reaches that session, whether or
//! not it takes the user's other calls, so an owner's `brume share` lives
//! beside its `brume recv` on one device and each gets its own calls.

use std::collections::BTreeMap;

use super::ConnId;
use crate::signal::GroupId;

/// Group → the session serving it.
#[derive(Debug, Default)]
pub(crate) struct Serving {
    by_group: BTreeMap<GroupId, ConnId>,
}

impl Serving {
    /// `conn` published `group`'s members: it serves the group now.
    pub(crate) fn serve(&mut self, group: GroupId, conn: ConnId) {
        self.by_group.insert(group, conn);
    }

    /// The session serving `group`, if one does.
    pub(crate) fn server(&self, group: &GroupId) -> Option<ConnId> {
        self.by_group.get(group).copied()
    }

    /// A session closed: it serves nothing any more.
    pub(crate) fn forget(&mut self, conn: ConnId) {
        self.by_group.retain(|_, c| *c != conn);
    }
}
