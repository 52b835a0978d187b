//! A group folder as a `Manifest`: walked without following links, each
//! file hashed as the transfer hashes it, unless the cache knows it.

use std::fs;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use brume_proto::sync::{FileStamp, HashCache, Manifest, Scanned, SyncError, SyncPath};
use brume_proto::transfer::{Hash, block_size, content_hash, hash_block};

/// What a scan found.
pub struct Scan {
    /// The manifest.
    pub manifest: Manifest,
    /// What was refused or unreadable, one line each.
    pub refused: Vec<String>,
    /// Files hashed (not found in the cache).
    pub hashed: usize,
}

/// The transfer's content hash of the file at `path`.
pub fn hash_file(path: &Path) -> std::io::Result<(u64, Hash)> {
    hash_file_blocks(path).map(|(size, hash, _)| (size, hash))
}

/// The size, content hash and block hashes of the file at `path`, read
/// once, as the transfer's sender would hash it.
pub fn hash_file_blocks(path: &Path) -> std::io::Result<(u64, Hash, Vec<Hash>)> {
    let mut f = fs::File::open(path)?;
    let size = f.metadata()?.len();
    let block = block_size(size);
    let mut blocks = Vec::new();
    let mut buf = vec![0u8; block as usize];
    let mut total = 0u64;
    loop {
        let mut filled = 0;
        while filled < buf.len() {
            let n = f.read(&mut buf[filled..])?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        if filled == 0 {
            break;
        }
        total += filled as u64;
        blocks.push(hash_block(&buf[..filled]));
        if filled < buf.len() {
            break;
        }
    }
    if total != size {
        return Err(std::io::Error::other("the file changed while it was read"));
    }
    Ok((size, content_hash(size, block, &blocks), blocks))
}

/// The stamp the cache keys a file by.
pub fn stamp(meta: &fs::Metadata) -> FileStamp {
    FileStamp {
        size: meta.len(),
        mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
        inode: meta.ino(),
    }
}

/// Wall-clock nanoseconds, for the cache's racily-clean check.
pub fn now_ns() -> i128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i128)
        .unwrap_or(0)
}

/// Scans the group folder `dir`. `owner`: refuse links (they are not
/// followed either way), and keep the block hashes of the files it reads
/// in `cache`, for sending.
pub fn scan(dir: &Path, cache: &mut HashCache, owner: bool) -> Scan {
    let mut found = Vec::new();
    let mut refused = Vec::new();
    let mut hashed = 0;
    let scanned_at = now_ns();
    walk(dir, "", &mut |rel, meta, full| {
        let path = match SyncPath::parse(rel) {
            Ok(p) => p,
            Err(e) => {
                refused.push(
                    SyncError::UnsafePath {
                        path: rel.chars().take(64).collect(),
                        why: e.to_string(),
                    }
                    .to_string(),
                );
                return false;
            }
        };
        if brume_proto::sync::manifest::is_excluded(&path) {
            return false; // .members, the staging folder, partial files
        }
        let ty = meta.file_type();
        let s = if ty.is_symlink() {
            Scanned::Link
        } else if ty.is_dir() {
            Scanned::Dir
        } else if ty.is_file() {
            let st = stamp(meta);
            match cache.lookup(&path, st) {
                Some(hash) => Scanned::File {
                    size: st.size,
                    hash,
                },
                None => match hash_file_blocks(full) {
                    Ok((size, hash, blocks)) => {
                        hashed += 1;
                        cache.insert(path.clone(), st, hash, scanned_at);
                        if owner {
                            // A member's fetch is then offered without
                            // reading the file again first.
                            cache.keep_blocks(&path, st, blocks);
                        }
                        Scanned::File { size, hash }
                    }
                    Err(e) => Scanned::Other {
                        why: format!("cannot read it: {e}"),
                    },
                },
            }
        } else {
            Scanned::Other {
                why: "neither a file, a folder nor a link".into(),
            }
        };
        let descend = matches!(s, Scanned::Dir);
        found.push((path, s));
        descend
    });
    let seen: std::collections::BTreeSet<SyncPath> = found.iter().map(|(p, _)| p.clone()).collect();
    cache.retain_seen(|p| seen.contains(p));
    let (manifest, errors) = Manifest::from_scan(found, owner);
    refused.extend(errors.iter().map(ToString::to_string));
    Scan {
        manifest,
        refused,
        hashed,
    }
}

/// Visits every entry under `dir` (not following links), parents first;
/// `visit` returns whether to descend into a folder.
fn walk(dir: &Path, prefix: &str, visit: &mut impl FnMut(&str, &fs::Metadata, &Path) -> bool) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        let rel = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        let full = e.path();
        let Ok(meta) = fs::symlink_metadata(&full) else {
            continue;
        };
        if visit(&rel, &meta, &full) {
            walk(&full, &rel, visit);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use brume_proto::transfer::hash_blocks;

    fn tmp(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!(
            "brume-scan-{name}-{}-{:x}",
            std::process::id(),
            fastrand::u64(..)
        ));
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn an_owners_scan_keeps_the_block_hashes_it_read_and_a_members_does_not() {
        let dir = tmp("blocks");
        // Two blocks and a bit: the list the sender would have computed.
        let data: Vec<u8> = (0..(2 << 20) + 5).map(|i| (i % 253) as u8).collect();
        fs::write(dir.join("f"), &data).unwrap();
        let st = stamp(&fs::symlink_metadata(dir.join("f")).unwrap());
        let f = SyncPath::parse("f").unwrap();
        let want = hash_blocks(&data, block_size(data.len() as u64));

        let mut owner = HashCache::new();
        let s = scan(&dir, &mut owner, true);
        assert_eq!(s.hashed, 1);
        assert_eq!(owner.blocks(&f, st), Some(want.as_slice()));
        assert_eq!(
            s.manifest.get(&f).and_then(|n| n.hash()),
            Some(content_hash(
                data.len() as u64,
                block_size(data.len() as u64),
                &want
            ))
        );

        fs::write(dir.join("small"), b"one block").unwrap();
        let small = SyncPath::parse("small").unwrap();
        let small_stamp = stamp(&fs::symlink_metadata(dir.join("small")).unwrap());
        let mut owner = HashCache::new();
        scan(&dir, &mut owner, true);
        assert_eq!(
            owner.blocks(&small, small_stamp),
            Some(&[hash_block(b"one block")][..])
        );
        assert_eq!(owner.blocks(&f, st), Some(want.as_slice()));

        let mut member = HashCache::new();
        scan(&dir, &mut member, false);
        assert_eq!(member.blocks(&f, st), None);
        fs::remove_dir_all(dir).unwrap();
    }
}
