//! What transfers need of a connection: data channels towards a peer.
//!
//! [`Transfers`](super::Transfers) never names the endpoint. The
//! [`Node`](crate::node::Node) that owns both hands its endpoint in as
//! `&mut dyn Channels`; tests and fuzz targets may hand in anything else.
//! The calls are synchronous on purpose: the send window paces itself by
//! how much each channel still holds, read right after each write.

use std::time::Instant;

use crate::endpoint::ChannelId;

use crate::endpoint::EndpointError;
use crate::signal::Address;

/// Data channels towards peers, as transfers use them.
pub trait Channels {
    /// True while the connection to `peer` is established: open, or
    /// recovering from a silence (what is written then waits).
    fn is_open(&self, peer: &Address) -> bool;

    /// The largest message the peer takes, once the connection is open.
    fn max_message_size(&self, peer: &Address) -> Option<usize>;

    /// Opens an ordered, reliable channel labelled `label`; it is usable once
    /// a `ChannelOpen` event names it.
    fn open_channel(
        &mut self,
        now: Instant,
        peer: &Address,
        label: &str,
    ) -> Result<ChannelId, EndpointError>;

    /// Writes one message; `Ok(false)` when the peer's send buffer is full
    /// (nothing was written; try again after a buffered-low event).
    fn channel_write(
        &mut self,
        now: Instant,
        peer: &Address,
        channel: ChannelId,
        data: &[u8],
    ) -> Result<bool, EndpointError>;

    /// Closes a channel; a `ChannelClosed` event follows.
    fn close_channel(
        &mut self,
        now: Instant,
        peer: &Address,
        channel: ChannelId,
    ) -> Result<(), EndpointError>;

    /// Bytes written to the channel and not yet acknowledged.
    fn buffered_amount(&mut self, peer: &Address, channel: ChannelId) -> Option<usize>;

    /// Asks for a buffered-low event once the channel holds `threshold` bytes or fewer.
    fn set_buffered_low(
        &mut self,
        now: Instant,
        peer: &Address,
        channel: ChannelId,
        threshold: usize,
    ) -> Result<(), EndpointError>;
}
