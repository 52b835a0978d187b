//! A user answers a chat from the device where her `recv` runs: the
//! `chat` leaves the device's calls to `recv` (it is not replaced) and
//! the other side's chat moves to the device that called.

mod common;
use common::*;

use std::io::Write;
use std::process::Command;

#[test]
fn a_chat_started_beside_recv_answers_and_leaves_recv_running() {
    let hub = Hub::start("chat-beside-recv");
    let alice = hub.add_user("alice", "pw-a");
    let bob = hub.add_user("bob", "pw-b");
    let inbox = hub.dir.join("alice-in");
    let mut alice_recv = Proc::spawn(
        Command::new(BIN)
            .env("BRUME_CONF", &alice)
            .args(["recv", "--yes", "--dir"])
            .arg(&inbox),
    );
    alice_recv.wait_line("ready as alice");

    // bob chats alice: her recv takes the call and prints his lines.
    let (mut bob_chat, mut bob_in) = spawn_talking(
        Command::new(BIN)
            .env("BRUME_CONF", &bob)
            .args(["chat", "alice"]),
    );
    bob_chat.wait_line("stderr: connected to alice/");
    writeln!(bob_in, "are you there?").unwrap();
    alice_recv.wait_line("bob: are you there?");

    // alice answers from the same config, so the same device as her recv.
    let (mut alice_chat, mut alice_in) = spawn_talking(
        Command::new(BIN)
            .env("BRUME_CONF", &alice)
            .args(["chat", "bob"]),
    );
    alice_chat.wait_line("stderr: connected to bob");
    bob_chat.wait_line("stderr: now chatting with alice/");
    writeln!(alice_in, "yes, here").unwrap();
    bob_chat.wait_line("alice: yes, here");
    writeln!(bob_in, "good").unwrap();
    alice_chat.wait_line("bob: good");

    // Her recv was not replaced, and still takes the calls to alice.
    assert!(
        alice_recv.child.try_wait().unwrap().is_none(),
        "{:?}",
        alice_recv.seen
    );
    let file = hub.dir.join("after.txt");
    std::fs::write(&file, "still here").unwrap();
    let out = brume(&bob, &["send", "alice", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    alice_recv.wait_line("after.txt");
    assert_eq!(
        std::fs::read(inbox.join("after.txt")).unwrap(),
        b"still here"
    );

    // alice ends her chat: bob's ends with it; her recv runs on.
    drop(alice_in);
    assert_eq!(alice_chat.wait_exit(), 0, "{:?}", alice_chat.seen);
    bob_chat.wait_line("stderr: alice left");
    assert_eq!(bob_chat.wait_exit(), 0, "{:?}", bob_chat.seen);
    drop(bob_in);
    assert!(
        alice_recv.child.try_wait().unwrap().is_none(),
        "{:?}",
        alice_recv.seen
    );
    assert!(
        !alice_recv.seen.iter().any(|l| l.contains("replaced")),
        "{:?}",
        alice_recv.seen
    );
}
