//! `brume demo`: no set-up at all. An embedded hub on loopback, two
//! throwaway users as two peers in this process, connected by name; a
//! generated file sent as a verified transfer; the figures printed.

use std::fs;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use brume_mio::client::{Client, ClientEvent, ClientOptions};
use brume_mio::hub_server::{HubServer, ServeOptions};
use brume_mio::store::Store;
use brume_mio::url::HubUrl;
use brume_proto::endpoint::EndpointEvent;
use brume_proto::signal::{Address, UserName};
use brume_proto::token::{TokenKey, TokenKind};
use brume_proto::transfer::{TransferEvent, TransferState};
use clap::Args;

use super::progress::{Bars, ProgressArg, size};
use super::session::peer_failure;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// The size of the generated file: bytes, or with KiB, MiB or GiB.
    #[arg(long, default_value = "64MiB", value_parser = parse_size)]
    size: u64,
    #[command(flatten)]
    progress: ProgressArg,
}

fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (num, mult) = [
        ("GiB", 1u64 << 30),
        ("MiB", 1 << 20),
        ("KiB", 1 << 10),
        ("G", 1 << 30),
        ("M", 1 << 20),
        ("K", 1 << 10),
    ]
    .iter()
    .find_map(|(suffix, m)| s.strip_suffix(suffix).map(|n| (n, *m)))
    .unwrap_or((s, 1));
    let n: f64 = num.trim().parse().map_err(|_| format!("bad size {s:?}"))?;
    if n.is_nan() || n < 0.0 || n * mult as f64 > (1u64 << 42) as f64 {
        return Err(format!("bad size {s:?}"));
    }
    Ok((n * mult as f64) as u64)
}

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn client(url: &HubUrl, key: &TokenKey, user: &UserName) -> Result<Client> {
    Client::connect(ClientOptions {
        url: url.clone(),
        access_token: key.mint(user, TokenKind::Access, unix_now(), 3600),
        refresh_token: None,
        dtls_cert: brume_mio::config::new_cert()?,
        ca: None,
        stun: None,
        bind: Some(LOOPBACK),
        device: Default::default(),
        accepts_calls: true,
        replaces_device: true,
        identity_key: None,
        pins: Default::default(),
    })
}

fn wait_ready(c: &mut Client) -> Result<()> {
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        match c.next_event(Some(end))? {
            Some(ClientEvent::Endpoint(EndpointEvent::Ready { .. })) => return Ok(()),
            Some(ClientEvent::HubWaiting { code, why, .. }) => bail!("{why} ({})", code.as_str()),
            Some(ClientEvent::Endpoint(EndpointEvent::HubClosed { error, reason })) => {
                bail!("the hub closed the session ({error:?}, {reason:?})")
            }
            Some(_) => {}
            None if Instant::now() >= end => bail!("the embedded hub did not answer"),
            None => {}
        }
    }
}

/// Bob: accepts the connection and the file, reports where it landed.
fn receiver(mut c: Client, inbox: PathBuf, ready: mpsc::Sender<()>) -> Result<PathBuf> {
    wait_ready(&mut c)?;
    let _ = ready.send(());
    let end = Instant::now() + Duration::from_secs(600);
    let mut saved = None;
    loop {
        let Some(event) = c.next_event(Some(end))? else {
            bail!("the receiver timed out");
        };
        match event {
            ClientEvent::Endpoint(EndpointEvent::Incoming { peer, .. }) => c.accept(&peer)?,
            ClientEvent::Transfer(TransferEvent::Offered { key, .. }) => {
                c.accept_transfer(&key, &inbox)?
            }
            ClientEvent::Transfer(TransferEvent::Saved { path, .. }) => {
                saved = Some(inbox.join(path.join("/")))
            }
            ClientEvent::Transfer(TransferEvent::State {
                state: TransferState::Done,
                ..
            }) => {
                // Stay until the sender has heard `done` and leaves.
                let path = saved.context("done without a saved file")?;
                let linger = Instant::now() + Duration::from_secs(5);
                while let Some(e) = c.next_event(Some(linger))? {
                    if matches!(e, ClientEvent::Endpoint(EndpointEvent::PeerClosed { .. })) {
                        break;
                    }
                }
                c.shutdown(Duration::from_millis(500));
                return Ok(path);
            }
            ClientEvent::Transfer(TransferEvent::Cancelled { reason, .. }) => {
                bail!("receiver: cancelled: {reason}")
            }
            _ => {}
        }
    }
}

fn generate(path: &Path, len: u64, bars: &mut Bars) -> Result<()> {
    // Progress of making the file, shown like a sender's hashing.
    let key = brume_proto::transfer::TransferKey {
        peer: Address::User(UserName::new("generate").map_err(|e| anyhow!("{e}"))?),
        id: 0,
        outgoing: true,
    };
    bars.start(&key, "test file");
    let mut f =
        fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut rng = fastrand::Rng::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut left = len;
    while left > 0 {
        let n = left.min(buf.len() as u64) as usize;
        rng.fill(&mut buf[..n]);
        f.write_all(&buf[..n])?;
        left -= n as u64;
        bars.phase(&key, "writing", len - left, len);
    }
    bars.finish(&key);
    Ok(())
}

fn hash(path: &Path) -> Result<blake3::Hash> {
    let mut f = fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut h = blake3::Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            return Ok(h.finalize());
        }
        h.update(&buf[..n]);
    }
}

