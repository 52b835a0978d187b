//! One remote user: its str0m `Rtc`, where the connection attempt stands, and
//! the renegotiation that rides on its data channel.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use str0m::change::{SdpOffer, SdpPendingOffer};
use str0m::channel::ChannelId;
use str0m::media::{Direction, MediaKind, Mid};
use str0m::{Candidate, Event, IceConnectionState, Output, Rtc};

use super::event::Transmit;
use super::fec::Fec;
use super::outbox::ControlOutbox;
use super::ping::PendingPings;
use super::status::PeerStatus;
use crate::signal::AttemptId;

/// The label of the channel every connection opens first: Brume's messages
/// and control traffic share it.
pub const MAIN_CHANNEL: &str = "brume";

/// RFC 8841's default when the SDP has no `a=max-message-size`.
pub(crate) const DEFAULT_MAX_MESSAGE: usize = 64 * 1024;

/// The peer's `a=max-message-size`, from its offer or answer; 0 means no
/// limit, so ours applies.
pub(crate) fn sdp_max_message(sdp: &str, ours: usize) -> usize {
    sdp.lines()
        .find_map(|l| l.trim().strip_prefix("a=max-message-size:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .map_or(DEFAULT_MAX_MESSAGE, |n| if n == 0 { ours } else { n })
}

/// Where a connection to one peer stands.
#[derive(Debug)]
pub(crate) enum PeerState {
    /// We sent an offer and wait for the answer.
    Offering { pending: SdpPendingOffer },
    /// The peer's offer waits for the application to accept.
    Incoming { offer: SdpOffer },
    /// Offer and answer are done; ICE, DTLS and SCTP are under way.
    Connecting,
    /// The main channel is open.
    Open,
    /// ICE lost the path; `restart_sent` once we offered an ICE restart.
    Recovering { since: Instant, restart_sent: bool },
}

impl PeerState {
    /// What the application sees of it.
    pub(crate) fn status(&self) -> PeerStatus {
        match self {
            PeerState::Offering { .. } => PeerStatus::Offering,
            PeerState::Incoming { .. } => PeerStatus::Incoming,
            PeerState::Connecting => PeerStatus::Connecting,
            PeerState::Open => PeerStatus::Open,
            PeerState::Recovering { .. } => PeerStatus::Recovering,
        }
    }

    /// Open or recovering: past the first connection.
    pub(crate) fn established(&self) -> bool {
        self.status().is_established()
    }
}

/// A media change waiting for its turn to be negotiated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MediaRequest {
    /// Add a track.
    Add {
        kind: MediaKind,
        direction: Direction,
    },
    /// Stop a track.
    Stop(Mid),
}

#[derive(Debug)]
pub(crate) struct Peer {
    /// Reached through [`Peer::rtc_mut`], which notes that it needs a drain.
    rtc: Rtc,
    /// Whether the Rtc may have output since its last drain: set by every
    /// mutable access, cleared when a drain reaches its timeout. A drain of
    /// an untouched Rtc only repeats its timeout, and costs a walk of
    /// everything SCTP has in flight.
    touched: bool,
    /// Whether the channels' levels may have changed since they were last
    /// read: input (SACKs) lowers them. A write through
    /// [`Peer::rtc_to_write`] updates its own channel's level instead, so a
    /// sender's many writes do not each cost a walk of every channel.
    levels_stale: bool,
    pub(crate) state: PeerState,
    /// The attempt (or ICE-restart attempt) being signaled through the hub.
    pub(crate) attempt: AttemptId,
    /// The main channel, once it exists.
    pub(crate) main: Option<ChannelId>,
    /// Every channel's Brume id beside str0m's, with what each holds.
    pub(crate) channels: super::channel_id::ChannelTable,
    /// What the main channel held unacknowledged at the last drain.
    pub(crate) main_buffered: usize,
    /// The Rtc's own next timeout.
    pub(crate) rtc_timeout: Instant,
    /// Our deadline for the current state, if it has one.
    pub(crate) deadline: Option<Instant>,
    /// An offer sent over the data channel, waiting for its answer, with the
    /// requests it carries (to re-queue should it be rolled back).
    pub(crate) reneg_in_flight: Option<(SdpPendingOffer, Vec<MediaRequest>)>,
    /// Media changes queued behind it.
    pub(crate) reneg_queue: Vec<MediaRequest>,
    /// Offers and answers that found no room in the send buffer yet.
    pub(crate) control: ControlOutbox,
    /// Our ICE-restart offer, waiting for its answer through the hub.
    pub(crate) restart_pending: Option<SdpPendingOffer>,
    /// The largest message the peer accepts, from its SDP.
    pub(crate) remote_max_message: usize,
    /// Every audio/video track on this connection, ours and theirs.
    pub(crate) mids: BTreeSet<Mid>,
    /// Candidates that came before the application accepted.
    pub(crate) early_candidates: Vec<Candidate>,
    /// Parity for our datagrams, rebuilding of theirs, loss reports.
    pub(crate) fec: Fec,
    /// When the peer last sent us anything (its ICE checks and answers to
    /// ours come every keepalive): the liveness signal.
    pub(crate) last_heard: Instant,
    /// Channels we opened that have not opened yet, with their deadlines.
    pub(crate) opening: Vec<(ChannelId, Instant)>,
    /// Our pings waiting for their pongs.
    pub(crate) pings: PendingPings,
    /// The path our DTLS/SCTP traffic last took (see `relay.rs`).
    pub(crate) path: Option<super::PeerPath>,
    /// The (local, remote) pair our DTLS/SCTP traffic last took: the one
    /// ICE selected. Only datagrams on it show the peer is reachable on the
    /// path in use (its checks on another pair, a relayed one say, do not;
    /// the remote address alone does not tell them apart).
    pub(crate) selected_pair: Option<(core::net::SocketAddr, core::net::SocketAddr)>,
}

/// What draining an `Rtc` produced, for the endpoint to act on.
#[derive(Debug, Default)]
pub(crate) struct Drained {
    pub(crate) transmits: Vec<Transmit>,
    pub(crate) events: Vec<Event>,
    pub(crate) error: Option<String>,
}

impl Peer {
    /// `parity`: whether this connection reports loss and sends parity.
    pub(crate) fn new(
        rtc: Rtc,
        state: PeerState,
        attempt: AttemptId,
        now: Instant,
        parity: bool,
    ) -> Self {
        Self {
            rtc,
            touched: true,
            levels_stale: true,
            state,
            attempt,
            main: None,
            channels: Default::default(),
            main_buffered: 0,
            rtc_timeout: now,
            deadline: None,
            reneg_in_flight: None,
            reneg_queue: Vec::new(),
            control: ControlOutbox::default(),
            restart_pending: None,
            early_candidates: Vec::new(),
            mids: BTreeSet::new(),
            remote_max_message: DEFAULT_MAX_MESSAGE,
            fec: Fec::new(parity),
            last_heard: now,
            opening: Vec::new(),
            pings: PendingPings::default(),
            path: None,
            selected_pair: None,
        }
    }

    /// Rolls back a renegotiation in flight: its offer is withdrawn if it has
    /// not gone out, and its requests go back to the front of the queue, to
    /// be offered again.
    pub(crate) fn requeue_in_flight(&mut self) {
        self.control.withdraw_offers();
        if let Some((_, mut requests)) = self.reneg_in_flight.take() {
            requests.append(&mut self.reneg_queue);
            self.reneg_queue = requests;
        }
    }

    /// The Rtc, to look at.
    pub(crate) fn rtc(&self) -> &Rtc {
        &self.rtc
    }

    /// The Rtc, to change: it will need a drain.
    pub(crate) fn rtc_mut(&mut self) -> &mut Rtc {
        self.touched = true;
        self.levels_stale = true;
        &mut self.rtc
    }

    /// The Rtc, to write on one data channel whose level the caller then
    /// records with [`Peer::record_level`]: it will need a drain.
    pub(crate) fn rtc_to_write(&mut self) -> &mut Rtc {
        self.touched = true;
        &mut self.rtc
    }

    /// What the channel `raw` holds now, just after a write on it.
    pub(crate) fn record_level(&mut self, raw: str0m::channel::ChannelId) {
        let level = self.rtc.channel(raw).map_or(0, |mut c| c.buffered_amount());
        self.channels.set(raw, level);
    }

    /// Writes the waiting control messages that fit on the main channel.
    /// Established peers only queue control messages, and their main
    /// channel exists until its close removes the peer.
    pub(crate) fn flush_control(&mut self) -> Result<(), str0m::RtcError> {
        let Some(mut ch) = self.main.and_then(|main| self.rtc.channel(main)) else {
            return Ok(());
        };
        self.touched = true;
        self.levels_stale = true;
        self.control.flush(|frame| ch.write(true, frame))
    }

    /// Whether anything reached the Rtc since its last drain.
    pub(crate) fn needs_drain(&self) -> bool {
        self.touched
    }

    /// Drains the Rtc until it asks for a timeout, as str0m requires after
    /// every input or mutation.
    pub(crate) fn drain(&mut self, out: &mut Drained) {
        loop {
            match self.rtc.poll_output() {
                Ok(Output::Timeout(at)) => {
                    self.touched = false;
                    self.rtc_timeout = at;
                    if self.levels_stale {
                        self.refresh_levels();
                    }
                    return;
                }
                Ok(Output::Transmit(t)) => out.transmits.push(Transmit {
                    source: t.source,
                    destination: t.destination,
                    contents: t.contents.into(),
                }),
                Ok(Output::Event(e)) => out.events.push(e),
                Err(e) => {
                    out.error = Some(e.to_string());
                    return;
                }
            }
        }
    }

    /// Looks again at what each channel holds unacknowledged: SACKs, which
    /// lower it, arrive only as input, and every input ends in a drain.
    pub(crate) fn refresh_levels(&mut self) {
        self.levels_stale = false;
        let rtc = &mut self.rtc;
        self.channels
            .refresh(|raw| rtc.channel(raw).map_or(0, |mut c| c.buffered_amount()));
        self.main_buffered = self
            .main
            .and_then(|main| self.rtc.channel(main))
            .map_or(0, |mut c| c.buffered_amount());
    }

    /// The earliest of the Rtc's timeout, our own deadline, the parity timers,
    /// the open deadlines of our channels and, while open, the moment the
    /// peer's silence reaches `silence_limit`.
    pub(crate) fn next_timeout(&self, silence_limit: Duration) -> Instant {
        [
            self.deadline,
            self.fec.next_timeout(),
            self.silent_at(silence_limit),
            super::opening::next_deadline(&self.opening),
        ]
        .into_iter()
        .flatten()
        .fold(self.rtc_timeout, Instant::min)
    }

    /// While open: when the peer will have been silent for `silence_limit`.
    pub(crate) fn silent_at(&self, silence_limit: Duration) -> Option<Instant> {
        matches!(self.state, PeerState::Open).then(|| self.last_heard + silence_limit)
    }

    /// True if this ICE state means the path is gone.
    pub(crate) fn path_lost(state: IceConnectionState) -> bool {
        matches!(state, IceConnectionState::Disconnected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoint::{Certificate, Endpoint, EndpointConfig};

    #[test]
    fn only_a_changed_rtc_needs_a_drain() {
        let now = brume_tests::origin();
        let config = EndpointConfig::new("t".into(), Certificate::generate().unwrap(), 1);
        let rtc = Endpoint::bare_rtc(&config, now);
        let attempt = AttemptId::new("0123456789abcdef").unwrap();
        let mut peer = Peer::new(rtc, PeerState::Connecting, attempt, now, false);
        assert!(peer.needs_drain(), "a new Rtc has not been drained");
        peer.drain(&mut Drained::default());
        assert!(!peer.needs_drain());
        // Looking changes nothing; a change, or control to flush, does.
        assert!(!peer.rtc().is_connected());
        assert!(!peer.needs_drain());
        let _ = peer
            .rtc_mut()
            .direct_api()
            .create_data_channel(Default::default());
        assert!(peer.needs_drain());
        let mut out = Drained::default();
        peer.drain(&mut out);
        assert!(out.error.is_none(), "{:?}", out.error);
        assert!(!peer.needs_drain());
    }

    #[test]
    fn max_message_size_comes_from_the_sdp() {
        assert_eq!(
            sdp_max_message("v=0\r\na=max-message-size:262144\r\n", 9),
            262_144
        );
        assert_eq!(sdp_max_message("a=max-message-size:0", 9), 9);
        assert_eq!(sdp_max_message("v=0", 9), DEFAULT_MAX_MESSAGE);
        assert_eq!(
            sdp_max_message("a=max-message-size:junk", 9),
            DEFAULT_MAX_MESSAGE
        );
    }
}
