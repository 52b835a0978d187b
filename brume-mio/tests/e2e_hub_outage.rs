//! End to end: the hub dies in the middle of a transfer. Connections outlive
//! it, the clients say they are waiting and reconnect on their own, and a
//! command that needs the hub for a new connection fails clearly after its
//! timeout.

mod common;
use common::*;

use std::process::Command;

/// The port of a `ws://127.0.0.1:PORT` URL.
fn port(url: &str) -> u16 {
    url.trim_start_matches("ws://127.0.0.1:")
        .trim_end_matches('/')
        .parse()
        .expect("a loopback URL with a port")
}

#[test]
fn a_transfer_outlives_a_killed_hub_and_the_receiver_is_reachable_after_it_returns() {
    let mut hub = Hub::start("outage");
    let alice = hub.add_user("alice", "pw-a");
    let bob = hub.add_user("bob", "pw-b");
    let inbox = hub.dir.join("in");
    std::fs::create_dir_all(&inbox).unwrap();
    let mut receiver = spawn_all(
        Command::new(BIN)
            .env("BRUME_CONF", &bob)
            .args(["recv", "--yes", "--dir"])
            .arg(&inbox),
    );
    receiver.wait_line("ready as bob");

    // Large enough to be in flight for a while, even in a fast build.
    let file = hub.dir.join("big.bin");
    let mut rng = fastrand::Rng::with_seed(11);
    let data: Vec<u8> = (0..192 * 1024 * 1024).map(|_| rng.u8(..)).collect();
    std::fs::write(&file, &data).unwrap();
    let mut sender = spawn_all(
        Command::new(BIN)
            .env("BRUME_CONF", &alice)
            .args(["send", "bob"])
            .arg(&file),
    );
    receiver.wait_line("offers big.bin");
    hub.proc.child.kill().unwrap();
    hub.proc.child.wait().unwrap();

    // Both sides hear that the hub went away before the transfer ends, and
    // the transfer still completes in this same process: no resume.
    sender.wait_line("lost the connection to the hub");
    sender.wait_line("sent big.bin");
    assert_eq!(sender.wait_exit(), 0, "{:?}", sender.seen);
    receiver.wait_line("lost the connection to the hub");
    receiver.wait_line("done: transfer from alice verified");
    let got = std::fs::read(inbox.join("big.bin")).unwrap();
    assert!(got == data, "the received file differs");

    // With no hub, a new connection waits for it, says so, and gives up.
    let mut ping = spawn_all(
        Command::new(BIN)
            .env("BRUME_CONF", &alice)
            .args(["ping", "bob", "-c", "1"]),
    );
    ping.wait_line("waiting for the hub");
    let line = ping.wait_line("no answer from the hub");
    assert!(line.contains("cannot reach the hub"), "{line}");
    assert_ne!(ping.wait_exit(), 0);

    // The hub comes back on the same port and store; the same running
    // receiver signs in again and answers a new ping.
    let mut again = Proc::spawn(
        Command::new(BIN)
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{}", port(&hub.url)),
                "--data",
            ])
            .arg(&hub.data),
    );
    again.wait_line("listening on");
    receiver.wait_line("the hub is back");
    let out = brume(&alice, &["ping", "bob", "-c", "1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(receiver.child.try_wait().unwrap().is_none(), "recv exited");
}
