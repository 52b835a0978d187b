//! Random input sequences against the hub, under the audit: it never panics,
//! every relayed `from` is the authenticated sender's user and device,
//! nothing reaches a closed or unauthenticated session, devices are unique
//! and bounded per user, bare-user offers reach the most recently used
//! accepting session, and presence watchers hold the truth; a token of an
//! older generation, or a hello of protocol version 1, never authenticates.

use std::time::{Duration, Instant};

use brume_proto::hub::audit::AuditedHub;
use brume_proto::hub::{ConnId, Hub, HubConfig, HubInput, HubLimits, HubOutput};
use brume_proto::signal::{CloseReason, HubMsg, UserName, decode_hub};
use brume_proto::token::{TokenKey, TokenKind};
use proptest::prelude::*;

const UNIX0: u64 = 1_800_000_000;
/// Known to the hub: the first four. The last is a stranger.
const USERS: [&str; 5] = ["alice", "bob", "carol", "dave", "mallory"];
const KNOWN: usize = 4;
/// Devices sessions ask for and offers name; the instance is the hub's to
/// give, so asking for it is refused, and naming it reaches a `calls:false` session.
const DEVICES: [&str; 4] = ["laptop", "phone", "laptop~1", "laptop~2"];

#[derive(Debug, Clone)]
enum Op {
    Open(u64),
    /// Open and authenticate with a valid token, the common case: user,
    /// device, whether the session takes calls.
    Login(u64, usize, usize, bool),
    Close(u64),
    Advance(u64),
    Frame(u64, Frame),
    /// A frame from one of the authenticated connections (the n-th, cyclically).
    Live(u8, Frame),
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
        device: Option<usize>,
        calls: bool,
    },
    BadHello(u8),
    /// A valid token in a hello of protocol version 1.
    OldHello(usize),
    Refresh {
        user: usize,
        stale: bool,
        device: Option<usize>,
        calls: bool,
    },
    Offer {
        attempt: u8,
        to: To,
        group: Option<usize>,
    },
    Answer {
        attempt: u8,
        to: To,
    },
    Candidate {
        attempt: u8,
        to: To,
    },
    Reject {
        attempt: u8,
        to: To,
    },
    Cancel {
        attempt: u8,
        to: To,
    },
    Subscribe(Vec<usize>),
    Unsubscribe(Vec<usize>),
    Members(Vec<usize>),
    Ping,
    Bye,
    Raw(Vec<u8>),
    /// Answer, reject or send a candidate for the last offer this
    /// connection received, to its sender's device or (`kind` ≥ 3) bare user.
    ReplyLast(u8),
}

/// An address: a user, and maybe one of `DEVICES`.
#[derive(Debug, Clone)]
struct To(usize, Option<usize>);

fn to() -> impl Strategy<Value = To> {
    // Mostly users who log in (the first three), so offers are relayed.
    let user = prop_oneof![4 => 0..3usize, 1 => 0..USERS.len()];
    (user, proptest::option::weighted(0.4, 0..DEVICES.len())).prop_map(|(u, d)| To(u, d))
}

