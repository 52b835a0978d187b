//! `Sync`: the sync protocol between members and owners, sans-IO.
//!
//! # Contract
//!
//! The driver (or the `Node` that owns it) keeps the machine told:
//! - [`Sync::own`] for each group this user owns: its manifest, scanned, and
//!   its members as the hub holds them (the hub's `members` answer to the
//!   owner's publish). Call again after every change; members that asked
//!   hear `changed`, removed members hear `refused` at once.
//! - [`Sync::follow`] for each group this user mirrors (a member, or the
//!   owner's other device): the member's manifest, scanned, and `base`, the
//!   owner's manifest at its last finished sync.
//! - [`Sync::peer_opened`] / [`Sync::peer_closed`] as connections come and go;
//!   [`Sync::handle_message`] for every application message of type
//!   [`MESSAGE_TYPE`](super::wire::MESSAGE_TYPE);
//!   [`Sync::handle_offer`], [`Sync::handle_transfer_done`] and
//!   [`Sync::handle_transfer_failed`] for transfers from an owner.
//!
//! Then drain [`Sync::poll_output`] until `None`, running each output in
//! order (a `Run`'s steps before a later `Install`). Nothing a peer sends is
//! an error returned to the caller: a bad message is reported as
//! [`SyncOutput::Problem`] and dropped.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use super::diff::{History, apply, diff, digest};
use super::manifest::{Manifest, Node, STAGING_DIR};
use super::path::SyncPath;
use super::plan::{Step, plan};
use super::wire::{DiffEntry, SyncMsg, WireEntry, decode, encode, pieces};
use crate::error::ErrorCode;
use crate::signal::{Address, GroupId, GroupName, UserName};
use crate::transfer::names::temp_name;
use crate::transfer::{Entry, Hash, TransferKey, from_hex, to_hex};

/// At most this many files in one fetch (one transfer).
pub const FILES_PER_BATCH: usize = 4096;

/// A member asks for batches of at most this many files, or this many
/// bytes (a batch holds at least one file): the first starts once its few
/// files are hashed, and the owner hashes the next while it sends.
pub const BATCH_FILES: usize = 1024;
/// See [`BATCH_FILES`].
pub const BATCH_BYTES: u64 = 64 << 20;
/// A member asks for this many batches at first, and for the next as each
/// arrives. The owner sends its transfers to one peer in turn anyway, and
/// each batch offered holds its entries and block hashes in the member's
/// memory until it lands: asking for every batch of 10,000 files at once
/// made the offers the largest part of the member's peak heap.
pub const BATCHES_AT_ONCE: usize = 3;

/// At most this many fetch lists from one peer being received at once.
const MAX_OPEN_LISTS: usize = 64;

