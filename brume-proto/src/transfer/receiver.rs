//! The receiving side: assemble and check the offer, make the folders
//! (a folder whose name is taken by a file gets another name), stat
//! temporary files, check free space, then keep several files in flight:
//! resume each from its verified blocks, verify every block before it is
//! written, sync finished files in batches, and rename each into place
//! without ever overwriting one, only once its data is durable.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use crate::endpoint::ChannelId;

use super::ChannelLevels;
use super::manifest::{self, Entry, EntryKind, Hash};
use super::names::{conflict_name, temp_name};
use super::offer::IncomingOffer;
use super::sender::describe;
use super::wire::{Control, Wire};
use super::{
    Finish, RequestId, Side, StorageAction, StorageResult, TargetPath, Transfer, TransferEvent,
    TransferKey, TransferState, Transfers,
};
use crate::signal::Address;

/// How many other names to try when a file's or a folder's name is taken.
const MAX_CONFLICT_NAMES: u32 = 10_000;
/// Files asked for (or being checked, synced, placed) at once: small files
/// then cost no round trip each.
pub const FILES_IN_FLIGHT: usize = 64;
/// Finished files are synced together once this many wait…
const SYNC_FILES: usize = 32;
/// …or this many bytes, or once no other file is still arriving.
const SYNC_BYTES: u64 = 64 << 20;

#[derive(Debug)]
enum Phase {
    /// The channel is open; the offer has not come.
    AwaitOffer,
    /// The offer is arriving: entries, then hashes.
    Manifest(Box<IncomingOffer>),
    /// Offered; the application decides.
    Offered,
    /// Accepted: making folders, one at a time, parents first.
    Folders,
    /// Looking at temporary files and free space.
    Preparing,
    /// Working through the files.
    Files,
}

/// What a storage request was for.
#[derive(Debug, Clone, Copy)]
enum Op {
    /// Making folder `n` of the list under its `m`-th alternative name.
    CreateDir(usize, u32),
    Stat(u32),
    FreeSpace,
    /// Reading back block `n` of a file's temporary file.
    Check(u32, u64),
    Truncate(u32),
    Write(u32),
    /// A file's last write, which also sets its length and attributes.
    WriteFinish(u32),
    Attributes(u32),
    Sync,
    /// Renaming a file into place under its n-th alternative name.
    Rename(u32, u32),
}

impl Op {
    /// The entry the request is about, if one.
    fn file(self) -> Option<u32> {
        match self {
            Op::Stat(f)
            | Op::Check(f, _)
            | Op::Truncate(f)
            | Op::Write(f)
            | Op::WriteFinish(f)
            | Op::Attributes(f)
            | Op::Rename(f, _) => Some(f),
            Op::CreateDir(..) | Op::FreeSpace | Op::Sync => None,
        }
    }
}

/// Received data is hashed in runs of this many bytes.
const HASH_STEP: usize = 64 * 1024;

/// One file in flight.
#[derive(Debug)]
struct Active {
    size: u64,
    block: u64,
    temp: TargetPath,
    /// Its data was asked for.
    asked: bool,
    /// The next byte expected from the sender.
    expected: u64,
    /// Bytes of the block being assembled.
    buf: Vec<u8>,
    /// Their hash so far (boxed: it holds a stack of chaining values).
    hasher: Box<blake3::Hasher>,
    /// How much of `buf` the hasher has taken.
    hashed: usize,
    writes: usize,
    /// Every byte arrived and was verified.
    complete: bool,
    /// Being finalised: attributes, sync, rename.
    finalizing: bool,
    /// Synced: only its rename is left.
    synced: bool,
}

#[derive(Debug)]
pub(crate) struct Receiver {
    phase: Phase,
    entries: Vec<Entry>,
    /// Where each entry goes under the folder (folders may be renamed).
    paths: Vec<Vec<String>>,
    files: Vec<u32>,
    hashes: BTreeMap<u32, Vec<Hash>>,
    dir: Option<String>,
    /// Folders to make, parents first, and how many are made.
    folders: Vec<Vec<String>>,
    folders_made: usize,
    /// The offered name of the folder being made.
    folder_name: String,
    held: BTreeMap<u32, u64>,
    outstanding: usize,
    ops: BTreeMap<RequestId, Op>,
    /// The next file (position in `files`) to start.
    next: usize,
    active: BTreeMap<u32, Active>,
    /// Finished files waiting for a sync, and their bytes.
    unsynced: Vec<u32>,
    unsynced_bytes: u64,
    /// The files of the sync in progress.
    syncing: Vec<u32>,
    placed: usize,
}

