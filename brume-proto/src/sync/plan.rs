//! The plan: what a member does so its group folder becomes the owner's.
//!
//! `plan(owner, member, base)` compares three manifests: the owner's now,
//! the member's now, and `base`, the owner's manifest as of the member's
//! last finished sync (empty before the first). A member's entry that
//! differs from `base` is the member's change; anything else that differs
//! from the owner is the owner's. The owner's version always wins, and a
//! member's change is never lost: it is renamed to a conflict name first
//! (`conflict.rs`). Paths with a conflict name that the owner does not have
//! are the member's kept copies and are left alone.
//!
//! Every step that removes or renames something names the content it
//! expects to find, so a driver skips a step whose path changed since the
//! scan (nothing is lost; the next sync sees it), and a plan applied a
//! second time does nothing. The steps come in the order a driver runs
//! them; see [`Step`].

use std::collections::{BTreeMap, BTreeSet};

use super::conflict::{ConflictKind, conflict_name, is_conflict_name};
use super::manifest::{Manifest, Node};
use super::path::SyncPath;
use crate::transfer::Hash;

/// One thing to do on the member's side. The plan lists them in this
/// order, each group sorted by path (`Rmdir` deepest first).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Step {
    /// Rename the member's own version at `path` (expected to be `expect`)
    /// to `to`, a free conflict name in the same folder. A folder moves
    /// whole, with what it holds.
    Keep {
        /// What the member has.
        path: SyncPath,
        /// Its conflict name.
        to: SyncPath,
        /// Which case of the seed's table.
        kind: ConflictKind,
        /// What must be at `path` for the rename to happen.
        expect: Node,
    },
    /// Move the file at `path` (if its content is `hash`) into the staging
    /// folder, under its hash's hex name, to be put in place by `Unstage`
    /// without fetching it again (a rename by content).
    Stage {
        /// Where the file is.
        path: SyncPath,
        /// Its content.
        #[serde(with = "super::manifest::hex_hash")]
        hash: Hash,
    },
    /// Remove the file at `path` if its content is `hash`.
    Delete {
        /// The file.
        path: SyncPath,
        /// Its content.
        #[serde(with = "super::manifest::hex_hash")]
        hash: Hash,
    },
    /// Remove the folder at `path` if it is empty.
    Rmdir {
        /// The folder.
        path: SyncPath,
    },
    /// Make the folder `path` if nothing is there.
    Mkdir {
        /// The folder.
        path: SyncPath,
    },
    /// Move the staged file of content `hash` to `path`, if `path` is free.
    Unstage {
        /// Its content.
        #[serde(with = "super::manifest::hex_hash")]
        hash: Hash,
        /// Where the owner has it.
        path: SyncPath,
    },
    /// Get the owner's file at `path` (`size` bytes, content `hash`) unless
    /// it is already there. `replaces`: the member's unchanged older
    /// version still at `path`, which the new one may replace (and which
    /// may seed the transfer's partial file, so only changed blocks move);
    /// if `path` then holds anything else, the fetch is skipped.
    Fetch {
        /// Where.
        path: SyncPath,
        /// Its size.
        size: u64,
        /// Its content hash.
        #[serde(with = "super::manifest::hex_hash")]
        hash: Hash,
        /// The older version it may replace.
        #[serde(default, with = "option_hash", skip_serializing_if = "Option::is_none")]
        replaces: Option<Hash>,
    },
}

/// The steps that bring a member's group folder to the owner's.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Plan {
    /// In the order to run them.
    pub steps: Vec<Step>,
}

impl Plan {
    /// Nothing to do: the member matches the owner.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// The files to fetch, with their total size.
    pub fn fetches(&self) -> impl Iterator<Item = &Step> {
        self.steps
            .iter()
            .filter(|s| matches!(s, Step::Fetch { .. }))
    }

    /// Bytes the fetches may move (at most; a seeded partial moves less).
    pub fn fetch_bytes(&self) -> u64 {
        self.fetches()
            .map(|s| match s {
                Step::Fetch { size, .. } => *size,
                _ => 0,
            })
            .sum()
    }
}

