//! Messages sent to a name before a connection to it is open (linkup's
//! `send(name, message)`): they wait here, in order, while one connection
//! attempt to the name is under way, go out when it opens, and are reported
//! undelivered if it fails.

use std::collections::{BTreeMap, VecDeque};

use crate::framing::Data;
use crate::signal::Address;

/// Messages waiting per address asked for (a user, or one device).
#[derive(Debug, Default)]
pub(super) struct SendQueue {
    waiting: BTreeMap<Address, VecDeque<(String, Data)>>,
}

impl SendQueue {
    /// The most messages that wait for one address; more are refused.
    pub(super) const LIMIT: usize = 1024;

    /// True if messages wait for `to` (an attempt is under way for them).
    pub(super) fn is_waiting(&self, to: &Address) -> bool {
        self.waiting.contains_key(to)
    }

    /// Queues a message; false if `to` already has [`Self::LIMIT`] waiting.
    pub(super) fn push(&mut self, to: Address, kind: &str, data: Data) -> bool {
        let q = self.waiting.entry(to).or_default();
        if q.len() >= Self::LIMIT {
            return false;
        }
        q.push_back((kind.to_owned(), data));
        true
    }

    /// Takes every queue that `peer` (a full address, just opened or just
    /// failed) answers: its own, and its user's if it is a device.
    pub(super) fn take_for(&mut self, peer: &Address) -> Vec<(Address, VecDeque<(String, Data)>)> {
        let asked: Vec<Address> = self
            .waiting
            .keys()
            .filter(|a| *a == peer || matches!(a, Address::User(u) if u == peer.user()))
            .cloned()
            .collect();
        asked
            .into_iter()
            .filter_map(|a| self.waiting.remove(&a).map(|q| (a, q)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> Address {
        s.parse().unwrap()
    }

    #[test]
    fn a_device_answers_its_own_queue_and_its_users() {
        let mut q = SendQueue::default();
        assert!(q.push(a("bob"), "chat", Data::Text("1".into())));
        assert!(q.push(a("bob/phone"), "chat", Data::Text("2".into())));
        assert!(q.push(a("bob/desk"), "chat", Data::Text("3".into())));
        assert!(q.push(a("carol"), "chat", Data::Text("4".into())));
        let taken = q.take_for(&a("bob/phone"));
        let names: Vec<String> = taken.iter().map(|(to, _)| to.to_string()).collect();
        assert_eq!(names, ["bob", "bob/phone"]);
        assert!(q.is_waiting(&a("bob/desk")) && q.is_waiting(&a("carol")));
        assert!(!q.is_waiting(&a("bob")));
    }

    #[test]
    fn a_full_queue_refuses_more() {
        let mut q = SendQueue::default();
        for _ in 0..SendQueue::LIMIT {
            assert!(q.push(a("bob"), "m", Data::Bytes(vec![])));
        }
        assert!(!q.push(a("bob"), "m", Data::Bytes(vec![])));
    }
}
