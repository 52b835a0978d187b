//! Shared pieces of the benchmarks: two peers driven either in virtual time
//! (in memory, optionally through `str0m-netem`) or in wall time over real
//! UDP sockets on loopback; Brume's client `Node` (with its hub and, for
//! file transfers, in-memory storage) beside raw str0m driven the same way.

use std::collections::BTreeMap;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use brume_proto::endpoint::{EndpointConfig, EndpointEvent, Transmit};
use brume_proto::framing::Data;
use brume_proto::hub::{ConnId, Hub, HubConfig, HubInput, HubOutput};
use brume_proto::node::{Node, NodeConfig, NodeEvent, ToHub};
use brume_proto::signal::{Address, DeviceName, PeerId, UserName};
use brume_proto::token::{TokenKey, TokenKind};
use brume_proto::transfer::{
    EntryKind, SendWindow, SourceEntry, TransferEvent, TransferState, WindowLimits,
};
use str0m::change::SdpOffer;
use str0m::channel::ChannelId;
use str0m::config::DtlsCert;
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc};
use str0m_netem::{Input as NetInput, Netem, NetemConfig, Output as NetOutput};

use crate::sim::Packet;
use crate::storage::MemStorage;

/// Message size for the message benchmarks.
pub const MSG: usize = 16 * 1024;
/// str0m's SCTP send buffer, as Brume tunes it.
pub const BUFFER: usize = 1024 * 1024;
/// Keep at most this much queued on the sender, as an application would.
pub const HIGH_WATER: usize = 512 * 1024;

/// The address of a bench peer: each holds the default device.
fn peer(name: &UserName) -> Address {
    Address::Device(PeerId::new(name.clone(), DeviceName::default_device()))
}

/// Makes a pair at a time, for two addresses.
pub type MakePair<'a> = &'a dyn Fn(Instant, [SocketAddr; 2]) -> Box<dyn Pair>;

/// Two peers, side 0 and side 1, that can connect and send messages 0 → 1.
pub trait Pair {
    fn name(&self) -> &'static str;
    fn start(&mut self, now: Instant);
    fn is_open(&self) -> bool;
    fn input(&mut self, now: Instant, t: &Transmit);
    fn timeout(&mut self, now: Instant);
    fn next_timeout(&self) -> Option<Instant>;
    fn drain(&mut self, out: &mut Vec<Transmit>);
    /// Sends one message if the sender's buffer has room.
    fn try_send(&mut self, now: Instant, msg: &[u8]) -> bool;
    fn received(&self) -> usize;
}

pub fn cert() -> DtlsCert {
    str0m::crypto::from_feature_flags()
        .dtls_provider
        .generate_certificate()
        .expect("certificate")
}

// ----- Brume: a hub and two endpoints; hub frames go across at once -----

/// Brume: a hub and two client nodes (alice sends to bob).
pub struct BrumePair {
    hub: Hub,
    nodes: [Node; 2],
    storage: [MemStorage; 2],
    names: [UserName; 2],
    addrs: [SocketAddr; 2],
    open: bool,
    received: usize,
    /// Set once a file transfer is done on the receiving side.
    pub transfer_done: bool,
    transmits: Vec<Transmit>,
}

impl BrumePair {
    /// Logs both users in, on `addrs`, with the endpoint's default tuning.
    pub fn new(now: Instant, addrs: [SocketAddr; 2], certs: &[DtlsCert; 2]) -> Self {
        Self::with_parity(now, addrs, certs, true)
    }

    /// As [`BrumePair::new`], with datagram parity on or off.
    pub fn with_parity(
        now: Instant,
        addrs: [SocketAddr; 2],
        certs: &[DtlsCert; 2],
        parity: bool,
    ) -> Self {
        let key = TokenKey::from_secret(&[9; 32]).expect("key");
        let names = [
            UserName::new("alice").unwrap(),
            UserName::new("bob").unwrap(),
        ];
        let hub = Hub::new(
            HubConfig::new(key.clone()),
            names.clone(),
            now,
            1_800_000_000,
        );
        let nodes = [0, 1].map(|i| {
            let token = key.mint(&names[i], TokenKind::Access, 1_800_000_000, 3600);
            let mut config = EndpointConfig::new(token, brume_cert(&certs[i]), i as u64);
            config.datagram_parity = parity;
            let mut node = Node::new(NodeConfig::new(config), now);
            node.add_local_address(now, addrs[i]);
            node
        });
        let mut pair = Self {
            hub,
            nodes,
            storage: [0, 1].map(|_| MemStorage {
                logging: false,
                ..MemStorage::new()
            }),
            names,
            addrs,
            open: false,
            received: 0,
            transfer_done: false,
            transmits: Vec::new(),
        };
        for i in 0..2 {
            pair.hub
                .handle_input(now, HubInput::Opened(ConnId(i as u64)));
            pair.nodes[i].handle_hub_opened(now);
        }
        pair.route(now);
        assert!(pair.nodes.iter().all(Node::is_hub_ready));
        pair
    }

