//! A deterministic simulation of the sync protocol between `Sync` machines:
//! one owner (bob) and three members (carol on two devices, dave, erin),
//! messages delivered in order through an in-memory network, transfers
//! delivered whole (the transfer machine's own simulations cover loss and
//! resume), group folders as in-memory trees run by `sync_model`.
//!
//! Covered: a first sync; renames moving content without fetching it;
//! deletions, edits and additions on both sides; a member offline while the
//! owner changes; a member restarting in the middle of a round; a
//! non-member refused with ENOTMEMBER; a removed member stopped at once;
//! and the same run twice giving the same trace.

mod sync_model;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use brume_proto::ErrorCode;
use brume_proto::signal::{Address, DeviceName, GroupId, GroupName, PeerId, UserName};
use brume_proto::sync::machine::BATCHES_AT_ONCE;
use brume_proto::sync::manifest::STAGING_DIR;
use brume_proto::sync::{FollowState, Manifest, Plan, Step, Sync, SyncOutput};
use brume_proto::transfer::TransferKey;
use brume_proto::transfer::{Entry, EntryKind, to_hex};
use sync_model::{Item, Tree, apply, hash_of, is_kept_copy, manifest, put, remove};

fn user(s: &str) -> UserName {
    UserName::new(s).unwrap()
}

fn parts(s: &str) -> Vec<String> {
    s.split('/').map(String::from).collect()
}

/// One device: its machine, its group folder, its saved base.
struct Device {
    id: PeerId,
    sync: Sync,
    tree: Tree,
    base: Manifest,
    online: bool,
    /// Drop the next batch transfer and restart before it lands.
    crash_before_transfer: bool,
    synced: usize,
    refused: Option<ErrorCode>,
}

enum Packet {
    Message(String),
    Transfer {
        name: String,
        files: Vec<(Vec<String>, Vec<u8>)>,
    },
}

struct World {
    devices: Vec<Device>,
    group: GroupId,
    net: VecDeque<(usize, usize, Packet)>,
    /// Bytes the owner sent in transfers.
    sent_bytes: u64,
    /// Batches the owner is sending that have not landed yet, and the most
    /// there ever were.
    batches_out: usize,
    most_batches_out: usize,
    trace: Vec<String>,
    next_key: u64,
    members: Vec<&'static str>,
}

const OWNER: usize = 0;

impl World {
    fn new(owner_tree: Tree) -> Self {
        let mk = |u: &str, d: &str| Device {
            id: PeerId::new(user(u), DeviceName::new(d).unwrap()),
            sync: Sync::new(user(u)),
            tree: Tree::new(),
            base: Manifest::new(),
            online: true,
            crash_before_transfer: false,
            synced: 0,
            refused: None,
        };
        let mut devices = vec![
            mk("bob", "desk"),
            mk("carol", "laptop"),
            mk("carol", "phone"),
            mk("dave", "pc"),
            mk("erin", "pc"),
            mk("eve", "pc"),
        ];
        devices[OWNER].tree = owner_tree;
        let group = GroupId {
            owner: user("bob"),
            name: GroupName::new("photos").unwrap(),
        };
        let mut w = World {
            devices,
            group,
            net: VecDeque::new(),
            sent_bytes: 0,
            batches_out: 0,
            most_batches_out: 0,
            trace: Vec::new(),
            next_key: 0,
            members: Vec::new(),
        };
        w.publish(&["carol", "dave", "erin"]);
        w
    }