pub fn run(a: DemoArgs) -> Result<()> {
    let tag = format!("{:06x}", fastrand::u32(..) & 0xff_ffff);
    let work = std::env::temp_dir().join(format!("brume-demo-{}-{tag}", std::process::id()));
    let result = demo(&a, &work, &tag);
    let _ = fs::remove_dir_all(&work);
    result
}

fn demo(a: &DemoArgs, work: &Path, tag: &str) -> Result<()> {
    let data = work.join("hub");
    let inbox = work.join("inbox");
    fs::create_dir_all(&inbox)?;
    let alice = UserName::new(format!("demo-alice-{tag}")).map_err(|e| anyhow!("{e}"))?;
    let bob = UserName::new(format!("demo-bob-{tag}")).map_err(|e| anyhow!("{e}"))?;
    let key = {
        let store = Store::open(&data)?;
        // No password: these users exist only for the demo's tokens.
        store.add_user_hashed(&alice, None, "!", unix_now())?;
        store.add_user_hashed(&bob, None, "!", unix_now())?;
        store.signing_key()?
    };
    let (server, hub) = HubServer::bind(&ServeOptions {
        turn: None,
        listen: SocketAddr::new(LOOPBACK, 0),
        data,
        tls: None,
        handle_signals: false,
        policy: Default::default(),
    })?;
    let url = HubUrl::parse(&format!("ws://{}", hub.local_addr()))?;
    let hub_thread = std::thread::spawn(move || server.run());
    println!("brume demo: an embedded hub at {url}, two peers in this process");

    let file = work.join(format!("demo-{}.bin", a.size));
    let mut bars = Bars::new(a.progress.progress);
    generate(&file, a.size, &mut bars)?;

    let (ready_tx, ready_rx) = mpsc::channel();
    let bob_client = client(&url, &key, &bob)?;
    let bob_thread = std::thread::spawn(move || receiver(bob_client, inbox, ready_tx));
    let mut c = client(&url, &key, &alice)?;
    wait_ready(&mut c)?;
    ready_rx
        .recv_timeout(Duration::from_secs(10))
        .map_err(|_| anyhow!("the receiver did not get ready"))?;
    println!("  users      {alice} → {bob} (throwaway)");

    // Connect by name: offer through the hub, ICE, DTLS, SCTP, channel open.
    let start = Instant::now();
    c.connect_peer(&Address::User(bob.clone()))?;
    let end = start + Duration::from_secs(20);
    let (connect, bob) = loop {
        match c.next_event(Some(end))? {
            Some(ClientEvent::Endpoint(EndpointEvent::PeerOpen { peer })) => {
                break (start.elapsed(), peer);
            }
            Some(ClientEvent::Endpoint(EndpointEvent::PeerFailed { peer, code, reason })) => {
                return Err(peer_failure(&peer, code, &reason));
            }
            Some(_) => {}
            None => bail!("no connection within 20 s"),
        }
    };
    println!(
        "  connect    {:.2} ms from connect-by-name to an open data channel",
        connect.as_secs_f64() * 1e3
    );

    let start = Instant::now();
    let key = c.send_path(&bob, &file)?;
    bars.start(&key, "demo");
    loop {
        match c.next_event(Some(start + Duration::from_secs(600)))? {
            Some(ClientEvent::Transfer(TransferEvent::Hashing { done, total, .. })) => {
                bars.hashing(&key, done, total)
            }
            Some(ClientEvent::Transfer(TransferEvent::Progress {
                done,
                total,
                resumed,
                rate,
                ..
            })) => bars.progress(&key, done, total, resumed, rate),
            Some(ClientEvent::Transfer(TransferEvent::State {
                state: TransferState::Done,
                ..
            })) => break,
            Some(ClientEvent::Transfer(TransferEvent::Cancelled { reason, .. })) => {
                bail!("the transfer was cancelled: {reason}")
            }
            Some(_) => {}
            None => bail!("the transfer did not finish within 10 minutes"),
        }
    }
    bars.finish(&key);
    let took = start.elapsed().as_secs_f64();
    let drops = c.udp_drops();
    c.shutdown(Duration::from_millis(500));
    let received = bob_thread
        .join()
        .map_err(|_| anyhow!("the receiver panicked"))??;
    println!(
        "  transfer   {} in {took:.2} s = {:.1} MiB/s (hash, offer, verified blocks, in place)",
        size(a.size),
        a.size as f64 / took.max(1e-9) / (1 << 20) as f64
    );
    let (h1, h2) = (hash(&file)?, hash(&received)?);
    let hex = h1.to_hex();
    if h1 != h2 {
        bail!("hash check FAILED: sent {hex}, received {}", h2.to_hex());
    }
    println!(
        "  hash check blake3 {}… identical on both sides",
        &hex[..16]
    );
    if let Some(d) = drops {
        println!("  udp drops  {d} (sender's socket, kernel count)");
    }
    hub.stop();
    hub_thread
        .join()
        .map_err(|_| anyhow!("the hub panicked"))??;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes_parse() {
        assert_eq!(super::parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(super::parse_size("1.5K"), Ok(1536));
        assert_eq!(super::parse_size("10"), Ok(10));
        assert!(super::parse_size("lots").is_err());
    }
}
