//! `brume share` faults, end to end (issue 12): a member daemon killed
//! (SIGKILL) in the middle of its first sync resumes on restart and
//! converges, with no `.brume-sync/` leftovers once in step.

mod common;
use common::*;

use std::path::Path;
use std::time::{Duration, Instant};

/// Waits (bounded) until `dir` exists and holds at least one file anywhere below.
fn wait_some_file_under(dir: &Path, limit: Duration) {
    fn any_file(dir: &Path) -> bool {
        std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| {
                let p = e.path();
                if p.is_dir() { any_file(&p) } else { true }
            })
    }
    let end = Instant::now() + limit;
    while !any_file(dir) {
        assert!(
            Instant::now() < end,
            "nothing arrived under {}",
            dir.display()
        );
        // Polling a folder: there is nothing to block on.
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn a_member_killed_mid_sync_resumes_and_converges() {
    let hub = Hub::start("share-kill");
    let bob = hub.add_user("bob", "pw-b");
    let carol = hub.add_user("carol", "pw-c");
    let owned = hub.dir.join("root-bob/bob/photos");
    let mirror = hub.dir.join("root-carol/bob/photos");
    share_write(&owned.join(".members"), "carol\n");
    // Enough to take a while: 2,000 small files and a 32 MiB one.
    for i in 0..2000 {
        share_write(
            &owned.join(format!("d{}/f{i}.txt", i % 20)),
            &format!("file {i}\n").repeat(50),
        );
    }
    let big: Vec<u8> = (0..32u32 << 20).map(|i| (i % 253) as u8).collect();
    std::fs::write(owned.join("big.bin"), &big).unwrap();
    std::fs::create_dir_all(&mirror).unwrap();

    let mut owner = share_daemon(&bob, &hub.dir.join("root-bob"));
    wait_line_within(&mut owner, "bob/photos: serving", LIMIT);
    let member = share_daemon(&carol, &hub.dir.join("root-carol"));
    // Killed once the first batch has begun to land in the staging folder.
    wait_some_file_under(&mirror.join(".brume-sync"), LIMIT);
    member.signal("-KILL");
    drop(member);
    assert_ne!(
        share_tree(&mirror),
        share_tree(&owned),
        "killed too late to test"
    );

    let mut member = share_daemon(&carol, &hub.dir.join("root-carol"));
    share_wait(&mirror, &share_tree(&owned), "after the restart");
    wait_line_within(&mut member, "bob/photos: in step", LIMIT);
    assert!(
        !mirror.join(".brume-sync").exists(),
        "the staging folder is left over"
    );
}

/// A tmpfs mounted at a folder for the test's length (unmounted on drop).
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    /// Mounts one of `size` (as mount's `size=`) at `dir`; `None` (with a
    /// message) when not root or mounting fails.
    fn mount(dir: &Path, size: &str) -> Option<Self> {
        let root = std::process::Command::new("id").arg("-u").output().ok()?;
        if String::from_utf8_lossy(&root.stdout).trim() != "0" {
            eprintln!("skipped: mounting a small tmpfs needs root");
            return None;
        }
        std::fs::create_dir_all(dir).unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("skipped: cannot mount a tmpfs here");
            return None;
        }
        Some(Self(dir.to_owned()))
    }

    fn resize(&self, size: &str) {
        let ok = std::process::Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.0)
            .status()
            .unwrap();
        assert!(ok.success());
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

#[test]
fn a_member_whose_disk_fills_loses_nothing_and_catches_up_once_space_returns() {
    let hub = Hub::start("share-full");
    let mirror = hub.dir.join("root-carol/bob/photos");
    let Some(disk) = Tmpfs::mount(&mirror, "2m") else {
        return;
    };
    let bob = hub.add_user("bob", "pw-b");
    let carol = hub.add_user("carol", "pw-c");
    let owned = hub.dir.join("root-bob/bob/photos");
    share_write(&owned.join(".members"), "carol\n");
    share_write(&owned.join("notes.txt"), "the owner's notes");
    let big: Vec<u8> = (0..6u32 << 20).map(|i| (i % 251) as u8).collect();
    std::fs::write(owned.join("big.bin"), &big).unwrap();
    share_write(&mirror.join("notes.txt"), "carol's own notes");
    let owner_before = share_tree(&owned);

    let mut owner = share_daemon(&bob, &hub.dir.join("root-bob"));
    wait_line_within(&mut owner, "bob/photos: serving", LIMIT);
    let mut member = share_daemon(&carol, &hub.dir.join("root-carol"));
    let (line, _) = wait_line_within(&mut member, "not enough free space", LIMIT);
    assert!(line.contains("trying again"), "{line}");
    assert_eq!(share_tree(&owned), owner_before, "the owner lost nothing");
    let kept = |t: &std::collections::BTreeMap<String, Option<Vec<u8>>>| {
        t.get("notes-conflict-update-add.txt").cloned()
    };
    assert_eq!(
        kept(&share_tree(&mirror)),
        Some(Some(b"carol's own notes".to_vec())),
        "carol's version is kept"
    );

    disk.resize("64m");
    let mut expected = owner_before.clone();
    expected.insert(
        "notes-conflict-update-add.txt".into(),
        Some(b"carol's own notes".to_vec()),
    );
    share_wait(&mirror, &expected, "once space returned");
    wait_line_within(&mut member, "bob/photos: in step", LIMIT);
}
