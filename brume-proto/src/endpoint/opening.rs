//! Channels this endpoint opened that never opened: closed after
//! `channel_open_timeout`, so the application hears `ChannelClosed` instead
//! of waiting forever.
//!
//! str0m 0.25 can drop a channel opened on a just-reused SCTP stream id on
//! the peer's side (its DCEP ACK fails with `ErrStreamClosed` while its own
//! reset of the old stream is unanswered), and when both sides had closed
//! the old channel at once, nothing ever tells the opener: its channel
//! waits for that ACK for good (`tests/tests/channel_reuse_sim.rs`).

use std::time::Instant;

use str0m::channel::ChannelId;

use super::Endpoint;
use crate::signal::Address;

impl Endpoint {
    /// Closes the channels we opened to `name` whose open is overdue; str0m
    /// reports each closed (`ChannelClose`), and so does the endpoint.
    pub(super) fn check_channel_opens(&mut self, now: Instant, name: &Address) {
        let Some(peer) = self.peers.get_mut(name) else {
            return;
        };
        if peer.opening.iter().all(|(_, at)| *at > now) {
            return;
        }
        let (due, waiting): (Vec<_>, Vec<_>) =
            peer.opening.drain(..).partition(|(_, at)| *at <= now);
        peer.opening = waiting;
        for (id, _) in due {
            peer.rtc_mut().direct_api().close_data_channel(id);
        }
        self.pump(now, name);
    }
}

/// The earliest open deadline among `opening`.
pub(super) fn next_deadline(opening: &[(ChannelId, Instant)]) -> Option<Instant> {
    opening.iter().map(|(_, at)| *at).min()
}
