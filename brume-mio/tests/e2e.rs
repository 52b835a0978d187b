//! End to end: a real `brume serve` on a free loopback port and real `brume`
//! clients as processes. Every wait is on an output line, a file or an exit,
//! with a deadline; nothing sleeps in place of synchronisation.

use std::io::Write;
use std::process::Command;

use brume_proto::signal::UserName;
use brume_proto::token::TokenKind;

mod common;
use common::*;

#[test]
fn a_file_goes_end_to_end_through_a_real_hub() {
    let hub = Hub::start("send");
    let alice = hub.add_user("alice", "correct horse");
    let bob = hub.add_user("bob", "battery staple");
    let inbox = hub.dir.join("inbox");
    let mut receiver = recv(&bob, &inbox, true);

    let file = hub.dir.join("payload.bin");
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
    std::fs::write(&file, &data).unwrap();
    let out = brume(&alice, &["send", "bob", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("sent payload.bin"));

    receiver.wait_line("done: transfer from alice verified");
    assert_eq!(receiver.wait_exit(), 0);
    assert_eq!(std::fs::read(inbox.join("payload.bin")).unwrap(), data);

    // A second send of the same name lands beside it, never over it.
    let mut receiver = recv(&bob, &inbox, true);
    let out = brume(&alice, &["send", "bob", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    receiver.wait_line("done:");
    assert_eq!(receiver.wait_exit(), 0);
    let names: Vec<_> = std::fs::read_dir(&inbox)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
}

#[test]
fn login_ping_and_clear_errors() {
    let hub = Hub::start("errors");
    let _ = hub.add_user("alice", "pw-alice");
    let bob = hub.add_user("bob", "pw-bob");

    // Password login writes a config that works.
    let conf = hub.dir.join("login.conf");
    let out = run_stdin(
        Command::new(BIN).env("BRUME_CONF", &conf).args([
            "login",
            "--url",
            &hub.url,
            "alice",
            "--password-stdin",
        ]),
        "pw-alice",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run_stdin(
        Command::new(BIN)
            .env("BRUME_CONF", hub.dir.join("x.conf"))
            .args(["login", "--url", &hub.url, "alice", "--password-stdin"]),
        "wrong",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("wrong user name or password"),
        "{}",
        stderr(&out)
    );

    let out = brume(&conf, &["ping", "carol"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no user carol"), "{}", stderr(&out));
    let out = brume(&conf, &["ping", "bob"]);
    assert!(
        stderr(&out).contains("bob is not online"),
        "{}",
        stderr(&out)
    );

    let mut receiver = spawn_all(
        Command::new(BIN)
            .env("BRUME_CONF", &bob)
            .args(["recv", "--yes", "--dir"])
            .arg(hub.dir.join("in")),
    );
    receiver.wait_line("ready as");
    let out = brume(&conf, &["ping", "bob", "-c", "2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("channel open in") && text.contains("median"),
        "{text}"
    );

    // An expired access token is refreshed, and the new one saved.
    let mut file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&conf).unwrap()).unwrap();
    let expired = hub.key().mint(
        &UserName::new("alice").unwrap(),
        TokenKind::Access,
        1_000_000,
        60,
    );
    file["access_token"] = expired.clone().into();
    std::fs::write(&conf, file.to_string()).unwrap();
    let out = brume(&conf, &["ping", "bob", "-c", "1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&conf).unwrap()).unwrap();
    assert_ne!(saved["access_token"].as_str().unwrap(), expired);

    // Without a refresh token, the expired token is a clear error.
    file["refresh_token"] = serde_json::Value::Null;
    std::fs::write(&conf, file.to_string()).unwrap();
    let out = brume(&conf, &["ping", "bob"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("expired"), "{}", stderr(&out));

    // Bad flags, and an unreachable hub.
    let out = brume(&conf, &["ping"]);
    assert_eq!(out.status.code(), Some(2));
    file["url"] = "ws://127.0.0.1:1".into();
    std::fs::write(&conf, file.to_string()).unwrap();
    let out = brume(&conf, &["ping", "bob"]);
    assert_eq!(out.status.code(), Some(1));
    let last = stderr(&out).lines().last().unwrap_or_default().to_owned();
    assert!(
        last.contains("no answer from the hub") && last.contains("cannot reach the hub"),
        "{}",
        stderr(&out)
    );

    // SIGTERM: the hub closes sessions with a reason and exits cleanly; a
    // receiver hears why and keeps running, waiting for the hub to return.
    let mut hub = hub;
    hub.proc.signal("-TERM");
    assert_eq!(hub.proc.wait_exit(), 0);
    receiver.wait_line("the hub closed the session: shutdown (ENOSRV); trying again");
    assert!(receiver.child.try_wait().unwrap().is_none(), "recv exited");
    receiver.signal("-TERM");
    assert_eq!(receiver.wait_exit(), 0);
}

#[test]
fn the_hub_serves_wss_with_a_given_certificate() {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    let dir = tmp("tls");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &ca)
        .unwrap();
    let (ca_pem, cert_pem, key_pem) = (
        dir.join("ca.pem"),
        dir.join("cert.pem"),
        dir.join("key.pem"),
    );
    std::fs::write(&ca_pem, ca.pem()).unwrap();
    std::fs::write(&cert_pem, leaf.pem()).unwrap();
    std::fs::write(&key_pem, leaf_key.serialize_pem()).unwrap();

    let data = dir.join("hub");
    let mut hub = Proc::spawn(
        Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(&data)
            .arg("--tls-cert")
            .arg(&cert_pem)
            .arg("--tls-key")
            .arg(&key_pem),
    );
    let line = hub.wait_line("listening on");
    let port = line
        .split("127.0.0.1:")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap();
    let url = format!("wss://localhost:{port}");
    for (name, pw) in [("alice", "pa"), ("bob", "pb")] {
        let out = run_stdin(
            Command::new(BIN)
                .args(["user", "add", name, "--password-stdin", "--data"])
                .arg(&data),
            pw,
        );
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let login = |name: &str, pw: &str| {
        let conf = dir.join(format!("{name}.conf"));
        let out = run_stdin(
            Command::new(BIN)
                .env("BRUME_CONF", &conf)
                .args(["login", "--url", &url, name, "--password-stdin", "--ca"])
                .arg(&ca_pem),
            pw,
        );
        assert!(out.status.success(), "{}", stderr(&out));
        conf
    };
    let (alice, bob) = (login("alice", "pa"), login("bob", "pb"));
    // Without the CA, the hub's certificate is not trusted.
    let out = run_stdin(
        Command::new(BIN)
            .env("BRUME_CONF", dir.join("x.conf"))
            .args(["login", "--url", &url, "alice", "--password-stdin"]),
        "pa",
    );
    assert_eq!(out.status.code(), Some(1));

    let _receiver = recv(&bob, &dir.join("in"), false);
    let out = brume(&alice, &["ping", "bob", "-c", "1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    drop(hub);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The hub survives any bytes on its socket: raw garbage, garbage after a
/// good WebSocket handshake, frames over the limit, binary frames. After
/// each, the same hub still logs a user in.
#[test]
fn the_hub_survives_any_bytes_on_its_socket() {
    let hub = Hub::start("garbage");
    let _ = hub.add_user("alice", "pw-alice");
    let addr = hub
        .url
        .trim_start_matches("ws://")
        .trim_end_matches('/')
        .to_owned();
    let mut rng = fastrand::Rng::with_seed(5);
    let mut junk = |n: usize| -> Vec<u8> { (0..n).map(|_| rng.u8(..)).collect() };

    // Raw bytes that are not HTTP at all.
    for n in [1, 100, 70_000] {
        let mut s = std::net::TcpStream::connect(&addr).unwrap();
        let _ = s.write_all(&junk(n));
    }
    // A good handshake, then garbage, an oversized frame and a binary frame.
    let (mut ws, _) = tungstenite::connect(hub.url.as_str()).unwrap();
    let _ = ws.send(tungstenite::Message::text("{not json"));
    let _ = ws.send(tungstenite::Message::binary(junk(1000)));
    let _ = ws.send(tungstenite::Message::text("x".repeat(200_000)));
    let _ = ws.get_mut().write_all(&junk(5000));
    drop(ws);

    // The hub still works.
    let conf = hub.dir.join("after.conf");
    let out = run_stdin(
        Command::new(BIN).env("BRUME_CONF", &conf).args([
            "login",
            "--url",
            &hub.url,
            "alice",
            "--password-stdin",
        ]),
        "pw-alice",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(conf.exists());
}
