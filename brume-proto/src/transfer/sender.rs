//! The sending side: hash, offer (in pieces), then stream the files the
//! receiver asks for, in the order it asks.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Instant;

use super::ChannelLevels;
use super::manifest::{self, Entry, EntryKind, Hash, MAX_PATH_BYTES, PIECE_BYTES};
use super::names::check_relative_path;
use super::wire::{self, Control, DATA_OVERHEAD, HASHES_OVERHEAD, Wire};
use super::{
    CHANNEL_PREFIX, MAX_ENTRIES, RequestId, Side, SourceEntry, StorageAction, StorageResult,
    TransferKey, TransferState, Transfers,
};

/// The largest data message, framing included: str0m's own default maximum.
const MAX_CHUNK_MESSAGE: usize = 256 * 1024;

#[derive(Debug, PartialEq, Eq)]
enum Phase {
    /// Reading every file once to hash its blocks.
    Hashing,
    /// The channel is opening.
    Opening,
    /// Offered; waiting for the receiver.
    Offered,
    /// Accepted: sending what the receiver asks for.
    Streaming,
}

#[derive(Debug)]
struct Stream {
    file: u32,
    size: u64,
    next_read: u64,
    next_send: u64,
    /// Chunks read and not yet sent, by offset.
    ready: BTreeMap<u64, Vec<u8>>,
    reads: usize,
}

#[derive(Debug)]
pub(crate) struct Sender {
    entries: Vec<Entry>,
    /// Indices of the file entries, in order.
    files: Vec<u32>,
    /// Each file's block hashes: given, or sealed once hashed.
    blocks: BTreeMap<u32, Vec<Hash>>,
    phase: Phase,
    /// Ranges still to hash: file, offset, length (whole blocks).
    to_hash: VecDeque<(u32, u64, u64)>,
    /// Hash requests in flight: file, offset and length.
    hash_reads: BTreeMap<RequestId, (u32, u64, u64)>,
    /// Block hashes back so far, by file and by the offset they start at.
    hash_parts: BTreeMap<u32, BTreeMap<u64, Vec<Hash>>>,
    /// Bytes hashed so far, for [`super::TransferEvent::Hashing`].
    hashed: u64,
    /// The files asked for, in order; the first is being sent.
    streams: VecDeque<Stream>,
    /// Source reads in flight: file, offset and length.
    reads: BTreeMap<RequestId, (u32, u64, u64)>,
    /// Channels opened for this transfer so far.
    opens: u8,
}

/// Hash requests in flight per transfer: the driver may run them side by
/// side (the mio driver does, on its storage threads).
const HASHES_IN_FLIGHT: usize = 8;
/// Blocks in one hash request: progress is heard at least this often, and
/// a large file is hashed in parallel pieces.
const HASH_RANGE_BLOCKS: u64 = 16;

/// Channels a transfer opens before it gives up on one that never answers
/// (str0m can drop a channel opened on a just-reused stream id).
const MAX_OPENS: u8 = 3;

impl Sender {
    /// Checks what the application wants to send.
    pub(crate) fn new(mut sources: Vec<SourceEntry>) -> Result<Self, String> {
        if sources.is_empty() || sources.len() > MAX_ENTRIES {
            return Err(format!(
                "a transfer holds 1 to {MAX_ENTRIES} entries, not {}",
                sources.len()
            ));
        }
        let path_bytes: usize = sources.iter().map(|s| s.path.len()).sum();
        if path_bytes > MAX_PATH_BYTES {
            return Err(format!(
                "the entries' paths add up to {path_bytes} bytes, more than the {MAX_PATH_BYTES} a transfer holds"
            ));
        }
        let mut seen = BTreeSet::new();
        let mut root = None;
        for s in &sources {
            let parts = check_relative_path(&s.path).map_err(|e| e.to_string())?;
            if root.get_or_insert_with(|| parts[0].clone()) != &parts[0] {
                return Err("every entry must be under one top-level name".into());
            }
            if !seen.insert(parts) {
                return Err(format!("{:?} is listed twice", s.path));
            }
        }
        // Given lists go straight where sealed ones go (one map for the
        // whole batch, not one per file).
        let mut blocks = BTreeMap::new();
        let mut hashed = 0;
        for (index, s) in sources.iter_mut().enumerate() {
            let Some(list) = s.blocks.take().filter(|_| s.kind == EntryKind::File) else {
                continue;
            };
            let want = manifest::block_count(s.size, manifest::block_size(s.size));
            if list.len() as u64 != want {
                return Err(format!(
                    "{:?} has {} block hashes where its size needs {want}",
                    s.path,
                    list.len()
                ));
            }
            blocks.insert(index as u32, list);
            hashed += s.size;
        }
        let entries: Vec<Entry> = sources
            .into_iter()
            .map(|s| Entry {
                size: if s.kind == EntryKind::File { s.size } else { 0 },
                path: s.path,
                kind: s.kind,
                mtime: s.mtime,
                mime: s.mime,
                hash: None,
                executable: s.kind == EntryKind::File && s.executable,
            })
            .collect();
        let files: Vec<u32> = (0..entries.len() as u32)
            .filter(|i| entries[*i as usize].kind == EntryKind::File)
            .collect();
        let mut to_hash = VecDeque::new();
        for &index in files.iter().filter(|i| !blocks.contains_key(*i)) {
            let size = entries[index as usize].size;
            let range = manifest::block_size(size) * HASH_RANGE_BLOCKS;
            let mut offset = 0;
            while offset < size {
                let len = range.min(size - offset);
                to_hash.push_back((index, offset, len));
                offset += len;
            }
        }
        Ok(Self {
            entries,
            files,
            blocks,
            phase: Phase::Hashing,
            to_hash,
            hash_reads: BTreeMap::new(),
            hash_parts: BTreeMap::new(),
            hashed,
            streams: VecDeque::new(),
            reads: BTreeMap::new(),
            opens: 0,
        })
    }

