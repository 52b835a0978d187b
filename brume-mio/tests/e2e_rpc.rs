//! `brume rpc` against the modules a real `brume recv` serves, and the
//! typed failures a person sees.

mod common;
use common::*;

#[test]
fn rpc_asks_the_modules_recv_serves() {
    let hub = Hub::start("rpc");
    let alice = hub.add_user("alice", "pw-a");
    let bob = hub.add_user("bob", "pw-b");
    let _recv = recv(&alice, &hub.dir.join("in"), false);

    let out = brume(&bob, &["rpc", "alice", "echo", r#"{"text":"Friday"}"#]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "{\"text\":\"Friday\"}\n");

    let out = brume(&bob, &["rpc", "alice", "brume.info"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let info: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(info["user"], "alice");
    assert_eq!(info["program"], "brume recv");

    let out = brume(&bob, &["rpc", "alice", "My.Missing.Module"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("has no module \"My.Missing.Module\""),
        "{}",
        stderr(&out)
    );

    let out = brume(&bob, &["rpc", "alice", "echo", "{not json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("not JSON"), "{}", stderr(&out));
}
