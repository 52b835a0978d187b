//! A deterministic world on virtual time: one hub and N endpoints, joined by
//! in-memory links. Hub frames travel with a fixed latency, in order; UDP
//! datagrams go through a seeded `str0m-netem` per receiving node, so tests
//! can add latency, loss, duplication, reordering and outages.
//!
//! The world advances to the earliest of every node's timeout, the hub's
//! timeout, the next hub-frame delivery and the next datagram delivery, so
//! nothing waits on a wall clock.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use brume_proto::endpoint::{EndpointConfig, EndpointEvent, Transmit, binding_response};
use brume_proto::framing::Data;
use brume_proto::hub::{ConnId, Hub, HubConfig, HubInput, HubOutput};
use brume_proto::node::{Node, NodeConfig, NodeEvent, ToHub};
use brume_proto::signal::{Address, DeviceName, PeerId, UserName};
use brume_proto::token::{TokenKey, TokenKind};
use brume_proto::transfer::{EntryKind, SourceEntry, StorageAction, TransferEvent, TransferKey};

use crate::storage::MemStorage;
use str0m_netem::{Input as NetInput, Netem, NetemConfig, Output as NetOutput};

/// Seconds since the Unix epoch at the start of every world.
pub const UNIX0: u64 = 1_800_000_000;
/// The world's STUN server.
pub const STUN_SERVER: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), 3478);

/// Node `i`'s public address behind a one-to-one NAT: what STUN reports,
/// and an address that reaches it.
pub fn public_addr(i: usize) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::new(198, 51, 100, i as u8 + 1), 5000))
}

/// Chooses storage actions (for [`Host::slow_storage`]).
pub type PickAction = fn(&StorageAction) -> bool;

/// How long after the last answer the storage answers what it still owes.
const STORAGE_LATENCY: Duration = Duration::from_millis(1);
/// One-way latency between any node and the hub.
pub const HUB_LATENCY: Duration = Duration::from_millis(5);

/// A datagram in flight.
#[derive(Debug, Clone)]
pub struct Packet(pub Transmit);

impl AsRef<[u8]> for Packet {
    fn as_ref(&self) -> &[u8] {
        &self.0.contents
    }
}

/// One machine: its client node and its view of the world.
pub struct Host {
    /// The user it logs in as.
    pub name: UserName,
    /// The client machine under test.
    pub node: Node,
    /// Its UDP address.
    pub addr: SocketAddr,
    /// Its connection id at the hub.
    pub conn: ConnId,
    /// Everything it told its application, with the virtual time since the start.
    pub events: Vec<(Duration, EndpointEvent)>,
    /// Datagrams on their way to this node.
    pub inbound: Netem<Packet>,
    /// While false, every datagram to or from this node is lost.
    pub link_up: bool,
    /// Frames the hub received from this node.
    pub frames_to_hub: Vec<String>,
    /// Accept incoming connections as soon as they are announced.
    pub auto_accept: bool,
    /// Its storage.
    pub storage: MemStorage,
    /// What its transfers told the application, with the virtual time.
    pub transfer_events: Vec<(Duration, TransferEvent)>,
    /// The node's own events (`Undelivered`), with when they came.
    pub other_events: Vec<(Duration, NodeEvent)>,
    /// What sync asked of this node's application (with `Node::enable_sync`).
    pub sync_events: Vec<(Duration, brume_proto::sync::SyncOutput)>,
    /// Accept offered transfers into this folder as soon as they are offered.
    pub accept_into: Option<String>,
    /// While false, storage actions wait (a stalled or restarting disk).
    pub storage_up: bool,
    /// Storage actions not yet answered: answered in an order shuffled by
    /// the seed (the node's contract allows any), or held while the storage
    /// is down.
    pub storage_queue: Vec<(Instant, StorageAction)>,
    /// Shuffles the answers to storage actions.
    storage_rng: fastrand::Rng,
    /// Storage actions this picks are answered only after waiting this long
    /// (a disk slow at renames, say): an adversarial order the contract allows.
    pub slow_storage: Option<(PickAction, Duration)>,
}