/// What the machine asks of its driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncOutput {
    /// Send `data` as an application message of type `brume-sync` to `peer`.
    Send {
        /// To whom.
        peer: Address,
        /// The JSON text.
        data: String,
    },
    /// Connect to `owner` (scoped to `group`, so the hub refuses a
    /// non-member with `ENOTMEMBER`), then call [`Sync::peer_opened`].
    Connect {
        /// The owner.
        owner: UserName,
        /// The group asked for.
        group: GroupId,
    },
    /// Owner: send these files of `group` to `peer` as one transfer, a
    /// folder `name` holding each file at its path.
    SendFiles {
        /// To whom.
        peer: Address,
        /// Our group.
        group: GroupName,
        /// The transfer's name.
        name: String,
        /// The files, in path order.
        files: Vec<WireEntry>,
    },
    /// Member: run these steps in the group folder, in order.
    Run {
        /// Whose group folder.
        group: GroupId,
        /// The plan's steps except the fetches.
        steps: Vec<Step>,
    },
    /// Member: accept the transfer into the group folder's staging folder,
    /// after copying each seed's file to where the transfer keeps its
    /// partial file, so that only the blocks that changed are sent.
    Accept {
        /// The transfer.
        key: TransferKey,
        /// Whose group folder.
        group: GroupId,
        /// The folder to accept into, relative to the group folder.
        dir: String,
        /// The member's older versions of large files this batch replaces.
        seeds: Vec<Seed>,
    },
    /// Member: move a received file into place: `from` (relative to the
    /// group folder) to the fetch's path, if its content is the fetch's
    /// hash and the path holds nothing or the fetch's `replaces`.
    Install {
        /// Whose group folder.
        group: GroupId,
        /// Where the transfer put it.
        from: String,
        /// The fetch step.
        fetch: Step,
        /// The transfer offered it with the fetch's hash and verified every
        /// block against it: its content need not be read again.
        verified: bool,
    },
    /// Member: the group folder matches the owner's manifest; keep it as
    /// the new base.
    Synced {
        /// Which group.
        group: GroupId,
        /// The new base.
        base: Manifest,
    },
    /// Member: the owner refused (`ENOTMEMBER`); nothing changes here.
    Refused {
        /// Which group.
        group: GroupId,
        /// The code.
        code: ErrorCode,
        /// The owner's words.
        message: String,
    },
    /// Member: the owner's group changed (or changed during the last
    /// round): scan the group folder and call [`Sync::follow`] again.
    Rescan {
        /// Which group.
        group: GroupId,
    },
    /// Member: a batch failed (cancelled, refused by the disk): the round
    /// is given up with nothing changed; call [`Sync::follow`] again later.
    Failed {
        /// Which group.
        group: GroupId,
        /// What happened, for the log.
        text: String,
    },
    /// Something for the log: a bad message, a call that failed.
    Problem {
        /// About whom.
        peer: Address,
        /// What.
        text: String,
    },
}

/// A member's older version of a file a batch replaces, to copy to the
/// transfer's partial file before accepting: the receiver checks every
/// block of a partial against the offer's block hashes and asks only for
/// the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seed {
    /// The file in the group folder, if it still holds `hash`.
    pub from: SyncPath,
    /// The older content the fetch replaces.
    pub hash: Hash,
    /// Where to copy it, relative to the group folder.
    pub to: String,
}

/// Files at least this large are seeded from the version they replace.
pub const SEED_MIN_BYTES: u64 = 1 << 20;

/// Where a followed group stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FollowState {
    /// In step with the last manifest heard (or not yet asked).
    Idle,
    /// Waiting for a connection to the owner.
    Connecting,
    /// `want` sent; manifest pieces arriving.
    Asking,
    /// Fetching the files of round `round`: batches still due.
    Fetching {
        /// The owner's round.
        round: u64,
        /// Batches not yet received.
        due: usize,
    },
    /// Refused by the owner.
    Refused(ErrorCode),
}

#[derive(Debug)]
struct Followed {
    member: Manifest,
    base: Manifest,
    state: FollowState,
    /// Pieces of the manifest (or of the diff) being received, and its round.
    pieces: Vec<WireEntry>,
    changes: Vec<DiffEntry>,
    round: u64,
    /// The digest of `base` sent with the last `want`, if any.
    since: Option<Hash>,
    /// The owner's manifest being fetched towards.
    target: Manifest,
    /// Each batch's fetch steps, by batch number.
    batches: BTreeMap<u64, Vec<Step>>,
    /// The content hashes each batch's transfer offered, by path in it.
    offered: BTreeMap<u64, BTreeMap<String, Hash>>,
    /// The owner's device the round fetches from, and the next batch to
    /// ask it for (see [`BATCHES_AT_ONCE`]).
    fetch_from: Option<Address>,
    next_ask: u64,
    /// The owner said `changed` while a round was under way.
    again: bool,
}

impl Followed {
    /// A round is over: the manifests it planned with are not kept (the
    /// next `follow` brings them again), so an idle member holds no tree.
    fn forget_trees(&mut self) {
        self.member = Manifest::new();
        self.base = Manifest::new();
    }
}

#[derive(Debug)]
struct Owned {
    manifest: Manifest,
    /// The digest of `manifest`, and how older versions became it.
    digest: Hash,
    history: History,
    members: BTreeSet<UserName>,
    /// Peers that asked for the group and hear `changed`.
    watchers: BTreeSet<Address>,
    /// Fetch lists arriving in pieces: (peer, round, batch) → files so far.
    fetching: BTreeMap<(Address, u64, u64), Vec<WireEntry>>,
}

