//! Scenario tests for several devices per user, each run under the audit.

use super::tests::{Bench, closes, codes, offer, pres, u};
use super::*;
use crate::token::TokenKind;

impl Bench {
    /// Opens `c` and says hello as `user` on `device` (none: `"default"`).
    fn login_on(
        &mut self,
        c: u64,
        user: &str,
        device: Option<&str>,
        calls: bool,
    ) -> Vec<(ConnId, HubMsg)> {
        self.open(c);
        let t = self.token(user, TokenKind::Access, 600);
        let device = device
            .map(|d| format!(r#","device":"{d}""#))
            .unwrap_or_default();
        self.send(
            c,
            &format!(r#"{{"type":"hello","version":2,"token":"{t}"{device},"calls":{calls}}}"#),
        )
    }

    /// Logs in and returns the device the hub gave the session.
    fn device_of(&mut self, c: u64, user: &str, device: &str, calls: bool) -> String {
        let out = self.login_on(c, user, Some(device), calls);
        match out.iter().find(|(conn, _)| *conn == ConnId(c)) {
            Some((_, HubMsg::Welcome { device, .. })) => device.to_string(),
            _ => panic!("no welcome: {out:?}"),
        }
    }
}

/// Where a frame sent to `to` from `from` lands, and who it says it is from.
fn offer_lands(b: &mut Bench, from: u64, attempt: &str, to: &str) -> Option<(u64, String)> {
    b.send(from, &offer(attempt, to))
        .into_iter()
        .find_map(|(c, m)| match m {
            HubMsg::Offer { from, .. } => Some((c.0, from.to_string())),
            _ => None,
        })
}

fn frame(kind: &str, attempt: &str, to: &str) -> String {
    match kind {
        "answer" => format!(r#"{{"type":"answer","attempt":"{attempt}","to":"{to}","sdp":"v=0"}}"#),
        "candidate" => {
            format!(r#"{{"type":"candidate","attempt":"{attempt}","to":"{to}","candidate":"c"}}"#)
        }
        _ => format!(r#"{{"type":"{kind}","attempt":"{attempt}","to":"{to}"}}"#),
    }
}

#[test]
fn two_devices_of_one_user_live_side_by_side() {
    let mut b = Bench::new();
    assert_eq!(b.device_of(1, "alice", "laptop", true), "laptop");
    let out = b.login_on(2, "alice", Some("phone"), true);
    assert_eq!(closes(&out), []);
    assert!(
        matches!(&out[0], (ConnId(2), HubMsg::Welcome { device, .. }) if device.as_str() == "phone")
    );
    assert_eq!(b.hub.hub.online_users().collect::<Vec<_>>(), [&u("alice")]);
    assert_eq!(
        b.hub.hub.sessions_of(&u("alice")),
        [
            (DeviceName::new("laptop").unwrap(), ConnId(1)),
            (DeviceName::new("phone").unwrap(), ConnId(2))
        ]
    );
    // Without a device, a session holds "default".
    assert_eq!(
        b.login_on(3, "bob", None, true)[0],
        (
            ConnId(3),
            HubMsg::Welcome {
                version: 2,
                user: u("bob"),
                device: DeviceName::default(),
                limits: HubLimits::default().session_limits(),
            }
        )
    );
}

#[test]
fn a_new_session_on_the_same_device_replaces_only_that_one() {
    let mut b = Bench::new();
    b.login_on(1, "alice", Some("laptop"), true);
    b.login_on(2, "alice", Some("phone"), true);
    b.login(9, "bob");
    b.send(9, r#"{"type":"subscribe","users":["alice"]}"#);
    let out = b.login_on(3, "alice", Some("laptop"), true);
    assert_eq!(closes(&out), [(1, CloseReason::Replaced)]);
    // The same devices accept calls before and after: no presence flap.
    assert!(!out.iter().any(|(c, _)| *c == ConnId(9)), "{out:?}");
    assert_eq!(
        offer_lands(&mut b, 9, "x", "alice/phone"),
        Some((2, "bob/default".into()))
    );
    assert_eq!(
        offer_lands(&mut b, 9, "y", "alice/laptop"),
        Some((3, "bob/default".into()))
    );
}

#[test]
fn a_session_that_takes_no_calls_gets_an_instance_and_replaces_no_one() {
    let mut b = Bench::new();
    b.login(9, "bob");
    b.send(9, r#"{"type":"subscribe","users":["alice"]}"#);
    b.login_on(1, "alice", Some("laptop"), true);
    let out = b.login_on(2, "alice", Some("laptop"), false);
    assert_eq!(closes(&out), []);
    // Presence lists only devices that take calls: nothing changed for bob.
    assert!(!out.iter().any(|(c, _)| *c == ConnId(9)), "{out:?}");
    assert!(
        matches!(&out[0], (ConnId(2), HubMsg::Welcome { device, .. }) if device.as_str() == "laptop~1")
    );
    assert_eq!(b.device_of(3, "alice", "laptop", false), "laptop~2");
    assert_eq!(b.device_of(4, "alice", "phone", false), "phone~1");
    // A base of the longest allowed length still has its instances.
    let long = "d".repeat(32);
    assert_eq!(b.device_of(6, "alice", &long, false), format!("{long}~1"));
    b.step(HubInput::Closed(ConnId(6)));
    // The smallest N free is reused.
    b.step(HubInput::Closed(ConnId(2)));
    assert_eq!(b.device_of(5, "alice", "laptop", false), "laptop~1");
    assert_eq!(b.hub.hub.session_count(), 5);
}

#[test]
fn a_session_that_may_not_replace_leaves_a_held_device_alone() {
    let mut b = Bench::new();
    b.login(9, "bob");
    b.send(9, r#"{"type":"subscribe","users":["alice"]}"#);
    let hello = |b: &mut Bench, c: u64, refresh: bool| {
        b.open(c);
        let kind = if refresh {
            TokenKind::Refresh
        } else {
            TokenKind::Access
        };
        let t = b.token("alice", kind, 600);
        let (kind, field) = if refresh {
            ("refresh", "refresh_token")
        } else {
            ("hello", "token")
        };
        b.send(
            c,
            &format!(r#"{{"type":"{kind}","version":2,"{field}":"{t}","device":"laptop","replace":false}}"#),
        )
    };
    // A free device: taken, with its calls, as by any session.
    let out = hello(&mut b, 1, false);
    assert!(
        matches!(&out[0], (ConnId(1), HubMsg::Welcome { device, .. }) if device.as_str() == "laptop")
    );
    assert!(
        out.iter()
            .any(|(c, m)| *c == ConnId(9) && matches!(m, HubMsg::Presence { .. }))
    );
    // A held one: an instance that takes no calls, and no one is replaced,
    // by a hello or by a refresh.
    for (c, refresh, instance) in [(2, false, "laptop~1"), (3, true, "laptop~2")] {
        let out = hello(&mut b, c, refresh);
        assert_eq!(closes(&out), [], "{out:?}");
        assert!(
            matches!(&out[0], (conn, HubMsg::Welcome { device, .. }) if *conn == ConnId(c) && device.as_str() == instance),
            "{out:?}"
        );
        assert!(!out.iter().any(|(c, _)| *c == ConnId(9)), "{out:?}");
    }
    // Calls to the bare user still reach the session that held the device.
    assert_eq!(
        offer_lands(&mut b, 9, "x", "alice"),
        Some((1, "bob/default".into()))
    );
    // Once the device is free again, it is taken whole.
    b.step(HubInput::Closed(ConnId(1)));
    let out = hello(&mut b, 4, false);
    assert!(
        matches!(&out[0], (ConnId(4), HubMsg::Welcome { device, .. }) if device.as_str() == "laptop"),
        "{out:?}"
    );
}

#[test]
fn an_instance_name_cannot_be_asked_for() {
    let mut b = Bench::new();
    let out = b.login_on(1, "alice", Some("laptop~1"), true);
    assert_eq!(codes(&out), [(1, ErrorCode::BadMessage)]);
    assert_eq!(closes(&out), []);
    assert_eq!(b.hub.hub.user_of(ConnId(1)), None);
    // The session may still say hello properly.
    let t = b.token("alice", TokenKind::Access, 600);
    let out = b.send(
        1,
        &format!(r#"{{"type":"hello","version":2,"token":"{t}","device":"laptop"}}"#),
    );
    assert!(
        matches!(&out[0], (ConnId(1), HubMsg::Welcome { .. })),
        "{out:?}"
    );
}

#[test]
fn a_refresh_authenticates_on_its_device_too() {
    let mut b = Bench::new();
    b.login_on(1, "alice", Some("laptop"), true);
    b.open(2);
    let t = b.token("alice", TokenKind::Refresh, 600);
    let out = b.send(
        2,
        &format!(r#"{{"type":"refresh","version":2,"refresh_token":"{t}","device":"laptop","calls":false}}"#),
    );
    assert!(
        matches!(&out[0], (ConnId(2), HubMsg::Welcome { device, .. }) if device.as_str() == "laptop~1")
    );
    assert!(matches!(&out[1], (ConnId(2), HubMsg::Token { .. })));
    assert_eq!(closes(&out), []);
}

#[test]
fn a_bare_address_reaches_the_most_recently_used_accepting_session() {
    let mut b = Bench::new();
    b.login_on(1, "alice", Some("laptop"), true);
    b.login_on(2, "alice", Some("phone"), true);
    // A later session that takes no calls is never picked by a bare address.
    b.login_on(3, "alice", Some("laptop"), false);
    b.login(9, "bob");
    // The phone logged in last.
    assert_eq!(
        offer_lands(&mut b, 9, "a1", "alice"),
        Some((2, "bob/default".into()))
    );
    // The laptop calls someone: now it is the one used most recently.
    b.login(8, "carol");
    assert!(offer_lands(&mut b, 1, "c1", "carol").is_some());
    assert_eq!(
        offer_lands(&mut b, 9, "a2", "alice"),
        Some((1, "bob/default".into()))
    );
    // The phone answers an attempt: its turn again.
    let out = b.send(2, &frame("answer", "a1", "bob"));
    assert!(
        matches!(&out[..], [(ConnId(9), HubMsg::Answer { .. })]),
        "{out:?}"
    );
    assert_eq!(
        offer_lands(&mut b, 9, "a3", "alice"),
        Some((2, "bob/default".into()))
    );
    // Refused offers and other frames are no use.
    assert_eq!(
        codes(&b.send(1, &offer("z", "zed"))),
        [(1, ErrorCode::BadDest)]
    );
    b.send(1, r#"{"type":"ping","nonce":1}"#);
    assert_eq!(
        offer_lands(&mut b, 9, "a4", "alice"),
        Some((2, "bob/default".into()))
    );
    // Only sessions that take calls: with both gone, none.
    b.step(HubInput::Closed(ConnId(1)));
    b.step(HubInput::Closed(ConnId(2)));
    assert_eq!(
        codes(&b.send(9, &offer("a5", "alice"))),
        [(9, ErrorCode::NoDest)]
    );
}

#[test]
fn a_device_address_reaches_exactly_that_session() {
    let mut b = Bench::new();
    b.login_on(1, "alice", Some("laptop"), true);
    b.login_on(2, "alice", Some("phone"), true);
    b.login_on(3, "alice", Some("laptop"), false);
    b.login(9, "bob");
    assert_eq!(
        offer_lands(&mut b, 9, "a1", "alice/laptop"),
        Some((1, "bob/default".into()))
    );
    // Even one that takes no calls: an ICE restart must reach the session that called.
    assert_eq!(
        offer_lands(&mut b, 9, "a2", "alice/laptop~1"),
        Some((3, "bob/default".into()))
    );
    let out = b.send(9, &offer("a3", "alice/tablet"));
    assert_eq!(codes(&out), [(9, ErrorCode::NoDest)]);
    let HubMsg::Error { message, .. } = &out[0].1 else {
        panic!()
    };
    assert_eq!(message, "alice/tablet is not connected");
    assert_eq!(
        codes(&b.send(9, &offer("a4", "zed/phone"))),
        [(9, ErrorCode::BadDest)]
    );
}

#[test]
fn replies_name_the_other_side_by_user_or_by_its_device() {
    let mut b = Bench::new();
    b.login_on(1, "alice", Some("laptop"), true);
    b.login_on(2, "alice", Some("phone"), true);
    b.login_on(9, "bob", Some("desk"), true);
    assert_eq!(
        offer_lands(&mut b, 9, "a1", "alice/phone"),
        Some((2, "bob/desk".into()))
    );
    // The callee names the caller by user or by its exact device.
    let out = b.send(2, &frame("candidate", "a1", "bob"));
    assert!(
        matches!(&out[..], [(ConnId(9), HubMsg::Candidate { from, .. })] if from.to_string() == "alice/phone"),
        "{out:?}"
    );
    let out = b.send(2, &frame("candidate", "a1", "bob/desk"));
    assert!(
        matches!(&out[..], [(ConnId(9), HubMsg::Candidate { .. })]),
        "{out:?}"
    );
    assert_eq!(
        codes(&b.send(2, &frame("candidate", "a1", "bob/other"))),
        [(2, ErrorCode::NoAttempt)]
    );
    // The attempt is bound to the phone: alice's laptop is not part of it.
    assert_eq!(
        codes(&b.send(1, &frame("answer", "a1", "bob"))),
        [(1, ErrorCode::NoAttempt)]
    );
    // The caller names the callee's device, or just the user.
    assert_eq!(
        codes(&b.send(9, &frame("candidate", "a1", "alice/laptop"))),
        [(9, ErrorCode::NoAttempt)]
    );
    let out = b.send(9, &frame("candidate", "a1", "alice"));
    assert!(
        matches!(&out[..], [(ConnId(2), HubMsg::Candidate { .. })]),
        "{out:?}"
    );
    let out = b.send(2, &frame("answer", "a1", "bob/desk"));
    assert!(
        matches!(&out[..], [(ConnId(9), HubMsg::Answer { from, .. })] if from.to_string() == "alice/phone"),
        "{out:?}"
    );
    let out = b.send(9, &frame("cancel", "a1", "alice/phone"));
    assert!(
        matches!(&out[..], [(ConnId(2), HubMsg::Cancel { .. })]),
        "{out:?}"
    );
}

#[test]
fn an_attempt_id_stays_unambiguous_within_a_session() {
    let mut b = Bench::new();
    b.login_on(1, "alice", Some("laptop"), true);
    b.login_on(2, "alice", Some("phone"), true);
    b.login(9, "bob");
    assert!(offer_lands(&mut b, 1, "same", "bob").is_some());
    // The phone may not reuse the id towards bob: bob's reply "to alice"
    // would not say which attempt it is about.
    assert_eq!(
        codes(&b.send(2, &offer("same", "bob"))),
        [(2, ErrorCode::BadMessage)]
    );
    assert!(offer_lands(&mut b, 2, "other", "bob").is_some());
}

#[test]
fn calling_your_own_other_device_works() {
    let mut b = Bench::new();
    b.login_on(1, "alice", Some("laptop"), true);
    assert_eq!(
        codes(&b.send(1, &offer("s0", "alice"))),
        [(1, ErrorCode::NoDest)]
    );
    b.login_on(2, "alice", Some("phone"), true);
    assert_eq!(
        offer_lands(&mut b, 1, "s1", "alice/phone"),
        Some((2, "alice/laptop".into()))
    );
    // A bare address to oneself looks among one's other devices only,
    // even when one's own session is the most recently used.
    assert_eq!(
        offer_lands(&mut b, 1, "s2", "alice"),
        Some((2, "alice/laptop".into()))
    );
    let out = b.send(2, &frame("answer", "s1", "alice/laptop"));
    assert!(
        matches!(&out[..], [(ConnId(1), HubMsg::Answer { from, .. })] if from.to_string() == "alice/phone"),
        "{out:?}"
    );
    assert_eq!(
        codes(&b.send(1, &offer("s3", "alice/laptop"))),
        [(1, ErrorCode::BadDest)]
    );
    // A short-lived session can call its own user's accepting devices: the
    // phone, which answered last.
    b.login_on(3, "alice", Some("laptop"), false);
    assert_eq!(
        offer_lands(&mut b, 3, "s4", "alice"),
        Some((2, "alice/laptop~1".into()))
    );
}

#[test]
fn the_device_limit_refuses_one_more_unless_it_replaces() {
    let mut b = Bench::with_limits(HubLimits {
        max_devices: 2,
        ..HubLimits::default()
    });
    b.login_on(1, "alice", Some("laptop"), true);
    b.login_on(2, "alice", Some("phone"), false);
    for (c, calls) in [(3, true), (4, false)] {
        let out = b.login_on(c, "alice", Some("tablet"), calls);
        assert_eq!(codes(&out), [(c, ErrorCode::Limit)]);
        assert_eq!(closes(&out), [(c, CloseReason::TooManyDevices)]);
        let HubMsg::Error { message, .. } = &out[0].1 else {
            panic!()
        };
        assert_eq!(message, "at most 2 devices per user");
    }
    // Replacing a device does not count as one more.
    let out = b.login_on(5, "alice", Some("laptop"), true);
    assert_eq!(closes(&out), [(1, CloseReason::Replaced)]);
    // Other users have their own allowance.
    b.login_on(6, "bob", Some("laptop"), true);
    assert_eq!(b.hub.hub.session_count(), 3);
    assert_eq!(b.hub.hub.limits().max_devices, 2);
}

#[test]
fn presence_lists_the_devices_that_take_calls() {
    let mut b = Bench::new();
    b.login(9, "bob");
    let out = b.send(9, r#"{"type":"subscribe","users":["alice"]}"#);
    assert_eq!(out, [(ConnId(9), pres("alice", &[]))]);
    let out = b.login_on(1, "alice", Some("phone"), true);
    assert!(
        out.contains(&(ConnId(9), pres("alice", &["phone"]))),
        "{out:?}"
    );
    let out = b.login_on(2, "alice", Some("laptop"), true);
    assert!(
        out.contains(&(ConnId(9), pres("alice", &["laptop", "phone"]))),
        "{out:?}"
    );
    // A session that takes no calls comes and goes unseen.
    let out = b.login_on(3, "alice", Some("laptop"), false);
    assert!(!out.iter().any(|(c, _)| *c == ConnId(9)), "{out:?}");
    assert!(b.step(HubInput::Closed(ConnId(3))).is_empty());
    let out = b.step(HubInput::Closed(ConnId(1)));
    assert_eq!(out, [(ConnId(9), pres("alice", &["laptop"]))]);
    let out = b.step(HubInput::Closed(ConnId(2)));
    assert_eq!(out, [(ConnId(9), pres("alice", &[]))]);
}

#[test]
fn group_mates_learn_every_session_and_each_session_learns_them() {
    let mut b = Bench::new();
    b.login_on(1, "alice", Some("laptop"), true);
    b.login_on(2, "alice", Some("phone"), true);
    b.login(9, "bob");
    let out = b.send(9, r#"{"type":"members","group":"g","members":["alice"]}"#);
    for c in [1, 2] {
        assert!(
            out.contains(&(ConnId(c), pres("bob", &["default"]))),
            "{out:?}"
        );
    }
    assert!(
        out.contains(&(ConnId(9), pres("alice", &["laptop", "phone"]))),
        "{out:?}"
    );
    // Revoking alice's tokens ends every one of her sessions.
    let out = b.hub.admin(|h| h.add_user((u("alice"), 1))).unwrap();
    let closed: Vec<_> = out
        .iter()
        .filter_map(|o| match o {
            HubOutput::Close { conn, reason } => Some((conn.0, *reason)),
            _ => None,
        })
        .collect();
    assert_eq!(
        closed,
        [(1, CloseReason::AuthFailed), (2, CloseReason::AuthFailed)]
    );
    assert_eq!(b.hub.hub.online_users().collect::<Vec<_>>(), [&u("bob")]);
}

#[test]
fn removing_a_user_closes_every_device() {
    let mut b = Bench::new();
    b.login_on(1, "alice", Some("laptop"), true);
    b.login_on(2, "alice", Some("laptop"), false);
    let now = b.now;
    let out = b.hub.remove_user(now, &u("alice")).unwrap();
    assert_eq!(
        out.iter()
            .filter(|o| matches!(
                o,
                HubOutput::Close {
                    reason: CloseReason::UserRemoved,
                    ..
                }
            ))
            .count(),
        2
    );
    assert_eq!(b.hub.hub.session_count(), 0);
}
