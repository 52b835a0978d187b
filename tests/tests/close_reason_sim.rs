//! `PeerClosed` says why, as a type: a local close, the peer's goodbye and
//! a vanished peer are told apart without reading text.

use std::time::Duration;

use brume_proto::endpoint::{EndpointEvent, PeerCloseReason};
use brume_tests::sim::World;

const SEEDS: u64 = 4;

fn close_reason(w: &World, i: usize) -> Option<PeerCloseReason> {
    w.nodes[i].events.iter().find_map(|(_, e)| match e {
        EndpointEvent::PeerClosed { reason, .. } => Some(reason.clone()),
        _ => None,
    })
}

#[test]
fn a_close_is_local_on_one_side_and_remote_on_the_other() {
    brume_tests::for_each_seed(SEEDS, |seed| {
        let mut w = World::new(seed, &["alice", "bob"]);
        w.connect_pair(0, 1)?;
        w.with(1, |ep, now| ep.close_peer(now, &World::peer("alice")))
            .map_err(|e| e.to_string())?;
        w.run_until(Duration::from_secs(5), |w| close_reason(w, 0).is_some());
        let (alice, bob) = (close_reason(&w, 0), close_reason(&w, 1));
        if alice != Some(PeerCloseReason::Remote) || bob != Some(PeerCloseReason::Local) {
            return Err(format!("alice {alice:?}, bob {bob:?}"));
        }
        Ok(())
    });
}

#[test]
fn a_peer_that_vanishes_is_a_lost_connection() {
    brume_tests::for_each_seed(SEEDS, |seed| {
        let mut w = World::new(seed, &["alice", "bob"]);
        w.connect_pair(0, 1)?;
        w.nodes[1].link_up = false;
        w.run_until(Duration::from_secs(40), |w| close_reason(w, 0).is_some());
        match close_reason(&w, 0) {
            Some(reason) if reason.is_loss() && reason.to_string() == "connection lost" => Ok(()),
            other => Err(format!("alice {other:?}")),
        }
    });
}
