//! webrtc-rs data-channel throughput over real UDP on loopback, measured the
//! way Brume's `transfer` bench measures raw str0m: two peers in one process,
//! one ordered, reliable channel, timed from the first send until the
//! receiver has counted every byte.
//!
//! `cargo run --release` sends 256 MiB per case, 3 runs each; `-- quick`
//! sends 32 MiB once.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use rtc::ice::mdns::MulticastDnsMode;
use rtc::peer_connection::configuration::setting_engine::SctpMaxMessageSize;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use webrtc::data_channel::{DataChannel, DataChannelEvent, RTCDataChannelInit};
use webrtc::peer_connection::{
    PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCIceGatheringState,
    RTCPeerConnectionState, SettingEngineBuilder,
};
use webrtc::runtime::{
    AsyncInterval, AsyncTcpListener, AsyncTcpStream, AsyncUdpSocket, JoinHandle, Runtime,
    TokioRuntime,
};

/// Pinned with `=` in Cargo.toml, so this is the version that runs.
const WEBRTC_VERSION: &str = "0.21.1";
/// What we ask for on each UDP socket, as Brume's loopback bench does.
const SOCKET_BUFFER: usize = 4 << 20;
/// Refill up to this much outstanding on the channel...
const HIGH_WATER: usize = 1 << 20;
/// ...whenever the buffered amount falls to this (as `bench-node/loop.js`).
const LOW_WATER: u32 = 256 << 10;
/// The largest message Brume sends: 256 KiB with its 15-byte header.
const BRUME_CHUNK: usize = 256 * 1024 - 15;

/// The smallest `SO_RCVBUF`/`SO_SNDBUF` the kernel reported after our
/// request, over all sockets.
static RCVBUF: AtomicUsize = AtomicUsize::new(usize::MAX);
static SNDBUF: AtomicUsize = AtomicUsize::new(usize::MAX);

/// webrtc-rs's tokio runtime, except that every UDP socket gets 4 MiB
/// buffers before webrtc-rs wraps it: its `SettingEngine` has no socket
/// option, and the driver binds the sockets itself, so the runtime's
/// `wrap_udp_socket` is the one place we can reach them.
#[derive(Debug)]
struct BigBuffers(TokioRuntime);

impl Runtime for BigBuffers {
    fn wrap_udp_socket(&self, socket: std::net::UdpSocket) -> io::Result<Arc<dyn AsyncUdpSocket>> {
        let s = socket2::SockRef::from(&socket);
        s.set_recv_buffer_size(SOCKET_BUFFER)?;
        s.set_send_buffer_size(SOCKET_BUFFER)?;
        RCVBUF.fetch_min(s.recv_buffer_size()?, Ordering::Relaxed);
        SNDBUF.fetch_min(s.send_buffer_size()?, Ordering::Relaxed);
        self.0.wrap_udp_socket(socket)
    }

    // Everything else is webrtc-rs's own tokio runtime.
    fn spawn(&self, future: Pin<Box<dyn Future<Output = ()> + Send>>) -> Box<dyn JoinHandle> {
        self.0.spawn(future)
    }
    fn spawn_reactor(
        &self,
        size: usize,
        future: Pin<Box<dyn Future<Output = ()> + Send>>,
    ) -> Box<dyn JoinHandle> {
        self.0.spawn_reactor(size, future)
    }
    fn wrap_tcp_listener(
        &self,
        listener: std::net::TcpListener,
    ) -> io::Result<Arc<dyn AsyncTcpListener>> {
        self.0.wrap_tcp_listener(listener)
    }
    fn connect_tcp<'a>(
        &'a self,
        addr: SocketAddr,
    ) -> Pin<Box<dyn Future<Output = io::Result<Arc<dyn AsyncTcpStream>>> + Send + 'a>> {
        self.0.connect_tcp(addr)
    }
    fn resolve_host<'a>(
        &'a self,
        host: &'a str,
    ) -> Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send + 'a>> {
        self.0.resolve_host(host)
    }
    fn now(&self) -> Instant {
        self.0.now()
    }
    fn sleep(&self, d: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        self.0.sleep(d)
    }
    fn interval(&self, period: Duration) -> Box<dyn AsyncInterval> {
        self.0.interval(period)
    }
    fn block_on(&self, future: Pin<Box<dyn Future<Output = ()> + '_>>) {
        self.0.block_on(future)
    }
    fn yield_now(&self) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        self.0.yield_now()
    }
    fn name(&self) -> &'static str {
        "tokio, 4 MiB UDP buffers"
    }
}

