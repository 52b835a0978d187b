//! `HashCache`: content hashes of files already hashed, so a restart does
//! not read an unchanged tree again.
//!
//! A pure map the driver fills from its scans and persists (as JSON)
//! between runs. An entry is trusted only while the file's size,
//! modification time and inode are what they were when it was hashed.
//! A file modified within the same second as its hashing could change again
//! without its time moving ("racily clean", as git calls it), so such a hash
//! is used for that scan but not kept for the next.

use std::collections::BTreeMap;

use super::path::SyncPath;
use crate::transfer::Hash;

/// What the file system says of a file, enough to tell it changed.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct FileStamp {
    /// Size in bytes.
    pub size: u64,
    /// Modification time, nanoseconds since the Unix epoch.
    pub mtime_ns: i128,
    /// The inode number (0 where there is none).
    pub inode: u64,
}

/// One cached hash.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Cached {
    stamp: FileStamp,
    #[serde(with = "super::manifest::hex_hash")]
    hash: Hash,
    /// Hashed too close to its modification: good for sending what was
    /// just read, not for the next scan, and never stored.
    #[serde(skip)]
    racy: bool,
    /// The block hashes, when this process read the file itself, so that
    /// sending it does not read it again. Not stored: a stale list costs a
    /// cancelled transfer (the receiver checks every block), never a wrong
    /// file, but a stored one could outlive many.
    #[serde(skip)]
    blocks: Option<Blocks>,
}

/// A file's block hashes, held in memory: a small file's one hash inline,
/// so that ten thousand small files cost no allocation each.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Blocks {
    One(Hash),
    Many(Box<[Hash]>),
}

impl Blocks {
    fn as_slice(&self) -> &[Hash] {
        match self {
            Blocks::One(h) => std::slice::from_ref(h),
            Blocks::Many(list) => list,
        }
    }
}

/// Path → (stamp, content hash) for one group folder.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HashCache {
    #[serde(serialize_with = "stored_only")]
    entries: BTreeMap<SyncPath, Cached>,
}

/// The entries a later run may trust: not the racily clean ones.
fn stored_only<S: serde::Serializer>(
    entries: &BTreeMap<SyncPath, Cached>,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_map(entries.iter().filter(|(_, c)| !c.racy))
}

/// How close (in nanoseconds) to the scan a modification time may be before
/// its hash is not kept: one second covers file systems with whole-second times.
const RACY_NS: i128 = 1_000_000_000;