    /// Moves hub frames both ways until everyone is quiet; collects transmits.
    fn route(&mut self, now: Instant) {
        loop {
            let mut moved = false;
            for i in 0..2 {
                while let Some(t) = self.nodes[i].poll_transmit() {
                    self.transmits.push(t);
                }
                while let Some(out) = self.nodes[i].poll_hub() {
                    if let ToHub::Frame(f) = out {
                        moved = true;
                        self.hub
                            .handle_input(now, HubInput::Frame(ConnId(i as u64), f.as_bytes()));
                    }
                }
                while let Some(action) = self.nodes[i].poll_storage() {
                    moved = true;
                    let result = self.storage[i].execute(&action);
                    self.nodes[i].handle_storage(now, action.req(), result);
                }
                while let Some(event) = self.nodes[i].poll_event() {
                    moved = true;
                    self.deliver(now, i, event);
                }
            }
            while let Some(out) = self.hub.poll_output() {
                if let HubOutput::Send { conn, frame } = out {
                    moved = true;
                    self.nodes[conn.0 as usize].handle_hub_frame(now, frame.as_bytes());
                }
            }
            if !moved {
                return;
            }
        }
    }

    /// What each side's application does with an event.
    fn deliver(&mut self, now: Instant, i: usize, event: NodeEvent) {
        match event {
            NodeEvent::Endpoint(EndpointEvent::PeerOpen { .. }) if i == 0 => self.open = true,
            NodeEvent::Endpoint(EndpointEvent::Incoming { peer, .. }) => {
                self.nodes[i].accept(now, &peer).expect("accept");
            }
            NodeEvent::Endpoint(EndpointEvent::Message { data, .. }) => {
                self.received += data.as_bytes().len()
            }
            NodeEvent::Transfer(TransferEvent::Offered { key, .. }) => {
                let _ = self.nodes[i].accept_transfer(now, &key, "inbox".into());
            }
            NodeEvent::Transfer(TransferEvent::Progress { done, .. }) if i == 1 => {
                self.received = done as usize
            }
            NodeEvent::Transfer(TransferEvent::State {
                state: TransferState::Done,
                ..
            }) if i == 1 => self.transfer_done = true,
            _ => {}
        }
    }
}

impl BrumePair {
    /// What datagram protection did on each side, towards the other.
    pub fn fec_stats(&self) -> [Option<brume_proto::endpoint::FecStats>; 2] {
        [0, 1].map(|i| {
            self.nodes[i]
                .endpoint()
                .fec_stats(&peer(&self.names[1 - i]))
        })
    }

    /// Whether bob's storage keeps what it is given to write (the default)
    /// or drops it, as raw str0m's receiver drops its messages.
    pub fn keep_writes(&mut self, keep: bool) {
        self.storage[1].discard_writes = !keep;
    }

    /// Alice offers bob one file of `data`; bob accepts it into memory.
    pub fn start_transfer(&mut self, now: Instant, data: Vec<u8>) {
        let entry = SourceEntry {
            path: "bench.bin".into(),
            kind: EntryKind::File,
            size: data.len() as u64,
            mtime: 0,
            mime: None,
            executable: false,
            blocks: None,
        };
        let to = peer(&self.names[1]);
        let key = self.nodes[0]
            .send_files(now, &to, vec![entry])
            .expect("send");
        self.storage[0].sources.insert((key.id, 0), data);
        self.route(now);
    }
}

