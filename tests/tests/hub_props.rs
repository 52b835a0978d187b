//! Random input sequences against the hub, under the audit: it never panics,
//! every relayed `from` is the authenticated sender, nothing reaches a closed
//! or unauthenticated session, and presence watchers hold the truth; a token
//! of an older generation never authenticates.

use std::time::{Duration, Instant};

use brume_proto::hub::audit::AuditedHub;
use brume_proto::hub::{ConnId, Hub, HubConfig, HubInput, HubLimits, HubOutput};
use brume_proto::signal::{HubMsg, UserName, decode_hub};
use brume_proto::token::{TokenKey, TokenKind};
use proptest::prelude::*;

const UNIX0: u64 = 1_800_000_000;
/// Known to the hub: the first four. The last is a stranger.
const USERS: [&str; 5] = ["alice", "bob", "carol", "dave", "mallory"];
const KNOWN: usize = 4;

#[derive(Debug, Clone)]
enum Op {
    Open(u64),
    /// Open and authenticate with a valid token, the common case.
    Login(u64, usize),
    Close(u64),
    Advance(u64),
    Frame(u64, Frame),
    RemoveUser(usize),
    AddUser(usize),
    /// The driver hands the hub a new generation of the user's tokens.
    Revoke(usize),
    Shutdown,
}

#[derive(Debug, Clone)]
enum Frame {
    Hello {
        user: usize,
        expired: bool,
        /// Minted at the generation before the user's current one.
        stale: bool,
    },
    BadHello(u8),
    Refresh {
        user: usize,
        stale: bool,
    },
    Offer {
        attempt: u8,
        to: usize,
        group: Option<usize>,
    },
    Answer {
        attempt: u8,
        to: usize,
    },
    Candidate {
        attempt: u8,
        to: usize,
    },
    Reject {
        attempt: u8,
        to: usize,
    },
    Cancel {
        attempt: u8,
        to: usize,
    },
    Subscribe(Vec<usize>),
    Unsubscribe(Vec<usize>),
    Members(Vec<usize>),
    Ping,
    Bye,
    Raw(Vec<u8>),
    /// Answer, reject or send a candidate for the last offer this connection received.
    ReplyLast(u8),
}

