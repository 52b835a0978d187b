//! Connect-to-open time and main-channel message throughput through Brume's
//! endpoint, side by side with raw str0m driven the same way, in virtual time
//! and in wall time over real UDP on loopback. Prints the figures and ratios.
//!
//! `cargo bench -p brume-tests --bench endpoint` (add `-- quick` for a short run).

use std::collections::BTreeMap;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use brume_proto::endpoint::{Endpoint, EndpointConfig, EndpointEvent, EndpointOutput, Transmit};
use brume_proto::framing::Data;
use brume_proto::hub::{ConnId, Hub, HubConfig, HubInput, HubOutput};
use brume_proto::signal::UserName;
use brume_proto::token::{TokenKey, TokenKind};
use str0m::change::SdpOffer;
use str0m::channel::ChannelId;
use str0m::config::DtlsCert;
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc};

const MSG: usize = 16 * 1024;
const BUFFER: usize = 1024 * 1024;
/// Keep at most this much queued on the sender, as an application would.
const HIGH_WATER: usize = 512 * 1024;

/// Makes a pair at a time, for two addresses.
type MakePair<'a> = &'a dyn Fn(Instant, [SocketAddr; 2]) -> Box<dyn Pair>;

/// Two peers, side 0 and side 1, that can connect and send messages 0 → 1.
trait Pair {
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

fn cert() -> DtlsCert {
    str0m::crypto::from_feature_flags()
        .dtls_provider
        .generate_certificate()
        .expect("certificate")
}

// ----- Brume: a hub and two endpoints; hub frames go across at once -----

struct BrumePair {
    hub: Hub,
    eps: [Endpoint; 2],
    names: [UserName; 2],
    open: bool,
    received: usize,
    transmits: Vec<Transmit>,
}

impl BrumePair {
    fn new(now: Instant, addrs: [SocketAddr; 2], certs: &[DtlsCert; 2]) -> Self {
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
        let eps = [0, 1].map(|i| {
            let token = key.mint(&names[i], TokenKind::Access, 1_800_000_000, 3600);
            let config = EndpointConfig::new(token, certs[i].clone(), i as u64);
            let mut ep = Endpoint::new(config, now);
            ep.add_local_address(now, addrs[i]);
            ep
        });
        let mut pair = Self {
            hub,
            eps,
            names,
            open: false,
            received: 0,
            transmits: Vec::new(),
        };
        for i in 0..2 {
            pair.hub
                .handle_input(now, HubInput::Opened(ConnId(i as u64)));
            pair.eps[i].hub_connected(now);
        }
        pair.route(now);
        assert!(pair.eps.iter().all(Endpoint::is_ready));
        pair
    }

    /// Moves hub frames both ways until everyone is quiet; collects transmits.
    fn route(&mut self, now: Instant) {
        loop {
            let mut moved = false;
            for i in 0..2 {
                while let Some(out) = self.eps[i].poll_output() {
                    match out {
                        EndpointOutput::HubFrame(f) => {
                            moved = true;
                            self.hub
                                .handle_input(now, HubInput::Frame(ConnId(i as u64), f.as_bytes()));
                        }
                        EndpointOutput::Transmit(t) => self.transmits.push(t),
                        EndpointOutput::Event(EndpointEvent::PeerOpen { .. }) if i == 0 => {
                            self.open = true
                        }
                        EndpointOutput::Event(EndpointEvent::Incoming { peer, .. }) => {
                            self.eps[i].accept(now, &peer).expect("accept");
                            moved = true;
                        }
                        EndpointOutput::Event(EndpointEvent::Message { data, .. }) => {
                            self.received += data.as_bytes().len()
                        }
                        _ => {}
                    }
                }
            }
            while let Some(out) = self.hub.poll_output() {
                if let HubOutput::Send { conn, frame } = out {
                    moved = true;
                    self.eps[conn.0 as usize].handle_hub_frame(now, frame.as_bytes());
                }
            }
            if !moved {
                return;
            }
        }
    }
}

impl Pair for BrumePair {
    fn name(&self) -> &'static str {
        "brume"
    }
    fn start(&mut self, now: Instant) {
        let to = self.names[1].clone();
        self.eps[0].connect(now, &to, None).expect("connect");
        self.route(now);
    }
    fn is_open(&self) -> bool {
        self.open
    }
    fn input(&mut self, now: Instant, t: &Transmit) {
        for ep in &mut self.eps {
            ep.handle_datagram(now, t.source, t.destination, &t.contents);
        }
        self.route(now);
    }
    fn timeout(&mut self, now: Instant) {
        for ep in &mut self.eps {
            if ep.poll_timeout().is_some_and(|t| t <= now) {
                ep.handle_timeout(now);
            }
        }
        if self.hub.poll_timeout().is_some_and(|t| t <= now) {
            self.hub.handle_input(now, HubInput::Timeout);
        }
        self.route(now);
    }
    fn next_timeout(&self) -> Option<Instant> {
        self.eps.iter().filter_map(Endpoint::poll_timeout).min()
    }
    fn drain(&mut self, out: &mut Vec<Transmit>) {
        out.append(&mut self.transmits);
    }
    fn try_send(&mut self, now: Instant, msg: &[u8]) -> bool {
        let to = self.names[1].clone();
        if self.eps[0].main_buffered_amount(&to).unwrap_or(usize::MAX) > HIGH_WATER {
            return false;
        }
        let ok = self.eps[0]
            .send(now, &to, "bench", &Data::Bytes(msg.to_vec()))
            .is_ok();
        self.route(now);
        ok
    }
    fn received(&self) -> usize {
        self.received
    }
}

