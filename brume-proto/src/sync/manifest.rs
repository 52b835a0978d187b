//! `Manifest`: what a group folder holds, by content.
//!
//! A manifest maps each path to a folder or a file's size and content hash
//! (the transfer's BLAKE3 content hash, so a fetched file is verified
//! against the very hash the owner listed). Times are not in it: changes
//! are recognised by content alone, so a touched file or an identical copy
//! made by hand is no change.

use std::collections::BTreeMap;

use super::SyncError;
use super::path::SyncPath;
use crate::transfer::Hash;

/// The owner's list of members, at the top of a group folder; never synced.
pub const MEMBERS_FILE: &str = ".members";
/// The hidden folder at the top of a member's group folder where files
/// being moved wait (see `Step::Stage`); never synced.
pub const STAGING_DIR: &str = ".brume-sync";
/// What the transfer appends to a file still being received.
const PARTIAL_SUFFIX: &str = ".brume-part";

/// One entry of a manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Node {
    /// A folder.
    Dir,
    /// A regular file: its size and content hash.
    File {
        /// Size in bytes.
        size: u64,
        /// The transfer's content hash (hex on the wire).
        #[serde(with = "hex_hash")]
        hash: Hash,
    },
    /// A symbolic link on a member's side: never followed, never synced,
    /// always the member's own (an owner's manifest never holds one).
    Link,
}

impl Node {
    /// A file's content hash.
    pub fn hash(&self) -> Option<Hash> {
        match self {
            Node::File { hash, .. } => Some(*hash),
            _ => None,
        }
    }
}

/// What a scan of a folder found at one path, for [`Manifest::from_scan`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scanned {
    /// A folder.
    Dir,
    /// A regular file, hashed (or its hash found in the cache).
    File {
        /// Size in bytes.
        size: u64,
        /// Content hash.
        hash: Hash,
    },
    /// A symbolic link (not followed).
    Link,
    /// Anything else (a socket, a device, a file that could not be read):
    /// `why` says what.
    Other {
        /// Why it is left out.
        why: String,
    },
}

/// A group folder's content: path → entry, sorted, parents before children.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "Vec<(SyncPath, Node)>", into = "Vec<(SyncPath, Node)>")]
pub struct Manifest {
    entries: BTreeMap<SyncPath, Node>,
}

/// Whether a path is left out of every manifest: the owner's `.members`,
/// the staging folder, the transfer's partial files.
pub fn is_excluded(path: &SyncPath) -> bool {
    let top = path.depth() == 1;
    (top && (path.name() == MEMBERS_FILE || path.name() == STAGING_DIR))
        || path.name().ends_with(PARTIAL_SUFFIX)
}

impl Manifest {
    /// An empty manifest.
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds a manifest from entries, checking that every entry's parent is
    /// a folder in it (so the tree is whole) and that none is excluded.
    pub fn from_entries(
        entries: impl IntoIterator<Item = (SyncPath, Node)>,
    ) -> Result<Self, SyncError> {
        let mut m = Manifest::new();
        for (path, node) in entries {
            if is_excluded(&path) {
                return Err(SyncError::Excluded(path.to_string()));
            }
            if m.entries.insert(path.clone(), node).is_some() {
                return Err(SyncError::Duplicate(path.to_string()));
            }
        }
        for path in m.entries.keys() {
            if let Some(parent) = path.parent()
                && m.entries.get(&parent) != Some(&Node::Dir)
            {
                return Err(SyncError::Orphan(path.to_string()));
            }
        }
        Ok(m)
    }

    /// Builds a manifest from what a scan found. Excluded paths are left out
    /// silently; anything else that cannot be synced is left out with a
    /// [`SyncError`] saying why, and so is everything beneath it. On the
    /// owner's side (`owner` true) a symbolic link is refused
    /// ([`SyncError::Symlink`]); on a member's it is kept as [`Node::Link`]
    /// so the plan never writes through it.
    pub fn from_scan(
        scan: impl IntoIterator<Item = (SyncPath, Scanned)>,
        owner: bool,
    ) -> (Self, Vec<SyncError>) {
        let mut sorted: Vec<_> = scan.into_iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        let mut m = Manifest::new();
        let mut refused = Vec::new();
        for (path, scanned) in sorted {
            if is_excluded(&path) {
                continue;
            }
            let parent_ok = path
                .parent()
                .is_none_or(|p| m.entries.get(&p) == Some(&Node::Dir));
            if !parent_ok {
                continue; // under something refused or excluded
            }
            let node = match scanned {
                Scanned::Dir => Node::Dir,
                Scanned::File { size, hash } => Node::File { size, hash },
                Scanned::Link if owner => {
                    refused.push(SyncError::Symlink(path.to_string()));
                    continue;
                }
                Scanned::Link => Node::Link,
                Scanned::Other { why } => {
                    refused.push(SyncError::Unreadable {
                        path: path.to_string(),
                        why,
                    });
                    continue;
                }
            };
            m.entries.insert(path, node);
        }
        (m, refused)
    }

