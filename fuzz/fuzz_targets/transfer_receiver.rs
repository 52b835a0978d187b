//! A hostile sender drives a receiving transfer with any sequence of
//! messages (well-formed ones built from the input, and raw bytes), while the
//! storage answers; the receiver never panics, never names a path outside
//! the folder it was given, and never puts bytes under a final name that do
//! not match the hashes it checked them against.

#![no_main]

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use arbitrary::Arbitrary;
use brume_proto::endpoint::{Certificate, EndpointConfig};
use brume_proto::node::{Node, NodeConfig, NodeEvent};
use brume_proto::signal::{Address, UserName};
use brume_proto::transfer::wire::{Control, Wire};
use brume_proto::transfer::{
    Entry, EntryKind, StorageAction, StorageResult, TargetPath, TransferEvent, block_size,
    content_hash, hash_block,
};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
enum Step {
    /// A consistent offer of up to three files from these bytes.
    GoodOffer(Vec<(u8, Vec<u8>)>),
    /// An offer with names and numbers from the input.
    Offer {
        name: String,
        total: u64,
        /// The entries announced in all, if not just these.
        count: Option<u8>,
        paths: Vec<(String, u64, bool)>,
    },
    /// A further piece of entries, from `start`, with names from the input.
    Entries {
        start: u64,
        paths: Vec<(String, u64, bool)>,
    },
    /// The true block hashes of file `n` of the good offer, or junk.
    Hashes {
        file: u32,
        start: u32,
        junk: Option<[u8; 32]>,
    },
    /// Bytes of file `n` of the good offer from `offset`, possibly corrupted.
    Data {
        file: u32,
        offset: u16,
        len: u16,
        flip: Option<u16>,
    },
    /// Raw bytes on the channel.
    Raw(Vec<u8>),
    Cancel(String),
    /// The application accepts.
    Accept,
    /// Storage fails the next action.
    FailNext,
    /// Time passes.
    Wait(u16),
}

fn cert() -> Certificate {
    static CERT: OnceLock<Certificate> = OnceLock::new();
    CERT.get_or_init(|| Certificate::generate().expect("a certificate"))
        .clone()
}

fn check_path(p: &TargetPath) {
    assert_eq!(p.dir, "inbox", "a path outside the chosen folder: {p:?}");
    assert!(!p.components.is_empty());
    for c in &p.components {
        assert!(
            !c.is_empty() && c != "." && c != ".." && !c.contains('/') && !c.contains('\0'),
            "unsafe component {c:?}"
        );
    }
}