fn receiver(t: &mut Transfer) -> Option<&mut Receiver> {
    match &mut t.side {
        Side::Recv(r) => Some(r),
        Side::Send(_) => None,
    }
}

impl Receiver {
    fn target(&self, components: Vec<String>) -> TargetPath {
        TargetPath {
            dir: self.dir.clone().unwrap_or_default(),
            components,
        }
    }

    /// What entry `index`'s last step sets.
    fn finish(&self, index: u32) -> Finish {
        let e = &self.entries[index as usize];
        Finish {
            len: e.size,
            mtime: e.mtime,
            executable: e.executable,
        }
    }

    /// Where file `index` is received: beside its final place, named by its
    /// content, so that a new transfer of the same content resumes it; or,
    /// with `private`, also by this transfer's id, for when another transfer
    /// is receiving into the content's name right now.
    fn temp_path(&self, index: u32, private: Option<u64>) -> TargetPath {
        let mut parts = self.paths[index as usize].clone();
        let hash = self.entries[index as usize].hash.as_deref().unwrap_or("0");
        let tag = match private {
            None => hash.get(..16).unwrap_or(hash).to_owned(),
            Some(id) => format!("{}{:08x}", hash.get(..8).unwrap_or(hash), id as u32),
        };
        let last = parts.pop().unwrap_or_default();
        parts.push(temp_name(&last, &tag));
        self.target(parts)
    }

    /// Whether a file that was asked for is still arriving.
    fn arriving(&self) -> bool {
        self.active.values().any(|a| a.asked && !a.complete)
    }

    /// The offered path of the entry a request is about, for reasons.
    fn entry_of(&self, req: RequestId) -> Option<String> {
        let file = self.ops.get(&req)?.file()?;
        Some(self.entries.get(file as usize)?.path.clone())
    }

    /// The offer's folders, parents first (each folder entry, and each
    /// parent of an entry).
    fn list_folders(&self) -> Vec<Vec<String>> {
        let mut dirs: BTreeSet<(usize, Vec<String>)> = BTreeSet::new();
        for (e, parts) in self.entries.iter().zip(&self.paths) {
            let upto = if e.kind == EntryKind::Dir {
                parts.len()
            } else {
                parts.len() - 1
            };
            for n in 1..=upto {
                dirs.insert((n, parts[..n].to_vec()));
            }
        }
        dirs.into_iter().map(|(_, p)| p).collect()
    }

    /// Folder `n` could not be made under its own name: it and everything
    /// under it move to `new_last`.
    fn rename_folder(&mut self, n: usize, new_last: &str) {
        let old = self.folders[n].clone();
        let mut new = old.clone();
        if let Some(last) = new.last_mut() {
            *last = new_last.to_owned();
        }
        let moved = |p: &mut Vec<String>| {
            if p.starts_with(&old) {
                p.splice(..old.len(), new.iter().cloned());
            }
        };
        self.folders.iter_mut().skip(n).for_each(moved);
        self.paths.iter_mut().for_each(moved);
    }
}

/// The reason a peer hears for a local failure: never a local path.
const PEER_STORAGE_REASON: &str = "the receiver could not store the files";

impl Transfers {
    /// A peer opened a transfer channel: wait for its offer.
    pub(super) fn receiver_channel_open(
        &mut self,
        _now: Instant,
        _ep: &dyn ChannelLevels,
        peer: &Address,
        channel: ChannelId,
        id: &str,
    ) {
        let Some(id) = u64::from_str_radix(id, 16).ok().filter(|_| id.len() == 16) else {
            return; // not a label we make; the channel stays unused
        };
        let key = TransferKey {
            peer: peer.clone(),
            id,
            outgoing: false,
        };
        if self.transfers.contains_key(&key) {
            // The sender gave up on a channel that never opened on its side
            // and opened another for the same transfer. Which one it offers
            // on is known only when the offer comes: opens held up by an
            // outage may arrive late and in any order, and SCTP reuses the
            // stream of a channel closed meanwhile. So each one is a
            // candidate until the offer picks one (`receiver_heard_on`).
            if self.receiver_awaits_offer(&key) {
                self.by_channel.insert(peer.clone(), channel, key.clone());
                if let Some(t) = self.transfers.get_mut(&key) {
                    t.channel = Some(channel);
                }
            }
            return;
        }
        self.by_channel.insert(peer.clone(), channel, key.clone());
        self.receiver_adopt(key.clone());
        if let Some(t) = self.transfers.get_mut(&key) {
            t.channel = Some(channel);
        }
    }