fn frame() -> impl Strategy<Value = Frame> {
    let user = 0..USERS.len();
    let attempt = 0u8..3;
    let device = proptest::option::weighted(0.8, 0..DEVICES.len());
    prop_oneof![
        3 => (user.clone(), any::<bool>(), prop::bool::weighted(0.2), device.clone(), prop::bool::weighted(0.7))
            .prop_map(|(user, expired, stale, device, calls)| Frame::Hello { user, expired, stale, device, calls }),
        1 => (0u8..3).prop_map(Frame::BadHello),
        3 => user.clone().prop_map(Frame::OldHello),
        1 => (user.clone(), prop::bool::weighted(0.2), device, any::<bool>())
            .prop_map(|(user, stale, device, calls)| Frame::Refresh { user, stale, device, calls }),
        6 => (attempt.clone(), to(), proptest::option::weighted(0.2, 0usize..KNOWN))
            .prop_map(|(attempt, to, group)| Frame::Offer { attempt, to, group }),
        5 => (attempt.clone(), to()).prop_map(|(attempt, to)| Frame::Answer { attempt, to }),
        5 => (attempt.clone(), to()).prop_map(|(attempt, to)| Frame::Candidate { attempt, to }),
        1 => (attempt.clone(), to()).prop_map(|(attempt, to)| Frame::Reject { attempt, to }),
        1 => (attempt, to()).prop_map(|(attempt, to)| Frame::Cancel { attempt, to }),
        2 => proptest::collection::vec(user.clone(), 0..4).prop_map(Frame::Subscribe),
        1 => proptest::collection::vec(user.clone(), 0..4).prop_map(Frame::Unsubscribe),
        2 => proptest::collection::vec(user, 0..4).prop_map(Frame::Members),
        8 => (0u8..6).prop_map(Frame::ReplyLast),
        1 => Just(Frame::Ping),
        1 => Just(Frame::Bye),
        1 => proptest::collection::vec(any::<u8>(), 0..64).prop_map(Frame::Raw),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let conn = 0u64..7;
    prop_oneof![
        1 => conn.clone().prop_map(Op::Open),
        // Few users on many connections, so users hold several devices.
        // alice most of all, so that she reaches the device limit.
        6 => (conn.clone(), prop_oneof![2 => Just(0usize), 3 => 0..3usize], 0..2usize, prop::bool::weighted(0.7))
            .prop_map(|(c, u, d, calls)| Op::Login(c, u, d, calls)),
        1 => conn.clone().prop_map(Op::Close),
        2 => (0u64..3_000).prop_map(Op::Advance),
        1 => (0u64..40_000).prop_map(Op::Advance),
        12 => (conn, frame()).prop_map(|(c, f)| Op::Frame(c, f)),
        18 => (any::<u8>(), frame()).prop_map(|(n, f)| Op::Live(n, f)),
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
    let address = |t: &To| match t.1 {
        Some(d) => format!("{}/{}", USERS[t.0], DEVICES[d]),
        None => USERS[t.0].to_owned(),
    };
    let device = |d: &Option<usize>, calls: bool| {
        let device = d
            .map(|d| format!(r#","device":"{}""#, DEVICES[d]))
            .unwrap_or_default();
        format!(r#"{device},"calls":{calls}"#)
    };
    let json = match f {
        Frame::ReplyLast(kind) => {
            let Some((attempt, from)) = last else {
                return b"{}".to_vec();
            };
            let bare = from.split('/').next().unwrap_or_default().to_owned();
            let from = if *kind >= 3 { &bare } else { from };
            match kind % 3 {
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
            device: d,
            calls,
        } => {
            let issued = if *expired { unix - 100 } else { unix };
            let g = generation(*user, *stale);
            let t = key.mint_generation(&name(*user), g, TokenKind::Access, issued, 60);
            let d = device(d, *calls);
            format!(r#"{{"type":"hello","version":2,"token":"{t}"{d}}}"#)
        }
        Frame::BadHello(0) => r#"{"type":"hello","version":2}"#.into(),
        Frame::BadHello(1) => r#"{"type":"hello","version":2,"token":"x.y.z"}"#.into(),
        Frame::BadHello(_) => r#"{"type":"hello","version":9,"token":"x"}"#.into(),
        Frame::OldHello(user) => {
            let g = generation(*user, false);
            let t = key.mint_generation(&name(*user), g, TokenKind::Access, unix, 60);
            format!(r#"{{"type":"hello","version":1,"token":"{t}"}}"#)
        }
        Frame::Refresh {
            user,
            stale,
            device: d,
            calls,
        } => {
            let g = generation(*user, *stale);
            let t = key.mint_generation(&name(*user), g, TokenKind::Refresh, unix, 600);
            let d = device(d, *calls);
            format!(r#"{{"type":"refresh","version":2,"refresh_token":"{t}"{d}}}"#)
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
                address(t)
            )
        }
        Frame::Answer { attempt, to: t } => {
            format!(
                r#"{{"type":"answer","attempt":"a{attempt}","to":"{}","sdp":"v=0"}}"#,
                address(t)
            )
        }
        Frame::Candidate { attempt, to: t } => format!(
            r#"{{"type":"candidate","attempt":"a{attempt}","to":"{}","candidate":"candidate:1"}}"#,
            address(t)
        ),
        Frame::Reject { attempt, to: t } => {
            format!(
                r#"{{"type":"reject","attempt":"a{attempt}","to":"{}"}}"#,
                address(t)
            )
        }
        Frame::Cancel { attempt, to: t } => {
            format!(
                r#"{{"type":"cancel","attempt":"a{attempt}","to":"{}"}}"#,
                address(t)
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

/// How often a run met each device rule, so a test can check that the
/// generator reaches them all.
#[derive(Debug, Default, Clone, Copy)]
struct Coverage {
    two_devices: usize,
    replaced: usize,
    instances: usize,
    device_limit: usize,
    offers_to_users: usize,
    offers_to_devices: usize,
    own_devices: usize,
    version_1_refused: usize,
}

impl Coverage {
    fn add(&mut self, o: &Coverage) {
        self.two_devices += o.two_devices;
        self.replaced += o.replaced;
        self.instances += o.instances;
        self.device_limit += o.device_limit;
        self.offers_to_users += o.offers_to_users;
        self.offers_to_devices += o.offers_to_devices;
        self.own_devices += o.own_devices;
        self.version_1_refused += o.version_1_refused;
    }

    /// Counts what one step's outputs show.
    fn step(&mut self, hub: &Hub, op: &Op, outs: &[HubOutput]) {
        for out in outs {
            match out {
                HubOutput::Close { reason, .. } => match reason {
                    CloseReason::Replaced => self.replaced += 1,
                    CloseReason::TooManyDevices => self.device_limit += 1,
                    CloseReason::Version if matches!(op, Op::Frame(_, Frame::OldHello(_))) => {
                        self.version_1_refused += 1
                    }
                    _ => {}
                },
                HubOutput::Send { conn, frame } => match decode_hub(frame.as_bytes()) {
                    Ok(HubMsg::Welcome { device, .. }) if device.instance().is_some() => {
                        self.instances += 1
                    }
                    Ok(HubMsg::Offer { from, .. }) => {
                        match op {
                            Op::Frame(
                                _,
                                Frame::Offer {
                                    to: To(_, None), ..
                                },
                            ) => self.offers_to_users += 1,
                            Op::Frame(_, Frame::Offer { .. }) => self.offers_to_devices += 1,
                            _ => {}
                        }
                        if hub.user_of(*conn) == Some(&from.user) {
                            self.own_devices += 1;
                        }
                    }
                    _ => {}
                },
                HubOutput::GroupChanged { .. }
                | HubOutput::ContactChanged { .. }
                | HubOutput::InvitationClaimed { .. } => {}
            }
        }
        if (0..KNOWN).any(|u| hub.sessions_of(&name(u)).len() >= 2) {
            self.two_devices += 1;
        }
    }
}

fn run(ops: &[Op]) -> Result<Vec<String>, String> {
    run_counting(ops).map(|(log, _)| log)
}

fn run_counting(ops: &[Op]) -> Result<(Vec<String>, Coverage), String> {
    let key = TokenKey::from_secret(&[42; 32]).unwrap();
    let mut config = HubConfig::new(key.clone());
    config.limits = HubLimits {
        max_sessions: 6,
        max_devices: 3,
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
    let mut coverage = Coverage::default();
    let mut last_offer = std::collections::BTreeMap::new();
    let mut generations = [0u64; USERS.len()];
    for op in ops {
        let live_frame;
        let op = match op {
            Op::Live(n, f) => {
                let live: Vec<u64> = (0..8)
                    .filter(|c| hub.hub.user_of(ConnId(*c)).is_some())
                    .collect();
                let Some(c) = live.get(usize::from(*n) % live.len().max(1)) else {
                    continue;
                };
                live_frame = Op::Frame(*c, f.clone());
                &live_frame
            }
            op => op,
        };
        let unix = UNIX0 + (now - start).as_secs();
        let outs = match op {
            Op::Open(c) => hub.step(now, HubInput::Opened(ConnId(*c))),
            Op::Login(c, u, d, calls) => {
                hub.step(now, HubInput::Opened(ConnId(*c)))
                    .and_then(|mut outs| {
                        let hello = Frame::Hello {
                            user: *u,
                            expired: false,
                            stale: false,
                            device: Some(*d),
                            calls: *calls,
                        };
                        let bytes = render(&hello, &key, unix, &generations, None);
                        outs.extend(hub.step(now, HubInput::Frame(ConnId(*c), &bytes))?);
                        Ok(outs)
                    })
            }
            Op::Close(c) => hub.step(now, HubInput::Closed(ConnId(*c))),
            Op::Advance(ms) => {
                now += Duration::from_millis(*ms);
                hub.step(now, HubInput::Timeout)
            }
            Op::Frame(c, f) => {
                let bytes = render(f, &key, unix, &generations, last_offer.get(c));
                let outs = hub.step(now, HubInput::Frame(ConnId(*c), &bytes));
                if let (
                    Frame::Hello { stale: true, .. }
                    | Frame::Refresh { stale: true, .. }
                    | Frame::OldHello(_),
                    Ok(outs),
                ) = (f, &outs)
                    && outs.iter().any(|o| {
                        matches!(o, HubOutput::Send { frame, .. }
                            if matches!(decode_hub(frame.as_bytes()), Ok(HubMsg::Welcome { .. })))
                    })
                {
                    return Err(format!("a stale token or version 1 authenticated: {op:?}"));
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
            Op::Live(..) => unreachable!("resolved to a frame above"),
        }
        .map_err(|e| format!("after {op:?}: {e}"))?;
        coverage.step(&hub.hub, op, &outs);
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
    Ok((log, coverage))
}

/// The properties above are only as good as the cases: this checks that
/// 200 of them reach every device rule, each more than a few times.
#[test]
fn the_cases_reach_every_device_rule() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{Config, TestRng, TestRunner};
    let rng = TestRng::deterministic_rng(Config::default().rng_algorithm);
    let mut runner = TestRunner::new_with_rng(Config::default(), rng);
    let cases = proptest::collection::vec(op(), 1..120);
    let mut total = Coverage::default();
    for _ in 0..200 {
        let ops = cases.new_tree(&mut runner).unwrap().current();
        let (_, c) = run_counting(&ops).unwrap_or_else(|e| panic!("{e}"));
        total.add(&c);
    }
    let counts = [
        ("two devices at once", total.two_devices),
        ("replacement on the same device", total.replaced),
        ("instance names", total.instances),
        ("the device limit", total.device_limit),
        ("offers to a bare user", total.offers_to_users),
        ("offers to a device", total.offers_to_devices),
        ("calls to one's own device", total.own_devices),
        ("version 1 refused", total.version_1_refused),
    ];
    for (what, n) in counts {
        assert!(n >= 5, "{what}: reached {n} times in 200 cases ({total:?})");
    }
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
