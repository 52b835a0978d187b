//! The owner's devices and `brume share` beside `brume recv` (issue 12),
//! with real processes: bob runs `recv` and `share` on one device and a
//! second `share` on his laptop; carol is a member. Carol's call scoped to
//! the group reaches bob's share (the session that published the group's
//! members), her plain `send` still reaches his recv, neither replaces the
//! other, and bob's laptop (a root with `bob/photos` but no `.members`)
//! mirrors the group as a member does.

mod common;
use common::*;

#[test]
fn share_lives_beside_recv_and_the_owners_other_device_mirrors_the_group() {
    let hub = Hub::start("share-devices");
    let bob = hub.add_user("bob", "pw-b");
    let carol = hub.add_user("carol", "pw-c");
    let bob_laptop = hub.dir.join("bob-laptop.conf");
    share_login(&hub, &bob_laptop, "bob", "pw-b", "laptop");

    let owned = hub.dir.join("root-bob/bob/photos");
    share_write(&owned.join(".members"), "carol\n");
    share_write(&owned.join("2024/beach.jpg"), "beach");
    share_write(&owned.join("notes.txt"), "notes v1");
    let at_carol = hub.dir.join("root-carol/bob/photos");
    let at_laptop = hub.dir.join("root-laptop/bob/photos");
    std::fs::create_dir_all(&at_carol).unwrap();
    std::fs::create_dir_all(&at_laptop).unwrap();

    let inbox = hub.dir.join("bob-inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    let mut bob_recv = recv(&bob, &inbox, false);
    let mut owner = share_daemon(&bob, &hub.dir.join("root-bob"));
    wait_line_within(&mut owner, "bob/photos: serving", LIMIT);
    let _carol = share_daemon(&carol, &hub.dir.join("root-carol"));
    let mut laptop = share_daemon(&bob_laptop, &hub.dir.join("root-laptop"));

    let expected = share_tree(&owned);
    share_wait(&at_carol, &expected, "carol's first sync");
    share_wait(&at_laptop, &expected, "the laptop's first sync");

    // A plain call to bob still reaches his recv, which was never replaced.
    let file = hub.dir.join("hello.txt");
    std::fs::write(&file, "for bob's recv").unwrap();
    let out = brume_within(&carol, &["send", "bob", file.to_str().unwrap()], LIMIT).0;
    assert!(out.status.success(), "{}", stderr(&out));
    bob_recv.wait_line("hello.txt");
    assert_eq!(
        std::fs::read_to_string(inbox.join("hello.txt")).unwrap(),
        "for bob's recv"
    );

    // The owner's change reaches both.
    share_write(&owned.join("notes.txt"), "notes v2");
    std::fs::remove_file(owned.join("2024/beach.jpg")).unwrap();
    let expected = share_tree(&owned);
    share_wait(&at_carol, &expected, "the owner's change at carol's");
    share_wait(&at_laptop, &expected, "the owner's change on the laptop");
    // The laptop is a mirror: it never served the group; nobody was replaced.
    assert!(!drain(&mut laptop).iter().any(|l| l.contains("serving")));
    for p in [&mut owner, &mut bob_recv] {
        let lines = drain(p);
        assert!(!lines.iter().any(|l| l.contains("replaced")), "{lines:?}");
        assert!(p.child.try_wait().unwrap().is_none(), "it ended: {lines:?}");
    }
}

/// Every line a process printed so far.
fn drain(p: &mut Proc) -> Vec<String> {
    let new: Vec<String> = p.lines.try_iter().collect();
    p.seen.extend(new);
    p.seen.clone()
}