impl Pair for BrumePair {
    fn name(&self) -> &'static str {
        "brume"
    }
    fn start(&mut self, now: Instant) {
        let to = peer(&self.names[1]);
        self.nodes[0].connect(now, &to, None).expect("connect");
        self.route(now);
    }
    fn is_open(&self) -> bool {
        self.open
    }
    fn input(&mut self, now: Instant, t: &Transmit) {
        // As a socket would: only the endpoint it is addressed to sees it.
        let Some(i) = self.addrs.iter().position(|a| *a == t.destination) else {
            return;
        };
        self.nodes[i].handle_datagram(now, t.source, t.destination, &t.contents);
        self.route(now);
    }
    fn timeout(&mut self, now: Instant) {
        for node in &mut self.nodes {
            if node.poll_timeout().is_some_and(|t| t <= now) {
                node.handle_timeout(now);
            }
        }
        if self.hub.poll_timeout().is_some_and(|t| t <= now) {
            self.hub.handle_input(now, HubInput::Timeout);
        }
        self.route(now);
    }
    fn next_timeout(&self) -> Option<Instant> {
        self.nodes.iter().filter_map(Node::poll_timeout).min()
    }
    fn drain(&mut self, out: &mut Vec<Transmit>) {
        out.append(&mut self.transmits);
    }
    fn try_send(&mut self, now: Instant, msg: &[u8]) -> bool {
        let to = peer(&self.names[1]);
        let buffered = self.nodes[0].endpoint().main_buffered_amount(&to);
        if buffered.unwrap_or(usize::MAX) > HIGH_WATER {
            return false;
        }
        let ok = self.nodes[0]
            .send_message(now, &to, "bench", &Data::Bytes(msg.to_vec()))
            .is_ok();
        self.route(now);
        ok
    }
    fn received(&self) -> usize {
        self.received
    }
}

// ----- raw str0m: two Rtcs with the same tuning, SDP handed across at once -----

/// Raw str0m: two `Rtc`s, SDP handed across in memory, one channel.
pub struct RawPair {
    /// str0m's SCTP send buffer; `None` keeps str0m's default (128 KiB).
    pub buffer: Option<usize>,
    /// The most the sender keeps queued; `usize::MAX` writes until str0m refuses.
    pub high_water: usize,
    certs: [DtlsCert; 2],
    rtcs: [Rtc; 2],
    addrs: [SocketAddr; 2],
    timeouts: [Instant; 2],
    channel: Option<ChannelId>,
    /// False: the Rtcs are built at connect time, as an application that
    /// does not know whom it will call does it.
    prebuilt: bool,
    open: [bool; 2],
    received: usize,
    transmits: Vec<Transmit>,
    windowed: Option<WindowedSend>,
}

/// Bytes still to send through Brume's send window, refilled whenever the
/// sender takes input (acknowledgements), as Brume's transfers refill on
/// every buffered-low event.
struct WindowedSend {
    window: SendWindow,
    msg: Vec<u8>,
    left: usize,
}

impl RawPair {
    fn build(
        now: Instant,
        addrs: [SocketAddr; 2],
        certs: &[DtlsCert; 2],
        buffer: Option<usize>,
    ) -> [Rtc; 2] {
        [0, 1].map(|i| {
            let mut config = Rtc::builder()
                .set_dtls_cert(certs[i].clone())
                .set_snap_enabled(true)
                .set_stats_interval(None);
            if let Some(b) = buffer {
                config = config.set_sctp_max_buffered_amount(b);
            }
            let mut rtc = config.build(now);
            rtc.add_local_candidate(Candidate::host(addrs[i], "udp").unwrap());
            rtc
        })
    }

    /// A pair tuned as Brume tunes its endpoint (SNAP, 1 MiB buffer).
    pub fn new(
        now: Instant,
        addrs: [SocketAddr; 2],
        certs: &[DtlsCert; 2],
        prebuilt: bool,
    ) -> Self {
        let rtcs = Self::build(now, addrs, certs, Some(BUFFER));
        Self {
            buffer: Some(BUFFER),
            high_water: HIGH_WATER,
            certs: certs.clone(),
            prebuilt,
            rtcs,
            addrs,
            timeouts: [now; 2],
            channel: None,
            open: [false; 2],
            received: 0,
            transmits: Vec::new(),
            windowed: None,
        }
    }

    /// Sends `total` bytes in messages of at most `max_message`, paced by
    /// Brume's send window from now on.
    pub fn send_windowed(&mut self, now: Instant, total: usize, max_message: usize) {
        self.windowed = Some(WindowedSend {
            window: SendWindow::new(WindowLimits::default()),
            msg: vec![0x5a; max_message],
            left: total,
        });
        self.refill(now);
    }

    fn refill(&mut self, now: Instant) {
        let Some(mut w) = self.windowed.take() else {
            return;
        };
        let buffered = self.buffered();
        w.window.on_buffered(now, buffered);
        let mut queued = buffered;
        while w.left > 0 {
            let len = w.window.chunk(w.msg.len()).min(w.left);
            if !w.window.admits(queued, len) || !self.write(&w.msg[..len]) {
                break;
            }
            w.window.on_write(now, len);
            queued += len;
            w.left -= len;
        }
        self.windowed = Some(w);
    }