/// The sync machine of one user's client. See the module documentation.
#[derive(Debug)]
pub struct Sync {
    me: UserName,
    owned: BTreeMap<GroupName, Owned>,
    followed: BTreeMap<GroupId, Followed>,
    /// Open connections, by user: the address to send to.
    open: BTreeMap<UserName, Address>,
    round: u64,
    out: VecDeque<SyncOutput>,
}

impl Sync {
    /// The machine of user `me`.
    pub fn new(me: UserName) -> Self {
        Self {
            me,
            owned: BTreeMap::new(),
            followed: BTreeMap::new(),
            open: BTreeMap::new(),
            round: 0,
            out: VecDeque::new(),
        }
    }

    /// Where a followed group stands.
    pub fn follow_state(&self, group: &GroupId) -> Option<&FollowState> {
        self.followed.get(group).map(|f| &f.state)
    }

    /// The next thing to do.
    #[must_use]
    pub fn poll_output(&mut self) -> Option<SyncOutput> {
        self.out.pop_front()
    }

    fn send(&mut self, peer: Address, msg: &SyncMsg) {
        self.out.push_back(SyncOutput::Send {
            peer,
            data: encode(msg),
        });
    }

    // ----- the owner's side -----

    /// A group we own: its manifest and its members as the hub holds them.
    pub fn own(&mut self, group: GroupName, manifest: Manifest, members: BTreeSet<UserName>) {
        let fresh = !self.owned.contains_key(&group);
        let entry = self.owned.entry(group.clone()).or_insert_with(|| Owned {
            manifest: Manifest::new(),
            digest: digest(&Manifest::new()),
            history: History::default(),
            members: BTreeSet::new(),
            watchers: BTreeSet::new(),
            fetching: BTreeMap::new(),
        });
        let changed = entry.manifest != manifest;
        if changed {
            // A first manifest has no older version a member could hold.
            if !fresh {
                let old = std::mem::take(&mut entry.manifest);
                entry.history.push(entry.digest, diff(&old, &manifest));
            }
            entry.digest = digest(&manifest);
        }
        entry.manifest = manifest;
        entry.members = members;
        let (me, members) = (self.me.clone(), entry.members.clone());
        let watchers = std::mem::take(&mut entry.watchers);
        let (stay, gone): (BTreeSet<_>, BTreeSet<_>) = watchers
            .into_iter()
            .partition(|w| *w.user() == me || members.contains(w.user()));
        if let Some(o) = self.owned.get_mut(&group) {
            o.watchers = stay.clone();
        }
        for peer in gone {
            let msg = refusal(&group, &self.me, peer.user());
            self.send(peer, &msg);
        }
        if changed {
            for peer in stay {
                self.send(
                    peer,
                    &SyncMsg::Changed {
                        group: group.clone(),
                    },
                );
            }
        }
    }

    /// The manifest last given for a group we own.
    pub fn owned_manifest(&self, group: &GroupName) -> Option<&Manifest> {
        self.owned.get(group).map(|o| &o.manifest)
    }

    /// Stops owning a group (its folder is gone).
    pub fn disown(&mut self, group: &GroupName) {
        self.owned.remove(group);
    }

