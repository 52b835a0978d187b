//! The client machine: one sans-IO [`Node`] that owns a user's connections
//! (the [`Endpoint`]) and their file transfers ([`Transfers`]), and joins
//! them, so that a driver has one thing to feed and one thing to drain.
//!
//! # Contract
//!
//! A `Node` does nothing on its own: every method runs to completion and
//! leaves its consequences in four output queues. The driver owns the
//! sockets, the files and the clock.
//!
//! **Getters** never change anything: [`Node::user`], [`Node::is_hub_ready`],
//! [`Node::peer_state`], [`Node::peers`], [`Node::transfer_state`],
//! [`Node::transfers`] and [`Node::endpoint`] (for the rest: buffered
//! amounts, parity statistics, media).
//!
//! **Inputs** (`handle_*`), each with the time it happened:
//! - [`Node::handle_hub_opened`] once a WebSocket to the hub is open;
//!   [`Node::handle_hub_frame`] for every text frame from it;
//!   [`Node::handle_hub_closed`] when it breaks (peers carry on);
//! - [`Node::handle_datagram`] for every UDP datagram, naming the local
//!   address it arrived at (announced once with [`Node::add_local_address`]);
//! - [`Node::handle_timeout`] once [`Node::poll_timeout`] is reached;
//! - [`Node::handle_storage`] with the result of each storage action. Results
//!   may come back in **any order** and at any later time; an action whose
//!   transfer has ended meanwhile has its result ignored.
//!
//! **Commands**, each with the current time: [`Node::connect`],
//! [`Node::accept`], [`Node::reject`], [`Node::send_message`], [`Node::ping`],
//! [`Node::send_files`], [`Node::accept_transfer`],
//! [`Node::reject_transfer`], [`Node::cancel_transfer`],
//! [`Node::close_peer`], [`Node::subscribe`], [`Node::contacts_request`]
//! and [`Node::stop`]; and [`Node::send_to`] (connect on demand, messages
//! waiting in order on one attempt, [`NodeEvent::Undelivered`] if it fails)
//! and [`Node::broadcast`] (to every open peer, a user's devices or one
//! device, each recipient's result returned). A command
//! returns an error only when the caller misused it (no such peer, a
//! transfer in the wrong state); nothing a peer or the hub sends is ever an
//! error returned here.
//!
//! **Outputs**, to drain after every input and command, in this order:
//! 1. [`Node::poll_transmit`]: UDP datagrams, sent from the given local address;
//! 2. [`Node::poll_hub`]: frames for the hub, and when to close it;
//! 3. [`Node::poll_storage`]: storage actions, each answered later by
//!    [`Node::handle_storage`] (the driver may run them on other threads);
//! 4. [`Node::poll_event`]: what the application hears.
//!
//! Commands the application makes while handling events add to the queues:
//! drain until all four are empty before waiting for input.
//!
//! Then [`Node::poll_timeout`]: the earliest moment the node wants
//! [`Node::handle_timeout`]. The order matters only in that datagrams and
//! hub frames should leave before the driver blocks on storage or the
//! application; the node keeps working whatever order the queues are
//! emptied in.
//!
//! **Draining the children.** Before any output is handed out (and when
//! [`Node::poll_timeout`] is asked after a call: it then says "now"), the
//! node drains its children until neither has anything more to say:
//! endpoint events about transfer channels go to the transfers (the
//! application never sees them); the transfers read the endpoint's channels
//! ([`crate::transfer::ChannelLevels`]) and emit what they want done to
//! them ([`crate::transfer::ChannelCommand`]), which the node carries out
//! on the endpoint right after each call into the transfers
//! (`channel_commands.rs`); everything else lands in the output queues. The drain waits for a poll that finds its queue
//! empty after a burst of calls, so many datagrams, storage results or
//! messages cost one drain of str0m, not one each (sctp-proto scans all it holds in flight on every
//! poll; draining after each call cost a quarter of the main channel's
//! throughput in `--bench endpoint`).
//!
//! **Determinism.** The same config (its seed) and the same inputs at the
//! same times give the same outputs.

mod channel_commands;
mod config;
mod event;
mod send_queue;
mod sync;

use core::net::SocketAddr;
use std::collections::{BTreeMap, VecDeque};
use std::time::Instant;

pub use config::NodeConfig;
pub use event::{NodeEvent, Recipients, ToHub};

use send_queue::SendQueue;

