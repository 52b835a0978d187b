//! The embedding API: a [`Client`] runs one mio loop holding the WebSocket to
//! the hub, the UDP socket for peer traffic and the wake-up at the core's next
//! timeout, and drives a brume-proto [`Node`] (connections and transfers). The
//! application calls methods and pulls [`ClientEvent`]s with
//! [`Client::next_event`]; nothing runs between those calls.
//!
//! Owns: the sockets, the clock, file storage for transfers. Never: decides
//! protocol behaviour (whom to accept is the application's call).
//!
//! ```no_run
//! use brume_mio::client::{Client, ClientEvent, ClientOptions};
//! # fn main() -> anyhow::Result<()> {
//! let file = brume_mio::config::ClientFile::load(&brume_mio::config::default_path())?;
//! let mut client = Client::connect(ClientOptions::from_file(&file)?)?;
//! while let Some(event) = client.next_event(None)? {
//!     println!("{event:?}");
//! }
//! # Ok(()) }
//! ```

use std::collections::VecDeque;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};
use brume_proto::ErrorCode;
use brume_proto::endpoint::{Certificate, Endpoint, EndpointConfig, EndpointEvent};
use brume_proto::framing::Data;
use brume_proto::node::{Node, NodeConfig, NodeEvent, ToHub};
use brume_proto::signal::{Address, CloseReason};
use brume_proto::transfer::{EntryKind, SourceEntry, StorageAction, TransferEvent, TransferKey};
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token, Waker};
use tracing::{debug, warn};
use tungstenite::WebSocket;
use tungstenite::client::IntoClientRequest;
use tungstenite::handshake::client::ClientHandshake;
use tungstenite::handshake::{HandshakeError, MidHandshake};

use crate::backoff::Backoff;
use crate::storage_worker::{StorageWorker, WorkerLimits};
use crate::stream::Stream;
use crate::udp::Udp;
use crate::url::HubUrl;
use crate::wake::ceil_ms;
use crate::ws::{self, Flush};

const HUB: Token = Token(0);
const UDP: Token = Token(1);
const WAKER: Token = Token(2);

/// Datagrams read per loop turn before timers get their turn.
const UDP_BUDGET: usize = 256;
/// Hub frames read per loop turn.
const HUB_BUDGET: usize = 64;
/// Write bytes waiting for room in the storage worker before datagrams are
/// left in the socket (the worker itself holds up to 64 MiB).
const HELD_WRITES: usize = 32 << 20;
/// Time to reach the hub and finish the WebSocket handshake.
const HUB_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How to build a [`Client`].
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// The hub.
    pub url: HubUrl,
    /// The access token.
    pub access_token: String,
    /// The refresh token, tried when the access token has expired.
    pub refresh_token: Option<String>,
    /// This device's DTLS certificate.
    pub dtls_cert: Certificate,
    /// An extra CA for `wss://`.
    pub ca: Option<PathBuf>,
    /// A STUN server.
    pub stun: Option<SocketAddr>,
    /// The address to bind UDP to; by default the one that routes to the hub.
    pub bind: Option<IpAddr>,
    /// The device this session holds at the hub.
    pub device: brume_proto::signal::DeviceName,
    /// Take calls addressed to the bare user; false for short-lived commands.
    pub accepts_calls: bool,
    /// With `accepts_calls`, end an older session on the same device; false
    /// leaves a held device alone and takes no calls instead.
    pub replaces_device: bool,
    /// This device's identity key (see the config's `identity_key`).
    pub identity_key: Option<[u8; 32]>,
    /// The devices met before and their identity keys (see the config's `pins`).
    pub pins: std::collections::BTreeMap<brume_proto::signal::PeerId, String>,
}

impl ClientOptions {
    /// Options from a config file (which must hold a certificate).
    pub fn from_file(file: &crate::config::ClientFile) -> Result<Self> {
        Ok(Self {
            url: HubUrl::parse(&file.url)?,
            access_token: file.access_token.clone(),
            refresh_token: file.refresh_token.clone(),
            dtls_cert: file.cert()?,
            ca: file.ca.clone(),
            stun: file.stun,
            bind: None,
            device: file.device(),
            accepts_calls: true,
            replaces_device: true,
            identity_key: file.identity_seed().ok(),
            pins: file
                .pins
                .iter()
                .filter_map(|(peer, fp)| Some((peer.parse().ok()?, fp.clone())))
                .collect(),
        })
    }
}