fuzz_target!(|steps: Vec<Step>| {
    let start = Instant::now();
    let mut now = start;
    let config = EndpointConfig::new("token".into(), cert(), 1);
    let mut t = Node::new(NodeConfig::new(config), now);
    let peer = Address::User(UserName::new("mallory").unwrap());
    let key = t.fuzz_receiver(&peer, 1);
    // A tiny in-memory disk: full path → bytes.
    let mut disk: std::collections::BTreeMap<Vec<String>, Vec<u8>> = Default::default();
    let mut files: Vec<Vec<u8>> = Vec::new();
    let mut fail_next = false;
    for step in steps.into_iter().take(64) {
        match step {
            Step::GoodOffer(list) => {
                files = list.into_iter().take(3).map(|(_, b)| b).collect();
                let entries: Vec<Entry> = files
                    .iter()
                    .enumerate()
                    .map(|(i, b)| {
                        let block = block_size(b.len() as u64);
                        let hashes: Vec<[u8; 32]> =
                            b.chunks(block as usize).map(hash_block).collect();
                        let root = content_hash(b.len() as u64, block, &hashes);
                        Entry {
                            path: format!("d/f{i}"),
                            kind: EntryKind::File,
                            size: b.len() as u64,
                            mtime: 0,
                            mime: None,
                            hash: Some(root.iter().map(|x| format!("{x:02x}")).collect()),
                            executable: i == 0,
                        }
                    })
                    .chain(std::iter::once(Entry::dir("d")))
                    .collect();
                let total = files.iter().map(|b| b.len() as u64).sum();
                let msg = Wire::Control(Control::Offer {
                    count: None,
                    name: "d".into(),
                    total,
                    entries,
                });
                t.fuzz_message(now, &key, &msg.encode());
            }
            Step::Offer {
                name,
                total,
                count,
                paths,
            } => {
                let entries = paths
                    .into_iter()
                    .take(8)
                    .map(|(path, size, dir)| Entry {
                        path,
                        kind: if dir { EntryKind::Dir } else { EntryKind::File },
                        size,
                        mtime: 0,
                        mime: None,
                        hash: Some("00".repeat(32)),
                        executable: false,
                    })
                    .collect();
                let msg = Wire::Control(Control::Offer {
                    count: count.map(u64::from),
                    name,
                    total,
                    entries,
                });
                t.fuzz_message(now, &key, &msg.encode());
            }
            Step::Entries { start, paths } => {
                let entries = paths
                    .into_iter()
                    .take(8)
                    .map(|(path, size, dir)| Entry {
                        path,
                        kind: if dir { EntryKind::Dir } else { EntryKind::File },
                        size,
                        mtime: 0,
                        mime: None,
                        hash: Some("00".repeat(32)),
                        executable: false,
                    })
                    .collect();
                let msg = Wire::Control(Control::Entries { start, entries });
                t.fuzz_message(now, &key, &msg.encode());
            }
            Step::Hashes { file, start, junk } => {
                let hashes = match (junk, files.get(file as usize)) {
                    (Some(j), _) => vec![j],
                    (None, Some(b)) => b
                        .chunks(block_size(b.len() as u64) as usize)
                        .map(hash_block)
                        .collect(),
                    (None, None) => vec![],
                };
                let msg = Wire::Hashes {
                    file,
                    start,
                    hashes,
                };
                t.fuzz_message(now, &key, &msg.encode());
            }
            Step::Data {
                file,
                offset,
                len,
                flip,
            } => {
                let Some(b) = files.get(file as usize) else {
                    continue;
                };
                let from = (offset as usize).min(b.len());
                let to = (from + len as usize).min(b.len() + 8);
                let mut bytes: Vec<u8> = (from..to)
                    .map(|i| b.get(i).copied().unwrap_or(0xee))
                    .collect();
                if let Some(f) = flip {
                    if let Some(x) = bytes.get_mut(f as usize) {
                        *x ^= 1;
                    }
                }
                let msg = Wire::Data {
                    file,
                    offset: from as u64,
                    bytes: bytes.into(),
                };
                t.fuzz_message(now, &key, &msg.encode());
            }
            Step::Raw(bytes) => t.fuzz_message(now, &key, &bytes),
            Step::Cancel(reason) => t.fuzz_message(
                now,
                &key,
                &Wire::Control(Control::Cancel { reason }).encode(),
            ),
            Step::Accept => {
                let _ = t.accept_transfer(now, &key, "inbox".into());
            }
            Step::FailNext => fail_next = true,
            Step::Wait(ms) => now += Duration::from_millis(ms as u64),
        }
        // The storage answers everything asked of it.
        while let Some(action) = t.poll_storage() {
            let full = |p: &TargetPath| -> Vec<String> {
                std::iter::once(p.dir.clone())
                    .chain(p.components.clone())
                    .collect()
            };
            let result = if std::mem::take(&mut fail_next) {
                StorageResult::Failed("disk error".into())
            } else {
                match &action {
                    StorageAction::ReadSource { .. }
                    | StorageAction::HashSource { .. }
                    | StorageAction::ReleaseSources { .. } => {
                        panic!("a receiver never reads sources")
                    }
                    StorageAction::Read {
                        path, offset, len, ..
                    } => {
                        check_path(path);
                        let d = disk.get(&full(path)).cloned().unwrap_or_default();
                        let a = (*offset as usize).min(d.len());
                        let b = (a + *len as usize).min(d.len());
                        StorageResult::Data(d[a..b].to_vec())
                    }
                    StorageAction::Stat { path, .. } => {
                        check_path(path);
                        StorageResult::Size(disk.get(&full(path)).map(|d| d.len() as u64))
                    }
                    StorageAction::FreeSpace { dir, .. } => {
                        assert_eq!(dir, "inbox");
                        StorageResult::Size(Some(1 << 30))
                    }
                    StorageAction::SetAttributes { path, finish, .. } => {
                        check_path(path);
                        let f = disk.entry(full(path)).or_default();
                        f.resize(finish.len as usize, 0);
                        StorageResult::Done
                    }
                    StorageAction::CreateDir { path, .. } | StorageAction::Remove { path, .. } => {
                        check_path(path);
                        if let StorageAction::Remove { .. } = action {
                            disk.remove(&full(path));
                        }
                        StorageResult::Done
                    }
                    StorageAction::Sync { paths, .. } => {
                        paths.iter().for_each(check_path);
                        StorageResult::Done
                    }
                    StorageAction::Write {
                        path,
                        offset,
                        data,
                        finish,
                        ..
                    } => {
                        check_path(path);
                        let f = disk.entry(full(path)).or_default();
                        let end = *offset as usize + data.len();
                        if f.len() < end {
                            f.resize(end, 0);
                        }
                        f[*offset as usize..end].copy_from_slice(data);
                        if let Some(finish) = finish {
                            f.resize(finish.len as usize, 0);
                        }
                        StorageResult::Done
                    }
                    StorageAction::Truncate { path, len, .. } => {
                        check_path(path);
                        disk.entry(full(path)).or_default().resize(*len as usize, 0);
                        StorageResult::Done
                    }
                    StorageAction::Rename { from, to, .. } => {
                        check_path(from);
                        check_path(to);
                        if disk.contains_key(&full(to)) {
                            StorageResult::Exists
                        } else if let Some(d) = disk.remove(&full(from)) {
                            disk.insert(full(to), d);
                            StorageResult::Done
                        } else {
                            StorageResult::Failed("missing".into())
                        }
                    }
                }
            };
            t.handle_storage(now, action.req(), result);
        }
        // Nothing is connected: what the node would send goes nowhere.
        while t.poll_transmit().is_some() || t.poll_hub().is_some() {}
        while let Some(e) = t.poll_event() {
            if let NodeEvent::Transfer(TransferEvent::Saved { path, .. }) = e {
                // A saved file holds exactly the offered bytes of that file.
                let name = path.last().cloned().unwrap_or_default();
                let index: usize = name
                    .trim_start_matches('f')
                    .split(' ')
                    .next()
                    .unwrap_or("")
                    .parse()
                    .unwrap_or(usize::MAX);
                let mut full = vec!["inbox".to_owned()];
                full.extend(path.clone());
                assert_eq!(
                    disk.get(&full),
                    files.get(index),
                    "saved {path:?} differs from what was offered"
                );
            }
        }
    }
});