fn frame() -> impl Strategy<Value = Frame> {
    let user = 0..USERS.len();
    let attempt = 0u8..2;
    prop_oneof![
        3 => (user.clone(), any::<bool>(), prop::bool::weighted(0.2))
            .prop_map(|(user, expired, stale)| Frame::Hello { user, expired, stale }),
        1 => (0u8..3).prop_map(Frame::BadHello),
        1 => (user.clone(), prop::bool::weighted(0.2))
            .prop_map(|(user, stale)| Frame::Refresh { user, stale }),
        6 => (attempt.clone(), user.clone(), proptest::option::of(0usize..KNOWN))
            .prop_map(|(attempt, to, group)| Frame::Offer { attempt, to, group }),
        5 => (attempt.clone(), user.clone()).prop_map(|(attempt, to)| Frame::Answer { attempt, to }),
        5 => (attempt.clone(), user.clone()).prop_map(|(attempt, to)| Frame::Candidate { attempt, to }),
        1 => (attempt.clone(), user.clone()).prop_map(|(attempt, to)| Frame::Reject { attempt, to }),
        1 => (attempt, user.clone()).prop_map(|(attempt, to)| Frame::Cancel { attempt, to }),
        2 => proptest::collection::vec(user.clone(), 0..4).prop_map(Frame::Subscribe),
        1 => proptest::collection::vec(user.clone(), 0..4).prop_map(Frame::Unsubscribe),
        2 => proptest::collection::vec(user, 0..4).prop_map(Frame::Members),
        8 => (0u8..3).prop_map(Frame::ReplyLast),
        1 => Just(Frame::Ping),
        1 => Just(Frame::Bye),
        1 => proptest::collection::vec(any::<u8>(), 0..64).prop_map(Frame::Raw),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let conn = 0u64..5;
    prop_oneof![
        1 => conn.clone().prop_map(Op::Open),
        // Mostly one user per connection, so sessions live long enough to talk.
        6 => conn.clone().prop_map(|c| Op::Login(c, c as usize)),
        1 => conn.clone().prop_map(Op::Close),
        2 => (0u64..3_000).prop_map(Op::Advance),
        1 => (0u64..40_000).prop_map(Op::Advance),
        30 => (conn, frame()).prop_map(|(c, f)| Op::Frame(c, f)),
        1 => (0..KNOWN).prop_map(Op::RemoveUser),
        1 => (0..KNOWN).prop_map(Op::AddUser),
        1 => (0..KNOWN).prop_map(Op::Revoke),
        1 => Just(Op::Shutdown),
    ]
}

fn name(i: usize) -> UserName {
    UserName::new(USERS[i]).unwrap()
}

fn render(
    f: &Frame,
    key: &TokenKey,
    unix: u64,
    generations: &[u64; USERS.len()],
    last: Option<&(String, String)>,
) -> Vec<u8> {
    let generation = |user: usize, stale: bool| {
        if stale {
            generations[user].wrapping_sub(1)
        } else {
            generations[user]
        }
    };
    let to = |i: &usize| USERS[*i];
    let json = match f {
        Frame::ReplyLast(kind) => {
            let Some((attempt, from)) = last else {
                return b"{}".to_vec();
            };
            match kind {
                0 => format!(
                    r#"{{"type":"answer","attempt":"{attempt}","to":"{from}","sdp":"v=0"}}"#
                ),
                1 => format!(
                    r#"{{"type":"candidate","attempt":"{attempt}","to":"{from}","candidate":"c"}}"#
                ),
                _ => format!(r#"{{"type":"reject","attempt":"{attempt}","to":"{from}"}}"#),
            }
        }
        Frame::Hello {
            user,
            expired,
            stale,
        } => {
            let issued = if *expired { unix - 100 } else { unix };
            let g = generation(*user, *stale);
            let t = key.mint_generation(&name(*user), g, TokenKind::Access, issued, 60);
            format!(r#"{{"type":"hello","version":1,"token":"{t}"}}"#)
        }
        Frame::BadHello(0) => r#"{"type":"hello","version":1}"#.into(),
        Frame::BadHello(1) => r#"{"type":"hello","version":1,"token":"x.y.z"}"#.into(),
        Frame::BadHello(_) => r#"{"type":"hello","version":9,"token":"x"}"#.into(),
        Frame::Refresh { user, stale } => {
            let g = generation(*user, *stale);
            let t = key.mint_generation(&name(*user), g, TokenKind::Refresh, unix, 600);
            format!(r#"{{"type":"refresh","version":1,"refresh_token":"{t}"}}"#)
        }
        Frame::Offer {
            attempt,
            to: t,
            group,
        } => {
            let group = group
                .map(|g| format!(r#","group":{{"owner":"{}","name":"g"}}"#, USERS[g]))
                .unwrap_or_default();
            format!(
                r#"{{"type":"offer","attempt":"a{attempt}","to":"{}"{group},"sdp":"v=0"}}"#,
                to(t)
            )
        }
        Frame::Answer { attempt, to: t } => {
            format!(
                r#"{{"type":"answer","attempt":"a{attempt}","to":"{}","sdp":"v=0"}}"#,
                to(t)
            )
        }
        Frame::Candidate { attempt, to: t } => format!(
            r#"{{"type":"candidate","attempt":"a{attempt}","to":"{}","candidate":"candidate:1"}}"#,
            to(t)
        ),
        Frame::Reject { attempt, to: t } => {
            format!(
                r#"{{"type":"reject","attempt":"a{attempt}","to":"{}"}}"#,
                to(t)
            )
        }
        Frame::Cancel { attempt, to: t } => {
            format!(
                r#"{{"type":"cancel","attempt":"a{attempt}","to":"{}"}}"#,
                to(t)
            )
        }
        Frame::Subscribe(users) | Frame::Unsubscribe(users) | Frame::Members(users) => {
            let list: Vec<String> = users.iter().map(|u| format!("\"{}\"", to(u))).collect();
            let list = list.join(",");
            match f {
                Frame::Subscribe(_) => format!(r#"{{"type":"subscribe","users":[{list}]}}"#),
                Frame::Unsubscribe(_) => format!(r#"{{"type":"unsubscribe","users":[{list}]}}"#),
                _ => format!(r#"{{"type":"members","group":"g","members":[{list}]}}"#),
            }
        }
        Frame::Ping => r#"{"type":"ping","nonce":3}"#.into(),
        Frame::Bye => r#"{"type":"close","reason":"done"}"#.into(),
        Frame::Raw(bytes) => return bytes.clone(),
    };
    json.into_bytes()
}

fn run(ops: &[Op]) -> Result<Vec<String>, String> {
    let key = TokenKey::from_secret(&[42; 32]).unwrap();
    let mut config = HubConfig::new(key.clone());
    config.limits = HubLimits {
        max_sessions: 5,
        burst: 20,
        rate_per_sec: 2,
        max_pending_attempts: 2,
        max_subscriptions: 2,
        max_group_members: 2,
        max_groups_per_owner: 1,
        ..HubLimits::default()
    };
    // Only differences from this origin matter.
    let start = Instant::now();
    let mut now = start;
    let users = (0..KNOWN).map(name);
    let mut hub = AuditedHub::new(Hub::new(config, users, start, UNIX0));
    let mut log = Vec::new();
    let mut last_offer = std::collections::BTreeMap::new();
    let mut generations = [0u64; USERS.len()];
    for op in ops {
        let unix = UNIX0 + (now - start).as_secs();
        let outs = match op {
            Op::Open(c) => hub.step(now, HubInput::Opened(ConnId(*c))),
            Op::Login(c, u) => hub
                .step(now, HubInput::Opened(ConnId(*c)))
                .and_then(|mut outs| {
                    let hello = Frame::Hello {
                        user: *u,
                        expired: false,
                        stale: false,
                    };
                    let bytes = render(&hello, &key, unix, &generations, None);
                    outs.extend(hub.step(now, HubInput::Frame(ConnId(*c), &bytes))?);
                    Ok(outs)
                }),
            Op::Close(c) => hub.step(now, HubInput::Closed(ConnId(*c))),
            Op::Advance(ms) => {
                now += Duration::from_millis(*ms);
                hub.step(now, HubInput::Timeout)
            }
            Op::Frame(c, f) => {
                let bytes = render(f, &key, unix, &generations, last_offer.get(c));
                let outs = hub.step(now, HubInput::Frame(ConnId(*c), &bytes));
                if let (
                    Frame::Hello { stale: true, .. } | Frame::Refresh { stale: true, .. },
                    Ok(outs),
                ) = (f, &outs)
                    && outs.iter().any(|o| {
                        matches!(o, HubOutput::Send { frame, .. }
                            if matches!(decode_hub(frame.as_bytes()), Ok(HubMsg::Welcome { .. })))
                    })
                {
                    return Err(format!("a stale token authenticated: {op:?}"));
                }
                outs
            }
            Op::RemoveUser(u) => hub.remove_user(now, &name(*u)),
            Op::AddUser(u) => hub.admin(|h| h.add_user((name(*u), generations[*u]))),
            Op::Revoke(u) => {
                generations[*u] += 1;
                let user = (name(*u), generations[*u]);
                hub.admin(|h| h.add_user(user)).and_then(|outs| {
                    if hub.hub.online_users().any(|w| *w == name(*u)) {
                        return Err(format!("{} is online after a revocation", USERS[*u]));
                    }
                    Ok(outs)
                })
            }
            Op::Shutdown => hub.admin(|h| h.shutdown(now)),
        }
        .map_err(|e| format!("after {op:?}: {e}"))?;
        for out in &outs {
            if let HubOutput::Send { conn, frame } = out
                && let Ok(HubMsg::Offer { attempt, from, .. }) = decode_hub(frame.as_bytes())
            {
                last_offer.insert(conn.0, (attempt.to_string(), from.to_string()));
            }
            log.push(format!("{out:?}"));
        }
        if let Some(t) = hub.hub.poll_timeout()
            && t < now
        {
            return Err(format!("timeout {t:?} is in the past"));
        }
    }
    Ok(log)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn the_hub_keeps_its_promises(ops in proptest::collection::vec(op(), 1..120)) {
        if let Err(e) = run(&ops) {
            prop_assert!(false, "{}", e);
        }
    }

    #[test]
    fn the_hub_is_deterministic(ops in proptest::collection::vec(op(), 1..60)) {
        prop_assert_eq!(run(&ops), run(&ops));
    }
}
