//! The hub server: one mio loop that accepts WebSocket connections (plain or
//! TLS), feeds the sans-IO [`Hub`], writes its outputs, answers password
//! logins on `/login`, and keeps the hub's users and groups in step with the
//! [`Store`] (so `brume user add` takes effect on a running hub). It logs
//! sessions opening and closing and failed logins (user and address, never a
//! secret) at info, and slows down repeated failures from one address
//! ([`LoginThrottle`]).
//!
//! Owns: sockets, the clock, the store, login workers. Never: decides who
//! may talk to whom (the `Hub` does).

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result};
use brume_proto::ErrorCode;
use brume_proto::hub::{
    CallPolicy, ConnId, Hub, HubConfig, HubEvent, HubInput, HubOutput, HubUser,
};
use brume_proto::signal::UserName;
use brume_proto::token::{TokenKey, TokenKind};
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};
use tracing::{debug, info, warn};
use tungstenite::WebSocket;
use tungstenite::handshake::server::{Callback, ErrorResponse, Request, Response, ServerHandshake};
use tungstenite::handshake::{HandshakeError, MidHandshake};

use crate::login::{ACCESS_LIFETIME, LOGIN_PATH, LoginReply, LoginRequest, REFRESH_LIFETIME};
use crate::login_throttle::LoginThrottle;
use crate::static_files::{self, Sniffed};
use crate::store::{self, Store};
use crate::stream::Stream;
use crate::wake::ceil_ms;
use crate::ws::{self, Flush};

const LISTENER: Token = Token(0);
const WAKER: Token = Token(1);
const SIGNALS: Token = Token(2);
const FIRST_CONN: u64 = 16;

/// Messages read from one connection per loop turn, so one chatty client
/// cannot starve the others or the timers.
const READ_BUDGET: usize = 32;
/// Connections accepted per loop turn.
const ACCEPT_BUDGET: usize = 256;
/// Time to finish the WebSocket (and TLS) handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Time a login connection may take, password check included.
const LOGIN_TIMEOUT: Duration = Duration::from_secs(30);
/// Time a closing connection gets to flush and say goodbye.
const CLOSE_LINGER: Duration = Duration::from_secs(2);
/// How often the store is checked for changes made by other processes.
const SYNC_EVERY: Duration = Duration::from_secs(1);
/// Password checks (argon2, deliberately slow) running at once.
const MAX_LOGINS_IN_FLIGHT: usize = 4;

/// How to run a hub.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Where to listen.
    pub listen: SocketAddr,
    /// The data directory (database and signing key).
    pub data: PathBuf,
    /// A PEM certificate chain and private key, for `wss://`.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Stop cleanly on SIGINT and SIGTERM.
    pub handle_signals: bool,
    /// Who may call whom.
    pub policy: CallPolicy,
    /// A TURN server whose credentials the hub hands each session.
    pub turn: Option<brume_proto::hub::HubTurn>,
}

/// Stops a running [`HubServer`] from another thread.
#[derive(Debug, Clone)]
pub struct HubHandle {
    stop: Arc<AtomicBool>,
    waker: Arc<Waker>,
    addr: SocketAddr,
}

impl HubHandle {
    /// Asks the hub to close every session (`shutdown`) and return from `run`.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.waker.wake();
    }

    /// The address the hub listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

/// Records whether a WebSocket handshake asked for the login path.
#[derive(Debug)]
struct PathCheck(Arc<AtomicBool>);

impl Callback for PathCheck {
    fn on_request(self, request: &Request, response: Response) -> Result<Response, ErrorResponse> {
        self.0
            .store(request.uri().path() == LOGIN_PATH, Ordering::Relaxed);
        Ok(response)
    }
}

type Handshake = MidHandshake<ServerHandshake<Stream, PathCheck>>;

enum State {
    /// Not yet known to be a WebSocket: a plain HTTP request is the web app's.
    Sniff(Box<Handshake>, Arc<AtomicBool>),
    Handshake(Box<Handshake>, Arc<AtomicBool>),
    /// A plain HTTP request for the web app, being answered.
    Http(Box<Handshake>, static_files::Reply),
    Session(WebSocket<Stream>),
    /// A login connection; true once its password is being checked.
    Login(WebSocket<Stream>, bool),
    Closing(WebSocket<Stream>),
    Gone,
}

