//! ICE restarts the application asks for (`Endpoint::restart_ice`, as the
//! JavaScript client's `peer.restartIce()`): one from either side keeps the
//! connection and what flows on it, and two that cross are settled by the
//! order of the sessions, as connection glare is, instead of ending it.

use std::time::Duration;

use brume_proto::endpoint::EndpointEvent;
use brume_proto::framing::Data;
use brume_tests::sim::World;

const SEEDS: u64 = 4;

fn heard(w: &World, i: usize, text: &str) -> bool {
    w.saw(
        i,
        |e| matches!(e, EndpointEvent::Message { data: Data::Text(t), .. } if t == text),
    )
}

fn ended(w: &World, i: usize) -> Option<String> {
    w.nodes[i].events.iter().find_map(|(_, e)| match e {
        EndpointEvent::PeerClosed { .. } | EndpointEvent::PeerFailed { .. } => {
            Some(format!("{e:?}"))
        }
        _ => None,
    })
}

/// Messages go both ways on the connection the pair already had.
fn still_talking(w: &mut World, round: &str) -> Result<(), String> {
    for (i, j, peer) in [(0, 1, "bob"), (1, 0, "alice")] {
        let text = format!("{round} from {i}");
        let to = World::peer(peer);
        w.with(i, |n, now| {
            n.endpoint_mut()
                .send(now, &to, "chat", &Data::Text(text.clone()))
        })
        .map_err(|e| format!("{round}: node {i} cannot send: {e}"))?;
        if !w.run_until(Duration::from_secs(5), |w| heard(w, j, &text)) {
            return Err(format!("{round}: node {j} never heard node {i}"));
        }
    }
    for i in 0..2 {
        if let Some(e) = ended(w, i) {
            return Err(format!("{round}: node {i} lost the connection: {e}"));
        }
    }
    Ok(())
}

#[test]
fn a_restart_asked_for_from_either_side_keeps_the_connection() {
    brume_tests::for_each_seed(SEEDS, |seed| {
        let mut w = World::new(seed, &["alice", "bob"]);
        w.connect_pair(0, 1)?;
        for (i, peer) in [(0, "bob"), (1, "alice")] {
            let to = World::peer(peer);
            w.with(i, |n, now| n.endpoint_mut().restart_ice(now, &to))
                .map_err(|e| e.to_string())?;
            w.settle(Duration::from_secs(2));
            still_talking(&mut w, &format!("after node {i}'s restart"))?;
        }
        let reconnected = |e: &EndpointEvent| matches!(e, EndpointEvent::PeerReconnected { .. });
        if w.saw(0, reconnected) || w.saw(1, reconnected) {
            return Err("a restart on a live path reported a reconnection".into());
        }
        Ok(())
    });
}

#[test]
fn restarts_that_cross_are_settled_and_the_connection_carries_on() {
    brume_tests::for_each_seed(SEEDS, |seed| {
        let mut w = World::new(seed, &["alice", "bob"]);
        w.connect_pair(0, 1)?;
        // Both before either's offer leaves: they cross at the hub.
        let now = w.now;
        for (i, peer) in [(0, "bob"), (1, "alice")] {
            let to = World::peer(peer);
            w.nodes[i]
                .node
                .endpoint_mut()
                .restart_ice(now, &to)
                .map_err(|e| e.to_string())?;
        }
        // Long enough for ICE consent on each side's new credentials to
        // have lapsed had either side not learnt the other's.
        w.settle(Duration::from_secs(45));
        still_talking(&mut w, "after crossing restarts")?;
        // And a later restart still works: nothing was left pending.
        let bob = World::peer("bob");
        w.with(0, |n, now| n.endpoint_mut().restart_ice(now, &bob))
            .map_err(|e| e.to_string())?;
        w.settle(Duration::from_secs(2));
        still_talking(&mut w, "after one more")
    });
}
