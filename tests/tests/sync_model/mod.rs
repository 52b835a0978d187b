//! An in-memory group folder for the sync tests, written apart from the
//! planner: it runs a plan's steps by their documented meaning, each
//! guarded by what it expects to find, as a driver does.
#![allow(dead_code)] // each test file uses its own part

use std::collections::BTreeMap;

use brume_proto::sync::manifest::STAGING_DIR;
use brume_proto::sync::{Manifest, Node, Plan, Scanned, Step, SyncPath, is_conflict_name};
use brume_proto::transfer::{Hash, block_size, content_hash, hash_block};

/// One entry of a folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    Dir,
    File(Vec<u8>),
    Link,
}

/// A folder: path components → entry; parents always present as `Dir`.
pub type Tree = BTreeMap<Vec<String>, Item>;

/// The transfer's content hash of `data` (one block for these small files).
pub fn hash_of(data: &[u8]) -> Hash {
    let block = block_size(data.len() as u64);
    let blocks: Vec<Hash> = data.chunks(block as usize).map(hash_block).collect();
    content_hash(data.len() as u64, block, &blocks)
}

fn sync_path(parts: &[String]) -> SyncPath {
    SyncPath::parse(&parts.join("/")).expect("model paths are safe")
}

/// What a scan of `tree` gives, as the driver would report it.
pub fn manifest(tree: &Tree, owner: bool) -> Manifest {
    let scan = tree.iter().map(|(p, item)| {
        let s = match item {
            Item::Dir => Scanned::Dir,
            Item::File(data) => Scanned::File {
                size: data.len() as u64,
                hash: hash_of(data),
            },
            Item::Link => Scanned::Link,
        };
        (sync_path(p), s)
    });
    let (m, _refused) = Manifest::from_scan(scan, owner);
    m
}

/// Puts `item` at `path`, replacing what is there (and beneath), making
/// parent folders (replacing files in their way).
pub fn put(tree: &mut Tree, path: &[String], item: Item) {
    for i in 1..path.len() {
        let parent = path[..i].to_vec();
        if tree.get(&parent) != Some(&Item::Dir) {
            remove(tree, &parent);
            tree.insert(parent, Item::Dir);
        }
    }
    remove(tree, path);
    tree.insert(path.to_vec(), item);
}

/// Removes `path` and everything beneath it.
pub fn remove(tree: &mut Tree, path: &[String]) {
    tree.retain(|p, _| !p.starts_with(path));
}

/// A path's components, as the model's trees key them.
pub fn parts(p: &SyncPath) -> Vec<String> {
    p.components().map(String::from).collect()
}

fn matches(item: Option<&Item>, expect: &Node) -> bool {
    match (item, expect) {
        (Some(Item::Dir), Node::Dir) | (Some(Item::Link), Node::Link) => true,
        (Some(Item::File(d)), Node::File { hash, .. }) => hash_of(d) == *hash,
        _ => false,
    }
}

fn parent_is_dir(tree: &Tree, p: &[String]) -> bool {
    p.len() == 1 || tree.get(&p[..p.len() - 1]) == Some(&Item::Dir)
}

fn rename(tree: &mut Tree, from: &[String], to: &[String]) {
    let moved: Vec<_> = tree
        .iter()
        .filter(|(p, _)| p.starts_with(from))
        .map(|(p, i)| (p.clone(), i.clone()))
        .collect();
    for (p, item) in moved {
        tree.remove(&p);
        let mut q = to.to_vec();
        q.extend_from_slice(&p[from.len()..]);
        tree.insert(q, item);
    }
}

/// Runs `plan` on `member`, fetching content from `owner` (read only).
/// Returns how many bytes were fetched.
pub fn apply(plan: &Plan, member: &mut Tree, owner: &Tree) -> u64 {
    let mut staging: BTreeMap<Hash, Vec<u8>> = BTreeMap::new();
    let mut fetched = 0;
    for step in &plan.steps {
        match step {
            Step::Keep {
                path, to, expect, ..
            } => {
                let (from, to) = (parts(path), parts(to));
                if matches(member.get(&from), expect) && !member.contains_key(&to) {
                    rename(member, &from, &to);
                }
            }
            Step::Stage { path, hash } => {
                let p = parts(path);
                if let Some(Item::File(d)) = member.get(&p)
                    && hash_of(d) == *hash
                {
                    staging.insert(*hash, d.clone());
                    member.remove(&p);
                }
            }
            Step::Delete { path, hash } => {
                let p = parts(path);
                if matches!(member.get(&p), Some(Item::File(d)) if hash_of(d) == *hash) {
                    member.remove(&p);
                }
            }
            Step::Rmdir { path } => {
                let p = parts(path);
                let empty = !member
                    .keys()
                    .any(|q| q.len() > p.len() && q.starts_with(&p));
                if member.get(&p) == Some(&Item::Dir) && empty {
                    member.remove(&p);
                }
            }
            Step::Mkdir { path } => {
                let p = parts(path);
                if !member.contains_key(&p) && parent_is_dir(member, &p) {
                    member.insert(p, Item::Dir);
                }
            }
            Step::Unstage { hash, path } => {
                let p = parts(path);
                if !member.contains_key(&p)
                    && parent_is_dir(member, &p)
                    && let Some(d) = staging.remove(hash)
                {
                    member.insert(p, Item::File(d));
                }
            }
            Step::Fetch {
                path,
                hash,
                replaces,
                ..
            } => {
                let p = parts(path);
                let there = member.get(&p);
                if matches!(there, Some(Item::File(d)) if hash_of(d) == *hash) {
                    continue;
                }
                let free = match there {
                    None => true,
                    Some(Item::File(d)) => Some(hash_of(d)) == *replaces,
                    _ => false,
                };
                if free
                    && parent_is_dir(member, &p)
                    && let Some(Item::File(d)) = owner.get(&p)
                    && hash_of(d) == *hash
                {
                    fetched += d.len() as u64;
                    member.insert(p, Item::File(d.clone()));
                }
            }
        }
    }
    // The staging folder is emptied at the end (what is left was unchanged
    // owner content nobody wants any more).
    remove(member, &[STAGING_DIR.to_owned()]);
    fetched
}

/// Whether a path is one of the member's kept copies.
pub fn is_kept_copy(path: &[String]) -> bool {
    path.iter().any(|c| is_conflict_name(c))
}
