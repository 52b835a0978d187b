//! Runs the plan's steps and the installs on a real group folder.
//!
//! Each step first checks that what it would remove or rename is what the
//! plan expected (by content), and is skipped otherwise: a file edited
//! since the scan is never lost; the next scan sees it. Links are never
//! followed: they are renamed as links, and a path holding one is never
//! written through. Contents are known through the group's hash cache (a
//! file whose size, time and inode are unchanged is not read again), and
//! every file installed goes into it with the hash the transfer verified.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use brume_proto::sync::manifest::{STAGING_DIR, to_hex};
use brume_proto::sync::{HashCache, Node, Step, SyncPath};
use brume_proto::transfer::Hash;

use super::scan::{hash_file, now_ns, stamp};

fn real(dir: &Path, p: &SyncPath) -> PathBuf {
    let mut out = dir.to_owned();
    out.extend(p.components());
    out
}

/// The content hash of the regular file at `p` in the group folder `dir`,
/// if it is one: from the cache while its stamp holds, else read (and
/// cached).
fn file_hash(dir: &Path, p: &SyncPath, cache: &mut HashCache) -> Option<Hash> {
    let path = real(dir, p);
    let meta = fs::symlink_metadata(&path).ok()?;
    if !meta.file_type().is_file() {
        return None;
    }
    let st = stamp(&meta);
    if let Some(h) = cache.lookup(p, st) {
        return Some(h);
    }
    let (_, h) = hash_file(&path).ok()?;
    cache.insert(p.clone(), st, h, now_ns());
    Some(h)
}

fn holds(dir: &Path, p: &SyncPath, expect: &Node, cache: &mut HashCache) -> bool {
    let Ok(meta) = fs::symlink_metadata(real(dir, p)) else {
        return false;
    };
    match expect {
        Node::Dir => meta.file_type().is_dir(),
        Node::Link => meta.file_type().is_symlink(),
        Node::File { hash, .. } => file_hash(dir, p, cache) == Some(*hash),
    }
}

fn absent(path: &Path) -> bool {
    fs::symlink_metadata(path).is_err()
}