    fn owner_message(&mut self, peer: &Address, msg: SyncMsg) {
        let group = match &msg {
            SyncMsg::Want { group, .. } | SyncMsg::Fetch { group, .. } => group.clone(),
            _ => return,
        };
        let allowed = self
            .owned
            .get(&group)
            .is_some_and(|o| *peer.user() == self.me || o.members.contains(peer.user()));
        if !allowed {
            let msg = refusal(&group, &self.me, peer.user());
            self.send(peer.clone(), &msg);
            return;
        }
        let Some(owned) = self.owned.get_mut(&group) else {
            return;
        };
        match msg {
            SyncMsg::Want { since, .. } => {
                owned.watchers.insert(peer.clone());
                let changes = since.and_then(|since| {
                    if since == owned.digest {
                        return Some((since, Vec::new()));
                    }
                    let changes = owned.history.since(&since)?;
                    // Past half the manifest, the whole is as cheap.
                    (changes.len() <= owned.manifest.len() / 2).then_some((since, changes))
                });
                if let Some((since, changes)) = changes {
                    let digest = owned.digest;
                    self.round += 1;
                    let round = self.round;
                    let changes: Vec<DiffEntry> = changes
                        .into_iter()
                        .map(|(p, n)| DiffEntry::new(p, n))
                        .collect();
                    let all = pieces(changes);
                    let n = all.len();
                    for (i, changes) in all.into_iter().enumerate() {
                        let msg = SyncMsg::Diff {
                            group: group.clone(),
                            round,
                            since,
                            digest,
                            changes,
                            last: i + 1 == n,
                        };
                        self.send(peer.clone(), &msg);
                    }
                    return;
                }
                let entries: Vec<WireEntry> = owned
                    .manifest
                    .iter()
                    .map(|(p, n)| WireEntry {
                        path: p.clone(),
                        node: *n,
                    })
                    .collect();
                self.round += 1;
                let round = self.round;
                let all = pieces(entries);
                let n = all.len();
                for (i, entries) in all.into_iter().enumerate() {
                    let last = i + 1 == n;
                    self.send(
                        peer.clone(),
                        &SyncMsg::Manifest {
                            group: group.clone(),
                            round,
                            entries,
                            last,
                        },
                    );
                }
            }
            SyncMsg::Fetch {
                round,
                batch,
                files,
                last,
                ..
            } => {
                let key = (peer.clone(), round, batch);
                // Lists of older rounds are given up; a peer may have a few
                // batches' lists under way, not an endless number.
                owned
                    .fetching
                    .retain(|(p, r, _), _| p != peer || *r == round);
                let open_lists = owned.fetching.keys().filter(|(p, _, _)| p == peer).count();
                if !owned.fetching.contains_key(&key) && open_lists >= MAX_OPEN_LISTS {
                    let text = format!("{group}: too many fetch lists under way; ignored");
                    self.out.push_back(SyncOutput::Problem {
                        peer: peer.clone(),
                        text,
                    });
                    return;
                }
                let so_far = owned.fetching.entry(key.clone()).or_default();
                so_far.extend(files);
                if so_far.len() > FILES_PER_BATCH {
                    owned.fetching.remove(&key);
                    let text =
                        format!("{group}: a fetch of more than {FILES_PER_BATCH} files; ignored");
                    self.out.push_back(SyncOutput::Problem {
                        peer: peer.clone(),
                        text,
                    });
                    return;
                }
                if !last {
                    return;
                }
                let files = owned.fetching.remove(&key).unwrap_or_default();
                let current = files.iter().all(|f| {
                    matches!(f.node, Node::File { .. })
                        && owned.manifest.get(&f.path) == Some(&f.node)
                });
                if current {
                    self.out.push_back(SyncOutput::SendFiles {
                        peer: peer.clone(),
                        group,
                        name: batch_name(round, batch),
                        files,
                    });
                } else {
                    self.send(peer.clone(), &SyncMsg::Changed { group });
                }
            }
            _ => {}
        }
    }

    // ----- the member's side -----

    /// A group we mirror, with what our folder holds now and the base.
    /// Asks the owner for its manifest unless a round is under way (then
    /// it asks again once that round ends).
    pub fn follow(&mut self, group: GroupId, member: Manifest, base: Manifest) {
        let f = self
            .followed
            .entry(group.clone())
            .or_insert_with(|| Followed {
                member: Manifest::new(),
                base: Manifest::new(),
                state: FollowState::Idle,
                pieces: Vec::new(),
                changes: Vec::new(),
                round: 0,
                since: None,
                target: Manifest::new(),
                batches: BTreeMap::new(),
                offered: BTreeMap::new(),
                fetch_from: None,
                next_ask: 0,
                again: false,
            });
        f.member = member;
        f.base = base;
        match f.state {
            FollowState::Asking | FollowState::Fetching { .. } => f.again = true,
            _ => self.ask(&group),
        }
    }

