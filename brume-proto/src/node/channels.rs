//! The endpoint, as the transfers see it: their data channels.

use std::time::Instant;

use crate::endpoint::ChannelId;

use crate::endpoint::{Endpoint, EndpointError, PeerStatus};
use crate::signal::Address;
use crate::transfer::Channels;

impl Channels for Endpoint {
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

    fn open_channel(
        &mut self,
        now: Instant,
        peer: &Address,
        label: &str,
    ) -> Result<ChannelId, EndpointError> {
        Endpoint::open_channel(self, now, peer, label)
    }

    fn channel_write(
        &mut self,
        now: Instant,
        peer: &Address,
        channel: ChannelId,
        data: &[u8],
    ) -> Result<bool, EndpointError> {
        Endpoint::channel_write(self, now, peer, channel, data)
    }

    fn close_channel(
        &mut self,
        now: Instant,
        peer: &Address,
        channel: ChannelId,
    ) -> Result<(), EndpointError> {
        Endpoint::close_channel(self, now, peer, channel)
    }

    fn buffered_amount(&mut self, peer: &Address, channel: ChannelId) -> Option<usize> {
        Endpoint::buffered_amount(self, peer, channel)
    }

    fn set_buffered_low(
        &mut self,
        now: Instant,
        peer: &Address,
        channel: ChannelId,
        threshold: usize,
    ) -> Result<(), EndpointError> {
        Endpoint::set_buffered_low(self, now, peer, channel, threshold)
    }
}