enum HubDelivery {
    ToHub(ConnId, String),
    ClosedAtHub(ConnId),
    ToNode(usize, String),
}

/// The world.
pub struct World {
    /// The virtual clock.
    pub now: Instant,
    /// When the world began.
    pub start: Instant,
    /// The hub.
    pub hub: Hub,
    /// The nodes, in the order they were added.
    pub nodes: Vec<Host>,
    key: TokenKey,
    seed: u64,
    hub_queue: BTreeMap<(Instant, u64), HubDelivery>,
    seq: u64,
    restarts: u64,
    /// False while the hub process is down: frames to it are lost.
    hub_alive: bool,
    /// The TURN server (used by nodes whose config names it).
    pub turn: crate::turn_server::SimTurn,
    /// While true, datagrams straight between nodes are lost; the relay
    /// still carries them.
    pub direct_blocked: bool,
    /// While true, the TURN server is down: what is sent to it is lost.
    pub turn_down: bool,
    /// While true, the hub lies: it rewrites the DTLS fingerprint in every
    /// SDP it relays, as a hub putting its own DTLS endpoint in the middle
    /// would have to.
    pub lying_hub: bool,
}

/// `frame` with every `a=fingerprint:sha-256 …` value replaced by another
/// of the same shape.
fn forge_fingerprints(frame: &str) -> String {
    const TAG: &str = "a=fingerprint:sha-256 ";
    let mut out = String::new();
    let mut rest = frame;
    while let Some(i) = rest.find(TAG) {
        let start = i + TAG.len();
        out.push_str(&rest[..start]);
        let hex_len = rest[start..]
            .find(|c: char| !(c.is_ascii_hexdigit() || c == ':'))
            .unwrap_or(rest.len() - start);
        let forged: String = rest[start..start + hex_len]
            .chars()
            .map(|c| if c == ':' { ':' } else { 'E' })
            .collect();
        out.push_str(&forged);
        rest = &rest[start + hex_len..];
    }
    out.push_str(rest);
    out
}

/// An identity key's seed, from the world's seed (a driver draws it from the OS).
fn identity_seed(seed: u64) -> [u8; 32] {
    let mut rng = fastrand::Rng::with_seed(seed ^ 0x1de7);
    std::array::from_fn(|_| rng.u8(..))
}

fn dtls_cert() -> brume_proto::endpoint::Certificate {
    // One certificate per node, made the way a driver makes it once and keeps it.
    brume_proto::endpoint::Certificate::generate().expect("the crypto provider makes certificates")
}

impl Host {
    /// The address its peers know it by: its user and the device the hub
    /// confirmed (the default device until then).
    pub fn peer(&self) -> Address {
        match self.node.me() {
            Some(me) => Address::Device(me.clone()),
            None => World::peer(self.name.as_str()),
        }
    }
}

impl World {
    /// A world whose hub knows `users`; each becomes a node, logged in.
    pub fn new(seed: u64, users: &[&str]) -> Self {
        Self::with_config(seed, users, |_| {})
    }

    /// As [`World::new`], with every node's config adjusted by `tune`.
    pub fn with_config(seed: u64, users: &[&str], tune: impl Fn(&mut EndpointConfig)) -> Self {
        // str0m draws from fastrand's thread-local generator; seed it so the
        // world is reproducible (DTLS keys still come from the crypto provider).
        fastrand::seed(seed);
        // Only differences from this origin matter.
        let start = Instant::now();
        let key = TokenKey::from_secret(&[0x5a; 32]).expect("32 bytes");
        let names: Vec<UserName> = users
            .iter()
            .map(|u| UserName::new(*u).expect("valid"))
            .collect();
        let hub = Hub::new(HubConfig::new(key.clone()), names.clone(), start, UNIX0);
        let mut world = Self {
            now: start,
            start,
            hub,
            nodes: Vec::new(),
            key,
            seed,
            hub_queue: BTreeMap::new(),
            seq: 0,
            restarts: 0,
            hub_alive: true,
            turn: Default::default(),
            direct_blocked: false,
            turn_down: false,
            lying_hub: false,
        };
        for name in names {
            world.add_node(name, &tune);
        }
        world.settle(Duration::from_millis(100));
        world
    }

