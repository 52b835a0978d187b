//! Folders in the simulated world: large ones (the manifest in pieces, many
//! files in flight, syncs in batches), the limits, a folder whose name a
//! file already has, and what a sender learns of the receiver's storage.

use std::time::Duration;

use brume_proto::endpoint::EndpointEvent;
use brume_proto::transfer::wire::{Control, Wire};
use brume_proto::transfer::{
    EntryKind, MAX_ENTRIES, MAX_PATH_BYTES, SourceEntry, StorageAction, TransferError,
    TransferEvent, TransferState,
};
use brume_tests::sim::World;

fn pair(seed: u64) -> World {
    let mut w = World::new(seed, &["alice", "bob"]);
    w.with(0, |ep, now| ep.connect(now, &World::peer("bob"), None))
        .unwrap();
    assert!(w.run_until(Duration::from_secs(10), |w| {
        w.saw(0, |e| matches!(e, EndpointEvent::PeerOpen { .. }))
            && w.saw(1, |e| matches!(e, EndpointEvent::PeerOpen { .. }))
    }));
    w
}

fn done(w: &World, i: usize) -> bool {
    w.saw_transfer(i, |e| {
        matches!(
            e,
            TransferEvent::State {
                state: TransferState::Done,
                ..
            }
        )
    })
}

fn cancelled(w: &World, i: usize) -> Option<String> {
    w.nodes[i]
        .transfer_events
        .iter()
        .find_map(|(_, e)| match e {
            TransferEvent::Cancelled { reason, .. } => Some(reason.clone()),
            _ => None,
        })
}

fn saved(w: &World, i: usize) -> Vec<Vec<String>> {
    w.nodes[i]
        .transfer_events
        .iter()
        .filter_map(|(_, e)| match e {
            TransferEvent::Saved { path, .. } => Some(path.clone()),
            _ => None,
        })
        .collect()
}

/// A name of `len` bytes for file `n`.
fn long_name(n: usize, len: usize) -> String {
    let head = format!("file {n:05} ");
    format!("{head}{}.txt", "x".repeat(len - head.len() - 4))
}

#[test]
fn a_folder_of_3000_files_with_long_names_arrives_whole_in_pieces() {
    let mut w = pair(1);
    let data: Vec<(String, Vec<u8>)> = (0..3000)
        .map(|n| {
            let path = format!("big/d{}/{}", n % 10, long_name(n, 150));
            (path, vec![n as u8; 1024 + n % 7])
        })
        .collect();
    let files: Vec<(&str, &[u8])> = data
        .iter()
        .map(|(p, d)| (p.as_str(), d.as_slice()))
        .collect();
    // The names alone are 450 KB: more than any one message may carry.
    w.send_files(0, "bob", &files).unwrap();
    let start = w.elapsed();
    assert!(
        w.run_until(Duration::from_secs(120), |w| done(w, 1) && done(w, 0)),
        "not done: {:?}",
        cancelled(&w, 1).or(cancelled(&w, 0))
    );
    let took = w.elapsed() - start;
    let s = &w.nodes[1].storage;
    for (path, bytes) in &data {
        let parts: Vec<&str> = path.split('/').collect();
        assert_eq!(s.file("inbox", &parts), Some(bytes), "{path}");
    }
    assert_eq!(saved(&w, 1).len(), 3000);
    // Files were synced in batches, not one by one…
    let (syncs, synced) = s.syncs;
    assert_eq!(synced, 3000);
    assert!(syncs <= 3000 / 16, "{syncs} syncs");
    // …and asked for many at a time: one round trip each (the sim's path
    // has 2 × 10 ms or more) would take a minute.
    assert!(took < Duration::from_secs(20), "took {took:?}");
}

