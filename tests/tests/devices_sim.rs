//! Devices seen from the endpoint: a session that takes no calls (a
//! `brume send`) is reachable for the ICE restart of a connection it made,
//! because the restart names its device, not the bare user, which would
//! resolve to the user's session that takes calls. On virtual time.

use std::time::Duration;

use brume_proto::endpoint::EndpointEvent;
use brume_proto::framing::Data;
use brume_tests::sim::World;

const SEEDS: u64 = 4;

fn events(w: &World, i: usize) -> String {
    format!("{}: {:#?}", w.nodes[i].name, w.nodes[i].events)
}

fn heard(w: &World, i: usize, text: &str) -> bool {
    w.saw(
        i,
        |e| matches!(e, EndpointEvent::Message { data: Data::Text(t), .. } if t == text),
    )
}

/// alice (0) takes calls; bob has a session that takes calls (1) and a
/// short-lived one that does not (2, `bob/default~1`), which calls alice.
/// Both paths drop long enough for an ICE restart, which alice sends (her
/// name sorts first).
fn restart_reaches_the_calling_device(seed: u64) -> Result<(), String> {
    let mut w = World::new(seed, &["alice", "bob"]);
    let send = w.add_node(World::user("bob"), |c| c.accepts_calls = false);
    w.settle(Duration::from_millis(100));
    w.with(send, |ep, now| ep.connect(now, &World::user("alice"), None))
        .map_err(|e| e.to_string())?;
    let open = w.run_until(Duration::from_secs(10), |w| {
        [0, send]
            .iter()
            .all(|&i| w.saw(i, |e| matches!(e, EndpointEvent::PeerOpen { .. })))
    });
    if !open {
        return Err(format!("no open\n{}\n{}", events(&w, 0), events(&w, send)));
    }
    w.settle(Duration::from_secs(1));
    for i in [0, send] {
        w.nodes[i].link_up = false;
    }
    w.settle(Duration::from_secs(8));
    for i in [0, send] {
        w.nodes[i].link_up = true;
    }
    w.settle(Duration::from_secs(10));
    let restarts: Vec<&String> = w.nodes[0]
        .frames_to_hub
        .iter()
        .filter(|f| f.contains(r#""restart":true"#))
        .collect();
    if restarts.is_empty()
        || !restarts
            .iter()
            .all(|f| f.contains(r#""to":"bob/default~1""#))
    {
        return Err(format!("restarts not sent to bob/default~1: {restarts:?}"));
    }
    // The session of bob's that takes calls was never dragged in.
    if w.saw(1, |e| matches!(e, EndpointEvent::Incoming { .. })) {
        return Err(format!("bob's other session was called\n{}", events(&w, 1)));
    }
    w.with(send, |ep, now| {
        ep.send_message(
            now,
            &World::user("alice"),
            "chat",
            &Data::Text("after".into()),
        )
    })
    .map_err(|e| e.to_string())?;
    if w.run_until(Duration::from_secs(3), |w| heard(w, 0, "after")) {
        Ok(())
    } else {
        Err(format!("{}\n{}", events(&w, 0), events(&w, send)))
    }
}

#[test]
fn an_ice_restart_reaches_the_session_that_takes_no_calls() {
    brume_tests::for_each_seed(SEEDS, restart_reaches_the_calling_device);
}