/// What the application hears.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientEvent {
    /// From the endpoint (transfer channels are consumed by the transfers).
    Endpoint(EndpointEvent),
    /// From the transfers.
    Transfer(TransferEvent),
    /// From sync, once `Node::enable_sync` turned it on (see `brume share`).
    Sync(brume_proto::sync::SyncOutput),
    /// The hub could not be reached, or its connection was lost; the client
    /// tries again after `retry_in` on its own. Open peer connections carry
    /// on meanwhile; [`EndpointEvent::Ready`] says the hub is back.
    HubWaiting {
        /// What went wrong: `ECONNREFUSED` when the hub could not be reached
        /// at all, `ENOSRV` when its connection was lost, or the code the
        /// hub closed the session with.
        code: ErrorCode,
        /// What went wrong, for people.
        why: String,
        /// When the next try comes.
        retry_in: Duration,
    },
    /// A message given to [`Client::send_to`] did not go out: the connection
    /// it waited for failed.
    Undelivered {
        /// The name it was sent to.
        to: Address,
        /// Its application type.
        kind: String,
        /// Why, as a code.
        code: ErrorCode,
        /// Why, for people.
        reason: String,
    },
}

/// A file or folder offered by [`Client::send_path_with`].
#[derive(Debug, Clone)]
pub struct PathOffer {
    /// The transfer.
    pub key: TransferKey,
    /// Each file offered (not folders): its path as the peer sees it, and its size.
    pub files: Vec<(String, u64)>,
    /// What was left out, and why, each naming its path: for the user.
    pub skipped: Vec<String>,
}

/// Wakes a [`Client`]'s loop from another thread: its
/// [`Client::next_event`] returns `None` soon after.
#[derive(Debug, Clone)]
pub struct ClientWaker {
    waker: Arc<Waker>,
    /// Set by [`ClientWaker::wake`]: the loop's waker is shared with the
    /// storage worker, whose wakes the application does not see.
    woken: Arc<AtomicBool>,
}

impl ClientWaker {
    /// Wakes the loop.
    pub fn wake(&self) -> io::Result<()> {
        self.woken.store(true, Ordering::Release);
        self.waker.wake()
    }
}

fn write_len(action: &StorageAction) -> usize {
    match action {
        StorageAction::Write { data, .. } => data.len(),
        _ => 0,
    }
}

/// True when the hub ended the session for a reason that trying again would
/// not mend: the token was refused, the user is gone, another session of the
/// user took over, or we asked to leave. Anything else (a hub shutting down,
/// a full hub, a lost connection) is worth another try.
pub fn hub_close_is_final(reason: Option<CloseReason>, error: Option<ErrorCode>) -> bool {
    if error.is_some() {
        return true;
    }
    matches!(
        reason,
        Some(
            CloseReason::Replaced
                | CloseReason::UserRemoved
                | CloseReason::AuthFailed
                | CloseReason::Version
                | CloseReason::Client
        )
    )
}

enum HubConn {
    Connecting(Box<MidHandshake<ClientHandshake<Stream>>>, Instant),
    Open(Box<WebSocket<Stream>>),
    Closed,
}

/// Counters for reports.
#[derive(Debug, Clone, Copy, Default)]
pub struct Stats {
    /// Datagrams received.
    pub datagrams_in: u64,
    /// Datagrams sent or queued.
    pub datagrams_out: u64,
    /// Most datagrams queued at once because the socket was full.
    pub max_queued: usize,
}

/// A client process's loop. See the module documentation.
pub struct Client {
    poll: Poll,
    events: Events,
    hub: HubConn,
    url: HubUrl,
    /// TLS settings for `wss://`, made once.
    tls: Option<Arc<rustls::ClientConfig>>,
    /// When to try the hub again, while it is unreachable.
    retry_at: Option<Instant>,
    backoff: Backoff,
    /// False once the hub ended the session for good or the client stopped.
    reconnect: bool,
    udp: Udp,
    node: Node,
    /// Storage runs on the worker's threads, off this loop.
    storage: StorageWorker,
    /// Storage actions the worker had no room for yet, in order.
    held: VecDeque<StorageAction>,
    /// Write bytes in `held`.
    held_bytes: usize,
    /// Datagrams wait in the socket while storage is this far behind.
    udp_paused: bool,
    queue: VecDeque<ClientEvent>,
    waker: ClientWaker,
    woken: bool,
    udp_again: bool,
    hub_again: bool,
    stats: Stats,
}

