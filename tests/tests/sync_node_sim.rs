//! Sync through real `Node`s in the simulated world (`tests/src/sim.rs`):
//! the hub, the endpoints and the file transfers are the real ones; sync is
//! the node's child. A member's first sync goes want → manifest → fetch →
//! one batch transfer of many small files → installs → synced; a
//! non-member's group-scoped call is refused by the hub with ENOTMEMBER.

mod sync_model;

use std::collections::BTreeSet;
use std::time::Duration;

use brume_proto::ErrorCode;
use brume_proto::endpoint::EndpointEvent;
use brume_proto::signal::{GroupId, GroupName};
use brume_proto::sync::machine::{BATCH_FILES, BATCHES_AT_ONCE};
use brume_proto::sync::manifest::STAGING_DIR;
use brume_proto::sync::{FollowState, Manifest, Step, SyncOutput};
use brume_tests::sim::World;
use sync_model::{Item, Tree, manifest, put};

const BOB: usize = 0;
const CAROL: usize = 1;
const DAVE: usize = 2;

fn group() -> GroupId {
    GroupId {
        owner: World::user("bob"),
        name: GroupName::new("photos").unwrap(),
    }
}

fn owner_tree() -> Tree {
    let mut t = Tree::new();
    for i in 0..200 {
        let p = format!("d{}/file-{i:03}.txt", i % 10);
        let parts: Vec<String> = p.split('/').map(String::from).collect();
        put(
            &mut t,
            &parts,
            Item::File(format!("content {i}").into_bytes()),
        );
    }
    t
}

fn world(seed: u64) -> World {
    let mut w = World::new(seed, &["bob", "carol", "dave"]);
    w.hub.set_group(group(), [World::user("carol")]);
    for (i, name) in [(BOB, "bob"), (CAROL, "carol"), (DAVE, "dave")] {
        w.with(i, |n, _| n.enable_sync(World::user(name)));
    }
    let members: BTreeSet<_> = [World::user("carol")].into();
    let m = manifest(&owner_tree(), true);
    w.with(BOB, |n, _| {
        n.sync_mut().unwrap().own(group().name, m, members)
    });
    w
}

fn sync_events(w: &World, i: usize) -> Vec<SyncOutput> {
    w.nodes[i]
        .sync_events
        .iter()
        .map(|(_, e)| e.clone())
        .collect()
}

#[test]
fn a_member_syncs_many_small_files_in_one_transfer() {
    for seed in 1..4 {
        let mut w = world(seed);
        w.with(CAROL, |n, _| {
            n.sync_mut()
                .unwrap()
                .follow(group(), Manifest::new(), Manifest::new())
        });
        let asked = w.run_until(Duration::from_secs(10), |w| {
            sync_events(w, BOB)
                .iter()
                .any(|e| matches!(e, SyncOutput::SendFiles { .. }))
        });
        assert!(
            asked,
            "seed {seed}: bob was never asked for files: {:?} {:?} {:?}",
            sync_events(&w, CAROL),
            sync_events(&w, BOB),
            w.nodes[CAROL].events
        );
        let sends: Vec<_> = sync_events(&w, BOB)
            .into_iter()
            .filter_map(|e| match e {
                SyncOutput::SendFiles { name, files, .. } => Some((name, files)),
                _ => None,
            })
            .collect();
        assert_eq!(sends.len(), 1, "200 small files, one batch");
        let (name, files) = &sends[0];
        assert_eq!(files.len(), 200);
        // Bob's driver sends the files the batch names, from its folder.
        let tree = owner_tree();
        let data: Vec<(String, Vec<u8>)> = files
            .iter()
            .map(|f| {
                let Some(Item::File(d)) = tree.get(&sync_model::parts(&f.path)) else {
                    panic!()
                };
                (format!("{name}/{}", f.path), d.clone())
            })
            .collect();
        let refs: Vec<(&str, &[u8])> = data
            .iter()
            .map(|(p, d)| (p.as_str(), d.as_slice()))
            .collect();
        w.send_files(BOB, "carol", &refs).unwrap();
        let offered = w.run_until(Duration::from_secs(10), |w| {
            sync_events(w, CAROL)
                .iter()
                .any(|e| matches!(e, SyncOutput::Accept { .. }))
        });
        assert!(offered, "seed {seed}: carol never took the batch");
        assert!(
            w.nodes[CAROL]
                .transfer_events
                .iter()
                .all(|(_, e)| !matches!(e, brume_proto::transfer::TransferEvent::Offered { .. })),
            "the batch is sync's, not the application's"
        );
        let Some(SyncOutput::Accept { key, dir, .. }) = sync_events(&w, CAROL)
            .into_iter()
            .find(|e| matches!(e, SyncOutput::Accept { .. }))
        else {
            unreachable!()
        };
        assert_eq!(dir, STAGING_DIR);
        w.with(CAROL, |n, now| {
            n.accept_transfer(now, &key, "carol-photos".into())
        })
        .unwrap();
        let synced = w.run_until(Duration::from_secs(30), |w| {
            sync_events(w, CAROL)
                .iter()
                .any(|e| matches!(e, SyncOutput::Synced { .. }))
        });
        assert!(synced, "seed {seed}: carol never synced");
        let installs: Vec<_> = sync_events(&w, CAROL)
            .into_iter()
            .filter_map(|e| match e {
                SyncOutput::Install {
                    from,
                    fetch: Step::Fetch { path, hash, .. },
                    verified,
                    ..
                } => {
                    // The transfer's offer carried each file's hash: no rehash.
                    assert!(verified, "{from} was not verified by the transfer");
                    Some((from, path, hash))
                }
                _ => None,
            })
            .collect();
        assert_eq!(installs.len(), 200);
        for (from, path, hash) in installs {
            // The received file is where the install looks, with the listed content.
            let parts: Vec<&str> = from.split('/').skip(1).collect();
            let got = w.nodes[CAROL]
                .storage
                .file("carol-photos", &parts)
                .unwrap_or_else(|| panic!("{from}"));
            assert_eq!(sync_model::hash_of(got), hash, "{path}");
        }
    }
}

