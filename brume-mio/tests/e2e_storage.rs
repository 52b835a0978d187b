//! Storage runs off the network thread: a receiver whose disk hangs on a
//! transfer still answers its peers at once.

mod common;
use common::*;

use std::fs;
use std::process::Command;
use std::time::Duration;

#[test]
fn a_receiver_whose_disk_hangs_still_answers_a_ping_at_once() {
    let hub = Hub::start("slowdisk");
    let alice = hub.add_user("alice", "pw-alice");
    let bob = hub.add_user("bob", "pw-bob");
    let carol = hub.add_user("carol", "pw-carol");
    let inbox = hub.dir.join("inbox");
    // Every storage action of bob's takes 4 s (a fault the debug build takes).
    let mut receiver = Proc::spawn(
        Command::new(BIN)
            .env("BRUME_CONF", &bob)
            .env("BRUME_TEST_SLOW_DISK_MS", "4000")
            .args(["recv", "--yes", "--dir"])
            .arg(&inbox),
    );
    receiver.wait_line("ready as");
    let file = hub.dir.join("a.txt");
    fs::write(&file, b"bytes for a slow disk").unwrap();
    let mut sender = Proc::spawn(
        Command::new(BIN)
            .env("BRUME_CONF", &alice)
            .args(["send", "bob"])
            .arg(&file),
    );
    // bob accepted: from now on his storage works through 4 s steps.
    receiver.wait_line("accepted");
    let (out, exited) = brume_within(&carol, &["ping", "bob"], Duration::from_secs(30));
    assert!(exited, "ping hung: {}", stderr(&out));
    assert!(out.status.success(), "{}", stderr(&out));
    let said = String::from_utf8_lossy(&out.stdout);
    let rtt: f64 = said
        .split("rtt ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|ms| ms.parse().ok())
        .unwrap_or_else(|| panic!("no rtt in {said}"));
    // Behind a 4 s storage step, the answer would take seconds.
    assert!(rtt < 2000.0, "the ping waited for the disk: {rtt} ms");
    let _ = sender.child.kill();
}