    /// The entry at `path`.
    pub fn get(&self, path: &SyncPath) -> Option<&Node> {
        self.entries.get(path)
    }

    /// Every entry, sorted (parents first).
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&SyncPath, &Node)> {
        self.entries.iter()
    }

    /// How many entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Total bytes of its files.
    pub fn total_bytes(&self) -> u64 {
        self.entries
            .values()
            .map(|n| match n {
                Node::File { size, .. } => *size,
                _ => 0,
            })
            .sum()
    }

    /// The entries strictly inside `dir`, sorted.
    pub fn inside<'a>(
        &'a self,
        dir: &'a SyncPath,
    ) -> impl Iterator<Item = (&'a SyncPath, &'a Node)> + 'a {
        self.entries
            .range(dir.clone()..)
            .skip(1)
            .take_while(move |(p, _)| p.is_inside(dir))
    }

    /// Whether a path is in it.
    pub fn contains(&self, path: &SyncPath) -> bool {
        self.entries.contains_key(path)
    }
}

impl TryFrom<Vec<(SyncPath, Node)>> for Manifest {
    type Error = SyncError;
    fn try_from(v: Vec<(SyncPath, Node)>) -> Result<Self, SyncError> {
        Manifest::from_entries(v)
    }
}

impl From<Manifest> for Vec<(SyncPath, Node)> {
    fn from(m: Manifest) -> Self {
        m.entries.into_iter().collect()
    }
}

/// Hashes are written as the transfer writes them: 64 lower-case hex digits.
pub use crate::transfer::{from_hex, to_hex};

/// A hash as 64 hex digits in JSON.
pub(crate) mod hex_hash {
    use super::{from_hex, to_hex};
    use crate::transfer::Hash;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(h: &Hash, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&to_hex(h))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Hash, D::Error> {
        let s = String::deserialize(d)?;
        from_hex(&s).ok_or_else(|| serde::de::Error::custom("a hash is 64 hex digits"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> SyncPath {
        SyncPath::parse(s).unwrap()
    }

    #[test]
    fn an_owner_refuses_symlinks_and_a_member_keeps_them_unfollowed() {
        let scan = vec![
            (p("a"), Scanned::Dir),
            (p("a/link"), Scanned::Link),
            (
                p("a/f"),
                Scanned::File {
                    size: 1,
                    hash: [1; 32],
                },
            ),
            (
                p(".members"),
                Scanned::File {
                    size: 4,
                    hash: [2; 32],
                },
            ),
            (
                p("sock"),
                Scanned::Other {
                    why: "a socket".into(),
                },
            ),
        ];
        let (owner, refused) = Manifest::from_scan(scan.clone(), true);
        assert_eq!(owner.len(), 2);
        assert_eq!(
            refused,
            vec![
                SyncError::Symlink("a/link".into()),
                SyncError::Unreadable {
                    path: "sock".into(),
                    why: "a socket".into()
                }
            ]
        );
        assert_eq!(
            refused[0].to_string(),
            "a/link is a symbolic link, which sync does not follow"
        );
        let (member, _) = Manifest::from_scan(scan, false);
        assert_eq!(member.get(&p("a/link")), Some(&Node::Link));
        assert!(!member.contains(&p(".members")));
    }

    #[test]
    fn a_manifest_must_be_a_whole_tree() {
        let f = Node::File {
            size: 0,
            hash: [0; 32],
        };
        assert_eq!(
            Manifest::from_entries([(p("a/b"), f)]),
            Err(SyncError::Orphan("a/b".into()))
        );
        assert_eq!(
            Manifest::from_entries([(p("a"), f), (p("a/b"), f)]),
            Err(SyncError::Orphan("a/b".into()))
        );
        let json = r#"[["a",{"kind":"dir"}],["a/../../x",{"kind":"dir"}]]"#;
        assert!(serde_json::from_str::<Manifest>(json).is_err());
        let m = Manifest::from_entries([(p("a"), Node::Dir), (p("a/b"), f)]).unwrap();
        let back: Manifest = serde_json::from_str(&serde_json::to_string(&m).unwrap()).unwrap();
        assert_eq!(back, m);
    }
}