    /// Adds a node for `name`, lets `tune` adjust its config, and logs it in.
    pub fn add_node(&mut self, name: UserName, tune: impl FnOnce(&mut EndpointConfig)) -> usize {
        let i = self.nodes.len();
        let token = self.key.mint(&name, TokenKind::Access, UNIX0, 3600);
        let mut config = EndpointConfig::new(token, dtls_cert(), self.seed ^ (i as u64 + 1));
        // Each device's identity key, as a driver makes it once.
        config.identity_key = Some(identity_seed(self.seed ^ (i as u64 + 1)));
        tune(&mut config);
        let addr = SocketAddr::from((Ipv4Addr::new(10, 0, 0, i as u8 + 1), 5000));
        let mut node = Node::new(NodeConfig::new(config), self.now);
        node.add_local_address(self.now, addr);
        let netem = NetemConfig::new()
            .latency(Duration::from_millis(10))
            .seed(self.seed.wrapping_add(i as u64 * 7919));
        self.nodes.push(Host {
            name,
            node,
            addr,
            conn: ConnId(i as u64 + 1),
            events: Vec::new(),
            inbound: Netem::new(netem),
            link_up: true,
            frames_to_hub: Vec::new(),
            auto_accept: true,
            storage: MemStorage::new(),
            transfer_events: Vec::new(),
            other_events: Vec::new(),
            sync_events: Vec::new(),
            accept_into: Some("inbox".into()),
            storage_up: true,
            storage_queue: Vec::new(),
            storage_rng: fastrand::Rng::with_seed(self.seed ^ 0x5707 ^ i as u64),
            slow_storage: None,
        });
        let conn = self.nodes[i].conn;
        self.hub.handle_input(self.now, HubInput::Opened(conn));
        self.nodes[i].node.handle_hub_opened(self.now);
        self.flush_node(i);
        i
    }

    /// A token for `name` signed with the hub's key, issued at `issued` (Unix seconds).
    pub fn token(&self, name: &str, kind: TokenKind, issued: u64, lifetime: u64) -> String {
        self.key.mint(&Self::user(name), kind, issued, lifetime)
    }

    /// The node index of `name`.
    pub fn index(&self, name: &str) -> usize {
        self.nodes
            .iter()
            .position(|n| n.name.as_str() == name)
            .unwrap_or_else(|| panic!("no node {name}"))
    }

    /// A user name.
    pub fn user(name: &str) -> UserName {
        UserName::new(name).expect("valid name")
    }

    /// The address of `name`'s node: every node holds the default device.
    pub fn peer(name: &str) -> Address {
        Address::Device(PeerId::new(Self::user(name), DeviceName::default_device()))
    }

    /// Sets the network conditions for datagrams arriving at node `i`.
    pub fn set_inbound(&mut self, i: usize, config: NetemConfig) {
        self.nodes[i].inbound.set_config(config);
    }

    /// Virtual time since the world began.
    pub fn elapsed(&self) -> Duration {
        self.now - self.start
    }

    /// Runs a closure against node `i`'s endpoint at the current time, then routes its outputs.
    pub fn with<R>(&mut self, i: usize, f: impl FnOnce(&mut Node, Instant) -> R) -> R {
        let now = self.now;
        let r = f(&mut self.nodes[i].node, now);
        self.flush_node(i);
        r
    }

    /// Advances until `done` holds or `limit` of virtual time passes; true if it held.
    pub fn run_until(&mut self, limit: Duration, mut done: impl FnMut(&World) -> bool) -> bool {
        let end = self.now + limit;
        loop {
            if done(self) {
                return true;
            }
            let Some(next) = self.next_event() else {
                return false;
            };
            if next > end {
                self.now = end;
                return done(self);
            }
            self.now = self.now.max(next);
            self.step();
        }
    }