#[test]
fn too_many_entries_is_a_clear_error_for_the_sender() {
    let mut w = pair(2);
    let mut entries = vec![SourceEntry {
        path: "top".into(),
        kind: EntryKind::Dir,
        size: 0,
        mtime: 0,
        mime: None,
        executable: false,
        blocks: None,
    }];
    entries.extend((0..MAX_ENTRIES).map(|n| SourceEntry {
        path: format!("top/{n}"),
        kind: EntryKind::File,
        size: 0,
        mtime: 0,
        mime: None,
        executable: false,
        blocks: None,
    }));
    let err = w
        .with(0, |n, now| n.send_files(now, &World::peer("bob"), entries))
        .unwrap_err();
    let TransferError::BadEntries(message) = err else {
        panic!("{err:?}");
    };
    assert!(
        message.contains("1 to 1000000 entries, not 1000001"),
        "{message}"
    );
    // Exactly the limit is fine.
    let at_limit: Vec<SourceEntry> = std::iter::once(SourceEntry {
        path: "top".into(),
        kind: EntryKind::Dir,
        size: 0,
        mtime: 0,
        mime: None,
        executable: false,
        blocks: None,
    })
    .chain((1..MAX_ENTRIES).map(|n| SourceEntry {
        path: format!("top/{n}"),
        kind: EntryKind::Dir,
        size: 0,
        mtime: 0,
        mime: None,
        executable: false,
        blocks: None,
    }))
    .collect();
    assert_eq!(at_limit.len(), MAX_ENTRIES);
    let name_bytes: usize = at_limit.iter().map(|e| e.path.len()).sum();
    assert!(name_bytes < MAX_PATH_BYTES);
    w.with(0, |n, now| n.send_files(now, &World::peer("bob"), at_limit))
        .unwrap();
}

/// Opens a transfer channel from alice (transfers off) and sends `messages`.
fn hostile(seed: u64, messages: Vec<Wire<'static>>) -> World {
    let mut w = pair(seed);
    w.nodes[0].node.set_transfers(false);
    let bob = World::peer("bob");
    let ch = w
        .with(0, |ep, now| {
            ep.endpoint_mut()
                .open_channel(now, &bob, "brume-ft/00000000000000ab")
        })
        .unwrap();
    w.run_until(Duration::from_secs(2), |w| {
        w.saw(0, |e| matches!(e, EndpointEvent::ChannelOpen { .. }))
    });
    for m in messages {
        w.with(0, |ep, now| {
            ep.endpoint_mut().channel_write(now, &bob, ch, &m.encode())
        })
        .unwrap();
    }
    w.run_until(Duration::from_secs(3), |w| cancelled(w, 1).is_some());
    w.run_until(Duration::from_secs(3), |w| told(w).is_some());
    w
}

/// What the hostile sender was told.
fn told(w: &World) -> Option<String> {
    w.nodes[0].events.iter().find_map(|(_, e)| match e {
        EndpointEvent::ChannelData { data, .. } => match Wire::decode(data, 1 << 20) {
            Ok(Wire::Control(Control::Cancel { reason })) => Some(reason),
            _ => None,
        },
        _ => None,
    })
}

#[test]
fn an_offer_over_the_limits_is_a_clear_error_on_both_sides() {
    let dir = |path: String| brume_proto::transfer::Entry::dir(path);
    // Too many entries announced.
    let w = hostile(
        3,
        vec![Wire::Control(Control::Offer {
            name: "top".into(),
            total: 0,
            count: Some(MAX_ENTRIES as u64 + 1),
            entries: vec![dir("top".into())],
        })],
    );
    let reason = cancelled(&w, 1).expect("the receiver's application hears of it");
    assert!(
        reason.contains("1 to 1000000 entries, not 1000001"),
        "{reason}"
    );
    assert_eq!(told(&w).as_deref(), Some(reason.as_str()));
    // More entries sent than announced, and a piece out of place.
    for (pieces, expect) in [
        (vec![(1, 2)], "more entries than the 2 announced"),
        (vec![(5, 1)], "entries from 5 where 1 was expected"),
    ] {
        let mut msgs = vec![Wire::Control(Control::Offer {
            name: "top".into(),
            total: 0,
            count: Some(2),
            entries: vec![dir("top".into())],
        })];
        for (start, n) in pieces {
            msgs.push(Wire::Control(Control::Entries {
                start,
                entries: (0..n).map(|i| dir(format!("top/{i}"))).collect(),
            }));
        }
        let w = hostile(4, msgs);
        let reason = cancelled(&w, 1).expect("refused");
        assert!(reason.contains(expect), "{reason}");
        assert_eq!(told(&w).as_deref(), Some(reason.as_str()));
    }
    // The paths' total is checked the same way (a unit test in offer.rs).
}

