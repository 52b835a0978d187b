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

use brume_proto::endpoint::{
    Endpoint, EndpointConfig, EndpointEvent, EndpointOutput, Transmit, binding_response,
};
use brume_proto::hub::{ConnId, Hub, HubConfig, HubInput, HubOutput};
use brume_proto::signal::UserName;
use brume_proto::token::{TokenKey, TokenKind};
use brume_proto::transfer::{
    EntryKind, SourceEntry, StorageAction, TransferConfig, TransferEvent, TransferKey, Transfers,
};

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

/// One endpoint and its view of the world.
pub struct Node {
    /// The user it logs in as.
    pub name: UserName,
    /// The endpoint under test.
    pub ep: Endpoint,
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
    /// Its file transfers.
    pub transfers: Transfers,
    /// Its storage.
    pub storage: MemStorage,
    /// What its transfers told the application, with the virtual time.
    pub transfer_events: Vec<(Duration, TransferEvent)>,
    /// Accept offered transfers into this folder as soon as they are offered.
    pub accept_into: Option<String>,
    /// While false, storage actions wait (a stalled or restarting disk).
    pub storage_up: bool,
    /// Storage actions waiting while the storage is down.
    pub storage_queue: Vec<StorageAction>,
    /// False: transfer channels reach the test raw, as endpoint events.
    pub transfers_enabled: bool,
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
    pub nodes: Vec<Node>,
    key: TokenKey,
    seed: u64,
    hub_queue: BTreeMap<(Instant, u64), HubDelivery>,
    seq: u64,
    restarts: u64,
    /// False while the hub process is down: frames to it are lost.
    hub_alive: bool,
}