    pub(crate) fn total(&self) -> u64 {
        self.entries.iter().map(|e| e.size).sum()
    }

    fn name(&self) -> String {
        let first = &self.entries[0].path;
        first.split('/').next().unwrap_or(first).to_owned()
    }
}

fn sender(t: &mut super::Transfer) -> Option<&mut Sender> {
    match &mut t.side {
        Side::Send(s) => Some(s),
        Side::Recv(_) => None,
    }
}

impl Transfers {
    /// Moves the sender along as far as it can go now.
    pub(super) fn sender_step(&mut self, now: Instant, ep: &dyn ChannelLevels, key: &TransferKey) {
        let Some(s) = self.transfers.get_mut(key).and_then(sender) else {
            return;
        };
        match s.phase {
            Phase::Hashing => self.hash_next(now, key),
            Phase::Streaming => self.stream_more(now, ep, key),
            Phase::Opening | Phase::Offered => {}
        }
    }

    /// Tells the application how far hashing is, at most every
    /// `progress_every` unless `force`.
    fn hashing(&mut self, now: Instant, key: &TransferKey, done: u64, force: bool) {
        let every = self.config.progress_every;
        let Some(t) = self.transfers.get_mut(key) else {
            return;
        };
        if !force && t.last_progress.is_some_and(|at| now < at + every) {
            return;
        }
        t.last_progress = Some(now);
        self.events.push_back(super::TransferEvent::Hashing {
            key: key.clone(),
            done,
            total: t.total,
        });
    }

    /// Asks for the hashes of more ranges while fewer than
    /// [`HASHES_IN_FLIGHT`] are out; once every range is back, seals each
    /// file's hash and opens the channel.
    fn hash_next(&mut self, now: Instant, key: &TransferKey) {
        let Some(s) = self.transfers.get_mut(key).and_then(sender) else {
            return;
        };
        if s.phase != Phase::Hashing {
            return;
        }
        let hashed = s.hashed;
        self.hashing(now, key, hashed, hashed == 0);
        loop {
            let Some(s) = self.transfers.get_mut(key).and_then(sender) else {
                return;
            };
            if s.hash_reads.len() >= HASHES_IN_FLIGHT {
                return;
            }
            let Some((index, offset, len)) = s.to_hash.pop_front() else {
                break;
            };
            let block = manifest::block_size(s.entries[index as usize].size);
            let transfer = key.clone();
            let req = self.request(key, |req| StorageAction::HashSource {
                req,
                transfer,
                index,
                offset,
                len,
                block,
            });
            if let Some(s) = self.transfers.get_mut(key).and_then(sender) {
                s.hash_reads.insert(req, (index, offset, len));
            }
        }
        let Some(s) = self.transfers.get_mut(key).and_then(sender) else {
            return;
        };
        if !s.hash_reads.is_empty() {
            return;
        }
        // Every range is back: seal each file (empty ones have no blocks).
        for &index in &s.files {
            let size = s.entries[index as usize].size;
            let block = manifest::block_size(size);
            let list: Vec<Hash> = s.blocks.remove(&index).unwrap_or_else(|| {
                s.hash_parts
                    .remove(&index)
                    .map(|parts| parts.into_values().flatten().collect())
                    .unwrap_or_default()
            });
            let hash = manifest::content_hash(size, block, &list);
            s.entries[index as usize].hash = Some(manifest::to_hex(&hash));
            s.blocks.insert(index, list);
        }
        s.phase = Phase::Opening;
        let total = s.total();
        self.hashing(now, key, total, true);
        self.sender_open_channel(key);
    }