/// What becomes of one of the member's entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    /// Already as the owner has it, or a kept copy: left alone.
    Stays,
    /// The member's change: renamed to a conflict name.
    Kept(ConflictKind),
    /// Not the member's change and not the owner's: removed (or staged if
    /// the owner wants its content elsewhere).
    Removed,
    /// Not the member's change, replaced in place by the owner's version.
    Replaced,
    /// Inside a folder that is kept (renamed) whole.
    Carried,
}

/// Plans the steps that make `member` match `owner`, keeping every member
/// change under a conflict name; `base` is the owner's manifest as of the
/// member's last finished sync. Pure: the same manifests give the same plan.
pub fn plan(owner: &Manifest, member: &Manifest, base: &Manifest) -> Plan {
    let kind_of = |path: &SyncPath| -> ConflictKind {
        match base.get(path) {
            None if owner.contains(path) => ConflictKind::UpdateAdd,
            None => ConflictKind::Sync,
            Some(b) if owner.get(path) == Some(b) => ConflictKind::Sync,
            Some(_) => ConflictKind::UpdateChange,
        }
    };
    // The member's change: differs from what the owner last had there.
    let changed = |path: &SyncPath, node: &Node| -> bool {
        *node == Node::Link || base.get(path) != Some(node)
    };
    // A kept copy: a conflict name somewhere in a path the owner lacks.
    let kept_copy = |path: &SyncPath| -> bool {
        !owner.contains(path) && path.components().any(is_conflict_name)
    };

    // 1. Each of the member's files and links: stays, kept, or goes.
    let mut fate: BTreeMap<&SyncPath, Fate> = BTreeMap::new();
    for (path, node) in member.iter().filter(|(_, n)| **n != Node::Dir) {
        let f = if owner.get(path) == Some(node) || kept_copy(path) {
            Fate::Stays
        } else if changed(path, node) {
            Fate::Kept(kind_of(path))
        } else if matches!(owner.get(path), Some(Node::File { .. })) {
            Fate::Replaced
        } else {
            Fate::Removed
        };
        fate.insert(path, f);
    }
    // 2. Folders: one the owner has as a file is in the way. If anything
    // beneath it is kept, it is kept whole; else it is emptied and removed.
    let mut carried_under: Vec<&SyncPath> = Vec::new();
    for (path, node) in member.iter() {
        if *node != Node::Dir || carried_under.iter().any(|d| path.is_inside(d)) {
            continue;
        }
        if matches!(owner.get(path), Some(Node::File { .. })) {
            let holds_kept = member.inside(path).any(|(q, n)| {
                matches!(fate.get(q), Some(Fate::Kept(_) | Fate::Stays))
                    || (*n == Node::Dir && kept_copy(q))
            });
            if holds_kept {
                fate.insert(path, Fate::Kept(kind_of(path)));
                carried_under.push(path);
            }
        }
    }
    for (path, _) in member.iter() {
        if carried_under.iter().any(|d| path.is_inside(d)) {
            fate.insert(path, Fate::Carried);
        }
    }
    // Folders that end up holding something stay; others the owner lacks go.
    let survives = |dir: &SyncPath| -> bool {
        owner.get(dir) == Some(&Node::Dir)
            || kept_copy(dir)
            || member.inside(dir).any(|(q, n)| {
                matches!(fate.get(q), Some(Fate::Kept(_) | Fate::Stays))
                    || (*n == Node::Dir && kept_copy(q))
            })
    };

    // 3. Conflict names: free in the member's folder, the owner's and each other.
    let mut taken: BTreeSet<SyncPath> = member.iter().map(|(p, _)| p.clone()).collect();
    taken.extend(owner.iter().map(|(p, _)| p.clone()));
    let mut keeps = Vec::new();
    for (path, f) in &fate {
        let Fate::Kept(kind) = *f else { continue };
        // A Kept entry is in the member's manifest by construction.
        let expect = *member.get(path).unwrap_or(&Node::Link);
        let is_dir = expect == Node::Dir;
        let to = (1..)
            .map(|n| path.with_name(&conflict_name(path.name(), is_dir, kind, n)))
            .find(|candidate| !taken.contains(candidate))
            .unwrap_or_else(|| (*path).clone()); // (1..) is unbounded; never reached
        taken.insert(to.clone());
        keeps.push(Step::Keep {
            path: (*path).clone(),
            to,
            kind,
            expect,
        });
    }

    // 4. Content the owner wants: moved from a file that would go, else fetched.
    let mut movable: BTreeMap<Hash, &SyncPath> = BTreeMap::new();
    for (path, f) in &fate {
        if let (Fate::Removed | Fate::Replaced, Some(Node::File { hash, .. })) =
            (f, member.get(path))
        {
            movable.entry(*hash).or_insert(path);
        }
    }
    let mut stages = Vec::new();
    let mut unstages = Vec::new();
    let mut fetches = Vec::new();
    let mut staged: BTreeSet<&SyncPath> = BTreeSet::new();
    let wanted = owner.iter().filter_map(|(p, n)| match n {
        Node::File { size, hash } if member.get(p) != Some(n) => Some((p, *size, *hash)),
        _ => None,
    });
    let wanted: Vec<_> = wanted.collect();
    for (path, _, hash) in &wanted {
        if let Some(source) = movable.remove(hash) {
            stages.push(Step::Stage {
                path: source.clone(),
                hash: *hash,
            });
            unstages.push(Step::Unstage {
                hash: *hash,
                path: (*path).clone(),
            });
            staged.insert(source);
        }
    }
    let unstaged: BTreeSet<&SyncPath> = unstages
        .iter()
        .filter_map(|s| match s {
            Step::Unstage { path, .. } => Some(path),
            _ => None,
        })
        .collect();
    for (path, size, hash) in &wanted {
        if unstaged.contains(path) {
            continue;
        }
        let replaces = match (fate.get(path), member.get(path)) {
            (Some(Fate::Replaced), Some(Node::File { hash: old, .. }))
                if !staged.contains(path) =>
            {
                Some(*old)
            }
            _ => None,
        };
        fetches.push(Step::Fetch {
            path: (*path).clone(),
            size: *size,
            hash: *hash,
            replaces,
        });
    }

    // 5. Deletions: what goes, unless staged; a replaced file that is not
    // fetched over (its path now takes a moved file) goes too.
    let mut deletes = Vec::new();
    for (path, f) in &fate {
        let Some(Node::File { hash, .. }) = member.get(path) else {
            continue;
        };
        let goes = match f {
            Fate::Removed => true,
            Fate::Replaced => unstaged.contains(path),
            _ => false,
        };
        if goes && !staged.contains(path) {
            deletes.push(Step::Delete {
                path: (*path).clone(),
                hash: *hash,
            });
        }
    }
    let rmdirs: Vec<Step> = member
        .iter()
        .rev()
        .filter(|(p, n)| {
            **n == Node::Dir
                && owner.get(p) != Some(&Node::Dir)
                && !fate.contains_key(p)
                && !survives(p)
        })
        .map(|(p, _)| Step::Rmdir { path: p.clone() })
        .collect();
    let mkdirs = owner
        .iter()
        .filter(|(p, n)| **n == Node::Dir && member.get(p) != Some(&Node::Dir))
        .map(|(p, _)| Step::Mkdir { path: p.clone() });

    let mut steps = keeps;
    steps.extend(stages);
    steps.extend(deletes);
    steps.extend(rmdirs);
    steps.extend(mkdirs);
    steps.extend(unstages);
    steps.extend(fetches);
    Plan { steps }
}

/// An optional hash as 64 hex digits in JSON (the plan's and the wire's).
pub(super) mod option_hash {
    use super::super::manifest::{from_hex, to_hex};
    use crate::transfer::Hash;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(h: &Option<Hash>, s: S) -> Result<S::Ok, S::Error> {
        match h {
            Some(h) => s.serialize_str(&to_hex(h)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Hash>, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(None),
            Some(s) => from_hex(&s)
                .map(Some)
                .ok_or_else(|| serde::de::Error::custom("a hash is 64 hex digits")),
        }
    }
}
