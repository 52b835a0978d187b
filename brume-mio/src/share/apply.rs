//! Runs the plan's steps and the installs on a real group folder.
//!
//! Each step first checks that what it would remove or rename is what the
//! plan expected (by content), and is skipped otherwise: a file edited
//! since the scan is never lost; the next scan sees it. Links are never
//! followed: they are renamed as links, and a path holding one is never
//! written through.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use brume_proto::sync::manifest::{STAGING_DIR, to_hex};
use brume_proto::sync::{Node, Step, SyncPath};
use brume_proto::transfer::Hash;

use super::scan::hash_file;

fn real(dir: &Path, p: &SyncPath) -> PathBuf {
    let mut out = dir.to_owned();
    out.extend(p.components());
    out
}

/// The content hash of the regular file at `path`, if it is one.
fn file_hash(path: &Path) -> Option<Hash> {
    let meta = fs::symlink_metadata(path).ok()?;
    if !meta.file_type().is_file() {
        return None;
    }
    hash_file(path).ok().map(|(_, h)| h)
}

fn holds(path: &Path, expect: &Node) -> bool {
    let Ok(meta) = fs::symlink_metadata(path) else {
        return false;
    };
    match expect {
        Node::Dir => meta.file_type().is_dir(),
        Node::Link => meta.file_type().is_symlink(),
        Node::File { hash, .. } => file_hash(path) == Some(*hash),
    }
}

fn absent(path: &Path) -> bool {
    fs::symlink_metadata(path).is_err()
}

/// Runs one step in the group folder `dir`. `Ok(false)`: skipped, because
/// what it expected is not there (nothing is lost).
pub fn run_step(dir: &Path, step: &Step) -> io::Result<bool> {
    let staging = dir.join(STAGING_DIR);
    match step {
        Step::Keep {
            path, to, expect, ..
        } => {
            let (from, to) = (real(dir, path), real(dir, to));
            if !holds(&from, expect) || !absent(&to) {
                return Ok(false);
            }
            fs::rename(from, to)?;
        }
        Step::Stage { path, hash } => {
            let from = real(dir, path);
            if file_hash(&from) != Some(*hash) {
                return Ok(false);
            }
            fs::create_dir_all(&staging)?;
            fs::rename(from, staging.join(to_hex(hash)))?;
        }
        Step::Delete { path, hash } => {
            let p = real(dir, path);
            if file_hash(&p) != Some(*hash) {
                return Ok(false);
            }
            fs::remove_file(p)?;
        }
        Step::Rmdir { path } => {
            let p = real(dir, path);
            let is_dir = fs::symlink_metadata(&p).is_ok_and(|m| m.file_type().is_dir());
            if !is_dir || fs::remove_dir(&p).is_err() {
                return Ok(false); // not empty: something new is in it
            }
        }
        Step::Mkdir { path } => {
            let p = real(dir, path);
            if !absent(&p) {
                return Ok(false);
            }
            fs::create_dir(p)?;
        }
        Step::Unstage { hash, path } => {
            let (from, to) = (staging.join(to_hex(hash)), real(dir, path));
            if absent(&from) || !absent(&to) {
                return Ok(false);
            }
            fs::rename(from, to)?;
        }
        Step::Fetch { .. } => return Ok(false), // fetched by the transfer, then installed
    }
    Ok(true)
}

/// Moves a received file (`from`, relative to the group folder) to the
/// fetch's path: only if it holds the fetched content, and the path holds
/// nothing or the older version the fetch replaces.
pub fn install(dir: &Path, from: &str, fetch: &Step) -> io::Result<bool> {
    let Step::Fetch {
        path,
        hash,
        replaces,
        ..
    } = fetch
    else {
        return Ok(false);
    };
    let (from, to) = (dir.join(from), real(dir, path));
    if file_hash(&from) != Some(*hash) {
        return Ok(false);
    }
    let free = match fs::symlink_metadata(&to) {
        Err(_) => true,
        Ok(m) if m.file_type().is_file() => {
            let there = file_hash(&to);
            there == *replaces || there == Some(*hash)
        }
        Ok(_) => false, // a folder or a link: never replaced, never followed
    };
    if !free {
        return Ok(false);
    }
    fs::rename(from, to)?;
    Ok(true)
}

/// Empties the staging folder after a round.
pub fn clear_staging(dir: &Path) {
    let _ = fs::remove_dir_all(dir.join(STAGING_DIR));
}