/// What a peer's handler reports; the handler only forwards, since
/// webrtc-rs's driver waits while a handler runs.
enum PeerEvent {
    Gathered,
    Channel(Arc<dyn DataChannel>),
    Failed,
}

struct Handler(UnboundedSender<PeerEvent>);

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            let _ = self.0.send(PeerEvent::Gathered);
        }
    }
    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        if state == RTCPeerConnectionState::Failed {
            let _ = self.0.send(PeerEvent::Failed);
        }
    }
    async fn on_data_channel(&self, dc: Arc<dyn DataChannel>) {
        let _ = self.0.send(PeerEvent::Channel(dc));
    }
}

type Error = Box<dyn std::error::Error + Send + Sync>;

/// A peer with no ICE servers and one host candidate: its one socket,
/// bound to 127.0.0.1.
async fn peer() -> Result<(impl PeerConnection, UnboundedReceiver<PeerEvent>), Error> {
    let (tx, rx) = unbounded_channel();
    let settings = SettingEngineBuilder::new()
        // No multicast socket: the path is 127.0.0.1 to 127.0.0.1 only.
        .with_multicast_dns_mode(MulticastDnsMode::Disabled)
        // Default 64 KiB; Brume's chunk needs 256 KiB (webrtc-rs's maximum).
        .with_sctp_max_message_size(SctpMaxMessageSize::Bounded(256 << 10))
        .build();
    let pc = PeerConnectionBuilder::new()
        .with_setting_engine(settings)
        .with_runtime(Arc::new(BigBuffers(TokioRuntime)))
        .with_handler(Arc::new(Handler(tx)))
        .with_udp_addrs(vec!["127.0.0.1:0"])
        .build()
        .await?;
    Ok((pc, rx))
}

async fn next(rx: &mut UnboundedReceiver<PeerEvent>) -> Result<PeerEvent, Error> {
    match rx.recv().await {
        Some(PeerEvent::Failed) => Err("peer connection failed".into()),
        Some(e) => Ok(e),
        None => Err("peer connection gone".into()),
    }
}

async fn gathered(rx: &mut UnboundedReceiver<PeerEvent>) -> Result<(), Error> {
    while !matches!(next(rx).await?, PeerEvent::Gathered) {}
    Ok(())
}

/// Sends `total` bytes in `msg`-byte messages once the channel opens,
/// refilling up to `HIGH_WATER` outstanding each time the buffered amount
/// falls to `LOW_WATER`. Returns when the first message was sent and how
/// often the 100 ms backstop (a missed low event) had to wake it.
async fn send_all(
    dc: Arc<dyn DataChannel>,
    total: usize,
    msg: usize,
) -> Result<(Instant, u32), Error> {
    loop {
        match dc.poll().await {
            Some(DataChannelEvent::OnOpen) => break,
            None => return Err("channel closed before it opened".into()),
            _ => {}
        }
    }
    dc.set_buffered_amount_low_threshold(LOW_WATER).await?;
    let payload = vec![0x5a; msg];
    let start = Instant::now();
    let (mut sent, mut backstops) = (0, 0);
    while sent < total {
        // webrtc-rs has no `bufferedAmount` getter; `outstanding_bytes` is
        // its stand-in (sent but not yet acknowledged, queued bytes included).
        while sent < total && dc.outstanding_bytes().await? < HIGH_WATER {
            let len = msg.min(total - sent);
            dc.send(BytesMut::from(&payload[..len])).await?;
            sent += len;
        }
        if sent == total {
            break;
        }
        let low = async {
            loop {
                match dc.poll().await {
                    Some(DataChannelEvent::OnBufferedAmountLow) => return Ok(()),
                    None => return Err::<(), Error>("channel closed while sending".into()),
                    _ => {}
                }
            }
        };
        match tokio::time::timeout(Duration::from_millis(100), low).await {
            Ok(r) => r?,
            Err(_) => backstops += 1,
        }
    }
    Ok((start, backstops))
}

