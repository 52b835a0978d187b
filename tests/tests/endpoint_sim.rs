//! Endpoint scenarios in the simulated world, each under many seeds.

use std::time::Duration;

use brume_proto::endpoint::EndpointEvent;
use brume_proto::framing::Data;
use brume_tests::sim::World;

#[test]
fn connect_by_name_and_exchange_messages_both_ways() {
    let mut w = World::new(1, &["alice", "bob"]);
    let (a, b) = (w.index("alice"), w.index("bob"));
    assert!(w.nodes[a].ep.is_ready(), "{:?}", w.nodes[a].events);
    w.with(a, |ep, now| ep.connect(now, &World::user("bob"), None)).unwrap();
    let open = w.run_until(Duration::from_secs(10), |w| {
        w.saw(a, |e| matches!(e, EndpointEvent::PeerOpen { .. }))
            && w.saw(b, |e| matches!(e, EndpointEvent::PeerOpen { .. }))
    });
    assert!(open, "a: {:#?}\nb: {:#?}", w.nodes[a].events, w.nodes[b].events);
    eprintln!("open after {:?}", w.elapsed());
    w.with(a, |ep, now| ep.send(now, &World::user("bob"), "chat", &Data::Text("hi bob".into()))).unwrap();
    w.with(b, |ep, now| ep.send(now, &World::user("alice"), "chat", &Data::Bytes(vec![1, 2, 3]))).unwrap();
    let got = w.run_until(Duration::from_secs(5), |w| {
        w.saw(b, |e| matches!(e, EndpointEvent::Message { data: Data::Text(t), .. } if t == "hi bob"))
            && w.saw(a, |e| matches!(e, EndpointEvent::Message { data: Data::Bytes(b), .. } if b == &[1, 2, 3]))
    });
    assert!(got, "a: {:#?}\nb: {:#?}", w.nodes[a].events, w.nodes[b].events);
}
