//! Carrying out what the transfers ask of the endpoint's channels.
//!
//! [`Transfers`](crate::transfer::Transfers) reads the endpoint and emits
//! [`ChannelCommand`]s; the node runs them right after each call into it,
//! before anything else can write, which is what its send window counts on.

use std::collections::BTreeMap;
use std::time::Instant;

use super::Node;
use crate::endpoint::ChannelId;
use crate::signal::Address;
use crate::transfer::ChannelCommand;

impl Node {
    /// Runs every command the transfers have queued, handing the endpoint's
    /// answers back. True if there was any.
    pub(super) fn run_channel_commands(&mut self, now: Instant) -> bool {
        let mut any = false;
        // Writes refused for want of room, per peer: once one is refused,
        // every later write to that peer goes back too, so none overtakes
        // another on its channel.
        let mut refused: BTreeMap<Address, Vec<(ChannelId, Vec<u8>)>> = BTreeMap::new();
        loop {
            while let Some(command) = self.transfers.poll_command() {
                any = true;
                self.run_channel_command(now, command, &mut refused);
            }
            let Some((peer, writes)) = refused.pop_first() else {
                return any;
            };
            self.transfers
                .handle_unwritten(&self.endpoint, &peer, writes);
        }
    }

    fn run_channel_command(
        &mut self,
        now: Instant,
        command: ChannelCommand,
        refused: &mut BTreeMap<Address, Vec<(ChannelId, Vec<u8>)>>,
    ) {
        match command {
            ChannelCommand::Open { peer, label } => {
                let result = self.endpoint.open_channel(now, &peer, &label);
                self.transfers
                    .handle_channel_opened(now, &self.endpoint, &peer, &label, result);
            }
            ChannelCommand::Write {
                peer,
                channel,
                data,
            } => {
                if let Some(waiting) = refused.get_mut(&peer) {
                    return waiting.push((channel, data));
                }
                match self.endpoint.channel_write(now, &peer, channel, &data) {
                    Ok(true) => {}
                    Ok(false) => refused.entry(peer).or_default().push((channel, data)),
                    Err(e) => self.transfers.handle_write_failed(
                        now,
                        &self.endpoint,
                        &peer,
                        channel,
                        data.len(),
                        e,
                    ),
                }
            }
            ChannelCommand::Close { peer, channel } => {
                // A channel already gone needs no closing.
                let _ = self.endpoint.close_channel(now, &peer, channel);
            }
            ChannelCommand::SetBufferedLow {
                peer,
                channel,
                threshold,
            } => {
                let _ = self
                    .endpoint
                    .set_buffered_low(now, &peer, channel, threshold);
            }
        }
    }
}