    fn publish(&mut self, members: &[&'static str]) {
        self.members = members.to_vec();
        let members: BTreeSet<UserName> = members.iter().map(|m| user(m)).collect();
        let m = manifest(&self.devices[OWNER].tree, true);
        let name = self.group.name.clone();
        self.devices[OWNER].sync.own(name, m, members);
        self.run();
    }

    /// The owner changed its folder: it rescans (as the watcher would).
    fn owner_edit(&mut self, f: impl FnOnce(&mut Tree)) {
        f(&mut self.devices[OWNER].tree);
        let members = self.members.clone();
        self.publish(&members);
    }

    /// A member's daemon scans and follows (at start, or after a change).
    fn follow(&mut self, i: usize) {
        let d = &mut self.devices[i];
        let m = manifest(&d.tree, false);
        d.sync.follow(self.group.clone(), m, d.base.clone());
        self.run();
    }

    fn index_of(&self, addr: &Address) -> Option<usize> {
        self.devices.iter().position(|d| match addr {
            Address::Device(p) => *p == d.id,
            Address::User(u) => d.id.user == *u && d.online, // the owner has one device
        })
    }

    fn set_online(&mut self, i: usize, online: bool) {
        self.devices[i].online = online;
        if !online {
            let owner = Address::Device(self.devices[OWNER].id.clone());
            let me = Address::Device(self.devices[i].id.clone());
            self.devices[i].sync.peer_closed(&owner);
            self.devices[OWNER].sync.peer_closed(&me);
        }
    }

    fn restart(&mut self, i: usize) {
        let d = &mut self.devices[i];
        d.sync = Sync::new(d.id.user.clone());
        self.trace.push(format!("{} restarts", d.id));
    }

    /// Runs every machine's outputs and delivers packets until all is quiet.
    fn run(&mut self) {
        for _ in 0..10_000 {
            let mut busy = false;
            for i in 0..self.devices.len() {
                while let Some(out) = self.devices[i].sync.poll_output() {
                    busy = true;
                    self.execute(i, out);
                }
            }
            if let Some((from, to, packet)) = self.net.pop_front() {
                busy = true;
                self.deliver(from, to, packet);
            }
            if !busy {
                return;
            }
        }
        panic!("the world never went quiet");
    }

    fn execute(&mut self, i: usize, out: SyncOutput) {
        let who = self.devices[i].id.to_string();
        match out {
            SyncOutput::Send { peer, data } => {
                self.trace.push(format!("{who} → {peer}: {data}"));
                if let Some(j) = self.index_of(&peer)
                    && self.devices[i].online
                    && self.devices[j].online
                {
                    self.net.push_back((i, j, Packet::Message(data)));
                }
            }
            SyncOutput::Connect { owner, .. } => {
                self.trace.push(format!("{who} connects to {owner}"));
                if self.devices[i].online && self.devices[OWNER].online {
                    assert_eq!(owner, self.devices[OWNER].id.user);
                    let owner = Address::Device(self.devices[OWNER].id.clone());
                    self.devices[i].sync.peer_opened(&owner);
                }
            }
            SyncOutput::SendFiles {
                peer, name, files, ..
            } => {
                let tree = &self.devices[OWNER].tree;
                let files: Vec<_> = files
                    .iter()
                    .map(|f| {
                        let p = sync_model::parts(&f.path);
                        let Some(Item::File(data)) = tree.get(&p) else {
                            panic!("asked for {}", f.path)
                        };
                        assert_eq!(
                            Some(hash_of(data)),
                            f.node.hash(),
                            "the owner sends what it listed"
                        );
                        (p, data.clone())
                    })
                    .collect();
                self.sent_bytes += files.iter().map(|(_, d)| d.len() as u64).sum::<u64>();
                self.trace.push(format!(
                    "{who} sends {name} ({} files) to {peer}",
                    files.len()
                ));
                if let Some(j) = self.index_of(&peer) {
                    self.batches_out += 1;
                    self.most_batches_out = self.most_batches_out.max(self.batches_out);
                    self.net.push_back((i, j, Packet::Transfer { name, files }));
                }
            }
            SyncOutput::Run { steps, .. } => {
                self.trace.push(format!("{who} runs {} steps", steps.len()));
                let owner_tree = self.devices[OWNER].tree.clone();
                apply(&Plan { steps }, &mut self.devices[i].tree, &owner_tree);
            }
            SyncOutput::Accept { .. } => unreachable!("accepts are handled at delivery"),
            SyncOutput::Install {
                from,
                fetch,
                verified,
                ..
            } => {
                assert!(verified, "{who}: {from} arrived as offered");
                let Step::Fetch {
                    path,
                    hash,
                    replaces,
                    ..
                } = fetch
                else {
                    panic!("{fetch:?}")
                };
                let tree = &mut self.devices[i].tree;
                let (from, to) = (parts(&from), sync_model::parts(&path));
                let received = match tree.get(&from) {
                    Some(Item::File(d)) if hash_of(d) == hash => d.clone(),
                    other => panic!("{who}: {from:?} holds {other:?}"),
                };
                let free = match tree.get(&to) {
                    None => true,
                    Some(Item::File(d)) => Some(hash_of(d)) == replaces || hash_of(d) == hash,
                    Some(_) => false,
                };
                assert!(free, "{who}: {to:?} is not free to install");
                tree.remove(&from);
                tree.insert(to, Item::File(received));
            }
            SyncOutput::Synced { base, .. } => {
                self.trace.push(format!("{who} synced"));
                let d = &mut self.devices[i];
                remove(&mut d.tree, &[STAGING_DIR.to_owned()]);
                d.base = base;
                d.synced += 1;
            }
            SyncOutput::Refused { code, message, .. } => {
                self.trace
                    .push(format!("{who} refused: {code:?} {message}"));
                self.devices[i].refused = Some(code);
            }
            SyncOutput::Rescan { group } => {
                let d = &mut self.devices[i];
                let m = manifest(&d.tree, false);
                d.sync.follow(group, m, d.base.clone());
            }
            SyncOutput::Problem { peer, text } => panic!("{who}: problem with {peer}: {text}"),
            SyncOutput::Failed { group, text } => panic!("{who}: {group} failed: {text}"),
        }
    }

    fn deliver(&mut self, from: usize, to: usize, packet: Packet) {
        let from_addr = Address::Device(self.devices[from].id.clone());
        match packet {
            Packet::Message(data) => self.devices[to]
                .sync
                .handle_message(&from_addr, data.as_bytes()),
            Packet::Transfer { name, files } => {
                self.batches_out -= 1;
                self.next_key += 1;
                let key = TransferKey {
                    peer: from_addr,
                    id: self.next_key,
                    outgoing: false,
                };
                let d = &mut self.devices[to];
                let entries: Vec<Entry> = files
                    .iter()
                    .map(|(p, data)| Entry {
                        path: format!("{name}/{}", p.join("/")),
                        kind: EntryKind::File,
                        size: data.len() as u64,
                        mtime: 0,
                        mime: None,
                        hash: Some(to_hex(&hash_of(data))),
                        executable: false,
                    })
                    .collect();
                assert!(
                    d.sync.handle_offer(&key, &name, &entries),
                    "{} did not take {name}",
                    d.id
                );
                let Some(SyncOutput::Accept { dir, .. }) = d.sync.poll_output() else {
                    panic!("no accept")
                };
                if d.crash_before_transfer {
                    d.crash_before_transfer = false;
                    return self.restart(to);
                }
                for (p, data) in files {
                    let mut at = vec![dir.clone(), name.clone()];
                    at.extend(p);
                    put(&mut d.tree, &at, Item::File(data));
                }
                let owner = self.devices[from].id.user.clone();
                self.devices[to].sync.handle_transfer_done(&owner, &name);
            }
        }
    }

    /// The member's tree is the owner's, plus kept copies.
    fn assert_mirrors(&self, i: usize) {
        let (owner, d) = (&self.devices[OWNER].tree, &self.devices[i]);
        for (p, item) in owner {
            assert_eq!(d.tree.get(p), Some(item), "{}: {p:?}", d.id);
        }
        for p in d.tree.keys().filter(|p| !owner.contains_key(*p)) {
            assert!(
                d.tree.keys().any(|q| q.starts_with(p) && is_kept_copy(q)),
                "{}: {p:?} is extra",
                d.id
            );
        }
        assert_eq!(
            d.sync.follow_state(&self.group),
            Some(&FollowState::Idle),
            "{}",
            d.id
        );
    }

    fn file(&self, i: usize, p: &str) -> Option<Vec<u8>> {
        match self.devices[i].tree.get(&parts(p)) {
            Some(Item::File(d)) => Some(d.clone()),
            _ => None,
        }
    }
}

fn owner_tree() -> Tree {
    let mut t = Tree::new();
    for (p, c) in [
        ("2024/beach.jpg", "beach"),
        ("2024/city.jpg", "city"),
        ("2024/trip/day1.txt", "day one"),
        ("notes.txt", "notes v1"),
        ("big.bin", "a large file, version 1"),
    ] {
        put(&mut t, &parts(p), Item::File(c.as_bytes().to_vec()));
    }
    t
}

const CAROL: usize = 1;
const CAROL_PHONE: usize = 2;
const DAVE: usize = 3;
const ERIN: usize = 4;
const EVE: usize = 5;
const MEMBERS: [usize; 4] = [CAROL, CAROL_PHONE, DAVE, ERIN];

fn scenario() -> World {
    let mut w = World::new(owner_tree());
    let eve_before = w.devices[EVE].tree.clone();
    // First sync everywhere.
    for i in MEMBERS {
        w.follow(i);
        w.assert_mirrors(i);
    }
    let first = w.sent_bytes;
    assert_eq!(
        first,
        4 * owner_tree()
            .values()
            .map(|i| match i {
                Item::File(d) => d.len() as u64,
                _ => 0,
            })
            .sum::<u64>()
    );

    // Dave goes offline; the owner renames, deletes, edits and adds.
    w.set_online(DAVE, false);
    let (b, d) = (w.file(DAVE, "notes.txt"), w.file(DAVE, "2024/city.jpg"));
    assert!(b.is_some() && d.is_some());
    put(
        &mut w.devices[DAVE].tree,
        &parts("notes.txt"),
        Item::File(b"dave's notes".to_vec()),
    );
    let sent = w.sent_bytes;
    w.owner_edit(|t| {
        let beach = t.remove(&parts("2024/beach.jpg")).unwrap();
        put(t, &parts("archive/2024/beach-renamed.jpg"), beach);
        remove(t, &parts("2024/city.jpg"));
        put(t, &parts("notes.txt"), Item::File(b"notes v2".to_vec()));
        put(t, &parts("2025/new/first.txt"), Item::File(b"new".to_vec()));
    });
    for i in [CAROL, CAROL_PHONE, ERIN] {
        w.assert_mirrors(i);
    }
    // Only the edit and the addition moved, to three devices: the rename did not.
    assert_eq!(
        w.sent_bytes - sent,
        3 * (b"notes v2".len() + b"new".len()) as u64
    );

    // Members change things: carol's laptop edits and deletes, erin adds.
    put(
        &mut w.devices[CAROL].tree,
        &parts("2024/trip/day1.txt"),
        Item::File(b"carol's day".to_vec()),
    );
    remove(&mut w.devices[CAROL].tree, &parts("big.bin"));
    put(
        &mut w.devices[ERIN].tree,
        &parts("2024/mine.txt"),
        Item::File(b"erin's".to_vec()),
    );
    w.follow(CAROL);
    w.follow(ERIN);
    w.assert_mirrors(CAROL);
    w.assert_mirrors(ERIN);
    assert_eq!(
        w.file(CAROL, "2024/trip/day1-conflict-sync.txt").as_deref(),
        Some(&b"carol's day"[..])
    );
    assert_eq!(
        w.file(ERIN, "2024/mine-conflict-sync.txt").as_deref(),
        Some(&b"erin's"[..])
    );

    // The owner changes big.bin; carol's phone restarts in the middle of
    // that round (after its local steps, before the batch lands).
    w.devices[CAROL_PHONE].crash_before_transfer = true;
    w.owner_edit(|t| {
        put(
            t,
            &parts("big.bin"),
            Item::File(b"a large file, version 2".to_vec()),
        )
    });
    w.assert_mirrors(CAROL);
    assert_ne!(
        w.file(CAROL_PHONE, "big.bin").as_deref(),
        Some(&b"a large file, version 2"[..])
    );
    let phone = &w.devices[CAROL_PHONE];
    assert_eq!(
        phone.sync.follow_state(&w.group),
        None,
        "a fresh machine knows nothing yet"
    );
    let bob = Address::Device(w.devices[OWNER].id.clone());
    w.devices[CAROL_PHONE].sync.peer_opened(&bob);
    w.follow(CAROL_PHONE);
    w.assert_mirrors(CAROL_PHONE);

    // Dave comes back: he catches up, his offline edit kept.
    w.set_online(DAVE, true);
    w.follow(DAVE);
    w.assert_mirrors(DAVE);
    assert_eq!(
        w.file(DAVE, "notes-conflict-update-change.txt").as_deref(),
        Some(&b"dave's notes"[..])
    );
    assert_eq!(w.file(DAVE, "2024/city.jpg"), None);

    // A non-member asks: refused, nothing changes.
    w.follow(EVE);
    assert_eq!(w.devices[EVE].refused, Some(ErrorCode::NotMember));
    assert_eq!(w.devices[EVE].tree, eve_before);

    // Erin is removed: she hears it at once and no longer syncs.
    w.publish(&["carol", "dave"]);
    assert_eq!(w.devices[ERIN].refused, Some(ErrorCode::NotMember));
    let erin_before = w.devices[ERIN].tree.clone();
    w.owner_edit(|t| put(t, &parts("after.txt"), Item::File(b"x".to_vec())));
    w.follow(ERIN);
    assert_eq!(w.devices[ERIN].tree, erin_before);
    assert_eq!(
        w.devices[ERIN].sync.follow_state(&w.group),
        Some(&FollowState::Refused(ErrorCode::NotMember))
    );
    w
}

#[test]
fn an_owner_and_three_members_stay_in_step() {
    let w = scenario();
    for i in MEMBERS {
        assert!(
            w.devices[i].synced >= 3,
            "{} synced {}",
            w.devices[i].id,
            w.devices[i].synced
        );
    }
    assert_eq!(
        w.devices[OWNER].tree.get(&parts("notes.txt")),
        Some(&Item::File(b"notes v2".to_vec()))
    );
}

#[test]
fn a_member_asks_for_a_few_batches_at_a_time_and_the_next_as_each_lands() {
    // 3,600 small files: four batches, more than are asked for at once.
    let mut tree = Tree::new();
    for i in 0..3600 {
        let p = parts(&format!("d{}/f{i:04}.txt", i % 36));
        put(&mut tree, &p, Item::File(format!("file {i}").into_bytes()));
    }
    let mut w = World::new(tree);
    w.follow(CAROL);
    let batches = w
        .trace
        .iter()
        .filter(|t| t.contains(" sends sync-"))
        .count();
    assert_eq!(batches, 4, "{:?}", w.trace);
    assert_eq!(w.most_batches_out, BATCHES_AT_ONCE);
    assert_eq!(w.devices[CAROL].synced, 1);
    w.assert_mirrors(CAROL);
}

#[test]
fn the_same_run_gives_the_same_trace() {
    assert_eq!(scenario().trace, scenario().trace);
}

#[test]
fn a_hostile_owner_message_is_reported_not_obeyed() {
    let mut s = Sync::new(user("carol"));
    let group = GroupId {
        owner: user("bob"),
        name: GroupName::new("photos").unwrap(),
    };
    s.follow(group.clone(), Manifest::new(), Manifest::new());
    s.peer_opened(&Address::User(user("bob")));
    while s.poll_output().is_some() {}
    let bob = Address::User(user("bob"));
    let evil = br#"{"op":"manifest","group":"photos","round":1,"entries":[{"path":"../../.bashrc","kind":"file","size":1,"hash":"00"}],"last":true}"#;
    s.handle_message(&bob, evil);
    assert!(matches!(s.poll_output(), Some(SyncOutput::Problem { .. })));
    let orphan = format!(
        r#"{{"op":"manifest","group":"photos","round":1,"entries":[{{"path":"a/b","kind":"file","size":1,"hash":"{}"}}],"last":true}}"#,
        "00".repeat(32)
    );
    s.handle_message(&bob, orphan.as_bytes());
    assert!(matches!(s.poll_output(), Some(SyncOutput::Problem { .. })));
    assert_eq!(s.poll_output(), None, "nothing to run, nothing fetched");
    // Another user's manifest for bob's group is not bob's.
    let mallory = Address::User(user("mallory"));
    s.handle_message(
        &mallory,
        br#"{"op":"manifest","group":"photos","round":1,"entries":[],"last":true}"#,
    );
    assert_eq!(s.poll_output(), None);
    let _ = BTreeMap::<u8, u8>::new();
}

/// The owner's messages to `peer` in the trace from `from` on.
fn owner_messages_to(w: &World, from: usize, peer: usize) -> Vec<String> {
    let prefix = format!("{} → {}: ", w.devices[OWNER].id, w.devices[peer].id);
    w.trace[from..]
        .iter()
        .filter_map(|t| t.strip_prefix(&prefix).map(str::to_owned))
        .collect()
}

#[test]
fn an_owner_edit_sends_members_in_step_only_the_change() {
    let mut w = World::new(owner_tree());
    for i in MEMBERS {
        w.follow(i);
        w.assert_mirrors(i);
    }
    let first = owner_messages_to(&w, 0, CAROL);
    assert!(first.iter().any(|m| m.contains(r#""op":"manifest""#)));
    let mark = w.trace.len();
    w.owner_edit(|t| put(t, &parts("notes.txt"), Item::File(b"notes v3".to_vec())));
    for i in MEMBERS {
        w.assert_mirrors(i);
    }
    let then = owner_messages_to(&w, mark, CAROL);
    let diffs: Vec<&String> = then
        .iter()
        .filter(|m| m.contains(r#""op":"diff""#))
        .collect();
    assert_eq!(diffs.len(), 1, "{then:?}");
    assert!(diffs[0].contains(r#""path":"notes.txt""#) && diffs[0].len() < 400);
    assert!(!then.iter().any(|m| m.contains(r#""op":"manifest""#)));

    // Two versions behind (offline through two edits): still a diff of both.
    w.set_online(DAVE, false);
    w.owner_edit(|t| put(t, &parts("one.txt"), Item::File(b"1".to_vec())));
    w.owner_edit(|t| remove(t, &parts("one.txt")));
    w.owner_edit(|t| put(t, &parts("two.txt"), Item::File(b"2".to_vec())));
    w.set_online(DAVE, true);
    let mark = w.trace.len();
    w.follow(DAVE);
    w.assert_mirrors(DAVE);
    let then = owner_messages_to(&w, mark, DAVE);
    assert!(
        then.iter().any(|m| m.contains(r#""op":"diff""#)),
        "{then:?}"
    );
    assert!(!then.iter().any(|m| m.contains(r#""op":"manifest""#)));

    // A member that lost its base asks for, and gets, the whole manifest.
    w.devices[ERIN].base = Manifest::new();
    let mark = w.trace.len();
    w.follow(ERIN);
    w.assert_mirrors(ERIN);
    let then = owner_messages_to(&w, mark, ERIN);
    assert!(
        then.iter().any(|m| m.contains(r#""op":"manifest""#)),
        "{then:?}"
    );

    // The owner restarts with no history: members in step with its tree
    // still get diffs of the next edit (a version is named by its content).
    w.restart(OWNER);
    let members = w.members.clone();
    w.publish(&members);
    let bob = Address::Device(w.devices[OWNER].id.clone());
    for i in MEMBERS {
        let me = Address::Device(w.devices[i].id.clone());
        w.devices[i].sync.peer_closed(&bob);
        w.devices[i].sync.peer_opened(&bob);
        w.devices[OWNER].sync.peer_opened(&me);
        w.follow(i);
    }
    let mark = w.trace.len();
    w.owner_edit(|t| put(t, &parts("after-restart.txt"), Item::File(b"r".to_vec())));
    for i in MEMBERS {
        w.assert_mirrors(i);
    }
    let then = owner_messages_to(&w, mark, CAROL);
    assert!(
        then.iter().any(|m| m.contains(r#""op":"diff""#)),
        "{then:?}"
    );
    assert!(!then.iter().any(|m| m.contains(r#""op":"manifest""#)));
}

#[test]
fn a_diff_that_does_not_lead_to_the_owners_version_is_not_obeyed() {
    use brume_proto::sync::diff::digest;
    use brume_proto::sync::{Node, SyncPath};
    let bob = Address::User(user("bob"));
    let group = GroupId {
        owner: user("bob"),
        name: GroupName::new("photos").unwrap(),
    };
    let base = Manifest::from_entries([(SyncPath::parse("a").unwrap(), Node::Dir)]).unwrap();
    let mut s = Sync::new(user("carol"));
    s.peer_opened(&bob);
    s.follow(group.clone(), base.clone(), base.clone());
    let since = brume_proto::transfer::to_hex(&digest(&base));
    let Some(SyncOutput::Send { data, .. }) = s.poll_output() else {
        panic!("no want")
    };
    assert_eq!(
        data,
        format!(r#"{{"op":"want","group":"photos","since":"{since}"}}"#)
    );
    // Claims to lead to the empty manifest, but adds a file.
    let wrong = format!(
        r#"{{"op":"diff","group":"photos","round":1,"since":"{since}","digest":"{}","changes":[{{"path":"x","kind":"file","size":1,"hash":"{}"}}],"last":true}}"#,
        brume_proto::transfer::to_hex(&digest(&Manifest::new())),
        "00".repeat(32)
    );
    s.handle_message(&bob, wrong.as_bytes());
    assert!(matches!(s.poll_output(), Some(SyncOutput::Problem { .. })));
    let Some(SyncOutput::Send { data, .. }) = s.poll_output() else {
        panic!("no second want")
    };
    assert_eq!(data, r#"{"op":"want","group":"photos"}"#);
    assert_eq!(s.poll_output(), None, "nothing run, nothing fetched");
}
