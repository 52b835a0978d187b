//! A hub that lies, with real processes: a proxy between the clients and a
//! real `brume serve` rewrites the DTLS fingerprint in every SDP the hub
//! relays (what a hub putting its own DTLS endpoint in the middle must
//! do). Devices met before through the honest hub are not trusted through
//! the lying one, and a first meeting through it never opens either.

mod common;
use common::*;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

const TAG: &[u8] = b"a=fingerprint:sha-256 ";
/// `AB:` × 31 and a last `AB`: the hex of a SHA-256 fingerprint.
const HEX_LEN: usize = 95;

/// Rewrites each complete fingerprint in `buf` (hex digits become `E`),
/// and returns how many leading bytes are safe to send: none that could
/// start a fingerprint not yet complete.
fn forge(buf: &mut [u8]) -> usize {
    let mut from = 0;
    while let Some(i) = buf[from..].windows(TAG.len()).position(|w| w == TAG) {
        let start = from + i + TAG.len();
        if buf.len() < start + HEX_LEN {
            return from + i;
        }
        for b in &mut buf[start..start + HEX_LEN] {
            if b.is_ascii_hexdigit() {
                *b = b'E';
            }
        }
        from = start + HEX_LEN;
    }
    // A tag may begin in the last bytes.
    buf.len().saturating_sub(TAG.len() - 1).max(from)
}

/// Hub → client: frames the hub sends are unmasked text, and the rewrite
/// keeps their length, so bytes can be changed in place.
fn relay_down(mut from: TcpStream, mut to: TcpStream, lying: Arc<AtomicBool>) {
    from.set_read_timeout(Some(Duration::from_millis(20)))
        .unwrap();
    let mut held: Vec<u8> = Vec::new();
    let mut chunk = [0u8; 16384];
    loop {
        match from.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => held.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                // Quiet: nothing more is coming for now; send what is held.
                if to.write_all(&held).is_err() {
                    break;
                }
                held.clear();
                continue;
            }
            Err(_) => break,
        }
        let safe = if lying.load(Ordering::SeqCst) {
            forge(&mut held)
        } else {
            held.len()
        };
        if to.write_all(&held[..safe]).is_err() {
            break;
        }
        held.drain(..safe);
    }
    let _ = to.shutdown(std::net::Shutdown::Both);
}

/// A TCP proxy in front of `hub`; the URL to give clients.
fn lying_proxy(hub: &str, lying: Arc<AtomicBool>) -> String {
    let upstream = hub
        .trim_start_matches("ws://")
        .trim_end_matches('/')
        .to_owned();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { return };
            let Ok(server) = TcpStream::connect(&upstream) else {
                continue;
            };
            let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            let lying = lying.clone();
            std::thread::spawn(move || {
                let (mut c, mut s) = (c2, s2);
                let _ = std::io::copy(&mut c, &mut s);
                let _ = s.shutdown(std::net::Shutdown::Write);
            });
            std::thread::spawn(move || relay_down(server, client, lying));
        }
    });
    url
}

fn through(conf: &std::path::Path, url: &str) {
    let mut cfg: serde_json::Value = serde_json::from_slice(&std::fs::read(conf).unwrap()).unwrap();
    cfg["url"] = url.into();
    std::fs::write(conf, serde_json::to_vec_pretty(&cfg).unwrap()).unwrap();
}

#[test]
fn a_hub_that_rewrites_fingerprints_is_never_trusted() {
    let hub = Hub::start("lying-hub");
    let lying = Arc::new(AtomicBool::new(false));
    let url = lying_proxy(&hub.url, lying.clone());
    let alice = hub.add_user("alice", "pw-a");
    let bob = hub.add_user("bob", "pw-b");
    let carol = hub.add_user("carol", "pw-c");
    for conf in [&alice, &bob, &carol] {
        through(conf, &url);
    }
    let inbox = hub.dir.join("bob-in");
    let mut recv_bob = recv(&bob, &inbox, false);
    let file = hub.dir.join("a.txt");
    std::fs::write(&file, "honest").unwrap();

    // Through the honest proxy: alice meets bob, and pins him.
    let out = brume(&alice, &["send", "bob", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    recv_bob.wait_line("a.txt");

    // The hub starts lying.
    lying.store(true, Ordering::SeqCst);
    let other = hub.dir.join("b.txt");
    std::fs::write(&other, "through the liar").unwrap();
    let out = brume(&alice, &["send", "bob", other.to_str().unwrap()]);
    assert_identity_refused(&out);
    assert!(!inbox.join("b.txt").exists());
    // carol meets bob for the first time through the liar: the signature
    // does not match the rewritten fingerprint, so nothing opens.
    let out = brume(&carol, &["send", "bob", other.to_str().unwrap()]);
    assert_identity_refused(&out);
    assert!(!inbox.join("b.txt").exists());

    // Honest again: alice reaches the bob she pinned.
    lying.store(false, Ordering::SeqCst);
    let out = brume(&alice, &["send", "bob", other.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    recv_bob.wait_line("b.txt");
}

/// The send failed, saying the peer is not who it should be.
fn assert_identity_refused(out: &std::process::Output) {
    assert_eq!(out.status.code(), Some(1), "{}", stderr(out));
    assert!(
        stderr(out).contains("identity check failed")
            || stderr(out).contains("not the device you met before"),
        "{}",
        stderr(out)
    );
}