/// Counts received bytes; returns when all `total` are in.
async fn receive_all(dc: Arc<dyn DataChannel>, total: usize) -> Result<Instant, Error> {
    let mut got = 0;
    while let Some(event) = dc.poll().await {
        if let DataChannelEvent::OnMessage(m) = event {
            got += m.data.len();
            if got >= total {
                return Ok(Instant::now());
            }
        }
    }
    Err(format!("channel closed after {got} of {total} bytes").into())
}

/// One transfer on a fresh pair of peers; returns MiB/s.
async fn run(total: usize, msg: usize) -> Result<f64, Error> {
    let (offerer, mut offerer_rx) = peer().await?;
    let dc = offerer
        .create_data_channel("bench", Some(RTCDataChannelInit::default()))
        .await?;
    let sender = tokio::spawn(send_all(dc, total, msg));

    // SDP handed over in memory, after complete gathering (no trickle).
    let offer = offerer.create_offer(None).await?;
    offerer.set_local_description(offer).await?;
    gathered(&mut offerer_rx).await?;
    let offer = offerer.local_description().await.ok_or("no offer")?;

    let (answerer, mut answerer_rx) = peer().await?;
    answerer.set_remote_description(offer).await?;
    let answer = answerer.create_answer(None).await?;
    answerer.set_local_description(answer).await?;
    gathered(&mut answerer_rx).await?;
    let answer = answerer.local_description().await.ok_or("no answer")?;
    offerer.set_remote_description(answer).await?;

    let remote_dc = loop {
        if let PeerEvent::Channel(dc) = next(&mut answerer_rx).await? {
            break dc;
        }
    };
    let receiver = tokio::spawn(receive_all(remote_dc, total));
    let end = receiver.await??;
    let (start, backstops) = sender.await??;
    if backstops > 0 {
        println!("    ({backstops} waits for the low event timed out after 100 ms)");
    }
    offerer.close().await?;
    answerer.close().await?;
    Ok(total as f64 / (1 << 20) as f64 / (end - start).as_secs_f64())
}

fn median(mut runs: Vec<f64>) -> f64 {
    runs.sort_by(f64::total_cmp);
    runs[runs.len() / 2]
}

fn main() -> Result<(), Error> {
    let quick = std::env::args().any(|a| a == "quick");
    let (total, rounds) = if quick { (32 << 20, 1) } else { (256 << 20, 3) };
    let cases = [(16 * 1024, "16 KiB"), (BRUME_CHUNK, "256 KiB - 15 B")];
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    // Multi-thread is webrtc-rs's default (its `block_on` builds one);
    // current-thread runs both peers on one thread, as Brume's bench does.
    let runtimes = [
        format!("multi-thread runtime, {cores} workers"),
        "current-thread runtime, 1 thread".to_string(),
    ];
    println!(
        "webrtc-rs {WEBRTC_VERSION} (ring crypto, webrtc-rs defaults otherwise): \
         {} MiB per run, {rounds} run(s) per case, 127.0.0.1 host candidates, \
         one ordered reliable channel, refill to {} KiB outstanding at the {} KiB low event",
        total >> 20,
        HIGH_WATER >> 10,
        LOW_WATER >> 10
    );
    for (i, label) in runtimes.iter().enumerate() {
        for (msg, name) in cases {
            let mut runs = Vec::new();
            for _ in 0..rounds {
                // A fresh runtime per run: dropping it ends whatever tasks
                // the last run's closed peers left, so runs do not overlap.
                let rt = if i == 0 {
                    tokio::runtime::Builder::new_multi_thread()
                } else {
                    tokio::runtime::Builder::new_current_thread()
                }
                .enable_all()
                .build()?;
                let mibps = rt.block_on(run(total, msg))?;
                println!("    run: {mibps:.1} MiB/s");
                runs.push(mibps);
            }
            let lo = runs.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = runs.iter().copied().fold(0.0, f64::max);
            println!(
                "webrtc-rs {WEBRTC_VERSION}, {name} messages, {label}: {:.1} MiB/s ({lo:.1}–{hi:.1})",
                median(runs)
            );
        }
    }
    println!(
        "sockets: SO_RCVBUF/SO_SNDBUF set to {} MiB each before webrtc-rs wraps them \
         (smallest the kernel reported: {} / {}, Linux doubles the request); \
         GSO/GRO as webrtc-rs's tokio runtime enables them",
        SOCKET_BUFFER >> 20,
        RCVBUF.load(Ordering::Relaxed),
        SNDBUF.load(Ordering::Relaxed)
    );
    Ok(())
}