#[test]
fn a_non_member_is_refused_by_the_hub() {
    let mut w = world(7);
    w.with(DAVE, |n, _| {
        n.sync_mut()
            .unwrap()
            .follow(group(), Manifest::new(), Manifest::new())
    });
    let refused = w.run_until(Duration::from_secs(10), |w| {
        w.saw(DAVE, |e| {
            matches!(
                e,
                EndpointEvent::PeerFailed {
                    code: ErrorCode::NotMember,
                    ..
                }
            )
        })
    });
    assert!(refused, "dave's call scoped to bob/photos is refused");
    assert!(sync_events(&w, BOB).is_empty(), "bob was never asked");
}

#[test]
fn a_member_refused_before_the_owner_published_tries_again() {
    let mut w = World::new(9, &["bob", "carol"]);
    for (i, name) in [(BOB, "bob"), (CAROL, "carol")] {
        w.with(i, |n, _| n.enable_sync(World::user(name)));
    }
    w.with(CAROL, |n, _| {
        n.sync_mut()
            .unwrap()
            .follow(group(), Manifest::new(), Manifest::new())
    });
    let refused = w.run_until(Duration::from_secs(10), |w| {
        w.saw(CAROL, |e| {
            matches!(
                e,
                EndpointEvent::PeerFailed {
                    code: ErrorCode::NotMember,
                    ..
                }
            )
        })
    });
    assert!(refused);
    // Bob publishes; carol's daemon scans again and follows: a new call.
    w.hub.set_group(group(), [World::user("carol")]);
    let members: BTreeSet<_> = [World::user("carol")].into();
    let m = manifest(&owner_tree(), true);
    w.with(BOB, |n, _| {
        n.sync_mut().unwrap().own(group().name, m, members)
    });
    w.with(CAROL, |n, _| {
        n.sync_mut()
            .unwrap()
            .follow(group(), Manifest::new(), Manifest::new())
    });
    let asked = w.run_until(Duration::from_secs(10), |w| {
        sync_events(w, BOB)
            .iter()
            .any(|e| matches!(e, SyncOutput::SendFiles { .. }))
    });
    assert!(asked, "carol's second follow never reached bob");
}

#[test]
fn a_manifest_larger_than_the_send_buffer_arrives_whole() {
    // 12,000 files: some 1.5 MB of manifest, more than the 1 MiB send buffer.
    let mut big = Tree::new();
    for i in 0..12_000 {
        let p = format!("folder-{:03}/a-rather-long-file-name-{i:05}.dat", i % 100);
        let parts: Vec<String> = p.split('/').map(String::from).collect();
        put(&mut big, &parts, Item::File(format!("{i}").into_bytes()));
    }
    let mut w = World::new(11, &["bob", "carol"]);
    w.hub.set_group(group(), [World::user("carol")]);
    for (i, name) in [(BOB, "bob"), (CAROL, "carol")] {
        w.with(i, |n, _| n.enable_sync(World::user(name)));
    }
    let members: BTreeSet<_> = [World::user("carol")].into();
    let m = manifest(&big, true);
    w.with(BOB, |n, _| {
        n.sync_mut().unwrap().own(group().name, m, members)
    });
    w.with(CAROL, |n, _| {
        n.sync_mut()
            .unwrap()
            .follow(group(), Manifest::new(), Manifest::new())
    });
    let files = |w: &World| -> usize {
        sync_events(w, BOB)
            .iter()
            .map(|e| match e {
                SyncOutput::SendFiles { files, .. } => files.len(),
                _ => 0,
            })
            .sum()
    };
    // The member planned on the whole manifest: every batch due, the
    // first few asked for (the next as each lands, which here none does).
    let first = BATCHES_AT_ONCE * BATCH_FILES;
    let asked = w.run_until(Duration::from_secs(20), |w| files(w) == first);
    let problems: Vec<_> = [BOB, CAROL]
        .iter()
        .flat_map(|i| sync_events(&w, *i))
        .filter(|e| matches!(e, SyncOutput::Problem { .. }))
        .collect();
    assert!(
        asked,
        "asked for {} files; problems {problems:?}",
        files(&w)
    );
    assert!(problems.is_empty(), "{problems:?}");
    let state = w.nodes[CAROL]
        .node
        .sync()
        .and_then(|s| s.follow_state(&group()))
        .cloned();
    assert!(
        matches!(state, Some(FollowState::Fetching { due, .. }) if due == 12_000usize.div_ceil(BATCH_FILES)),
        "{state:?}"
    );
}
