//! A stateful fuzz target for the hub: connections open and close, virtual
//! time moves, clients send well-formed and malformed frames, an admin removes
//! and adds users and shuts the hub down, all against an `AuditedHub` that
//! checks the hub's promises after every step.
//!
//! On top of the audit, the driver checks that:
//! - the same inputs give the same outputs (a twin hub is fed in lockstep);
//! - every `Close` output follows a `close` frame with the same reason;
//! - `welcome` tells the configured limits, and only known users log in;
//! - no `hello` or `refresh` of another protocol version (1 included) logs in;
//! - published groups are sorted, within the limit, of known users, without their owner;
//! - the session limit holds;
//! - after a `Timeout`, the next timeout is in the future;
//! - once every connection is closed, nothing is left behind.
//!
//! `cargo fuzz fmt hub_ops FILE` prints an input as the list of operations.

#![no_main]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use arbitrary::Arbitrary;
use brume_proto::hub::audit::AuditedHub;
use brume_proto::hub::{ConnId, Hub, HubConfig, HubInput, HubLimits, HubOutput};
use brume_proto::signal::{
    Address, AttemptId, ClientMsg, DeviceName, GroupId, GroupName, HubMsg, PROTOCOL_VERSION,
    PeerId, UserName, decode_client, decode_hub, encode_client,
};
use brume_proto::token::{TokenKey, TokenKind};
use libfuzzer_sys::fuzz_target;

/// Wall-clock seconds at the start of every run.
const UNIX0: u64 = 1_700_000_000;
/// The hub's signing key, and another one it does not trust.
const SECRET: [u8; 32] = [0x42; 32];
const FOREIGN_SECRET: [u8; 32] = [0x24; 32];
/// Access tokens the hub mints on `refresh` live this long (so they expire in a run).
const ISSUED_LIFETIME: Duration = Duration::from_secs(300);
/// Hub-issued access tokens remembered for reuse.
const MAX_ISSUED: usize = 4;
/// Longest text field (sdp, candidate, reason, garbage token), in chars.
const MAX_TEXT: usize = 48;
/// Longest user list in subscribe, unsubscribe and members.
const MAX_LIST: usize = 6;

/// The user vocabulary. The hub starts knowing the first five; `mallory` can
/// be added by an admin op, `zed` never exists.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum User {
    Alice,
    Bob,
    Carol,
    Dave,
    Erin,
    Mallory,
    Zed,
}

const USERS: [User; 7] = [
    User::Alice,
    User::Bob,
    User::Carol,
    User::Dave,
    User::Erin,
    User::Mallory,
    User::Zed,
];
const INITIAL_USERS: usize = 5;

impl User {
    fn str(self) -> &'static str {
        match self {
            User::Alice => "alice",
            User::Bob => "bob",
            User::Carol => "carol",
            User::Dave => "dave",
            User::Erin => "erin",
            User::Mallory => "mallory",
            User::Zed => "zed",
        }
    }

    fn name(self) -> UserName {
        UserName::new(self.str()).expect("vocabulary names are valid")
    }

    fn addable(self) -> bool {
        self != User::Zed
    }
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Conn {
    C0,
    C1,
    C2,
    C3,
    C4,
    C5,
    C6,
    C7,
}

const CONNS: u64 = 8;

