//! The embedding API: a [`Client`] runs one mio loop holding the WebSocket to
//! the hub, the UDP socket for peer traffic and the wake-up at the core's next
//! timeout, and drives a brume-proto [`Endpoint`] and its [`Transfers`]. The
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
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};
use brume_proto::ErrorCode;
use brume_proto::endpoint::{Endpoint, EndpointConfig, EndpointEvent, EndpointOutput};
use brume_proto::framing::Data;
use brume_proto::signal::{CloseReason, UserName};
use brume_proto::transfer::{TransferConfig, TransferEvent, TransferKey, Transfers};
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token, Waker};
use str0m::config::DtlsCert;
use tracing::{debug, warn};
use tungstenite::WebSocket;
use tungstenite::client::IntoClientRequest;
use tungstenite::handshake::client::ClientHandshake;
use tungstenite::handshake::{HandshakeError, MidHandshake};

use crate::backoff::Backoff;
use crate::files::FileStorage;
use crate::hub_server::ceil_ms;
use crate::stream::Stream;
use crate::udp::{MAX_DATAGRAM, Udp};
use crate::url::HubUrl;
use crate::ws::{self, Flush};

const HUB: Token = Token(0);
const UDP: Token = Token(1);
const WAKER: Token = Token(2);

/// Datagrams read per loop turn before timers get their turn.
const UDP_BUDGET: usize = 256;
/// Hub frames read per loop turn.
const HUB_BUDGET: usize = 64;
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
    pub dtls_cert: DtlsCert,
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
    /// The hub could not be reached, or its connection was lost; the client
    /// tries again after `retry_in` on its own. Open peer connections carry
    /// on meanwhile; [`EndpointEvent::Ready`] says the hub is back.
    HubWaiting {
        /// What went wrong, for people.
        why: String,
        /// When the next try comes.
        retry_in: Duration,
    },
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
    ep: Endpoint,
    transfers: Transfers,
    files: FileStorage,
    queue: VecDeque<ClientEvent>,
    waker: Arc<Waker>,
    woken: bool,
    udp_again: bool,
    hub_again: bool,
    buf: Vec<u8>,
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
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let now = Instant::now();
        let seed = seed();
        let mut config = EndpointConfig::new(opts.access_token, opts.dtls_cert, seed);
        config.refresh_token = opts.refresh_token;
        config.stun_server = opts.stun;
        config.device = opts.device;
        config.accepts_calls = opts.accepts_calls;
        let mut ep = Endpoint::new(config, now);
        ep.add_local_address(now, udp.local_addr());
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
            ep,
            transfers: Transfers::new(TransferConfig::new(seed ^ 0x7f7f)),
            files: FileStorage::default(),
            queue: VecDeque::new(),
            waker,
            woken: false,
            udp_again: false,
            hub_again: false,
            buf: vec![0; MAX_DATAGRAM],
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

    /// The endpoint, to read its state. Mutate it through [`Client::with`].
    pub fn endpoint(&self) -> &Endpoint {
        &self.ep
    }

    /// The local UDP address.
    pub fn local_addr(&self) -> SocketAddr {
        self.udp.local_addr()
    }

    /// A waker: another thread calls `wake()` to make [`Client::next_event`]
    /// return `None` early (to hand the loop some input, say).
    pub fn waker(&self) -> Arc<Waker> {
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

    /// Runs `f` on the endpoint and transfers at the current time, then
    /// carries out what they ask (the contract: drain after every call).
    pub fn with<R>(&mut self, f: impl FnOnce(&mut Endpoint, &mut Transfers, Instant) -> R) -> R {
        let now = Instant::now();
        let r = f(&mut self.ep, &mut self.transfers, now);
        self.pump(now);
        r
    }

    /// Connects to `peer` by name.
    pub fn connect_peer(&mut self, peer: &UserName) -> Result<()> {
        self.with(|ep, _, now| ep.connect(now, peer, None))?;
        Ok(())
    }

    /// Accepts an incoming connection.
    pub fn accept(&mut self, peer: &UserName) -> Result<()> {
        self.with(|ep, _, now| ep.accept(now, peer))?;
        Ok(())
    }

    /// Sends `{type: kind, data}` on the peer's main channel.
    pub fn send_message(&mut self, peer: &UserName, kind: &str, data: Data) -> Result<()> {
        self.with(|ep, _, now| ep.send(now, peer, kind, &data))?;
        Ok(())
    }

    /// Offers a file or a folder to `peer` (whose connection must be open),
    /// without following symbolic links inside it (each is logged as skipped).
    pub fn send_path(&mut self, peer: &UserName, path: &Path) -> Result<TransferKey> {
        let (key, warnings) = self.send_path_with(peer, path, false)?;
        for w in warnings {
            warn!("{w}");
        }
        Ok(key)
    }

    /// Offers a file or a folder to `peer`, following symbolic links inside
    /// it if `follow_links`; also returns what was skipped, and why.
    pub fn send_path_with(
        &mut self,
        peer: &UserName,
        path: &Path,
        follow_links: bool,
    ) -> Result<(TransferKey, Vec<String>)> {
        let crate::files::Described {
            entries,
            paths,
            warnings,
        } = crate::files::describe(path, follow_links)?;
        let now = Instant::now();
        let key = self
            .transfers
            .send(now, &mut self.ep, peer, entries)
            .map_err(|e| anyhow!("cannot send {}: {e}", path.display()))?;
        // Reads are queued, not yet executed: register the sources first.
        self.files.add_source(key.id, paths);
        self.pump(now);
        Ok((key, warnings))
    }

    /// Accepts an offered transfer into `dir`.
    pub fn accept_transfer(&mut self, key: &TransferKey, dir: &Path) -> Result<()> {
        let dir = dir.to_string_lossy().into_owned();
        self.with(|ep, t, now| t.accept(now, ep, key, dir))?;
        Ok(())
    }

    /// Rejects an offered transfer.
    pub fn reject_transfer(&mut self, key: &TransferKey, reason: &str) -> Result<()> {
        self.with(|ep, t, now| t.reject(now, ep, key, reason))?;
        Ok(())
    }

    /// True while the hub session is authenticated.
    pub fn is_hub_ready(&self) -> bool {
        self.ep.is_ready()
    }

    /// Closes every connection and the hub session; [`EndpointEvent::Stopped`] follows.
    pub fn stop(&mut self) {
        self.reconnect = false;
        self.retry_at = None;
        self.with(|ep, _, now| ep.stop(now));
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
                self.ep.poll_timeout(),
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
                WAKER => self.woken = true,
                _ => {}
            }
        }
        if udp_writable {
            self.udp.flush();
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
        if self.ep.poll_timeout().is_some_and(|t| t <= now) {
            self.ep.handle_timeout(now);
            self.pump(now);
        }
        Ok(())
    }

    fn read_udp(&mut self, now: Instant) -> Result<()> {
        let local = self.udp.local_addr();
        for _ in 0..UDP_BUDGET {
            let (n, from) = match self.udp.recv(&mut self.buf) {
                Ok(Some(x)) => x,
                Ok(None) => return Ok(()),
                Err(e) => {
                    // ICMP errors surface here on Linux: not fatal.
                    debug!("UDP receive: {e}");
                    continue;
                }
            };
            self.stats.datagrams_in += 1;
            self.ep.handle_datagram(now, from, local, &self.buf[..n]);
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
                    self.ep.hub_connected(now);
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
            self.ep.handle_hub_frame(now, &frame);
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
        self.schedule_retry(now, format!("cannot reach the hub at {}: {why}", self.url));
    }

    /// An open hub connection ended: the endpoint hears of it (open peers
    /// carry on), and the client tries again later unless the session ended
    /// for good.
    fn hub_gone(&mut self, now: Instant) {
        self.deregister_hub();
        self.hub = HubConn::Closed;
        self.hub_again = false;
        self.ep.hub_closed(now);
        self.pump(now);
        self.schedule_retry(
            now,
            format!("lost the connection to the hub at {}", self.url),
        );
    }

    /// Schedules the next try at the hub, once per outage step, and says so.
    fn schedule_retry(&mut self, now: Instant, why: String) {
        if !self.reconnect || self.retry_at.is_some() {
            return;
        }
        let retry_in = self.backoff.next_wait();
        debug!("{why}; trying again in {retry_in:?}");
        self.retry_at = Some(now + retry_in);
        self.queue
            .push_back(ClientEvent::HubWaiting { why, retry_in });
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
                        Some(r) => format!("the hub closed the session ({})", r.as_str()),
                        None => format!("lost the connection to the hub at {}", self.url),
                    };
                    self.schedule_retry(now, why);
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

    /// Carries out everything the endpoint and the transfers ask, until
    /// neither asks anything more.
    fn pump(&mut self, now: Instant) {
        loop {
            let mut busy = false;
            while let Some(out) = self.ep.poll_output() {
                busy = true;
                match out {
                    EndpointOutput::HubFrame(text) => self.hub_send(now, text),
                    EndpointOutput::CloseHub => {
                        if let HubConn::Open(ws) = &mut self.hub {
                            let _ = ws::close(ws);
                        }
                    }
                    EndpointOutput::Transmit(t) => {
                        self.stats.datagrams_out += 1;
                        self.udp.send(t);
                        self.stats.max_queued = self.stats.max_queued.max(self.udp.queued());
                    }
                    EndpointOutput::Event(e) => {
                        self.watch_hub(now, &e);
                        if !self.transfers.handle_event(now, &mut self.ep, &e) {
                            self.queue.push_back(ClientEvent::Endpoint(e));
                        }
                    }
                }
            }
            while let Some(action) = self.transfers.poll_action() {
                busy = true;
                let result = self.files.execute(&action);
                self.transfers
                    .handle_storage(now, &mut self.ep, action.req(), result);
            }
            while let Some(e) = self.transfers.poll_event() {
                busy = true;
                if let TransferEvent::State { key, state } = &e
                    && key.outgoing
                    && matches!(state, brume_proto::transfer::TransferState::Closed)
                {
                    self.files.remove_source(key.id);
                }
                self.queue.push_back(ClientEvent::Transfer(e));
            }
            if !busy {
                return;
            }
        }
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