use crate::endpoint::{
    Endpoint, EndpointError, EndpointEvent, EndpointOutput, PeerStatus, Transmit,
};
use crate::framing::Data;
use crate::signal::{Address, GroupId, PeerId, UserName};
use crate::transfer::{
    RequestId, SourceEntry, StorageAction, StorageResult, TransferError, TransferKey,
    TransferState, Transfers,
};

/// One user's client machine. See the module documentation.
#[derive(Debug)]
pub struct Node {
    endpoint: Endpoint,
    transfers: Transfers,
    /// False: transfer channels reach the application as raw channel events.
    transfers_on: bool,
    /// The time of the latest input or command.
    last_now: Instant,
    /// Inputs or commands came since the children were last drained.
    dirty: bool,
    transmits: VecDeque<Transmit>,
    to_hub: VecDeque<ToHub>,
    storage: VecDeque<StorageAction>,
    events: VecDeque<NodeEvent>,
    /// Messages for names whose connection is not open yet.
    queued: SendQueue,
    /// The sync machine, once [`Node::enable_sync`] turned it on.
    sync: Option<crate::sync::Sync>,
    /// Batch transfers sync accepted, and their names.
    sync_batches: BTreeMap<TransferKey, String>,
    /// Sync messages waiting for room in each peer's send buffer, in order.
    sync_outbox: BTreeMap<Address, VecDeque<String>>,
}

impl Node {
    /// A node that is not yet connected to the hub.
    pub fn new(config: NodeConfig, now: Instant) -> Self {
        Self {
            endpoint: Endpoint::new(config.endpoint, now),
            transfers: Transfers::new(config.transfer),
            transfers_on: true,
            last_now: now,
            dirty: false,
            transmits: VecDeque::new(),
            to_hub: VecDeque::new(),
            storage: VecDeque::new(),
            events: VecDeque::new(),
            queued: SendQueue::default(),
            sync: None,
            sync_batches: BTreeMap::new(),
            sync_outbox: BTreeMap::new(),
        }
    }

    // ----- getters -----

    /// The authenticated user, once the hub said welcome.
    pub fn user(&self) -> Option<&UserName> {
        self.endpoint.user()
    }

    /// This session's user and device, once the hub said welcome.
    pub fn me(&self) -> Option<&PeerId> {
        self.endpoint.me()
    }

    /// True while the hub session is authenticated.
    pub fn is_hub_ready(&self) -> bool {
        self.endpoint.is_ready()
    }

    /// The state of the connection to `peer`, if there is one.
    pub fn peer_state(&self, peer: &Address) -> Option<PeerStatus> {
        self.endpoint.peer_state(peer)
    }

    /// Every peer with a connection or an attempt, sorted.
    pub fn peers(&self) -> impl Iterator<Item = &Address> {
        self.endpoint.peers()
    }

    /// The state of a transfer, while it is known.
    pub fn transfer_state(&self, key: &TransferKey) -> Option<TransferState> {
        self.transfers.state(key)
    }

    /// The transfers, to read their state.
    pub fn transfers(&self) -> &Transfers {
        &self.transfers
    }

    /// The endpoint, to read what the node does not repeat (buffered
    /// amounts, parity statistics, media, the config).
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The endpoint, for calls the node does not wrap (media, raw data
    /// channels). Their outputs are drained by the next call or poll.
    pub fn endpoint_mut(&mut self) -> &mut Endpoint {
        self.dirty = true;
        &mut self.endpoint
    }

    /// Turns file transfer on or off (on by default). While off, channels
    /// labelled `brume-ft/…` reach the application as raw channel events:
    /// for an application that speaks the transfer protocol itself.
    pub fn set_transfers(&mut self, on: bool) {
        self.transfers_on = on;
    }

    // ----- inputs -----

    /// A local address datagrams are sent from and arrive at.
    pub fn add_local_address(&mut self, now: Instant, addr: SocketAddr) {
        self.endpoint.add_local_address(now, addr);
        self.touch(now);
    }

    /// The WebSocket to the hub is open: the node authenticates.
    pub fn handle_hub_opened(&mut self, now: Instant) {
        self.endpoint.hub_connected(now);
        self.touch(now);
    }

    /// A text frame from the hub.
    pub fn handle_hub_frame(&mut self, now: Instant, frame: &[u8]) {
        self.endpoint.handle_hub_frame(now, frame);
        self.touch(now);
    }

    /// The hub connection broke; open peer connections carry on.
    pub fn handle_hub_closed(&mut self, now: Instant) {
        self.endpoint.hub_closed(now);
        self.touch(now);
    }

    /// A UDP datagram from `source` that arrived at the local `destination`.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        source: SocketAddr,
        destination: SocketAddr,
        contents: &[u8],
    ) {
        self.endpoint
            .handle_datagram(now, source, destination, contents);
        self.touch(now);
    }