    /// Advances `d` of virtual time.
    pub fn settle(&mut self, d: Duration) {
        self.run_until(d, |_| false);
    }

    /// True once node `i` has seen an event matching `f`.
    pub fn saw(&self, i: usize, f: impl Fn(&EndpointEvent) -> bool) -> bool {
        self.nodes[i].events.iter().any(|(_, e)| f(e))
    }

    fn next_event(&self) -> Option<Instant> {
        let nodes = self.nodes.iter().flat_map(|n| {
            let net = n.inbound.poll_timeout();
            [
                n.node.poll_timeout(),
                (!n.inbound.is_empty()).then_some(net),
            ]
        });
        // Storage answers still owed come a millisecond later.
        let storage = self
            .nodes
            .iter()
            .any(|n| n.storage_up && !n.storage_queue.is_empty())
            .then_some(self.now + STORAGE_LATENCY);
        let hub = self.hub.poll_timeout().filter(|_| self.hub_alive);
        let queue = self.hub_queue.keys().next().map(|(at, _)| *at);
        nodes.chain([hub, queue, storage]).flatten().min()
    }

    fn step(&mut self) {
        let now = self.now;
        // Hub frames due now.
        while let Some(entry) = self.hub_queue.first_entry() {
            if entry.key().0 > now {
                break;
            }
            match entry.remove() {
                HubDelivery::ToHub(conn, frame) => {
                    self.hub
                        .handle_input(now, HubInput::Frame(conn, frame.as_bytes()));
                    self.flush_hub();
                }
                HubDelivery::ClosedAtHub(conn) => {
                    self.hub.handle_input(now, HubInput::Closed(conn));
                    self.flush_hub();
                }
                HubDelivery::ToNode(i, frame) => {
                    self.nodes[i].node.handle_hub_frame(now, frame.as_bytes());
                    self.flush_node(i);
                }
            }
        }
        if self.hub_alive && self.hub.poll_timeout().is_some_and(|t| t <= now) {
            self.hub.handle_input(now, HubInput::Timeout);
            self.flush_hub();
        }
        // Datagrams due now.
        for i in 0..self.nodes.len() {
            self.nodes[i].inbound.handle_input(NetInput::Timeout(now));
            while let Some(out) = self.nodes[i].inbound.poll_output() {
                if let NetOutput::Packet(Packet(t)) = out
                    && self.nodes[i].link_up
                {
                    self.nodes[i]
                        .node
                        .handle_datagram(now, t.source, t.destination, &t.contents);
                    self.flush_node(i);
                }
            }
        }
        // Storage answers still owed.
        for i in 0..self.nodes.len() {
            if !self.nodes[i].storage_queue.is_empty() {
                self.flush_node(i);
            }
        }
        // Endpoint timers.
        for i in 0..self.nodes.len() {
            if self.nodes[i].node.poll_timeout().is_some_and(|t| t <= now) {
                self.nodes[i].node.handle_timeout(now);
                self.flush_node(i);
            }
        }
    }

    fn schedule(&mut self, at: Instant, d: HubDelivery) {
        self.seq += 1;
        self.hub_queue.insert((at, self.seq), d);
    }

    fn flush_hub(&mut self) {
        let at = self.now + HUB_LATENCY;
        while let Some(out) = self.hub.poll_output() {
            let target = |conn: ConnId| self.nodes.iter().position(|n| n.conn == conn);
            match out {
                HubOutput::Send { conn, frame } => {
                    if let Some(i) = target(conn) {
                        let frame = if self.lying_hub {
                            forge_fingerprints(&frame)
                        } else {
                            frame
                        };
                        self.schedule(at, HubDelivery::ToNode(i, frame));
                    }
                }
                HubOutput::Close { .. }
                | HubOutput::GroupChanged { .. }
                | HubOutput::ContactChanged { .. }
                | HubOutput::InvitationClaimed { .. } => {}
            }
        }
    }