impl Conn {
    fn id(self) -> ConnId {
        ConnId(self as u64)
    }
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Attempt {
    A0,
    A1,
    A2,
    A3,
}

impl Attempt {
    fn id(self) -> AttemptId {
        AttemptId::new(format!("a{}", self as u8)).expect("valid attempt id")
    }
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Group {
    G0,
    G1,
}

impl Group {
    fn name(self) -> GroupName {
        GroupName::new(format!("g{}", self as u8)).expect("valid group name")
    }
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Version {
    Current,
    /// Protocol version 1, from before devices.
    Old,
    Other(u32),
}

impl Version {
    fn number(self) -> u32 {
        match self {
            Version::Current => PROTOCOL_VERSION,
            Version::Old => 1,
            Version::Other(v) => v,
        }
    }
}

/// The device vocabulary. `laptop~1` is an instance name: the hub refuses
/// it in a `hello`, and gives it to a `laptop` session that takes no calls.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum Device {
    Laptop,
    Phone,
    LaptopInstance,
}

impl Device {
    fn name(self) -> DeviceName {
        let s = match self {
            Device::Laptop => "laptop",
            Device::Phone => "phone",
            Device::LaptopInstance => "laptop~1",
        };
        DeviceName::new(s).expect("vocabulary devices are valid")
    }
}

/// A user, or one of their devices.
fn address(user: User, device: Option<Device>) -> Address {
    match device {
        Some(d) => Address::Device(PeerId::new(user.name(), d.name())),
        None => Address::User(user.name()),
    }
}

/// Which token a `hello` or `refresh` carries.
#[derive(Arbitrary, Debug, Clone)]
enum Token {
    Missing,
    Empty,
    /// Valid for an hour.
    Access(User),
    /// Valid for 90 s.
    ShortAccess(User),
    /// Expired before the run started.
    ExpiredAccess(User),
    Refresh(User),
    ShortRefresh(User),
    ExpiredRefresh(User),
    /// Signed by a key the hub does not trust.
    ForeignKey(User),
    /// One of the access tokens the hub handed out in this run (`token`).
    Issued(u8),
    Garbage(String),
}

/// Tokens minted once per process: minting is the slow part of a hello.
struct Tokens {
    /// Indexed by [`Self::slot`], then by user.
    minted: [[String; 7]; 7],
}

impl Tokens {
    fn new() -> Self {
        let key = TokenKey::from_secret(&SECRET).expect("32-byte key");
        let foreign = TokenKey::from_secret(&FOREIGN_SECRET).expect("32-byte key");
        let mint = |key: &TokenKey, kind, start, life| {
            USERS.map(|u| key.mint(&u.name(), kind, start, life))
        };
        Self {
            minted: [
                mint(&key, TokenKind::Access, UNIX0, 3600),
                mint(&key, TokenKind::Access, UNIX0, 90),
                mint(&key, TokenKind::Access, UNIX0 - 7200, 3600),
                mint(&key, TokenKind::Refresh, UNIX0, 86_400),
                mint(&key, TokenKind::Refresh, UNIX0, 90),
                mint(&key, TokenKind::Refresh, UNIX0 - 7200, 3600),
                mint(&foreign, TokenKind::Access, UNIX0, 3600),
            ],
        }
    }

