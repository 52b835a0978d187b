//! Verified, resumable, cancellable file and folder transfer over the data
//! channel, as a sans-IO state machine beside the [`Endpoint`].
//!
//! # Contract
//!
//! - The application calls [`Transfers::send`], [`Transfers::accept`],
//!   [`Transfers::reject`] and [`Transfers::cancel`].
//! - The driver hands every [`EndpointEvent`] to [`Transfers::handle_event`]
//!   (it consumes the ones about transfer channels), and the result of every
//!   [`StorageAction`] to [`Transfers::handle_storage`].
//! - Transfers read the connections through [`ChannelLevels`] and never
//!   change them: after any call, carry out [`Transfers::poll_command`]
//!   (channel opens, writes, closes, buffered-low thresholds) on the
//!   endpoint at once, in order, and hand back its answers
//!   ([`Transfers::handle_channel_opened`], [`Transfers::handle_unwritten`],
//!   [`Transfers::handle_write_failed`]); then drain
//!   [`Transfers::poll_action`] (storage work) and [`Transfers::poll_event`]
//!   (what the application sees). The [`Node`](crate::node::Node) does all
//!   of this.
//! - Nothing a peer sends is ever an error returned to the caller: a peer
//!   that misbehaves has its transfer cancelled, which the application
//!   hears as [`TransferEvent::Cancelled`]. A transfer may so end before
//!   the application has read the events about it; an `accept`, `reject`
//!   or `cancel` of a transfer that ended on its own is then answered by
//!   that `Cancelled` event (already queued, or already read), not by an
//!   error. [`TransferError`] means the caller misused the API.
//!
//! # Protocol
//!
//! Each transfer has its own ordered, reliable data channel, labelled
//! `brume-ft/<id>`, opened by the sender, so transfers and chat never block
//! each other. On it (see [`wire`]): the sender offers the entries and their
//! block hashes; the receiver accepts or rejects; for each file in turn the
//! receiver checks what it already holds against the block hashes and asks
//! for the rest (`get`); the sender streams it in chunks sized to the
//! negotiated maximum message size, paced by the channel's buffered amount;
//! the receiver verifies every block before writing it, writes into a hidden
//! temporary file in the target folder, and renames it into place, never
//! over an existing file, once the file is whole; then `done`. Either side may
//! `cancel` at any moment with a reason both see.
//!
//! States, as Galène's: `inviting → connecting → connected → done → closed`,
//! and from any state `cancelled → closed`.

mod channels;
#[cfg(test)]
mod command_tests;
mod manifest;
pub mod names;
mod offer;
mod receiver;
mod sender;
mod storage;
mod window;
pub mod wire;

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use crate::endpoint::ChannelId;

use channels::CommandQueue;
pub use channels::{ChannelCommand, ChannelLevels};
pub use manifest::{
    Entry, EntryKind, Hash, MAX_ENTRIES, MAX_PATH_BYTES, block_count, block_len, block_size,
    content_hash, from_hex, hash_block, hash_blocks, to_hex,
};
pub use names::NamePolicy;
pub use receiver::FILES_IN_FLIGHT;
pub use storage::{Finish, RequestId, StorageAction, StorageResult, TargetPath};
pub use window::{SendWindow, WindowLimits};

use crate::endpoint::EndpointEvent;
use crate::signal::Address;
use receiver::Receiver;
use sender::Sender;
use wire::{Control, Wire};

/// The label prefix of transfer channels.
pub const CHANNEL_PREFIX: &str = "brume-ft/";

/// Names one transfer: the peer, the sender's id for it, and which way it goes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TransferKey {
    /// The other side.
    pub peer: Address,
    /// The sender's id (in the channel label).
    pub id: u64,
    /// True if we send.
    pub outgoing: bool,
}

/// Where a transfer stands, as Galène names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TransferState {
    /// Offered; waiting for the receiver to decide.
    Inviting,
    /// Accepted; the receiver is checking what it already holds.
    Connecting,
    /// Data is flowing.
    Connected,
    /// Everything arrived, verified and in place.
    Done,
    /// Stopped by either side.
    Cancelled,
    /// Over; nothing more will happen.
    Closed,
}

/// One file or folder to send, as the application describes it. The driver
/// keeps the real path; the core refers to it by index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceEntry {
    /// Its `/`-separated path in the transfer; the first component is the
    /// transfer's name (a file's own name, or the top folder's).
    pub path: String,
    /// File or folder.
    pub kind: EntryKind,
    /// Bytes (files).
    pub size: u64,
    /// Modification time, Unix seconds.
    pub mtime: u64,
    /// MIME type, if known.
    pub mime: Option<String>,
    /// Executable (files).
    pub executable: bool,
    /// The file's block hashes, when the application has them already (a
    /// sync scan hashes each file as the transfer would): the sender then
    /// offers them without reading the file first. A list that no longer
    /// matches the content costs no data: the receiver checks every block
    /// and cancels, as for a file that changed while it was sent.
    pub blocks: Option<Vec<Hash>>,
}