    /// What the sender's channel holds, written and not yet acknowledged.
    pub fn buffered(&mut self) -> usize {
        let Some(id) = self.channel else {
            return 0;
        };
        self.rtcs[0]
            .channel(id)
            .map_or(0, |mut ch| ch.buffered_amount())
    }

    /// Writes one message on the channel, whatever is buffered, and polls;
    /// false if str0m refused it. (Polling after each write, rather than once
    /// after a burst, measured faster here.)
    pub fn write(&mut self, msg: &[u8]) -> bool {
        let Some(id) = self.channel else {
            return false;
        };
        let Some(mut ch) = self.rtcs[0].channel(id) else {
            return false;
        };
        let ok = ch.write(true, msg).unwrap_or(false);
        self.poll(0);
        ok
    }

    fn poll(&mut self, i: usize) {
        loop {
            match self.rtcs[i].poll_output().expect("poll") {
                Output::Timeout(t) => {
                    self.timeouts[i] = t;
                    return;
                }
                Output::Transmit(t) => self.transmits.push(Transmit {
                    source: t.source,
                    destination: t.destination,
                    contents: t.contents.to_vec(),
                }),
                Output::Event(Event::ChannelOpen(id, _)) => {
                    self.open[i] = true;
                    if i == 0 {
                        self.channel = Some(id);
                    }
                }
                Output::Event(Event::ChannelData(d)) => self.received += d.data.len(),
                Output::Event(_) => {}
            }
        }
    }
}

impl Pair for RawPair {
    fn name(&self) -> &'static str {
        if self.prebuilt {
            "str0m prebuilt"
        } else {
            "str0m"
        }
    }
    fn start(&mut self, now: Instant) {
        if !self.prebuilt {
            self.rtcs = Self::build(now, self.addrs, &self.certs, self.buffer);
        }
        let mut change = self.rtcs[0].sdp_api();
        change.add_channel("raw".into());
        let (offer, pending) = change.apply().expect("offer");
        // Through text, as Brume does.
        let offer = SdpOffer::from_sdp_string(&offer.to_sdp_string()).unwrap();
        let answer = self.rtcs[1].sdp_api().accept_offer(offer).expect("answer");
        self.rtcs[0]
            .sdp_api()
            .accept_answer(pending, answer)
            .expect("accept");
        self.poll(0);
        self.poll(1);
    }
    fn is_open(&self) -> bool {
        self.open[0]
    }
    fn input(&mut self, now: Instant, t: &Transmit) {
        let Some(i) = self.addrs.iter().position(|a| *a == t.destination) else {
            return;
        };
        let r = Receive::new(Protocol::Udp, t.source, t.destination, &t.contents).expect("parse");
        self.rtcs[i]
            .handle_input(Input::Receive(now, r))
            .expect("input");
        self.poll(i);
        if i == 0 {
            self.refill(now);
        }
    }
    fn timeout(&mut self, now: Instant) {
        for i in 0..2 {
            if self.timeouts[i] <= now {
                self.rtcs[i]
                    .handle_input(Input::Timeout(now))
                    .expect("timeout");
                self.poll(i);
            }
        }
        self.refill(now);
    }
    fn next_timeout(&self) -> Option<Instant> {
        self.timeouts.iter().min().copied()
    }
    fn drain(&mut self, out: &mut Vec<Transmit>) {
        out.append(&mut self.transmits);
    }
    fn try_send(&mut self, _now: Instant, msg: &[u8]) -> bool {
        if self.buffered() > self.high_water {
            return false;
        }
        self.write(msg)
    }
    fn received(&self) -> usize {
        self.received
    }
}

// ----- the two ways of moving datagrams -----

/// The two peers' addresses on a virtual network.
pub fn virtual_addrs() -> [SocketAddr; 2] {
    [
        SocketAddr::from(([10, 0, 0, 1], 5000)),
        SocketAddr::from(([10, 0, 0, 2], 5000)),
    ]
}

/// A pair made on a 1 ms virtual network and run until its channel is open.
pub fn open_virtual(make: MakePair) -> (Box<dyn Pair>, VirtualNet, Instant) {
    let start = Instant::now();
    let mut pair = make(start, virtual_addrs());
    let mut net = VirtualNet::new(start, Duration::from_millis(1));
    pair.start(start);
    while !pair.is_open() {
        assert!(net.step(pair.as_mut()), "stalled");
        assert!(net.now - start < Duration::from_secs(30), "no open");
    }
    (pair, net, start)
}

/// In memory on a virtual clock: a fixed one-way latency, or a seeded
/// `str0m-netem` per direction.
pub struct VirtualNet {
    /// The virtual clock.
    pub now: Instant,
    latency: Duration,
    queue: BTreeMap<(Instant, u64), Transmit>,
    seq: u64,
    /// Per receiving address: the link towards it.
    links: Vec<(SocketAddr, Netem<Packet>)>,
}

