//! `brume bench-sessions` (hidden): opens N authenticated, idle WebSocket
//! sessions to a local `brume serve` and reports the hub process's memory
//! per session, from its RSS in /proc before and after.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use brume_mio::store::Store;
use brume_mio::stream::Stream;
use brume_mio::url::HubUrl;
use brume_mio::ws::{self, Flush};
use brume_proto::signal::{
    ClientMsg, HubMsg, PROTOCOL_VERSION, UserName, decode_hub, encode_client,
};
use brume_proto::token::TokenKind;
use clap::Args;
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use tungstenite::WebSocket;
use tungstenite::client::IntoClientRequest;
use tungstenite::handshake::client::ClientHandshake;
use tungstenite::handshake::{HandshakeError, MidHandshake};

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// The hub.
    #[arg(long)]
    url: String,
    /// The hub's data directory (for users and the signing key).
    #[arg(long, value_name = "DIR")]
    data: PathBuf,
    /// The hub's process id (its RSS is read from /proc).
    #[arg(long)]
    pid: u32,
    /// Sessions to open.
    #[arg(short = 'n', long, default_value_t = 10_000)]
    sessions: usize,
}

#[allow(clippy::large_enum_variant)] // a benchmark's own connections
enum Conn {
    Connecting(Box<MidHandshake<ClientHandshake<Stream>>>),
    Open(WebSocket<Stream>, bool),
    Dead,
}

fn rss_kib(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("no process {pid}"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .context("no VmRSS")
}

pub fn run(a: BenchArgs) -> Result<()> {
    let url = HubUrl::parse(&a.url)?;
    let addr = url.resolve()?;
    rlimit::increase_nofile_limit((a.sessions as u64) * 2 + 256)
        .context("cannot raise the descriptor limit")?;
    let mut store = Store::open(&a.data)?;
    let key = store.signing_key()?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let users: Vec<UserName> = (0..a.sessions)
        .map(|i| UserName::new(format!("bench-{i:06}")).map_err(|e| anyhow!("{e}")))
        .collect::<Result<_>>()?;
    let rows: Vec<(UserName, String)> = users.iter().map(|u| (u.clone(), "!".to_owned())).collect();
    store.add_users_hashed(&rows, now)?;
    // Let the hub load the users (it checks the store every second), so
    // that the table of users is not counted as session memory.
    std::thread::sleep(Duration::from_secs(3));
    let before = rss_kib(a.pid)?;

    let mut poll = Poll::new()?;
    let mut events = Events::with_capacity(4096);
    let mut conns: BTreeMap<usize, Conn> = BTreeMap::new();
    let mut next = 0usize;
    let mut authed = 0usize;
    let start = Instant::now();
    let deadline = start + Duration::from_secs(120);
    while authed < a.sessions {
        if Instant::now() > deadline {
            bail!(
                "only {authed} of {} sessions authenticated in 120 s",
                a.sessions
            );
        }
        // Keep a few hundred handshakes in flight.
        let in_flight = next - authed - conns.values().filter(|c| matches!(c, Conn::Dead)).count();
        for _ in 0..(512usize.saturating_sub(in_flight)) {
            if next >= a.sessions {
                break;
            }
            let mut sock = TcpStream::connect(addr)?;
            poll.registry().register(
                &mut sock,
                Token(next),
                Interest::READABLE | Interest::WRITABLE,
            )?;
            let request = url.to_string().into_client_request()?;
            let mid = ClientHandshake::start(Stream::Plain(sock), request, Some(ws::config()))
                .map_err(|e| anyhow!("{e}"))?;
            conns.insert(next, Conn::Connecting(Box::new(mid)));
            next += 1;
        }
        poll.poll(&mut events, Some(Duration::from_millis(100)))?;
        for ev in events.iter() {
            let i = ev.token().0;
            let Some(conn) = conns.get_mut(&i) else {
                continue;
            };
            authed += step(conn, &key, &users[i], now)?;
        }
    }
    let opened = start.elapsed();
    // Idle: answer the hub's pings for a few seconds, then measure.
    let settle = Instant::now() + Duration::from_secs(3);
    while Instant::now() < settle {
        poll.poll(&mut events, Some(Duration::from_millis(100)))?;
        for ev in events.iter() {
            if let Some(conn) = conns.get_mut(&ev.token().0) {
                step(conn, &key, &users[ev.token().0], now)?;
            }
        }
    }
    let after = rss_kib(a.pid)?;
    let dead = conns.values().filter(|c| matches!(c, Conn::Dead)).count();
    let per = (after.saturating_sub(before)) as f64 / a.sessions as f64;
    println!(
        "{} sessions authenticated in {:.1} s ({dead} closed since); hub RSS {before} KiB -> {after} KiB: {per:.2} KiB per idle session",
        a.sessions,
        opened.as_secs_f64()
    );
    Ok(())
}

/// Moves one connection along; 1 when it just became authenticated.
fn step(
    conn: &mut Conn,
    key: &brume_proto::token::TokenKey,
    user: &UserName,
    now: u64,
) -> Result<usize> {
    if let Conn::Connecting(_) = conn {
        let Conn::Connecting(mid) = std::mem::replace(conn, Conn::Dead) else {
            unreachable!("matched just above");
        };
        match mid.handshake() {
            Ok((mut ws, _)) => {
                let hello = ClientMsg::Hello {
                    version: PROTOCOL_VERSION,
                    token: Some(key.mint(user, TokenKind::Access, now, 3600)),
                    device: None,
                    calls: true,
                    replace: true,
                };
                if let Flush::Failed(e) = ws::send_text(&mut ws, encode_client(&hello)) {
                    bail!("hello: {e}");
                }
                *conn = Conn::Open(ws, false);
            }
            Err(HandshakeError::Interrupted(mid)) => {
                *conn = Conn::Connecting(Box::new(mid));
                return Ok(0);
            }
            Err(HandshakeError::Failure(e)) => bail!("handshake: {e}"),
        }
    }
    let Conn::Open(ws, authed) = conn else {
        return Ok(0);
    };
    let mut became = 0;
    loop {
        match ws::read(ws) {
            ws::Read::Data(b) => match decode_hub(&b) {
                Ok(HubMsg::Welcome { .. }) if !*authed => {
                    *authed = true;
                    became = 1;
                }
                Ok(HubMsg::Ping { nonce }) => {
                    let _ = ws::send_text(ws, encode_client(&ClientMsg::Pong { nonce }));
                }
                Ok(HubMsg::Error { code, message, .. }) => {
                    bail!("hub error {}: {message}", code.as_str())
                }
                _ => {}
            },
            ws::Read::Idle => {}
            ws::Read::Blocked => break,
            ws::Read::Gone(_) => {
                *conn = Conn::Dead;
                break;
            }
        }
    }
    if let Conn::Open(ws, _) = conn {
        let _ = ws::flush(ws);
    }
    Ok(became)
}
