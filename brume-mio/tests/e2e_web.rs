//! The hub's HTTP root: a real `brume serve` answers plain HTTP requests
//! with the embedded web app and library, by exact path and with content
//! types, nothing else; WebSocket handshakes (whole or in pieces) still
//! reach the hub on the same port.

mod common;
use common::*;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

fn addr(hub: &Hub) -> String {
    hub.url.trim_start_matches("ws://").to_owned()
}

/// Sends `parts` one after another (each flushed) and reads the whole answer.
fn exchange(hub: &Hub, parts: &[&str]) -> String {
    let mut sock = TcpStream::connect(addr(hub)).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    for part in parts {
        sock.write_all(part.as_bytes()).unwrap();
        sock.flush().unwrap();
    }
    let mut out = Vec::new();
    let _ = sock.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

fn get(hub: &Hub, path: &str) -> String {
    exchange(hub, &[&format!("GET {path} HTTP/1.1\r\nHost: hub\r\n\r\n")])
}

fn header<'a>(reply: &'a str, name: &str) -> Option<&'a str> {
    let head = reply.split("\r\n\r\n").next().unwrap();
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

#[test]
fn the_hub_serves_the_app_and_the_library_with_their_types() {
    let hub = Hub::start("web");
    let index = get(&hub, "/");
    assert!(index.starts_with("HTTP/1.1 200 OK\r\n"), "{index}");
    assert_eq!(
        header(&index, "content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(index.contains("<title>Brume</title>"));
    let body = index.split("\r\n\r\n").nth(1).unwrap();
    assert_eq!(
        header(&index, "content-length"),
        Some(body.len().to_string().as_str())
    );
    for (path, needle) in [
        ("/brume.mjs", "export class Brume"),
        ("/app.mjs", "import { Brume }"),
        ("/transfer.mjs", "brume-ft/"),
        ("/vendor/hash-wasm-blake3.umd.min.js", "hash-wasm"),
    ] {
        let reply = get(&hub, path);
        assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{path}: {reply}");
        assert_eq!(
            header(&reply, "content-type"),
            Some("text/javascript; charset=utf-8"),
            "{path}"
        );
        assert!(reply.contains(needle), "{path}");
    }
    let css = get(&hub, "/app.css");
    assert_eq!(
        header(&css, "content-type"),
        Some("text/css; charset=utf-8")
    );
    assert_eq!(header(&css, "x-content-type-options"), Some("nosniff"));
}

#[test]
fn nothing_outside_the_app_is_served_and_no_folder_is_listed() {
    let hub = Hub::start("web-404");
    for path in [
        "/vendor/",
        "/vendor",
        "/../Cargo.toml",
        "/..%2fCargo.toml",
        "/storage-node.mjs",
        "/test/helpers.mjs",
        "/package.json",
        "/node_modules/ws/index.js",
        "/hub.key",
        "/login",
    ] {
        let reply = get(&hub, path);
        assert!(
            reply.starts_with("HTTP/1.1 404 Not Found\r\n"),
            "{path}: {reply}"
        );
    }
    let post = exchange(&hub, &["POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n"]);
    assert!(post.starts_with("HTTP/1.1 405 "), "{post}");
    // A head that never ends is refused once it is too long, not kept.
    let long = format!("GET / HTTP/1.1\r\nX: {}\r\n", "a".repeat(9000));
    let reply = exchange(&hub, &[&long]);
    assert!(reply.starts_with("HTTP/1.1 431 "), "{reply}");
}

#[test]
fn a_connection_that_sends_its_request_later_is_answered() {
    let hub = Hub::start("web-later");
    // Browsers open sockets ahead of their requests. The early socket is
    // accepted no later than the second one, whose whole answer comes first.
    let mut early = TcpStream::connect(addr(&hub)).unwrap();
    early
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    assert!(get(&hub, "/app.css").starts_with("HTTP/1.1 200 OK\r\n"));
    early
        .write_all(b"GET /brume.mjs HTTP/1.1\r\nHost: hub\r\n\r\n")
        .unwrap();
    let mut out = Vec::new();
    let _ = early.read_to_end(&mut out);
    let reply = String::from_utf8_lossy(&out);
    assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
}

#[test]
fn requests_in_pieces_are_answered_and_websockets_still_reach_the_hub() {
    let hub = Hub::start("web-ws");
    let reply = exchange(
        &hub,
        &["GET /brume.mjs HT", "TP/1.1\r\nHost: hub\r\n", "\r\n"],
    );
    assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
    // A WebSocket handshake in two pieces is the hub's, answered 101.
    let mut sock = TcpStream::connect(addr(&hub)).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    sock.write_all(b"GET / HTTP/1.1\r\nHost: hub\r\nUpgrade: websocket\r\n")
        .unwrap();
    sock.flush().unwrap();
    sock.write_all(
        b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .unwrap();
    let mut buf = [0; 256];
    let n = sock.read(&mut buf).unwrap();
    let answer = String::from_utf8_lossy(&buf[..n]);
    assert!(answer.starts_with("HTTP/1.1 101"), "{answer}");
    // And the command's own WebSocket logins work on the same port.
    let conf = hub.dir.join("login.conf");
    hub.add_user("alice", "pw-alice-secret");
    let out = run_stdin(
        std::process::Command::new(BIN)
            .args(["login", "--url", &hub.url, "alice", "--password-stdin"])
            .env("BRUME_CONF", &conf),
        "pw-alice-secret",
    );
    assert!(out.status.success(), "{}", stderr(&out));
}