fn seed() -> u64 {
    let mut b = [0u8; 8];
    // Without OS randomness the clock still makes ids differ between runs.
    if getrandom::fill(&mut b).is_err() {
        return std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64);
    }
    u64::from_le_bytes(b)
}

impl Client {
    /// Starts connecting to the hub and binds the UDP socket. Progress comes
    /// as events: [`EndpointEvent::Ready`] once authenticated.
    pub fn connect(opts: ClientOptions) -> Result<Self> {
        let url = opts.url.clone();
        let addr = url.resolve()?;
        let bind = match opts.bind {
            Some(ip) => ip,
            None => crate::udp::route_to(addr)?,
        };
        let poll = Poll::new()?;
        let mut udp = Udp::bind(bind)?;
        poll.registry()
            .register(udp.source(), UDP, Interest::READABLE | Interest::WRITABLE)?;
        let waker = ClientWaker {
            waker: Arc::new(Waker::new(poll.registry(), WAKER)?),
            woken: Arc::new(AtomicBool::new(false)),
        };
        let storage = StorageWorker::start(WorkerLimits::default(), waker.waker.clone())?;
        let now = Instant::now();
        let seed = seed();
        let mut config = EndpointConfig::new(opts.access_token, opts.dtls_cert, seed);
        config.refresh_token = opts.refresh_token;
        config.stun_server = opts.stun;
        config.pins = opts.pins;
        config.identity_key = opts.identity_key;
        config.device = opts.device;
        config.accepts_calls = opts.accepts_calls;
        config.replaces_device = opts.replaces_device;
        let mut node = Node::new(NodeConfig::new(config), now);
        node.add_local_address(now, udp.local_addr());
        let tls = if url.tls {
            Some(crate::stream::client_config(opts.ca.as_deref())?)
        } else {
            None
        };
        let mut client = Self {
            poll,
            events: Events::with_capacity(256),
            hub: HubConn::Closed,
            url: url.clone(),
            tls,
            retry_at: None,
            backoff: Backoff::new(seed ^ 0xb0ff),
            reconnect: true,
            udp,
            node,
            storage,
            held: VecDeque::new(),
            held_bytes: 0,
            udp_paused: false,
            queue: VecDeque::new(),
            waker,
            woken: false,
            udp_again: false,
            hub_again: false,
            stats: Stats::default(),
        };
        client.try_hub(now, Some(addr));
        client.pump(now);
        Ok(client)
    }

    /// Starts a connection to the hub; a failure schedules the next try.
    fn try_hub(&mut self, now: Instant, addr: Option<SocketAddr>) {
        self.retry_at = None;
        self.deregister_hub();
        self.hub = HubConn::Closed;
        let addr = match addr.map_or_else(|| self.url.resolve(), Ok) {
            Ok(addr) => addr,
            Err(e) => return self.hub_failed(now, format!("{e:#}")),
        };
        if let Err(e) = self.open_hub(now, addr) {
            self.hub_failed(now, format!("{e:#}"));
        }
    }

    fn open_hub(&mut self, now: Instant, addr: SocketAddr) -> Result<()> {
        let sock = TcpStream::connect(addr)?;
        let _ = sock.set_nodelay(true);
        let mut stream = match &self.tls {
            Some(tls) => Stream::tls_client(sock, &self.url.host, tls)?,
            None => Stream::Plain(sock),
        };
        self.poll.registry().register(
            stream.tcp(),
            HUB,
            Interest::READABLE | Interest::WRITABLE,
        )?;
        let request = self.url.to_string().into_client_request()?;
        let mid = ClientHandshake::start(stream, request, Some(ws::config()))
            .map_err(|e| anyhow!("bad hub URL {}: {e}", self.url))?;
        self.hub = HubConn::Connecting(Box::new(mid), now + HUB_CONNECT_TIMEOUT);
        Ok(())
    }

