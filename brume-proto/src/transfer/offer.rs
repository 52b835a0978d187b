//! An offer as it arrives: the first piece in `offer`, the rest in
//! `entries` messages, then every file's block hashes. Each piece is checked
//! as it comes, so a bad one is refused at once and nothing unbounded is
//! held; the application hears of the offer only once all of it has come
//! and checked out.
//!
//! Never: touches storage or the wire.

use std::collections::{BTreeMap, BTreeSet};

use super::manifest::{self, Entry, EntryKind, Hash, MAX_ENTRIES, MAX_PATH_BYTES};
use super::names::{NamePolicy, store_path};

/// The longest MIME type accepted.
const MAX_MIME: usize = 255;

/// An offer being received. Errors are reasons for the peer and the
/// application alike: they name only what the peer sent.
#[derive(Debug)]
pub(super) struct IncomingOffer {
    pub(super) name: String,
    pub(super) total: u64,
    count: usize,
    pub(super) entries: Vec<Entry>,
    /// Where each entry is stored under the chosen folder.
    pub(super) paths: Vec<Vec<String>>,
    /// Every stored path so far, to refuse two entries in one place.
    seen: BTreeSet<Vec<String>>,
    path_bytes: usize,
    /// [`MAX_PATH_BYTES`], lowered by tests.
    max_path_bytes: usize,
    sum: u64,
    pub(super) hashes: BTreeMap<u32, Vec<Hash>>,
    /// Files whose hash list has not all come (known once every entry has).
    unhashed: BTreeSet<u32>,
    policy: NamePolicy,
}

impl IncomingOffer {
    /// The `offer` message.
    pub(super) fn start(
        name: String,
        total: u64,
        count: Option<u64>,
        entries: Vec<Entry>,
        policy: NamePolicy,
    ) -> Result<Self, String> {
        let count = count.unwrap_or(entries.len() as u64);
        if count == 0 || count > MAX_ENTRIES as u64 {
            return Err(format!(
                "an offer has 1 to {MAX_ENTRIES} entries, not {count}"
            ));
        }
        let mut offer = Self {
            name,
            total,
            count: count as usize,
            entries: Vec::new(),
            paths: Vec::new(),
            seen: BTreeSet::new(),
            path_bytes: 0,
            max_path_bytes: MAX_PATH_BYTES,
            sum: 0,
            hashes: BTreeMap::new(),
            unhashed: BTreeSet::new(),
            policy,
        };
        offer.add(0, entries)?;
        Ok(offer)
    }

    /// Every entry has come.
    pub(super) fn has_all_entries(&self) -> bool {
        self.entries.len() == self.count
    }

    /// Every entry and every hash has come, and all of it checked out.
    pub(super) fn is_complete(&self) -> bool {
        self.has_all_entries() && self.unhashed.is_empty()
    }

    /// An `entries` message (or the offer's own piece, at 0).
    pub(super) fn add(&mut self, start: u64, entries: Vec<Entry>) -> Result<(), String> {
        if start != self.entries.len() as u64 {
            return Err(format!(
                "entries from {start} where {} was expected",
                self.entries.len()
            ));
        }
        if self.entries.len() + entries.len() > self.count {
            return Err(format!("more entries than the {} announced", self.count));
        }
        for e in entries {
            self.add_entry(e)?;
        }
        if self.has_all_entries() {
            self.sealed()?;
        }
        Ok(())
    }

