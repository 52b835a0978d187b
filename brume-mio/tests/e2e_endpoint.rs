//! The endpoint as people meet it through the `brume` command, with real
//! processes: a peer that dies is given up after the documented recovery
//! limit (3 s of silence to notice it, then 30 s), not after a minute.

mod common;
use common::*;

use std::process::Command;
use std::time::{Duration, Instant};

/// `EndpointConfig::silence_limit` + `recovery_limit`, the defaults.
const GIVE_UP: Duration = Duration::from_secs(33);

#[test]
fn chat_reports_a_sigkilled_peer_gone_after_the_recovery_limit() {
    let hub = Hub::start("dead-peer");
    let alice = hub.add_user("alice", "pw-alice");
    let bob = hub.add_user("bob", "pw-bob");
    let inbox = hub.dir.join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    let bob_recv = recv(&bob, &inbox, false);
    let mut chat = spawn_merged(
        Command::new(BIN)
            .env("BRUME_CONF", &alice)
            .args(["chat", "bob"]),
    );
    wait_line_within(&mut chat, "connected to bob", LIMIT);
    // The peer's process dies without a word: no SCTP or DTLS close.
    bob_recv.signal("-KILL");
    let killed = Instant::now();
    // Within 5 s the command says the peer is unreachable and that it is
    // trying to recover.
    let (line, at) = wait_line_within(&mut chat, "bob is unreachable", Duration::from_secs(5));
    assert!(line.contains("trying to recover"), "{line}");
    assert!(
        at - killed <= Duration::from_secs(5),
        "noticed after {:?}",
        at - killed
    );
    let (line, at) = wait_line_within(&mut chat, "bob left", GIVE_UP + Duration::from_secs(10));
    let took = at - killed;
    assert!(line.contains("connection lost"), "{line}");
    // Not before the limit (recovery is tried that long), and well under
    // the 54 s it took while only ICE's own timers noticed.
    assert!(
        took >= Duration::from_secs(30) && took <= GIVE_UP + Duration::from_secs(3),
        "gave up after {took:?}"
    );
    assert_ne!(chat.wait_exit(), 0, "a chat whose peer is gone fails");
}