    // ----- getters -----

    /// The client machine, to read its state. Mutate it through [`Client::with`].
    pub fn node(&self) -> &Node {
        &self.node
    }

    /// The endpoint, to read its state.
    pub fn endpoint(&self) -> &Endpoint {
        self.node.endpoint()
    }

    /// The local UDP address.
    pub fn local_addr(&self) -> SocketAddr {
        self.udp.local_addr()
    }

    /// A waker: another thread calls `wake()` to make [`Client::next_event`]
    /// return `None` early (to hand the loop some input, say).
    pub fn waker(&self) -> ClientWaker {
        self.waker.clone()
    }

    /// Traffic counters.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Datagrams the kernel dropped on the UDP socket, where known.
    pub fn udp_drops(&self) -> Option<u64> {
        self.udp.kernel_drops()
    }

    /// UDP sends that failed outright (not merely delayed).
    pub fn udp_send_errors(&self) -> u64 {
        self.udp.send_errors
    }

    // ----- application calls -----

    /// Runs `f` on the node at the current time, then carries out what it
    /// asks (the contract: drain after every call).
    pub fn with<R>(&mut self, f: impl FnOnce(&mut Node, Instant) -> R) -> R {
        let now = Instant::now();
        let r = f(&mut self.node, now);
        self.pump(now);
        r
    }

    /// Sends an application message to a name, connecting on demand
    /// ([`Node::send_to`]).
    pub fn send_to(&mut self, to: &Address, kind: &str, data: Data) -> Result<()> {
        self.with(|node, now| node.send_to(now, to, kind, data))?;
        Ok(())
    }

    /// Connects to `peer` by name.
    pub fn connect_peer(&mut self, peer: &Address) -> Result<()> {
        self.with(|node, now| node.connect(now, peer, None))?;
        Ok(())
    }

    /// Accepts an incoming connection.
    pub fn accept(&mut self, peer: &Address) -> Result<()> {
        self.with(|node, now| node.accept(now, peer))?;
        Ok(())
    }

    /// Sends `{type: kind, data}` on the peer's main channel.
    pub fn send_message(&mut self, peer: &Address, kind: &str, data: Data) -> Result<()> {
        self.with(|node, now| node.send_message(now, peer, kind, &data))?;
        Ok(())
    }

    /// Pings `peer`'s endpoint (any Brume client answers); returns the nonce
    /// that [`EndpointEvent::Pong`] brings back with the round-trip time.
    pub fn ping(&mut self, peer: &Address) -> Result<u32> {
        Ok(self.with(|node, now| node.ping(now, peer))?)
    }

    /// Offers a file or a folder to `peer` (whose connection must be open),
    /// without following symbolic links inside it (each is logged as skipped).
    pub fn send_path(&mut self, peer: &Address, path: &Path) -> Result<TransferKey> {
        let offered = self.send_path_with(peer, path, false)?;
        for w in offered.skipped {
            warn!("{w}");
        }
        Ok(offered.key)
    }

    /// Offers a file or a folder to `peer`, following symbolic links inside
    /// it if `follow_links`; also says what was offered and what was skipped.
    pub fn send_path_with(
        &mut self,
        peer: &Address,
        path: &Path,
        follow_links: bool,
    ) -> Result<PathOffer> {
        let crate::files::Described {
            entries,
            paths,
            warnings,
        } = crate::files::describe(path, follow_links)?;
        let now = Instant::now();
        let files = entries
            .iter()
            .filter(|e| e.kind == EntryKind::File)
            .map(|e| (e.path.clone(), e.size))
            .collect();
        let key = self
            .node
            .send_files(now, peer, entries)
            .map_err(|e| anyhow!("cannot send {}: {e}", path.display()))?;
        // Reads are queued, not yet executed: register the sources first.
        self.storage.add_source(key.id, paths);
        self.pump(now);
        Ok(PathOffer {
            key,
            files,
            skipped: warnings,
        })
    }