    fn add_entry(&mut self, e: Entry) -> Result<(), String> {
        self.path_bytes += e.path.len();
        if self.path_bytes > self.max_path_bytes {
            return Err(format!(
                "the entries' paths add up to more than {} bytes",
                self.max_path_bytes
            ));
        }
        let parts =
            store_path(&e.path, self.policy).map_err(|err| format!("unsafe name: {err}"))?;
        if e.path.split('/').next() != Some(self.name.as_str()) {
            return Err(format!("{:?} is not under {:?}", e.path, self.name));
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
                self.sum = self
                    .sum
                    .checked_add(e.size)
                    .ok_or_else(|| "sizes overflow".to_owned())?;
            }
            EntryKind::Dir if e.size != 0 => return Err(format!("folder {:?} has a size", e.path)),
            EntryKind::Dir => {}
        }
        if !self.seen.insert(parts.clone()) {
            return Err(format!("{:?} is listed twice", e.path));
        }
        self.entries.push(e);
        self.paths.push(parts);
        Ok(())
    }

    /// The last entry came: check the sizes, and list the files whose
    /// hashes are awaited (an empty file has none: its content hash is
    /// checked now).
    fn sealed(&mut self) -> Result<(), String> {
        if self.sum != self.total {
            return Err(format!(
                "the sizes add up to {}, not the announced {}",
                self.sum, self.total
            ));
        }
        for (i, e) in self.entries.iter().enumerate() {
            if e.kind != EntryKind::File {
                continue;
            }
            if e.size == 0 {
                self.check_root(i as u32, &[])?;
            } else {
                self.unhashed.insert(i as u32);
            }
        }
        Ok(())
    }

    fn check_root(&self, file: u32, list: &[Hash]) -> Result<(), String> {
        let e = &self.entries[file as usize];
        let root = manifest::content_hash(e.size, manifest::block_size(e.size), list);
        if e.hash.as_deref().and_then(manifest::from_hex) != Some(root) {
            return Err(format!(
                "the block hashes of {} do not match its content hash",
                e.path
            ));
        }
        Ok(())
    }

    /// An `h` message: the next hashes of one file's list.
    pub(super) fn add_hashes(
        &mut self,
        file: u32,
        start: u32,
        hashes: Vec<Hash>,
    ) -> Result<(), String> {
        if !self.has_all_entries() {
            return Err("block hashes before every entry was offered".into());
        }
        let Some(entry) = self
            .entries
            .get(file as usize)
            .filter(|e| e.kind == EntryKind::File)
        else {
            return Err(format!("hashes for entry {file}, not a file"));
        };
        let (size, path) = (entry.size, entry.path.clone());
        let count = manifest::block_count(size, manifest::block_size(size));
        let list = self.hashes.entry(file).or_default();
        if start as usize != list.len() || (list.len() + hashes.len()) as u64 > count {
            return Err(format!("hash list of {path} out of order or too long"));
        }
        list.extend(hashes);
        if list.len() as u64 == count {
            let list = self.hashes.remove(&file).unwrap_or_default();
            self.check_root(file, &list)?;
            self.hashes.insert(file, list);
            self.unhashed.remove(&file);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(path: String) -> Entry {
        Entry::dir(path)
    }

    fn file(path: &str, data: &[u8]) -> (Entry, Vec<Hash>) {
        let block = manifest::block_size(data.len() as u64);
        let hashes: Vec<Hash> = data
            .chunks(block as usize)
            .map(manifest::hash_block)
            .collect();
        let root = manifest::content_hash(data.len() as u64, block, &hashes);
        let mut e = dir(path.into());
        e.kind = EntryKind::File;
        e.size = data.len() as u64;
        e.hash = Some(manifest::to_hex(&root));
        (e, hashes)
    }

    #[test]
    fn pieces_come_in_order_and_complete_the_offer() {
        let (a, ha) = file("top/a", b"abc");
        let (b, _) = file("top/b", b"");
        let mut o = IncomingOffer::start(
            "top".into(),
            3,
            Some(3),
            vec![dir("top".into())],
            NamePolicy::Unix,
        )
        .unwrap();
        assert!(!o.has_all_entries());
        assert_eq!(
            o.add_hashes(1, 0, ha.clone()),
            Err("block hashes before every entry was offered".into())
        );
        assert_eq!(
            o.add(2, vec![a.clone()]),
            Err("entries from 2 where 1 was expected".into())
        );
        o.add(1, vec![a.clone(), b]).unwrap();
        // The empty file needs no hashes; the other does.
        assert!(o.has_all_entries() && !o.is_complete());
        assert_eq!(
            o.add(3, vec![a]),
            Err("more entries than the 3 announced".into())
        );
        o.add_hashes(1, 0, ha).unwrap();
        assert!(o.is_complete());
    }

    #[test]
    fn limits_are_clear_errors() {
        let start = |count| {
            IncomingOffer::start(
                "t".into(),
                0,
                Some(count),
                vec![dir("t".into())],
                NamePolicy::Unix,
            )
        };
        assert_eq!(
            start(MAX_ENTRIES as u64 + 1).unwrap_err(),
            "an offer has 1 to 1000000 entries, not 1000001"
        );
        assert!(start(0).is_err());
        // Long paths, up to the limit on their sum and past it (a lower
        // one: checking 128 MiB of names takes a while in a debug build).
        let mut o = start(MAX_ENTRIES as u64).unwrap();
        o.max_path_bytes = 4 << 20;
        let deep = vec!["d".repeat(250); 30].join("/");
        let mut n = 0;
        let err = loop {
            let piece: Vec<Entry> = (0..16).map(|i| dir(format!("t/{n}x{i}/{deep}"))).collect();
            let at = o.entries.len() as u64;
            if let Err(e) = o.add(at, piece) {
                break e;
            }
            n += 1;
        };
        assert_eq!(err, "the entries' paths add up to more than 4194304 bytes");
        assert!(o.path_bytes > 4 << 20 && o.path_bytes < (4 << 20) + 16 * 8000);
    }

    #[test]
    fn sizes_names_and_hashes_are_checked() {
        let (a, _) = file("top/a", b"abc");
        let offer = |total, entries| {
            IncomingOffer::start("top".into(), total, None, entries, NamePolicy::Unix)
        };
        assert_eq!(
            offer(9, vec![a.clone()]).unwrap_err(),
            "the sizes add up to 3, not the announced 9"
        );
        assert!(
            offer(3, vec![a.clone(), a.clone()])
                .unwrap_err()
                .contains("listed twice")
        );
        let mut evil = a.clone();
        evil.path = "top/\u{202e}txt.exe".into();
        assert!(offer(3, vec![evil]).unwrap_err().contains("disguise"));
        let mut o = offer(3, vec![a]).unwrap();
        assert_eq!(
            o.add_hashes(0, 0, vec![[1; 32]]),
            Err("the block hashes of top/a do not match its content hash".into())
        );
        assert_eq!(
            o.add_hashes(0, 1, vec![[1; 32]]),
            Err("hash list of top/a out of order or too long".into())
        );
    }

    #[test]
    fn windows_receivers_store_mapped_names_and_refuse_clashes_after_mapping() {
        let (a, _) = file("top/a:b", b"");
        let (b, _) = file("top/a：b", b"");
        let o = IncomingOffer::start("top".into(), 0, None, vec![a.clone()], NamePolicy::Windows)
            .unwrap();
        assert_eq!(o.paths, vec![vec!["top".to_owned(), "a：b".to_owned()]]);
        let err = IncomingOffer::start("top".into(), 0, None, vec![a, b], NamePolicy::Windows)
            .unwrap_err();
        assert!(err.contains("listed twice"), "{err}");
    }
}
