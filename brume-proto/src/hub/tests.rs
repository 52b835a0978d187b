//! Scenario tests for the hub, each run under the audit.

use std::time::{Duration, Instant};

use super::audit::AuditedHub;
use super::*;
use crate::signal::{DeviceName, GroupName, SessionLimits};
use crate::token::{TokenKey, TokenKind};
use brume_tests::origin as t0;

pub(super) const UNIX0: u64 = 1_800_000_000;

pub(super) fn key() -> TokenKey {
    TokenKey::from_secret(b"0123456789abcdef0123456789abcdef").unwrap()
}

pub(super) fn u(s: &str) -> UserName {
    UserName::new(s).unwrap()
}

pub(super) struct Bench {
    pub(super) hub: AuditedHub,
    start: Instant,
    pub(super) now: Instant,
    /// What the hub asked the driver to store, in order.
    pub(super) persisted: Vec<HubOutput>,
}

impl Bench {
    pub(super) fn new() -> Self {
        Self::with_limits(HubLimits::default())
    }

    pub(super) fn with_limits(limits: HubLimits) -> Self {
        let mut config = HubConfig::new(key());
        config.limits = limits;
        Self::with_config(config)
    }

    pub(super) fn with_config(config: HubConfig) -> Self {
        let start = t0();
        let users = ["alice", "bob", "carol", "dave"].map(u);
        Self {
            hub: AuditedHub::new(Hub::new(config, users, start, UNIX0)),
            start,
            now: start,
            persisted: Vec::new(),
        }
    }

    fn unix(&self) -> u64 {
        UNIX0 + (self.now - self.start).as_secs()
    }

    pub(super) fn step(&mut self, input: HubInput<'_>) -> Vec<(ConnId, HubMsg)> {
        let outs = self
            .hub
            .step(self.now, input)
            .unwrap_or_else(|e| panic!("audit: {e}"));
        outs.into_iter()
            .filter_map(|o| match o {
                HubOutput::Send { conn, frame } => {
                    Some((conn, crate::signal::decode_hub(frame.as_bytes()).unwrap()))
                }
                HubOutput::Close { conn, reason } => Some((conn, HubMsg::Close { reason })),
                other => {
                    self.persisted.push(other);
                    None
                }
            })
            .collect()
    }

    pub(super) fn open(&mut self, c: u64) -> Vec<(ConnId, HubMsg)> {
        self.step(HubInput::Opened(ConnId(c)))
    }

    pub(super) fn send(&mut self, c: u64, json: &str) -> Vec<(ConnId, HubMsg)> {
        self.step(HubInput::Frame(ConnId(c), json.as_bytes()))
    }

    pub(super) fn token(&self, user: &str, kind: TokenKind, lifetime: u64) -> String {
        key().mint(&u(user), kind, self.unix(), lifetime)
    }