fn dtls_cert() -> brume_proto::endpoint::Certificate {
    // One certificate per node, made the way a driver makes it once and keeps it.
    brume_proto::endpoint::Certificate::generate().expect("the crypto provider makes certificates")
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
        tune(&mut config);
        let addr = SocketAddr::from((Ipv4Addr::new(10, 0, 0, i as u8 + 1), 5000));
        let mut ep = Endpoint::new(config, self.now);
        ep.add_local_address(self.now, addr);
        let netem = NetemConfig::new()
            .latency(Duration::from_millis(10))
            .seed(self.seed.wrapping_add(i as u64 * 7919));
        self.nodes.push(Node {
            name,
            ep,
            addr,
            conn: ConnId(i as u64 + 1),
            events: Vec::new(),
            inbound: Netem::new(netem),
            link_up: true,
            frames_to_hub: Vec::new(),
            auto_accept: true,
            transfers: Transfers::new(TransferConfig::new(self.seed ^ 0x7a7a ^ i as u64)),
            storage: MemStorage::new(),
            transfer_events: Vec::new(),
            accept_into: Some("inbox".into()),
            storage_up: true,
            storage_queue: Vec::new(),
            transfers_enabled: true,
        });
        let conn = self.nodes[i].conn;
        self.hub.handle_input(self.now, HubInput::Opened(conn));
        self.nodes[i].ep.hub_connected(self.now);
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

    /// Sets the network conditions for datagrams arriving at node `i`.
    pub fn set_inbound(&mut self, i: usize, config: NetemConfig) {
        self.nodes[i].inbound.set_config(config);
    }

    /// Virtual time since the world began.
    pub fn elapsed(&self) -> Duration {
        self.now - self.start
    }

    /// Runs a closure against node `i`'s endpoint at the current time, then routes its outputs.
    pub fn with<R>(&mut self, i: usize, f: impl FnOnce(&mut Endpoint, Instant) -> R) -> R {
        let now = self.now;
        let r = f(&mut self.nodes[i].ep, now);
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
            [n.ep.poll_timeout(), (!n.inbound.is_empty()).then_some(net)]
        });
        let hub = self.hub.poll_timeout().filter(|_| self.hub_alive);
        let queue = self.hub_queue.keys().next().map(|(at, _)| *at);
        nodes.chain([hub, queue]).flatten().min()
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
                    self.nodes[i].ep.handle_hub_frame(now, frame.as_bytes());
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
                        .ep
                        .handle_datagram(now, t.source, t.destination, &t.contents);
                    self.flush_node(i);
                }
            }
        }
        // Endpoint timers.
        for i in 0..self.nodes.len() {
            if self.nodes[i].ep.poll_timeout().is_some_and(|t| t <= now) {
                self.nodes[i].ep.handle_timeout(now);
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
                        self.schedule(at, HubDelivery::ToNode(i, frame));
                    }
                }
                HubOutput::Close { .. } | HubOutput::GroupChanged { .. } => {}
            }
        }
    }

    fn flush_node(&mut self, i: usize) {
        let now = self.now;
        loop {
            let mut busy = false;
            let mut accept = Vec::new();
            while let Some(out) = self.nodes[i].ep.poll_output() {
                busy = true;
                match out {
                    EndpointOutput::HubFrame(frame) if self.hub_alive => {
                        self.nodes[i].frames_to_hub.push(frame.clone());
                        let conn = self.nodes[i].conn;
                        self.schedule(now + HUB_LATENCY, HubDelivery::ToHub(conn, frame));
                    }
                    EndpointOutput::HubFrame(_) => {}
                    EndpointOutput::CloseHub => {
                        let conn = self.nodes[i].conn;
                        self.schedule(now + HUB_LATENCY, HubDelivery::ClosedAtHub(conn));
                    }
                    EndpointOutput::Transmit(t) => self.route(i, t),
                    EndpointOutput::Event(e) => {
                        if let EndpointEvent::Incoming { peer, .. } = &e
                            && self.nodes[i].auto_accept
                        {
                            accept.push(peer.clone());
                        }
                        let node = &mut self.nodes[i];
                        let consumed = node.transfers_enabled
                            && node.transfers.handle_event(now, &mut node.ep, &e);
                        if !consumed {
                            node.events.push((now - self.start, e));
                        }
                    }
                }
            }
            for peer in accept {
                let _ = self.nodes[i].ep.accept(now, &peer);
            }
            busy |= self.run_transfers(i);
            if !busy {
                return;
            }
        }
    }

    /// Executes node `i`'s storage actions and hands its transfer events on;
    /// true if anything happened.
    fn run_transfers(&mut self, i: usize) -> bool {
        let now = self.now;
        let node = &mut self.nodes[i];
        let mut busy = false;
        while let Some(action) = node.transfers.poll_action() {
            busy = true;
            node.storage_queue.push(action);
        }
        if node.storage_up {
            for action in std::mem::take(&mut node.storage_queue) {
                let result = node.storage.execute(&action);
                node.transfers
                    .handle_storage(now, &mut node.ep, action.req(), result);
                busy = true;
            }
        }
        while let Some(e) = node.transfers.poll_event() {
            busy = true;
            if let TransferEvent::Offered { key, .. } = &e
                && let Some(dir) = node.accept_into.clone()
            {
                let _ = node.transfers.accept(now, &mut node.ep, key, dir);
            }
            node.transfer_events.push((now - self.start, e));
        }
        busy
    }

    /// Restarts node `i`'s process: a fresh endpoint and fresh transfers
    /// under the same user; its storage survives.
    pub fn restart_node(&mut self, i: usize) {
        let now = self.now;
        let old = self.nodes[i].conn;
        self.hub.handle_input(now, HubInput::Closed(old));
        self.flush_hub();
        let name = self.nodes[i].name.clone();
        let token = self.key.mint(&name, TokenKind::Access, UNIX0, 3600);
        self.restarts += 1;
        let seed = self.seed ^ (0x1000 * self.restarts + i as u64);
        let config = EndpointConfig::new(token, dtls_cert(), seed);
        let node = &mut self.nodes[i];
        node.ep = Endpoint::new(config, now);
        node.ep.add_local_address(now, node.addr);
        node.transfers = Transfers::new(TransferConfig::new(seed));
        node.storage_queue.clear();
        // A new process: what the old one told its application is gone with it.
        node.events.clear();
        node.transfer_events.clear();
        node.conn = ConnId(1000 * self.restarts + i as u64);
        let conn = node.conn;
        self.hub.handle_input(now, HubInput::Opened(conn));
        self.nodes[i].ep.hub_connected(now);
        self.flush_node(i);
    }

    /// Node `i` connects to node `j` by name; `Ok` once both have seen the
    /// connection open (10 s of virtual time at most).
    pub fn connect_pair(&mut self, i: usize, j: usize) -> Result<(), String> {
        let peer = self.nodes[j].name.clone();
        self.with(i, |ep, now| ep.connect(now, &peer, None))
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
            self.nodes[i].ep.hub_closed(now);
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
            self.nodes[i].ep.hub_connected(now);
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
            })
            .collect();
        let first_file = all.len();
        all.extend(entries);
        let node = &mut self.nodes[i];
        let key = node
            .transfers
            .send(now, &mut node.ep, &Self::user(peer), all)
            .map_err(|e| e.to_string())?;
        for (n, (_, data)) in files.iter().enumerate() {
            node.storage
                .sources
                .insert((key.id, (first_file + n) as u32), data.to_vec());
        }
        self.flush_node(i);
        Ok(key)
    }

    /// Runs a closure against node `i`'s transfers and endpoint, then routes.
    pub fn with_transfers<R>(
        &mut self,
        i: usize,
        f: impl FnOnce(&mut Transfers, &mut Endpoint, Instant) -> R,
    ) -> R {
        let now = self.now;
        let node = &mut self.nodes[i];
        let r = f(&mut node.transfers, &mut node.ep, now);
        self.flush_node(i);
        r
    }

    /// True once node `i` has seen a transfer event matching `f`.
    pub fn saw_transfer(&self, i: usize, f: impl Fn(&TransferEvent) -> bool) -> bool {
        self.nodes[i].transfer_events.iter().any(|(_, e)| f(e))
    }

    fn route(&mut self, from: usize, mut t: Transmit) {
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
