//! Contacts by invitation on a hub that lets only contacts call, with real
//! processes: a stranger is refused with a clear message, an invitation
//! claimed once makes two contacts, a second claim is refused, and the
//! contacts then call each other; the hub keeps all of it across a restart.

mod common;
use common::*;

use std::process::Command;

#[test]
fn only_contacts_call_and_an_invitation_makes_them_once() {
    let hub = Hub::start_serving("contacts", &["--policy", "contacts"]);
    let alice = hub.add_user("alice", "pw-a");
    let bob = hub.add_user("bob", "pw-b");
    let carol = hub.add_user("carol", "pw-c");
    let inbox = hub.dir.join("alice-in");
    let mut alice_recv = recv(&alice, &inbox, false);
    let file = hub.dir.join("hello.txt");
    std::fs::write(&file, "hello alice").unwrap();

    // A stranger cannot call, and is told how to become a contact.
    let out = brume(&bob, &["send", "alice", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("not a contact of yours"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("brume invite"), "{}", stderr(&out));
    assert!(!inbox.join("hello.txt").exists());

    // alice invites; bob claims; both see each other under their alias.
    let out = brume(&alice, &["invite", "Bob from work"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let token = stdout(&out).trim().to_owned();
    assert!(token.len() > 40, "{token}");
    let out = brume(&bob, &["claim", &token, "Alice"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("alice is now a contact, as Alice"),
        "{}",
        stdout(&out)
    );
    let out = brume(&alice, &["contacts"]);
    assert_eq!(stdout(&out), "bob\tBob from work\n");

    // Good once: carol cannot use it too.
    let out = brume(&carol, &["claim", &token, "Alice"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("EINVITEUSED"), "{}", stderr(&out));
    let out = brume(&carol, &["claim", "not-a-token", "Alice"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("not a valid invitation"),
        "{}",
        stderr(&out)
    );

    // Contacts call each other.
    let out = brume(&bob, &["send", "alice", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    alice_recv.wait_line("hello.txt");
    assert_eq!(
        std::fs::read(inbox.join("hello.txt")).unwrap(),
        b"hello alice"
    );
    let out = brume(&carol, &["ping", "alice", "--count", "1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("not a contact"), "{}", stderr(&out));
    drop(alice_recv);

    // The hub keeps contacts and spent invitations across a restart.
    let data = hub.data.clone();
    let mut hub = hub;
    hub.proc.signal("-TERM");
    assert_eq!(hub.proc.wait_exit(), 0);
    let mut again = Proc::spawn(
        Command::new(BIN)
            .args(["serve", "--policy", "contacts", "--listen"])
            .arg(hub.url.trim_start_matches("ws://").trim_end_matches('/'))
            .arg("--data")
            .arg(&data),
    );
    again.wait_line("listening on");
    let out = brume(&bob, &["contacts"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "alice\tAlice\n");
    let out = brume(&carol, &["claim", &token, "Alice"]);
    assert!(stderr(&out).contains("EINVITEUSED"), "{}", stderr(&out));
}