    /// Stops mirroring a group.
    pub fn unfollow(&mut self, group: &GroupId) {
        self.followed.remove(group);
    }

    fn ask(&mut self, group: &GroupId) {
        let open = self.open.get(&group.owner).cloned();
        let Some(f) = self.followed.get_mut(group) else {
            return;
        };
        f.again = false;
        f.pieces.clear();
        f.changes.clear();
        if let Some(peer) = open {
            f.state = FollowState::Asking;
            f.since = (!f.base.is_empty()).then(|| digest(&f.base));
            let msg = SyncMsg::Want {
                group: group.name.clone(),
                since: f.since,
            };
            self.send(peer, &msg);
        } else {
            f.state = FollowState::Connecting;
            self.out.push_back(SyncOutput::Connect {
                owner: group.owner.clone(),
                group: group.clone(),
            });
        }
    }

    /// A connection to `peer` is open: groups of that user waiting for it ask.
    pub fn peer_opened(&mut self, peer: &Address) {
        let user = peer.user();
        self.open.insert(user.clone(), peer.clone());
        let waiting: Vec<GroupId> = self
            .followed
            .iter()
            .filter(|(g, f)| g.owner == *user && f.state == FollowState::Connecting)
            .map(|(g, _)| g.clone())
            .collect();
        for g in waiting {
            self.ask(&g);
        }
    }

    /// The connection to `user` closed: rounds with that owner start over
    /// at the next [`Sync::follow`] (or [`Sync::peer_opened`]); as an owner
    /// we stop telling that peer of changes.
    pub fn peer_closed(&mut self, peer: &Address) {
        for o in self.owned.values_mut() {
            o.watchers.retain(|w| w != peer);
            o.fetching.retain(|(p, _, _), _| p != peer);
        }
        let user = peer.user();
        if self.open.get(user).is_some_and(|open| open != peer) {
            return; // another device of that user's, not the one we use
        }
        self.open.remove(user);
        for (g, f) in self.followed.iter_mut() {
            if g.owner == *user && f.state != FollowState::Idle {
                f.state = FollowState::Connecting;
                f.batches.clear();
                f.offered.clear();
            }
        }
    }

    /// An application message of type `brume-sync` from `peer`.
    pub fn handle_message(&mut self, peer: &Address, data: &[u8]) {
        let msg = match decode(data) {
            Ok(m) => m,
            Err(e) => {
                self.out.push_back(SyncOutput::Problem {
                    peer: peer.clone(),
                    text: e.to_string(),
                });
                return;
            }
        };
        match msg {
            SyncMsg::Want { .. } | SyncMsg::Fetch { .. } => self.owner_message(peer, msg),
            SyncMsg::Manifest {
                group,
                round,
                entries,
                last,
            } => self.manifest_piece(peer, group, round, entries, last),
            SyncMsg::Diff {
                group,
                round,
                since,
                digest,
                changes,
                last,
            } => self.diff_piece(peer, group, round, (since, digest), changes, last),
            SyncMsg::Refused {
                group,
                code,
                message,
            } => {
                let id = GroupId {
                    owner: peer.user().clone(),
                    name: group,
                };
                if let Some(f) = self.followed.get_mut(&id) {
                    let code: ErrorCode = serde_json::from_value(serde_json::Value::String(code))
                        .unwrap_or(ErrorCode::Unknown);
                    f.state = FollowState::Refused(code);
                    f.batches.clear();
                    f.offered.clear();
                    self.out.push_back(SyncOutput::Refused {
                        group: id,
                        code,
                        message,
                    });
                }
            }
            SyncMsg::Changed { group } => {
                let id = GroupId {
                    owner: peer.user().clone(),
                    name: group,
                };
                if let Some(f) = self.followed.get_mut(&id) {
                    match f.state {
                        FollowState::Asking | FollowState::Fetching { .. } => f.again = true,
                        FollowState::Refused(_) => {}
                        _ => self.out.push_back(SyncOutput::Rescan { group: id }),
                    }
                }
            }
        }
    }