    /// Offers `entries` to `peer`, each read from the real path at the same
    /// index of `paths` (folders too, which are never read): for sync, which
    /// sends chosen files of a group folder under a name of its own.
    pub fn send_entries(
        &mut self,
        peer: &Address,
        entries: Vec<SourceEntry>,
        paths: Vec<PathBuf>,
    ) -> Result<TransferKey> {
        let now = Instant::now();
        let key = self
            .node
            .send_files(now, peer, entries)
            .map_err(|e| anyhow!("cannot send to {peer}: {e}"))?;
        self.storage.add_source(key.id, paths);
        self.pump(now);
        Ok(key)
    }

    /// Accepts an offered transfer into `dir`.
    pub fn accept_transfer(&mut self, key: &TransferKey, dir: &Path) -> Result<()> {
        let dir = dir.to_string_lossy().into_owned();
        self.with(|node, now| node.accept_transfer(now, key, dir))?;
        Ok(())
    }

    /// Rejects an offered transfer.
    pub fn reject_transfer(&mut self, key: &TransferKey, reason: &str) -> Result<()> {
        self.with(|node, now| node.reject_transfer(now, key, reason))?;
        Ok(())
    }

    /// True while the hub session is authenticated.
    pub fn is_hub_ready(&self) -> bool {
        self.node.is_hub_ready()
    }

    /// Closes every connection and the hub session; [`EndpointEvent::Stopped`] follows.
    pub fn stop(&mut self) {
        self.reconnect = false;
        self.retry_at = None;
        self.with(|node, now| node.stop(now));
    }

    /// Stops, and runs the loop until the endpoint has said goodbye (or
    /// `limit` passes), so the peers and the hub hear of it.
    pub fn shutdown(&mut self, limit: Duration) {
        self.stop();
        let end = Instant::now() + limit;
        while let Ok(Some(event)) = self.next_event(Some(end)) {
            if event == ClientEvent::Endpoint(EndpointEvent::Stopped) {
                break;
            }
        }
        // Let queued datagrams and the WebSocket close leave.
        while self.udp.queued() > 0 && Instant::now() < end {
            if self.turn(Some(end)).is_err() {
                break;
            }
        }
        if let HubConn::Open(ws) = &mut self.hub {
            let _ = ws::close(ws);
        }
    }

    // ----- the loop -----

