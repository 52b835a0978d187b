//! Channels this endpoint opened that never opened: closed after
//! `channel_open_timeout`, so the application hears `ChannelClosed` instead
//! of waiting forever.
//!
//! str0m 0.25 (with sctp-proto 0.10) can leave a channel opened on a
//! just-reused SCTP stream id unanswered for good under loss: the peer's
//! reset of the old stream stays "in progress" because it names a TSN
//! that is held back behind that very reset, so the new channel's DCEP
//! OPEN never goes out. See `tests/tests/channel_reuse_sim.rs`.

use std::time::Instant;

use str0m::channel::ChannelId;

use super::Endpoint;
use crate::signal::UserName;

impl Endpoint {
    /// Closes the channels we opened to `name` whose open is overdue; str0m
    /// reports each closed (`ChannelClose`), and so does the endpoint.
    pub(super) fn check_channel_opens(&mut self, now: Instant, name: &UserName) {
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
            peer.rtc.direct_api().close_data_channel(id);
        }
        self.pump(now, name);
    }
}

/// The earliest open deadline among `opening`.
pub(super) fn next_deadline(opening: &[(ChannelId, Instant)]) -> Option<Instant> {
    opening.iter().map(|(_, at)| *at).min()
}