    fn manifest_piece(
        &mut self,
        peer: &Address,
        group: GroupName,
        round: u64,
        entries: Vec<WireEntry>,
        last: bool,
    ) {
        let id = GroupId {
            owner: peer.user().clone(),
            name: group,
        };
        let Some(f) = self.followed.get_mut(&id) else {
            return;
        };
        if f.state != FollowState::Asking {
            return; // a late piece of a round given up
        }
        if f.pieces.is_empty() {
            f.round = round;
        } else if f.round != round {
            f.pieces.clear();
            f.round = round;
        }
        f.pieces.extend(entries);
        if !last {
            return;
        }
        let entries = std::mem::take(&mut f.pieces);
        let links = entries.iter().any(|e| e.node == Node::Link);
        let manifest = if links {
            None
        } else {
            Manifest::from_entries(entries.into_iter().map(|e| (e.path, e.node))).ok()
        };
        let Some(target) = manifest else {
            f.state = FollowState::Idle;
            let text = format!(
                "{id}: the owner's manifest is not a whole tree of files and folders; ignored"
            );
            self.out.push_back(SyncOutput::Problem {
                peer: peer.clone(),
                text,
            });
            return;
        };
        self.start_round(peer, id, round, target);
    }

    fn diff_piece(
        &mut self,
        peer: &Address,
        group: GroupName,
        round: u64,
        (since, to): (Hash, Hash),
        changes: Vec<DiffEntry>,
        last: bool,
    ) {
        let id = GroupId {
            owner: peer.user().clone(),
            name: group,
        };
        let Some(f) = self.followed.get_mut(&id) else {
            return;
        };
        if f.state != FollowState::Asking || f.since != Some(since) {
            return; // a late piece of a round given up, or not our version
        }
        if f.changes.is_empty() {
            f.round = round;
        } else if f.round != round {
            f.changes.clear();
            f.round = round;
        }
        f.changes.extend(changes);
        if !last {
            return;
        }
        let changes = std::mem::take(&mut f.changes);
        match apply(&f.base, changes).filter(|t| digest(t) == to) {
            Some(target) => self.start_round(peer, id, round, target),
            None => {
                // Not the owner's version after all: ask for the whole.
                f.since = None;
                let text = format!(
                    "{id}: the owner's changes do not lead to its version; asking for the whole manifest"
                );
                self.out.push_back(SyncOutput::Problem {
                    peer: peer.clone(),
                    text,
                });
                let msg = SyncMsg::Want {
                    group: id.name.clone(),
                    since: None,
                };
                self.send(peer.clone(), &msg);
            }
        }
    }

    /// The owner's manifest of round `round` is known: plan towards it.
    fn start_round(&mut self, peer: &Address, id: GroupId, round: u64, target: Manifest) {
        let Some(f) = self.followed.get_mut(&id) else {
            return;
        };
        let p = plan(&target, &f.member, &f.base);
        let (fetches, local): (Vec<Step>, Vec<Step>) = p
            .steps
            .into_iter()
            .partition(|s| matches!(s, Step::Fetch { .. }));
        if !local.is_empty() {
            self.out.push_back(SyncOutput::Run {
                group: id.clone(),
                steps: local,
            });
        }
        if fetches.is_empty() {
            f.state = FollowState::Idle;
            f.forget_trees();
            self.out.push_back(SyncOutput::Synced {
                group: id.clone(),
                base: target,
            });
            self.next_round(&id);
            return;
        }
        let mut batches = BTreeMap::new();
        for (i, chunk) in batches_of(fetches).into_iter().enumerate() {
            batches.insert(i as u64, chunk);
        }
        f.state = FollowState::Fetching {
            round,
            due: batches.len(),
        };
        f.target = target;
        f.batches = batches;
        f.fetch_from = Some(peer.clone());
        f.next_ask = 0;
        for _ in 0..BATCHES_AT_ONCE {
            self.ask_next_batch(&id);
        }
    }

