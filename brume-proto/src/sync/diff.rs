//! Versions of an owner's manifest: a digest names each, and a diff turns
//! one into another, so a member in step with an older version is sent
//! only what changed since (docs/PROTOCOL.md, "Manifest versions").

use std::collections::{BTreeMap, VecDeque};

use super::manifest::{Manifest, Node};
use super::path::SyncPath;
use super::wire::DiffEntry;
use crate::transfer::Hash;

/// The digest of a manifest: BLAKE3 over `brume-manifest-v1`, then for each
/// entry in path order its path's UTF-8 bytes, a NUL, and `d` (a folder) or
/// `f`, the size as 8 little-endian bytes and the 32-byte content hash (a
/// file). Equal manifests have equal digests whoever computes them.
pub fn digest(m: &Manifest) -> Hash {
    let mut h = blake3::Hasher::new();
    h.update(b"brume-manifest-v1");
    for (path, node) in m.iter() {
        h.update(path.to_string().as_bytes());
        h.update(&[0]);
        match node {
            Node::Dir => {
                h.update(b"d");
            }
            Node::File { size, hash } => {
                h.update(b"f");
                h.update(&size.to_le_bytes());
                h.update(hash);
            }
            // Never in an owner's manifest; hashed apart all the same.
            Node::Link => {
                h.update(b"l");
            }
        }
    }
    *h.finalize().as_bytes()
}

/// What changed from `old` to `new`, in path order: each path whose entry
/// differs, with its new entry (`None`: gone).
pub fn diff(old: &Manifest, new: &Manifest) -> Changes {
    let mut out: Changes = new
        .iter()
        .filter(|(p, n)| old.get(p) != Some(n))
        .map(|(p, n)| (p.clone(), Some(*n)))
        .collect();
    out.extend(
        old.iter()
            .filter(|(p, _)| !new.contains(p))
            .map(|(p, _)| (p.clone(), None)),
    );
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// `base` with `changes` applied, checked to be a whole tree.
pub fn apply(base: &Manifest, changes: Vec<DiffEntry>) -> Option<Manifest> {
    let mut entries: BTreeMap<SyncPath, Node> = base.iter().map(|(p, n)| (p.clone(), *n)).collect();
    for c in changes {
        match c.to() {
            Some(node) => entries.insert(c.path, node),
            None => entries.remove(&c.path),
        };
    }
    Manifest::from_entries(entries).ok()
}

/// At most this many changes are remembered, over all versions kept.
pub const HISTORY_CHANGES: usize = 65_536;
/// At most this many older versions are remembered.
pub const HISTORY_VERSIONS: usize = 64;

/// Paths with their new entries (`None`: gone), in path order.
pub type Changes = Vec<(SyncPath, Option<Node>)>;

/// The owner's recent versions of one group: for each older version's
/// digest, the changes that led from it to the next one.
#[derive(Debug, Default)]
pub struct History {
    steps: VecDeque<(Hash, Changes)>,
    changes: usize,
}

impl History {
    /// Remembers that the version `from` became the next by `changes`;
    /// the oldest versions are forgotten past the bounds.
    pub fn push(&mut self, from: Hash, changes: Changes) {
        self.changes += changes.len();
        self.steps.push_back((from, changes));
        while self.steps.len() > HISTORY_VERSIONS || self.changes > HISTORY_CHANGES {
            match self.steps.pop_front() {
                Some((_, c)) => self.changes -= c.len(),
                None => break,
            }
        }
    }

    /// The changes from version `since` to the newest, in path order, or
    /// `None` if that version is not remembered.
    pub fn since(&self, since: &Hash) -> Option<Changes> {
        let start = self.steps.iter().position(|(d, _)| d == since)?;
        let mut all: BTreeMap<SyncPath, Option<Node>> = BTreeMap::new();
        for (_, changes) in self.steps.iter().skip(start) {
            for (p, n) in changes {
                all.insert(p.clone(), *n);
            }
        }
        Some(all.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> SyncPath {
        SyncPath::parse(s).unwrap()
    }

    fn file(n: u8) -> Node {
        Node::File {
            size: u64::from(n),
            hash: [n; 32],
        }
    }

    fn m(entries: &[(&str, Node)]) -> Manifest {
        Manifest::from_entries(entries.iter().map(|(s, n)| (p(s), *n))).unwrap()
    }

    #[test]
    fn digest_vector() {
        // docs/PROTOCOL.md, "Manifest versions".
        let one = m(&[
            ("a", Node::Dir),
            (
                "a/b.txt",
                Node::File {
                    size: 3,
                    hash: [0xab; 32],
                },
            ),
        ]);
        assert_eq!(
            crate::transfer::to_hex(&digest(&one)),
            "323e1cb76ec876371e2836a023a4c582c979cc9a7d2e0a828e05402be6d8c8c7"
        );
        assert_ne!(digest(&one), digest(&Manifest::new()));
    }

    #[test]
    fn a_diff_applied_to_the_old_gives_the_new() {
        let old = m(&[
            ("a", Node::Dir),
            ("a/x", file(1)),
            ("b", file(2)),
            ("c", file(3)),
        ]);
        let new = m(&[
            ("a", Node::Dir),
            ("a/y", file(1)),
            ("b", file(4)),
            ("d", Node::Dir),
        ]);
        let d = diff(&old, &new);
        assert_eq!(
            d,
            vec![
                (p("a/x"), None),
                (p("a/y"), Some(file(1))),
                (p("b"), Some(file(4))),
                (p("c"), None),
                (p("d"), Some(Node::Dir)),
            ]
        );
        let wire: Vec<DiffEntry> = d.into_iter().map(|(p, n)| DiffEntry::new(p, n)).collect();
        assert_eq!(apply(&old, wire), Some(new.clone()));
        assert!(diff(&new, &new).is_empty());
    }

    #[test]
    fn a_diff_that_breaks_the_tree_is_refused() {
        let old = m(&[("a", Node::Dir), ("a/x", file(1))]);
        let bad = vec![DiffEntry::new(p("a"), None)];
        assert_eq!(apply(&old, bad), None);
    }

    #[test]
    fn history_composes_versions_and_forgets_the_oldest() {
        let v0 = m(&[("a", file(1))]);
        let v1 = m(&[("a", file(2)), ("b", file(1))]);
        let v2 = m(&[("b", file(1))]);
        let mut h = History::default();
        h.push(digest(&v0), diff(&v0, &v1));
        h.push(digest(&v1), diff(&v1, &v2));
        let from0 = h.since(&digest(&v0)).unwrap();
        assert_eq!(from0, vec![(p("a"), None), (p("b"), Some(file(1)))]);
        let wire = from0
            .into_iter()
            .map(|(p, n)| DiffEntry::new(p, n))
            .collect();
        assert_eq!(apply(&v0, wire), Some(v2.clone()));
        assert_eq!(h.since(&digest(&v1)).unwrap(), vec![(p("a"), None)]);
        assert_eq!(h.since(&digest(&v2)), None, "the newest has no step");
        for i in 0..HISTORY_VERSIONS {
            h.push([i as u8; 32], Vec::new());
        }
        assert_eq!(h.since(&digest(&v0)), None);
    }
}