/// What the application hears about transfers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferEvent {
    /// A peer offers something: accept with a folder, or reject.
    Offered {
        /// The transfer.
        key: TransferKey,
        /// Its name: the file's, or the top folder's.
        name: String,
        /// Total bytes.
        total: u64,
        /// Every entry, checked.
        entries: Vec<Entry>,
    },
    /// The state changed.
    State {
        /// The transfer.
        key: TransferKey,
        /// The new state.
        state: TransferState,
    },
    /// The sender is reading its files to hash them (before it can offer):
    /// `done` of `total` bytes hashed. Sent when hashing starts, at most
    /// every `progress_every` while it goes on, and when it is over.
    Hashing {
        /// The transfer.
        key: TransferKey,
        /// Bytes hashed so far.
        done: u64,
        /// All bytes.
        total: u64,
    },
    /// Bytes moved: `done` of `total`, at `rate` bytes a second on average.
    Progress {
        /// The transfer.
        key: TransferKey,
        /// Bytes sent or verified so far, resumed bytes included.
        done: u64,
        /// All bytes.
        total: u64,
        /// Of `done`, the bytes the receiver already held, verified, when
        /// data started (a resume); they never crossed the network.
        resumed: u64,
        /// Average bytes per second since data started flowing, over the
        /// bytes that actually moved (`resumed` excluded).
        rate: u64,
    },
    /// A file is in place under its final name (which may carry a suffix).
    Saved {
        /// The transfer.
        key: TransferKey,
        /// Its path under the chosen folder.
        path: Vec<String>,
    },
    /// The transfer was cancelled.
    Cancelled {
        /// The transfer.
        key: TransferKey,
        /// Why; both sides see the same words.
        reason: String,
        /// True if the other side cancelled.
        by_peer: bool,
    },
}

/// Tuning.
#[derive(Debug, Clone)]
pub struct TransferConfig {
    /// Seeds transfer ids.
    pub seed: u64,
    /// Bounds of the send window towards each peer, which all of that
    /// peer's transfer channels share (see [`SendWindow`]).
    pub window: WindowLimits,
    /// Source reads in flight per sending transfer.
    pub read_ahead: usize,
    /// Least time between two progress events of one transfer.
    pub progress_every: Duration,
    /// How received names are stored (see [`names`]).
    pub names: NamePolicy,
}

impl TransferConfig {
    /// The defaults: a send window of 32 to 896 KiB per peer (under the
    /// endpoint's 1 MiB SCTP send buffer, which chat shares), four reads
    /// ahead, progress every 250 ms, names stored as this platform can.
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            window: WindowLimits::default(),
            read_ahead: 4,
            progress_every: Duration::from_millis(250),
            names: NamePolicy::native(),
        }
    }
}

#[derive(Debug)]
enum Side {
    Send(Sender),
    Recv(Receiver),
}

#[derive(Debug)]
struct Transfer {
    state: TransferState,
    channel: Option<ChannelId>,
    /// The channel's open was confirmed (always, for a receiver).
    open: bool,
    /// Frames waiting for room on the channel, in order.
    outbox: VecDeque<Vec<u8>>,
    /// Progress bookkeeping: `done` counts `resumed`, bytes already held;
    /// the rate is over the bytes moved since `flowing_since`.
    done: u64,
    total: u64,
    resumed: u64,
    flowing_since: Option<(Instant, u64)>,
    last_progress: Option<Instant>,
    /// Being cancelled: a write failing meanwhile must not cancel it again.
    aborting: bool,
    side: Side,
}

/// Which transfer each channel belongs to. str0m's `ChannelId` has no
/// order, and an endpoint has few transfers, so a list it is.
#[derive(Debug, Default)]
struct ChannelIndex(Vec<(Address, ChannelId, TransferKey)>);

impl ChannelIndex {
    fn get(&self, peer: &Address, channel: ChannelId) -> Option<TransferKey> {
        self.0
            .iter()
            .find(|(p, c, _)| p == peer && *c == channel)
            .map(|(_, _, k)| k.clone())
    }

    fn insert(&mut self, peer: Address, channel: ChannelId, key: TransferKey) {
        self.remove(&peer, channel);
        self.0.push((peer, channel, key));
    }