    fn get(&self, token: &Token, issued: &[String]) -> Option<String> {
        let (slot, user) = match token {
            Token::Missing => return None,
            Token::Empty => return Some(String::new()),
            Token::Issued(i) => {
                return issued.get(usize::from(*i) % issued.len().max(1)).cloned();
            }
            Token::Garbage(s) => return Some(text(s)),
            Token::Access(u) => (0, u),
            Token::ShortAccess(u) => (1, u),
            Token::ExpiredAccess(u) => (2, u),
            Token::Refresh(u) => (3, u),
            Token::ShortRefresh(u) => (4, u),
            Token::ExpiredRefresh(u) => (5, u),
            Token::ForeignKey(u) => (6, u),
        };
        Some(self.minted[slot][*user as usize].clone())
    }
}

static TOKENS: LazyLock<Tokens> = LazyLock::new(Tokens::new);

fn text(s: &str) -> String {
    s.chars().take(MAX_TEXT).collect()
}

fn names(users: &[User]) -> Vec<UserName> {
    users.iter().take(MAX_LIST).map(|u| u.name()).collect()
}

/// A frame a client sends.
#[derive(Arbitrary, Debug, Clone)]
enum Frame {
    Hello {
        version: Version,
        token: Token,
        device: Option<Device>,
        calls: bool,
        replace: bool,
    },
    Refresh {
        version: Version,
        token: Token,
        device: Option<Device>,
        calls: bool,
        replace: bool,
    },
    Offer {
        attempt: Attempt,
        to: User,
        device: Option<Device>,
        group: Option<(User, Group)>,
        sdp: String,
        restart: bool,
    },
    Answer {
        attempt: Attempt,
        to: User,
        device: Option<Device>,
        sdp: String,
    },
    Candidate {
        attempt: Attempt,
        to: User,
        device: Option<Device>,
        candidate: String,
    },
    Reject {
        attempt: Attempt,
        to: User,
        device: Option<Device>,
        reason: Option<String>,
    },
    Cancel {
        attempt: Attempt,
        to: User,
        device: Option<Device>,
        reason: Option<String>,
    },
    Subscribe(Vec<User>),
    Unsubscribe(Vec<User>),
    Members {
        group: Group,
        members: Vec<User>,
    },
    Ping(u32),
    Pong(u32),
    Close(Option<String>),
    /// Any bytes at all.
    Raw(Vec<u8>),
    /// A valid `ping` padded past the hub's frame limit.
    Oversized,
}

impl Frame {
    fn bytes(&self, issued: &[String], max_frame: usize) -> Vec<u8> {
        let msg = match self {
            Frame::Hello {
                version,
                token,
                device,
                calls,
                replace,
            } => ClientMsg::Hello {
                version: version.number(),
                token: TOKENS.get(token, issued),
                device: device.map(Device::name),
                calls: *calls,
                replace: *replace,
            },
            Frame::Refresh {
                version,
                token,
                device,
                calls,
                replace,
            } => ClientMsg::Refresh {
                version: version.number(),
                refresh_token: TOKENS.get(token, issued),
                device: device.map(Device::name),
                calls: *calls,
                replace: *replace,
            },
            Frame::Offer {
                attempt,
                to,
                device,
                group,
                sdp,
                restart,
            } => ClientMsg::Offer {
                attempt: attempt.id(),
                to: address(*to, *device),
                group: group.map(|(owner, name)| GroupId {
                    owner: owner.name(),
                    name: name.name(),
                }),
                sdp: text(sdp),
                restart: *restart,
            },
            Frame::Answer {
                attempt,
                to,
                device,
                sdp,
            } => ClientMsg::Answer {
                attempt: attempt.id(),
                to: address(*to, *device),
                sdp: text(sdp),
            },
            Frame::Candidate {
                attempt,
                to,
                device,
                candidate,
            } => ClientMsg::Candidate {
                attempt: attempt.id(),
                to: address(*to, *device),
                candidate: text(candidate),
            },
            Frame::Reject {
                attempt,
                to,
                device,
                reason,
            } => ClientMsg::Reject {
                attempt: attempt.id(),
                to: address(*to, *device),
                reason: reason.as_deref().map(text),
            },
            Frame::Cancel {
                attempt,
                to,
                device,
                reason,
            } => ClientMsg::Cancel {
                attempt: attempt.id(),
                to: address(*to, *device),
                reason: reason.as_deref().map(text),
            },
            Frame::Subscribe(users) => ClientMsg::Subscribe {
                users: names(users),
            },
            Frame::Unsubscribe(users) => ClientMsg::Unsubscribe {
                users: names(users),
            },
            Frame::Members { group, members } => ClientMsg::Members {
                group: group.name(),
                members: names(members),
            },
            Frame::Ping(nonce) => ClientMsg::Ping { nonce: *nonce },
            Frame::Pong(nonce) => ClientMsg::Pong { nonce: *nonce },
            Frame::Close(reason) => ClientMsg::Close {
                reason: reason.as_deref().map(text),
            },
            Frame::Raw(bytes) => return bytes.clone(),
            Frame::Oversized => {
                let mut frame = br#"{"type":"ping","nonce":1}"#.to_vec();
                frame.resize(max_frame + 1, b' ');
                return frame;
            }
        };
        encode_client(&msg).into_bytes()
    }
}

/// A reply within an attempt the driver saw the hub relay.
#[derive(Arbitrary, Debug, Clone)]
enum Reply {
    Answer(String),
    Candidate(String),
    Reject(Option<String>),
    Cancel(Option<String>),
}

/// An offer the hub relayed: which sessions called and were called.
#[derive(Debug, Clone)]
struct Relayed {
    attempt: AttemptId,
    caller: PeerId,
    caller_conn: ConnId,
    callee: PeerId,
    callee_conn: ConnId,
}

/// Relayed offers remembered for [`Op::Reply`].
const MAX_RELAYED: usize = 8;

/// How far virtual time moves.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum Step {
    /// Up to 255 ms: rate-limit refills.
    Millis(u8),
    /// Up to 65 s.
    Long(u16),
    /// Up to 120 s, in whole seconds.
    Secs(u8),
}

impl Step {
    fn duration(self) -> Duration {
        match self {
            Step::Millis(ms) => Duration::from_millis(u64::from(ms)),
            Step::Long(ms) => Duration::from_millis(u64::from(ms)),
            Step::Secs(s) => Duration::from_secs(u64::from(s % 121)),
        }
    }
}

#[derive(Arbitrary, Debug, Clone)]
enum Op {
    Open(Conn),
    /// A shortcut to deeper states: open, then `hello` with a valid access
    /// token, on a device, taking calls or not.
    Login(Conn, User, Device, bool),
    /// The connection went away (the driver's `Closed`).
    Closed(Conn),
    Send(Conn, Frame),
    /// A shortcut to relays: one side of an offer the hub relayed earlier
    /// (picked among the last few) sends a reply in that attempt. The attempt
    /// may be over by now. It names the other side by its device, or by user.
    Reply {
        pick: u8,
        from_caller: bool,
        by_device: bool,
        reply: Reply,
    },
    /// Advance time, then feed `Timeout`.
    Advance(Step),
    /// Jump to the hub's next deadline and feed `Timeout`.
    NextTimer,
    RemoveUser(User),
    /// Adds (back) a user; `zed` stays unknown.
    AddUser(User),
    /// Moves a known user's tokens to the other of generations 0 and 1:
    /// their live session must end.
    Revoke(User),
    Shutdown,
    /// Re-anchors the wall clock, `drift` seconds off the virtual clock.
    WallClock {
        drift: i8,
    },
    /// Loads a group from storage; only while no session is open, as at startup.
    LoadGroup {
        owner: User,
        name: Group,
        members: Vec<User>,
    },
}

fn limits() -> HubLimits {
    HubLimits {
        max_sessions: 6,
        max_frame: 2048,
        burst: 8,
        rate_per_sec: 4,
        max_pending_attempts: 2,
        max_subscriptions: 3,
        max_devices: 3,
        max_group_members: 3,
        max_groups_per_owner: 1,
        max_contacts: 2,
        max_auth_failures: 2,
        auth_timeout: Duration::from_secs(10),
        ping_after: Duration::from_secs(20),
        idle_timeout: Duration::from_secs(45),
        attempt_timeout: Duration::from_secs(30),
        attempt_linger: Duration::from_secs(15),
    }
}

fn new_hub(start: Instant) -> Hub {
    let mut config = HubConfig::new(TokenKey::from_secret(&SECRET).expect("32-byte key"));
    config.access_token_lifetime = ISSUED_LIFETIME;
    config.limits = limits();
    let users = USERS[..INITIAL_USERS].iter().map(|u| u.name());
    Hub::new(config, users, start, UNIX0)
}

/// An input for people: frames as text.
fn describe(input: &HubInput<'_>) -> String {
    match input {
        HubInput::Frame(c, bytes) => {
            format!("Frame({c:?}, {:?})", String::from_utf8_lossy(bytes))
        }
        other => format!("{other:?}"),
    }
}

struct Driver {
    audited: AuditedHub,
    /// Fed the same inputs; must give the same outputs.
    twin: Hub,
    limits: HubLimits,
    start: Instant,
    now: Instant,
    known: BTreeSet<UserName>,
    /// Known users at generation 1 (the minted tokens are at 0).
    revoked: BTreeSet<UserName>,
    issued: Vec<String>,
    relayed: Vec<Relayed>,
}

impl Driver {
    fn new() -> Self {
        // Only differences from `start` matter to the hub.
        let start = Instant::now();
        Self {
            audited: AuditedHub::new(new_hub(start)),
            twin: new_hub(start),
            limits: limits(),
            start,
            now: start,
            known: USERS[..INITIAL_USERS].iter().map(|u| u.name()).collect(),
            revoked: BTreeSet::new(),
            issued: Vec::new(),
            relayed: Vec::new(),
        }
    }

