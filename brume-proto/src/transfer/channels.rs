//! What transfers need of a connection: data channels towards a peer.
//!
//! [`Transfers`](super::Transfers) never names the endpoint and never
//! changes it. It reads the connections through [`ChannelLevels`] and says
//! what it wants done as [`ChannelCommand`]s, which the
//! [`Node`](crate::node::Node) carries out, in order, right after each call
//! and before anything else writes, reporting back what the endpoint
//! answered ([`Transfers::handle_channel_opened`](super::Transfers::handle_channel_opened),
//! [`Transfers::handle_unwritten`](super::Transfers::handle_unwritten),
//! [`Transfers::handle_write_failed`](super::Transfers::handle_write_failed)).
//! The send window paces itself by how much each channel holds: it counts
//! its own commands not yet carried out on top of what the endpoint reports,
//! so a burst of writes in one call is weighed as if each had been made.

use crate::endpoint::{ChannelId, Endpoint, PeerStatus};
use crate::signal::Address;

/// What transfers read of the connections; nothing here changes them.
pub trait ChannelLevels {
    /// True while the connection to `peer` is established: open, or
    /// recovering from a silence (what is written then waits).
    fn is_open(&self, peer: &Address) -> bool;

    /// The largest message the peer takes, once the connection is open.
    fn max_message_size(&self, peer: &Address) -> Option<usize>;

    /// Bytes written to the channel and not yet acknowledged.
    fn buffered_amount(&self, peer: &Address, channel: ChannelId) -> Option<usize>;

    /// Bytes the peer's send buffer, shared by all its channels, still takes.
    fn send_room(&self, peer: &Address) -> usize;
}

/// What transfers ask of the connections, in the order asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelCommand {
    /// Open an ordered, reliable channel labelled `label`; the endpoint's id
    /// for it goes back through `handle_channel_opened`, and it is usable
    /// once a `ChannelOpen` event names it.
    Open {
        /// The connection.
        peer: Address,
        /// The channel's label (a transfer's, `brume-ft/<id>`).
        label: String,
    },
    /// Write one message. Refused for want of room, it goes back whole
    /// through `handle_unwritten`, with every later write to the peer.
    Write {
        /// The connection.
        peer: Address,
        /// The channel.
        channel: ChannelId,
        /// The message.
        data: Vec<u8>,
    },
    /// Close a channel; a `ChannelClosed` event follows.
    Close {
        /// The connection.
        peer: Address,
        /// The channel.
        channel: ChannelId,
    },
    /// Report a buffered-low event once the channel holds `threshold`
    /// bytes or fewer.
    SetBufferedLow {
        /// The connection.
        peer: Address,
        /// The channel.
        channel: ChannelId,
        /// The level to fall to.
        threshold: usize,
    },
}

impl ChannelLevels for Endpoint {
    fn is_open(&self, peer: &Address) -> bool {
        // A recovering connection still takes channels: they wait in SCTP.
        matches!(
            self.peer_state(peer),
            Some(PeerStatus::Open | PeerStatus::Recovering)
        )
    }

    fn max_message_size(&self, peer: &Address) -> Option<usize> {
        Endpoint::max_message_size(self, peer)
    }

    fn buffered_amount(&self, peer: &Address, channel: ChannelId) -> Option<usize> {
        Endpoint::buffered_amount(self, peer, channel)
    }

    fn send_room(&self, peer: &Address) -> usize {
        Endpoint::send_room(self, peer)
    }
}

/// The commands transfers gave and the Node has not yet carried out, and
/// the bytes of their writes per channel.
#[derive(Debug, Default)]
pub(super) struct CommandQueue {
    commands: std::collections::VecDeque<ChannelCommand>,
    /// Bytes of queued writes, per (peer, channel).
    unwritten: std::collections::BTreeMap<(Address, ChannelId), usize>,
}

impl CommandQueue {
    pub(super) fn push(&mut self, command: ChannelCommand) {
        if let ChannelCommand::Write {
            peer,
            channel,
            data,
        } = &command
        {
            *self.unwritten.entry((peer.clone(), *channel)).or_default() += data.len();
        }
        self.commands.push_back(command);
    }

    pub(super) fn pop(&mut self) -> Option<ChannelCommand> {
        let command = self.commands.pop_front()?;
        if let ChannelCommand::Write {
            peer,
            channel,
            data,
        } = &command
        {
            let key = (peer.clone(), *channel);
            if let Some(left) = self.unwritten.get_mut(&key) {
                *left = left.saturating_sub(data.len());
                if *left == 0 {
                    self.unwritten.remove(&key);
                }
            }
        }
        Some(command)
    }

    /// Bytes queued for `channel` and not yet written.
    pub(super) fn unwritten(&self, peer: &Address, channel: ChannelId) -> usize {
        // The map is keyed by an owned address; a scan of the peer's few
        // channels avoids cloning it on every look.
        self.unwritten
            .iter()
            .filter(|((p, c), _)| p == peer && *c == channel)
            .map(|(_, n)| *n)
            .sum()
    }

    /// Bytes queued for any channel of `peer` and not yet written.
    pub(super) fn unwritten_to(&self, peer: &Address) -> usize {
        self.unwritten
            .iter()
            .filter(|((p, _), _)| p == peer)
            .map(|(_, n)| *n)
            .sum()
    }

    /// Drops queued writes to `channel` (its transfer ended badly: what it
    /// still had to say is moot).
    pub(super) fn drop_writes(&mut self, peer: &Address, channel: ChannelId) {
        self.commands.retain(|c| {
            !matches!(c, ChannelCommand::Write { peer: p, channel: ch, .. } if p == peer && *ch == channel)
        });
        self.unwritten.remove(&(peer.clone(), channel));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer() -> Address {
        "bob".parse().unwrap()
    }

    #[test]
    fn counts_queued_writes_until_taken() {
        let mut q = CommandQueue::default();
        let ch = ChannelId::for_tests(1);
        q.push(ChannelCommand::Write {
            peer: peer(),
            channel: ch,
            data: vec![0; 10],
        });
        q.push(ChannelCommand::Close {
            peer: peer(),
            channel: ch,
        });
        q.push(ChannelCommand::Write {
            peer: peer(),
            channel: ch,
            data: vec![0; 5],
        });
        assert_eq!(q.unwritten(&peer(), ch), 15);
        assert!(matches!(q.pop(), Some(ChannelCommand::Write { .. })));
        assert_eq!(q.unwritten_to(&peer()), 5);
        assert!(matches!(q.pop(), Some(ChannelCommand::Close { .. })));
        q.drop_writes(&peer(), ch);
        assert_eq!(q.unwritten(&peer(), ch), 0);
        assert_eq!(q.pop(), None);
    }
}
