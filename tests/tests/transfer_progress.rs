//! What transfers tell the application about their progress: the hashing
//! phase before the offer, and a resume's starting point, kept out of the rate.

use std::time::Duration;

use brume_proto::endpoint::{EndpointEvent, PeerStatus};
use brume_proto::transfer::{TransferEvent, TransferKey, TransferState};
use brume_tests::content;
use brume_tests::sim::World;

fn connect(w: &mut World) {
    w.with(0, |ep, now| ep.connect(now, &World::peer("bob"), None))
        .unwrap();
    assert!(w.run_until(Duration::from_secs(10), |w| {
        w.nodes[0].node.peer_state(&World::peer("bob")) == Some(PeerStatus::Open)
            && w.nodes[1].node.peer_state(&World::peer("alice")) == Some(PeerStatus::Open)
    }));
}

fn done(w: &World, i: usize, id: u64) -> bool {
    w.nodes[i].transfer_events.iter().any(|(_, e)| {
        matches!(e, TransferEvent::State { key, state: TransferState::Done } if key.id == id)
    })
}

/// Node `i`'s progress events of transfer `id`: (time, done, total, resumed, rate).
fn progress(w: &World, i: usize, id: u64) -> Vec<(Duration, u64, u64, u64, u64)> {
    w.nodes[i]
        .transfer_events
        .iter()
        .filter_map(|(t, e)| match e {
            TransferEvent::Progress {
                key,
                done,
                total,
                resumed,
                rate,
            } if key.id == id => Some((*t, *done, *total, *resumed, *rate)),
            _ => None,
        })
        .collect()
}

#[test]
fn the_sender_reports_hashing_before_any_progress() {
    let mut w = World::new(1, &["alice", "bob"]);
    connect(&mut w);
    let data = content(1, 5 * 1024 * 1024 + 3);
    let key: TransferKey = w.send_files(0, "bob", &[("big.bin", &data)]).unwrap();
    assert!(w.run_until(Duration::from_secs(60), |w| done(w, 0, key.id)));
    let events = &w.nodes[0].transfer_events;
    let hashing: Vec<(usize, u64, u64)> = events
        .iter()
        .enumerate()
        .filter_map(|(n, (_, e))| match e {
            TransferEvent::Hashing {
                key: k,
                done,
                total,
            } if *k == key => Some((n, *done, *total)),
            _ => None,
        })
        .collect();
    let total = data.len() as u64;
    assert!(hashing.len() >= 2, "{hashing:?}");
    assert_eq!(hashing.first().map(|h| (h.1, h.2)), Some((0, total)));
    assert_eq!(hashing.last().map(|h| (h.1, h.2)), Some((total, total)));
    assert!(hashing.windows(2).all(|p| p[0].1 <= p[1].1), "{hashing:?}");
    let first_progress = events
        .iter()
        .position(|(_, e)| matches!(e, TransferEvent::Progress { key: k, .. } if *k == key))
        .unwrap();
    assert!(hashing.iter().all(|h| h.0 < first_progress));
    // Nothing was resumed, and the receiver never hashes a source.
    assert!(progress(&w, 0, key.id).iter().all(|p| p.3 == 0));
    assert!(
        !w.nodes[1]
            .transfer_events
            .iter()
            .any(|(_, e)| matches!(e, TransferEvent::Hashing { .. }))
    );
}

#[test]
fn a_resume_says_where_it_starts_and_its_rate_counts_only_bytes_moved() {
    let mut w = World::new(2, &["alice", "bob"]);
    connect(&mut w);
    let data = content(2, 6 * 1024 * 1024 + 77);
    let total = data.len() as u64;
    w.send_files(0, "bob", &[("movie.mkv", &data)]).unwrap();
    let held = |w: &World| {
        w.nodes[1]
            .storage
            .files
            .iter()
            .filter(|(k, _)| k.last().is_some_and(|n| n.ends_with(".brume-part")))
            .map(|(_, v)| v.len())
            .max()
            .unwrap_or(0)
    };
    w.run_until(Duration::from_secs(30), |w| held(w) >= 3 << 20);
    w.restart_node(1);
    assert!(w.run_until(Duration::from_secs(40), |w| {
        w.nodes[0].node.peer_state(&World::peer("bob")).is_none()
    }));
    w.settle(Duration::from_secs(1));
    connect(&mut w);
    let key = w.send_files(0, "bob", &[("movie.mkv", &data)]).unwrap();
    assert!(w.run_until(Duration::from_secs(60), |w| {
        done(w, 0, key.id) && done(w, 1, key.id)
    }));
    assert!(
        w.nodes[0]
            .events
            .iter()
            .any(|(_, e)| matches!(e, EndpointEvent::PeerOpen { .. }))
    );
    for side in [0, 1] {
        let p = progress(&w, side, key.id);
        let (first, last) = (p[0], p[p.len() - 1]);
        // The first event already says where the resume starts.
        let resumed = first.3;
        assert!(resumed >= 2 << 20 && resumed < total, "side {side}: {p:?}");
        assert!(first.1 >= resumed, "side {side}: {first:?}");
        assert!(p.iter().all(|e| e.3 == resumed), "side {side}: {p:?}");
        assert_eq!((last.1, last.2), (total, total), "side {side}");
        // The average is over what moved since data started: counting the
        // resumed bytes would make it about twice as high here.
        let secs = (last.0 - first.0).as_secs_f64();
        let moved = (total - resumed) as f64;
        let want = moved / secs;
        let rate = last.4 as f64;
        assert!(
            (rate - want).abs() <= want * 0.05 + 1.0,
            "side {side}: rate {rate}, want {want} ({p:?})"
        );
    }
}