    /// The hashes of one range came back.
    fn sender_hashed(
        &mut self,
        now: Instant,
        ep: &dyn ChannelLevels,
        key: &TransferKey,
        req: RequestId,
        hashes: Vec<Hash>,
    ) {
        let Some(s) = self.transfers.get_mut(key).and_then(sender) else {
            return;
        };
        let Some((index, offset, len)) = s.hash_reads.remove(&req) else {
            return;
        };
        let block = manifest::block_size(s.entries[index as usize].size);
        if hashes.len() as u64 != manifest::block_count(len, block) {
            let path = s.entries[index as usize].path.clone();
            return self.abort(
                now,
                ep,
                key,
                format!("{path} changed while it was read"),
                false,
                false,
            );
        }
        s.hash_parts
            .entry(index)
            .or_default()
            .insert(offset, hashes);
        s.hashed += len;
        self.hash_next(now, key);
    }

    /// Opens the transfer's channel (labelled with its id, so a second one
    /// for the same transfer is the same transfer to the receiver).
    fn sender_open_channel(&mut self, key: &TransferKey) {
        if let Some(s) = self.transfers.get_mut(key).and_then(sender) {
            s.opens += 1;
        }
        let label = format!("{CHANNEL_PREFIX}{:016x}", key.id);
        self.opening
            .insert((key.peer.clone(), label.clone()), key.clone());
        self.commands.push(super::ChannelCommand::Open {
            peer: key.peer.clone(),
            label,
        });
    }

    /// Our channel closed before it ever opened (the endpoint gives up on
    /// one unanswered for `channel_open_timeout`): while the connection
    /// holds, open another, at most [`MAX_OPENS`] in all. True if it did.
    pub(super) fn sender_reopen(&mut self, ep: &dyn ChannelLevels, key: &TransferKey) -> bool {
        let Some(t) = self.transfers.get_mut(key) else {
            return false;
        };
        let old = t.channel;
        let retry = !t.open
            && !t.aborting
            && sender(t).is_some_and(|s| s.phase == Phase::Opening && s.opens < MAX_OPENS);
        if !retry || !ep.is_open(&key.peer) {
            return false;
        }
        t.channel = None;
        if let Some(old) = old {
            self.by_channel.remove(&key.peer, old);
        }
        self.sender_open_channel(key);
        true
    }

    /// Our channel opened: offer, with every file's block hashes.
    pub(super) fn sender_channel_open(
        &mut self,
        now: Instant,
        ep: &dyn ChannelLevels,
        key: &TransferKey,
    ) {
        let low = self.window_mut(&key.peer).size() / 2;
        if let Some(channel) = self.transfers.get(key).and_then(|t| t.channel) {
            // Refill at half: the buffer never runs dry while SACKs drain it.
            self.commands.push(super::ChannelCommand::SetBufferedLow {
                peer: key.peer.clone(),
                channel,
                threshold: low,
            });
        }
        let per_message = ep
            .max_message_size(&key.peer)
            .map_or(1, |m| (m.saturating_sub(HASHES_OVERHEAD) / 32).max(1));
        let Some(s) = self.transfers.get_mut(key).and_then(sender) else {
            return;
        };
        if !matches!(s.phase, Phase::Opening) {
            return;
        }
        s.phase = Phase::Offered;
        // The entries go in pieces of about PIECE_BYTES of JSON: the first
        // in the offer, the rest in `entries` messages, all before any hash.
        let mut pieces: Vec<Vec<Entry>> = vec![Vec::new()];
        let mut piece_bytes = 0;
        for e in &s.entries {
            // An entry is plain strings and numbers: it always serialises.
            let len = serde_json::to_string(e).map_or(0, |j| j.len() + 1);
            if piece_bytes + len > PIECE_BYTES && !pieces[pieces.len() - 1].is_empty() {
                pieces.push(Vec::new());
                piece_bytes = 0;
            }
            piece_bytes += len;
            let last = pieces.len() - 1;
            pieces[last].push(e.clone());
        }
        let mut pieces = pieces.into_iter();
        let first = pieces.next().unwrap_or_default();
        let mut start = first.len() as u64;
        let offer = Control::Offer {
            name: s.name(),
            total: s.total(),
            count: Some(s.entries.len() as u64),
            entries: first,
        };
        let mut msgs = vec![Wire::Control(offer)];
        for piece in pieces {
            let len = piece.len() as u64;
            msgs.push(Wire::Control(Control::Entries {
                start,
                entries: piece,
            }));
            start += len;
        }
        for (&file, list) in &s.blocks {
            for (i, chunk) in list.chunks(per_message).enumerate() {
                msgs.push(Wire::Hashes {
                    file,
                    start: (i * per_message) as u32,
                    hashes: chunk.to_vec(),
                });
            }
        }
        for m in msgs {
            self.queue(key, m);
        }
        self.flush(now, ep, key);
    }

