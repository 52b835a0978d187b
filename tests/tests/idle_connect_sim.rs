//! Endpoints that sat idle connect as well as fresh ones. str0m arms its
//! DTLS handshake deadline (40 s) when an `Rtc` is built, and the endpoint
//! builds one ahead of the next connection: kept from an idle minute, it
//! failed its first handshake at once ("DTLS error: timeout: connect"),
//! so a `brume recv` left waiting a minute could take no call.

use std::time::Duration;

use brume_tests::sim::World;

const SEEDS: u64 = 3;

#[test]
fn endpoints_idle_for_minutes_connect_as_callers_and_callees() {
    brume_tests::for_each_seed(SEEDS, |seed| {
        let mut w = World::new(seed, &["alice", "bob", "carol"]);
        w.settle(Duration::from_secs(70));
        w.connect_pair(0, 1)
            .map_err(|e| format!("after 70 s idle: {e}: {:?}", w.nodes[1].events))?;
        // Alice has a connection now; a later caller still gets through.
        w.settle(Duration::from_secs(150));
        w.connect_pair(2, 0)
            .map_err(|e| format!("after 150 s more: {e}: {:?}", w.nodes[0].events))
    });
}