// ----- raw str0m: two Rtcs with the same tuning, SDP handed across at once -----

struct RawPair {
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
}

impl RawPair {
    fn build(now: Instant, addrs: [SocketAddr; 2], certs: &[DtlsCert; 2]) -> [Rtc; 2] {
        [0, 1].map(|i| {
            let mut rtc = Rtc::builder()
                .set_dtls_cert(certs[i].clone())
                .set_snap_enabled(true)
                .set_sctp_max_buffered_amount(BUFFER)
                .set_stats_interval(None)
                .build(now);
            rtc.add_local_candidate(Candidate::host(addrs[i], "udp").unwrap());
            rtc
        })
    }

    fn new(now: Instant, addrs: [SocketAddr; 2], certs: &[DtlsCert; 2], prebuilt: bool) -> Self {
        let rtcs = Self::build(now, addrs, certs);
        Self {
            certs: certs.clone(),
            prebuilt,
            rtcs,
            addrs,
            timeouts: [now; 2],
            channel: None,
            open: [false; 2],
            received: 0,
            transmits: Vec::new(),
        }
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
            self.rtcs = Self::build(now, self.addrs, &self.certs);
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
    }
    fn next_timeout(&self) -> Option<Instant> {
        self.timeouts.iter().min().copied()
    }
    fn drain(&mut self, out: &mut Vec<Transmit>) {
        out.append(&mut self.transmits);
    }
    fn try_send(&mut self, _now: Instant, msg: &[u8]) -> bool {
        let Some(id) = self.channel else {
            return false;
        };
        let Some(mut ch) = self.rtcs[0].channel(id) else {
            return false;
        };
        if ch.buffered_amount() > HIGH_WATER {
            return false;
        }
        let ok = ch.write(true, msg).unwrap_or(false);
        self.poll(0);
        ok
    }
    fn received(&self) -> usize {
        self.received
    }
}

// ----- the two ways of moving datagrams -----

/// In memory, with a fixed one-way latency, on a virtual clock.
struct VirtualNet {
    now: Instant,
    latency: Duration,
    queue: BTreeMap<(Instant, u64), Transmit>,
    seq: u64,
}

impl VirtualNet {
    /// Advances to the next event and handles it; false if nothing is pending.
    fn step(&mut self, pair: &mut dyn Pair) -> bool {
        let mut out = Vec::new();
        pair.drain(&mut out);
        for t in out {
            self.seq += 1;
            self.queue.insert((self.now + self.latency, self.seq), t);
        }
        let next_packet = self.queue.keys().next().map(|(at, _)| *at);
        let Some(next) = [next_packet, pair.next_timeout()]
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
        pair.timeout(self.now);
        true
    }
}

/// Real UDP sockets on 127.0.0.1, one thread spinning over both.
struct Loopback {
    sockets: [UdpSocket; 2],
    buf: Vec<u8>,
}

impl Loopback {
    fn new() -> Self {
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
        Self {
            sockets,
            buf: vec![0; 2048],
        }
    }

    fn addrs(&self) -> [SocketAddr; 2] {
        [0, 1].map(|i| self.sockets[i].local_addr().unwrap())
    }