    fn remove(&mut self, peer: &Address, channel: ChannelId) {
        self.0.retain(|(p, c, _)| !(p == peer && *c == channel));
    }

    /// The channels mapped to `key`, in the order they were mapped.
    fn channels_of(&self, key: &TransferKey) -> Vec<ChannelId> {
        self.0
            .iter()
            .filter(|(_, _, k)| k == key)
            .map(|(_, c, _)| *c)
            .collect()
    }
}

/// Every transfer of one endpoint. See the module documentation.
#[derive(Debug)]
pub struct Transfers {
    config: TransferConfig,
    rng: fastrand::Rng,
    transfers: BTreeMap<TransferKey, Transfer>,
    by_channel: ChannelIndex,
    requests: BTreeMap<RequestId, TransferKey>,
    /// Our transfers that ended before their channel finished opening, with
    /// the reason to tell the peer once it does.
    unopened: BTreeMap<(Address, u64), String>,
    /// The send window towards each peer with a transfer.
    windows: BTreeMap<Address, SendWindow>,
    /// Our channels asked for and not yet named by the endpoint, by label.
    opening: BTreeMap<(Address, String), TransferKey>,
    /// What the connections are asked to do, for the Node to carry out.
    commands: CommandQueue,
    next_request: u64,
    actions: VecDeque<StorageAction>,
    events: VecDeque<TransferEvent>,
    /// Transfers that ended on their own (the peer cancelled, misbehaved or
    /// went away, or storage failed), newest last: the application may
    /// still call `accept`, `reject` or `cancel` on one before it reads the
    /// `Cancelled` event, and that is no error.
    ended: VecDeque<TransferKey>,
}

/// How many ended transfers [`Transfers`] remembers for late application calls.
const ENDED_REMEMBERED: usize = 4096;

/// Why a transfer call was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransferError {
    /// No such transfer.
    #[error("no such transfer")]
    Unknown,
    /// The call does not fit the transfer's state.
    #[error("the transfer is {0:?}")]
    WrongState(TransferState),
    /// The entries to send are not acceptable.
    #[error("{0}")]
    BadEntries(String),
    /// The endpoint refused (no open connection to the peer, say).
    #[error(transparent)]
    Endpoint(#[from] crate::endpoint::EndpointError),
}

impl Transfers {
    /// No transfers yet.
    pub fn new(config: TransferConfig) -> Self {
        let rng = fastrand::Rng::with_seed(config.seed);
        Self {
            config,
            rng,
            transfers: BTreeMap::new(),
            by_channel: ChannelIndex::default(),
            requests: BTreeMap::new(),
            unopened: BTreeMap::new(),
            windows: BTreeMap::new(),
            opening: BTreeMap::new(),
            commands: CommandQueue::default(),
            next_request: 0,
            actions: VecDeque::new(),
            events: VecDeque::new(),
            ended: VecDeque::new(),
        }
    }

    /// True (and forgotten) if `key` ended on its own before the
    /// application's call: the call is answered by the `Cancelled` event
    /// that ended it, not by an error.
    fn ended_before(&mut self, key: &TransferKey) -> bool {
        if self.transfers.contains_key(key) {
            return false;
        }
        let Some(at) = self.ended.iter().position(|k| k == key) else {
            return false;
        };
        self.ended.remove(at);
        true
    }

    /// The state of a transfer, while it is known.
    pub fn state(&self, key: &TransferKey) -> Option<TransferState> {
        self.transfers.get(key).map(|t| t.state)
    }

    /// Every transfer, sorted.
    pub fn keys(&self) -> impl Iterator<Item = &TransferKey> {
        self.transfers.keys()
    }

    /// The next storage action for the driver.
    #[must_use]
    pub fn poll_action(&mut self) -> Option<StorageAction> {
        self.actions.pop_front()
    }