    pub(super) fn sender_message(
        &mut self,
        now: Instant,
        ep: &dyn ChannelLevels,
        key: &TransferKey,
        msg: Wire,
    ) {
        let Some(s) = self.transfers.get_mut(key).and_then(sender) else {
            return;
        };
        match msg {
            Wire::Control(Control::Accept) if matches!(s.phase, Phase::Offered) => {
                self.set_state(key, TransferState::Connecting)
            }
            Wire::Control(Control::Reject { reason }) => {
                self.abort(now, ep, key, reason, true, false)
            }
            Wire::Control(Control::Cancel { reason }) => {
                self.abort(now, ep, key, reason, true, false)
            }
            Wire::Control(Control::Get { file, offset }) => {
                let Some(entry) = s.entries.get(file as usize) else {
                    return self.abort(
                        now,
                        ep,
                        key,
                        format!("asked for entry {file}, which is not offered"),
                        false,
                        false,
                    );
                };
                let size = entry.size;
                let block = manifest::block_size(size);
                if entry.kind != EntryKind::File || offset > size || offset % block != 0 {
                    let reason = format!(
                        "asked for {} from {offset}, which is not a block of it",
                        entry.path
                    );
                    return self.abort(now, ep, key, reason, false, false);
                }
                if s.streams.iter().any(|st| st.file == file) {
                    let reason = format!("asked for {} twice at once", entry.path);
                    return self.abort(now, ep, key, reason, false, false);
                }
                s.phase = Phase::Streaming;
                s.streams.push_back(Stream {
                    file,
                    size,
                    next_read: offset,
                    next_send: offset,
                    ready: BTreeMap::new(),
                    reads: 0,
                });
                self.set_state(key, TransferState::Connected);
                // What the receiver already held counts as done, not as moved.
                self.progress_resumed(now, key, offset);
                self.stream_more(now, ep, key);
            }
            Wire::Control(Control::Done) => {
                self.progress(now, key, 0, true);
                self.finish(now, ep, key, TransferState::Done, None);
            }
            other => {
                let reason = format!("unexpected message from the receiver: {}", describe(&other));
                self.abort(now, ep, key, reason, false, false);
            }
        }
    }

    pub(super) fn sender_storage(
        &mut self,
        now: Instant,
        ep: &dyn ChannelLevels,
        key: &TransferKey,
        req: RequestId,
        result: StorageResult,
    ) {
        let Some(s) = self.transfers.get_mut(key).and_then(sender) else {
            return;
        };
        if s.hash_reads.contains_key(&req) {
            return match result {
                StorageResult::Hashes(hashes) => self.sender_hashed(now, ep, key, req, hashes),
                _ => self.abort(
                    now,
                    ep,
                    key,
                    "storage answered a hash request without hashes".into(),
                    false,
                    false,
                ),
            };
        }
        let StorageResult::Data(bytes) = result else {
            return self.abort(
                now,
                ep,
                key,
                "storage answered a read without data".into(),
                false,
                false,
            );
        };
        let Some((file, offset, len)) = s.reads.remove(&req) else {
            return;
        };
        let Some(stream) = s.streams.iter_mut().find(|st| st.file == file) else {
            return;
        };
        stream.reads -= 1;
        if bytes.len() as u64 != DATA_OVERHEAD as u64 + len {
            let path = s.entries[stream.file as usize].path.clone();
            return self.abort(
                now,
                ep,
                key,
                format!("{path} changed while it was sent"),
                false,
                false,
            );
        }
        stream.ready.insert(offset, bytes);
        self.stream_more(now, ep, key);
    }

    /// The length of the next data message, if its chunk has been read.
    fn next_chunk_len(&self, key: &TransferKey) -> Option<usize> {
        let stream = match &self.transfers.get(key)?.side {
            Side::Send(s) => s.streams.front()?,
            Side::Recv(_) => return None,
        };
        // Read with room for the header: already a whole message's length.
        stream.ready.get(&stream.next_send).map(Vec::len)
    }