#[test]
fn a_folder_whose_name_a_file_has_gets_a_conflict_name() {
    let mut w = pair(6);
    let key = |p: &[&str]| p.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    // bob already holds a file named like the folder, and inside a folder
    // of that name a file named like a subfolder.
    w.nodes[1]
        .storage
        .files
        .insert(key(&["inbox", "single.bin"]), b"mine".to_vec());
    w.nodes[1].storage.dirs.insert(key(&["inbox", "other"]));
    w.nodes[1]
        .storage
        .files
        .insert(key(&["inbox", "other", "sub"]), b"mine too".to_vec());
    w.send_files(0, "bob", &[("single.bin/inner.txt", b"inner")])
        .unwrap();
    assert!(
        w.run_until(Duration::from_secs(20), |w| done(w, 1)),
        "{:?}",
        cancelled(&w, 1)
    );
    w.send_files(0, "bob", &[("other/sub/deep.txt", b"deep")])
        .unwrap();
    assert!(
        w.run_until(Duration::from_secs(20), |w| saved(w, 1).len() == 2),
        "{:?}",
        cancelled(&w, 1)
    );
    let s = &w.nodes[1].storage;
    assert_eq!(s.file("inbox", &["single.bin"]), Some(&b"mine".to_vec()));
    assert_eq!(
        s.file("inbox", &["single (1).bin", "inner.txt"]),
        Some(&b"inner".to_vec())
    );
    assert_eq!(
        s.file("inbox", &["other", "sub"]),
        Some(&b"mine too".to_vec())
    );
    assert_eq!(
        s.file("inbox", &["other", "sub (1)", "deep.txt"]),
        Some(&b"deep".to_vec())
    );
    assert_eq!(
        saved(&w, 1),
        vec![
            key(&["single (1).bin", "inner.txt"]),
            key(&["other", "sub (1)", "deep.txt"])
        ]
    );
}

#[test]
fn the_sender_learns_the_names_it_sent_and_no_receiver_path() {
    let mut w = pair(7);
    let secret = "cannot write /home/bob/private/inbox/.a.txt.0123.brume-part: disk full";
    w.nodes[1].storage.fail_writes = Some(secret.into());
    w.send_files(0, "bob", &[("docs/a.txt", &[5u8; 5000])])
        .unwrap();
    assert!(w.run_until(Duration::from_secs(20), |w| cancelled(w, 0).is_some()));
    let to_sender = cancelled(&w, 0).unwrap();
    // The sender hears which of its files failed, in its own words…
    assert_eq!(to_sender, "the receiver could not store docs/a.txt");
    assert!(!to_sender.contains("/home"), "{to_sender}");
    // …while the receiver's own application hears the whole story.
    let local = cancelled(&w, 1).unwrap();
    assert!(local.contains(secret), "{local}");
}

/// Renames answered 50 ms late: the last sync batch must not wait for files
/// that are past their sync (a real disk's threads ended a 3000-file folder
/// this way, 26 files short, for good).
#[test]
fn a_folder_arrives_whole_when_renames_are_answered_last() {
    brume_tests::for_each_seed(3, |seed| {
        let mut w = pair(seed);
        let rename = |a: &StorageAction| matches!(a, StorageAction::Rename { .. });
        w.nodes[1].slow_storage = Some((rename, Duration::from_millis(50)));
        let data: Vec<(String, Vec<u8>)> = (0..300)
            .map(|n| {
                (
                    format!("many/d{}/f{n:03}", n % 30),
                    vec![n as u8; 10 + n % 50],
                )
            })
            .collect();
        let files: Vec<(&str, &[u8])> = data
            .iter()
            .map(|(p, d)| (p.as_str(), d.as_slice()))
            .collect();
        w.send_files(0, "bob", &files)?;
        if !w.run_until(Duration::from_secs(60), |w| done(w, 1) && done(w, 0)) {
            return Err(format!("stalled with {} of 300 saved", saved(&w, 1).len()));
        }
        match saved(&w, 1).len() {
            300 => Ok(()),
            n => Err(format!("{n} saved")),
        }
    });
}