    /// Routes everything node `i` has to say, until it has nothing more.
    fn flush_node(&mut self, i: usize) {
        let now = self.now;
        let mut answered = false;
        loop {
            let mut busy = false;
            while let Some(t) = self.nodes[i].node.poll_transmit() {
                busy = true;
                self.route(i, t);
            }
            while let Some(out) = self.nodes[i].node.poll_hub() {
                busy = true;
                let conn = self.nodes[i].conn;
                match out {
                    ToHub::Frame(frame) if self.hub_alive => {
                        self.nodes[i].frames_to_hub.push(frame.clone());
                        self.schedule(now + HUB_LATENCY, HubDelivery::ToHub(conn, frame));
                    }
                    ToHub::Frame(_) => {}
                    ToHub::Close => {
                        self.schedule(now + HUB_LATENCY, HubDelivery::ClosedAtHub(conn));
                    }
                }
            }
            // Storage answers once a flush; what it asks meanwhile waits a step.
            busy |= self.run_storage(i, !answered);
            answered = true;
            while let Some(event) = self.nodes[i].node.poll_event() {
                busy = true;
                self.deliver(i, event);
            }
            if !busy {
                return;
            }
        }
    }

    /// Takes node `i`'s storage actions and, if `answer`, answers some of
    /// those owed, in an order shuffled by the seed; true if any was answered.
    fn run_storage(&mut self, i: usize, answer: bool) -> bool {
        let now = self.now;
        let host = &mut self.nodes[i];
        while let Some(action) = host.node.poll_storage() {
            host.storage_queue.push((now, action));
        }
        if !answer || !host.storage_up || host.storage_queue.is_empty() {
            return false;
        }
        // Some now, the rest on a later step, all in a shuffled order: as
        // a driver's storage threads may answer.
        let mut batch = std::mem::take(&mut host.storage_queue);
        host.storage_rng.shuffle(&mut batch);
        let mut later = Vec::new();
        if let Some((slow, wait)) = host.slow_storage {
            (later, batch) = batch
                .into_iter()
                .partition(|(at, a)| slow(a) && now < *at + wait);
        }
        if batch.is_empty() {
            host.storage_queue = later;
            return false;
        }
        let now_count = host.storage_rng.usize(1..=batch.len());
        host.storage_queue = batch.split_off(now_count);
        host.storage_queue.append(&mut later);
        for (_, action) in batch {
            let result = host.storage.execute(&action);
            host.node.handle_storage(now, action.req(), result);
        }
        true
    }

    /// What node `i`'s application does with an event: records it, and
    /// accepts calls and offers if told to.
    fn deliver(&mut self, i: usize, event: NodeEvent) {
        let now = self.now;
        let at = now - self.start;
        let host = &mut self.nodes[i];
        match event {
            NodeEvent::Endpoint(e) => {
                if let EndpointEvent::Incoming { peer, .. } = &e
                    && host.auto_accept
                {
                    let _ = host.node.accept(now, peer);
                }
                host.events.push((at, e));
            }
            NodeEvent::Transfer(e) => {
                if let TransferEvent::Offered { key, .. } = &e
                    && let Some(dir) = host.accept_into.clone()
                {
                    let _ = host.node.accept_transfer(now, key, dir);
                }
                host.transfer_events.push((at, e));
            }
            NodeEvent::Sync(e) => host.sync_events.push((at, e)),
            other => host.other_events.push((at, other)),
        }
    }

    /// Restarts node `i`'s process: a fresh endpoint and fresh transfers
    /// under the same user; its storage, device certificate and pins (its
    /// config) survive.
    pub fn restart_node(&mut self, i: usize) {
        self.restart_node_as(i, false);
    }

    /// Node `i`'s device is set up again: a restart with a new certificate
    /// and no pins.
    pub fn reinstall_node(&mut self, i: usize) {
        self.restart_node_as(i, true);
    }

