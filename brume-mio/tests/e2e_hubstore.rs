//! The hub's store and accounts, end to end: file permissions, one hub per
//! data folder, refusing a data folder without a database, tokens that die
//! with the account, and the hub's logs.

mod common;
use common::*;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

fn mode_of(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn the_store_is_private_to_its_owner() {
    let hub = Hub::start("perms");
    let _ = hub.add_user("alice", "pw-alice");
    assert_eq!(mode_of(&hub.data), 0o700);
    for file in ["brume.db", "brume.db-wal", "brume.db-shm", "hub.key"] {
        assert_eq!(mode_of(&hub.data.join(file)), 0o600, "{file}");
    }

    // A folder `user add` sets up before the first `serve` is private too.
    let fresh = hub.dir.join("fresh");
    let out = run_stdin(
        Command::new(BIN)
            .args(["user", "add", "bob", "--password-stdin", "--data"])
            .arg(&fresh),
        "pw-bob",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(mode_of(&fresh), 0o700);
    for file in ["brume.db", "hub.key"] {
        assert_eq!(mode_of(&fresh.join(file)), 0o600, "{file}");
    }
}

#[test]
fn user_commands_refuse_a_data_folder_without_a_database() {
    let dir = tmp("nodb");
    let typo = dir.join("typo");
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    for data in [&typo, &empty] {
        for args in [&["user", "list"][..], &["user", "remove", "bob"][..]] {
            let out = Command::new(BIN)
                .args(args)
                .arg("--data")
                .arg(data)
                .output()
                .unwrap();
            assert_eq!(out.status.code(), Some(1), "{args:?}: {out:?}");
            let err = stderr(&out);
            assert!(
                err.contains("no hub database") && err.contains(&data.display().to_string()),
                "{args:?}: {err}"
            );
        }
    }
    assert!(!typo.exists(), "a mistyped --data is not created");
    assert!(!empty.join("brume.db").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}
