//! The receiving side: check the offer, check the disk, resume from verified
//! blocks, verify every block before it is written, and rename each file
//! into place without ever overwriting one.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use str0m::channel::ChannelId;

use super::manifest::{self, Entry, EntryKind, Hash};
use super::names::{check_relative_path, conflict_name, temp_name};
use super::sender::describe;
use super::wire::{Control, Wire};
use super::{
    MAX_ENTRIES, RequestId, Side, StorageAction, StorageResult, TargetPath, Transfer,
    TransferEvent, TransferKey, TransferState, Transfers,
};
use crate::endpoint::Endpoint;
use crate::signal::UserName;

/// How many other names to try when a file's name is taken.
const MAX_CONFLICT_NAMES: u32 = 10_000;
/// The longest MIME type accepted.
const MAX_MIME: usize = 255;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// The channel is open; the offer has not come.
    AwaitOffer,
    /// Offered; the application decides.
    Offered,
    /// Accepted: looking at temporary files, free space and folders.
    Preparing,
    /// Working through the files.
    Files,
}

/// What a storage request was for.
#[derive(Debug, Clone, Copy)]
enum Op {
    Stat(u32),
    FreeSpace,
    CreateDir,
    /// Reading back block `n` of the current file's temporary file.
    Check(u64),
    Truncate,
    Write,
    Sync,
    /// Renaming into place under the n-th alternative name.
    Rename(u32),
    SetMtime,
}

/// Received data is hashed in runs of this many bytes.
const HASH_STEP: usize = 64 * 1024;

#[derive(Debug)]
struct Current {
    index: u32,
    size: u64,
    block: u64,
    temp: TargetPath,
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
    final_path: Vec<String>,
}

#[derive(Debug)]
pub(crate) struct Receiver {
    phase: Phase,
    entries: Vec<Entry>,
    paths: Vec<Vec<String>>,
    files: Vec<u32>,
    hashes: BTreeMap<u32, Vec<Hash>>,
    dir: Option<String>,
    held: BTreeMap<u32, u64>,
    outstanding: usize,
    ops: BTreeMap<RequestId, Op>,
    cursor: usize,
    current: Option<Current>,
    /// True while waiting for the current file's hash list.
    awaiting_hashes: bool,
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

    fn hash_of(&self, index: u32) -> Option<Hash> {
        manifest::from_hex(self.entries[index as usize].hash.as_deref()?)
    }

    /// The hidden file a file is received into, beside its final place, named
    /// after its content so a later transfer of the same content finds it.
    /// Where file `index` is received: named by its content, so that a new
    /// transfer of the same content resumes it; or, with `private`, also by
    /// this transfer's id, for when another transfer is receiving into the
    /// content's name right now.
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
}

/// Checks an offer completely; the reason says what is wrong.
fn check_offer(name: &str, total: u64, entries: &[Entry]) -> Result<Vec<Vec<String>>, String> {
    if entries.is_empty() || entries.len() > MAX_ENTRIES {
        return Err(format!("1 to {MAX_ENTRIES} entries, not {}", entries.len()));
    }
    let mut paths = Vec::with_capacity(entries.len());
    let mut seen = BTreeSet::new();
    let mut sum: u64 = 0;
    for e in entries {
        let parts = check_relative_path(&e.path).map_err(|err| format!("unsafe name: {err}"))?;
        if parts[0] != name {
            return Err(format!("{:?} is not under {name:?}", e.path));
        }
        if !seen.insert(parts.clone()) {
            return Err(format!("{:?} is listed twice", e.path));
        }
        if e.mime
            .as_ref()
            .is_some_and(|m| m.len() > MAX_MIME || m.chars().any(char::is_control))
        {
            return Err(format!("bad MIME type for {:?}", e.path));
        }
        match e.kind {
            EntryKind::File => {
                if e.hash.as_deref().and_then(manifest::from_hex).is_none() {
                    return Err(format!("{:?} has no valid content hash", e.path));
                }
                sum = sum
                    .checked_add(e.size)
                    .ok_or_else(|| "sizes overflow".to_owned())?;
            }
            EntryKind::Dir if e.size != 0 => return Err(format!("folder {:?} has a size", e.path)),
            EntryKind::Dir => {}
        }
        paths.push(parts);
    }
    if sum != total {
        return Err(format!(
            "the sizes add up to {sum}, not the announced {total}"
        ));
    }
    Ok(paths)
}

