//! Who a peer is, with real processes: the first send pins the receiver's
//! identity key; `verify` and `whoami` print the same short form; a
//! receiver set up again (a new key) is refused with a clear message
//! until `brume trust`.

mod common;
use common::*;

fn conf_json(path: &std::path::Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn a_changed_device_is_refused_until_trusted() {
    let hub = Hub::start("identity");
    let alice = hub.add_user("alice", "pw-a");
    let bob = hub.add_user("bob", "pw-b");
    let inbox = hub.dir.join("bob-in");
    let file = hub.dir.join("note.txt");
    std::fs::write(&file, "for bob").unwrap();

    let mut recv_bob = recv(&bob, &inbox, false);
    let out = brume(&alice, &["send", "bob", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    recv_bob.wait_line("note.txt");
    let pins = conf_json(&alice)["pins"].clone();
    let (pinned_peer, _) = pins.as_object().unwrap().iter().next().unwrap();
    assert!(pinned_peer.starts_with("bob/"), "{pins}");

    // Out of band: alice's verify shows what bob's whoami says.
    let whoami = stdout(&brume(&bob, &["whoami"]));
    let short = whoami.lines().nth(1).unwrap().to_owned();
    let verify = stdout(&brume(&alice, &["verify", "bob"]));
    assert_eq!(verify.trim(), format!("{pinned_peer}\t{short}"));
    drop(recv_bob);

    // bob's device is set up again: a new key and certificate.
    let mut cfg = conf_json(&bob);
    cfg.as_object_mut().unwrap().remove("dtls_cert");
    cfg.as_object_mut().unwrap().remove("identity_key");
    std::fs::write(&bob, serde_json::to_vec_pretty(&cfg).unwrap()).unwrap();
    let mut recv_bob = recv(&bob, &inbox, false);
    let again = hub.dir.join("again.txt");
    std::fs::write(&again, "again").unwrap();
    let out = brume(&alice, &["send", "bob", again.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("not the device you met before"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("brume trust bob"), "{}", stderr(&out));
    assert!(!inbox.join("again.txt").exists());

    // After checking, alice trusts the new one: it connects, and is pinned.
    let out = brume(&alice, &["trust", "bob"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = brume(&alice, &["send", "bob", again.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    recv_bob.wait_line("again.txt");
    let new_short = stdout(&brume(&bob, &["whoami"]))
        .lines()
        .nth(1)
        .unwrap()
        .to_owned();
    assert_ne!(new_short, short);
    let verify = stdout(&brume(&alice, &["verify", "bob"]));
    assert!(verify.contains(&new_short), "{verify}");

    let out = brume(&alice, &["trust", "carol"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no pin for carol"),
        "{}",
        stderr(&out)
    );
}