impl HashCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// The hash of the file at `path`, if it was hashed with this very stamp
    /// long enough after its last change.
    pub fn lookup(&self, path: &SyncPath, stamp: FileStamp) -> Option<Hash> {
        self.entries
            .get(path)
            .filter(|c| c.stamp == stamp && !c.racy)
            .map(|c| c.hash)
    }

    /// Records a hash computed at wall-clock time `scanned_ns` (nanoseconds
    /// since the epoch, from the driver). Returns whether it is trusted
    /// from now on: a file modified less than a second before the scan is
    /// not (its hash serves only [`blocks`](Self::blocks)).
    pub fn insert(
        &mut self,
        path: SyncPath,
        stamp: FileStamp,
        hash: Hash,
        scanned_ns: i128,
    ) -> bool {
        let racy = scanned_ns - stamp.mtime_ns < RACY_NS;
        let cached = Cached {
            stamp,
            hash,
            racy,
            blocks: None,
        };
        self.entries.insert(path, cached);
        !racy
    }

    /// Keeps the block hashes of the file at `path`, just read with this
    /// `stamp` and [`insert`](Self::insert)ed, for [`blocks`](Self::blocks).
    pub fn keep_blocks(&mut self, path: &SyncPath, stamp: FileStamp, blocks: Vec<Hash>) {
        if let Some(c) = self.entries.get_mut(path).filter(|c| c.stamp == stamp) {
            c.blocks = Some(match blocks[..] {
                [one] => Blocks::One(one),
                _ => Blocks::Many(blocks.into_boxed_slice()),
            });
        }
    }

    /// The block hashes of the file at `path`, if this process read it with
    /// this very stamp.
    pub fn blocks(&self, path: &SyncPath, stamp: FileStamp) -> Option<&[Hash]> {
        self.entries
            .get(path)
            .filter(|c| c.stamp == stamp)
            .and_then(|c| c.blocks.as_ref())
            .map(Blocks::as_slice)
    }

    /// Forgets `path` and everything inside it (it was renamed away).
    pub fn forget(&mut self, path: &SyncPath) {
        self.entries.retain(|p, _| p != path && !p.is_inside(path));
    }

    /// Forgets every path a scan did not see (removed files).
    pub fn retain_seen(&mut self, seen: impl Fn(&SyncPath) -> bool) {
        self.entries.retain(|p, _| seen(p));
    }

    /// How many hashes it would store (the trusted ones).
    pub fn len(&self) -> usize {
        self.entries.values().filter(|c| !c.racy).count()
    }

    /// Whether it would store none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The cache as JSON, for the driver to store.
    pub fn to_json(&self) -> String {
        // Serialising plain data (strings, integers) cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// A cache from stored JSON; a damaged file gives an error, and the
    /// driver starts over with an empty cache (it costs only a rehash).
    pub fn from_json(json: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i128 = 1_000_000_000;

    fn p(s: &str) -> SyncPath {
        SyncPath::parse(s).unwrap()
    }

    #[test]
    fn a_hash_is_used_only_while_the_stamp_holds() {
        let mut c = HashCache::new();
        let stamp = FileStamp {
            size: 10,
            mtime_ns: 100 * S,
            inode: 7,
        };
        assert!(c.insert(p("a"), stamp, [1; 32], 200 * S));
        assert_eq!(c.lookup(&p("a"), stamp), Some([1; 32]));
        for other in [
            FileStamp { size: 11, ..stamp },
            FileStamp {
                mtime_ns: 100 * S + 1,
                ..stamp
            },
            FileStamp { inode: 8, ..stamp },
        ] {
            assert_eq!(c.lookup(&p("a"), other), None, "{other:?}");
        }
        assert_eq!(c.lookup(&p("b"), stamp), None);
    }

    #[test]
    fn block_lists_are_kept_for_racily_clean_files_and_only_while_the_stamp_holds() {
        let mut c = HashCache::new();
        let stamp = FileStamp {
            size: 10,
            mtime_ns: 100 * S,
            inode: 7,
        };
        assert!(!c.insert(p("a"), stamp, [1; 32], 100 * S));
        c.keep_blocks(&p("a"), stamp, vec![[2; 32]]);
        c.keep_blocks(&p("b"), stamp, vec![[3; 32]]);
        assert_eq!(c.blocks(&p("a"), stamp), Some(&[[2; 32]][..]));
        assert_eq!(c.blocks(&p("b"), stamp), None, "b was never hashed");
        assert_eq!(c.blocks(&p("a"), FileStamp { size: 11, ..stamp }), None);
        c.forget(&p("a"));
        assert_eq!(c.blocks(&p("a"), stamp), None);
    }

    #[test]
    fn a_racily_clean_file_is_not_cached() {
        let mut c = HashCache::new();
        let stamp = FileStamp {
            size: 10,
            mtime_ns: 100 * S,
            inode: 7,
        };
        assert!(c.insert(p("a"), stamp, [1; 32], 200 * S));
        assert!(!c.insert(p("a"), stamp, [2; 32], 100 * S + S / 2));
        assert_eq!(
            c.lookup(&p("a"), stamp),
            None,
            "an older hash is dropped too"
        );
        assert!(c.is_empty(), "nothing a later run may trust");
        assert!(HashCache::from_json(&c.to_json()).unwrap().is_empty());
    }

    #[test]
    fn it_survives_a_round_trip_and_forgets_removed_files() {
        let mut c = HashCache::new();
        let stamp = FileStamp {
            size: 1,
            mtime_ns: -5,
            inode: 1,
        };
        c.insert(p("a/b"), stamp, [3; 32], 10 * S);
        c.insert(p("c"), stamp, [4; 32], 10 * S);
        let back = HashCache::from_json(&c.to_json()).unwrap();
        assert_eq!(back, c);
        c.keep_blocks(&p("c"), stamp, vec![[5; 32]]);
        assert_eq!(
            HashCache::from_json(&c.to_json()).unwrap(),
            back,
            "block lists are not stored"
        );
        c.keep_blocks(&p("a/b"), stamp, vec![[6; 32]]);
        c.retain_seen(|path| path.to_string() == "c");
        assert_eq!(c.len(), 1);
        assert_eq!(c.blocks(&p("a/b"), stamp), None, "forgotten with its file");
        assert_eq!(c.blocks(&p("c"), stamp), Some(&[[5; 32]][..]));
        assert!(HashCache::from_json("{\"entries\":{\"../x\":1}}").is_err());
    }
}