    fn step(&mut self, pair: &mut dyn Pair) {
        let now = Instant::now();
        let mut out = Vec::new();
        pair.drain(&mut out);
        for t in out {
            let Some(i) = self.addrs().iter().position(|a| *a == t.source) else {
                continue;
            };
            // Loopback with 4 MiB buffers: a full buffer is retried, never dropped.
            while let Err(e) = self.sockets[i].send_to(&t.contents, t.destination) {
                assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock, "{e}");
            }
        }
        let addrs = self.addrs();
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

// ----- measurements -----

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn connect_virtual(make: MakePair) -> Duration {
    let start = Instant::now();
    let addrs = [
        SocketAddr::from(([10, 0, 0, 1], 5000)),
        SocketAddr::from(([10, 0, 0, 2], 5000)),
    ];
    let mut pair = make(start, addrs);
    let mut net = VirtualNet {
        now: start,
        latency: Duration::from_millis(1),
        queue: BTreeMap::new(),
        seq: 0,
    };
    pair.start(start);
    while !pair.is_open() {
        assert!(net.step(pair.as_mut()), "stalled");
        assert!(net.now - start < Duration::from_secs(30), "no open");
    }
    net.now - start
}

fn connect_loopback(make: MakePair) -> Duration {
    let mut lo = Loopback::new();
    let mut pair = make(Instant::now(), lo.addrs());
    let start = Instant::now();
    pair.start(start);
    while !pair.is_open() {
        lo.step(pair.as_mut());
        assert!(start.elapsed() < Duration::from_secs(30), "no open");
    }
    start.elapsed()
}

/// Sends `total` bytes in 16 KiB messages; (virtual or wall seconds, CPU wall seconds).
fn throughput(make: MakePair, total: usize, loopback: bool) -> (f64, f64) {
    let msg = vec![0x42u8; MSG];
    let wall = Instant::now();
    if loopback {
        let mut lo = Loopback::new();
        let mut pair = make(Instant::now(), lo.addrs());
        pair.start(Instant::now());
        while !pair.is_open() {
            lo.step(pair.as_mut());
        }
        let start = Instant::now();
        let mut sent = 0;
        while pair.received() < total {
            while sent < total && pair.try_send(Instant::now(), &msg) {
                sent += MSG;
            }
            lo.step(pair.as_mut());
        }
        let secs = start.elapsed().as_secs_f64();
        (secs, secs)
    } else {
        let start = Instant::now();
        let addrs = [
            SocketAddr::from(([10, 0, 0, 1], 5000)),
            SocketAddr::from(([10, 0, 0, 2], 5000)),
        ];
        let mut pair = make(start, addrs);
        let mut net = VirtualNet {
            now: start,
            latency: Duration::from_millis(1),
            queue: BTreeMap::new(),
            seq: 0,
        };
        pair.start(start);
        while !pair.is_open() {
            net.step(pair.as_mut());
        }
        let (vstart, cpu) = (net.now, Instant::now());
        let mut sent = 0;
        while pair.received() < total {
            while sent < total && pair.try_send(net.now, &msg) {
                sent += MSG;
            }
            assert!(net.step(pair.as_mut()), "stalled");
        }
        let _ = wall;
        (
            (net.now - vstart).as_secs_f64(),
            cpu.elapsed().as_secs_f64(),
        )
    }
}

fn main() {
    let quick = std::env::args().any(|a| a == "quick");
    let (rounds, total) = if quick { (5, 8 << 20) } else { (51, 64 << 20) };
    let certs = [cert(), cert()];
    let brume = |now, addrs| Box::new(BrumePair::new(now, addrs, &certs)) as Box<dyn Pair>;
    let raw = |now, addrs| Box::new(RawPair::new(now, addrs, &certs, false)) as Box<dyn Pair>;
    let prebuilt = |now, addrs| Box::new(RawPair::new(now, addrs, &certs, true)) as Box<dyn Pair>;
    let makers: [(&str, MakePair); 2] = [("brume", &brume), ("str0m", &raw)];
    let _ = (BrumePair::name, RawPair::name);

    println!("# connect-to-open (median of {rounds}); virtual links have 1 ms one-way latency");
    let mut virt = Vec::new();
    let mut wall = Vec::new();
    for (name, make) in makers {
        let v = median((0..rounds).map(|_| connect_virtual(make)).collect());
        // Alternate rounds are not needed: each round is independent.
        let w = median((0..rounds).map(|_| connect_loopback(make)).collect());
        println!("{name:>6}: virtual {v:>10.3?}   loopback wall {w:>10.3?}");
        virt.push(v);
        wall.push(w);
    }
    let w = median((0..rounds).map(|_| connect_loopback(&prebuilt)).collect());
    println!(
        "{:>6}: loopback wall {w:>10.3?} (Rtcs built before the clock starts)",
        "str0m prebuilt"
    );
    println!(
        "ratio brume/str0m: virtual {:.3}, loopback wall {:.3} (vs prebuilt {:.3})",
        virt[0].as_secs_f64() / virt[1].as_secs_f64(),
        wall[0].as_secs_f64() / wall[1].as_secs_f64(),
        wall[0].as_secs_f64() / w.as_secs_f64()
    );

    let mib = total as f64 / (1 << 20) as f64;
    println!(
        "\n# main-channel throughput: {mib:.0} MiB in {MSG}-byte messages, at most {HIGH_WATER} bytes queued"
    );
    let mut rates = Vec::new();
    for (name, make) in makers {
        let (vsecs, cpu) = throughput(make, total, false);
        let (lsecs, _) = throughput(make, total, true);
        println!(
            "{name:>6}: virtual {:>8.1} MiB/s (CPU {:>7.1} MiB/s)   loopback {:>7.1} MiB/s",
            mib / vsecs,
            mib / cpu,
            mib / lsecs
        );
        rates.push((mib / vsecs, mib / cpu, mib / lsecs));
    }
    println!(
        "ratio brume/str0m: virtual {:.3}, CPU {:.3}, loopback {:.3}",
        rates[0].0 / rates[1].0,
        rates[0].1 / rates[1].1,
        rates[0].2 / rates[1].2
    );
    println!("sockets: UDP on 127.0.0.1, SO_RCVBUF and SO_SNDBUF 4 MiB, one thread for both peers");
}
