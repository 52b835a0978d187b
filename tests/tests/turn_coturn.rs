//! The sans-IO TURN client against a real coturn (Debian's `coturn`),
//! started here on 127.0.0.1 with a generated config and `use-auth-secret`,
//! and stopped after. Skipped, visibly, where `turnserver` is not installed.

use std::io::Write;
use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use brume_proto::turn::{Received, TurnClient, TurnCredentials, TurnError, TurnEvent};

const SECRET: &str = "brume-coturn-test-secret";

/// A coturn process, killed and its directory removed on drop.
struct Coturn {
    child: Child,
    dir: PathBuf,
    addr: SocketAddr,
}

impl Drop for Coturn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Starts coturn, or says why not (visibly: libtest does not capture a
/// direct write to stderr) and returns `None`.
fn coturn() -> Option<Coturn> {
    if Command::new("turnserver")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_err()
    {
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: coturn's `turnserver` is not installed (apt-get install -y coturn)"
        );
        return None;
    }
    let port = free_udp_port();
    let dir = std::env::temp_dir().join(format!("brume-coturn-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let config = format!(
        "listening-ip=127.0.0.1\nlistening-port={port}\nrelay-ip=127.0.0.1\n\
         min-port=49152\nmax-port=65535\nrealm=brume.test\n\
         use-auth-secret\nstatic-auth-secret={SECRET}\n\
         no-tls\nno-dtls\nno-tcp\nno-cli\nallow-loopback-peers\n\
         pidfile={pid}\nlog-file={log}\nsimple-log\n",
        pid = dir.join("turn.pid").display(),
        log = dir.join("turn.log").display(),
    );
    let config_path = dir.join("turnserver.conf");
    std::fs::write(&config_path, config).expect("config");
    let child = Command::new("turnserver")
        .arg("-c")
        .arg(&config_path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("turnserver starts");
    Some(Coturn {
        child,
        dir,
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
    })
}

fn credentials(secret: &str) -> TurnCredentials {
    let expiry = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
        + 3600;
    TurnCredentials::shared_secret(secret.as_bytes(), "alice", expiry)
}

/// Moves datagrams between the client and its socket on real time until
/// `done` says so or 15 s pass. `offset` is added to the client's clock,
/// to reach a refresh without waiting minutes.
fn drive(
    client: &mut TurnClient,
    socket: &UdpSocket,
    offset: Duration,
    mut done: impl FnMut(&mut TurnClient, Option<Received>) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut buf = [0u8; 2048];
    loop {
        while let Some(t) = client.poll_transmit() {
            socket.send_to(&t.contents, t.destination).expect("send");
        }
        if done(client, None) {
            return;
        }
        let now = Instant::now();
        assert!(now < deadline, "no progress with coturn in 15 s");
        let wait = client
            .poll_timeout()
            .map_or(Duration::from_millis(100), |t| {
                t.saturating_duration_since(now + offset)
            })
            .clamp(Duration::from_millis(1), Duration::from_millis(100));
        socket.set_read_timeout(Some(wait)).expect("timeout");
        match socket.recv_from(&mut buf) {
            Ok((n, from)) => {
                let got = client.handle_datagram(Instant::now() + offset, from, &buf[..n]);
                if done(client, Some(got)) {
                    return;
                }
            }
            Err(_) => client.handle_timeout(Instant::now() + offset),
        }
    }
}

#[test]
fn allocates_relays_both_ways_and_refreshes_against_coturn() {
    let Some(server) = coturn() else { return };
    let socket = UdpSocket::bind("127.0.0.1:0").expect("client socket");
    let peer = UdpSocket::bind("127.0.0.1:0").expect("peer socket");
    let peer_addr = peer.local_addr().unwrap();
    let base = socket.local_addr().unwrap();
    let mut client = TurnClient::new(Instant::now(), server.addr, base, credentials(SECRET), 7);

    let mut relay = None;
    drive(&mut client, &socket, Duration::ZERO, |c, _| {
        match c.poll_event() {
            Some(TurnEvent::Allocated { relay: r, mapped }) => {
                assert_eq!(mapped, Some(base), "no NAT on loopback");
                relay = Some(r);
            }
            Some(other) => panic!("unexpected {other:?}"),
            None => {}
        }
        relay.is_some()
    });
    let relay = relay.unwrap();
    assert_eq!(relay.ip(), server.addr.ip());

    // Out through a channel: the peer sees the relay address as the sender.
    assert!(client.send_to(Instant::now(), peer_addr, b"hello through coturn"));
    let mut buf = [0u8; 2048];
    peer.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut got = None;
    drive(&mut client, &socket, Duration::ZERO, |_, _| {
        if let Ok((n, from)) = peer.recv_from(&mut buf) {
            got = Some((buf[..n].to_vec(), from));
        }
        got.is_some()
    });
    assert_eq!(got, Some((b"hello through coturn".to_vec(), relay)));

    // And back: the peer writes to the relay address.
    peer.send_to(b"hello back", relay).unwrap();
    let mut back = None;
    drive(&mut client, &socket, Duration::ZERO, |_, r| {
        if let Some(Received::Data { peer, data }) = r {
            back = Some((peer, data));
        }
        back.is_some()
    });
    assert_eq!(back, Some((peer_addr, b"hello back".to_vec())));

    // A refresh at half the lifetime (the client's clock moved ahead),
    // then the allocation still carries data.
    let ahead = Duration::from_secs(301);
    let before = client.poll_timeout().unwrap();
    client.handle_timeout(Instant::now() + ahead);
    let mut refreshed = false;
    drive(&mut client, &socket, ahead, |c, _| {
        if let Some(e) = c.poll_event() {
            panic!("unexpected {e:?}");
        }
        refreshed = c.poll_timeout().is_some_and(|t| t > before + ahead / 2);
        refreshed
    });
    assert!(client.relay_address() == Some(relay));
    peer.send_to(b"after refresh", relay).unwrap();
    let mut after = None;
    drive(&mut client, &socket, ahead, |_, r| {
        if let Some(Received::Data { data, .. }) = r {
            after = Some(data);
        }
        after.is_some()
    });
    assert_eq!(after.as_deref(), Some(&b"after refresh"[..]));

    client.deallocate(Instant::now() + ahead);
    drive(&mut client, &socket, ahead, |c, _| c.is_over());
}

#[test]
fn a_wrong_secret_is_a_clear_error_from_coturn() {
    let Some(server) = coturn() else { return };
    let socket = UdpSocket::bind("127.0.0.1:0").expect("client socket");
    let base = socket.local_addr().unwrap();
    let mut client = TurnClient::new(
        Instant::now(),
        server.addr,
        base,
        credentials("not-the-secret"),
        8,
    );
    let mut failure = None;
    drive(&mut client, &socket, Duration::ZERO, |c, _| {
        if let Some(TurnEvent::Failed(e)) = c.poll_event() {
            failure = Some(e);
        }
        failure.is_some()
    });
    let failure = failure.unwrap();
    assert!(
        matches!(failure, TurnError::Unauthorized { .. }),
        "{failure}"
    );
    assert!(failure.to_string().contains("refused the credentials"));
}