    fn restart_node_as(&mut self, i: usize, reinstalled: bool) {
        let now = self.now;
        let old = self.nodes[i].conn;
        self.hub.handle_input(now, HubInput::Closed(old));
        self.flush_hub();
        let name = self.nodes[i].name.clone();
        let token = self.key.mint(&name, TokenKind::Access, UNIX0, 3600);
        self.restarts += 1;
        let seed = self.seed ^ (0x1000 * self.restarts + i as u64);
        let old = self.nodes[i].node.endpoint().config();
        let (cert, key, pins) = if reinstalled {
            (dtls_cert(), Some(identity_seed(seed)), Default::default())
        } else {
            (old.dtls_cert.clone(), old.identity_key, old.pins.clone())
        };
        let mut config = EndpointConfig::new(token, cert, seed);
        config.identity_key = key;
        config.pins = pins;
        let node = &mut self.nodes[i];
        node.node = Node::new(NodeConfig::new(config), now);
        node.node.add_local_address(now, node.addr);
        node.storage_queue.clear();
        // A new process: what the old one told its application is gone with it.
        node.events.clear();
        node.transfer_events.clear();
        node.conn = ConnId(1000 * self.restarts + i as u64);
        let conn = node.conn;
        self.hub.handle_input(now, HubInput::Opened(conn));
        self.nodes[i].node.handle_hub_opened(now);
        self.flush_node(i);
    }

    /// Node `i` connects to node `j` by name; `Ok` once both have seen the
    /// connection open (10 s of virtual time at most).
    pub fn connect_pair(&mut self, i: usize, j: usize) -> Result<(), String> {
        let peer = Self::peer(self.nodes[j].name.as_str());
        self.with(i, |node, now| node.connect(now, &peer, None))
            .map_err(|e| e.to_string())?;
        let open = self.run_until(Duration::from_secs(10), |w| {
            [i, j]
                .iter()
                .all(|&n| w.saw(n, |e| matches!(e, EndpointEvent::PeerOpen { .. })))
        });
        if open {
            Ok(())
        } else {
            Err("no connection".into())
        }
    }

    /// The hub process dies: every hub connection breaks at once, frames on
    /// their way are lost, and nothing reaches the hub until
    /// [`World::restart_hub`]. Peer links are untouched.
    pub fn kill_hub(&mut self) {
        let now = self.now;
        self.hub_alive = false;
        self.hub_queue.clear();
        for i in 0..self.nodes.len() {
            self.nodes[i].node.handle_hub_closed(now);
            self.flush_node(i);
        }
    }

    /// The hub goes mute: its connections stay open, but nothing reaches it
    /// and nothing comes back (a vanished machine, a path that drops all).
    pub fn mute_hub(&mut self) {
        self.hub_alive = false;
        self.hub_queue.clear();
    }

    /// A fresh hub process with the same key that knows `users`; every node
    /// reconnects to it (its driver's backoff is not modelled here).
    pub fn restart_hub(&mut self, users: &[&str]) {
        let now = self.now;
        let names: Vec<UserName> = users.iter().map(|u| Self::user(u)).collect();
        let unix_now = UNIX0 + self.elapsed().as_secs();
        self.hub = Hub::new(HubConfig::new(self.key.clone()), names, now, unix_now);
        self.hub_alive = true;
        self.restarts += 1;
        for i in 0..self.nodes.len() {
            self.nodes[i].conn = ConnId(1000 * self.restarts + i as u64);
            let conn = self.nodes[i].conn;
            self.hub.handle_input(now, HubInput::Opened(conn));
            self.nodes[i].node.handle_hub_opened(now);
            self.flush_node(i);
        }
    }

