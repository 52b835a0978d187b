//! Who is online: each user's live sessions, one per device.

use std::collections::BTreeMap;

use super::ConnId;
use crate::signal::{DeviceName, PeerId, UserName, address::MAX_INSTANCE};

/// User → device → the session holding it. A user with no session has no entry.
#[derive(Debug, Default)]
pub(crate) struct Online(BTreeMap<UserName, BTreeMap<DeviceName, ConnId>>);

impl Online {
    pub(crate) fn get(&self, peer: &PeerId) -> Option<ConnId> {
        self.0.get(&peer.user)?.get(&peer.device).copied()
    }

    /// Users with at least one session, sorted.
    pub(crate) fn users(&self) -> impl Iterator<Item = &UserName> {
        self.0.keys()
    }

    /// A user's sessions, by device name.
    pub(crate) fn devices(&self, user: &UserName) -> impl Iterator<Item = (&DeviceName, ConnId)> {
        self.0.get(user).into_iter().flatten().map(|(d, c)| (d, *c))
    }

    /// A user's sessions' connections, in device order.
    pub(crate) fn conns(&self, user: &UserName) -> Vec<ConnId> {
        self.devices(user).map(|(_, c)| c).collect()
    }

    pub(crate) fn count(&self, user: &UserName) -> usize {
        self.0.get(user).map_or(0, BTreeMap::len)
    }

    pub(crate) fn insert(&mut self, peer: PeerId, conn: ConnId) {
        self.0
            .entry(peer.user)
            .or_default()
            .insert(peer.device, conn);
    }

    /// Forgets `peer` if `conn` still holds it (a replaced session does not).
    pub(crate) fn remove(&mut self, peer: &PeerId, conn: ConnId) -> bool {
        let Some(devices) = self.0.get_mut(&peer.user) else {
            return false;
        };
        if devices.get(&peer.device) != Some(&conn) {
            return false;
        }
        devices.remove(&peer.device);
        if devices.is_empty() {
            self.0.remove(&peer.user);
        }
        true
    }

    /// `BASE~N` for the smallest N no session of `user` holds.
    pub(crate) fn free_instance(&self, user: &UserName, base: &DeviceName) -> Option<DeviceName> {
        (1..=MAX_INSTANCE)
            .filter_map(|n| base.with_instance(n))
            .find(|d| self.0.get(user).is_none_or(|m| !m.contains_key(d)))
    }
}