/// Runs one step in the group folder `dir`. `Ok(false)`: skipped, because
/// what it expected is not there (nothing is lost).
pub fn run_step(dir: &Path, step: &Step, cache: &mut HashCache) -> io::Result<bool> {
    let staging = dir.join(STAGING_DIR);
    match step {
        Step::Keep {
            path, to, expect, ..
        } => {
            let (from, to_real) = (real(dir, path), real(dir, to));
            if !holds(dir, path, expect, cache) || !absent(&to_real) {
                return Ok(false);
            }
            fs::rename(from, to_real)?;
            cache.forget(path);
        }
        Step::Stage { path, hash } => {
            let from = real(dir, path);
            if file_hash(dir, path, cache) != Some(*hash) {
                return Ok(false);
            }
            fs::create_dir_all(&staging)?;
            fs::rename(from, staging.join(to_hex(hash)))?;
        }
        Step::Delete { path, hash } => {
            let p = real(dir, path);
            if file_hash(dir, path, cache) != Some(*hash) {
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
/// fetch's path: only if it holds the fetched content (`verified`: the
/// transfer checked it against the fetch's hash, so it is not read again),
/// and the path holds nothing or the older version the fetch replaces.
pub fn install(
    dir: &Path,
    from: &str,
    fetch: &Step,
    verified: bool,
    cache: &mut HashCache,
) -> io::Result<bool> {
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
    let received = fs::symlink_metadata(&from)
        .ok()
        .filter(|m| m.file_type().is_file());
    let Some(received) = received else {
        return Ok(false);
    };
    if !verified && hash_file(&from).ok().map(|(_, h)| h) != Some(*hash) {
        return Ok(false);
    }
    let free = match fs::symlink_metadata(&to) {
        Err(_) => true,
        Ok(m) if m.file_type().is_file() => {
            let there = file_hash(dir, path, cache);
            there == *replaces || there == Some(*hash)
        }
        Ok(_) => false, // a folder or a link: never replaced, never followed
    };
    if !free {
        return Ok(false);
    }
    fs::rename(from, to)?;
    // A rename keeps the inode and times: the stamp is the received file's.
    cache.insert(path.clone(), stamp(&received), *hash, now_ns());
    Ok(true)
}

/// Empties the staging folder after a round.
pub fn clear_staging(dir: &Path) {
    let _ = fs::remove_dir_all(dir.join(STAGING_DIR));
}

#[cfg(test)]
mod tests {
    use super::*;
    use brume_proto::sync::ConflictKind;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "brume-apply-{name}-{}-{:x}",
            std::process::id(),
            fastrand::u64(..)
        ));
        fs::create_dir_all(&d).unwrap();
        d
    }

    fn p(s: &str) -> SyncPath {
        SyncPath::parse(s).unwrap()
    }

    fn hash(data: &[u8], dir: &Path) -> Hash {
        let f = dir.join(".h");
        fs::write(&f, data).unwrap();
        let h = hash_file(&f).unwrap().1;
        fs::remove_file(f).unwrap();
        h
    }

    #[test]
    fn a_file_edited_since_the_scan_is_never_removed_or_replaced() {
        let dir = tmp("edited");
        let old = hash(b"old", &dir);
        fs::write(dir.join("a"), b"edited meanwhile").unwrap();
        assert!(
            !run_step(
                &dir,
                &Step::Delete {
                    path: p("a"),
                    hash: old
                },
                &mut HashCache::new()
            )
            .unwrap()
        );
        assert!(
            !run_step(
                &dir,
                &Step::Stage {
                    path: p("a"),
                    hash: old
                },
                &mut HashCache::new()
            )
            .unwrap()
        );
        let expect = Node::File { size: 3, hash: old };
        let keep = Step::Keep {
            path: p("a"),
            to: p("a-conflict-sync"),
            kind: ConflictKind::Sync,
            expect,
        };
        assert!(!run_step(&dir, &keep, &mut HashCache::new()).unwrap());
        // An install that would replace `old` finds something else: skipped.
        fs::create_dir_all(dir.join(STAGING_DIR)).unwrap();
        fs::write(dir.join(".brume-sync/new"), b"new").unwrap();
        let fetch = Step::Fetch {
            path: p("a"),
            size: 3,
            hash: hash(b"new", &dir),
            replaces: Some(old),
        };
        assert!(
            !install(
                &dir,
                ".brume-sync/new",
                &fetch,
                false,
                &mut HashCache::new()
            )
            .unwrap()
        );
        assert_eq!(fs::read(dir.join("a")).unwrap(), b"edited meanwhile");
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn links_are_renamed_never_written_through() {
        let dir = tmp("links");
        let outside = tmp("outside");
        fs::write(outside.join("secret"), b"keep me").unwrap();
        std::os::unix::fs::symlink(outside.join("secret"), dir.join("f")).unwrap();
        fs::create_dir_all(dir.join(STAGING_DIR)).unwrap();
        fs::write(dir.join(".brume-sync/new"), b"owner").unwrap();
        let fetch = Step::Fetch {
            path: p("f"),
            size: 5,
            hash: hash(b"owner", &dir),
            replaces: None,
        };
        assert!(
            !install(
                &dir,
                ".brume-sync/new",
                &fetch,
                false,
                &mut HashCache::new()
            )
            .unwrap(),
            "never over a link"
        );
        let keep = Step::Keep {
            path: p("f"),
            to: p("f-conflict-update-add"),
            kind: ConflictKind::UpdateAdd,
            expect: Node::Link,
        };
        assert!(run_step(&dir, &keep, &mut HashCache::new()).unwrap());
        assert!(
            fs::symlink_metadata(dir.join("f-conflict-update-add"))
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert!(
            install(
                &dir,
                ".brume-sync/new",
                &fetch,
                false,
                &mut HashCache::new()
            )
            .unwrap()
        );
        assert_eq!(fs::read(dir.join("f")).unwrap(), b"owner");
        assert_eq!(fs::read(outside.join("secret")).unwrap(), b"keep me");
        fs::remove_dir_all(dir).unwrap();
        fs::remove_dir_all(outside).unwrap();
    }

    #[test]
    fn an_installed_file_is_in_the_cache_so_the_next_scan_reads_nothing() {
        let dir = tmp("cached");
        fs::create_dir_all(dir.join(STAGING_DIR)).unwrap();
        fs::write(dir.join(".brume-sync/new"), b"owner's").unwrap();
        // The transfer gives a received file the owner's time, long past.
        let past = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        let f = fs::File::options()
            .write(true)
            .open(dir.join(".brume-sync/new"))
            .unwrap();
        f.set_modified(past).unwrap();
        let h = hash(b"owner's", &dir);
        let fetch = Step::Fetch {
            path: p("a"),
            size: 7,
            hash: h,
            replaces: None,
        };
        let mut cache = HashCache::new();
        assert!(install(&dir, ".brume-sync/new", &fetch, true, &mut cache).unwrap());
        let s = super::super::scan::scan(&dir, &mut cache, false);
        assert_eq!(s.hashed, 0, "the install told the cache");
        assert_eq!(
            s.manifest.get(&p("a")),
            Some(&Node::File { size: 7, hash: h })
        );
        // An unverified received file that is not the fetched content stays.
        fs::write(dir.join(".brume-sync/other"), b"not it").unwrap();
        let fetch_b = Step::Fetch {
            path: p("b"),
            size: 7,
            hash: h,
            replaces: None,
        };
        assert!(!install(&dir, ".brume-sync/other", &fetch_b, false, &mut cache).unwrap());
        assert!(absent(&dir.join("b")));
        fs::remove_dir_all(dir).unwrap();
    }
}