    fn step(&mut self, input: HubInput<'_>) {
        let out = self
            .audited
            .step(self.now, input)
            .unwrap_or_else(|e| panic!("audit failed after {}: {e}", describe(&input)));
        self.twin.handle_input(self.now, input);
        let sender = match input {
            HubInput::Frame(c, _) => Some(c),
            _ => None,
        };
        if let HubInput::Frame(_, bytes) = input
            && let Ok(ClientMsg::Hello { version, .. } | ClientMsg::Refresh { version, .. }) =
                decode_client(bytes)
            && version != PROTOCOL_VERSION
        {
            assert!(
                !out.iter().any(|o| matches!(o, HubOutput::Send { frame, .. }
                    if matches!(decode_hub(frame.as_bytes()), Ok(HubMsg::Welcome { .. })))),
                "a hello or refresh of version {version} logged in"
            );
        }
        self.check(&out, sender);
        if let HubInput::Timeout = input
            && let Some(next) = self.audited.hub.poll_timeout()
        {
            assert!(
                next > self.now,
                "after a timeout, the next one is not in the future"
            );
        }
    }

    fn admin(&mut self, what: &str, f: impl Fn(&mut Hub)) {
        let out = self
            .audited
            .admin(&f)
            .unwrap_or_else(|e| panic!("audit failed after {what}: {e}"));
        f(&mut self.twin);
        self.check(&out, None);
    }