    /// A message came on `channel`: if the transfer still waited for its
    /// offer, that is its channel now, and the other candidates close.
    pub(super) fn receiver_heard_on(&mut self, key: &TransferKey, channel: ChannelId) {
        if !self.receiver_awaits_offer(key) {
            return;
        }
        if let Some(t) = self.transfers.get_mut(key) {
            t.channel = Some(channel);
        }
        for other in self.by_channel.channels_of(key) {
            if other != channel {
                self.by_channel.remove(&key.peer, other);
                self.commands.push(super::ChannelCommand::Close {
                    peer: key.peer.clone(),
                    channel: other,
                });
            }
        }
    }

    /// A candidate channel of a transfer that waits for its offer closed.
    /// True if another candidate remains, which the transfer now waits on;
    /// false if this was its last (the transfer then ends as usual).
    pub(super) fn receiver_candidate_closed(
        &mut self,
        key: &TransferKey,
        channel: ChannelId,
    ) -> bool {
        if !self.receiver_awaits_offer(key) {
            return false;
        }
        let Some(&left) = self
            .by_channel
            .channels_of(key)
            .iter()
            .rfind(|c| **c != channel)
        else {
            return false;
        };
        self.by_channel.remove(&key.peer, channel);
        if let Some(t) = self.transfers.get_mut(key) {
            t.channel = Some(left);
        }
        true
    }

    /// Starts a receiving transfer, waiting for its offer.
    pub(super) fn receiver_adopt(&mut self, key: TransferKey) {
        self.transfers.insert(
            key,
            Transfer {
                state: TransferState::Inviting,
                channel: None,
                open: true,
                outbox: Default::default(),
                done: 0,
                total: 0,
                resumed: 0,
                flowing_since: None,
                last_progress: None,
                aborting: false,
                side: Side::Recv(Receiver {
                    phase: Phase::AwaitOffer,
                    entries: Vec::new(),
                    paths: Vec::new(),
                    files: Vec::new(),
                    hashes: BTreeMap::new(),
                    dir: None,
                    folders: Vec::new(),
                    folders_made: 0,
                    folder_name: String::new(),
                    held: BTreeMap::new(),
                    outstanding: 0,
                    ops: BTreeMap::new(),
                    next: 0,
                    active: BTreeMap::new(),
                    unsynced: Vec::new(),
                    unsynced_bytes: 0,
                    syncing: Vec::new(),
                    placed: 0,
                }),
            },
        );
    }

    pub(super) fn receiver_accept(
        &mut self,
        now: Instant,
        ep: &dyn ChannelLevels,
        key: &TransferKey,
        dir: String,
    ) -> Result<(), super::TransferError> {
        let t = self
            .transfers
            .get_mut(key)
            .ok_or(super::TransferError::Unknown)?;
        let state = t.state;
        let Some(r) = receiver(t).filter(|r| matches!(r.phase, Phase::Offered)) else {
            return Err(super::TransferError::WrongState(state));
        };
        r.dir = Some(dir);
        r.phase = Phase::Folders;
        r.folders = r.list_folders();
        self.set_state(key, TransferState::Connecting);
        self.receiver_next_folder(now, ep, key, 0);
        Ok(())
    }

    fn receiver_request(
        &mut self,
        key: &TransferKey,
        op: Op,
        make: impl FnOnce(RequestId) -> StorageAction,
    ) {
        let req = self.request(key, make);
        if let Some(r) = self.transfers.get_mut(key).and_then(receiver) {
            r.ops.insert(req, op);
        }
    }

    /// The entry a storage request of a receiving transfer was about.
    pub(super) fn receiver_entry_of(
        &mut self,
        key: &TransferKey,
        req: RequestId,
    ) -> Option<String> {
        self.transfers
            .get_mut(key)
            .and_then(receiver)
            .and_then(|r| r.entry_of(req))
    }

