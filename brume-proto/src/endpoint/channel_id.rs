//! Brume's own name for a data channel, and the per-peer table that maps it
//! to str0m's (which has no order and no public constructor).

use std::fmt;

/// A data channel of one connection, as the endpoint names it to the
/// application: unique within the endpoint, never reused, ordered by age.
/// It is not the SCTP stream id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ChannelId(u64);

impl ChannelId {
    /// A channel id out of nothing, for unit tests.
    #[cfg(test)]
    pub(crate) fn for_tests(n: u64) -> Self {
        Self(n)
    }
}

impl fmt::Display for ChannelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "channel {}", self.0)
    }
}

/// One peer's channels: Brume's ids beside str0m's, and the bytes each
/// held unacknowledged when the connection was last drained (str0m reads
/// them only through `&mut`, and the endpoint's readers need not mutate).
#[derive(Debug, Default)]
pub(crate) struct ChannelTable(Vec<(ChannelId, str0m::channel::ChannelId, usize)>);

impl ChannelTable {
    /// Brume's id for str0m's `raw`, made from `next` the first time.
    pub(crate) fn name(&mut self, raw: str0m::channel::ChannelId, next: &mut u64) -> ChannelId {
        if let Some(id) = self.find(raw) {
            return id;
        }
        let id = ChannelId(*next);
        *next += 1;
        self.0.push((id, raw, 0));
        id
    }

    /// Brume's id for `raw`, if it has one.
    pub(crate) fn find(&self, raw: str0m::channel::ChannelId) -> Option<ChannelId> {
        self.0
            .iter()
            .find(|(_, r, _)| *r == raw)
            .map(|(id, ..)| *id)
    }

    /// str0m's id for `id`.
    pub(crate) fn raw(&self, id: ChannelId) -> Option<str0m::channel::ChannelId> {
        self.0.iter().find(|(i, ..)| *i == id).map(|(_, r, _)| *r)
    }

    /// The channel closed: its ids are forgotten (Brume's are never reused).
    pub(crate) fn forget(&mut self, raw: str0m::channel::ChannelId) -> Option<ChannelId> {
        let at = self.0.iter().position(|(_, r, _)| *r == raw)?;
        Some(self.0.remove(at).0)
    }

    /// The bytes `id` held unacknowledged at the last look.
    pub(crate) fn buffered(&self, id: ChannelId) -> Option<usize> {
        self.0.iter().find(|(i, ..)| *i == id).map(|(.., b)| *b)
    }

    /// The bytes every channel held at the last look.
    pub(crate) fn total_buffered(&self) -> usize {
        self.0.iter().map(|(.., b)| *b).sum()
    }

    /// What `raw` holds now.
    pub(crate) fn set(&mut self, raw: str0m::channel::ChannelId, level: usize) {
        if let Some((.., buffered)) = self.0.iter_mut().find(|(_, r, _)| *r == raw) {
            *buffered = level;
        }
    }

    /// Looks again at what every channel holds.
    pub(crate) fn refresh(&mut self, mut look: impl FnMut(str0m::channel::ChannelId) -> usize) {
        for (_, raw, buffered) in &mut self.0 {
            *buffered = look(*raw);
        }
    }
}
