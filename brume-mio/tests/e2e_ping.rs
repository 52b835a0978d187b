//! Brume's own ping with real processes (any running `brume` answers it,
//! not only a `recv`), and a hub that cannot be reached named by its code,
//! ECONNREFUSED, in `brume login` and in a command waiting for the hub. An
//! application message of type `ping` is no longer the command's to answer.

mod common;
use common::*;

use std::net::TcpListener;
use std::process::Command;
use std::time::{Duration, Instant};

use brume_mio::client::{Client, ClientEvent, ClientOptions};
use brume_mio::config::ClientFile;
use brume_proto::endpoint::EndpointEvent;
use brume_proto::framing::Data;
use brume_proto::signal::{Address, UserName};

/// A local port nobody listens on (bound, then let go).
fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[test]
fn login_to_a_closed_port_says_econnrefused() {
    let dir = tmp("ping-login-closed");
    let url = format!("ws://127.0.0.1:{}", closed_port());
    let out = run_stdin(
        Command::new(BIN)
            .env("BRUME_CONF", dir.join("alice.conf"))
            .args(["login", "--url", &url, "alice", "--password-stdin"]),
        "pw",
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("cannot reach the hub") && err.contains("ECONNREFUSED"),
        "{err}"
    );
    assert!(!dir.join("alice.conf").exists(), "nothing saved");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_command_waiting_for_an_unreachable_hub_says_econnrefused() {
    let hub = Hub::start("ping-hub-closed");
    let alice = hub.add_user("alice", "pw-a");
    let mut file: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&alice).unwrap()).unwrap();
    file["url"] = format!("ws://127.0.0.1:{}", closed_port()).into();
    std::fs::write(&alice, file.to_string()).unwrap();
    let out = brume(&alice, &["ping", "bob"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let last = err.lines().last().unwrap_or_default();
    assert!(
        last.contains("no answer from the hub") && last.contains("(ECONNREFUSED)"),
        "{err}"
    );
}

#[test]
fn a_chat_answers_pings_without_seeing_them() {
    let hub = Hub::start("ping-chat");
    let (alice, mut chat, _stdin) = bob_chatting_with_alice(&hub);
    let out = brume(&alice, &["ping", "bob", "-c", "3"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(round_trips(&text), 3, "{text}");
    assert!(text.contains("median"), "{text}");
    // The pings were the endpoint's: the chat printed no message from alice.
    chat.wait_line("alice left");
    assert!(
        !chat.seen.iter().any(|l| l.starts_with("alice: ")),
        "{:?}",
        chat.seen
    );
}

#[test]
fn ping_at_an_interval_measures_each_round_trip_and_refuses_a_bad_one() {
    let hub = Hub::start("ping-interval");
    let (alice, _chat, _stdin) = bob_chatting_with_alice(&hub);
    for bad in ["-1", "nan", "inf", "soon", "3601"] {
        let out = brume(&alice, &["ping", "bob", &format!("--interval={bad}")]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{bad}: {err}");
        assert!(
            err.contains("is not a number of seconds from 0 to 3600"),
            "{bad}: {err}"
        );
    }
    let out = brume(&alice, &["ping", "bob", "-c", "3", "-i", "0.05"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(round_trips(&text), 3, "{text}");
    let lines: Vec<&str> = text.lines().collect();
    // One path line, before the first round trip: loopback never changes.
    let paths: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i].starts_with("bob: path "))
        .collect();
    assert_eq!(paths.len(), 1, "{text}");
    assert!(lines[paths[0] + 1].starts_with("bob: rtt "), "{text}");
}

/// Alice's config, and bob in `brume chat alice`, waiting for her.
fn bob_chatting_with_alice(hub: &Hub) -> (std::path::PathBuf, Proc, std::process::ChildStdin) {
    let alice = hub.add_user("alice", "pw-a");
    let bob = hub.add_user("bob", "pw-b");
    let (mut chat, stdin) = spawn_talking(
        Command::new(BIN)
            .env("BRUME_CONF", &bob)
            .args(["chat", "alice"]),
    );
    chat.wait_line("waiting for them");
    (alice, chat, stdin)
}

/// The round trips `brume ping bob` printed, without its summary line.
fn round_trips(text: &str) -> usize {
    text.lines()
        .filter(|l| l.starts_with("bob: rtt ") && !l.contains("median"))
        .count()
}

/// Runs `client` until `want` matches an event (every event seen goes to
/// `seen`), failing after [`LIMIT`].
fn until(
    client: &mut Client,
    seen: &mut Vec<ClientEvent>,
    want: impl Fn(&ClientEvent) -> bool,
) -> ClientEvent {
    let end = Instant::now() + LIMIT;
    while Instant::now() < end {
        if let Some(e) = client.next_event(Some(end)).unwrap() {
            seen.push(e.clone());
            if want(&e) {
                return e;
            }
        }
    }
    panic!("not within {LIMIT:?}; saw {seen:?}");
}

#[test]
fn the_command_no_longer_answers_an_application_ping() {
    let hub = Hub::start("ping-app");
    let (alice, _chat, _stdin) = bob_chatting_with_alice(&hub);
    let mut file = ClientFile::load(&alice).unwrap();
    file.ensure_cert().unwrap();
    let mut client = Client::connect(ClientOptions::from_file(&file).unwrap()).unwrap();
    let mut seen = Vec::new();
    until(&mut client, &mut seen, |e| {
        matches!(e, ClientEvent::Endpoint(EndpointEvent::Ready { .. }))
    });
    client
        .connect_peer(&Address::User(UserName::new("bob").unwrap()))
        .unwrap();
    until(&mut client, &mut seen, |e| {
        matches!(e, ClientEvent::Endpoint(EndpointEvent::PeerOpen { .. }))
    });
    // The connection is keyed by the device that answered.
    let bob_name = match seen.last() {
        Some(ClientEvent::Endpoint(EndpointEvent::PeerOpen { peer })) => peer.clone(),
        other => panic!("{other:?}"),
    };
    client
        .send_message(&bob_name, "ping", Data::Text("7".into()))
        .unwrap();
    // Two of Brume's pings behind it on the ordered channel: by the second
    // pong, bob's command has long handled the application ping, and an
    // answer of its would have come first.
    for _ in 0..2 {
        let nonce = client.ping(&bob_name).unwrap();
        until(
            &mut client,
            &mut seen,
            |e| matches!(e, ClientEvent::Endpoint(EndpointEvent::Pong { nonce: n, .. }) if *n == nonce),
        );
    }
    let answered = seen
        .iter()
        .any(|e| matches!(e, ClientEvent::Endpoint(EndpointEvent::Message { .. })));
    assert!(!answered, "{seen:?}");
    client.shutdown(Duration::from_secs(2));
}