struct Conn {
    state: State,
    deadline: Option<Instant>,
}

struct LoginDone {
    conn: u64,
    /// Where it came from: a failure counts there even if the client has
    /// hung up meanwhile (hanging up must not dodge the throttle).
    addr: SocketAddr,
    /// The name tried, if it is one of the hub's users (for the log).
    tried: Option<UserName>,
    /// The user and their token generation when the check began, if the
    /// password matched.
    user: Option<(UserName, u64)>,
}

/// A hub bound to its socket, ready to [`HubServer::run`].
pub struct HubServer {
    poll: Poll,
    listener: Option<TcpListener>,
    tls: Option<Arc<rustls::ServerConfig>>,
    hub: Hub,
    store: Store,
    key: TokenKey,
    /// Users and their token generations, as last read from the store.
    users: BTreeMap<UserName, u64>,
    data_version: i64,
    next_sync: Instant,
    conns: BTreeMap<u64, Conn>,
    /// Every connection's remote address, until it is gone.
    peers: BTreeMap<u64, SocketAddr>,
    deadlines: BTreeSet<(Instant, u64)>,
    throttle: LoginThrottle,
    /// Unauthenticated connections left unread until their address may try
    /// again, and when.
    held: BTreeSet<(Instant, u64)>,
    next_id: u64,
    again: BTreeSet<u64>,
    accept_again: bool,
    stop: Arc<AtomicBool>,
    waker: Arc<Waker>,
    login_tx: Sender<LoginDone>,
    login_rx: Receiver<LoginDone>,
    logins_in_flight: Arc<Mutex<usize>>,
    signals: Option<signal_hook_mio::v1_0::Signals>,
    addr: SocketAddr,
    /// Held while the hub runs: one hub per data folder.
    _lock: std::fs::File,
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl HubServer {
    /// Opens the store, loads users and groups, and binds the listener.
    pub fn bind(opts: &ServeOptions) -> Result<(Self, HubHandle)> {
        let store = Store::open(&opts.data)?;
        let lock = store.lock_for_hub()?;
        let key = store.signing_key()?;
        let tls = match &opts.tls {
            Some((cert, key)) => Some(crate::stream::server_config(cert, key)?),
            None => None,
        };
        let poll = Poll::new()?;
        let mut listener = TcpListener::bind(opts.listen)
            .with_context(|| format!("cannot listen on {}", opts.listen))?;
        let addr = listener.local_addr()?;
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let signals = if opts.handle_signals {
            let mut s = signal_hook_mio::v1_0::Signals::new([
                signal_hook::consts::SIGINT,
                signal_hook::consts::SIGTERM,
            ])?;
            poll.registry()
                .register(&mut s, SIGNALS, Interest::READABLE)?;
            Some(s)
        } else {
            None
        };
        let now = Instant::now();
        let users = store.user_generations()?;
        let mut config = HubConfig::new(key.clone());
        config.session_events = true;
        config.policy = opts.policy;
        config.instance = fastrand::u64(..);
        config.turn = opts.turn.clone();
        let mut hub = Hub::new(config, hub_users(&users), now, unix_now());
        for (group, members) in store.groups()? {
            hub.set_group(group, members);
        }
        for (user, contact, alias) in store.contacts()? {
            hub.add_contact(user, contact, alias);
        }
        for (id, expires_at) in store.claimed_invitations(unix_now())? {
            hub.add_claimed_invitation(now, id, expires_at);
        }
        let data_version = store.data_version()?;
        let stop = Arc::new(AtomicBool::new(false));
        let (login_tx, login_rx) = channel();
        let handle = HubHandle {
            stop: stop.clone(),
            waker: waker.clone(),
            addr,
        };
        Ok((
            Self {
                poll,
                listener: Some(listener),
                tls,
                hub,
                store,
                key,
                users,
                data_version,
                next_sync: now + SYNC_EVERY,
                conns: BTreeMap::new(),
                peers: BTreeMap::new(),
                deadlines: BTreeSet::new(),
                throttle: LoginThrottle::default(),
                held: BTreeSet::new(),
                next_id: FIRST_CONN,
                again: BTreeSet::new(),
                accept_again: false,
                stop,
                waker,
                login_tx,
                login_rx,
                logins_in_flight: Arc::new(Mutex::new(0)),
                signals,
                addr,
                _lock: lock,
            },
            handle,
        ))
    }

    /// The address the hub listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Runs until stopped (by a signal or [`HubHandle::stop`]), then closes
    /// every session with `shutdown` and returns.
    pub fn run(mut self) -> Result<()> {
        let mut events = Events::with_capacity(1024);
        let mut stopping: Option<Instant> = None;
        info!(addr = %self.addr, "hub listening");
        loop {
            let now = Instant::now();
            let timeout = if !self.again.is_empty() || self.accept_again {
                Some(Duration::ZERO)
            } else {
                self.next_wake(stopping)
                    .map(|at| ceil_ms(at.saturating_duration_since(now)))
            };
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e.into());
            }
            let now = Instant::now();
            for event in events.iter() {
                match event.token() {
                    LISTENER => self.accept(now),
                    WAKER => self.logins_done(now),
                    SIGNALS => {
                        if let Some(s) = &mut self.signals
                            && s.pending().next().is_some()
                        {
                            self.stop.store(true, Ordering::SeqCst);
                        }
                    }
                    Token(id) => self.ready(now, id as u64),
                }
            }
            for id in std::mem::take(&mut self.again) {
                self.ready(now, id);
            }
            if std::mem::take(&mut self.accept_again) {
                self.accept(now);
            }
            if self.stop.load(Ordering::SeqCst) && stopping.is_none() {
                info!("hub shutting down");
                stopping = Some(now + CLOSE_LINGER);
                if let Some(mut l) = self.listener.take() {
                    let _ = self.poll.registry().deregister(&mut l);
                }
                self.hub.shutdown(now);
            }
            self.timers(now);
            self.drain_hub(now);
            if let Some(until) = stopping
                && (self.conns.is_empty() || now >= until)
            {
                info!("hub stopped");
                return Ok(());
            }
        }
    }

    fn next_wake(&self, stopping: Option<Instant>) -> Option<Instant> {
        [
            self.hub.poll_timeout(),
            self.deadlines.first().map(|(at, _)| *at),
            self.held.first().map(|(at, _)| *at),
            Some(self.next_sync),
            stopping,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn timers(&mut self, now: Instant) {
        if self.hub.poll_timeout().is_some_and(|t| t <= now) {
            self.hub.handle_input(now, HubInput::Timeout);
        }
        while let Some(&(at, id)) = self.deadlines.first() {
            if at > now {
                break;
            }
            self.deadlines.pop_first();
            debug!(conn = id, "connection deadline");
            self.drop_conn(now, id);
        }
        while let Some(&(at, id)) = self.held.first() {
            if at > now {
                break;
            }
            self.held.pop_first();
            // Read what waited in the socket: mio will not say so again.
            self.again.insert(id);
        }
        if now >= self.next_sync {
            self.next_sync = now + SYNC_EVERY;
            self.throttle.prune(now);
            self.hub.set_wall_clock(now, unix_now());
            self.sync_store(now);
        }
    }

    /// Brings the hub's users and groups in line with the store, if another
    /// process changed it.
    /// After the hub's own write to the store: not a change from outside.
    fn own_write(&mut self) {
        if let Ok(v) = self.store.data_version() {
            self.data_version = v;
        }
    }

    fn sync_store(&mut self, now: Instant) {
        let version = match self.store.data_version() {
            Ok(v) => v,
            Err(e) => return warn!("store: {e:#}"),
        };
        if version == self.data_version {
            return;
        }
        self.data_version = version;
        let (users, groups) = match (self.store.user_generations(), self.store.groups()) {
            (Ok(u), Ok(g)) => (u, g),
            (Err(e), _) | (_, Err(e)) => return warn!("store: {e:#}"),
        };
        for gone in self.users.keys().filter(|u| !users.contains_key(*u)) {
            info!(user = %gone, "user removed");
            self.hub.remove_user(now, gone);
        }
        for (user, &generation) in &users {
            match self.users.get(user) {
                Some(&old) if old == generation => continue,
                // A new password, `brume user revoke`, or removed and
                // added again since the last look: older tokens die.
                Some(_) => info!(%user, generation, "tokens revoked"),
                None => info!(%user, "user added"),
            }
            self.hub.add_user(HubUser {
                name: user.clone(),
                generation,
            });
        }
        self.users = users;
        for (group, members) in groups {
            self.hub.set_group(group, members);
        }
    }

    fn accept(&mut self, now: Instant) {
        for _ in 0..ACCEPT_BUDGET {
            let Some(listener) = &self.listener else {
                return;
            };
            let (sock, peer) = match listener.accept() {
                Ok(x) => x,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) => {
                    // Out of descriptors, say: log, and try again next turn.
                    warn!("accept: {e}");
                    return;
                }
            };
            self.open_conn(now, sock, peer);
        }
        self.accept_again = true;
    }

    fn open_conn(&mut self, now: Instant, sock: TcpStream, peer: SocketAddr) {
        let _ = sock.set_nodelay(true);
        let mut stream = match &self.tls {
            Some(config) => match Stream::tls_server(sock, config) {
                Ok(s) => s,
                Err(e) => return warn!("tls: {e}"),
            },
            None => Stream::Plain(sock),
        };
        let id = self.next_id;
        self.next_id += 1;
        if let Err(e) = self.poll.registry().register(
            stream.tcp(),
            Token(id as usize),
            Interest::READABLE | Interest::WRITABLE,
        ) {
            return warn!("register: {e}");
        }
        debug!(conn = id, %peer, "accepted");
        self.peers.insert(id, peer);
        let login = Arc::new(AtomicBool::new(false));
        let mid = ServerHandshake::start(stream, PathCheck(login.clone()), Some(ws::config()));
        let deadline = now + HANDSHAKE_TIMEOUT;
        self.deadlines.insert((deadline, id));
        self.conns.insert(
            id,
            Conn {
                state: State::Sniff(Box::new(mid), login),
                deadline: Some(deadline),
            },
        );
    }

    fn set_deadline(&mut self, id: u64, at: Option<Instant>) {
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        if let Some(old) = conn.deadline.take() {
            self.deadlines.remove(&(old, id));
        }
        if let Some(at) = at {
            self.deadlines.insert((at, id));
            conn.deadline = Some(at);
        }
    }

    /// The socket is readable or writable (or may still hold data).
    fn ready(&mut self, now: Instant, id: u64) {
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        if let State::Sniff(..) | State::Http(..) = conn.state {
            match web_request(&mut conn.state) {
                Some(true) => return,
                Some(false) => return self.drop_conn(now, id),
                None => {}
            }
        }
        if let State::Handshake(..) = conn.state {
            let State::Handshake(mid, login) = std::mem::replace(&mut conn.state, State::Gone)
            else {
                unreachable!("matched just above");
            };
            match mid.handshake() {
                Ok(ws) if login.load(Ordering::Relaxed) => {
                    conn.state = State::Login(ws, false);
                    self.set_deadline(id, Some(now + LOGIN_TIMEOUT));
                }
                Ok(ws) => {
                    conn.state = State::Session(ws);
                    self.set_deadline(id, None);
                    // A user added a moment ago by `brume user add` can log in.
                    self.sync_store(now);
                    self.hub.handle_input(now, HubInput::Opened(ConnId(id)));
                    self.drain_hub(now);
                }
                Err(HandshakeError::Interrupted(mid)) => {
                    conn.state = State::Handshake(Box::new(mid), login);
                    return;
                }
                Err(HandshakeError::Failure(e)) => {
                    debug!(conn = id, "handshake failed: {e}");
                    return self.drop_conn(now, id);
                }
            }
        }
        self.read_conn(now, id);
        self.flush_conn(now, id);
    }

    /// True (and the connection set aside until then) if it has not logged
    /// in and its address must wait after failed logins.
    fn must_wait(&mut self, now: Instant, id: u64) -> bool {
        let unauthenticated = match self.conns.get(&id).map(|c| &c.state) {
            Some(State::Login(_, false)) => true,
            Some(State::Session(_)) => self.hub.user_of(ConnId(id)).is_none(),
            _ => false,
        };
        let Some(peer) = self.peers.get(&id) else {
            return false;
        };
        match self.throttle.wait_until(now, peer.ip()) {
            Some(until) if unauthenticated => {
                self.held.insert((until, id));
                true
            }
            _ => false,
        }
    }

    /// Reads up to the budget, then hands what came to the hub or the login.
    fn read_conn(&mut self, now: Instant, id: u64) {
        if self.must_wait(now, id) {
            return;
        }
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        let ws = match &mut conn.state {
            State::Session(ws) | State::Login(ws, _) | State::Closing(ws) => ws,
            State::Sniff(..) | State::Handshake(..) | State::Http(..) | State::Gone => return,
        };
        let mut frames = Vec::new();
        let mut gone = None;
        let mut blocked = false;
        for _ in 0..READ_BUDGET {
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
        if !blocked && gone.is_none() {
            self.again.insert(id);
        }
        match conn.state {
            State::Session(_) => {
                for frame in &frames {
                    self.hub
                        .handle_input(now, HubInput::Frame(ConnId(id), frame));
                    self.drain_hub(now);
                }
            }
            State::Login(_, false) => {
                if let Some(first) = frames.first() {
                    self.start_login(now, id, first);
                }
            }
            _ => {}
        }
        if let Some(why) = gone {
            debug!(conn = id, "connection ended: {why}");
            self.drop_conn(now, id);
        }
    }

    fn flush_conn(&mut self, now: Instant, id: u64) {
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        let flushed = match &mut conn.state {
            State::Session(ws) | State::Login(ws, _) | State::Closing(ws) => ws::flush(ws),
            State::Sniff(..) | State::Handshake(..) | State::Http(..) | State::Gone => return,
        };
        if let Flush::Failed(why) = flushed {
            debug!(conn = id, "write failed: {why}");
            self.drop_conn(now, id);
        }
    }

    /// Forgets a connection; tells the hub if it held a session.
    fn drop_conn(&mut self, now: Instant, id: u64) {
        self.set_deadline(id, None);
        let Some(mut conn) = self.conns.remove(&id) else {
            return;
        };
        self.again.remove(&id);
        let was_session = matches!(conn.state, State::Session(_));
        match &mut conn.state {
            State::Session(ws) | State::Login(ws, _) | State::Closing(ws) => {
                let _ = self.poll.registry().deregister(ws.get_mut().tcp());
            }
            State::Sniff(mid, _) | State::Handshake(mid, _) | State::Http(mid, _) => {
                let _ = self
                    .poll
                    .registry()
                    .deregister(mid.get_mut().get_mut().tcp());
            }
            State::Gone => {}
        }
        if was_session {
            self.hub.handle_input(now, HubInput::Closed(ConnId(id)));
            self.drain_events(now);
        }
        self.peers.remove(&id);
    }

    /// Logs what the hub says of sessions, and counts refused tokens
    /// against their address.
    fn drain_events(&mut self, now: Instant) {
        while let Some(event) = self.hub.poll_event() {
            match event {
                HubEvent::Authenticated { conn, user, device } => {
                    let addr = self.peer(conn.0);
                    info!(%user, %device, %addr, "session opened");
                }
                HubEvent::AuthFailed { conn, code, reason } => {
                    let addr = self.peer(conn.0);
                    if code == ErrorCode::TokenExpired {
                        // The client refreshes it next: routine.
                        debug!(%addr, "token expired");
                    } else {
                        let failures = self.throttle.failed(now, addr.ip());
                        info!(%addr, code = code.as_str(), %reason, failures, "token refused");
                    }
                }
                HubEvent::Closed {
                    conn,
                    user,
                    device,
                    reason,
                } => {
                    let addr = self.peer(conn.0);
                    let reason = reason.map_or("connection lost", |r| r.as_str());
                    match (user, device) {
                        (Some(user), Some(device)) => {
                            info!(%user, %device, %addr, reason, "session closed")
                        }
                        (Some(user), None) => info!(%user, %addr, reason, "session closed"),
                        (None, _) => debug!(%addr, reason, "unauthenticated session closed"),
                    }
                }
            }
        }
    }

    fn peer(&self, id: u64) -> SocketAddr {
        self.peers
            .get(&id)
            .copied()
            .unwrap_or(SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    /// Sends the close frame and lingers briefly for the other side's.
    fn begin_close(&mut self, now: Instant, id: u64) {
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        let mut ws = match std::mem::replace(&mut conn.state, State::Gone) {
            State::Session(ws) | State::Login(ws, _) | State::Closing(ws) => ws,
            other => {
                conn.state = other;
                return self.drop_conn(now, id);
            }
        };
        let result = ws::close(&mut ws);
        conn.state = State::Closing(ws);
        self.set_deadline(id, Some(now + CLOSE_LINGER));
        if let Flush::Failed(_) = result {
            self.drop_conn(now, id);
        }
    }

    fn drain_hub(&mut self, now: Instant) {
        let mut broken = Vec::new();
        loop {
            while let Some(out) = self.hub.poll_output() {
                match out {
                    HubOutput::Send { conn, frame } => {
                        if let Some(Conn {
                            state: State::Session(ws),
                            ..
                        }) = self.conns.get_mut(&conn.0)
                            && let Flush::Failed(why) = ws::send_text(ws, frame)
                        {
                            debug!(conn = conn.0, "dropping: {why}");
                            broken.push(conn.0);
                        }
                    }
                    HubOutput::Close { conn, reason } => {
                        debug!(conn = conn.0, reason = reason.as_str(), "hub closes");
                        self.begin_close(now, conn.0);
                    }
                    HubOutput::GroupChanged { group, members } => {
                        if let Err(e) = self.store.set_group(&group, &members) {
                            warn!(%group, "cannot save the group: {e:#}");
                        }
                        self.own_write();
                    }
                    HubOutput::ContactChanged {
                        user,
                        contact,
                        alias,
                    } => {
                        info!(%user, %contact, "contact added");
                        if let Err(e) = self.store.set_contact(&user, &contact, &alias) {
                            warn!(%user, %contact, "cannot save the contact: {e:#}");
                        }
                        self.own_write();
                    }
                    HubOutput::InvitationClaimed { id, expires_at } => {
                        if let Err(e) = self.store.claim_invitation(&id, expires_at) {
                            warn!("cannot save a claimed invitation: {e:#}");
                        }
                        self.own_write();
                    }
                }
            }
            self.drain_events(now);
            if broken.is_empty() {
                return;
            }
            for id in std::mem::take(&mut broken) {
                self.drop_conn(now, id);
            }
        }
    }

    fn start_login(&mut self, now: Instant, id: u64, frame: &[u8]) {
        let req: Result<LoginRequest, _> = serde_json::from_slice(frame);
        let Ok(LoginRequest::Login { user, password }) = req else {
            return self.login_reply(
                now,
                id,
                error_reply(ErrorCode::BadMessage, "expected a login frame"),
            );
        };
        {
            let mut n = self
                .logins_in_flight
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            if *n >= MAX_LOGINS_IN_FLIGHT {
                drop(n);
                return self.login_reply(now, id, error_reply(ErrorCode::Busy, "busy: try again"));
            }
            *n += 1;
        }
        if let Some(Conn {
            state: State::Login(_, checking),
            ..
        }) = self.conns.get_mut(&id)
        {
            *checking = true;
        }
        self.sync_store(now);
        let known = UserName::new(user)
            .ok()
            .and_then(|u| self.users.get(&u).map(|&g| (u, g)));
        let tried = known.as_ref().map(|(u, _)| u.clone());
        let addr = self.peer(id);
        let hash = match &known {
            Some((u, _)) => self.store.password_hash(u.as_str()).ok().flatten(),
            None => None,
        };
        let tx = self.login_tx.clone();
        let waker = self.waker.clone();
        let in_flight = self.logins_in_flight.clone();
        std::thread::spawn(move || {
            let hash = hash.as_deref().unwrap_or_else(|| store::dummy_hash());
            let ok = store::check_password(hash, &password);
            let user = if ok { known } else { None };
            *in_flight.lock().unwrap_or_else(|p| p.into_inner()) -= 1;
            let _ = tx.send(LoginDone {
                conn: id,
                addr,
                tried,
                user,
            });
            let _ = waker.wake();
        });
    }

    fn logins_done(&mut self, now: Instant) {
        while let Ok(done) = self.login_rx.try_recv() {
            let reply = match done.user {
                Some((user, generation)) => {
                    let unix = self.hub.unix_time(now);
                    info!(%user, addr = %done.addr, "password login");
                    // The generation from before the check: a password
                    // changed meanwhile makes these tokens dead on arrival.
                    let mint = |kind, lifetime| {
                        self.key
                            .mint_generation(&user, generation, kind, unix, lifetime)
                    };
                    LoginReply::Tokens {
                        access_token: mint(TokenKind::Access, ACCESS_LIFETIME),
                        refresh_token: mint(TokenKind::Refresh, REFRESH_LIFETIME),
                        expires_at: unix + ACCESS_LIFETIME,
                        user: user.as_str().to_owned(),
                    }
                }
                None => {
                    let addr = done.addr;
                    let failures = self.throttle.failed(now, addr.ip());
                    // Only names of users: a password typed into the name
                    // field must not reach the log.
                    let user = done.tried.as_ref().map_or("(unknown)", |u| u.as_str());
                    info!(user, %addr, failures, "password login failed");
                    error_reply(ErrorCode::Login, "wrong user name or password")
                }
            };
            self.login_reply(now, done.conn, reply);
        }
    }

    fn login_reply(&mut self, now: Instant, id: u64, reply: LoginReply) {
        if let Some(Conn {
            state: State::Login(ws, _),
            ..
        }) = self.conns.get_mut(&id)
        {
            // Serialising a plain enum of strings cannot fail.
            let text = serde_json::to_string(&reply).unwrap_or_default();
            let _ = ws::send_text(ws, text);
            self.begin_close(now, id);
        }
    }
}

/// A new connection that may be a plain HTTP request for the web app
/// (see [`static_files`]): `None` once it is a WebSocket handshake to go on
/// with, `Some(true)` while it waits (for its head, or to write the answer),
/// `Some(false)` once it is answered or broken, to be dropped.
fn web_request(state: &mut State) -> Option<bool> {
    if let State::Sniff(..) = state {
        let State::Sniff(mut mid, login) = std::mem::replace(state, State::Gone) else {
            unreachable!("matched just above");
        };
        match static_files::sniff(mid.get_mut().get_mut()) {
            Sniffed::WebSocket => {
                *state = State::Handshake(mid, login);
                return None;
            }
            Sniffed::Incomplete => {
                *state = State::Sniff(mid, login);
                return Some(true);
            }
            Sniffed::Http(reply) => *state = State::Http(mid, reply),
        }
    }
    let State::Http(mid, reply) = state else {
        return None;
    };
    match reply.write(mid.get_mut().get_mut()) {
        Ok(false) => Some(true),
        Ok(true) | Err(_) => Some(false),
    }
}

fn hub_users(users: &BTreeMap<UserName, u64>) -> Vec<HubUser> {
    users
        .iter()
        .map(|(name, &generation)| HubUser {
            name: name.clone(),
            generation,
        })
        .collect()
}

fn error_reply(code: ErrorCode, message: &str) -> LoginReply {
    LoginReply::Error {
        code,
        message: message.into(),
    }
}
