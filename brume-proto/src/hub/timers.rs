//! The hub's one timer table: every deadline, ordered, so the next timeout is the first entry.

use std::collections::BTreeSet;
use std::time::Instant;

use super::ConnId;
use crate::signal::{AttemptId, PeerId};

/// What a deadline belongs to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum TimerKey {
    /// A session's auth deadline, ping time or idle deadline.
    Session(ConnId),
    /// A connection attempt's answer deadline or linger end.
    Attempt(PeerId, AttemptId),
}

#[derive(Debug, Default)]
pub(crate) struct Timers {
    queue: BTreeSet<(Instant, TimerKey)>,
}

impl Timers {
    /// Moves `key` from `old` (if it was scheduled) to `new`.
    pub(crate) fn reschedule(&mut self, key: TimerKey, old: Option<Instant>, new: Instant) {
        if old == Some(new) {
            return;
        }
        if let Some(old) = old {
            self.queue.remove(&(old, key.clone()));
        }
        self.queue.insert((new, key));
    }

    pub(crate) fn cancel(&mut self, key: TimerKey, at: Instant) {
        self.queue.remove(&(at, key));
    }

    pub(crate) fn next(&self) -> Option<Instant> {
        self.queue.first().map(|(at, _)| *at)
    }

    /// Removes and returns the first entry due at or before `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<TimerKey> {
        if self.queue.first()?.0 > now {
            return None;
        }
        self.queue.pop_first().map(|(_, key)| key)
    }

    #[cfg(any(test, feature = "testing"))]
    pub(crate) fn len(&self) -> usize {
        self.queue.len()
    }
}
