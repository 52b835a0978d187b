//! File-transfer scenarios in the simulated world, under many seeds.

use std::time::Duration;

use brume_proto::endpoint::{EndpointEvent, FecStats, PeerStatus};
use brume_proto::framing::Data;
use brume_proto::transfer::wire::{Control, Wire};
use brume_proto::transfer::{
    Entry, EntryKind, StorageAction, TransferEvent, TransferState, block_size, content_hash,
    hash_block, names, to_hex,
};
use brume_tests::content;
use brume_tests::sim::World;
use str0m_netem::{NetemConfig, Probability, RandomLoss};

const SEEDS: u64 = 6;

fn for_seeds(scenario: impl Fn(u64) -> Result<(), String>) {
    brume_tests::for_each_seed(SEEDS, scenario);
}

fn pair(seed: u64) -> Result<World, String> {
    pair_with(seed, true)
}

/// Two connected users, with datagram parity on or off.
fn pair_with(seed: u64, parity: bool) -> Result<World, String> {
    let mut w = World::with_config(seed, &["alice", "bob"], |c| c.datagram_parity = parity);
    w.connect_pair(0, 1)?;
    Ok(w)
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

/// How many transfers node `i` saw done.
fn finished(w: &World, i: usize) -> usize {
    w.nodes[i]
        .transfer_events
        .iter()
        .filter(|(_, e)| {
            matches!(
                e,
                TransferEvent::State {
                    state: TransferState::Done,
                    ..
                }
            )
        })
        .count()
}

fn cancelled(w: &World, i: usize) -> Option<(String, bool)> {
    w.nodes[i]
        .transfer_events
        .iter()
        .find_map(|(_, e)| match e {
            TransferEvent::Cancelled {
                reason, by_peer, ..
            } => Some((reason.clone(), *by_peer)),
            _ => None,
        })
}

fn states(w: &World, i: usize) -> Vec<TransferState> {
    w.nodes[i]
        .transfer_events
        .iter()
        .filter_map(|(_, e)| match e {
            TransferEvent::State { state, .. } => Some(*state),
            _ => None,
        })
        .collect()
}

fn temp_files(w: &World, i: usize) -> Vec<String> {
    w.nodes[i]
        .storage
        .files
        .keys()
        .filter(|k| k.last().is_some_and(|n| n.ends_with(".brume-part")))
        .map(|k| k.join("/"))
        .collect()
}

/// The longest temporary file node `i` holds.
fn temp_len(w: &World, i: usize) -> usize {
    w.nodes[i]
        .storage
        .files
        .iter()
        .filter(|(k, _)| k.last().is_some_and(|n| n.ends_with(".brume-part")))
        .map(|(_, v)| v.len())
        .max()
        .unwrap_or(0)
}

fn log(w: &World, i: usize) -> String {
    let short = |e: &TransferEvent| match e {
        TransferEvent::Offered { key, name, .. } => format!("{:x} offered {name}", key.id),
        TransferEvent::State { key, state } => format!("{:x} {state:?}", key.id),
        TransferEvent::Hashing { key, done, .. } => format!("{:x} hashing {done}", key.id),
        TransferEvent::Progress { key, done, .. } => format!("{:x} progress {done}", key.id),
        TransferEvent::Saved { key, path } => format!("{:x} saved {path:?}", key.id),
        TransferEvent::Cancelled {
            key,
            reason,
            by_peer,
        } => format!("{:x} cancelled {reason:?} by peer {by_peer}", key.id),
    };
    let lines: Vec<String> = w.nodes[i]
        .transfer_events
        .iter()
        .map(|(t, e)| format!("  {t:?} {}", short(e)))
        .collect();
    format!("{}:\n{}", w.nodes[i].name, lines.join("\n"))
}

#[test]
fn a_file_arrives_bit_exact_under_loss_reordering_and_duplication() {
    for_seeds(|seed| {
        let mut w = pair(seed)?;
        for i in 0..2 {
            let cfg = NetemConfig::new()
                .latency(Duration::from_millis(20))
                .jitter(Duration::from_millis(8))
                .loss(RandomLoss::new(Probability::new(0.02)))
                .duplicate(Probability::new(0.01))
                .seed(seed * 3 + i as u64);
            w.set_inbound(i, cfg);
        }
        let data = content(seed, 2 * 1024 * 1024 + 12_345);
        w.send_files(0, "bob", &[("photo.raw", &data)])?;
        if !w.run_until(Duration::from_secs(60), |w| done(w, 1) && done(w, 0)) {
            return Err(format!("not done\n{}\n{}", log(&w, 0), log(&w, 1)));
        }
        if w.nodes[1].storage.file("inbox", &["photo.raw"]) != Some(&data) {
            return Err("content differs".into());
        }
        if !temp_files(&w, 1).is_empty() {
            return Err(format!("temporary files left: {:?}", temp_files(&w, 1)));
        }
        let expected = [
            TransferState::Inviting,
            TransferState::Connecting,
            TransferState::Connected,
            TransferState::Done,
            TransferState::Closed,
        ];
        // Closing the channel is an SCTP stream reset, which a lost packet
        // delays by a retransmission timeout (at least 1 s).
        w.run_until(Duration::from_secs(10), |w| {
            (0..2).all(|i| states(w, i).last() == Some(&TransferState::Closed))
        });
        for i in 0..2 {
            if states(&w, i) != expected {
                return Err(format!("node {i} went through {:?}", states(&w, i)));
            }
        }
        // Progress reached the total on both sides.
        for i in 0..2 {
            let last = w.nodes[i]
                .transfer_events
                .iter()
                .rev()
                .find_map(|(_, e)| match e {
                    TransferEvent::Progress { done, total, .. } => Some((*done, *total)),
                    _ => None,
                });
            if last != Some((data.len() as u64, data.len() as u64)) {
                return Err(format!("node {i} progress ended at {last:?}"));
            }
        }
        Ok(())
    });
}

/// Virtual seconds to move `data` alice → bob over 50 ms with `loss`, and
/// what parity did on each side.
fn lossy_transfer(
    seed: u64,
    parity: bool,
    loss: f32,
    data: &[u8],
) -> Result<(f64, [FecStats; 2]), String> {
    let mut w = pair_with(seed, parity)?;
    for i in 0..2 {
        let cfg = NetemConfig::new()
            .latency(Duration::from_millis(25))
            .loss(RandomLoss::new(Probability::new(loss)))
            .seed(seed * 5 + i as u64);
        w.set_inbound(i, cfg);
    }
    let start = w.now;
    w.send_files(0, "bob", &[("data.bin", data)])?;
    if !w.run_until(Duration::from_secs(120), |w| done(w, 1)) {
        return Err(format!("not done\n{}\n{}", log(&w, 0), log(&w, 1)));
    }
    if w.nodes[1].storage.file("inbox", &["data.bin"]) != Some(&data.to_vec()) {
        return Err("content differs".into());
    }
    let secs = (w.now - start).as_secs_f64();
    let stats = [("alice", "bob"), ("bob", "alice")].map(|(me, them)| {
        let i = usize::from(me == "bob");
        w.nodes[i]
            .node
            .endpoint()
            .fec_stats(&World::peer(them))
            .unwrap_or_default()
    });
    Ok((secs, stats))
}

#[test]
fn parity_repairs_random_loss_below_sctp_and_stays_off_without_loss() {
    for_seeds(|seed| {
        let data = content(seed, 4 << 20);
        let (with, [alice, bob]) = lossy_transfer(seed, true, 0.01, &data)?;
        if alice.parity_sent == 0 || bob.recovered == 0 {
            return Err(format!("no repair: alice {alice:?}, bob {bob:?}"));
        }
        // Without it, SCTP halves its window at every loss (Reno): the same
        // seed and link take much longer.
        let (without, [a, b]) = lossy_transfer(seed, false, 0.01, &data)?;
        if a.parity_sent + b.parity_sent + a.reports_sent + b.reports_sent != 0 {
            return Err(format!("parity off, yet alice {a:?}, bob {b:?}"));
        }
        if with * 1.5 > without {
            return Err(format!("{with:.1} s with parity, {without:.1} s without"));
        }
        // A clean path gets reports but no parity.
        let (_, [alice, bob]) = lossy_transfer(seed, true, 0.0, &data[..1 << 20])?;
        if alice.parity_sent + bob.parity_sent != 0 || alice.reports_sent + bob.reports_sent == 0 {
            return Err(format!("clean path: alice {alice:?}, bob {bob:?}"));
        }
        Ok(())
    });
}

#[test]
fn a_folder_arrives_with_its_tree_and_an_empty_file() {
    for_seeds(|seed| {
        let mut w = pair(seed)?;
        let a = content(seed, 300_000);
        let b = content(seed + 100, 1_500_000);
        let files: [(&str, &[u8]); 3] = [
            ("album/a.jpg", &a),
            ("album/2024/b.jpg", &b),
            ("album/empty.txt", &[]),
        ];
        w.send_files(0, "bob", &files)?;
        if !w.run_until(Duration::from_secs(30), |w| done(w, 1)) {
            return Err(log(&w, 1));
        }
        let s = &w.nodes[1].storage;
        let ok = s.file("inbox", &["album", "a.jpg"]) == Some(&a)
            && s.file("inbox", &["album", "2024", "b.jpg"]) == Some(&b)
            && s.file("inbox", &["album", "empty.txt"]) == Some(&vec![]);
        if !ok {
            return Err(format!("{:?}", s.files.keys().collect::<Vec<_>>()));
        }
        let mtime = s
            .mtimes
            .get(["inbox", "album", "a.jpg"].map(String::from).as_slice());
        if mtime != Some(&(brume_tests::sim::UNIX0 - 1000)) {
            return Err(format!("mtime {mtime:?}"));
        }
        Ok(())
    });
}

/// How many storage actions of each kind node `i` ran on its temporary files.
fn temp_actions(w: &World, i: usize) -> (usize, usize, usize, usize) {
    let temp = |p: &brume_proto::transfer::TargetPath| {
        p.components
            .last()
            .is_some_and(|n| n.ends_with(".brume-part"))
    };
    let (mut writes, mut finishing, mut truncates, mut attributes) = (0, 0, 0, 0);
    for a in &w.nodes[i].storage.log {
        match a {
            StorageAction::Write { path, finish, .. } if temp(path) => {
                writes += 1;
                finishing += usize::from(finish.is_some());
            }
            StorageAction::Truncate { path, .. } if temp(path) => truncates += 1,
            StorageAction::SetAttributes { path, .. } if temp(path) => attributes += 1,
            _ => {}
        }
    }
    (writes, finishing, truncates, attributes)
}

#[test]
fn a_small_file_is_written_and_finished_in_one_storage_action() {
    for_seeds(|seed| {
        let mut w = pair(seed)?;
        let small: Vec<Vec<u8>> = (0..12)
            .map(|n| content(seed + n, 3_000 + 500 * n as usize))
            .collect();
        let names: Vec<String> = (0..small.len())
            .map(|n| format!("notes/n{n}.txt"))
            .collect();
        let mut files: Vec<(&str, &[u8])> = names
            .iter()
            .zip(&small)
            .map(|(n, d)| (n.as_str(), d.as_slice()))
            .collect();
        files.push(("notes/empty.txt", &[]));
        w.send_files(0, "bob", &files)?;
        if !w.run_until(Duration::from_secs(30), |w| done(w, 1)) {
            return Err(log(&w, 1));
        }
        let s = &w.nodes[1].storage;
        for (name, data) in &files {
            let parts: Vec<&str> = name.split('/').collect();
            if s.file("inbox", &parts) != Some(&data.to_vec()) {
                return Err(format!("{name} differs"));
            }
            let key: Vec<String> = std::iter::once("inbox")
                .chain(parts)
                .map(String::from)
                .collect();
            if s.mtimes.get(&key) != Some(&(brume_tests::sim::UNIX0 - 1000)) {
                return Err(format!("{name}: mtime {:?}", s.mtimes.get(&key)));
            }
        }
        // Each file with content: one write that also finishes it, no cut
        // beforehand; the empty file: its last step alone, which creates it.
        let got = temp_actions(&w, 1);
        if got != (small.len(), small.len(), 0, 1) {
            return Err(format!(
                "(writes, finishing, truncates, attributes) = {got:?}"
            ));
        }
        Ok(())
    });
}

#[test]
fn a_stale_longer_temporary_file_is_cut_to_the_content() {
    for_seeds(|seed| {
        let mut w = pair(seed)?;
        let data = content(seed, 100_000);
        let block = block_size(data.len() as u64);
        let hash = content_hash(data.len() as u64, block, &[hash_block(&data)]);
        let hex = to_hex(&hash);
        // What an earlier, unrelated run left under the temporary name:
        // longer than the content, its first block wrong.
        let stale = vec![
            "inbox".to_owned(),
            names::temp_name("report.pdf", &hex[..16]),
        ];
        w.nodes[1]
            .storage
            .files
            .insert(stale, content(seed + 7, 250_000));
        w.send_files(0, "bob", &[("report.pdf", &data)])?;
        if !w.run_until(Duration::from_secs(30), |w| done(w, 1)) {
            return Err(log(&w, 1));
        }
        let got = w.nodes[1]
            .storage
            .file("inbox", &["report.pdf"])
            .map(Vec::len);
        if got != Some(data.len())
            || w.nodes[1].storage.file("inbox", &["report.pdf"]) != Some(&data)
        {
            return Err(format!("received {got:?} bytes, want {}", data.len()));
        }
        if !temp_files(&w, 1).is_empty() {
            return Err(format!("left behind: {:?}", temp_files(&w, 1)));
        }
        Ok(())
    });
}

#[test]
fn the_same_file_received_twice_at_once_arrives_whole_twice() {
    for_seeds(|seed| {
        let mut w = pair(seed)?;
        let data = content(seed, 3 << 20);
        w.send_files(0, "bob", &[("twice.bin", &data)])?;
        // The second offer comes while the first is under way.
        w.run_until(Duration::from_secs(10), |w| temp_len(w, 1) >= 1 << 20);
        w.send_files(0, "bob", &[("twice.bin", &data)])?;
        let both = w.run_until(Duration::from_secs(30), |w| finished(w, 1) == 2);
        if !both {
            return Err(format!("not both done\n{}", log(&w, 1)));
        }
        let s = &w.nodes[1].storage;
        for name in ["twice.bin", "twice (1).bin"] {
            if s.file("inbox", &[name]) != Some(&data) {
                return Err(format!("{name} is not the content"));
            }
        }
        if !temp_files(&w, 1).is_empty() {
            return Err(format!("temporary files left: {:?}", temp_files(&w, 1)));
        }
        Ok(())
    });
}

#[test]
fn an_existing_file_is_never_overwritten() {
    let mut w = pair(1).unwrap();
    let old = b"precious".to_vec();
    w.nodes[1]
        .storage
        .files
        .insert(vec!["inbox".into(), "a.txt".into()], old.clone());
    w.nodes[1]
        .storage
        .files
        .insert(vec!["inbox".into(), "a (1).txt".into()], old.clone());
    let new = content(1, 5000);
    w.send_files(0, "bob", &[("a.txt", &new)]).unwrap();
    assert!(
        w.run_until(Duration::from_secs(10), |w| done(w, 1)),
        "{}",
        log(&w, 1)
    );
    let s = &w.nodes[1].storage;
    assert_eq!(s.file("inbox", &["a.txt"]), Some(&old));
    assert_eq!(s.file("inbox", &["a (1).txt"]), Some(&old));
    assert_eq!(s.file("inbox", &["a (2).txt"]), Some(&new));
    assert!(w.saw_transfer(
        1,
        |e| matches!(e, TransferEvent::Saved { path, .. } if path == &["a (2).txt"])
    ));
}

#[test]
fn a_transfer_survives_a_link_outage_mid_transfer() {
    for_seeds(|seed| {
        let mut w = pair(seed)?;
        let data = content(seed, 4 * 1024 * 1024);
        w.send_files(0, "bob", &[("big.bin", &data)])?;
        w.run_until(Duration::from_secs(30), |w| temp_len(w, 1) >= 1 << 20);
        w.nodes[1].link_up = false;
        w.settle(Duration::from_secs(4));
        w.nodes[1].link_up = true;
        if !w.run_until(Duration::from_secs(60), |w| done(w, 1)) {
            return Err(log(&w, 1));
        }
        if w.nodes[1].storage.file("inbox", &["big.bin"]) != Some(&data) {
            return Err("content differs".into());
        }
        Ok(())
    });
}

#[test]
fn a_restarted_receiver_resumes_from_what_it_holds() {
    for_seeds(|seed| {
        let mut w = pair(seed)?;
        let data = content(seed, 6 * 1024 * 1024 + 77);
        w.send_files(0, "bob", &[("movie.mkv", &data)])?;
        w.run_until(Duration::from_secs(30), |w| temp_len(w, 1) >= 3 << 20);
        // The receiver's process dies; its disk keeps the verified blocks.
        w.restart_node(1);
        let held = temp_files(&w, 1);
        if held.len() != 1 {
            return Err(format!("temp files after the crash: {held:?}"));
        }
        // Alice finds the path gone, offers an ICE restart, is refused, and
        // closes the dead connection; her transfer ends with it.
        let gone = w.run_until(Duration::from_secs(40), |w| {
            cancelled(w, 0).is_some() && w.nodes[0].node.peer_state(&World::peer("bob")).is_none()
        });
        if !gone {
            let state = w.nodes[0].node.peer_state(&World::peer("bob"));
            return Err(format!("the old connection lingers: {state:?}"));
        }
        // Reconnect and send the same content again.
        w.settle(Duration::from_secs(1));
        w.with(0, |ep, now| ep.connect(now, &World::peer("bob"), None))
            .map_err(|e| e.to_string())?;
        w.run_until(Duration::from_secs(10), |w| {
            w.nodes[0].node.peer_state(&World::peer("bob")) == Some(PeerStatus::Open)
        });
        let reads_before = w.nodes[0].storage.log.len();
        let key = w.send_files(0, "bob", &[("movie.mkv", &data)])?;
        if !w.run_until(Duration::from_secs(60), |w| done(w, 1)) {
            return Err(log(&w, 1));
        }
        if w.nodes[1].storage.file("inbox", &["movie.mkv"]) != Some(&data) {
            return Err("content differs".into());
        }
        // The sender streamed only the missing part: no data read below 2 MiB.
        let first_data_read = w.nodes[0].storage.log[reads_before..]
            .iter()
            .filter_map(|a| match a {
                StorageAction::ReadSource {
                    transfer,
                    offset,
                    len,
                    ..
                } if *transfer == key && *len < block_size(data.len() as u64) => Some(*offset),
                _ => None,
            })
            .min();
        match first_data_read {
            Some(offset) if offset >= 2 << 20 => Ok(()),
            other => Err(format!("resumed from {other:?}")),
        }
    });
}

#[test]
fn cancel_while_inviting_is_seen_by_both_sides() {
    let mut w = pair(2).unwrap();
    w.nodes[1].accept_into = None;
    let key = w.send_files(0, "bob", &[("a.txt", b"hello")]).unwrap();
    w.run_until(Duration::from_secs(5), |w| {
        w.saw_transfer(1, |e| matches!(e, TransferEvent::Offered { .. }))
    });
    w.with(0, |n, now| n.cancel_transfer(now, &key, "changed my mind"))
        .unwrap();
    assert!(w.run_until(Duration::from_secs(5), |w| cancelled(w, 1).is_some()));
    assert_eq!(cancelled(&w, 1), Some(("changed my mind".into(), true)));
    assert_eq!(cancelled(&w, 0), Some(("changed my mind".into(), false)));
    assert!(w.nodes[1].storage.files.is_empty());
}

#[test]
fn reject_is_seen_by_the_sender() {
    let mut w = pair(3).unwrap();
    w.nodes[1].accept_into = None;
    w.send_files(0, "bob", &[("a.txt", b"hello")]).unwrap();
    w.run_until(Duration::from_secs(5), |w| {
        w.saw_transfer(1, |e| matches!(e, TransferEvent::Offered { .. }))
    });
    let key = w.nodes[1].node.transfers().keys().next().unwrap().clone();
    w.with(1, |n, now| n.reject_transfer(now, &key, "no thanks"))
        .unwrap();
    assert!(w.run_until(Duration::from_secs(5), |w| cancelled(w, 0).is_some()));
    assert_eq!(cancelled(&w, 0), Some(("no thanks".into(), true)));
}

#[test]
fn cancel_while_connecting_and_while_connected() {
    // Connecting: the receiver's disk stalls while it checks for space.
    let mut w = pair(4).unwrap();
    w.nodes[1].storage_up = false;
    w.send_files(0, "bob", &[("a.bin", &content(4, 100_000))])
        .unwrap();
    w.run_until(Duration::from_secs(5), |w| {
        w.saw_transfer(1, |e| {
            matches!(
                e,
                TransferEvent::State {
                    state: TransferState::Connecting,
                    ..
                }
            )
        })
    });
    let key = w.nodes[1].node.transfers().keys().next().unwrap().clone();
    w.with(1, |n, now| n.cancel_transfer(now, &key, "stop"))
        .unwrap();
    assert!(w.run_until(Duration::from_secs(5), |w| cancelled(w, 0).is_some()));
    assert_eq!(cancelled(&w, 0), Some(("stop".into(), true)));

    // Connected: cancel halfway through the data.
    let mut w = pair(5).unwrap();
    let data = content(5, 8 << 20);
    let key = w.send_files(0, "bob", &[("b.bin", &data)]).unwrap();
    w.run_until(Duration::from_secs(30), |w| temp_len(w, 1) >= 2 << 20);
    w.with(0, |n, now| n.cancel_transfer(now, &key, "out of time"))
        .unwrap();
    assert!(w.run_until(Duration::from_secs(5), |w| cancelled(w, 1).is_some()));
    assert_eq!(cancelled(&w, 1), Some(("out of time".into(), true)));
    w.settle(Duration::from_secs(1));
    assert!(w.nodes[1].storage.file("inbox", &["b.bin"]).is_none());
    assert!(
        temp_files(&w, 1).is_empty(),
        "an explicit cancel removes the partial file"
    );

    // Done: too late to cancel.
    let mut w = pair(6).unwrap();
    let key = w.send_files(0, "bob", &[("c.txt", b"tiny")]).unwrap();
    assert!(w.run_until(Duration::from_secs(5), |w| done(w, 0)));
    assert!(
        w.with(0, |n, now| n.cancel_transfer(now, &key, "late"))
            .is_err()
    );
}

#[test]
fn several_transfers_run_at_once_in_both_directions_beside_chat() {
    for_seeds(|seed| {
        let mut w = pair(seed)?;
        let a = content(seed, 1_500_000);
        let b = content(seed + 1, 900_000);
        let c = content(seed + 2, 2_100_000);
        w.send_files(0, "bob", &[("a.bin", &a)])?;
        w.send_files(0, "bob", &[("b.bin", &b)])?;
        w.send_files(1, "alice", &[("c.bin", &c)])?;
        for n in 0..10 {
            w.with(0, |ep, now| {
                ep.send_message(
                    now,
                    &World::peer("bob"),
                    "chat",
                    &Data::Text(format!("m{n}")),
                )
            })
            .map_err(|e| e.to_string())?;
        }
        let chat = |w: &World| {
            (0..10).all(|n| w.saw(1, |e| matches!(e, EndpointEvent::Message { data: Data::Text(t), .. } if *t == format!("m{n}"))))
        };
        // Chat is not stuck behind the files.
        if !w.run_until(Duration::from_secs(2), chat) {
            return Err("chat waited for the transfers".into());
        }
        if !w.run_until(Duration::from_secs(60), |w| {
            finished(w, 1) == 3 && finished(w, 0) == 3
        }) {
            return Err(format!("{}\n{}", log(&w, 0), log(&w, 1)));
        }
        let s1 = &w.nodes[1].storage;
        let s0 = &w.nodes[0].storage;
        if s1.file("inbox", &["a.bin"]) != Some(&a)
            || s1.file("inbox", &["b.bin"]) != Some(&b)
            || s0.file("inbox", &["c.bin"]) != Some(&c)
        {
            return Err("content differs".into());
        }
        Ok(())
    });
}

#[test]
fn too_little_free_space_is_a_clear_error() {
    let mut w = pair(7).unwrap();
    w.nodes[1].storage.free = 1000;
    w.send_files(0, "bob", &[("big.bin", &content(7, 50_000))])
        .unwrap();
    assert!(w.run_until(Duration::from_secs(5), |w| cancelled(w, 0).is_some()));
    let (reason, by_peer) = cancelled(&w, 0).unwrap();
    assert!(
        by_peer && reason.contains("not enough free space"),
        "{reason}"
    );
    assert!(w.nodes[1].storage.files.is_empty());
}

// ----- a hostile sender, speaking the wire protocol by hand -----

/// Opens a transfer channel from alice (whose own transfer logic is off) and
/// sends `messages` on it; returns the receiver's cancel reason.
fn hostile(
    seed: u64,
    messages: impl Fn() -> Vec<Wire<'static>>,
) -> (Option<(String, bool)>, World) {
    let mut w = pair(seed).unwrap();
    w.nodes[0].node.set_transfers(false);
    let ch = w
        .with(0, |ep, now| {
            ep.endpoint_mut()
                .open_channel(now, &World::peer("bob"), "brume-ft/00000000000000aa")
        })
        .unwrap();
    w.run_until(Duration::from_secs(2), |w| {
        w.saw(0, |e| matches!(e, EndpointEvent::ChannelOpen { .. }))
    });
    for m in messages() {
        w.with(0, |ep, now| {
            ep.endpoint_mut()
                .channel_write(now, &World::peer("bob"), ch, &m.encode())
        })
        .unwrap();
        w.settle(Duration::from_millis(50));
    }
    w.run_until(Duration::from_secs(3), |w| cancelled(w, 1).is_some());
    (cancelled(&w, 1), w)
}

/// Builds the messages a hostile sender sends.
type Script = Box<dyn Fn() -> Vec<Wire<'static>>>;

fn file_entry(path: &str, data: &[u8]) -> (Entry, Vec<[u8; 32]>) {
    let block = block_size(data.len() as u64);
    let hashes: Vec<[u8; 32]> = data.chunks(block as usize).map(hash_block).collect();
    let root = content_hash(data.len() as u64, block, &hashes);
    let hex: String = root.iter().map(|b| format!("{b:02x}")).collect();
    let entry = Entry {
        path: path.into(),
        kind: EntryKind::File,
        size: data.len() as u64,
        mtime: 0,
        mime: None,
        hash: Some(hex),
        executable: false,
    };
    (entry, hashes)
}

fn nothing_outside_the_inbox(w: &World) -> bool {
    w.nodes[1]
        .storage
        .files
        .keys()
        .all(|k| k[0] == "inbox" && !k.iter().any(|c| c == ".."))
}

#[test]
fn a_hostile_sender_gets_clear_errors_and_leaves_nothing_outside() {
    let data = content(9, 3000);
    let cases: Vec<(&str, Script)> = vec![
        (
            "unsafe name",
            Box::new(|| {
                let (mut e, _) = file_entry("x", b"abc");
                e.path = "../etc/passwd".into();
                vec![Wire::Control(Control::Offer {
                    count: None,
                    name: "..".into(),
                    total: 3,
                    entries: vec![e],
                })]
            }),
        ),
        (
            "add up to",
            Box::new(|| {
                let (e, _) = file_entry("a.txt", b"abc");
                vec![Wire::Control(Control::Offer {
                    count: None,
                    name: "a.txt".into(),
                    total: 999,
                    entries: vec![e],
                })]
            }),
        ),
        (
            "do not match its content hash",
            Box::new(|| {
                let (e, _) = file_entry("a.txt", &content(9, 3000));
                vec![
                    Wire::Control(Control::Offer {
                        count: None,
                        name: "a.txt".into(),
                        total: 3000,
                        entries: vec![e],
                    }),
                    Wire::Hashes {
                        file: 0,
                        start: 0,
                        hashes: vec![[7; 32]],
                    },
                ]
            }),
        ),
        (
            "more data than announced",
            Box::new(move || {
                let d = content(9, 3000);
                let (e, h) = file_entry("a.txt", &d);
                let mut more = d.clone();
                more.extend_from_slice(b"EXTRA");
                vec![
                    Wire::Control(Control::Offer {
                        count: None,
                        name: "a.txt".into(),
                        total: 3000,
                        entries: vec![e],
                    }),
                    Wire::Hashes {
                        file: 0,
                        start: 0,
                        hashes: h,
                    },
                    Wire::Data {
                        file: 0,
                        offset: 0,
                        bytes: more.into(),
                    },
                ]
            }),
        ),
        (
            "does not match its hash",
            Box::new(move || {
                let d = content(9, 3000);
                let (e, h) = file_entry("a.txt", &d);
                let mut bad = d.clone();
                bad[10] ^= 1;
                vec![
                    Wire::Control(Control::Offer {
                        count: None,
                        name: "a.txt".into(),
                        total: 3000,
                        entries: vec![e],
                    }),
                    Wire::Hashes {
                        file: 0,
                        start: 0,
                        hashes: h,
                    },
                    Wire::Data {
                        file: 0,
                        offset: 0,
                        bytes: bad.into(),
                    },
                ]
            }),
        ),
    ];
    let _ = data;
    for (expect, messages) in cases {
        let (cancel, w) = hostile(9, messages);
        let (reason, by_peer) =
            cancel.unwrap_or_else(|| panic!("{expect}: no cancel\n{}", log(&w, 1)));
        assert!(!by_peer && reason.contains(expect), "{expect}: {reason}");
        assert!(
            nothing_outside_the_inbox(&w),
            "{expect}: {:?}",
            w.nodes[1].storage.files.keys()
        );
        assert!(
            w.nodes[1].storage.file("inbox", &["a.txt"]).is_none(),
            "{expect}: bad data presented as the file"
        );
        // The hostile side hears why.
        let told = w.nodes[0].events.iter().any(|(_, e)| matches!(e, EndpointEvent::ChannelData { data, .. }
            if matches!(Wire::decode(data, 1 << 20), Ok(Wire::Control(Control::Cancel { reason: r })) if r == reason)));
        assert!(told, "{expect}: the sender was not told");
    }
}
