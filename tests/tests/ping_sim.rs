//! Brume's own ping: the peer's endpoint answers a control `ping` with the
//! same nonce, and the pinger hears the round trip on virtual time. An
//! application message of type `ping` is the application's: delivered, and
//! answered by nobody. Pings and pongs that find the send buffer full wait
//! for room, and never crowd out renegotiation.

use std::time::Duration;

use brume_proto::endpoint::{Direction, EndpointError, EndpointEvent, MediaKind};
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
        let bob = World::peer("bob");
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
        let bob = World::peer("bob");
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
    let bob = World::peer("bob");
    let r = w.with(0, |n, now| n.ping(now, &bob));
    assert_eq!(r, Err(EndpointError::NoPeer(bob)));
}

#[test]
fn pings_and_pongs_wait_for_room_in_a_full_send_buffer() {
    brume_tests::for_each_seed(SEEDS, |seed| {
        let mut w = connected_with_latency(seed)?;
        let bob = World::peer("bob");
        // Alice's ping waits behind her own full buffer.
        let fills = w.fill_send_buffer(0, "bob");
        let nonce = w
            .with(0, |n, now| n.ping(now, &bob))
            .map_err(|e| e.to_string())?;
        w.run_until(Duration::from_secs(10), |w| !pongs(w, 0).is_empty());
        match pongs(&w, 0).as_slice() {
            [(n, rtt)] if *n == nonce && *rtt > 2 * ONE_WAY => {}
            other => return Err(format!("pongs {other:?} for nonce {nonce}")),
        }
        if w.fills_heard(1) != fills {
            return Err(format!("bob heard {} of {fills}", w.fills_heard(1)));
        }
        // Bob's pong waits behind his full buffer.
        w.fill_send_buffer(1, "alice");
        let nonce = w
            .with(0, |n, now| n.ping(now, &bob))
            .map_err(|e| e.to_string())?;
        w.run_until(Duration::from_secs(10), |w| pongs(w, 0).len() == 2);
        if pongs(&w, 0).get(1).map(|p| p.0) != Some(nonce) {
            return Err(format!("second pong {:?}", pongs(&w, 0)));
        }
        Ok(())
    });
}

#[test]
fn pings_never_crowd_out_renegotiation() {
    brume_tests::for_each_seed(SEEDS, |seed| {
        let mut w = connected_with_latency(seed)?;
        let bob = World::peer("bob");
        w.fill_send_buffer(0, "bob");
        let mut sent = Vec::new();
        let refused = loop {
            match w.with(0, |n, now| n.ping(now, &bob)) {
                Ok(nonce) => sent.push(nonce),
                Err(e) => break e,
            }
            if sent.len() > 64 {
                return Err("pings never refused".into());
            }
        };
        if !matches!(refused, EndpointError::WrongState(_)) {
            return Err(format!("refused as {refused:?}"));
        }
        // The offer still finds a place, and goes out once there is room.
        w.with(0, |n, now| {
            n.endpoint_mut()
                .add_media(now, &bob, MediaKind::Audio, Direction::SendRecv)
        })
        .map_err(|e| e.to_string())?;
        let done = w.run_until(Duration::from_secs(10), |w| {
            pongs(w, 0).len() == sent.len()
                && !w.nodes[1]
                    .node
                    .endpoint()
                    .media(&World::peer("alice"))
                    .is_empty()
        });
        if !done || w.saw(0, |e| matches!(e, EndpointEvent::PeerClosed { .. })) {
            return Err(format!(
                "{} of {} pongs, bob's tracks {:?}",
                pongs(&w, 0).len(),
                sent.len(),
                w.nodes[1].node.endpoint().media(&World::peer("alice"))
            ));
        }
        Ok(())
    });
}
