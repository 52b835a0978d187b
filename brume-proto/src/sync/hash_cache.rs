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
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Cached {
    stamp: FileStamp,
    #[serde(with = "super::manifest::hex_hash")]
    hash: Hash,
}

/// Path → (stamp, content hash) for one group folder.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HashCache {
    entries: BTreeMap<SyncPath, Cached>,
}

/// How close (in nanoseconds) to the scan a modification time may be before
/// its hash is not kept: one second covers file systems with whole-second times.
const RACY_NS: i128 = 1_000_000_000;

impl HashCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// The hash of the file at `path`, if it was hashed with this very stamp.
    pub fn lookup(&self, path: &SyncPath, stamp: FileStamp) -> Option<Hash> {
        self.entries
            .get(path)
            .filter(|c| c.stamp == stamp)
            .map(|c| c.hash)
    }

    /// Records a hash computed at wall-clock time `scanned_ns` (nanoseconds
    /// since the epoch, from the driver). Returns whether it was kept: a
    /// file modified less than a second before the scan is not.
    pub fn insert(
        &mut self,
        path: SyncPath,
        stamp: FileStamp,
        hash: Hash,
        scanned_ns: i128,
    ) -> bool {
        if scanned_ns - stamp.mtime_ns < RACY_NS {
            self.entries.remove(&path);
            return false;
        }
        self.entries.insert(path, Cached { stamp, hash });
        true
    }

    /// Forgets `path` and everything inside it (it was renamed away).
    pub fn forget(&mut self, path: &SyncPath) {
        self.entries.retain(|p, _| p != path && !p.is_inside(path));
    }

    /// Forgets every path a scan did not see (removed files).
    pub fn retain_seen(&mut self, seen: impl Fn(&SyncPath) -> bool) {
        self.entries.retain(|p, _| seen(p));
    }

    /// How many hashes it holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
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
        c.retain_seen(|path| path.to_string() == "c");
        assert_eq!(c.len(), 1);
        assert!(HashCache::from_json("{\"entries\":{\"../x\":1}}").is_err());
    }
}