impl VirtualNet {
    /// Every datagram arrives `latency` after it left.
    pub fn new(now: Instant, latency: Duration) -> Self {
        Self {
            now,
            latency,
            queue: BTreeMap::new(),
            seq: 0,
            links: Vec::new(),
        }
    }

    /// Datagrams to `addr` go through `config` instead.
    pub fn with_link(mut self, addr: SocketAddr, config: NetemConfig) -> Self {
        self.links.push((addr, Netem::new(config)));
        self
    }

    /// Advances to the next event and handles it; false if nothing is pending.
    pub fn step(&mut self, pair: &mut dyn Pair) -> bool {
        let mut out = Vec::new();
        pair.drain(&mut out);
        for t in out {
            match self.links.iter_mut().find(|(a, _)| *a == t.destination) {
                Some((_, link)) => link.handle_input(NetInput::Packet(self.now, Packet(t))),
                None => {
                    self.seq += 1;
                    self.queue.insert((self.now + self.latency, self.seq), t);
                }
            }
        }
        let next_packet = self.queue.keys().next().map(|(at, _)| *at);
        let next_link = self
            .links
            .iter()
            .filter(|(_, l)| !l.is_empty())
            .map(|(_, l)| l.poll_timeout())
            .min();
        let Some(next) = [next_packet, next_link, pair.next_timeout()]
            .into_iter()
            .flatten()
            .min()
        else {
            return false;
        };
        self.now = self.now.max(next);
        while let Some(entry) = self.queue.first_entry() {
            if entry.key().0 > self.now {
                break;
            }
            let t = entry.remove();
            pair.input(self.now, &t);
        }
        for (_, link) in &mut self.links {
            link.handle_input(NetInput::Timeout(self.now));
            while let Some(o) = link.poll_output() {
                if let NetOutput::Packet(Packet(t)) = o {
                    pair.input(self.now, &t);
                }
            }
        }
        pair.timeout(self.now);
        true
    }
}

/// Real UDP sockets on 127.0.0.1, one thread spinning over both peers.
#[derive(Debug)]
pub struct Loopback {
    sockets: [UdpSocket; 2],
    addrs: [SocketAddr; 2],
    buf: Vec<u8>,
}

impl Default for Loopback {
    fn default() -> Self {
        Self::new()
    }
}

impl Loopback {
    /// Two sockets with 4 MiB buffers.
    pub fn new() -> Self {
        let sockets = [0, 1].map(|_| {
            let s =
                socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None).unwrap();
            // The kernel's default (about 208 KiB) overflows under bursts.
            s.set_recv_buffer_size(4 << 20).unwrap();
            s.set_send_buffer_size(4 << 20).unwrap();
            s.bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
                .unwrap();
            let s: UdpSocket = s.into();
            s.set_nonblocking(true).unwrap();
            s
        });
        let addrs = [0, 1].map(|i| sockets[i].local_addr().unwrap());
        Self {
            sockets,
            addrs,
            buf: vec![0; 2048],
        }
    }

    /// Their addresses.
    pub fn addrs(&self) -> [SocketAddr; 2] {
        self.addrs
    }

    /// One turn: send what is pending, read what arrived, fire timers.
    pub fn step(&mut self, pair: &mut dyn Pair) {
        let now = Instant::now();
        let mut out = Vec::new();
        pair.drain(&mut out);
        for t in out {
            let Some(i) = self.addrs.iter().position(|a| *a == t.source) else {
                continue;
            };
            // Loopback with 4 MiB buffers: a full buffer is retried, never dropped.
            while let Err(e) = self.sockets[i].send_to(&t.contents, t.destination) {
                assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock, "{e}");
            }
        }
        let addrs = self.addrs;
        for (i, socket) in self.sockets.iter().enumerate() {
            while let Ok((n, source)) = socket.recv_from(&mut self.buf) {
                let t = Transmit {
                    source,
                    destination: addrs[i],
                    contents: self.buf[..n].to_vec(),
                };
                pair.input(Instant::now(), &t);
            }
        }
        pair.timeout(now);
    }
}

/// The same certificate as Brume's type, for the endpoint side of a comparison.
fn brume_cert(cert: &DtlsCert) -> brume_proto::endpoint::Certificate {
    let (der, key) = (cert.certificate.clone(), cert.private_key.clone());
    brume_proto::endpoint::Certificate::from_der(der, key).expect("a provider's certificate is DER")
}