    /// A message from the sender.
    pub(super) fn receiver_message(
        &mut self,
        now: Instant,
        ep: &dyn ChannelLevels,
        key: &TransferKey,
        msg: Wire,
    ) {
        let policy = self.config.names;
        let Some(r) = self.transfers.get_mut(key).and_then(receiver) else {
            return;
        };
        let step = match (msg, &mut r.phase) {
            (
                Wire::Control(Control::Offer {
                    name,
                    total,
                    count,
                    entries,
                }),
                Phase::AwaitOffer,
            ) => match IncomingOffer::start(name, total, count, entries, policy) {
                Ok(o) => {
                    r.phase = Phase::Manifest(Box::new(o));
                    Ok(())
                }
                Err(reason) => {
                    // A refused offer is the application's news too: a peer misbehaved.
                    r.phase = Phase::Offered;
                    Err(reason)
                }
            },
            (Wire::Control(Control::Entries { start, entries }), Phase::Manifest(offer)) => {
                offer.add(start, entries)
            }
            (
                Wire::Hashes {
                    file,
                    start,
                    hashes,
                },
                Phase::Manifest(offer),
            ) => offer.add_hashes(file, start, hashes),
            (
                Wire::Data {
                    file,
                    offset,
                    bytes,
                },
                Phase::Files,
            ) => return self.receiver_data(now, ep, key, file, offset, &bytes),
            (Wire::Control(Control::Cancel { reason }), _) => {
                return self.abort(now, ep, key, reason, true, true);
            }
            (other, _) => Err(format!(
                "unexpected message from the sender: {}",
                describe(&other)
            )),
        };
        match step {
            Ok(()) => self.receiver_maybe_offered(key),
            Err(reason) => self.abort(now, ep, key, reason, false, true),
        }
    }

    /// Once all of the offer has come and checked out, the application hears of it.
    fn receiver_maybe_offered(&mut self, key: &TransferKey) {
        let Some(t) = self.transfers.get_mut(key) else {
            return;
        };
        let Some(r) = receiver(t) else {
            return;
        };
        if !matches!(&r.phase, Phase::Manifest(o) if o.is_complete()) {
            return;
        }
        let Phase::Manifest(offer) = std::mem::replace(&mut r.phase, Phase::Offered) else {
            return; // matched just above
        };
        let offer = *offer;
        r.files = (0..offer.entries.len() as u32)
            .filter(|i| offer.entries[*i as usize].kind == EntryKind::File)
            .collect();
        r.entries = offer.entries;
        r.paths = offer.paths;
        r.hashes = offer.hashes;
        let entries = r.entries.clone();
        t.total = offer.total;
        self.state_event(key, TransferState::Inviting);
        self.events.push_back(TransferEvent::Offered {
            key: key.clone(),
            name: offer.name,
            total: offer.total,
            entries,
        });
    }