    /// Checks one step's outputs; `sender` sent the frame behind the step, if any.
    fn check(&mut self, out: &[HubOutput], sender: Option<ConnId>) {
        let twin: Vec<HubOutput> = std::iter::from_fn(|| self.twin.poll_output()).collect();
        assert_eq!(out, twin, "the same inputs gave different outputs");
        let hub = &self.audited.hub;
        assert_eq!(
            hub.poll_timeout(),
            self.twin.poll_timeout(),
            "twin timers differ"
        );

        let mut last_sent: BTreeMap<ConnId, HubMsg> = BTreeMap::new();
        for o in out {
            match o {
                HubOutput::Send { conn, frame } => {
                    let msg = decode_hub(frame.as_bytes()).expect("the audit decoded it");
                    match &msg {
                        HubMsg::Welcome { user, limits, .. } => {
                            assert!(self.known.contains(user), "{user} logged in, unknown");
                            assert_eq!(*limits, self.limits.session_limits(), "welcome limits");
                        }
                        HubMsg::Token { access_token, .. } => {
                            if self.issued.len() == MAX_ISSUED {
                                self.issued.remove(0);
                            }
                            self.issued.push(access_token.clone());
                        }
                        HubMsg::Offer { attempt, from, .. } => {
                            let callee = hub.peer_of(*conn).cloned();
                            if let (Some(caller_conn), Some(callee)) = (sender, callee) {
                                if self.relayed.len() == MAX_RELAYED {
                                    self.relayed.remove(0);
                                }
                                self.relayed.push(Relayed {
                                    attempt: attempt.clone(),
                                    caller: from.clone(),
                                    caller_conn,
                                    callee,
                                    callee_conn: *conn,
                                });
                            }
                        }
                        _ => {}
                    }
                    last_sent.insert(*conn, msg);
                }
                HubOutput::Close { conn, reason } => {
                    let told = last_sent.get(conn);
                    assert!(
                        matches!(told, Some(HubMsg::Close { reason: r }) if r == reason),
                        "closed {conn:?} ({reason:?}) after sending {told:?}"
                    );
                }
                HubOutput::GroupChanged { group, members } => {
                    assert!(
                        members.len() <= self.limits.max_group_members,
                        "{group} too big"
                    );
                    assert!(members.is_sorted(), "{group} members unsorted");
                    assert!(!members.contains(&group.owner), "{group} lists its owner");
                    for m in members {
                        assert!(self.known.contains(m), "{group} holds unknown {m}");
                    }
                }
                // No frame this target sends makes contacts.
                HubOutput::ContactChanged { .. } | HubOutput::InvitationClaimed { .. } => {
                    panic!("contacts changed without an invitation: {o:?}")
                }
            }
        }
        assert!(
            hub.session_count() <= self.limits.max_sessions,
            "session limit"
        );
    }