    /// Time has come (see [`Node::poll_timeout`]).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.endpoint.handle_timeout(now);
        self.touch(now);
    }

    /// The result of the storage action `req`, in any order.
    pub fn handle_storage(&mut self, now: Instant, req: RequestId, result: StorageResult) {
        self.transfers
            .handle_storage(now, &self.endpoint, req, result);
        self.run_channel_commands(now);
        self.touch(now);
    }

    // ----- commands -----

    /// Calls `peer` through the hub, optionally within a group.
    pub fn connect(
        &mut self,
        now: Instant,
        peer: &Address,
        group: Option<GroupId>,
    ) -> Result<(), EndpointError> {
        let r = self.endpoint.connect(now, peer, group);
        self.touch(now);
        r
    }

    /// Accepts `peer`'s incoming call.
    pub fn accept(&mut self, now: Instant, peer: &Address) -> Result<(), EndpointError> {
        let r = self.endpoint.accept(now, peer);
        self.touch(now);
        r
    }

    /// Declines `peer`'s incoming call; the caller hears `reason`.
    pub fn reject(
        &mut self,
        now: Instant,
        peer: &Address,
        reason: &str,
    ) -> Result<(), EndpointError> {
        let r = self.endpoint.reject(now, peer, reason);
        self.touch(now);
        r
    }

    /// Sends an application message `{type: kind, data}` on the peer's main channel.
    pub fn send_message(
        &mut self,
        now: Instant,
        peer: &Address,
        kind: &str,
        data: &Data,
    ) -> Result<(), EndpointError> {
        let r = self.endpoint.send(now, peer, kind, data);
        self.touch(now);
        r
    }

    /// Sends an application message to a name, connecting first if no
    /// connection to it is open (linkup's `send`). Messages sent meanwhile
    /// wait in order and share one connection attempt; they go out when it
    /// opens, or come back as [`NodeEvent::Undelivered`] if it fails.
    pub fn send_to(
        &mut self,
        now: Instant,
        to: &Address,
        kind: &str,
        data: Data,
    ) -> Result<(), EndpointError> {
        self.touch(now);
        if let Some(peer) = self.open_peer_for(to) {
            return self.endpoint.send(now, &peer, kind, &data);
        }
        let first = !self.queued.is_waiting(to);
        if !self.queued.push(to.clone(), kind, data) {
            return Err(EndpointError::WrongState(format!(
                "{} messages already wait for {to}",
                SendQueue::LIMIT
            )));
        }
        if first && let Err(e) = self.endpoint.connect(now, to, None) {
            self.queued.take_for(to);
            return Err(e);
        }
        Ok(())
    }

    /// Sends one application message to every open connection that
    /// `recipients` names (BoneValue's `get("*")`, `get(user)`,
    /// `get(peerId)`), reporting each recipient's result, sorted by address.
    pub fn broadcast(
        &mut self,
        now: Instant,
        recipients: &Recipients,
        kind: &str,
        data: &Data,
    ) -> Vec<(Address, Result<(), EndpointError>)> {
        self.touch(now);
        let targets: Vec<Address> = self
            .endpoint
            .peers()
            .filter(|a| recipients.includes(a))
            .filter(|a| self.endpoint.peer_state(a) == Some(PeerStatus::Open))
            .cloned()
            .collect();
        targets
            .into_iter()
            .map(|peer| {
                let r = self.endpoint.send(now, &peer, kind, data);
                (peer, r)
            })
            .collect()
    }

    /// Serves an RPC module: its requests come as
    /// [`EndpointEvent::RpcRequest`], answered with [`Node::respond`].
    pub fn register_module(&mut self, module: &str) {
        self.endpoint.register_module(module);
    }

    /// Asks `peer`'s `module`; the id that the one
    /// [`EndpointEvent::RpcResponse`] for it carries.
    pub fn request(
        &mut self,
        now: Instant,
        peer: &Address,
        module: &str,
        payload: serde_json::Value,
        timeout: std::time::Duration,
    ) -> Result<u64, EndpointError> {
        let r = self.endpoint.request(now, peer, module, payload, timeout);
        self.touch(now);
        r
    }

    /// Answers `peer`'s RPC request `id`.
    pub fn respond(
        &mut self,
        now: Instant,
        peer: &Address,
        id: u64,
        result: Result<serde_json::Value, String>,
    ) -> Result<(), EndpointError> {
        let r = self.endpoint.respond(now, peer, id, result);
        self.touch(now);
        r
    }

    /// Pings `peer`'s endpoint, which answers on its own; returns the nonce
    /// that [`EndpointEvent::Pong`] carries back with the round-trip time.
    pub fn ping(&mut self, now: Instant, peer: &Address) -> Result<u32, EndpointError> {
        let r = self.endpoint.ping(now, peer);
        self.touch(now);
        r
    }

    /// Offers files and folders to `peer`, whose connection must be open.
    /// Their contents are read through [`StorageAction::ReadSource`], which
    /// names the returned key and each entry's index; once the transfer is
    /// over, [`StorageAction::ReleaseSources`] says they will not be read again.
    pub fn send_files(
        &mut self,
        now: Instant,
        peer: &Address,
        entries: Vec<SourceEntry>,
    ) -> Result<TransferKey, TransferError> {
        let r = self.transfers.send(now, &self.endpoint, peer, entries);
        self.run_channel_commands(now);
        self.touch(now);
        r
    }

    /// Accepts an offered transfer into `dir`, a folder of the driver's that
    /// the node only passes back in storage actions.
    pub fn accept_transfer(
        &mut self,
        now: Instant,
        key: &TransferKey,
        dir: String,
    ) -> Result<(), TransferError> {
        let r = self.transfers.accept(now, &self.endpoint, key, dir);
        self.run_channel_commands(now);
        self.touch(now);
        r
    }

    /// Declines an offered transfer; the sender hears `reason`.
    pub fn reject_transfer(
        &mut self,
        now: Instant,
        key: &TransferKey,
        reason: &str,
    ) -> Result<(), TransferError> {
        let r = self.transfers.reject(now, &self.endpoint, key, reason);
        self.run_channel_commands(now);
        self.touch(now);
        r
    }

    /// Cancels a transfer, either way; the peer hears `reason`.
    pub fn cancel_transfer(
        &mut self,
        now: Instant,
        key: &TransferKey,
        reason: &str,
    ) -> Result<(), TransferError> {
        let r = self.transfers.cancel(now, &self.endpoint, key, reason);
        self.run_channel_commands(now);
        self.touch(now);
        r
    }

    /// Closes the connection to `peer` (or abandons the attempt).
    pub fn close_peer(&mut self, now: Instant, peer: &Address) -> Result<(), EndpointError> {
        let r = self.endpoint.close_peer(now, peer);
        self.touch(now);
        r
    }

    /// Watches `users`' presence; the hub tells their state now and on change.
    pub fn subscribe(&mut self, now: Instant, users: Vec<UserName>) -> Result<(), EndpointError> {
        let r = self.endpoint.subscribe(users);
        self.touch(now);
        r
    }

    /// Asks the hub for an invitation, claims one, or lists contacts; the
    /// answer comes as an event.
    pub fn contacts_request(
        &mut self,
        now: Instant,
        request: crate::endpoint::ContactsRequest,
    ) -> Result<(), EndpointError> {
        let r = self.endpoint.contacts_request(request);
        self.touch(now);
        r
    }

    /// Closes every connection and the hub session; `Stopped` follows.
    pub fn stop(&mut self, now: Instant) {
        self.endpoint.stop(now);
        self.touch(now);
    }

    /// Test seam: a receiving transfer from `peer` on a channel that is not
    /// real, to drive the receiver with raw messages ([`Node::fuzz_message`]).
    #[cfg(feature = "testing")]
    pub fn fuzz_receiver(&mut self, peer: &Address, id: u64) -> TransferKey {
        self.transfers.fuzz_receiver(peer, id)
    }

    /// Test seam: a message on a transfer's channel, as bytes from the wire.
    #[cfg(feature = "testing")]
    pub fn fuzz_message(&mut self, now: Instant, key: &TransferKey, bytes: &[u8]) {
        self.transfers.fuzz_message(now, &self.endpoint, key, bytes);
        self.run_channel_commands(now);
        self.touch(now);
    }

    // ----- outputs -----

    /// The next datagram to send.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        if self.transmits.is_empty() {
            self.fill();
        }
        self.transmits.pop_front()
    }

    /// The next thing for the hub connection.
    #[must_use]
    pub fn poll_hub(&mut self) -> Option<ToHub> {
        if self.to_hub.is_empty() {
            self.fill();
        }
        self.to_hub.pop_front()
    }

    /// The next storage action.
    #[must_use]
    pub fn poll_storage(&mut self) -> Option<StorageAction> {
        if self.storage.is_empty() {
            self.fill();
        }
        self.storage.pop_front()
    }

    /// The next event for the application.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<NodeEvent> {
        if self.events.is_empty() {
            self.fill();
        }
        self.events.pop_front()
    }

    /// When [`Node::handle_timeout`] is next wanted.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.dirty {
            return Some(self.last_now); // outputs are waiting to be drained
        }
        self.endpoint.poll_timeout()
    }

    // ----- joining the children -----

    /// Drains the children after inputs or commands (calls made through
    /// [`Node::endpoint_mut`] count), at the time of the latest one.
    fn fill(&mut self) {
        if self.dirty {
            self.dirty = false;
            self.drain(self.last_now);
        }
    }

    /// An input or command happened at `now`: the children are drained
    /// before the next output is taken, so a burst of calls (a batch of
    /// datagrams, of storage results, of messages) costs one drain.
    fn touch(&mut self, now: Instant) {
        self.last_now = now;
        self.dirty = true;
    }

    /// Runs both children until neither has anything more to say.
    fn drain(&mut self, now: Instant) {
        self.last_now = now;
        loop {
            let mut busy = false;
            while let Some(out) = self.endpoint.poll_output() {
                busy = true;
                self.route(now, out);
            }
            while let Some(action) = self.transfers.poll_action() {
                busy = true;
                self.storage.push_back(action);
            }
            while let Some(e) = self.transfers.poll_event() {
                busy = true;
                if !self.sync_transfer_event(&e) {
                    self.events.push_back(NodeEvent::Transfer(e));
                }
            }
            busy |= self.drain_sync(now);
            if !busy {
                return;
            }
        }
    }

    /// The open connection that `to` names: itself, or for a bare user the
    /// first of their devices (in address order) with one.
    fn open_peer_for(&self, to: &Address) -> Option<Address> {
        let open = |a: &Address| self.endpoint.peer_state(a) == Some(PeerStatus::Open);
        match to {
            Address::Device(_) => open(to).then(|| to.clone()),
            Address::User(u) => self
                .endpoint
                .peers()
                .find(|a| a.user() == u && open(a))
                .cloned(),
        }
    }

    /// A connection opened or failed: what waited for it goes out, or back.
    fn settle_queued(&mut self, now: Instant, event: &EndpointEvent) {
        match event {
            EndpointEvent::PeerOpen { peer } => {
                for (_, messages) in self.queued.take_for(peer) {
                    for (kind, data) in messages {
                        if let Err(e) = self.endpoint.send(now, peer, &kind, &data) {
                            self.events.push_back(NodeEvent::Undelivered {
                                to: peer.clone(),
                                kind,
                                code: e.code(),
                                reason: e.to_string(),
                            });
                        }
                    }
                }
            }
            EndpointEvent::PeerFailed { peer, code, reason } => {
                for (to, messages) in self.queued.take_for(peer) {
                    for (kind, _) in messages {
                        self.events.push_back(NodeEvent::Undelivered {
                            to: to.clone(),
                            kind,
                            code: *code,
                            reason: reason.clone(),
                        });
                    }
                }
            }
            _ => {}
        }
    }

    fn route(&mut self, now: Instant, out: EndpointOutput) {
        match out {
            EndpointOutput::Transmit(t) => self.transmits.push_back(t),
            EndpointOutput::HubFrame(f) => self.to_hub.push_back(ToHub::Frame(f)),
            EndpointOutput::CloseHub => self.to_hub.push_back(ToHub::Close),
            EndpointOutput::Event(e) => {
                self.settle_queued(now, &e);
                let consumed =
                    self.transfers_on && self.transfers.handle_event(now, &self.endpoint, &e);
                self.run_channel_commands(now);
                if !consumed && !self.sync_endpoint_event(&e) {
                    self.events.push_back(NodeEvent::Endpoint(e));
                }
            }
        }
    }
}

/// Events about the connections, for drivers that only want those.
impl From<EndpointEvent> for NodeEvent {
    fn from(e: EndpointEvent) -> Self {
        NodeEvent::Endpoint(e)
    }
}