    /// Sends what is ready while the peer's send window has room, and reads ahead.
    fn stream_more(&mut self, now: Instant, ep: &dyn ChannelLevels, key: &TransferKey) {
        let read_ahead = self.config.read_ahead;
        self.observe_window(now, ep, &key.peer);
        // Chunks are an eighth of the peer's send window, up to the
        // negotiated maximum message: small on a short path, where bytes in
        // flight only cost CPU, large on a long one. SCTP hands a message
        // over only once all of it is in, so half-received messages of
        // several channels sit in the receive window; the window (under the
        // 1 MiB receive window) keeps them from filling it.
        let max_message = ep
            .max_message_size(&key.peer)
            .map_or(16 * 1024, |m| m.min(MAX_CHUNK_MESSAGE));
        let message = self.window_mut(&key.peer).chunk(max_message);
        let chunk = message.saturating_sub(DATA_OVERHEAD).max(1) as u64;
        let mut sent = 0;
        while let Some(len) = self.next_chunk_len(key) {
            let queued = self.queued_to_peer(ep, &key.peer);
            let window = self.window_mut(&key.peer);
            if !window.admits(queued, len) {
                let need = (queued + len).saturating_sub(window.size());
                self.arm_wakeups(ep, &key.peer, Some(need));
                break;
            }
            let Some(s) = self.transfers.get_mut(key).and_then(sender) else {
                return;
            };
            let Some(stream) = s.streams.front_mut() else {
                break;
            };
            let Some(mut frame) = stream.ready.remove(&stream.next_send) else {
                break;
            };
            wire::frame_data_in_place(stream.file, stream.next_send, &mut frame);
            let len = (frame.len() - DATA_OVERHEAD) as u64;
            stream.next_send += len;
            sent += len;
            if stream.next_send >= stream.size {
                s.streams.pop_front(); // all sent; on to the next file asked for
            }
            self.queue_frame(key, frame);
            self.flush(now, ep, key);
        }
        if sent > 0 {
            self.progress(now, key, sent, false);
        }
        // Read ahead, a few chunks at a time, into the next files asked for
        // once this one is all read.
        loop {
            let Some(s) = self.transfers.get_mut(key).and_then(sender) else {
                return;
            };
            // Empty files (resumed whole, or of no bytes) have nothing to send.
            while s.streams.front().is_some_and(|st| st.next_send >= st.size) {
                s.streams.pop_front();
            }
            let held: usize = s.streams.iter().map(|st| st.reads + st.ready.len()).sum();
            if held >= read_ahead {
                return;
            }
            let Some(stream) = s.streams.iter_mut().find(|st| st.next_read < st.size) else {
                return;
            };
            let (index, offset) = (stream.file, stream.next_read);
            let len = chunk.min(stream.size - offset);
            stream.next_read += len;
            stream.reads += 1;
            let req = self.read_source(key, (index, offset, len), DATA_OVERHEAD);
            if let Some(s) = self.transfers.get_mut(key).and_then(sender) {
                s.reads.insert(req, (index, offset, len));
            }
        }
    }
}

impl Transfers {
    /// Asks for `len` bytes at `offset` of source file `index`, after
    /// `head_room` bytes left for a message header.
    fn read_source(
        &mut self,
        key: &TransferKey,
        (index, offset, len): (u32, u64, u64),
        head_room: usize,
    ) -> RequestId {
        let transfer = key.clone();
        self.request(key, |req| StorageAction::ReadSource {
            req,
            transfer,
            index,
            offset,
            len,
            head_room,
        })
    }
}

impl Transfers {
    /// The entry a storage request of a sending transfer was about.
    pub(super) fn sender_entry_of(&mut self, key: &TransferKey, req: RequestId) -> Option<String> {
        let s = self.transfers.get_mut(key).and_then(sender)?;
        let file = match s.reads.get(&req) {
            Some((file, _, _)) => *file,
            None => s.hash_reads.get(&req).map(|(file, _, _)| *file)?,
        };
        Some(s.entries.get(file as usize)?.path.clone())
    }
}

/// A message's kind, for error reasons.
pub(super) fn describe(msg: &Wire) -> &'static str {
    match msg {
        Wire::Control(Control::Offer { .. }) => "offer",
        Wire::Control(Control::Entries { .. }) => "entries",
        Wire::Control(Control::Accept) => "accept",
        Wire::Control(Control::Reject { .. }) => "reject",
        Wire::Control(Control::Get { .. }) => "get",
        Wire::Control(Control::Done) => "done",
        Wire::Control(Control::Cancel { .. }) => "cancel",
        Wire::Hashes { .. } => "hashes",
        Wire::Data { .. } => "data",
    }
}
