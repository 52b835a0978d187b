//! Brume's own ping: the peer's endpoint answers a control `ping` with the
//! same nonce, and the pinger hears the round trip on virtual time. An
//! application message of type `ping` is the application's: delivered, and
//! answered by nobody.

use std::time::Duration;

use brume_proto::endpoint::{EndpointError, EndpointEvent};
use brume_proto::framing::Data;
use brume_tests::sim::World;
use str0m_netem::NetemConfig;

const SEEDS: u64 = 4;
/// One-way latency of every datagram, both ways.
const ONE_WAY: Duration = Duration::from_millis(25);

fn pongs(w: &World, i: usize) -> Vec<(u32, Duration)> {
    w.nodes[i]
        .events
        .iter()
        .filter_map(|(_, e)| match e {
            EndpointEvent::Pong { nonce, rtt, .. } => Some((*nonce, *rtt)),
            _ => None,
        })
        .collect()
}

fn connected_with_latency(seed: u64) -> Result<World, String> {
    let mut w = World::new(seed, &["alice", "bob"]);
    w.connect_pair(0, 1)?;
    for i in 0..2 {
        w.set_inbound(i, NetemConfig::new().latency(ONE_WAY).seed(seed + i as u64));
    }
    // Let what was in flight at the old latency arrive.
    w.settle(Duration::from_millis(200));
    Ok(w)
}

#[test]
fn a_ping_is_answered_with_its_nonce_and_a_sane_rtt() {
    brume_tests::for_each_seed(SEEDS, |seed| {
        let mut w = connected_with_latency(seed)?;
        let bob = World::user("bob");
        let mut nonces = Vec::new();
        for _ in 0..3 {
            let nonce = w
                .with(0, |n, now| n.ping(now, &bob))
                .map_err(|e| e.to_string())?;
            nonces.push(nonce);
            let want = nonces.len();
            w.run_until(Duration::from_secs(2), |w| pongs(w, 0).len() == want);
        }
        let heard = pongs(&w, 0);
        let got: Vec<u32> = heard.iter().map(|(n, _)| *n).collect();
        if got != nonces {
            return Err(format!("pinged {nonces:?}, heard pongs {got:?}"));
        }
        for (_, rtt) in &heard {
            if *rtt < 2 * ONE_WAY || *rtt > 2 * ONE_WAY + Duration::from_millis(30) {
                return Err(format!("rtt {rtt:?} for {ONE_WAY:?} each way"));
            }
        }
        // The answer is the endpoint's business: bob's application hears nothing.
        if w.saw(1, |e| matches!(e, EndpointEvent::Message { .. })) {
            return Err("bob's application saw the ping".into());
        }
        Ok(())
    });
}

#[test]
fn an_application_ping_is_delivered_and_not_answered() {
    brume_tests::for_each_seed(SEEDS, |seed| {
        let mut w = connected_with_latency(seed)?;
        let bob = World::user("bob");
        let data = Data::Text("7".into());
        w.with(0, |n, now| n.send_message(now, &bob, "ping", &data))
            .map_err(|e| e.to_string())?;
        let delivered = |w: &World| {
            w.saw(1, |e| {
                matches!(e, EndpointEvent::Message { kind, data, .. }
                    if kind == "ping" && *data == Data::Text("7".into()))
            })
        };
        if !w.run_until(Duration::from_secs(2), delivered) {
            return Err("bob never got the application ping".into());
        }
        w.settle(Duration::from_secs(1));
        let answered = w.saw(0, |e| {
            matches!(e, EndpointEvent::Pong { .. })
                || matches!(e, EndpointEvent::Message { kind, .. } if kind == "pong")
        });
        if answered {
            return Err("an application ping was answered".into());
        }
        Ok(())
    });
}

#[test]
fn a_ping_needs_an_open_connection() {
    let mut w = World::new(1, &["alice", "bob"]);
    let bob = World::user("bob");
    let r = w.with(0, |n, now| n.ping(now, &bob));
    assert_eq!(r, Err(EndpointError::NoPeer(bob)));
}