    pub(super) fn login(&mut self, c: u64, user: &str) -> Vec<(ConnId, HubMsg)> {
        self.open(c);
        let t = self.token(user, TokenKind::Access, 600);
        let out = self.send(
            c,
            &format!(r#"{{"type":"hello","version":2,"token":"{t}"}}"#),
        );
        assert!(
            out.iter().any(|(conn, m)| *conn == ConnId(c)
                && matches!(m, HubMsg::Welcome { user: w, .. } if w.as_str() == user)),
            "{out:?}"
        );
        out
    }

    pub(super) fn advance(&mut self, d: Duration) -> Vec<(ConnId, HubMsg)> {
        self.now += d;
        self.step(HubInput::Timeout)
    }

    fn shutdown(&mut self) -> Vec<HubOutput> {
        let now = self.now;
        self.hub.admin(|h| h.shutdown(now)).unwrap()
    }
}

pub(super) fn codes(out: &[(ConnId, HubMsg)]) -> Vec<(u64, ErrorCode)> {
    out.iter()
        .filter_map(|(c, m)| match m {
            HubMsg::Error { code, .. } => Some((c.0, *code)),
            _ => None,
        })
        .collect()
}

pub(super) fn closes(out: &[(ConnId, HubMsg)]) -> Vec<(u64, CloseReason)> {
    let mut v: Vec<_> = out
        .iter()
        .filter_map(|(c, m)| match m {
            HubMsg::Close { reason } => Some((c.0, *reason)),
            _ => None,
        })
        .collect();
    v.dedup(); // the close frame and the close output
    v
}

pub(super) fn pres(user: &str, devices: &[&str]) -> HubMsg {
    HubMsg::Presence {
        user: u(user),
        online: !devices.is_empty(),
        devices: devices
            .iter()
            .map(|d| DeviceName::new(*d).unwrap())
            .collect(),
    }
}

pub(super) fn offer(attempt: &str, to: &str) -> String {
    format!(r#"{{"type":"offer","attempt":"{attempt}","to":"{to}","sdp":"v=0"}}"#)
}

#[test]
fn welcome_names_the_token_subject_and_the_limits() {
    let mut b = Bench::new();
    let out = b.login(1, "alice");
    let HubMsg::Welcome {
        version, limits, ..
    } = &out[0].1
    else {
        unreachable!()
    };
    assert_eq!(*version, 2);
    assert_eq!(*limits, HubLimits::default().session_limits());
    assert_eq!(
        *limits,
        SessionLimits {
            max_frame: 65536,
            rate_per_sec: 20,
            burst: 50,
            max_pending_attempts: 16,
            max_subscriptions: 1024,
            idle_timeout_secs: 45,
            max_devices: 16,
        }
    );
    assert_eq!(b.hub.hub.user_of(ConnId(1)), Some(&u("alice")));
}

#[test]
fn token_errors_carry_the_seed_numbers_and_three_failures_close() {
    let mut b = Bench::new();
    b.open(1);
    let out = b.send(1, r#"{"type":"hello","version":2}"#);
    assert_eq!(codes(&out), [(1, ErrorCode::TokenMissing)]);
    let out = b.send(1, r#"{"type":"hello","version":2,"token":"x.y.z"}"#);
    assert_eq!(codes(&out), [(1, ErrorCode::TokenInvalid)]);
    let stranger = key().mint(&u("mallory"), TokenKind::Access, b.unix(), 60);
    let out = b.send(
        1,
        &format!(r#"{{"type":"hello","version":2,"token":"{stranger}"}}"#),
    );
    assert_eq!(codes(&out), [(1, ErrorCode::TokenInvalid)]);
    assert_eq!(closes(&out), [(1, CloseReason::AuthFailed)]);
    assert_eq!(b.hub.hub.session_count(), 0);
}

#[test]
fn an_expired_token_is_refreshed_on_the_same_session() {
    let mut b = Bench::new();
    let t = b.token("alice", TokenKind::Access, 5);
    let refresh = b.token("alice", TokenKind::Refresh, 86_400);
    b.advance(Duration::from_secs(5));
    b.open(1);
    let out = b.send(
        1,
        &format!(r#"{{"type":"hello","version":2,"token":"{t}"}}"#),
    );
    assert_eq!(codes(&out), [(1, ErrorCode::TokenExpired)]);
    assert_eq!(closes(&out), []);
    let out = b.send(
        1,
        &format!(r#"{{"type":"refresh","version":2,"refresh_token":"{refresh}"}}"#),
    );
    assert!(matches!(out[0].1, HubMsg::Welcome { .. }), "{out:?}");
    let HubMsg::Token {
        access_token,
        expires_at,
    } = &out[1].1
    else {
        panic!("{out:?}")
    };
    assert_eq!(*expires_at, b.unix() + 3600);
    let (user, _) = key()
        .verify(Some(access_token), TokenKind::Access, b.unix())
        .unwrap();
    assert_eq!(user, u("alice"));
}

#[test]
fn a_refresh_token_for_someone_else_is_refused_mid_session() {
    let mut b = Bench::new();
    b.login(1, "alice");
    let bobs = b.token("bob", TokenKind::Refresh, 600);
    let out = b.send(
        1,
        &format!(r#"{{"type":"refresh","version":2,"refresh_token":"{bobs}"}}"#),
    );
    assert_eq!(codes(&out), [(1, ErrorCode::TokenInvalid)]);
    assert_eq!(b.hub.hub.user_of(ConnId(1)), Some(&u("alice")));
}

#[test]
fn an_access_token_cannot_refresh() {
    let mut b = Bench::new();
    b.open(1);
    let access = b.token("alice", TokenKind::Access, 600);
    let out = b.send(
        1,
        &format!(r#"{{"type":"refresh","version":2,"refresh_token":"{access}"}}"#),
    );
    assert_eq!(codes(&out), [(1, ErrorCode::TokenInvalid)]);
}

#[test]
fn another_protocol_version_fails_clearly() {
    let mut b = Bench::new();
    let t = b.token("alice", TokenKind::Access, 600);
    let refresh = b.token("alice", TokenKind::Refresh, 600);
    // Version 1 (one session per user, no devices) is refused like any other.
    for (c, frame) in [
        (
            1,
            format!(r#"{{"type":"hello","version":1,"token":"{t}"}}"#),
        ),
        (
            2,
            format!(r#"{{"type":"refresh","version":1,"refresh_token":"{refresh}"}}"#),
        ),
        (
            3,
            format!(r#"{{"type":"hello","version":3,"token":"{t}"}}"#),
        ),
    ] {
        b.open(c);
        let out = b.send(c, &frame);
        assert_eq!(codes(&out), [(c, ErrorCode::Version)]);
        assert_eq!(closes(&out), [(c, CloseReason::Version)]);
        let HubMsg::Error { message, .. } = &out[0].1 else {
            panic!("{out:?}")
        };
        assert!(message.contains("this hub speaks 2"), "{message}");
    }
    assert_eq!(b.hub.hub.online_users().count(), 0);
}

#[test]
fn nothing_but_authentication_before_authentication() {
    let mut b = Bench::new();
    b.login(2, "bob");
    b.open(1);
    for frame in [
        offer("a1", "bob"),
        r#"{"type":"subscribe","users":["bob"]}"#.into(),
    ] {
        let out = b.send(1, &frame);
        assert_eq!(codes(&out), [(1, ErrorCode::NotAuthenticated)]);
    }
    let out = b.send(1, r#"{"type":"ping","nonce":9}"#);
    assert_eq!(out, [(ConnId(1), HubMsg::Pong { nonce: 9 })]);
}

#[test]
fn a_session_that_never_authenticates_is_closed_at_the_deadline() {
    let mut b = Bench::new();
    b.open(1);
    assert_eq!(
        b.hub.hub.poll_timeout(),
        Some(b.now + Duration::from_secs(10))
    );
    assert!(b.advance(Duration::from_millis(9_999)).is_empty());
    let out = b.advance(Duration::from_millis(1));
    assert_eq!(closes(&out), [(1, CloseReason::AuthTimeout)]);
}

#[test]
fn a_new_login_replaces_the_old_session_without_a_presence_flap() {
    let mut b = Bench::new();
    b.login(1, "alice");
    b.login(2, "bob");
    b.send(2, r#"{"type":"subscribe","users":["alice"]}"#);
    let out = b.login(3, "alice");
    assert_eq!(closes(&out), [(1, CloseReason::Replaced)]);
    assert!(!out.iter().any(|(c, _)| *c == ConnId(2)), "{out:?}");
    // The new session is reachable by name.
    let out = b.send(2, &offer("x", "alice"));
    assert!(
        matches!(&out[..], [(ConnId(3), HubMsg::Offer { .. })]),
        "{out:?}"
    );
}

#[test]
fn offers_are_stamped_with_the_authenticated_sender() {
    let mut b = Bench::new();
    b.login(1, "alice");
    b.login(2, "bob");
    let forged = r#"{"type":"offer","attempt":"a1","to":"bob","from":"carol","sdp":"v=0"}"#;
    let out = b.send(1, forged);
    let [
        (
            ConnId(2),
            HubMsg::Offer {
                from,
                attempt,
                sdp,
                group: None,
                restart: false,
            },
        ),
    ] = &out[..]
    else {
        panic!("{out:?}")
    };
    assert_eq!(
        (from.to_string().as_str(), attempt.as_str(), sdp.as_str()),
        ("alice/default", "a1", "v=0")
    );
}

#[test]
fn offers_to_unknown_offline_or_oneself_fail_with_their_codes() {
    let mut b = Bench::new();
    b.login(1, "alice");
    assert_eq!(
        codes(&b.send(1, &offer("a", "zed"))),
        [(1, ErrorCode::BadDest)]
    );
    assert_eq!(
        codes(&b.send(1, &offer("a", "bob"))),
        [(1, ErrorCode::NoDest)]
    );
    // Oneself: one's own session is no destination; a bare address looks
    // only among one's other devices.
    assert_eq!(
        codes(&b.send(1, &offer("a", "alice/default"))),
        [(1, ErrorCode::BadDest)]
    );
    assert_eq!(
        codes(&b.send(1, &offer("a", "alice"))),
        [(1, ErrorCode::NoDest)]
    );
    assert_eq!(
        codes(&b.send(1, &offer("a", "bob/laptop"))),
        [(1, ErrorCode::NoDest)]
    );
    let out = b.send(1, &offer("a", "bob"));
    let HubMsg::Error { attempt, .. } = &out[0].1 else {
        panic!()
    };
    assert_eq!(attempt.as_ref().map(|a| a.as_str()), Some("a"));
}

#[test]
fn group_scoped_offers_need_both_users_in_the_group() {
    let mut b = Bench::new();
    b.login(1, "alice");
    b.login(2, "bob");
    b.login(3, "carol");
    let scoped = |to: &str| {
        format!(
            r#"{{"type":"offer","attempt":"g-{to}","to":"{to}","group":{{"owner":"bob","name":"photos"}},"sdp":"v=0"}}"#
        )
    };
    assert_eq!(
        codes(&b.send(1, &scoped("bob"))),
        [(1, ErrorCode::NotMember)]
    );
    b.send(
        2,
        r#"{"type":"members","group":"photos","members":["alice"]}"#,
    );
    let out = b.send(1, &scoped("bob"));
    assert!(
        matches!(
            &out[..],
            [(ConnId(2), HubMsg::Offer { group: Some(_), .. })]
        ),
        "{out:?}"
    );
    assert_eq!(
        codes(&b.send(1, &scoped("carol"))),
        [(1, ErrorCode::NotMember)]
    );
}

#[test]
fn answer_candidates_and_cancel_flow_between_the_two_sides_only() {
    let mut b = Bench::new();
    b.login(1, "alice");
    b.login(2, "bob");
    b.login(3, "carol");
    b.send(1, &offer("a1", "bob"));
    let out = b.send(
        2,
        r#"{"type":"candidate","attempt":"a1","to":"alice","candidate":"candidate:1"}"#,
    );
    assert!(
        matches!(&out[..], [(ConnId(1), HubMsg::Candidate { .. })]),
        "{out:?}"
    );
    let out = b.send(
        2,
        r#"{"type":"answer","attempt":"a1","to":"alice","sdp":"v=0 answer"}"#,
    );
    assert!(
        matches!(&out[..], [(ConnId(1), HubMsg::Answer { from, .. })] if from.to_string() == "bob/default")
    );
    let out = b.send(
        1,
        r#"{"type":"candidate","attempt":"a1","to":"bob","candidate":"candidate:2"}"#,
    );
    assert!(
        matches!(&out[..], [(ConnId(2), HubMsg::Candidate { .. })]),
        "{out:?}"
    );
    // A third user cannot inject into the attempt, nor answer twice.
    let out = b.send(
        3,
        r#"{"type":"candidate","attempt":"a1","to":"bob","candidate":"candidate:3"}"#,
    );
    assert_eq!(codes(&out), [(3, ErrorCode::NoAttempt)]);
    let out = b.send(
        2,
        r#"{"type":"answer","attempt":"a1","to":"alice","sdp":"again"}"#,
    );
    assert_eq!(codes(&out), [(2, ErrorCode::BadMessage)]);
    let out = b.send(
        1,
        r#"{"type":"cancel","attempt":"a1","to":"bob","reason":"bye"}"#,
    );
    assert!(
        matches!(&out[..], [(ConnId(2), HubMsg::Cancel { reason: Some(r), .. })] if r == "bye")
    );
    let out = b.send(
        2,
        r#"{"type":"candidate","attempt":"a1","to":"alice","candidate":"candidate:4"}"#,
    );
    assert_eq!(codes(&out), [(2, ErrorCode::NoAttempt)]);
}

#[test]
fn only_the_callee_answers_or_rejects() {
    let mut b = Bench::new();
    b.login(1, "alice");
    b.login(2, "bob");
    b.send(1, &offer("a1", "bob"));
    let out = b.send(
        1,
        r#"{"type":"answer","attempt":"a1","to":"bob","sdp":"v=0"}"#,
    );
    assert_eq!(codes(&out), [(1, ErrorCode::NoAttempt)]);
    let out = b.send(
        2,
        r#"{"type":"reject","attempt":"a1","to":"alice","reason":"busy"}"#,
    );
    assert!(
        matches!(&out[..], [(ConnId(1), HubMsg::Reject { reason: Some(r), .. })] if r == "busy")
    );
    assert_eq!(b.hub.hub.attempt_count(), 0);
}

#[test]
fn an_attempt_id_cannot_be_reused_while_live() {
    let mut b = Bench::new();
    b.login(1, "alice");
    b.login(2, "bob");
    b.send(1, &offer("same", "bob"));
    assert_eq!(
        codes(&b.send(1, &offer("same", "bob"))),
        [(1, ErrorCode::BadMessage)]
    );
    assert_eq!(
        codes(&b.send(2, &offer("same", "alice"))),
        [(2, ErrorCode::BadMessage)]
    );
}

#[test]
fn an_unanswered_offer_times_out_on_both_sides() {
    let mut b = Bench::new();
    b.login(1, "alice");
    b.login(2, "bob");
    b.send(1, &offer("a1", "bob"));
    let out = b.advance(Duration::from_secs(30));
    assert!(out.contains(&(
        ConnId(1),
        HubMsg::Error {
            code: ErrorCode::OfferTimeout,
            attempt: Some(AttemptId::new("a1").unwrap()),
            message: "bob/default did not answer in time".into()
        }
    )));
    assert!(out.iter().any(|(c, m)| *c == ConnId(2)
        && matches!(m, HubMsg::Cancel { reason: Some(r), .. } if r == "timeout")));
    assert_eq!(b.hub.hub.attempt_count(), 0);
}

#[test]
fn an_answered_attempt_lingers_for_candidates_then_goes() {
    let mut b = Bench::new();
    b.login(1, "alice");
    b.login(2, "bob");
    b.send(1, &offer("a1", "bob"));
    b.now += Duration::from_secs(20);
    b.send(1, r#"{"type":"ping","nonce":1}"#);
    b.send(
        2,
        r#"{"type":"answer","attempt":"a1","to":"alice","sdp":"v=0"}"#,
    );
    let out = b.advance(Duration::from_secs(15));
    assert!(
        codes(&out).is_empty(),
        "answered attempts never time out: {out:?}"
    );
    assert_eq!(b.hub.hub.attempt_count(), 1);
    b.advance(Duration::from_secs(15));
    assert_eq!(b.hub.hub.attempt_count(), 0);
}

#[test]
fn pending_attempts_are_capped_per_session() {
    let mut b = Bench::with_limits(HubLimits {
        max_pending_attempts: 2,
        ..HubLimits::default()
    });
    b.login(1, "alice");
    b.login(2, "bob");
    b.send(1, &offer("a1", "bob"));
    b.send(1, &offer("a2", "bob"));
    assert_eq!(
        codes(&b.send(1, &offer("a3", "bob"))),
        [(1, ErrorCode::AttemptLimit)]
    );
    b.send(
        2,
        r#"{"type":"answer","attempt":"a1","to":"alice","sdp":"v=0"}"#,
    );
    let out = b.send(1, &offer("a3", "bob"));
    assert!(codes(&out).is_empty(), "an answer frees a slot: {out:?}");
}

#[test]
fn a_closing_session_cancels_its_attempts_at_the_peer() {
    let mut b = Bench::new();
    b.login(1, "alice");
    b.login(2, "bob");
    b.send(1, &offer("a1", "bob"));
    let out = b.step(HubInput::Closed(ConnId(1)));
    assert!(out.iter().any(|(c, m)| *c == ConnId(2)
        && matches!(m, HubMsg::Cancel { from, reason: Some(r), .. } if from.to_string() == "alice/default" && r == "peer_gone")));
    assert_eq!(b.hub.hub.attempt_count(), 0);
}

#[test]
fn subscribers_get_the_state_now_and_every_change_after() {
    let mut b = Bench::new();
    b.login(1, "alice");
    let out = b.send(1, r#"{"type":"subscribe","users":["bob","carol","zed"]}"#);
    assert_eq!(codes(&out), [(1, ErrorCode::BadDest)]);
    let presence: Vec<_> = out
        .iter()
        .filter_map(|(_, m)| match m {
            HubMsg::Presence { user, online, .. } => Some((user.as_str(), *online)),
            _ => None,
        })
        .collect();
    assert_eq!(presence, [("bob", false), ("carol", false)]);
    let out = b.login(2, "bob");
    assert!(out.contains(&(ConnId(1), pres("bob", &["default"]))));
    let out = b.step(HubInput::Closed(ConnId(2)));
    assert_eq!(out, [(ConnId(1), pres("bob", &[]))]);
    b.send(1, r#"{"type":"unsubscribe","users":["bob"]}"#);
    let out = b.login(2, "bob");
    assert!(!out.iter().any(|(c, _)| *c == ConnId(1)), "{out:?}");
}

#[test]
fn subscriptions_are_capped() {
    let mut b = Bench::with_limits(HubLimits {
        max_subscriptions: 1,
        ..HubLimits::default()
    });
    b.login(1, "alice");
    let out = b.send(1, r#"{"type":"subscribe","users":["bob","carol"]}"#);
    assert_eq!(codes(&out), [(1, ErrorCode::Limit)]);
}

#[test]
fn group_mates_see_each_others_presence() {
    let mut b = Bench::new();
    b.login(1, "alice");
    b.login(2, "bob");
    let out = b.send(
        2,
        r#"{"type":"members","group":"photos","members":["alice","carol"]}"#,
    );
    assert!(out.contains(&(ConnId(2), pres("alice", &["default"]))));
    assert!(out.contains(&(ConnId(2), pres("carol", &[]))));
    assert!(out.contains(&(ConnId(1), pres("bob", &["default"]))));
    assert!(out.contains(&(
        ConnId(2),
        HubMsg::Members {
            group: GroupId {
                owner: u("bob"),
                name: GroupName::new("photos").unwrap()
            },
            members: vec![u("alice"), u("carol")]
        }
    )));
    let out = b.login(3, "carol");
    assert!(out.contains(&(ConnId(1), pres("carol", &["default"]))));
    assert!(out.contains(&(ConnId(3), pres("alice", &["default"]))));
}

#[test]
fn publishing_with_an_unknown_member_changes_nothing() {
    let mut b = Bench::new();
    b.login(2, "bob");
    let out = b.send(
        2,
        r#"{"type":"members","group":"photos","members":["alice","zed"]}"#,
    );
    assert_eq!(codes(&out), [(2, ErrorCode::BadDest)]);
    assert!(!b.hub.hub.groups.belongs(
        &GroupId {
            owner: u("bob"),
            name: GroupName::new("photos").unwrap()
        },
        &u("alice")
    ));
}

#[test]
fn published_groups_reach_the_driver_for_storage() {
    let mut b = Bench::new();
    b.login(2, "bob");
    b.hub.hub.handle_input(
        b.now,
        HubInput::Frame(
            ConnId(2),
            br#"{"type":"members","group":"g","members":["carol"]}"#,
        ),
    );
    let outs: Vec<_> = std::iter::from_fn(|| b.hub.hub.poll_output()).collect();
    assert!(outs.contains(&HubOutput::GroupChanged {
        group: GroupId {
            owner: u("bob"),
            name: GroupName::new("g").unwrap()
        },
        members: vec![u("carol")]
    }));
}

#[test]
fn a_flood_is_rate_limited_with_one_error_and_others_are_untouched() {
    let mut b = Bench::new();
    b.login(1, "alice");
    b.login(2, "bob");
    let mut errors = 0;
    let mut pongs = 0;
    for n in 0..200 {
        for (_, m) in b.send(1, &format!(r#"{{"type":"ping","nonce":{n}}}"#)) {
            match m {
                HubMsg::Error {
                    code: ErrorCode::RateLimited,
                    ..
                } => errors += 1,
                HubMsg::Pong { .. } => pongs += 1,
                other => panic!("{other:?}"),
            }
        }
    }
    assert_eq!(errors, 1);
    assert_eq!(pongs, 49); // the burst of 50 less the hello
    assert_eq!(
        b.send(2, r#"{"type":"ping","nonce":1}"#),
        [(ConnId(2), HubMsg::Pong { nonce: 1 })]
    );
    b.now += Duration::from_millis(50);
    assert_eq!(
        b.send(1, r#"{"type":"ping","nonce":1}"#),
        [(ConnId(1), HubMsg::Pong { nonce: 1 })]
    );
}

#[test]
fn an_oversized_frame_is_refused_and_the_session_goes_on() {
    let mut b = Bench::new();
    b.login(1, "alice");
    let big = format!(
        r#"{{"type":"ping","nonce":1,"pad":"{}"}}"#,
        "x".repeat(70_000)
    );
    assert_eq!(codes(&b.send(1, &big)), [(1, ErrorCode::TooBig)]);
    assert_eq!(
        b.send(1, r#"{"type":"ping","nonce":2}"#),
        [(ConnId(1), HubMsg::Pong { nonce: 2 })]
    );
    assert_eq!(
        codes(&b.send(1, "\u{0}garbage")),
        [(1, ErrorCode::BadMessage)]
    );
}

#[test]
fn a_silent_session_is_pinged_then_closed() {
    let mut b = Bench::new();
    b.login(1, "alice");
    let out = b.advance(Duration::from_secs(20));
    assert_eq!(out, [(ConnId(1), HubMsg::Ping { nonce: 1 })]);
    let out = b.advance(Duration::from_secs(25));
    assert_eq!(closes(&out), [(1, CloseReason::Idle)]);
}

#[test]
fn a_pong_keeps_a_session_alive() {
    let mut b = Bench::new();
    b.login(1, "alice");
    for _ in 0..10 {
        let out = b.advance(Duration::from_secs(20));
        let [(_, HubMsg::Ping { nonce })] = &out[..] else {
            panic!("{out:?}")
        };
        b.send(1, &format!(r#"{{"type":"pong","nonce":{nonce}}}"#));
    }
    assert_eq!(b.hub.hub.session_count(), 1);
}

#[test]
fn the_session_cap_refuses_newcomers_only() {
    let mut b = Bench::with_limits(HubLimits {
        max_sessions: 2,
        ..HubLimits::default()
    });
    b.login(1, "alice");
    b.open(2);
    let out = b.open(3);
    assert_eq!(codes(&out), [(3, ErrorCode::Full)]);
    assert_eq!(closes(&out), [(3, CloseReason::Full)]);
    assert_eq!(b.hub.hub.session_count(), 2);
}

#[test]
fn removing_a_user_closes_their_session() {
    let mut b = Bench::new();
    b.login(1, "alice");
    let now = b.now;
    let outs = b.hub.remove_user(now, &u("alice")).unwrap();
    assert!(outs.contains(&HubOutput::Close {
        conn: ConnId(1),
        reason: CloseReason::UserRemoved
    }));
    b.open(2);
    let t = key().mint(&u("alice"), TokenKind::Access, b.unix(), 60);
    let out = b.send(
        2,
        &format!(r#"{{"type":"hello","version":2,"token":"{t}"}}"#),
    );
    assert_eq!(codes(&out), [(2, ErrorCode::TokenInvalid)]);
}

#[test]
fn shutdown_closes_everyone_and_leaves_no_timer() {
    let mut b = Bench::new();
    b.login(1, "alice");
    b.login(2, "bob");
    b.send(1, &offer("a1", "bob"));
    let outs = b.shutdown();
    let closed: Vec<_> = outs
        .iter()
        .filter_map(|o| match o {
            HubOutput::Close { conn, reason } => Some((conn.0, *reason)),
            _ => None,
        })
        .collect();
    assert_eq!(
        closed,
        [(1, CloseReason::Shutdown), (2, CloseReason::Shutdown)]
    );
    assert_eq!(b.hub.hub.poll_timeout(), None);
}

#[test]
fn the_same_inputs_give_the_same_outputs() {
    let run = || {
        let mut b = Bench::new();
        let mut all = Vec::new();
        all.extend(b.login(1, "alice"));
        all.extend(b.login(2, "bob"));
        all.extend(b.login(3, "carol"));
        all.extend(b.send(
            2,
            r#"{"type":"members","group":"g","members":["alice","carol","dave"]}"#,
        ));
        all.extend(b.send(1, r#"{"type":"subscribe","users":["dave","bob","carol"]}"#));
        all.extend(b.send(1, &offer("a", "bob")));
        all.extend(b.step(HubInput::Closed(ConnId(2))));
        all.extend(b.advance(Duration::from_secs(60)));
        all
    };
    let first = run();
    assert!(first.len() > 10);
    assert_eq!(first, run());
}

#[test]
fn a_relay_that_would_outgrow_the_frame_limit_is_refused_to_its_sender() {
    let mut b = Bench::new();
    b.login(1, "alice");
    b.login(2, "bob");
    // A frame exactly at the limit; relayed with `from` it would be longer.
    let head = r#"{"type":"offer","attempt":"a1","to":"bob","sdp":""#;
    let pad = crate::signal::MAX_FRAME_LEN - head.len() - 2;
    let frame = format!("{head}{}\"}}", "x".repeat(pad));
    assert_eq!(frame.len(), crate::signal::MAX_FRAME_LEN);
    let out = b.send(1, &frame);
    assert_eq!(codes(&out), [(1, ErrorCode::TooBig)]);
    assert_eq!(b.hub.hub.attempt_count(), 0);
}

#[test]
fn error_text_never_outgrows_the_frame() {
    let mut b = Bench::new();
    b.login(1, "alice");
    let frame = format!(r#"{{"type":"{}"}}"#, "t".repeat(60_000));
    b.hub
        .hub
        .handle_input(b.now, HubInput::Frame(ConnId(1), frame.as_bytes()));
    let Some(HubOutput::Send { frame, .. }) = b.hub.hub.poll_output() else {
        panic!()
    };
    assert!(frame.len() < 1024, "{} bytes", frame.len());
}

#[test]
fn removing_a_user_frees_the_subscriptions_that_named_them() {
    let mut b = Bench::with_limits(HubLimits {
        max_subscriptions: 1,
        ..HubLimits::default()
    });
    b.login(1, "alice");
    b.send(1, r#"{"type":"subscribe","users":["bob"]}"#);
    let now = b.now;
    b.hub.remove_user(now, &u("bob")).unwrap();
    let out = b.send(1, r#"{"type":"subscribe","users":["carol"]}"#);
    assert_eq!(out, [(ConnId(1), pres("carol", &[]))]);
}

#[test]
fn removing_a_member_reports_the_shrunk_group_for_storage() {
    let mut b = Bench::new();
    b.login(2, "bob");
    b.send(
        2,
        r#"{"type":"members","group":"g","members":["alice","carol"]}"#,
    );
    let now = b.now;
    let outs = b.hub.remove_user(now, &u("alice")).unwrap();
    assert!(outs.contains(&HubOutput::GroupChanged {
        group: GroupId {
            owner: u("bob"),
            name: GroupName::new("g").unwrap()
        },
        members: vec![u("carol")]
    }));
}

#[test]
fn a_group_loaded_while_sessions_are_open_tells_new_mates_their_presence() {
    let mut b = Bench::new();
    b.login(1, "alice");
    b.login(2, "bob");
    let outs = b
        .hub
        .admin(|h| {
            h.set_group(
                GroupId {
                    owner: u("bob"),
                    name: GroupName::new("g").unwrap(),
                },
                [u("alice")],
            )
        })
        .unwrap();
    let told = |conn: u64, user: &str| {
        outs.iter().any(|o| {
            matches!(o, HubOutput::Send { conn: c, frame }
            if c.0 == conn && frame.contains(&format!(r#""user":"{user}","online":true"#)))
        })
    };
    assert!(told(1, "bob") && told(2, "alice"), "{outs:?}");
}

fn hello(b: &mut Bench, c: u64, token: &str) -> Vec<(ConnId, HubMsg)> {
    b.send(
        c,
        &format!(r#"{{"type":"hello","version":2,"token":"{token}"}}"#),
    )
}

#[test]
fn a_new_generation_revokes_every_older_token_and_the_live_session() {
    let mut b = Bench::new();
    let old_access = b.token("alice", TokenKind::Access, 600);
    let old_refresh = b.token("alice", TokenKind::Refresh, 600);
    b.login(1, "alice");
    b.login(2, "bob");
    b.send(1, r#"{"type":"subscribe","users":["bob"]}"#);

    // The same generation again (a re-sync) changes nothing.
    let out = b.hub.admin(|h| h.add_user(u("alice"))).unwrap();
    assert!(out.is_empty(), "{out:?}");

    // A new generation: the session is told why, then closed.
    let out = b.hub.admin(|h| h.add_user((u("alice"), 1))).unwrap();
    let msgs: Vec<HubMsg> = out
        .iter()
        .filter_map(|o| match o {
            HubOutput::Send { conn, frame } if *conn == ConnId(1) => {
                Some(crate::signal::decode_hub(frame.as_bytes()).unwrap())
            }
            _ => None,
        })
        .collect();
    assert!(
        matches!(&msgs[0], HubMsg::Error { code: ErrorCode::TokenInvalid, message, .. }
            if message.contains("revoked")),
        "{msgs:?}"
    );
    assert!(out.contains(&HubOutput::Close {
        conn: ConnId(1),
        reason: CloseReason::AuthFailed
    }));
    assert_eq!(b.hub.hub.user_of(ConnId(1)), None);
    assert!(!b.hub.hub.online_users().any(|w| *w == u("alice")));

    // Neither old token opens a session any more.
    b.open(3);
    let out = hello(&mut b, 3, &old_access);
    assert_eq!(codes(&out), [(3, ErrorCode::TokenInvalid)]);
    let out = b.send(
        3,
        &format!(r#"{{"type":"refresh","version":2,"refresh_token":"{old_refresh}"}}"#),
    );
    assert_eq!(codes(&out), [(3, ErrorCode::TokenInvalid)]);
    assert_eq!(b.hub.hub.user_of(ConnId(3)), None);

    // A token of the new generation does, and refreshing keeps it.
    let unix = b.unix();
    let fresh = key().mint_generation(&u("alice"), 1, TokenKind::Refresh, unix, 600);
    let out = b.send(
        3,
        &format!(r#"{{"type":"refresh","version":2,"refresh_token":"{fresh}"}}"#),
    );
    let Some(HubMsg::Token { access_token, .. }) = out
        .iter()
        .map(|(_, m)| m)
        .find(|m| matches!(m, HubMsg::Token { .. }))
    else {
        panic!("{out:?}")
    };
    let (_, claims) = key()
        .verify(Some(access_token), TokenKind::Access, unix)
        .unwrap();
    assert_eq!(claims.generation, 1);
    assert_eq!(b.hub.hub.user_of(ConnId(3)), Some(&u("alice")));
}

#[test]
fn a_re_added_user_at_a_new_generation_refuses_the_old_tokens() {
    let mut b = Bench::new();
    let old = b.token("bob", TokenKind::Access, 600);
    let now = b.now;
    b.hub.remove_user(now, &u("bob")).unwrap();
    b.hub.admin(|h| h.add_user((u("bob"), 1))).unwrap();
    b.open(1);
    let out = hello(&mut b, 1, &old);
    assert_eq!(codes(&out), [(1, ErrorCode::TokenInvalid)]);
    let HubMsg::Error { message, .. } = &out[0].1 else {
        panic!("{out:?}")
    };
    assert!(message.contains("revoked"), "{message}");
}

#[test]
fn session_events_name_the_user_and_never_the_token() {
    let start = t0();
    let mut config = HubConfig::new(key());
    config.session_events = true;
    let mut hub = Hub::new(config, [u("alice"), u("bob")], start, UNIX0);
    let hello = |user: &str, generation: u64| {
        let t = key().mint_generation(&u(user), generation, TokenKind::Access, UNIX0, 60);
        (
            t.clone(),
            format!(r#"{{"type":"hello","version":2,"token":"{t}"}}"#),
        )
    };
    hub.handle_input(start, HubInput::Opened(ConnId(1)));
    let (stale, frame) = hello("alice", 9);
    hub.handle_input(start, HubInput::Frame(ConnId(1), frame.as_bytes()));
    let (_, frame) = hello("alice", 0);
    hub.handle_input(start, HubInput::Frame(ConnId(1), frame.as_bytes()));
    hub.handle_input(start, HubInput::Opened(ConnId(2)));
    let (_, frame) = hello("bob", 0);
    hub.handle_input(start, HubInput::Frame(ConnId(2), frame.as_bytes()));
    hub.handle_input(start, HubInput::Closed(ConnId(2)));
    hub.handle_input(start, HubInput::Closed(ConnId(2))); // twice: one event
    hub.shutdown(start);
    while hub.poll_output().is_some() {}
    let events: Vec<HubEvent> = std::iter::from_fn(|| hub.poll_event()).collect();
    assert_eq!(
        events,
        [
            HubEvent::AuthFailed {
                conn: ConnId(1),
                code: ErrorCode::TokenInvalid,
                reason: "token revoked: log in again".into()
            },
            HubEvent::Authenticated {
                conn: ConnId(1),
                user: u("alice"),
                device: DeviceName::default(),
            },
            HubEvent::Authenticated {
                conn: ConnId(2),
                user: u("bob"),
                device: DeviceName::default(),
            },
            HubEvent::Closed {
                conn: ConnId(2),
                user: Some(u("bob")),
                device: Some(DeviceName::default()),
                reason: None
            },
            HubEvent::Closed {
                conn: ConnId(1),
                user: Some(u("alice")),
                device: Some(DeviceName::default()),
                reason: Some(CloseReason::Shutdown)
            },
        ]
    );
    assert!(!format!("{events:?}").contains(&stale));
}

#[test]
fn session_events_are_off_by_default() {
    let mut b = Bench::new();
    b.login(1, "alice");
    b.open(2);
    b.send(2, r#"{"type":"hello","version":2,"token":"x.y.z"}"#);
    b.step(HubInput::Closed(ConnId(1)));
    assert_eq!(b.hub.hub.poll_event(), None);
}