    fn run(&mut self, op: &Op) {
        match op {
            Op::Open(c) => self.step(HubInput::Opened(c.id())),
            Op::Closed(c) => self.step(HubInput::Closed(c.id())),
            Op::Login(c, user, device, calls) => {
                self.step(HubInput::Opened(c.id()));
                let hello = Frame::Hello {
                    version: Version::Current,
                    token: Token::Access(*user),
                    device: Some(*device),
                    calls: *calls,
                    replace: true,
                };
                let bytes = hello.bytes(&self.issued, self.limits.max_frame);
                self.step(HubInput::Frame(c.id(), &bytes));
            }
            Op::Send(c, frame) => {
                let bytes = frame.bytes(&self.issued, self.limits.max_frame);
                self.step(HubInput::Frame(c.id(), &bytes));
            }
            Op::Reply {
                pick,
                from_caller,
                by_device,
                reply,
            } => {
                if self.relayed.is_empty() {
                    return;
                }
                let r = self.relayed[usize::from(*pick) % self.relayed.len()].clone();
                let (conn, to) = if *from_caller {
                    (r.caller_conn, r.callee)
                } else {
                    (r.callee_conn, r.caller)
                };
                let to = if *by_device {
                    Address::Device(to)
                } else {
                    Address::User(to.user)
                };
                let attempt = r.attempt;
                let msg = match reply {
                    Reply::Answer(sdp) => ClientMsg::Answer {
                        attempt,
                        to,
                        sdp: text(sdp),
                    },
                    Reply::Candidate(candidate) => ClientMsg::Candidate {
                        attempt,
                        to,
                        candidate: text(candidate),
                    },
                    Reply::Reject(reason) => ClientMsg::Reject {
                        attempt,
                        to,
                        reason: reason.as_deref().map(text),
                    },
                    Reply::Cancel(reason) => ClientMsg::Cancel {
                        attempt,
                        to,
                        reason: reason.as_deref().map(text),
                    },
                };
                let bytes = encode_client(&msg).into_bytes();
                self.step(HubInput::Frame(conn, &bytes));
            }
            Op::Advance(step) => {
                self.now += step.duration();
                self.step(HubInput::Timeout);
            }
            Op::NextTimer => {
                if let Some(at) = self.audited.hub.poll_timeout() {
                    self.now = self.now.max(at);
                }
                self.step(HubInput::Timeout);
            }
            Op::RemoveUser(u) => {
                let (now, name) = (self.now, u.name());
                self.known.remove(&name);
                self.revoked.remove(&name);
                let out = self
                    .audited
                    .remove_user(now, &name)
                    .unwrap_or_else(|e| panic!("audit failed after remove_user: {e}"));
                self.twin.remove_user(now, &name);
                self.check(&out, None);
            }
            Op::AddUser(u) => {
                if u.addable() {
                    let name = u.name();
                    self.known.insert(name.clone());
                    self.revoked.remove(&name);
                    self.admin("add_user", |h| h.add_user(name.clone()));
                }
            }
            Op::Revoke(u) => {
                let name = u.name();
                if self.known.contains(&name) {
                    let generation = if self.revoked.insert(name.clone()) {
                        1
                    } else {
                        self.revoked.remove(&name);
                        0
                    };
                    self.admin("add_user", |h| h.add_user((name.clone(), generation)));
                    assert!(
                        !self.audited.hub.online_users().any(|o| *o == name),
                        "{name} is online after a revocation"
                    );
                }
            }
            Op::Shutdown => {
                let now = self.now;
                self.admin("shutdown", |h| h.shutdown(now));
                assert_eq!(
                    self.audited.hub.session_count(),
                    0,
                    "shutdown left sessions"
                );
            }
            Op::WallClock { drift } => {
                let (now, elapsed) = (self.now, (self.now - self.start).as_secs());
                let unix = (UNIX0 + elapsed).saturating_add_signed(i64::from(*drift));
                self.admin("set_wall_clock", |h| h.set_wall_clock(now, unix));
            }
            Op::LoadGroup {
                owner,
                name,
                members,
            } => {
                if self.audited.hub.session_count() == 0 {
                    let group = GroupId {
                        owner: owner.name(),
                        name: name.name(),
                    };
                    let members = names(members);
                    self.admin("set_group", |h| h.set_group(group.clone(), members.clone()));
                }
            }
        }
    }

    /// Every connection goes away; nothing may outlive them.
    fn finish(&mut self) {
        for c in 0..CONNS {
            self.step(HubInput::Closed(ConnId(c)));
        }
        let hub = &self.audited.hub;
        assert_eq!(hub.session_count(), 0, "sessions outlive their connections");
        assert_eq!(
            hub.online_users().count(),
            0,
            "users online with no session"
        );
        assert_eq!(hub.timer_count(), 0, "timers outlive every session");
        assert_eq!(hub.attempt_count(), 0, "attempts outlive every session");
        assert_eq!(hub.poll_timeout(), None, "a timeout with nothing to time");
    }
}

fuzz_target!(|ops: Vec<Op>| {
    let mut driver = Driver::new();
    for op in &ops {
        driver.run(op);
    }
    driver.finish();
});
