//! `brume share` with real processes: a real `brume serve`, an owner (bob)
//! and two members (carol on two devices, dave), each daemon on its own
//! temporary root. The owner adds, changes, renames and deletes; a member
//! edits and deletes; every member's folder comes to match the owner's
//! (waits are bounded polls of the folders), with the member's own
//! versions kept under conflict names. A second daemon on a root is
//! refused, and `--status` says what each group is doing.

mod common;
use common::*;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

#[test]
fn an_owner_and_two_members_one_with_two_devices_stay_in_step() {
    let hub = Hub::start("share");
    let bob = hub.add_user("bob", "pw-b");
    let dave = hub.add_user("dave", "pw-d");
    let _ = hub.add_user("carol", "pw-c");
    let carol_laptop = hub.dir.join("carol-laptop.conf");
    let carol_phone = hub.dir.join("carol-phone.conf");
    share_login(&hub, &carol_laptop, "carol", "pw-c", "laptop");
    share_login(&hub, &carol_phone, "carol", "pw-c", "phone");

    let roots: Vec<PathBuf> = ["bob", "carol-laptop", "carol-phone", "dave"]
        .iter()
        .map(|n| hub.dir.join(format!("root-{n}")))
        .collect();
    let owned = roots[0].join("bob/photos");
    share_write(&owned.join(".members"), "carol\ndave\n");
    share_write(&owned.join("2024/beach.jpg"), "beach");
    share_write(&owned.join("2024/trip/day1.txt"), "day one");
    share_write(&owned.join("notes.txt"), "notes v1");
    let mirrors: Vec<PathBuf> = roots[1..].iter().map(|r| r.join("bob/photos")).collect();
    for m in &mirrors {
        std::fs::create_dir_all(m).unwrap();
    }

    let _owner = share_daemon(&bob, &roots[0]);
    let _laptop = share_daemon(&carol_laptop, &roots[1]);
    let _phone = share_daemon(&carol_phone, &roots[2]);
    let _dave = share_daemon(&dave, &roots[3]);
    let expected = share_tree(&owned);
    for m in &mirrors {
        share_wait(m, &expected, "first sync");
    }

    // A second daemon on a root is refused.
    let out = brume(&bob, &["share", "--root", roots[0].to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("another brume share"),
        "{}",
        stderr(&out)
    );

    // The owner adds, changes, renames and deletes.
    share_write(&owned.join("2025/new/first.txt"), "new");
    share_write(&owned.join("notes.txt"), "notes v2");
    std::fs::create_dir_all(owned.join("archive")).unwrap();
    std::fs::rename(
        owned.join("2024/beach.jpg"),
        owned.join("archive/beach.jpg"),
    )
    .unwrap();
    std::fs::remove_file(owned.join("2024/trip/day1.txt")).unwrap();
    let expected = share_tree(&owned);
    for m in &mirrors {
        let took = share_wait(m, &expected, "owner's changes");
        eprintln!("{}: in step {took:?} after the change", m.display());
    }

    // A member edits and deletes: undone, the edit kept as a conflict copy.
    share_write(&mirrors[0].join("notes.txt"), "carol's notes");
    std::fs::remove_file(mirrors[0].join("archive/beach.jpg")).unwrap();
    let mut with_copy = expected.clone();
    with_copy.insert(
        "notes-conflict-sync.txt".into(),
        Some(b"carol's notes".to_vec()),
    );
    share_wait(&mirrors[0], &with_copy, "member's edit undone");
    // The other devices are untouched by it.
    share_wait(&mirrors[1], &expected, "carol's phone");
    share_wait(&mirrors[2], &expected, "dave");

    let out = Command::new(BIN)
        .args(["share", "--status", "--root"])
        .arg(&roots[1])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("bob/photos  member  in step"), "{text}");
}

#[test]
fn membership_is_the_hubs_unknown_names_are_logged_and_removal_stops_sync() {
    let hub = Hub::start("share-members");
    let bob = hub.add_user("bob", "pw-b");
    let carol = hub.add_user("carol", "pw-c");
    let eve = hub.add_user("eve", "pw-e");
    let roots: Vec<PathBuf> = ["bob", "carol", "eve"]
        .iter()
        .map(|n| hub.dir.join(format!("root-{n}")))
        .collect();
    let owned = roots[0].join("bob/photos");
    // zed is no user of this hub: a clear line, and carol still syncs.
    share_write(&owned.join(".members"), "carol\nzed\n");
    share_write(&owned.join("a.txt"), "a");
    let (carol_dir, eve_dir) = (roots[1].join("bob/photos"), roots[2].join("bob/photos"));
    std::fs::create_dir_all(&carol_dir).unwrap();
    std::fs::create_dir_all(&eve_dir).unwrap();
    // carol starts first: her call is refused until bob has published, and
    // she tries again on her own.
    let mut carol_d = share_daemon(&carol, &roots[1]);
    wait_line_within(&mut carol_d, "cannot reach bob", LIMIT);
    let mut owner = share_daemon(&bob, &roots[0]);
    let mut eve_d = share_daemon(&eve, &roots[2]);
    wait_line_within(
        &mut owner,
        ".members names zed, whom the hub does not know",
        LIMIT,
    );
    // Well before the 30 s rescan: the refused call is tried again within seconds.
    share_wait_within(
        &carol_dir,
        &share_tree(&owned),
        "carol with zed listed",
        Duration::from_secs(10),
    );
    // eve is no member: refused, her folder left as it was.
    wait_line_within(&mut eve_d, "ENOTMEMBER", LIMIT);
    assert!(share_tree(&eve_dir).is_empty());

    // carol is removed: she hears it at once, and no longer follows changes.
    share_write(&owned.join(".members"), "zed\n");
    wait_line_within(
        &mut carol_d,
        "not a member of bob/photos (ENOTMEMBER)",
        LIMIT,
    );
    share_write(&owned.join("b.txt"), "b");
    let mut later = share_tree(&owned);
    later.remove("b.txt");
    // Give a (wrong) sync every chance to happen: until carol's daemon says
    // it was refused again at its next scan.
    share_write(&carol_dir.join("poke.txt"), "poke");
    wait_line_within(&mut carol_d, "ENOTMEMBER", LIMIT);
    assert!(
        !carol_dir.join("b.txt").exists(),
        "a removed member got a new file"
    );
    let _ = later;
}
