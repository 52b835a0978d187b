//! Who a peer really is (issue 15): each device's identity key, which
//! signs its DTLS fingerprint, is pinned on first use; a hub that rewrites
//! the fingerprints it relays is detected on both sides, even at the first
//! meeting, and never trusted; a device set up again is refused until the
//! user trusts it. On virtual time.

use std::time::Duration;

use brume_proto::ErrorCode;
use brume_proto::endpoint::{EndpointEvent, PeerStatus};
use brume_tests::sim::World;

fn pinned(w: &World, i: usize) -> Vec<String> {
    w.nodes[i]
        .events
        .iter()
        .filter_map(|(_, e)| match e {
            EndpointEvent::PeerPinned { peer, fingerprint } => {
                Some(format!("{peer} {fingerprint}"))
            }
            _ => None,
        })
        .collect()
}

fn changed(w: &World, i: usize) -> usize {
    w.nodes[i]
        .events
        .iter()
        .filter(|(_, e)| matches!(e, EndpointEvent::IdentityChanged { .. }))
        .count()
}

fn opens(w: &World, i: usize) -> usize {
    w.nodes[i]
        .events
        .iter()
        .filter(|(_, e)| matches!(e, EndpointEvent::PeerOpen { .. }))
        .count()
}

fn own(w: &World, i: usize) -> String {
    w.nodes[i].node.endpoint().identity().unwrap()
}

#[test]
fn a_lying_hub_is_detected_on_both_sides_and_never_trusted() {
    let mut w = World::new(3, &["alice", "bob"]);
    let (alice, bob) = (World::peer("alice"), World::peer("bob"));
    w.connect_pair(0, 1).unwrap();
    // First use: each pins the other's true fingerprint.
    assert_eq!(pinned(&w, 0), [format!("{bob} {}", own(&w, 1))]);
    assert_eq!(pinned(&w, 1), [format!("{alice} {}", own(&w, 0))]);
    w.with(0, |n, now| n.close_peer(now, &bob)).unwrap();
    w.settle(Duration::from_secs(2));

    // Now the hub puts itself in the middle.
    w.lying_hub = true;
    w.with(0, |n, now| n.connect(now, &bob, None)).unwrap();
    w.settle(Duration::from_secs(10));
    assert_eq!(
        changed(&w, 1),
        1,
        "bob sees the forged offer: {:?}",
        w.nodes[1].events
    );
    assert!(
        w.saw(0, |e| matches!(
            e,
            EndpointEvent::PeerFailed {
                code: ErrorCode::Rejected | ErrorCode::Identity,
                ..
            }
        )),
        "{:?}",
        w.nodes[0].events
    );
    assert_eq!(
        (opens(&w, 0), opens(&w, 1)),
        (1, 1),
        "nothing opened through the liar"
    );
    assert_ne!(w.nodes[0].node.peer_state(&bob), Some(PeerStatus::Open));

    // bob calls alice through the liar: alice sees the forged answer... or
    // offer, and the pins stay the true ones.
    w.with(1, |n, now| n.connect(now, &alice, None)).unwrap();
    w.settle(Duration::from_secs(10));
    assert!(changed(&w, 0) >= 1, "{:?}", w.nodes[0].events);
    assert_eq!((opens(&w, 0), opens(&w, 1)), (1, 1));
    assert_eq!(pinned(&w, 0).len(), 1);

    // An honest hub again: they connect, with the pins they had.
    w.lying_hub = false;
    w.with(0, |n, now| n.connect(now, &bob, None)).unwrap();
    assert!(w.run_until(Duration::from_secs(10), |w| opens(w, 0) == 2
        && opens(w, 1) == 2));
    assert_eq!(pinned(&w, 0).len(), 1, "no new pin");
}

#[test]
fn a_device_set_up_again_is_refused_until_it_is_trusted() {
    let mut w = World::new(4, &["alice", "bob"]);
    let bob = World::peer("bob");
    w.connect_pair(0, 1).unwrap();
    let first = own(&w, 1);
    // bob's device is set up again: a new certificate.
    w.reinstall_node(1);
    w.settle(Duration::from_secs(1));
    assert_ne!(own(&w, 1), first);
    let _ = w.with(0, |n, now| n.close_peer(now, &bob));
    w.settle(Duration::from_secs(2));
    w.with(0, |n, now| n.connect(now, &bob, None)).unwrap();
    w.settle(Duration::from_secs(10));
    assert!(
        w.saw(0, |e| matches!(
            e,
            EndpointEvent::PeerFailed {
                code: ErrorCode::Identity,
                ..
            }
        )),
        "{:?}",
        w.nodes[0].events
    );
    let presented = w.nodes[0]
        .events
        .iter()
        .find_map(|(_, e)| match e {
            EndpointEvent::IdentityChanged {
                pinned, presented, ..
            } => Some((pinned.clone(), presented.clone())),
            _ => None,
        })
        .unwrap();
    assert_eq!(presented, (first, own(&w, 1)));
    // The user trusts the new one (after checking it out of band).
    let brume_proto::signal::Address::Device(id) = bob.clone() else {
        unreachable!()
    };
    w.with(0, |n, _| n.endpoint_mut().pin(id, presented.1.clone()));
    w.with(0, |n, now| n.connect(now, &bob, None)).unwrap();
    assert!(w.run_until(
        Duration::from_secs(10),
        |w| w.nodes[0].node.peer_state(&bob) == Some(PeerStatus::Open)
    ));
}

#[test]
fn a_hub_that_lies_from_the_first_meeting_is_caught_by_the_signature() {
    let mut w = World::new(5, &["alice", "bob"]);
    w.lying_hub = true;
    let bob = World::peer("bob");
    w.with(0, |n, now| n.connect(now, &bob, None)).unwrap();
    w.settle(Duration::from_secs(10));
    assert_eq!(changed(&w, 1), 1, "bob: {:?}", w.nodes[1].events);
    assert_eq!((opens(&w, 0), opens(&w, 1)), (0, 0));
    assert!(
        pinned(&w, 0).is_empty() && pinned(&w, 1).is_empty(),
        "nothing pinned"
    );
}
