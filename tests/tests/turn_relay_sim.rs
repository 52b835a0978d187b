//! The relay in the endpoint, in the simulated world: with the direct path
//! blocked a connection and a file transfer go through the TURN server; with
//! it open the path is direct; unblocked mid-connection it moves back; a
//! TURN server that never answers is a clear error, not a hang; and one
//! that was down is tried again until it answers.

use std::time::Duration;

use brume_proto::endpoint::{EndpointEvent, PeerPath, TurnServer};
use brume_proto::transfer::{TransferEvent, TransferState};
use brume_proto::turn::TurnCredentials;
use brume_tests::content;
use brume_tests::sim::World;
use brume_tests::turn_server::TURN_SERVER;
use str0m_netem::NetemConfig;

const SEEDS: u64 = 3;

fn world(seed: u64) -> World {
    World::with_config(seed, &["alice", "bob"], |c| {
        c.turn_server = Some(TurnServer {
            addr: TURN_SERVER,
            credentials: TurnCredentials::shared_secret(b"s", "u", 1),
        });
    })
}

fn paths(w: &World, i: usize) -> Vec<PeerPath> {
    w.nodes[i]
        .events
        .iter()
        .filter_map(|(_, e)| match e {
            EndpointEvent::PathChanged { path, .. } => Some(*path),
            _ => None,
        })
        .collect()
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

#[test]
fn with_the_direct_path_blocked_the_relay_carries_a_transfer() {
    brume_tests::for_each_seed(SEEDS, |seed| {
        let mut w = world(seed);
        w.direct_blocked = true;
        w.connect_pair(0, 1)?;
        for i in 0..2 {
            if paths(&w, i) != [PeerPath::Relayed] {
                return Err(format!("node {i} took {:?}", paths(&w, i)));
            }
        }
        w.nodes[1].accept_into = Some("inbox".into());
        let data = content(seed, 512 * 1024);
        let before = w.turn.relayed;
        w.send_files(0, "bob", &[("relayed.bin", &data)])?;
        if !w.run_until(Duration::from_secs(60), |w| done(w, 1)) {
            return Err("the transfer did not finish".into());
        }
        if w.nodes[1].storage.file("inbox", &["relayed.bin"]) != Some(&data) {
            return Err("content differs".into());
        }
        if w.turn.relayed - before < 300 {
            return Err(format!(
                "only {} datagrams relayed",
                w.turn.relayed - before
            ));
        }
        Ok(())
    });
}

#[test]
fn an_open_direct_path_is_preferred_over_the_relay() {
    brume_tests::for_each_seed(SEEDS, |seed| {
        let mut w = world(seed);
        w.connect_pair(0, 1)?;
        w.settle(Duration::from_secs(3));
        for i in 0..2 {
            if paths(&w, i) != [PeerPath::Direct] {
                return Err(format!("node {i} took {:?}", paths(&w, i)));
            }
        }
        Ok(())
    });
}

#[test]
fn the_connection_moves_back_to_direct_once_it_works() {
    brume_tests::for_each_seed(SEEDS, |seed| {
        let mut w = world(seed);
        w.direct_blocked = true;
        w.connect_pair(0, 1)?;
        w.direct_blocked = false;
        let back = w.run_until(Duration::from_secs(30), |w| {
            (0..2).all(|i| paths(w, i).last() == Some(&PeerPath::Direct))
        });
        if !back {
            return Err(format!("paths {:?} / {:?}", paths(&w, 0), paths(&w, 1)));
        }
        Ok(())
    });
}

#[test]
fn a_mute_turn_server_is_a_clear_error() {
    // Nothing answers at this address.
    let mute = "192.0.2.3:3478".parse().unwrap();
    let mut w = World::with_config(0, &["alice", "bob"], |c| {
        c.turn_server = Some(TurnServer {
            addr: mute,
            credentials: TurnCredentials::shared_secret(b"s", "u", 1),
        });
    });
    // Direct connections do not wait for the relay.
    w.connect_pair(0, 1).unwrap();
    let failed = w.run_until(Duration::from_secs(70), |w| {
        w.saw(0, |e| matches!(e, EndpointEvent::RelayFailed { .. }))
    });
    assert!(failed, "no RelayFailed event");
    let error = w.nodes[0]
        .events
        .iter()
        .find_map(|(_, e)| match e {
            EndpointEvent::RelayFailed { error } => Some(error.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(
        error,
        "TURN server 192.0.2.3:3478 did not answer Allocate (7 tries)"
    );
    let open = |e: &EndpointEvent| matches!(e, EndpointEvent::PeerClosed { .. });
    assert!(!w.saw(0, open), "the direct connection stays open");
}

#[test]
fn credentials_from_the_hub_are_enough_to_relay() {
    brume_tests::for_each_seed(SEEDS, |seed| {
        // No TURN server in the config: only the hub's `turn` message.
        let mut w = World::new(seed, &["alice", "bob"]);
        let grant = r#"{"type":"turn","server":"192.0.2.2:3478","username":"1:u","password":"p","expires_at":1}"#;
        for i in 0..2 {
            w.with(i, |n, now| n.handle_hub_frame(now, grant.as_bytes()));
        }
        w.settle(Duration::from_millis(100));
        w.direct_blocked = true;
        w.connect_pair(0, 1)?;
        for i in 0..2 {
            if paths(&w, i) != [PeerPath::Relayed] {
                return Err(format!("node {i} took {:?}", paths(&w, i)));
            }
        }
        Ok(())
    });
}

#[test]
fn no_path_and_a_mute_relay_say_so_when_connecting_fails() {
    let mute = "192.0.2.3:3478".parse().unwrap();
    let mut w = World::with_config(0, &["alice", "bob"], |c| {
        c.turn_server = Some(TurnServer {
            addr: mute,
            credentials: TurnCredentials::shared_secret(b"s", "u", 1),
        });
    });
    w.direct_blocked = true;
    assert!(w.connect_pair(0, 1).is_err());
    w.run_until(Duration::from_secs(20), |w| {
        w.saw(0, |e| matches!(e, EndpointEvent::PeerFailed { .. }))
    });
    let reason = w.nodes[0].events.iter().find_map(|(_, e)| match e {
        EndpointEvent::PeerFailed { reason, .. } => Some(reason.clone()),
        _ => None,
    });
    assert_eq!(
        reason.as_deref(),
        Some("no direct path, and no relay: TURN server 192.0.2.3:3478 has not answered yet")
    );
}

#[test]
fn a_direct_path_cut_mid_transfer_moves_to_the_relay_and_back() {
    brume_tests::for_each_seed(SEEDS, |seed| {
        let mut w = world(seed);
        w.connect_pair(0, 1)?;
        w.nodes[1].accept_into = Some("inbox".into());
        let data = content(seed, 4 << 20);
        w.send_files(0, "bob", &[("cut.bin", &data)])?;
        for i in 0..2 {
            w.set_inbound(
                i,
                NetemConfig::new()
                    .latency(Duration::from_millis(25))
                    .seed(seed),
            );
        }
        let moving = w.run_until(Duration::from_secs(10), |w| {
            w.saw_transfer(
                1,
                |e| matches!(e, TransferEvent::Progress { done, .. } if *done > 256 * 1024),
            )
        });
        if !moving || done(&w, 1) {
            return Err("the transfer did not get under way".into());
        }
        // The peer's checks still reach us through the relay, from the
        // same address as on the direct pair: only the pair in use counts.
        w.direct_blocked = true;
        let relayed = w.run_until(Duration::from_secs(20), |w| {
            paths(w, 0).last() == Some(&PeerPath::Relayed)
        });
        if !relayed {
            return Err(format!("paths {:?}", paths(&w, 0)));
        }
        let reconnecting = |e: &EndpointEvent| matches!(e, EndpointEvent::PeerReconnecting { .. });
        if !w.saw(0, reconnecting) {
            return Err("no recovery".into());
        }
        w.direct_blocked = false;
        if !w.run_until(Duration::from_secs(60), |w| {
            done(w, 1) && paths(w, 0).last() == Some(&PeerPath::Direct)
        }) {
            return Err(format!("paths {:?}, done {}", paths(&w, 0), done(&w, 1)));
        }
        if w.nodes[1].storage.file("inbox", &["cut.bin"]) != Some(&data) {
            return Err("content differs".into());
        }
        Ok(())
    });
}

#[test]
fn a_relay_down_at_start_is_tried_again_and_carries_once_it_is_back() {
    brume_tests::for_each_seed(SEEDS, |seed| {
        let mut w = World::new(seed, &["alice", "bob"]);
        w.turn_down = true;
        let grant = r#"{"type":"turn","server":"192.0.2.2:3478","username":"1:u","password":"p","expires_at":1}"#;
        for i in 0..2 {
            w.with(i, |n, now| n.handle_hub_frame(now, grant.as_bytes()));
        }
        let failed = w.run_until(Duration::from_secs(70), |w| {
            (0..2).all(|i| w.saw(i, |e| matches!(e, EndpointEvent::RelayFailed { .. })))
        });
        if !failed {
            return Err(format!(
                "no RelayFailed while down: {:?}",
                w.nodes[0].events
            ));
        }
        // Back up: the next try (5 s after the failure) allocates, with no
        // new `turn` message from the hub.
        w.turn_down = false;
        w.settle(Duration::from_secs(6));
        w.direct_blocked = true;
        w.connect_pair(0, 1)
            .map_err(|e| format!("{e}: {:?}", w.nodes[0].events))?;
        for i in 0..2 {
            if paths(&w, i) != [PeerPath::Relayed] {
                return Err(format!("node {i} took {:?}", paths(&w, i)));
            }
        }
        Ok(())
    });
}