    fn receiver_data(
        &mut self,
        now: Instant,
        ep: &dyn ChannelLevels,
        key: &TransferKey,
        file: u32,
        offset: u64,
        bytes: &[u8],
    ) {
        let Some(r) = self.transfers.get_mut(key).and_then(receiver) else {
            return;
        };
        let Some(cur) = r.active.get_mut(&file).filter(|c| c.asked && !c.complete) else {
            return self.abort(
                now,
                ep,
                key,
                format!("data for entry {file}, which was not asked for"),
                false,
                true,
            );
        };
        if offset != cur.expected {
            let reason = format!("data at {offset} where {} was expected", cur.expected);
            return self.abort(now, ep, key, reason, false, true);
        }
        let end = offset.saturating_add(bytes.len() as u64);
        if end > cur.size {
            let path = r.entries[file as usize].path.clone();
            let reason = format!(
                "more data than announced for {path} ({end} > {} bytes)",
                cur.size
            );
            return self.abort(now, ep, key, reason, false, true);
        }
        // Each piece is copied into its block and hashed at once, while it
        // is still in cache, in whole steps (BLAKE3 hashes 16 chunks side by
        // side only in aligned runs); a full block is checked and leaves for
        // storage.
        let mut writes = Vec::new();
        let mut input = bytes;
        let mut at = offset;
        while !input.is_empty() {
            let block_start = at - cur.buf.len() as u64;
            let index = block_start / cur.block;
            let len = manifest::block_len(cur.size, cur.block, index) as usize;
            let (piece, later) = input.split_at((len - cur.buf.len()).min(input.len()));
            if cur.buf.is_empty() {
                cur.buf.reserve_exact(len); // one allocation per block
            }
            cur.buf.extend_from_slice(piece);
            let upto = if cur.buf.len() == len {
                len
            } else {
                cur.buf.len() / HASH_STEP * HASH_STEP
            };
            if upto > cur.hashed {
                cur.hasher.update(&cur.buf[cur.hashed..upto]);
                cur.hashed = upto;
            }
            at += piece.len() as u64;
            input = later;
            if cur.buf.len() < len {
                break;
            }
            let hash = *cur.hasher.finalize().as_bytes();
            cur.hasher.reset();
            cur.hashed = 0;
            let expected = r.hashes.get(&file).and_then(|l| l.get(index as usize));
            if expected != Some(&hash) {
                let path = r.entries[file as usize].path.clone();
                let reason = format!("block {index} of {path} does not match its hash");
                return self.abort(now, ep, key, reason, false, true);
            }
            cur.writes += 1;
            writes.push((cur.temp.clone(), block_start, std::mem::take(&mut cur.buf)));
        }
        cur.expected = end;
        if cur.expected == cur.size && cur.buf.is_empty() {
            cur.complete = true;
        }
        // The file's only write in flight, and its last: it finishes the
        // file too (a small file costs one storage action, not two).
        let finishing = cur.complete && cur.writes == 1 && writes.len() == 1;
        if finishing {
            cur.finalizing = true;
        }
        let finish = finishing.then(|| r.finish(file));
        let mut verified = 0;
        for (path, offset, data) in writes {
            verified += data.len() as u64;
            let op = if finish.is_some() {
                Op::WriteFinish(file)
            } else {
                Op::Write(file)
            };
            self.receiver_request(key, op, |req| StorageAction::Write {
                req,
                path,
                offset,
                data,
                finish,
            });
        }
        if verified > 0 {
            self.progress(now, key, verified, false);
        }
        self.receiver_maybe_finalize(now, ep, key, file);
    }