    /// Asks the owner for the round's next batch not yet asked for, if any.
    fn ask_next_batch(&mut self, id: &GroupId) {
        let Some(f) = self.followed.get_mut(id) else {
            return;
        };
        let (FollowState::Fetching { round, .. }, Some(peer)) = (&f.state, &f.fetch_from) else {
            return;
        };
        let (round, peer, batch) = (*round, peer.clone(), f.next_ask);
        let Some(steps) = f.batches.get(&batch) else {
            return;
        };
        f.next_ask += 1;
        let all = pieces(steps.iter().filter_map(fetched_entry).collect());
        let n = all.len();
        for (i, files) in all.into_iter().enumerate() {
            let m = SyncMsg::Fetch {
                group: id.name.clone(),
                round,
                batch,
                files,
                last: i + 1 == n,
            };
            self.send(peer.clone(), &m);
        }
    }

    fn next_round(&mut self, id: &GroupId) {
        if let Some(f) = self.followed.get_mut(id)
            && f.again
        {
            f.again = false;
            self.out.push_back(SyncOutput::Rescan { group: id.clone() });
        }
    }

    /// A transfer offered by `key.peer` named `name` with `entries`: if it
    /// is a batch we asked for, it is accepted into the staging folder (an
    /// [`SyncOutput::Accept`]) and `true` is returned; otherwise `false`,
    /// and it is not sync's.
    pub fn handle_offer(&mut self, key: &TransferKey, name: &str, entries: &[Entry]) -> bool {
        let Some((id, batch)) = self.batch_of(key.peer.user(), name) else {
            return false;
        };
        let seeds = self
            .followed
            .get(&id)
            .and_then(|f| f.batches.get(&batch))
            .map(|steps| steps.iter().filter_map(|s| seed(name, s)).collect())
            .unwrap_or_default();
        let hashes = entries
            .iter()
            .filter_map(|e| Some((e.path.clone(), from_hex(e.hash.as_deref()?)?)))
            .collect();
        if let Some(f) = self.followed.get_mut(&id) {
            f.offered.insert(batch, hashes);
        }
        self.out.push_back(SyncOutput::Accept {
            key: key.clone(),
            group: id,
            dir: STAGING_DIR.to_owned(),
            seeds,
        });
        true
    }

    fn batch_of(&self, owner: &UserName, name: &str) -> Option<(GroupId, u64)> {
        self.followed.iter().find_map(|(id, f)| {
            let FollowState::Fetching { round, .. } = f.state else {
                return None;
            };
            if id.owner != *owner {
                return None;
            }
            f.batches
                .keys()
                .find(|b| batch_name(round, **b) == name)
                .map(|b| (id.clone(), *b))
        })
    }

    /// The batch transfer `name` from `owner` arrived whole: its files are
    /// installed, and once every batch has, the group is synced.
    pub fn handle_transfer_done(&mut self, owner: &UserName, name: &str) {
        let Some((id, batch)) = self.batch_of(owner, name) else {
            return;
        };
        let Some(f) = self.followed.get_mut(&id) else {
            return;
        };
        let steps = f.batches.remove(&batch).unwrap_or_default();
        let offered = f.offered.remove(&batch).unwrap_or_default();
        for step in steps {
            if let Step::Fetch { path, hash, .. } = &step {
                let verified = offered.get(&format!("{name}/{path}")) == Some(hash);
                let from = format!("{STAGING_DIR}/{name}/{path}");
                self.out.push_back(SyncOutput::Install {
                    group: id.clone(),
                    from,
                    fetch: step,
                    verified,
                });
            }
        }
        if let FollowState::Fetching { round, .. } = f.state {
            f.state = FollowState::Fetching {
                round,
                due: f.batches.len(),
            };
        }
        if f.batches.is_empty() {
            f.state = FollowState::Idle;
            f.forget_trees();
            let base = std::mem::take(&mut f.target);
            self.out.push_back(SyncOutput::Synced {
                group: id.clone(),
                base,
            });
            self.next_round(&id);
        } else {
            self.ask_next_batch(&id);
        }
    }

