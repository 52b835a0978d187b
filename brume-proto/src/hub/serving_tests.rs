//! A call scoped to a group reaches the owner's session that serves it
//! (the last to publish its members), under the audit.

use super::tests::{Bench, offer};
use super::*;
use crate::token::TokenKind;

/// Logs `user` in on `device`, taking calls or not; the device it got.
fn login(b: &mut Bench, c: u64, user: &str, device: &str, calls: bool) -> String {
    b.open(c);
    let t = b.token(user, TokenKind::Access, 600);
    let hello = format!(
        r#"{{"type":"hello","version":2,"token":"{t}","device":"{device}","calls":{calls}}}"#
    );
    let out = b.send(c, &hello);
    match out.iter().find(|(conn, _)| *conn == ConnId(c)) {
        Some((_, HubMsg::Welcome { device, .. })) => device.to_string(),
        _ => panic!("no welcome: {out:?}"),
    }
}

fn scoped(attempt: &str, to: &str) -> String {
    format!(
        r#"{{"type":"offer","attempt":"{attempt}","to":"{to}","group":{{"owner":"bob","name":"photos"}},"sdp":"v=0"}}"#
    )
}

/// The session an offer lands on.
fn lands(b: &mut Bench, from: u64, frame: &str) -> Option<u64> {
    b.send(from, frame).into_iter().find_map(|(c, m)| match m {
        HubMsg::Offer { .. } => Some(c.0),
        _ => None,
    })
}

#[test]
fn a_group_call_reaches_the_session_serving_the_group_beside_recv() {
    let mut b = Bench::new();
    // bob's recv takes the device's calls; his share beside it takes none.
    assert_eq!(login(&mut b, 1, "bob", "vm", true), "vm");
    let share = login(&mut b, 2, "bob", "vm", false);
    assert!(share.starts_with("vm~"), "{share}");
    b.send(
        2,
        r#"{"type":"members","group":"photos","members":["carol"]}"#,
    );
    login(&mut b, 3, "carol", "pc", false);
    // bob's laptop mirrors his own group, as a member does.
    login(&mut b, 4, "bob", "laptop", false);

    assert_eq!(
        lands(&mut b, 3, &scoped("g1", "bob")),
        Some(2),
        "the group's call"
    );
    assert_eq!(
        lands(&mut b, 3, &offer("p1", "bob")),
        Some(1),
        "any other call"
    );
    assert_eq!(
        lands(&mut b, 4, &scoped("g2", "bob")),
        Some(2),
        "bob's other device"
    );
    // The serving session never reaches itself; another of bob's does.
    assert_eq!(lands(&mut b, 2, &scoped("g3", "bob")), Some(1));

    // Once share is gone, the group's calls go where bare calls go.
    b.step(HubInput::Closed(ConnId(2)));
    assert_eq!(lands(&mut b, 3, &scoped("g4", "bob")), Some(1));
    // A new publisher serves it from then on.
    login(&mut b, 5, "bob", "vm", false);
    b.send(
        5,
        r#"{"type":"members","group":"photos","members":["carol"]}"#,
    );
    assert_eq!(lands(&mut b, 3, &scoped("g5", "bob")), Some(5));
}

#[test]
fn serving_a_group_routes_nothing_else() {
    let mut b = Bench::new();
    login(&mut b, 1, "bob", "vm", true);
    login(&mut b, 2, "bob", "vm", false);
    b.send(
        2,
        r#"{"type":"members","group":"photos","members":["carol","alice"]}"#,
    );
    login(&mut b, 3, "carol", "pc", true);
    login(&mut b, 4, "alice", "pc", false);
    // A scoped call to another member is not the owner's: routed as ever.
    assert_eq!(lands(&mut b, 4, &scoped("g1", "carol")), Some(3));
    // A call to bob's device by name goes to that device.
    assert_eq!(lands(&mut b, 4, &scoped("g2", "bob/vm")), Some(1));
}
