//! RPC modules between two nodes (BoneValue's `module` and `message`): many
//! requests in flight on one connection matched by id, answers in any
//! order, typed failures (no such module, handler failed, timeout, peer
//! gone). On virtual time.

use std::time::Duration;

use brume_proto::endpoint::{EndpointEvent, RpcError};
use brume_tests::sim::World;
use serde_json::{Value, json};

fn responses(w: &World, i: usize) -> Vec<(u64, Result<Value, RpcError>)> {
    w.nodes[i]
        .events
        .iter()
        .filter_map(|(_, e)| match e {
            EndpointEvent::RpcResponse { id, result, .. } => Some((*id, result.clone())),
            _ => None,
        })
        .collect()
}

fn requests(w: &World, i: usize) -> Vec<(u64, String, Value)> {
    w.nodes[i]
        .events
        .iter()
        .filter_map(|(_, e)| match e {
            EndpointEvent::RpcRequest {
                id,
                module,
                payload,
                ..
            } => Some((*id, module.clone(), payload.clone())),
            _ => None,
        })
        .collect()
}

fn connected(seed: u64) -> World {
    let mut w = World::new(seed, &["alice", "bob"]);
    w.connect_pair(0, 1).unwrap();
    w
}

#[test]
fn many_requests_in_flight_are_matched_by_id_whatever_the_answer_order() {
    for seed in 0..3 {
        let mut w = connected(seed);
        let bob = World::peer("bob");
        let alice = World::peer("alice");
        w.with(1, |n, _| n.register_module("My.Echo.Module"));
        let ids: Vec<u64> = (0..20)
            .map(|k| {
                w.with(0, |n, now| {
                    n.request(
                        now,
                        &bob,
                        "My.Echo.Module",
                        json!({ "k": k }),
                        Duration::from_secs(5),
                    )
                })
                .unwrap()
            })
            .collect();
        assert!(w.run_until(Duration::from_secs(5), |w| requests(w, 1).len() == 20));
        // bob answers in reverse order, each with what it was asked plus one.
        for (id, module, payload) in requests(&w, 1).into_iter().rev() {
            assert_eq!(module, "My.Echo.Module");
            let k = payload["k"].as_i64().unwrap();
            w.with(1, |n, now| n.respond(now, &alice, id, Ok(json!(k + 1))))
                .unwrap();
        }
        assert!(w.run_until(Duration::from_secs(5), |w| responses(w, 0).len() == 20));
        for (k, id) in ids.iter().enumerate() {
            let got = responses(&w, 0)
                .into_iter()
                .find(|(i, _)| i == id)
                .map(|(_, r)| r);
            assert_eq!(
                got,
                Some(Ok(json!(k as i64 + 1))),
                "seed {seed}, request {k}"
            );
        }
    }
}

#[test]
fn failures_are_typed_and_each_request_ends_once() {
    let mut w = connected(5);
    let bob = World::peer("bob");
    let alice = World::peer("alice");
    w.with(1, |n, _| n.register_module("work"));
    let none = w
        .with(0, |n, now| {
            n.request(now, &bob, "nope", Value::Null, Duration::from_secs(5))
        })
        .unwrap();
    let failed = w
        .with(0, |n, now| {
            n.request(now, &bob, "work", json!("x"), Duration::from_secs(5))
        })
        .unwrap();
    let slow = w
        .with(0, |n, now| {
            n.request(now, &bob, "work", json!("y"), Duration::from_secs(2))
        })
        .unwrap();
    assert!(w.run_until(Duration::from_secs(1), |w| requests(w, 1).len() == 2));
    let first = requests(&w, 1)[0].0;
    w.with(1, |n, now| {
        n.respond(now, &alice, first, Err("disk full".into()))
    })
    .unwrap();
    w.settle(Duration::from_secs(3));
    let got = responses(&w, 0);
    assert_eq!(got.len(), 3, "{got:?}");
    let of = |id| got.iter().find(|(i, _)| *i == id).map(|(_, r)| r.clone());
    assert_eq!(
        of(none),
        Some(Err(RpcError::NoSuchModule(bob.clone(), "nope".into())))
    );
    assert_eq!(
        of(failed),
        Some(Err(RpcError::HandlerFailed("disk full".into())))
    );
    assert_eq!(of(slow), Some(Err(RpcError::Timeout)));
    // A late answer to the timed-out request is ignored.
    let second = requests(&w, 1)[1].0;
    w.with(1, |n, now| n.respond(now, &alice, second, Ok(json!(1))))
        .unwrap();
    w.settle(Duration::from_secs(1));
    assert_eq!(responses(&w, 0).len(), 3);

    // The connection ends with a request waiting: it fails, once.
    let gone = w
        .with(0, |n, now| {
            n.request(now, &bob, "work", json!("z"), Duration::from_secs(30))
        })
        .unwrap();
    w.settle(Duration::from_millis(200));
    w.with(1, |n, now| n.close_peer(now, &alice)).unwrap();
    w.settle(Duration::from_secs(2));
    let got = responses(&w, 0);
    assert_eq!(got.len(), 4, "{got:?}");
    assert_eq!(got[3], (gone, Err(RpcError::PeerGone)));
    w.settle(Duration::from_secs(40));
    assert_eq!(responses(&w, 0).len(), 4, "no timeout after the peer went");
}