    pub(super) fn receiver_storage(
        &mut self,
        now: Instant,
        ep: &dyn ChannelLevels,
        key: &TransferKey,
        req: RequestId,
        result: StorageResult,
    ) {
        let Some(r) = self.transfers.get_mut(key).and_then(receiver) else {
            return;
        };
        let Some(op) = r.ops.remove(&req) else {
            return;
        };
        match (op, result) {
            (Op::CreateDir(n, _), StorageResult::Done) => {
                r.folders_made = n + 1;
                self.receiver_next_folder(now, ep, key, 0);
            }
            (Op::CreateDir(n, m), StorageResult::Exists) if m < MAX_CONFLICT_NAMES => {
                // Something else has the folder's name: the folder takes another.
                let renamed = conflict_name(&r.folder_name, m + 1);
                r.rename_folder(n, &renamed);
                self.receiver_next_folder(now, ep, key, m + 1);
            }
            (Op::Stat(index), StorageResult::Size(size)) => {
                if let Some(size) = size {
                    r.held.insert(index, size);
                }
                r.outstanding -= 1;
                self.receiver_prepared_stats(now, ep, key);
            }
            (Op::FreeSpace, StorageResult::Size(free)) => {
                let need: u64 = r
                    .files
                    .iter()
                    .map(|i| {
                        let size = r.entries[*i as usize].size;
                        size - r.held.get(i).copied().unwrap_or(0).min(size)
                    })
                    .sum();
                let free = free.unwrap_or(0);
                if free < need {
                    let local = format!("not enough free space: {need} bytes needed, {free} free");
                    let peer =
                        format!("not enough free space at the receiver: {need} bytes needed");
                    return self.abort_with(now, ep, key, local, peer, false);
                }
                if let Some(r) = self.transfers.get_mut(key).and_then(receiver) {
                    r.phase = Phase::Files;
                }
                self.queue(key, Wire::Control(Control::Accept));
                self.flush(now, ep, key);
                self.receiver_start_files(now, ep, key);
            }
            (Op::Check(file, block), StorageResult::Data(data)) => {
                self.receiver_checked(now, ep, key, file, block, &data)
            }
            (Op::Truncate(file), StorageResult::Done) => self.receiver_ask(now, ep, key, file),
            (Op::Write(file), StorageResult::Done) => {
                if let Some(cur) = r.active.get_mut(&file) {
                    cur.writes -= 1;
                }
                self.receiver_maybe_finalize(now, ep, key, file);
            }
            (Op::WriteFinish(file), StorageResult::Done) => {
                if let Some(cur) = r.active.get_mut(&file) {
                    cur.writes -= 1;
                }
                r.unsynced.push(file);
                r.unsynced_bytes += r.active.get(&file).map_or(0, |a| a.size);
                self.receiver_maybe_sync(key);
            }
            (Op::Attributes(file), StorageResult::Done) => {
                r.unsynced.push(file);
                r.unsynced_bytes += r.active.get(&file).map_or(0, |a| a.size);
                self.receiver_maybe_sync(key);
            }
            (Op::Sync, StorageResult::Done) => {
                for file in &r.syncing {
                    if let Some(a) = r.active.get_mut(file) {
                        a.synced = true;
                    }
                }
                for file in std::mem::take(&mut r.syncing) {
                    self.receiver_rename(key, file, 0);
                }
                self.receiver_maybe_sync(key);
            }
            (Op::Rename(file, n), StorageResult::Done) => {
                r.active.remove(&file);
                r.placed += 1;
                let mut path = r.paths[file as usize].clone();
                if let Some(last) = path.last_mut() {
                    *last = conflict_name(last, n);
                }
                self.events.push_back(TransferEvent::Saved {
                    key: key.clone(),
                    path,
                });
                self.receiver_start_files(now, ep, key);
            }
            (Op::Rename(file, n), StorageResult::Exists) if n < MAX_CONFLICT_NAMES => {
                self.receiver_rename(key, file, n + 1)
            }
            (Op::Rename(..), StorageResult::Exists)
            | (Op::CreateDir(..), StorageResult::Exists) => {
                let reason = "every alternative name is taken".to_owned();
                self.abort(now, ep, key, reason, false, false);
            }
            (op, result) => {
                let local = format!("storage answered {op:?} with {result:?}");
                self.abort_with(now, ep, key, local, PEER_STORAGE_REASON.into(), false);
            }
        }
    }

    /// Makes the next folder, under its `m`-th alternative name; once all
    /// are made, looks for what earlier transfers left behind.
    fn receiver_next_folder(
        &mut self,
        now: Instant,
        ep: &dyn ChannelLevels,
        key: &TransferKey,
        m: u32,
    ) {
        let Some(r) = self.transfers.get_mut(key).and_then(receiver) else {
            return;
        };
        if let Some(folder) = r.folders.get(r.folders_made).cloned() {
            let n = r.folders_made;
            if m == 0 {
                r.folder_name = folder.last().cloned().unwrap_or_default();
            }
            let path = r.target(folder);
            return self.receiver_request(key, Op::CreateDir(n, m), |req| {
                StorageAction::CreateDir { req, path }
            });
        }
        r.phase = Phase::Preparing;
        let files = r.files.clone();
        let temps: Vec<(u32, TargetPath)> =
            files.iter().map(|i| (*i, r.temp_path(*i, None))).collect();
        r.outstanding = temps.len();
        for (index, path) in temps {
            self.receiver_request(key, Op::Stat(index), |req| StorageAction::Stat {
                req,
                path,
            });
        }
        self.receiver_prepared_stats(now, ep, key);
    }

    /// Once every temporary file was looked at, check the free space.
    fn receiver_prepared_stats(
        &mut self,
        _now: Instant,
        _ep: &dyn ChannelLevels,
        key: &TransferKey,
    ) {
        let Some(r) = self.transfers.get_mut(key).and_then(receiver) else {
            return;
        };
        if !matches!(r.phase, Phase::Preparing) || r.outstanding != 0 {
            return;
        }
        let dir = r.dir.clone().unwrap_or_default();
        self.receiver_request(key, Op::FreeSpace, |req| StorageAction::FreeSpace {
            req,
            dir,
        });
    }

    /// Whether a transfer other than `key` is receiving a file into `temp` now.
    fn receiving_into(&self, key: &TransferKey, temp: &TargetPath) -> bool {
        self.transfers.iter().any(|(k, t)| {
            k != key
                && match &t.side {
                    Side::Recv(r) => r.active.values().any(|a| &a.temp == temp),
                    Side::Send(_) => false,
                }
        })
    }

