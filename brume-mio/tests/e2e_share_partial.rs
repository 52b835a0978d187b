//! A large file changed in part does not travel whole (issue 12), with
//! real processes: the member's older copy is planted where the transfer
//! keeps its partial file; the receiver keeps the blocks of it that verify
//! up to the first that does not, and asks for the rest. The member's
//! daemon says how many bytes moved; the test counts them.

mod common;
use common::*;

use std::io::{Seek, SeekFrom, Write};

#[test]
fn a_large_file_changed_in_one_place_moves_about_one_block() {
    let hub = Hub::start("share-partial");
    let bob = hub.add_user("bob", "pw-b");
    let carol = hub.add_user("carol", "pw-c");
    let owned = hub.dir.join("root-bob/bob/big");
    let mirror = hub.dir.join("root-carol/bob/big");
    share_write(&owned.join(".members"), "carol\n");
    let size: u64 = 8 << 20;
    let data: Vec<u8> = (0..size).map(|i| (i * 7919 % 251) as u8).collect();
    std::fs::write(owned.join("big.bin"), &data).unwrap();
    std::fs::create_dir_all(&mirror).unwrap();

    let _owner = share_daemon(&bob, &hub.dir.join("root-bob"));
    let mut member = share_daemon(&carol, &hub.dir.join("root-carol"));
    share_wait(&mirror, &share_tree(&owned), "the first sync");

    let block = brume_proto::transfer::block_size(size);
    // The owner changes 100 bytes near the end, in place: the receiver keeps
    // every block before the first that differs, so about one block moves.
    let moved = change_and_count(&owned, &mirror, &mut member, size - 200);
    assert!(
        moved <= 2 * block,
        "{moved} bytes moved (blocks of {block})"
    );
    // In the middle: the first half stays.
    let moved = change_and_count(&owned, &mirror, &mut member, size / 2 + 10);
    assert!(
        moved <= size / 2 + block && moved < size,
        "{moved} bytes moved (blocks of {block})"
    );
}

/// Overwrites 100 bytes of the owner's big.bin at `at`, waits for the
/// member to match, and reads how many bytes the batch moved.
fn change_and_count(
    owned: &std::path::Path,
    mirror: &std::path::Path,
    member: &mut Proc,
    at: u64,
) -> u64 {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(owned.join("big.bin"))
        .unwrap();
    f.seek(SeekFrom::Start(at)).unwrap();
    f.write_all(&[(at % 200) as u8 + 1; 100]).unwrap();
    drop(f);
    share_wait(mirror, &share_tree(owned), "the change");
    let (line, _) = wait_line_within(member, "already here", LIMIT);
    line.split(" bytes moved")
        .next()
        .and_then(|s| s.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{line}"))
}