    /// A batch transfer failed (cancelled, refused by the disk): the round
    /// is given up; the member keeps its files, and the next
    /// [`Sync::follow`] starts over (resuming what the transfer kept).
    pub fn handle_transfer_failed(&mut self, owner: &UserName, name: &str, why: &str) {
        let Some((id, _)) = self.batch_of(owner, name) else {
            return;
        };
        if let Some(f) = self.followed.get_mut(&id) {
            f.state = FollowState::Idle;
            f.batches.clear();
            f.offered.clear();
        }
        self.out.push_back(SyncOutput::Failed {
            group: id,
            text: format!("fetching {name} failed: {why}"),
        });
    }
}

/// Cuts a round's fetches into batches of [`BATCH_FILES`] files or
/// [`BATCH_BYTES`] bytes at most, in order.
fn batches_of(fetches: Vec<Step>) -> Vec<Vec<Step>> {
    let mut out: Vec<Vec<Step>> = Vec::new();
    let mut bytes = 0u64;
    for step in fetches {
        let size = match &step {
            Step::Fetch { size, .. } => *size,
            _ => 0,
        };
        let full = out
            .last()
            .is_none_or(|b| b.len() >= BATCH_FILES || bytes + size > BATCH_BYTES);
        if full {
            out.push(Vec::new());
            bytes = 0;
        }
        bytes += size;
        if let Some(b) = out.last_mut() {
            b.push(step);
        }
    }
    out
}

/// The seed of a large fetch that replaces an older version: the transfer
/// receives `PATH` of batch `name` into `.brume-sync/NAME/PATH`'s folder as
/// `.FILE.TAG.brume-part`, TAG the first 16 hex digits of the new content
/// hash (the receiver's partial name, which a later transfer resumes).
fn seed(name: &str, step: &Step) -> Option<Seed> {
    let Step::Fetch {
        path,
        size,
        hash,
        replaces: Some(old),
    } = step
    else {
        return None;
    };
    if *size < SEED_MIN_BYTES {
        return None;
    }
    let hex = to_hex(hash);
    let mut to = format!("{STAGING_DIR}/{name}");
    if let Some(parent) = path.parent() {
        to.push('/');
        to.push_str(&parent.to_string());
    }
    to.push('/');
    to.push_str(&temp_name(path.name(), &hex[..16]));
    Some(Seed {
        from: path.clone(),
        hash: *old,
        to,
    })
}

/// The transfer name of batch `batch` of round `round`.
pub fn batch_name(round: u64, batch: u64) -> String {
    format!("sync-{round}-{batch}")
}

fn fetched_entry(step: &Step) -> Option<WireEntry> {
    match step {
        Step::Fetch {
            path, size, hash, ..
        } => Some(WireEntry {
            path: path.clone(),
            node: Node::File {
                size: *size,
                hash: *hash,
            },
        }),
        _ => None,
    }
}

fn refusal(group: &GroupName, owner: &UserName, user: &UserName) -> SyncMsg {
    SyncMsg::Refused {
        group: group.clone(),
        code: ErrorCode::NotMember.as_str().to_owned(),
        message: format!("{user} is not a member of {owner}/{group}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fetch(i: usize, size: u64) -> Step {
        Step::Fetch {
            path: SyncPath::parse(&format!("f{i}")).unwrap(),
            size,
            hash: [0; 32],
            replaces: None,
        }
    }

    #[test]
    fn batches_hold_at_most_their_files_and_bytes_and_keep_the_order() {
        let small: Vec<Step> = (0..2500).map(|i| fetch(i, 10)).collect();
        let b = batches_of(small.clone());
        assert_eq!(
            b.iter().map(Vec::len).collect::<Vec<_>>(),
            [BATCH_FILES, BATCH_FILES, 2500 - 2 * BATCH_FILES]
        );
        assert_eq!(b.concat(), small);
        // Large files: a batch closes before it would pass the bytes; a
        // file larger than that travels alone.
        let big = vec![
            fetch(0, BATCH_BYTES / 2),
            fetch(1, BATCH_BYTES / 2),
            fetch(2, 1),
            fetch(3, BATCH_BYTES * 3),
            fetch(4, 1),
        ];
        let b = batches_of(big);
        assert_eq!(b.iter().map(Vec::len).collect::<Vec<_>>(), [2, 1, 1, 1]);
        assert!(batches_of(Vec::new()).is_empty());
    }
}