    /// Starts files while fewer than [`FILES_IN_FLIGHT`] are in flight; once
    /// every file is in place, the transfer is done.
    fn receiver_start_files(&mut self, now: Instant, ep: &dyn ChannelLevels, key: &TransferKey) {
        loop {
            let Some(r) = self.transfers.get_mut(key).and_then(receiver) else {
                return;
            };
            if r.placed == r.files.len() {
                self.queue(key, Wire::Control(Control::Done));
                self.flush(now, ep, key);
                self.progress(now, key, 0, true);
                self.set_state(key, TransferState::Done);
                return;
            }
            if r.active.len() >= FILES_IN_FLIGHT {
                return;
            }
            let Some(&index) = r.files.get(r.next) else {
                return;
            };
            r.next += 1;
            self.receiver_start_file(now, ep, key, index);
        }
    }

    /// Starts a file: check what is held, then ask for the rest.
    fn receiver_start_file(
        &mut self,
        now: Instant,
        ep: &dyn ChannelLevels,
        key: &TransferKey,
        index: u32,
    ) {
        let Some(r) = self.transfers.get_mut(key).and_then(receiver) else {
            return;
        };
        let size = r.entries[index as usize].size;
        let block = manifest::block_size(size);
        let (shared, private) = (r.temp_path(index, None), r.temp_path(index, Some(key.id)));
        // Two transfers writing one temporary file would cut and fill each
        // other's blocks: the second takes a name of its own (no resume).
        let busy = self.receiving_into(key, &shared);
        let Some(r) = self.transfers.get_mut(key).and_then(receiver) else {
            return;
        };
        let temp = if busy {
            r.held.remove(&index); // what it held is the other transfer's
            private
        } else {
            shared
        };
        r.active.insert(
            index,
            Active {
                size,
                block,
                temp,
                asked: false,
                expected: 0,
                buf: Vec::new(),
                hasher: Box::default(),
                hashed: 0,
                writes: 0,
                complete: false,
                finalizing: false,
                synced: false,
            },
        );
        self.receiver_checked(now, ep, key, index, u64::MAX, &[]);
    }

    /// Resume check, one block at a time: `block` of file `file` was just
    /// read back as `data` (`u64::MAX` to begin). Stops at the first block
    /// that is missing or does not match, cuts the temporary file there, and
    /// asks for the rest.
    fn receiver_checked(
        &mut self,
        now: Instant,
        ep: &dyn ChannelLevels,
        key: &TransferKey,
        file: u32,
        block: u64,
        data: &[u8],
    ) {
        let Some(r) = self.transfers.get_mut(key).and_then(receiver) else {
            return;
        };
        let held = r.held.get(&file).copied().unwrap_or(0);
        let good = block != u64::MAX
            && r.hashes.get(&file).and_then(|l| l.get(block as usize))
                == Some(&manifest::hash_block(data));
        let Some(cur) = r.active.get_mut(&file) else {
            return;
        };
        let next = if block == u64::MAX {
            0
        } else if good {
            block + 1
        } else {
            block // this block is bad: resume from it
        };
        let next_len = manifest::block_len(cur.size, cur.block, next);
        let readable = next_len > 0 && next * cur.block + next_len <= held;
        if readable && (block == u64::MAX || next > block) {
            let (path, offset) = (cur.temp.clone(), next * cur.block);
            return self.receiver_request(key, Op::Check(file, next), |req| StorageAction::Read {
                req,
                path,
                offset,
                len: next_len,
            });
        }
        // Keep the verified prefix only.
        let keep = (next * cur.block).min(cur.size);
        cur.expected = keep;
        let path = cur.temp.clone();
        if keep == 0 {
            // Nothing to keep: no cut, the file's last step sets its length
            // (a round trip and an open saved per new file).
            return self.receiver_ask(now, ep, key, file);
        }
        self.progress_resumed(now, key, keep);
        self.receiver_request(key, Op::Truncate(file), |req| StorageAction::Truncate {
            req,
            path,
            len: keep,
        });
    }