    /// The next event for the application.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<TransferEvent> {
        self.events.pop_front()
    }

    /// The next thing to do to a connection. Carry each out, in order,
    /// before anything else writes to the peer, and report back what the
    /// endpoint answered; the send window counts on that.
    #[must_use]
    pub fn poll_command(&mut self) -> Option<ChannelCommand> {
        self.commands.pop()
    }

    /// The endpoint's answer to [`ChannelCommand::Open`]: the channel's id,
    /// or why it could not be opened.
    pub fn handle_channel_opened(
        &mut self,
        now: Instant,
        ep: &dyn ChannelLevels,
        peer: &Address,
        label: &str,
        result: Result<ChannelId, crate::endpoint::EndpointError>,
    ) {
        let Some(key) = self.opening.remove(&(peer.clone(), label.to_owned())) else {
            return;
        };
        match result {
            Ok(channel) => match self.transfers.get_mut(&key) {
                Some(t) => {
                    t.channel = Some(channel);
                    self.by_channel.insert(key.peer.clone(), channel, key);
                }
                // It ended while its channel was asked for.
                None => self.commands.push(ChannelCommand::Close {
                    peer: peer.clone(),
                    channel,
                }),
            },
            Err(e) => self.abort(
                now,
                ep,
                &key,
                format!("cannot open a channel: {e}"),
                true,
                false,
            ),
        }
    }

    /// Writes the endpoint refused for want of room ([`ChannelCommand::Write`]
    /// answered `false`), with every later write to the same peer, in the
    /// order given: they go back to the front of their transfers' queues
    /// and out again once the peer's channels drain.
    pub fn handle_unwritten(
        &mut self,
        ep: &dyn ChannelLevels,
        peer: &Address,
        writes: Vec<(ChannelId, Vec<u8>)>,
    ) {
        let mut returned = 0;
        for (channel, data) in writes.into_iter().rev() {
            let Some(key) = self.by_channel.get(peer, channel) else {
                continue; // its transfer is gone
            };
            if let Some(t) = self.transfers.get_mut(&key) {
                returned += data.len();
                t.outbox.push_front(data);
            }
        }
        if let Some(w) = self.windows.get_mut(peer) {
            w.on_unwritten(returned);
        }
        self.arm_wakeups(ep, peer, None);
    }

    /// A write failed outright (the endpoint refused the message itself,
    /// too large say, or the channel is going): nothing may hang on a
    /// message that never left, so its transfer ends.
    pub fn handle_write_failed(
        &mut self,
        now: Instant,
        ep: &dyn ChannelLevels,
        peer: &Address,
        channel: ChannelId,
        len: usize,
        error: crate::endpoint::EndpointError,
    ) {
        let crate::endpoint::EndpointError::Rtc(e) = error else {
            return; // the channel is going; ChannelClosed follows
        };
        let Some(key) = self.by_channel.get(peer, channel) else {
            return;
        };
        self.commands.drop_writes(peer, channel);
        if let Some(t) = self.transfers.get_mut(&key) {
            t.outbox.clear();
        }
        let reason = format!("a message of {len} bytes could not be sent: {e}");
        self.abort(now, ep, &key, reason, false, false);
    }

    /// Offers `entries` to `peer`, whose connection must be open. The sender
    /// first reads and hashes every file whose block hashes it was not
    /// given, then offers.
    pub fn send(
        &mut self,
        now: Instant,
        ep: &dyn ChannelLevels,
        peer: &Address,
        entries: Vec<SourceEntry>,
    ) -> Result<TransferKey, TransferError> {
        let sender = Sender::new(entries).map_err(TransferError::BadEntries)?;
        if !ep.is_open(peer) {
            return Err(TransferError::Endpoint(
                crate::endpoint::EndpointError::NotOpen(peer.clone()),
            ));
        }
        let key = TransferKey {
            peer: peer.clone(),
            id: self.rng.u64(..),
            outgoing: true,
        };
        let total = sender.total();
        self.transfers.insert(
            key.clone(),
            Transfer {
                state: TransferState::Inviting,
                channel: None,
                open: false,
                outbox: VecDeque::new(),
                done: 0,
                total,
                resumed: 0,
                flowing_since: None,
                last_progress: None,
                aborting: false,
                side: Side::Send(sender),
            },
        );
        self.state_event(&key, TransferState::Inviting);
        self.sender_step(now, ep, &key);
        Ok(key)
    }

    /// Accepts an offered transfer into `dir` (the driver's folder; the core
    /// never reads it).
    pub fn accept(
        &mut self,
        now: Instant,
        ep: &dyn ChannelLevels,
        key: &TransferKey,
        dir: String,
    ) -> Result<(), TransferError> {
        if self.ended_before(key) {
            return Ok(());
        }
        self.receiver_accept(now, ep, key, dir)
    }

    /// Rejects an offered transfer.
    pub fn reject(
        &mut self,
        now: Instant,
        ep: &dyn ChannelLevels,
        key: &TransferKey,
        reason: &str,
    ) -> Result<(), TransferError> {
        if self.ended_before(key) {
            return Ok(());
        }
        let t = self.transfers.get(key).ok_or(TransferError::Unknown)?;
        if key.outgoing || t.state != TransferState::Inviting {
            return Err(TransferError::WrongState(t.state));
        }
        self.queue(
            key,
            Wire::Control(Control::Reject {
                reason: reason.into(),
            }),
        );
        self.flush(now, ep, key);
        self.finish(now, ep, key, TransferState::Cancelled, None);
        self.events.push_back(TransferEvent::Cancelled {
            key: key.clone(),
            reason: reason.into(),
            by_peer: false,
        });
        Ok(())
    }

    /// Cancels a transfer from this side; the peer sees `reason`.
    pub fn cancel(
        &mut self,
        now: Instant,
        ep: &dyn ChannelLevels,
        key: &TransferKey,
        reason: &str,
    ) -> Result<(), TransferError> {
        if self.ended_before(key) {
            return Ok(());
        }
        let t = self.transfers.get(key).ok_or(TransferError::Unknown)?;
        if matches!(
            t.state,
            TransferState::Done | TransferState::Cancelled | TransferState::Closed
        ) {
            return Err(TransferError::WrongState(t.state));
        }
        self.abort(now, ep, key, reason.into(), false, true);
        Ok(())
    }

    /// Hands an endpoint event over; true if it was about a transfer (and is
    /// consumed), false if the application should see it.
    pub fn handle_event(
        &mut self,
        now: Instant,
        ep: &dyn ChannelLevels,
        event: &EndpointEvent,
    ) -> bool {
        match event {
            EndpointEvent::ChannelOpen {
                peer,
                channel,
                label,
            } => {
                let Some(id) = label.strip_prefix(CHANNEL_PREFIX) else {
                    return false;
                };
                if let Some(key) = self.by_channel.get(peer, *channel) {
                    // Our own channel is open: offer.
                    if let Some(t) = self.transfers.get_mut(&key) {
                        t.open = true;
                    }
                    self.sender_channel_open(now, ep, &key);
                } else if let Some(reason) = u64::from_str_radix(id, 16)
                    .ok()
                    .and_then(|id| self.unopened.remove(&(peer.clone(), id)))
                {
                    // Ours, ended while it opened: the peer still hears why.
                    let cancel = Wire::Control(Control::Cancel { reason }).encode();
                    self.commands.push(ChannelCommand::Write {
                        peer: peer.clone(),
                        channel: *channel,
                        data: cancel,
                    });
                    self.commands.push(ChannelCommand::Close {
                        peer: peer.clone(),
                        channel: *channel,
                    });
                } else {
                    self.receiver_channel_open(now, ep, peer, *channel, id);
                }
                true
            }
            EndpointEvent::ChannelData {
                peer,
                channel,
                data,
            } => {
                let Some(key) = self.by_channel.get(peer, *channel) else {
                    return false;
                };
                if !key.outgoing {
                    self.receiver_heard_on(&key, *channel);
                }
                self.on_wire(now, ep, &key, data);
                true
            }
            EndpointEvent::ChannelBufferedLow { peer, channel } => {
                let ours = self.by_channel.get(peer, *channel).is_some();
                // str0m's send buffer is shared by every channel of a peer: a
                // transfer refused for room on a quiet channel of its own
                // must be woken when any of the peer's channels drains.
                self.wake_peer(now, ep, peer);
                ours
            }
            EndpointEvent::ChannelClosed { peer, channel } => {
                let Some(key) = self.by_channel.get(peer, *channel) else {
                    return false;
                };
                if !key.outgoing && self.receiver_candidate_closed(&key, *channel) {
                    return true;
                }
                if !(key.outgoing && self.sender_reopen(ep, &key)) {
                    self.channel_gone(now, ep, &key);
                }
                true
            }
            EndpointEvent::PeerClosed { peer, .. } | EndpointEvent::PeerFailed { peer, .. } => {
                for key in self.keys_of(peer) {
                    self.channel_gone(now, ep, &key);
                }
                false // the application wants to know about the peer too
            }
            _ => false,
        }
    }

    /// The result of a storage action.
    pub fn handle_storage(
        &mut self,
        now: Instant,
        ep: &dyn ChannelLevels,
        req: RequestId,
        result: StorageResult,
    ) {
        let Some(key) = self.requests.remove(&req) else {
            return; // the transfer is gone; its late results are moot
        };
        if let StorageResult::Failed(e) = &result {
            // The peer learns which of its entries failed, never our paths.
            let local = format!("storage failed: {e}");
            let (entry, side) = if key.outgoing {
                (self.sender_entry_of(&key, req), "sender could not read")
            } else {
                (
                    self.receiver_entry_of(&key, req),
                    "receiver could not store",
                )
            };
            let peer = match entry {
                Some(path) => format!("the {side} {path}"),
                None => format!("the {side} the files"),
            };
            return self.abort_with(now, ep, &key, local, peer, true);
        }
        if key.outgoing {
            self.sender_storage(now, ep, &key, req, result);
        } else {
            self.receiver_storage(now, ep, &key, req, result);
        }
    }

    /// Test seam: a receiving transfer from `peer` whose channel is not real,
    /// for fuzzing the receiver with raw messages (`fuzz_message`).
    #[cfg(feature = "testing")]
    pub fn fuzz_receiver(&mut self, peer: &Address, id: u64) -> TransferKey {
        let key = TransferKey {
            peer: peer.clone(),
            id,
            outgoing: false,
        };
        self.receiver_adopt(key.clone());
        key
    }

    /// Test seam: a message on a transfer's channel, as bytes from the wire.
    #[cfg(feature = "testing")]
    pub fn fuzz_message(
        &mut self,
        now: Instant,
        ep: &dyn ChannelLevels,
        key: &TransferKey,
        bytes: &[u8],
    ) {
        self.on_wire(now, ep, key, bytes);
    }

    // ----- shared machinery -----

    /// A message arrived on a transfer's channel.
    fn on_wire(&mut self, now: Instant, ep: &dyn ChannelLevels, key: &TransferKey, bytes: &[u8]) {
        match Wire::decode(bytes, crate::endpoint::MAX_MESSAGE_LEN) {
            Ok(msg) if key.outgoing => self.sender_message(now, ep, key, msg),
            Ok(msg) => self.receiver_message(now, ep, key, msg),
            Err(e) => self.abort(
                now,
                ep,
                key,
                format!("unreadable message: {e}"),
                false,
                true,
            ),
        }
    }

    fn request(
        &mut self,
        key: &TransferKey,
        make: impl FnOnce(RequestId) -> StorageAction,
    ) -> RequestId {
        let req = RequestId(self.next_request);
        self.next_request += 1;
        self.requests.insert(req, key.clone());
        self.actions.push_back(make(req));
        req
    }

    fn state_event(&mut self, key: &TransferKey, state: TransferState) {
        self.events.push_back(TransferEvent::State {
            key: key.clone(),
            state,
        });
    }

    fn set_state(&mut self, key: &TransferKey, state: TransferState) {
        let Some(t) = self.transfers.get_mut(key) else {
            return;
        };
        if t.state != state {
            t.state = state;
            self.state_event(key, state);
        }
    }

    fn queue(&mut self, key: &TransferKey, msg: Wire) {
        self.queue_frame(key, msg.encode());
    }

    /// Queues an encoded message.
    fn queue_frame(&mut self, key: &TransferKey, frame: Vec<u8>) {
        if let Some(t) = self.transfers.get_mut(key) {
            t.outbox.push_back(frame);
        }
    }

    /// Hands queued frames to the connection while the peer's send buffer
    /// has room for them.
    fn flush(&mut self, now: Instant, ep: &dyn ChannelLevels, key: &TransferKey) {
        let Some(t) = self.transfers.get_mut(key) else {
            return;
        };
        let Some(channel) = t.channel.filter(|_| t.open) else {
            return;
        };
        let mut room = ep
            .send_room(&key.peer)
            .saturating_sub(self.commands.unwritten_to(&key.peer));
        let mut written = 0;
        let mut full = false;
        while let Some(len) = t.outbox.front().map(Vec::len) {
            // str0m's buffer, shared by all of the peer's channels, is full.
            if len > room {
                full = true;
                break;
            }
            room -= len;
            written += len;
            if let Some(data) = t.outbox.pop_front() {
                self.commands.push(ChannelCommand::Write {
                    peer: key.peer.clone(),
                    channel,
                    data,
                });
            }
        }
        if written > 0 {
            self.window_mut(&key.peer).on_write(now, written);
        }
        if full {
            self.arm_wakeups(ep, &key.peer, None);
        }
    }

    /// Every transfer with `peer`, sorted.
    fn keys_of(&self, peer: &Address) -> Vec<TransferKey> {
        self.transfers
            .keys()
            .filter(|k| k.peer == *peer)
            .cloned()
            .collect()
    }

    /// Flushes and moves along every transfer with `peer`.
    fn wake_peer(&mut self, now: Instant, ep: &dyn ChannelLevels, peer: &Address) {
        for key in self.keys_of(peer) {
            self.flush(now, ep, &key);
            if key.outgoing {
                self.sender_step(now, ep, &key);
            }
        }
    }

    /// The channels of every transfer with `peer`, in transfer order.
    fn channels_of(&self, peer: &Address) -> Vec<ChannelId> {
        self.transfers
            .iter()
            .filter(|(k, _)| k.peer == *peer)
            .filter_map(|(_, t)| t.channel)
            .collect()
    }

    /// The send window towards `peer`, made on first use.
    fn window_mut(&mut self, peer: &Address) -> &mut SendWindow {
        let limits = self.config.window;
        self.windows
            .entry(peer.clone())
            .or_insert_with(|| SendWindow::new(limits))
    }

    /// Tells `peer`'s window what its transfer channels still hold, and so
    /// how much has been acknowledged since it last looked.
    fn observe_window(&mut self, now: Instant, ep: &dyn ChannelLevels, peer: &Address) {
        let buffered: usize = self
            .channels_of(peer)
            .into_iter()
            .filter_map(|c| self.held(ep, peer, c))
            .sum();
        self.window_mut(peer).on_buffered(now, buffered);
    }

    /// Bytes a channel holds: what the endpoint last saw unacknowledged,
    /// plus our writes it has not carried out yet.
    fn held(&self, ep: &dyn ChannelLevels, peer: &Address, channel: ChannelId) -> Option<usize> {
        ep.buffered_amount(peer, channel)
            .map(|b| b + self.commands.unwritten(peer, channel))
    }

    /// Bytes queued on the transfer's channel plus its outbox.
    fn queued(&self, ep: &dyn ChannelLevels, key: &TransferKey) -> usize {
        let Some(t) = self.transfers.get(key) else {
            return usize::MAX;
        };
        let outbox: usize = t.outbox.iter().map(Vec::len).sum();
        let channel = t
            .channel
            .and_then(|c| self.held(ep, &key.peer, c))
            .unwrap_or(0);
        outbox + channel
    }

    /// Bytes queued by every transfer with `peer`: they share one SCTP send buffer.
    fn queued_to_peer(&self, ep: &dyn ChannelLevels, peer: &Address) -> usize {
        self.keys_of(peer).iter().map(|k| self.queued(ep, k)).sum()
    }

    /// A transfer is waiting for room: make sure some channel of the peer
    /// will report once it has drained enough. Buffered-low events fire
    /// only on crossing the threshold downwards, so a channel already below
    /// its threshold would never wake anyone; thresholds follow what is
    /// queued, which paces the transfers by the peer's SACKs.
    ///
    /// `need`: the bytes that must drain before the write that waits fits
    /// the send window. Each of the n channels holding data wakes once it
    /// alone has drained need/n, which one of them has by the time they
    /// together drained `need`. Waking earlier only to find the window
    /// still shut cost a drain of the connection, and sctp-proto walks all
    /// it has in flight on every drain: with a threshold at 7/8 a
    /// transfer woke three times for every chunk it could write. Without a
    /// `need` (the SCTP buffer, not the window, is full) a channel wakes
    /// once an eighth of it has drained.
    fn arm_wakeups(&mut self, ep: &dyn ChannelLevels, peer: &Address, need: Option<usize>) {
        let held: Vec<(ChannelId, usize)> = self
            .channels_of(peer)
            .into_iter()
            .map(|c| (c, self.held(ep, peer, c).unwrap_or(0)))
            .filter(|(_, amount)| *amount > 0)
            .collect();
        let share = need.map(|need| need.max(1).div_ceil(held.len().max(1)));
        for (channel, amount) in held {
            let drained = share.unwrap_or(amount.div_ceil(8));
            self.commands.push(ChannelCommand::SetBufferedLow {
                peer: peer.clone(),
                channel,
                threshold: amount.saturating_sub(drained),
            });
        }
    }

    fn progress(&mut self, now: Instant, key: &TransferKey, added: u64, force: bool) {
        let every = self.config.progress_every;
        let Some(t) = self.transfers.get_mut(key) else {
            return;
        };
        t.done += added;
        let moved = t.done - t.resumed;
        let (since, base) = *t.flowing_since.get_or_insert((now, moved - added));
        let due = t.last_progress.is_none_or(|at| now >= at + every);
        if !(due || force) {
            return;
        }
        t.last_progress = Some(now);
        let secs = now.saturating_duration_since(since).as_secs_f64();
        let rate = if secs > 0.0 {
            ((moved - base) as f64 / secs) as u64
        } else {
            0
        };
        self.events.push_back(TransferEvent::Progress {
            key: key.clone(),
            done: t.done,
            total: t.total,
            resumed: t.resumed,
            rate,
        });
    }

    /// `held` bytes the receiver already had, verified: done, but not moved.
    fn progress_resumed(&mut self, now: Instant, key: &TransferKey, held: u64) {
        if let Some(t) = self.transfers.get_mut(key) {
            t.done += held;
            t.resumed += held;
        }
        self.progress(now, key, 0, true);
    }

    /// Cancels: tells the peer (unless it told us), closes the channel, and
    /// lets the side clean up (a receiver removes its temporary file).
    fn abort(
        &mut self,
        now: Instant,
        ep: &dyn ChannelLevels,
        key: &TransferKey,
        reason: String,
        by_peer: bool,
        discard: bool,
    ) {
        self.abort_as(now, ep, key, reason, None, by_peer, discard)
    }

    /// Cancels for a local reason that the peer hears as `peer_reason`,
    /// which names nothing of this side's file system.
    fn abort_with(
        &mut self,
        now: Instant,
        ep: &dyn ChannelLevels,
        key: &TransferKey,
        reason: String,
        peer_reason: String,
        discard: bool,
    ) {
        self.abort_as(now, ep, key, reason, Some(peer_reason), false, discard)
    }

    #[allow(clippy::too_many_arguments)]
    fn abort_as(
        &mut self,
        now: Instant,
        ep: &dyn ChannelLevels,
        key: &TransferKey,
        reason: String,
        peer_reason: Option<String>,
        by_peer: bool,
        discard: bool,
    ) {
        let told = peer_reason.unwrap_or_else(|| reason.clone());
        let Some((state, open)) = self.transfers.get(key).map(|t| (t.state, t.open)) else {
            return;
        };
        if matches!(state, TransferState::Cancelled | TransferState::Closed) {
            return;
        }
        if state == TransferState::Done {
            // Every file is in place and `done` went out: a cancel that
            // crossed it, or a channel closing after it, ends nothing.
            return self.finish(now, ep, key, TransferState::Done, None);
        }
        if let Some(t) = self.transfers.get_mut(key) {
            if t.aborting {
                return;
            }
            t.aborting = true;
        }
        if !key.outgoing && self.receiver_awaits_offer(key) {
            // The application never heard of it: it goes without a word.
            if !by_peer {
                self.queue(key, Wire::Control(Control::Cancel { reason: told }));
                self.flush(now, ep, key);
            }
            return self.forget(now, ep, key);
        }
        if !open {
            self.unopened
                .insert((key.peer.clone(), key.id), told.clone());
        }
        if !by_peer {
            self.queue(key, Wire::Control(Control::Cancel { reason: told }));
            self.flush(now, ep, key);
        }
        if discard && !key.outgoing {
            self.receiver_discard(key);
        }
        if self.ended.len() == ENDED_REMEMBERED {
            self.ended.pop_front();
        }
        self.ended.push_back(key.clone());
        self.events.push_back(TransferEvent::Cancelled {
            key: key.clone(),
            reason,
            by_peer,
        });
        self.finish(now, ep, key, TransferState::Cancelled, None);
    }

    /// Moves to a final state, closes the channel and forgets the transfer.
    fn finish(
        &mut self,
        now: Instant,
        ep: &dyn ChannelLevels,
        key: &TransferKey,
        state: TransferState,
        _why: Option<&str>,
    ) {
        self.set_state(key, state);
        if self.transfers.contains_key(key) {
            self.forget(now, ep, key);
            self.state_event(key, TransferState::Closed);
        }
    }

    /// Drops every trace of a transfer and closes its channel.
    fn forget(&mut self, now: Instant, ep: &dyn ChannelLevels, key: &TransferKey) {
        if self.transfers.remove(key).is_none() {
            return;
        }
        // Its channel, and any other that still waited to carry its offer.
        for channel in self.by_channel.channels_of(key) {
            self.by_channel.remove(&key.peer, channel);
            self.commands.push(ChannelCommand::Close {
                peer: key.peer.clone(),
                channel,
            });
        }
        self.requests.retain(|_, k| k != key);
        if key.outgoing {
            let req = RequestId(self.next_request);
            self.next_request += 1;
            self.actions.push_back(StorageAction::ReleaseSources {
                req,
                transfer: key.clone(),
            });
        }
        if !self.transfers.keys().any(|k| k.peer == key.peer) {
            // Learnt afresh next time: the path, or the connection, may differ.
            self.windows.remove(&key.peer);
        }
        self.wake_peer(now, ep, &key.peer);
    }

    /// The channel (or the whole connection) went away under the transfer.
    fn channel_gone(&mut self, now: Instant, ep: &dyn ChannelLevels, key: &TransferKey) {
        if !self.transfers.contains_key(key) {
            return;
        }
        if !key.outgoing && self.receiver_awaits_offer(key) {
            return self.forget(now, ep, key);
        }
        // Keep what arrived: a new transfer of the same content resumes from
        // it. (A transfer already done just closes; see `abort_as`.)
        let reason = "the connection was lost".to_owned();
        self.abort(now, ep, key, reason, true, false);
    }
}