    /// Node `i` offers `files` (path, bytes) to `peer`; the store keeps the bytes.
    pub fn send_files(
        &mut self,
        i: usize,
        peer: &str,
        files: &[(&str, &[u8])],
    ) -> Result<TransferKey, String> {
        let now = self.now;
        let mut entries = Vec::new();
        let mut dirs = std::collections::BTreeSet::new();
        for (path, data) in files {
            let parts: Vec<&str> = path.split('/').collect();
            for n in 1..parts.len() {
                dirs.insert(parts[..n].join("/"));
            }
            entries.push(SourceEntry {
                path: path.to_string(),
                kind: EntryKind::File,
                size: data.len() as u64,
                mtime: UNIX0 - 1000,
                mime: None,
                executable: false,
                blocks: None,
            });
        }
        let mut all: Vec<SourceEntry> = dirs
            .into_iter()
            .map(|d| SourceEntry {
                path: d,
                kind: EntryKind::Dir,
                size: 0,
                mtime: UNIX0 - 1000,
                mime: None,
                executable: false,
                blocks: None,
            })
            .collect();
        let first_file = all.len();
        all.extend(entries);
        let host = &mut self.nodes[i];
        // Its reads wait in the node until the next flush: the sources go in first.
        let key = host
            .node
            .send_files(now, &Self::peer(peer), all)
            .map_err(|e| e.to_string())?;
        for (n, (_, data)) in files.iter().enumerate() {
            host.storage
                .sources
                .insert((key.id, (first_file + n) as u32), data.to_vec());
        }
        self.flush_node(i);
        Ok(key)
    }

    /// Fills node `i`'s send buffer to `peer` with application messages
    /// of type `fill` until even a small one is refused (no drain between
    /// them); returns how many went in.
    pub fn fill_send_buffer(&mut self, i: usize, peer: &str) -> usize {
        let peer = Self::peer(peer);
        self.with(i, |node, now| {
            let mut sent = 0;
            for size in [60_000, 1_000, 100] {
                let fill = Data::Bytes(vec![0; size]);
                while node.endpoint_mut().send(now, &peer, "fill", &fill).is_ok() {
                    sent += 1;
                }
            }
            sent
        })
    }

    /// How many `fill` messages node `i` has heard.
    pub fn fills_heard(&self, i: usize) -> usize {
        self.nodes[i]
            .events
            .iter()
            .filter(|(_, e)| matches!(e, EndpointEvent::Message { kind, .. } if kind == "fill"))
            .count()
    }

    /// True once node `i` has seen a transfer event matching `f`.
    pub fn saw_transfer(&self, i: usize, f: impl Fn(&TransferEvent) -> bool) -> bool {
        self.nodes[i].transfer_events.iter().any(|(_, e)| f(e))
    }

    fn route(&mut self, from: usize, t: Transmit) {
        if !self.nodes[from].link_up {
            return;
        }
        let now = self.now;
        if t.destination == STUN_SERVER {
            // The server answers at once with the sender's public address.
            let Some(answer) = binding_response(&t.contents, public_addr(from)) else {
                return;
            };
            let reply = Transmit {
                source: STUN_SERVER,
                destination: t.source,
                contents: answer,
            };
            self.nodes[from]
                .inbound
                .handle_input(NetInput::Packet(now, Packet(reply)));
            return;
        }
        if t.destination == crate::turn_server::TURN_SERVER {
            if self.turn_down {
                return;
            }
            for out in self.turn.from_client(t.source, &t.contents) {
                self.deliver_datagram(out, false);
            }
            return;
        }
        if self.turn.is_relay(t.destination) {
            if let Some(out) = self.turn.to_relay(t.source, t.destination, &t.contents) {
                self.deliver_datagram(out, false);
            }
            return;
        }
        self.deliver_datagram(t, true);
    }

    /// Hands a datagram to the node it is addressed to; `direct` ones
    /// (node to node) are lost while `direct_blocked`.
    fn deliver_datagram(&mut self, mut t: Transmit, direct: bool) {
        if direct && self.direct_blocked {
            return;
        }
        let now = self.now;
        let Some(to) = (0..self.nodes.len())
            .find(|&i| self.nodes[i].addr == t.destination || public_addr(i) == t.destination)
        else {
            return;
        };
        // Through the NAT, the datagram arrives at the node's own address.
        t.destination = self.nodes[to].addr;
        self.nodes[to]
            .inbound
            .handle_input(NetInput::Packet(now, Packet(t)));
    }
}