impl Transfers {
    /// A peer opened a transfer channel: wait for its offer.
    pub(super) fn receiver_channel_open(
        &mut self,
        _now: Instant,
        _ep: &mut Endpoint,
        peer: &UserName,
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
            return;
        }
        self.by_channel.insert(peer.clone(), channel, key.clone());
        self.receiver_adopt(key.clone());
        if let Some(t) = self.transfers.get_mut(&key) {
            t.channel = Some(channel);
        }
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
                side: Side::Recv(Receiver {
                    phase: Phase::AwaitOffer,
                    entries: Vec::new(),
                    paths: Vec::new(),
                    files: Vec::new(),
                    hashes: BTreeMap::new(),
                    dir: None,
                    held: BTreeMap::new(),
                    outstanding: 0,
                    ops: BTreeMap::new(),
                    cursor: 0,
                    current: None,
                    awaiting_hashes: false,
                }),
            },
        );
    }

    pub(super) fn receiver_accept(
        &mut self,
        now: Instant,
        ep: &mut Endpoint,
        key: &TransferKey,
        dir: String,
    ) -> Result<(), super::TransferError> {
        let t = self
            .transfers
            .get_mut(key)
            .ok_or(super::TransferError::Unknown)?;
        let state = t.state;
        let Some(r) = receiver(t).filter(|r| r.phase == Phase::Offered) else {
            return Err(super::TransferError::WrongState(state));
        };
        r.dir = Some(dir);
        r.phase = Phase::Preparing;
        // Look for what earlier transfers of the same content left behind.
        let files = r.files.clone();
        let temps: Vec<(u32, TargetPath)> =
            files.iter().map(|i| (*i, r.temp_path(*i, None))).collect();
        r.outstanding = temps.len();
        self.set_state(key, TransferState::Connecting);
        for (index, path) in temps {
            self.receiver_request(key, Op::Stat(index), |req| StorageAction::Stat {
                req,
                path,
            });
        }
        self.receiver_prepared_stats(now, ep, key);
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

    pub(super) fn receiver_message(
        &mut self,
        now: Instant,
        ep: &mut Endpoint,
        key: &TransferKey,
        msg: Wire,
    ) {
        let Some(r) = self.transfers.get_mut(key).and_then(receiver) else {
            return;
        };
        match msg {
            Wire::Control(Control::Offer {
                name,
                total,
                entries,
            }) if r.phase == Phase::AwaitOffer => match check_offer(&name, total, &entries) {
                Ok(paths) => {
                    r.files = (0..entries.len() as u32)
                        .filter(|i| entries[*i as usize].kind == EntryKind::File)
                        .collect();
                    r.entries = entries.clone();
                    r.paths = paths;
                    r.phase = Phase::Offered;
                    if let Some(t) = self.transfers.get_mut(key) {
                        t.total = total;
                    }
                    self.state_event(key, TransferState::Inviting);
                    self.events.push_back(TransferEvent::Offered {
                        key: key.clone(),
                        name,
                        total,
                        entries,
                    });
                }
                Err(reason) => {
                    // The application hears of a refused offer: a peer misbehaved.
                    r.phase = Phase::Offered;
                    let reason = format!("refused offer: {reason}");
                    self.abort(now, ep, key, reason, false, false)
                }
            },
            Wire::Hashes {
                file,
                start,
                hashes,
            } if r.phase != Phase::AwaitOffer => {
                let Some(entry) = r
                    .entries
                    .get(file as usize)
                    .filter(|e| e.kind == EntryKind::File)
                else {
                    return self.abort(
                        now,
                        ep,
                        key,
                        format!("hashes for entry {file}, not a file"),
                        false,
                        true,
                    );
                };
                let (size, path) = (entry.size, entry.path.clone());
                let block = manifest::block_size(size);
                let count = manifest::block_count(size, block);
                let list = r.hashes.entry(file).or_default();
                if start as usize != list.len() || (list.len() + hashes.len()) as u64 > count {
                    return self.abort(
                        now,
                        ep,
                        key,
                        format!("hash list of {path} out of order or too long"),
                        false,
                        true,
                    );
                }
                list.extend(hashes);
                if list.len() as u64 == count {
                    let root = manifest::content_hash(size, block, list);
                    if Some(root) != r.hash_of(file) {
                        let reason =
                            format!("the block hashes of {path} do not match its content hash");
                        return self.abort(now, ep, key, reason, false, true);
                    }
                    if r.awaiting_hashes && r.files.get(r.cursor) == Some(&file) {
                        r.awaiting_hashes = false;
                        self.receiver_start_file(now, ep, key);
                    }
                }
            }
            Wire::Data {
                file,
                offset,
                bytes,
            } => self.receiver_data(now, ep, key, file, offset, &bytes),
            Wire::Control(Control::Cancel { reason }) => {
                self.abort(now, ep, key, reason, true, true)
            }
            other => {
                let reason = format!("unexpected message from the sender: {}", describe(&other));
                self.abort(now, ep, key, reason, false, true);
            }
        }
    }

    fn receiver_data(
        &mut self,
        now: Instant,
        ep: &mut Endpoint,
        key: &TransferKey,
        file: u32,
        offset: u64,
        bytes: &[u8],
    ) {
        let Some(r) = self.transfers.get_mut(key).and_then(receiver) else {
            return;
        };
        let Some(cur) = r
            .current
            .as_mut()
            .filter(|c| c.index == file && !c.complete)
        else {
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
        if let Some(cur) = r.current.as_mut()
            && cur.expected == cur.size
            && cur.buf.is_empty()
        {
            cur.complete = true;
        }
        let mut verified = 0;
        for (path, offset, data) in writes {
            verified += data.len() as u64;
            self.receiver_request(key, Op::Write, |req| StorageAction::Write {
                req,
                path,
                offset,
                data,
            });
        }
        if verified > 0 {
            self.progress(now, key, verified, false);
        }
        self.receiver_maybe_finalize(now, ep, key);
    }

    pub(super) fn receiver_storage(
        &mut self,
        now: Instant,
        ep: &mut Endpoint,
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
                    let reason = format!("not enough free space: {need} bytes needed, {free} free");
                    return self.abort(now, ep, key, reason, false, false);
                }
                self.receiver_make_dirs(now, ep, key);
            }
            (Op::CreateDir, StorageResult::Done) => {
                r.outstanding -= 1;
                if r.outstanding == 0 {
                    self.receiver_ready(now, ep, key);
                }
            }
            (Op::Check(block), StorageResult::Data(data)) => {
                self.receiver_checked(now, ep, key, block, &data)
            }
            (Op::Truncate, StorageResult::Done) => self.receiver_ask(now, ep, key),
            (Op::Write, StorageResult::Done) => {
                if let Some(cur) = r.current.as_mut() {
                    cur.writes -= 1;
                }
                self.receiver_maybe_finalize(now, ep, key);
            }
            (Op::Sync, StorageResult::Done) => self.receiver_rename(key, 0),
            (Op::Rename(_), StorageResult::Done) => {
                let Some(cur) = r.current.as_ref() else {
                    return;
                };
                let (path, mtime) = (
                    r.target(cur.final_path.clone()),
                    r.entries[cur.index as usize].mtime,
                );
                self.receiver_request(key, Op::SetMtime, |req| StorageAction::SetMtime {
                    req,
                    path,
                    mtime,
                });
            }
            (Op::Rename(n), StorageResult::Exists) if n < MAX_CONFLICT_NAMES => {
                self.receiver_rename(key, n + 1)
            }
            (Op::Rename(_), StorageResult::Exists) => {
                let reason = "every alternative name is taken".to_owned();
                self.abort(now, ep, key, reason, false, false);
            }
            (Op::SetMtime, StorageResult::Done) => {
                let Some(cur) = r.current.take() else {
                    return;
                };
                r.cursor += 1;
                self.events.push_back(TransferEvent::Saved {
                    key: key.clone(),
                    path: cur.final_path,
                });
                self.receiver_start_file(now, ep, key);
            }
            (op, result) => {
                let reason = format!("storage answered {op:?} with {result:?}");
                self.abort(now, ep, key, reason, false, false);
            }
        }
    }

    /// Once every temporary file was looked at, check the free space.
    fn receiver_prepared_stats(&mut self, _now: Instant, _ep: &mut Endpoint, key: &TransferKey) {
        let Some(r) = self.transfers.get_mut(key).and_then(receiver) else {
            return;
        };
        if r.phase != Phase::Preparing || r.outstanding != 0 {
            return;
        }
        let dir = r.dir.clone().unwrap_or_default();
        self.receiver_request(key, Op::FreeSpace, |req| StorageAction::FreeSpace {
            req,
            dir,
        });
    }

    /// Creates every folder of the transfer, parents first.
    fn receiver_make_dirs(&mut self, now: Instant, ep: &mut Endpoint, key: &TransferKey) {
        let Some(r) = self.transfers.get_mut(key).and_then(receiver) else {
            return;
        };
        let mut dirs: BTreeSet<(usize, Vec<String>)> = BTreeSet::new();
        for (e, parts) in r.entries.iter().zip(&r.paths) {
            let upto = if e.kind == EntryKind::Dir {
                parts.len()
            } else {
                parts.len() - 1
            };
            for n in 1..=upto {
                dirs.insert((n, parts[..n].to_vec()));
            }
        }
        if dirs.is_empty() {
            return self.receiver_ready(now, ep, key); // a lone file: no folder to make
        }
        r.outstanding = dirs.len();
        let paths: Vec<TargetPath> = dirs.into_iter().map(|(_, p)| r.target(p)).collect();
        for path in paths {
            self.receiver_request(key, Op::CreateDir, |req| StorageAction::CreateDir {
                req,
                path,
            });
        }
    }

    /// Space and folders are ready: accept, and start on the first file.
    fn receiver_ready(&mut self, now: Instant, ep: &mut Endpoint, key: &TransferKey) {
        if let Some(r) = self.transfers.get_mut(key).and_then(receiver) {
            r.phase = Phase::Files;
        }
        self.queue(key, Wire::Control(Control::Accept));
        self.flush(now, ep, key);
        self.receiver_start_file(now, ep, key);
    }

    /// Starts the next file: check what is held, then ask for the rest.
    /// Whether a transfer other than `key` is receiving a file into `temp` now.
    fn receiving_into(&self, key: &TransferKey, temp: &TargetPath) -> bool {
        self.transfers.iter().any(|(k, t)| {
            k != key
                && match &t.side {
                    Side::Recv(r) => r.current.as_ref().is_some_and(|c| &c.temp == temp),
                    Side::Send(_) => false,
                }
        })
    }

    fn receiver_start_file(&mut self, now: Instant, ep: &mut Endpoint, key: &TransferKey) {
        let Some(r) = self.transfers.get_mut(key).and_then(receiver) else {
            return;
        };
        let Some(&index) = r.files.get(r.cursor) else {
            // Every file is in place.
            self.queue(key, Wire::Control(Control::Done));
            self.flush(now, ep, key);
            self.progress(now, key, 0, true);
            self.set_state(key, TransferState::Done);
            return;
        };
        let size = r.entries[index as usize].size;
        let block = manifest::block_size(size);
        if (r.hashes.get(&index).map_or(0, Vec::len) as u64) < manifest::block_count(size, block) {
            r.awaiting_hashes = true;
            return;
        }
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
        r.current = Some(Current {
            index,
            size,
            block,
            temp,
            expected: 0,
            buf: Vec::new(),
            hasher: Box::default(),
            hashed: 0,
            writes: 0,
            complete: false,
            final_path: r.paths[index as usize].clone(),
        });
        self.receiver_checked(now, ep, key, u64::MAX, &[]);
    }

    /// Resume check, one block at a time: `block` was just read back as
    /// `data` (`u64::MAX` to begin). Stops at the first block that is missing
    /// or does not match, cuts the temporary file there, and asks for the rest.
    fn receiver_checked(
        &mut self,
        now: Instant,
        _ep: &mut Endpoint,
        key: &TransferKey,
        block: u64,
        data: &[u8],
    ) {
        let Some(r) = self.transfers.get_mut(key).and_then(receiver) else {
            return;
        };
        let Some(cur) = r.current.as_mut() else {
            return;
        };
        let held = r.held.get(&cur.index).copied().unwrap_or(0);
        let list = r.hashes.get(&cur.index).cloned().unwrap_or_default();
        let next = if block == u64::MAX {
            0
        } else if list.get(block as usize) == Some(&manifest::hash_block(data)) {
            block + 1
        } else {
            block // this block is bad: resume from it
        };
        let next_len = manifest::block_len(cur.size, cur.block, next);
        let readable = next_len > 0 && next * cur.block + next_len <= held;
        if readable && (block == u64::MAX || next > block) {
            let (path, offset) = (cur.temp.clone(), next * cur.block);
            return self.receiver_request(key, Op::Check(next), |req| StorageAction::Read {
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
        if keep > 0 {
            self.progress_resumed(now, key, keep);
        }
        self.receiver_request(key, Op::Truncate, |req| StorageAction::Truncate {
            req,
            path,
            len: keep,
        });
    }

    /// The temporary file is ready: ask the sender for what is missing.
    fn receiver_ask(&mut self, now: Instant, ep: &mut Endpoint, key: &TransferKey) {
        let Some(r) = self.transfers.get_mut(key).and_then(receiver) else {
            return;
        };
        let Some(cur) = r.current.as_mut() else {
            return;
        };
        if cur.expected == cur.size {
            cur.complete = true;
            return self.receiver_maybe_finalize(now, ep, key);
        }
        let (file, offset) = (cur.index, cur.expected);
        self.queue(key, Wire::Control(Control::Get { file, offset }));
        self.flush(now, ep, key);
        self.set_state(key, TransferState::Connected);
    }

    fn receiver_maybe_finalize(&mut self, _now: Instant, _ep: &mut Endpoint, key: &TransferKey) {
        let Some(r) = self.transfers.get_mut(key).and_then(receiver) else {
            return;
        };
        let Some(cur) = r.current.as_mut() else {
            return;
        };
        if !cur.complete || cur.writes > 0 {
            return;
        }
        cur.writes = usize::MAX / 2; // finalizing: no second start
        let path = cur.temp.clone();
        self.receiver_request(key, Op::Sync, |req| StorageAction::Sync { req, path });
    }

    /// Renames the verified file into place under its name, or its n-th alternative.
    fn receiver_rename(&mut self, key: &TransferKey, n: u32) {
        let Some(r) = self.transfers.get_mut(key).and_then(receiver) else {
            return;
        };
        let Some(cur) = r.current.as_mut() else {
            return;
        };
        let mut parts = r.paths[cur.index as usize].clone();
        if let Some(last) = parts.pop() {
            parts.push(conflict_name(&last, n));
        }
        cur.final_path = parts.clone();
        let (from, to) = (cur.temp.clone(), r.target(parts));
        self.receiver_request(key, Op::Rename(n), |req| StorageAction::Rename {
            req,
            from,
            to,
        });
    }

    /// True while the channel is open but no offer has come: the application
    /// knows nothing of this transfer yet.
    pub(super) fn receiver_awaits_offer(&mut self, key: &TransferKey) -> bool {
        self.transfers
            .get_mut(key)
            .and_then(receiver)
            .is_some_and(|r| r.phase == Phase::AwaitOffer)
    }

    /// An explicit cancel or a bad sender: the unfinished temporary file goes.
    pub(super) fn receiver_discard(&mut self, key: &TransferKey) {
        let Some(r) = self.transfers.get_mut(key).and_then(receiver) else {
            return;
        };
        let Some(cur) = r.current.as_ref() else {
            return;
        };
        let path = cur.temp.clone();
        // Its result is not awaited: the transfer is over.
        let req = RequestId(self.next_request);
        self.next_request += 1;
        self.actions.push_back(StorageAction::Remove { req, path });
    }
}