    /// The next event, running the loop until one comes; `None` when
    /// `deadline` passes or the waker is woken.
    pub fn next_event(&mut self, deadline: Option<Instant>) -> Result<Option<ClientEvent>> {
        loop {
            if let Some(e) = self.queue.pop_front() {
                return Ok(Some(e));
            }
            if std::mem::take(&mut self.woken) || deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(None);
            }
            self.turn(deadline)?;
        }
    }

    /// One loop turn: wait for sockets or the next timeout, then do the work.
    fn turn(&mut self, deadline: Option<Instant>) -> Result<()> {
        let now = Instant::now();
        let hub_deadline = match &self.hub {
            HubConn::Connecting(_, d) => Some(*d),
            _ => None,
        };
        let timeout = if self.udp_again || self.hub_again {
            Some(Duration::ZERO)
        } else {
            [
                self.node.poll_timeout(),
                deadline,
                hub_deadline,
                self.retry_at,
            ]
            .into_iter()
            .flatten()
            .min()
            .map(|at| ceil_ms(at.saturating_duration_since(now)))
        };
        if let Err(e) = self.poll.poll(&mut self.events, timeout)
            && e.kind() != io::ErrorKind::Interrupted
        {
            return Err(e.into());
        }
        let now = Instant::now();
        let mut hub_ready = std::mem::take(&mut self.hub_again);
        let mut udp_ready = std::mem::take(&mut self.udp_again);
        let mut udp_writable = false;
        for event in self.events.iter() {
            match event.token() {
                HUB => hub_ready = true,
                UDP => {
                    udp_ready |= event.is_readable();
                    udp_writable |= event.is_writable();
                }
                // The storage worker wakes the loop too; only the
                // application's wakes end `next_event`.
                WAKER => self.woken |= self.waker.woken.swap(false, Ordering::AcqRel),
                _ => {}
            }
        }
        if udp_writable {
            self.udp.flush();
        }
        // Storage results came (the worker woke us) or are due: take them.
        self.pump(now);
        if self.udp_paused && !self.storage_behind() {
            self.udp_paused = false;
            udp_ready = true;
        }
        if udp_ready {
            self.read_udp(now)?;
        }
        if hub_ready {
            self.hub_ready(now);
        }
        if let HubConn::Connecting(_, d) = &self.hub
            && now >= *d
        {
            self.hub_failed(now, "no Brume hub answered in time".into());
        }
        if self.retry_at.is_some_and(|at| at <= now) {
            self.try_hub(now, None);
            self.pump(now);
        }
        if self.node.poll_timeout().is_some_and(|t| t <= now) {
            self.node.handle_timeout(now);
            self.pump(now);
        }
        Ok(())
    }

    /// True while more writes wait for the disk than the worker may hold:
    /// reading more datagrams would only queue more in memory.
    fn storage_behind(&self) -> bool {
        self.held_bytes > HELD_WRITES
    }

    fn read_udp(&mut self, now: Instant) -> Result<()> {
        let local = self.udp.local_addr();
        for _ in 0..UDP_BUDGET {
            if self.storage_behind() {
                // Back-pressure: the kernel's buffer fills, then drops, and
                // SCTP slows the sender; a result from the worker resumes.
                self.udp_paused = true;
                return Ok(());
            }
            let (from, data) = match self.udp.recv() {
                Ok(Some(x)) => x,
                Ok(None) => return Ok(()),
                Err(e) => {
                    // ICMP errors surface here on Linux: not fatal.
                    debug!("UDP receive: {e}");
                    continue;
                }
            };
            self.stats.datagrams_in += 1;
            self.node.handle_datagram(now, from, local, data);
            // Each datagram's answers leave before the next is read: holding
            // SACKs back for a few datagrams slowed a transfer by a sixth.
            self.pump(now);
        }
        self.udp_again = true;
        Ok(())
    }

    fn hub_ready(&mut self, now: Instant) {
        if let HubConn::Connecting(..) = self.hub {
            let HubConn::Connecting(mid, deadline) =
                std::mem::replace(&mut self.hub, HubConn::Closed)
            else {
                unreachable!("matched just above");
            };
            match mid.handshake() {
                Ok((ws, _)) => {
                    debug!("hub connected");
                    self.hub = HubConn::Open(Box::new(ws));
                    self.node.handle_hub_opened(now);
                    self.pump(now);
                }
                Err(HandshakeError::Interrupted(mid)) => {
                    self.hub = HubConn::Connecting(Box::new(mid), deadline);
                    return;
                }
                Err(HandshakeError::Failure(e)) => {
                    return self.hub_failed(now, e.to_string());
                }
            }
        }
        let HubConn::Open(ws) = &mut self.hub else {
            return;
        };
        let mut frames = Vec::new();
        let mut gone = None;
        let mut blocked = false;
        for _ in 0..HUB_BUDGET {
            match ws::read(ws) {
                ws::Read::Data(b) => frames.push(b),
                ws::Read::Idle => {}
                ws::Read::Blocked => {
                    blocked = true;
                    break;
                }
                ws::Read::Gone(why) => {
                    gone = Some(why);
                    break;
                }
            }
        }
        if gone.is_none()
            && let Flush::Failed(why) = ws::flush(ws)
        {
            gone = Some(why);
        }
        self.hub_again = !blocked && gone.is_none();
        for frame in frames {
            self.node.handle_hub_frame(now, &frame);
            self.pump(now);
        }
        if let Some(why) = gone {
            debug!("hub connection ended: {why}");
            self.hub_gone(now);
        }
    }

    /// The hub could not be reached: try again later.
    fn hub_failed(&mut self, now: Instant, why: String) {
        self.deregister_hub();
        self.hub = HubConn::Closed;
        let why = format!("cannot reach the hub at {}: {why}", self.url);
        self.schedule_retry(now, ErrorCode::ConnRefused, why);
    }

    /// An open hub connection ended: the endpoint hears of it (open peers
    /// carry on), and the client tries again later unless the session ended
    /// for good.
    fn hub_gone(&mut self, now: Instant) {
        self.deregister_hub();
        self.hub = HubConn::Closed;
        self.hub_again = false;
        self.node.handle_hub_closed(now);
        self.pump(now);
        self.schedule_retry(
            now,
            ErrorCode::NoServer,
            format!("lost the connection to the hub at {}", self.url),
        );
    }

    /// Schedules the next try at the hub, once per outage step, and says so.
    fn schedule_retry(&mut self, now: Instant, code: ErrorCode, why: String) {
        if !self.reconnect || self.retry_at.is_some() {
            return;
        }
        let retry_in = self.backoff.next_wait();
        debug!("{why}; trying again in {retry_in:?}");
        self.retry_at = Some(now + retry_in);
        self.queue.push_back(ClientEvent::HubWaiting {
            code,
            why,
            retry_in,
        });
    }

    /// What the client itself learns from an endpoint event about the hub.
    fn watch_hub(&mut self, now: Instant, event: &EndpointEvent) {
        match event {
            EndpointEvent::Ready { .. } => self.backoff.reset(),
            EndpointEvent::HubClosed { reason, error } => {
                // Over for the endpoint: a mute socket is not waited on.
                if matches!(self.hub, HubConn::Open(_)) {
                    self.deregister_hub();
                    self.hub = HubConn::Closed;
                    self.hub_again = false;
                }
                if hub_close_is_final(*reason, *error) {
                    self.reconnect = false;
                    self.retry_at = None;
                } else {
                    let why = match reason {
                        Some(r) => format!("the hub closed the session: {}", r.as_str()),
                        None => format!("lost the connection to the hub at {}", self.url),
                    };
                    self.schedule_retry(now, error.unwrap_or(ErrorCode::NoServer), why);
                }
            }
            _ => {}
        }
    }

    fn deregister_hub(&mut self) {
        match &mut self.hub {
            HubConn::Open(ws) => {
                let _ = self.poll.registry().deregister(ws.get_mut().tcp());
            }
            HubConn::Connecting(mid, _) => {
                let _ = self
                    .poll
                    .registry()
                    .deregister(mid.get_mut().get_mut().tcp());
            }
            HubConn::Closed => {}
        }
    }

    /// Carries out everything the node asks, in the order of its contract,
    /// until it asks nothing more.
    fn pump(&mut self, now: Instant) {
        loop {
            let mut busy = false;
            while let Some(t) = self.node.poll_transmit() {
                busy = true;
                self.stats.datagrams_out += 1;
                self.udp.send(t);
            }
            while let Some(out) = self.node.poll_hub() {
                busy = true;
                match out {
                    ToHub::Frame(text) => self.hub_send(now, text),
                    ToHub::Close => {
                        if let HubConn::Open(ws) = &mut self.hub {
                            let _ = ws::close(ws);
                        }
                    }
                }
            }
            while let Some(action) = self.node.poll_storage() {
                busy = true;
                self.held_bytes += write_len(&action);
                self.held.push_back(action);
            }
            while let Some(action) = self.held.pop_front() {
                let bytes = write_len(&action);
                match self.storage.submit(action) {
                    Ok(()) => self.held_bytes -= bytes,
                    Err(action) => {
                        self.held.push_front(action);
                        break;
                    }
                }
            }
            while let Some((req, result)) = self.storage.poll_result() {
                busy = true;
                self.node.handle_storage(now, req, result);
            }
            while let Some(event) = self.node.poll_event() {
                busy = true;
                match event {
                    NodeEvent::Endpoint(e) => {
                        self.watch_hub(now, &e);
                        self.queue.push_back(ClientEvent::Endpoint(e));
                    }
                    NodeEvent::Transfer(e) => self.queue.push_back(ClientEvent::Transfer(e)),
                    NodeEvent::Undelivered {
                        to,
                        kind,
                        code,
                        reason,
                    } => self.queue.push_back(ClientEvent::Undelivered {
                        to,
                        kind,
                        code,
                        reason,
                    }),
                    NodeEvent::Sync(e) => self.queue.push_back(ClientEvent::Sync(e)),
                }
            }
            if !busy {
                break;
            }
        }
        // What the node said in this round leaves now, gathered into runs.
        self.udp.flush();
        self.stats.max_queued = self.stats.max_queued.max(self.udp.queued());
    }

    fn hub_send(&mut self, now: Instant, text: String) {
        let HubConn::Open(ws) = &mut self.hub else {
            debug!("a hub frame with no hub connection: dropped");
            return;
        };
        if let Flush::Failed(why) = ws::send_text(ws, text) {
            warn!("hub connection broke: {why}");
            self.hub_gone(now);
        }
    }
}