    /// The temporary file is ready: ask the sender for what is missing.
    fn receiver_ask(&mut self, now: Instant, ep: &dyn ChannelLevels, key: &TransferKey, file: u32) {
        let Some(r) = self.transfers.get_mut(key).and_then(receiver) else {
            return;
        };
        let Some(cur) = r.active.get_mut(&file) else {
            return;
        };
        if cur.expected == cur.size {
            cur.complete = true;
            return self.receiver_maybe_finalize(now, ep, key, file);
        }
        cur.asked = true;
        let offset = cur.expected;
        self.queue(key, Wire::Control(Control::Get { file, offset }));
        self.flush(now, ep, key);
        self.set_state(key, TransferState::Connected);
    }

    /// A file whose every byte is verified and written gets its attributes,
    /// then waits for a sync.
    fn receiver_maybe_finalize(
        &mut self,
        _now: Instant,
        _ep: &dyn ChannelLevels,
        key: &TransferKey,
        file: u32,
    ) {
        let Some(r) = self.transfers.get_mut(key).and_then(receiver) else {
            return;
        };
        let finish = r.finish(file);
        let Some(cur) = r.active.get_mut(&file) else {
            return;
        };
        if !cur.complete || cur.writes > 0 || cur.finalizing {
            return;
        }
        cur.finalizing = true;
        let path = cur.temp.clone();
        self.receiver_request(key, Op::Attributes(file), |req| {
            StorageAction::SetAttributes { req, path, finish }
        });
        // A file with nothing left to arrive may be the last of a batch.
        self.receiver_maybe_sync(key);
    }

    /// Syncs the finished files in one go once enough wait, or once nothing
    /// else is arriving.
    fn receiver_maybe_sync(&mut self, key: &TransferKey) {
        let Some(r) = self.transfers.get_mut(key).and_then(receiver) else {
            return;
        };
        if !r.syncing.is_empty() || r.unsynced.is_empty() {
            return;
        }
        // Attributes still being set: files finalizing that are not yet
        // waiting for a sync, in one, or past it (renaming, which may end
        // after the last attributes; counting those would wait forever).
        let pending_attributes = r.active.iter().any(|(f, a)| {
            a.finalizing && !a.synced && !r.unsynced.contains(f) && !r.syncing.contains(f)
        });
        let due = r.unsynced.len() >= SYNC_FILES
            || r.unsynced_bytes >= SYNC_BYTES
            || (!r.arriving() && !pending_attributes);
        if !due {
            return;
        }
        r.syncing = std::mem::take(&mut r.unsynced);
        r.unsynced_bytes = 0;
        let paths: Vec<TargetPath> = r
            .syncing
            .iter()
            .filter_map(|f| r.active.get(f).map(|a| a.temp.clone()))
            .collect();
        self.receiver_request(key, Op::Sync, |req| StorageAction::Sync { req, paths });
    }

    /// Renames a durable file into place under its name, or its n-th alternative.
    fn receiver_rename(&mut self, key: &TransferKey, file: u32, n: u32) {
        let Some(r) = self.transfers.get_mut(key).and_then(receiver) else {
            return;
        };
        let Some(cur) = r.active.get(&file) else {
            return;
        };
        let mut parts = r.paths[file as usize].clone();
        if let Some(last) = parts.pop() {
            parts.push(conflict_name(&last, n));
        }
        let (from, to) = (cur.temp.clone(), r.target(parts));
        self.receiver_request(key, Op::Rename(file, n), |req| StorageAction::Rename {
            req,
            from,
            to,
        });
    }

    /// True while no part of an offer has come: the application knows
    /// nothing of this transfer yet.
    pub(super) fn receiver_awaits_offer(&mut self, key: &TransferKey) -> bool {
        self.transfers
            .get_mut(key)
            .and_then(receiver)
            .is_some_and(|r| matches!(r.phase, Phase::AwaitOffer))
    }

    /// An explicit cancel or a bad sender: unfinished temporary files go.
    pub(super) fn receiver_discard(&mut self, key: &TransferKey) {
        let Some(r) = self.transfers.get_mut(key).and_then(receiver) else {
            return;
        };
        let paths: Vec<TargetPath> = r.active.values().map(|a| a.temp.clone()).collect();
        for path in paths {
            // Its result is not awaited: the transfer is over.
            let req = RequestId(self.next_request);
            self.next_request += 1;
            self.actions.push_back(StorageAction::Remove { req, path });
        }
    }
}
