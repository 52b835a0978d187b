//! Sending to a name with the node (linkup's `send(name, message)`):
//! connect on demand, messages sent before the connection opens arrive in
//! order over one attempt, a failed attempt reports each undelivered
//! message; and broadcast (BoneValue's `get`) to all peers, a user's
//! devices or one device, each recipient's result reported. On virtual time.

use std::time::Duration;

use brume_proto::ErrorCode;
use brume_proto::endpoint::{EndpointEvent, PeerStatus};
use brume_proto::framing::Data;
use brume_proto::node::{NodeEvent, Recipients};
use brume_proto::signal::{Address, DeviceName, PeerId};
use brume_tests::sim::World;

fn texts(w: &World, i: usize) -> Vec<String> {
    w.nodes[i]
        .events
        .iter()
        .filter_map(|(_, e)| match e {
            EndpointEvent::Message {
                data: Data::Text(t),
                ..
            } => Some(t.clone()),
            _ => None,
        })
        .collect()
}

fn incoming(w: &World, i: usize) -> usize {
    w.nodes[i]
        .events
        .iter()
        .filter(|(_, e)| matches!(e, EndpointEvent::Incoming { .. }))
        .count()
}

#[test]
fn messages_to_a_name_not_yet_connected_share_one_attempt_and_arrive_in_order() {
    for seed in 0..4 {
        let mut w = World::new(seed, &["alice", "bob"]);
        // The bare user (answered by one of their devices), or one device.
        let bob = if seed % 2 == 0 {
            Address::User(World::user("bob"))
        } else {
            World::peer("bob")
        };
        for n in 0..5 {
            let text = Data::Text(format!("m{n}"));
            w.with(0, |node, now| node.send_to(now, &bob, "chat", text))
                .unwrap();
        }
        let arrived = w.run_until(Duration::from_secs(10), |w| texts(w, 1).len() == 5);
        assert!(arrived, "seed {seed}: {:?}", texts(&w, 1));
        assert_eq!(texts(&w, 1), ["m0", "m1", "m2", "m3", "m4"], "seed {seed}");
        assert_eq!(incoming(&w, 1), 1, "seed {seed}: one attempt for all five");
        // Once open, a send goes straight out on the same connection.
        w.with(0, |node, now| {
            node.send_to(now, &bob, "chat", Data::Text("after".into()))
        })
        .unwrap();
        assert!(w.run_until(Duration::from_secs(5), |w| texts(w, 1).len() == 6));
        assert_eq!(incoming(&w, 1), 1, "seed {seed}");
        assert!(w.nodes[0].other_events.is_empty(), "seed {seed}");
    }
}

#[test]
fn messages_to_a_name_that_cannot_be_reached_come_back_undelivered() {
    // (`World::peer` makes any name's address; the hub knows alice and bob.)
    let mut w = World::new(1, &["alice", "bob"]);
    // No such user on the hub: it answers EBADDEST.
    let bob = World::peer("zed");
    for n in 0..3 {
        let text = Data::Text(format!("m{n}"));
        w.with(0, |node, now| node.send_to(now, &bob, "chat", text))
            .unwrap();
    }
    let failed = w.run_until(Duration::from_secs(10), |w| {
        w.nodes[0].other_events.len() == 3
    });
    assert!(failed, "{:?}", w.nodes[0].other_events);
    for (_, e) in &w.nodes[0].other_events {
        assert!(
            matches!(e, NodeEvent::Undelivered { to, kind, code: ErrorCode::BadDest, .. }
                if *to == bob && kind == "chat"),
            "{e:?}"
        );
    }
    // Nothing waits any longer: a later send starts a new attempt.
    let again = w.with(0, |node, now| {
        node.send_to(now, &bob, "chat", Data::Text("x".into()))
    });
    assert!(again.is_ok());
}

#[test]
fn a_broadcast_reaches_every_device_asked_for_and_reports_each() {
    let mut w = World::new(2, &["alice", "bob", "carol"]);
    let phone = w.add_node(World::user("bob"), |c| {
        c.device = DeviceName::new("phone").unwrap()
    });
    w.settle(Duration::from_millis(100));
    let bob_phone = Address::Device(PeerId::new(
        World::user("bob"),
        DeviceName::new("phone").unwrap(),
    ));
    for to in [World::peer("bob"), bob_phone.clone(), World::peer("carol")] {
        w.with(0, |node, now| node.connect(now, &to, None)).unwrap();
    }
    let open = w.run_until(Duration::from_secs(10), |w| {
        w.nodes[0]
            .node
            .peers()
            .filter(|p| w.nodes[0].node.peer_state(p) == Some(PeerStatus::Open))
            .count()
            == 3
    });
    assert!(open, "{:?}", w.nodes[0].events);
    let hi = Data::Text("to bob".into());
    let sent = w.with(0, |node, now| {
        node.broadcast(now, &Recipients::User(World::user("bob")), "chat", &hi)
    });
    let to: Vec<String> = sent.iter().map(|(a, _)| a.to_string()).collect();
    assert_eq!(to, ["bob/default", "bob/phone"]);
    assert!(sent.iter().all(|(_, r)| r.is_ok()));
    let all = Data::Text("to all".into());
    let sent = w.with(0, |node, now| {
        node.broadcast(now, &Recipients::All, "chat", &all)
    });
    assert_eq!(sent.len(), 3);
    let one = Data::Text("to the phone".into());
    let sent = w.with(0, |node, now| {
        node.broadcast(now, &Recipients::Device(bob_phone.clone()), "chat", &one)
    });
    assert_eq!(sent.len(), 1);
    let heard = w.run_until(Duration::from_secs(5), |w| {
        texts(w, 1).len() == 2 && texts(w, phone).len() == 3 && texts(w, 2).len() == 1
    });
    assert!(
        heard,
        "{:?} {:?} {:?}",
        texts(&w, 1),
        texts(&w, phone),
        texts(&w, 2)
    );
    assert_eq!(texts(&w, 1), ["to bob", "to all"]);
    assert_eq!(texts(&w, phone), ["to bob", "to all", "to the phone"]);
    assert_eq!(texts(&w, 2), ["to all"]);
}
