//! Executes transfer [`StorageAction`]s on real files, and describes files
//! and folders to send as [`SourceEntry`]s.
//!
//! `Rename` never overwrites: it hard-links the temporary file to its final
//! name (which fails if the name is taken) and then removes the temporary.
//!
//! Owns: file handles. Never: decides what to write or where (the
//! transfer core does; its paths are already checked components).

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use brume_proto::transfer::{
    EntryKind, Finish, SourceEntry, StorageAction, StorageResult, TargetPath,
};

/// Real-file storage for one client's transfers.
#[derive(Debug, Default)]
pub struct FileStorage {
    /// Outgoing transfers' sources: transfer id → path of each entry
    /// (shared with the other storage threads, never copied).
    sources: BTreeMap<u64, Arc<Vec<PathBuf>>>,
    /// The file last written, kept open.
    writing: Option<(PathBuf, File)>,
    /// The file last read, kept open.
    reading: Option<(PathBuf, File)>,
}

fn target(p: &TargetPath) -> PathBuf {
    let mut path = PathBuf::from(&p.dir);
    path.extend(&p.components);
    path
}

fn failed(what: &str, path: &Path, e: impl std::fmt::Display) -> StorageResult {
    StorageResult::Failed(format!("{what} {}: {e}", path.display()))
}

impl FileStorage {
    /// Remembers where an outgoing transfer's entries live.
    pub fn add_source(&mut self, transfer_id: u64, paths: impl Into<Arc<Vec<PathBuf>>>) {
        let paths = paths.into();
        self.sources.insert(transfer_id, paths);
    }

    /// Forgets an outgoing transfer's sources.
    pub fn remove_source(&mut self, transfer_id: u64) {
        self.sources.remove(&transfer_id);
    }

    /// Executes one action.
    pub fn execute(&mut self, action: &StorageAction) -> StorageResult {
        if let Some(wait) = slow_disk() {
            std::thread::sleep(wait);
        }
        match action {
            StorageAction::ReadSource {
                transfer,
                index,
                offset,
                len,
                head_room,
                ..
            } => match self.source(transfer.id, *index) {
                Some(path) => self.read(&path, *offset, *len, *head_room),
                None => StorageResult::Failed("no such source".into()),
            },
            StorageAction::HashSource {
                transfer,
                index,
                offset,
                len,
                block,
                ..
            } => match self.source(transfer.id, *index) {
                Some(path) => self.hash(&path, *offset, *len, *block),
                None => StorageResult::Failed("no such source".into()),
            },
            StorageAction::Read {
                path, offset, len, ..
            } => self.read(&target(path), *offset, *len, 0),
            StorageAction::Stat { path, .. } => {
                let path = target(path);
                match fs::metadata(&path) {
                    Ok(m) if m.is_file() => StorageResult::Size(Some(m.len())),
                    Ok(_) => failed("not a file:", &path, "a folder is in the way"),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => StorageResult::Size(None),
                    Err(e) => failed("cannot stat", &path, e),
                }
            }
            StorageAction::FreeSpace { dir, .. } => {
                // The folder may not exist yet: ask its nearest ancestor.
                let mut p = PathBuf::from(dir);
                loop {
                    if p.exists() {
                        break;
                    }
                    if !p.pop() {
                        p = PathBuf::from(".");
                        break;
                    }
                }
                if p.as_os_str().is_empty() {
                    p = PathBuf::from(".");
                }
                match fs4::available_space(&p) {
                    Ok(n) => StorageResult::Size(Some(n)),
                    Err(e) => failed("cannot measure free space in", &p, e),
                }
            }
            StorageAction::CreateDir { path, .. } => {
                // Parents come first, so one level is made at a time; a file
                // or a link in the way is reported (the folder is renamed),
                // never followed.
                let path = target(path);
                match fs::create_dir(&path) {
                    Ok(()) => StorageResult::Done,
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                        match fs::symlink_metadata(&path) {
                            Ok(m) if m.is_dir() => StorageResult::Done,
                            _ => StorageResult::Exists,
                        }
                    }
                    Err(e) => failed("cannot create", &path, e),
                }
            }
            StorageAction::Write {
                path,
                offset,
                data,
                finish,
                ..
            } => {
                let path = target(path);
                if let Err(e) = self.write(&path, *offset, data) {
                    return failed("cannot write", &path, e);
                }
                let Some(finish) = finish else {
                    return StorageResult::Done;
                };
                // The file is whole: finished on the handle just written.
                let finished = match &self.writing {
                    Some((_, f)) => finish_file(f, finish),
                    None => Err(io::Error::other("the file is not open")),
                };
                self.forget(&path);
                match finished {
                    Ok(()) => StorageResult::Done,
                    Err(e) => failed("cannot set the attributes of", &path, e),
                }
            }
            StorageAction::Truncate { path, len, .. } => {
                let path = target(path);
                self.forget(&path);
                let r = OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(false)
                    .open(&path)
                    .and_then(|f| f.set_len(*len));
                match r {
                    Ok(()) => StorageResult::Done,
                    Err(e) => failed("cannot truncate", &path, e),
                }
            }
            StorageAction::Sync { paths, .. } => {
                let paths: Vec<PathBuf> = paths.iter().map(target).collect();
                for path in &paths {
                    self.forget(path);
                }
                sync_all(&paths)
            }
            StorageAction::Rename { from, to, .. } => {
                let (from, to) = (target(from), target(to));
                self.forget(&from);
                self.forget(&to);
                rename_no_replace(&from, &to)
            }
            StorageAction::SetAttributes { path, finish, .. } => {
                let path = target(path);
                self.forget(&path);
                let opened = OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(false)
                    .open(&path);
                match opened.and_then(|f| finish_file(&f, finish)) {
                    Ok(()) => StorageResult::Done,
                    Err(e) => failed("cannot set the attributes of", &path, e),
                }
            }
            StorageAction::Remove { path, .. } => {
                let path = target(path);
                self.forget(&path);
                match fs::remove_file(&path) {
                    Ok(()) => StorageResult::Done,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => StorageResult::Done,
                    Err(e) => failed("cannot remove", &path, e),
                }
            }
            StorageAction::ReleaseSources { transfer, .. } => {
                self.remove_source(transfer.id);
                StorageResult::Done
            }
        }
    }

    fn forget(&mut self, path: &Path) {
        if self.writing.as_ref().is_some_and(|(p, _)| p == path) {
            self.writing = None;
        }
        if self.reading.as_ref().is_some_and(|(p, _)| p == path) {
            self.reading = None;
        }
    }

    fn source(&self, transfer_id: u64, index: u32) -> Option<PathBuf> {
        self.sources.get(&transfer_id)?.get(index as usize).cloned()
    }

    /// The block hashes of `len` bytes at `offset` (see `StorageAction::HashSource`).
    fn hash(&mut self, path: &Path, offset: u64, len: u64, block: u64) -> StorageResult {
        let mut hashes = Vec::new();
        let mut at = offset;
        while at < offset + len {
            let want = block.min(offset + len - at);
            let data = match self.read(path, at, want, 0) {
                StorageResult::Data(data) => data,
                failure => return failure,
            };
            if (data.len() as u64) < want {
                return failed("cannot hash", path, "it changed since it was listed");
            }
            hashes.push(brume_proto::transfer::hash_block(&data));
            at += want;
        }
        StorageResult::Hashes(hashes)
    }

    /// Reads after `head_room` zero bytes (see `StorageAction::ReadSource`).
    fn read(&mut self, path: &Path, offset: u64, len: u64, head_room: usize) -> StorageResult {
        if self.reading.as_ref().is_none_or(|(p, _)| p != path) {
            match File::open(path) {
                Ok(f) => self.reading = Some((path.to_owned(), f)),
                Err(e) => return failed("cannot open", path, e),
            }
        }
        let Some((_, f)) = &mut self.reading else {
            unreachable!("opened just above");
        };
        let mut buf = Vec::with_capacity(head_room + len.min(1 << 24) as usize);
        buf.resize(head_room, 0);
        let r = f
            .seek(SeekFrom::Start(offset))
            .and_then(|_| f.take(len).read_to_end(&mut buf));
        match r {
            Ok(_) => StorageResult::Data(buf),
            Err(e) => failed("cannot read", path, e),
        }
    }

    fn write(&mut self, path: &Path, offset: u64, data: &[u8]) -> io::Result<()> {
        if self.writing.as_ref().is_none_or(|(p, _)| p != path) {
            let f = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .open(path)?;
            self.writing = Some((path.to_owned(), f));
        }
        if self.reading.as_ref().is_some_and(|(p, _)| p == path) {
            self.reading = None;
        }
        let Some((_, f)) = &mut self.writing else {
            unreachable!("opened just above");
        };
        f.seek(SeekFrom::Start(offset))?;
        f.write_all(data)
    }
}

/// Files synced at once by separate threads: the file system commits
/// concurrent syncs together, so a batch of small files costs about one
/// wait for the disk instead of one each.
const SYNC_THREADS: usize = 8;

/// From this many files on, a batch is flushed (on Linux) with one
/// `syncfs(2)` per file system instead of an `fsync` per file: for many
/// small files that is one call instead of hundreds of opens and syncs. It
/// also flushes what others wrote there, so a lone large file keeps its
/// own `fsync`.
#[cfg(any(target_os = "linux", test))]
const SYNCFS_FROM: usize = 8;

/// Makes every file of `paths` durable.
fn sync_all(paths: &[PathBuf]) -> StorageResult {
    #[cfg(target_os = "linux")]
    if paths.len() >= SYNCFS_FROM {
        return sync_file_systems(paths);
    }
    sync_each(paths)
}

/// One `syncfs` on each file system the files are on (a file is opened
/// only to name its file system).
#[cfg(target_os = "linux")]
fn sync_file_systems(paths: &[PathBuf]) -> StorageResult {
    use std::os::unix::fs::MetadataExt;
    let mut by_device: BTreeMap<u64, &PathBuf> = BTreeMap::new();
    for path in paths {
        match fs::symlink_metadata(path) {
            Ok(meta) => {
                by_device.entry(meta.dev()).or_insert(path);
            }
            Err(e) => return failed("cannot sync", path, e),
        }
    }
    for path in by_device.into_values() {
        let synced = File::open(path).and_then(|f| rustix::fs::syncfs(&f).map_err(io::Error::from));
        if let Err(e) = synced {
            return failed("cannot sync", path, e);
        }
    }
    StorageResult::Done
}

/// An `fsync` of each file, in parallel.
fn sync_each(paths: &[PathBuf]) -> StorageResult {
    let sync = |path: &PathBuf| {
        File::options()
            .write(true)
            .open(path)
            .and_then(|f| f.sync_all())
            .err()
            .map(|e| failed("cannot sync", path, e))
    };
    if paths.len() <= 1 {
        return paths.iter().find_map(sync).unwrap_or(StorageResult::Done);
    }
    let per_thread = paths.len().div_ceil(SYNC_THREADS);
    let failure = std::thread::scope(|scope| {
        let workers: Vec<_> = paths
            .chunks(per_thread)
            .map(|chunk| scope.spawn(move || chunk.iter().find_map(sync)))
            .collect();
        workers.into_iter().find_map(|w| {
            w.join()
                .unwrap_or_else(|_| Some(StorageResult::Failed("a sync thread panicked".into())))
        })
    });
    failure.unwrap_or(StorageResult::Done)
}

/// A received file's last step: its length, time and execute bit.
fn finish_file(f: &File, finish: &Finish) -> io::Result<()> {
    f.set_len(finish.len)?;
    f.set_modified(UNIX_EPOCH + Duration::from_secs(finish.mtime))?;
    set_executable(f, finish.executable)
}

/// On Unix, an execute bit wherever a read bit is set (as `chmod +x` does
/// within the umask's reach), or none.
#[cfg(unix)]
fn set_executable(f: &File, executable: bool) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = f.metadata()?.permissions().mode();
    let read = mode & 0o444;
    let new = if executable {
        mode | (read >> 2)
    } else {
        mode & !0o111
    };
    if new != mode {
        f.set_permissions(fs::Permissions::from_mode(new))?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn set_executable(_: &File, _: bool) -> io::Result<()> {
    Ok(())
}

/// Renames `from` to `to` unless `to` exists: link, then unlink.
fn rename_no_replace(from: &Path, to: &Path) -> StorageResult {
    match fs::hard_link(from, to) {
        Ok(()) => match fs::remove_file(from) {
            Ok(()) => StorageResult::Done,
            Err(e) => failed("cannot remove", from, e),
        },
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => StorageResult::Exists,
        Err(e) if e.kind() == io::ErrorKind::NotFound => failed("cannot rename", from, e),
        Err(_) => {
            // A file system without hard links: check, then rename.
            if fs::symlink_metadata(to).is_ok() {
                return StorageResult::Exists;
            }
            match fs::rename(from, to) {
                Ok(()) => StorageResult::Done,
                Err(e) => failed("cannot rename", from, e),
            }
        }
    }
}

fn mtime(m: &fs::Metadata) -> u64 {
    m.modified()
        .ok()
        .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs())
}

/// What [`describe`] found to send.
#[derive(Debug, Default)]
pub struct Described {
    /// The entries, for [`brume_proto::transfer::Transfers::send`].
    pub entries: Vec<SourceEntry>,
    /// The real path of each entry, in the same order.
    pub paths: Vec<PathBuf>,
    /// What was left out, and why, each naming its path: for the user.
    pub warnings: Vec<String>,
}

/// Describes a file or a folder (recursively) for sending.
///
/// Symbolic links inside a folder are skipped with a warning, unless
/// `follow_links`: then each is followed, except one that points back to
/// a folder it is in (a loop) or to nothing, which is skipped with a
/// warning. `path` itself is followed if it is a link: the user named it.
/// Anything else that is neither a file nor a folder is skipped with a
/// warning; an entry that cannot be read, or whose name cannot be sent,
/// fails the whole description with an error naming it.
pub fn describe(path: &Path, follow_links: bool) -> Result<Described> {
    let meta = fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    let canonical = path
        .canonicalize()
        .with_context(|| format!("cannot read {}", path.display()))?;
    let name = canonical
        .file_name()
        .with_context(|| format!("{} has no name", path.display()))?;
    let name = sendable_name(name, path)?;
    let mut walk = Walk {
        follow_links,
        ancestors: Vec::new(),
        out: Described::default(),
    };
    walk.entry(path, &name, &meta, canonical)?;
    Ok(walk.out)
}

/// A name as it is sent, or an error naming `path`.
fn sendable_name(name: &std::ffi::OsStr, path: &Path) -> Result<String> {
    let Some(name) = name.to_str() else {
        bail!(
            "cannot send {}: its name is not valid UTF-8",
            path.display()
        );
    };
    if let Err(e) = brume_proto::transfer::names::check_component(name) {
        bail!("cannot send {}: {e}", path.display());
    }
    Ok(name.to_owned())
}

struct Walk {
    follow_links: bool,
    /// The folders being walked, outermost first, resolved: a link to one
    /// of them is a loop.
    ancestors: Vec<PathBuf>,
    out: Described,
}

#[cfg(unix)]
fn is_executable(m: &fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    m.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_: &fs::Metadata) -> bool {
    false
}

impl Walk {
    fn entry(
        &mut self,
        path: &Path,
        rel: &str,
        meta: &fs::Metadata,
        resolved: PathBuf,
    ) -> Result<()> {
        if meta.is_file() {
            self.out.entries.push(SourceEntry {
                path: rel.to_owned(),
                kind: EntryKind::File,
                size: meta.len(),
                mtime: mtime(meta),
                mime: None,
                executable: is_executable(meta),
                blocks: None,
            });
            self.out.paths.push(path.to_owned());
            return Ok(());
        }
        if !meta.is_dir() {
            bail!("{} is neither a file nor a folder", path.display());
        }
        self.out.entries.push(SourceEntry {
            path: rel.to_owned(),
            kind: EntryKind::Dir,
            size: 0,
            mtime: mtime(meta),
            mime: None,
            executable: false,
            blocks: None,
        });
        self.out.paths.push(path.to_owned());
        let mut children = Vec::new();
        for child in
            fs::read_dir(path).with_context(|| format!("cannot list {}", path.display()))?
        {
            children.push(child.with_context(|| format!("cannot list {}", path.display()))?);
        }
        children.sort_by_key(|e| e.file_name());
        self.ancestors.push(resolved);
        for child in children {
            let child_path = child.path();
            let name = sendable_name(&child.file_name(), &child_path)?;
            let rel = format!("{rel}/{name}");
            let lmeta = fs::symlink_metadata(&child_path)
                .with_context(|| format!("cannot read {}", child_path.display()))?;
            let (meta, resolved) = if lmeta.file_type().is_symlink() {
                if !self.follow_links {
                    self.warn(format!(
                        "skipped the symbolic link {} (--follow-links follows links)",
                        child_path.display()
                    ));
                    continue;
                }
                match fs::metadata(&child_path).and_then(|m| Ok((m, child_path.canonicalize()?))) {
                    Ok((m, target)) if m.is_dir() && self.ancestors.contains(&target) => {
                        self.warn(format!(
                            "skipped the symbolic link {}: it points back to {}, a loop",
                            child_path.display(),
                            target.display()
                        ));
                        continue;
                    }
                    Ok(found) => found,
                    Err(e) => {
                        self.warn(format!(
                            "skipped the symbolic link {}: its target cannot be read ({e})",
                            child_path.display()
                        ));
                        continue;
                    }
                }
            } else if lmeta.is_dir() {
                let resolved = child_path
                    .canonicalize()
                    .with_context(|| format!("cannot read {}", child_path.display()))?;
                (lmeta, resolved)
            } else {
                (lmeta, child_path.clone())
            };
            if !meta.is_file() && !meta.is_dir() {
                self.warn(format!(
                    "skipped {}: neither a file nor a folder",
                    child_path.display()
                ));
                continue;
            }
            self.entry(&child_path, &rel, &meta, resolved)?;
        }
        self.ancestors.pop();
        Ok(())
    }

    fn warn(&mut self, warning: String) {
        self.out.warnings.push(warning);
    }
}

/// Fault injection for the end-to-end tests, in debug builds only: every
/// action first waits `BRUME_TEST_SLOW_DISK_MS`, as on a disk that hangs.
fn slow_disk() -> Option<std::time::Duration> {
    if !cfg!(debug_assertions) {
        return None;
    }
    static SLOW: std::sync::OnceLock<Option<u64>> = std::sync::OnceLock::new();
    let ms = *SLOW.get_or_init(|| std::env::var("BRUME_TEST_SLOW_DISK_MS").ok()?.parse().ok());
    ms.map(std::time::Duration::from_millis)
}

#[cfg(test)]
mod tests {
    use super::*;
    use brume_proto::transfer::RequestId;

    fn tp(dir: &Path, name: &str) -> TargetPath {
        TargetPath {
            dir: dir.to_string_lossy().into_owned(),
            components: vec![name.into()],
        }
    }

    #[test]
    fn rename_never_overwrites() {
        let dir = std::env::temp_dir().join(format!("brume-files-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let mut s = FileStorage::default();
        let req = RequestId(1);
        let w = |name: &str, data: &[u8]| StorageAction::Write {
            req,
            path: tp(&dir, name),
            offset: 0,
            data: data.to_vec(),
            finish: None,
        };
        assert_eq!(s.execute(&w("a.tmp", b"new")), StorageResult::Done);
        assert_eq!(s.execute(&w("a", b"old")), StorageResult::Done);
        let rename = StorageAction::Rename {
            req,
            from: tp(&dir, "a.tmp"),
            to: tp(&dir, "a"),
        };
        assert_eq!(s.execute(&rename), StorageResult::Exists);
        assert_eq!(fs::read(dir.join("a")).unwrap(), b"old");
        let rename = StorageAction::Rename {
            req,
            from: tp(&dir, "a.tmp"),
            to: tp(&dir, "b"),
        };
        assert_eq!(s.execute(&rename), StorageResult::Done);
        assert_eq!(fs::read(dir.join("b")).unwrap(), b"new");
        assert!(!dir.join("a.tmp").exists());
        let stat = StorageAction::Stat {
            req,
            path: tp(&dir, "zzz"),
        };
        assert_eq!(s.execute(&stat), StorageResult::Size(None));
        let read = StorageAction::Read {
            req,
            path: tp(&dir, "b"),
            offset: 1,
            len: 10,
        };
        assert_eq!(s.execute(&read), StorageResult::Data(b"ew".to_vec()));
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_last_write_or_step_sets_length_time_and_execute_bit() {
        use std::os::unix::fs::PermissionsExt;
        let dir = scratch("finish");
        let mut s = FileStorage::default();
        let req = RequestId(1);
        // Older, longer bytes under the name: the last step cuts them.
        fs::write(dir.join("a"), b"stale and longer").unwrap();
        let finish = Finish {
            len: 3,
            mtime: 1_600_000_000,
            executable: true,
        };
        let write = StorageAction::Write {
            req,
            path: tp(&dir, "a"),
            offset: 0,
            data: b"new".to_vec(),
            finish: Some(finish),
        };
        assert_eq!(s.execute(&write), StorageResult::Done);
        let meta = fs::metadata(dir.join("a")).unwrap();
        assert_eq!(fs::read(dir.join("a")).unwrap(), b"new");
        assert_eq!(mtime(&meta), 1_600_000_000);
        assert_ne!(meta.permissions().mode() & 0o111, 0);
        // An empty file is created by its last step alone.
        let empty = StorageAction::SetAttributes {
            req,
            path: tp(&dir, "empty"),
            finish: Finish {
                len: 0,
                mtime: 1_500_000_000,
                executable: false,
            },
        };
        assert_eq!(s.execute(&empty), StorageResult::Done);
        let meta = fs::metadata(dir.join("empty")).unwrap();
        assert_eq!((meta.len(), mtime(&meta)), (0, 1_500_000_000));
        assert_eq!(meta.permissions().mode() & 0o111, 0);
        fs::remove_dir_all(dir).unwrap();
    }

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("brume-files-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_source_range_is_hashed_block_by_block_and_a_shrunk_file_fails() {
        let dir = scratch("hash");
        let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        fs::write(dir.join("f"), &data).unwrap();
        let mut s = FileStorage::default();
        s.add_source(9, vec![dir.join("f")]);
        let transfer = brume_proto::transfer::TransferKey {
            peer: "bob/phone".parse().unwrap(),
            id: 9,
            outgoing: true,
        };
        let hash = |offset, len| StorageAction::HashSource {
            req: RequestId(1),
            transfer: transfer.clone(),
            index: 0,
            offset,
            len,
            block: 4096,
        };
        let want: Vec<_> = data[4096..]
            .chunks(4096)
            .map(brume_proto::transfer::hash_block)
            .collect();
        assert_eq!(want.len(), 2);
        assert_eq!(
            s.execute(&hash(4096, 10_000 - 4096)),
            StorageResult::Hashes(want)
        );
        // Listed at 12,000 bytes, it holds 10,000 now.
        let StorageResult::Failed(why) = s.execute(&hash(8192, 12_000 - 8192)) else {
            panic!("a short file must fail");
        };
        assert!(why.contains("changed since it was listed"), "{why}");
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_batch_is_synced_at_once_and_a_missing_file_is_named() {
        let dir = scratch("sync");
        let paths: Vec<TargetPath> = (0..SYNCFS_FROM + 2)
            .map(|i| {
                let name = format!("f{i}");
                fs::write(dir.join(&name), b"x").unwrap();
                tp(&dir, &name)
            })
            .collect();
        let mut s = FileStorage::default();
        let sync = |paths: Vec<TargetPath>| StorageAction::Sync {
            req: RequestId(1),
            paths,
        };
        assert_eq!(s.execute(&sync(paths.clone())), StorageResult::Done);
        let mut with_missing = paths;
        with_missing.push(tp(&dir, "gone"));
        let StorageResult::Failed(why) = s.execute(&sync(with_missing)) else {
            panic!("a missing file must fail the sync");
        };
        assert!(why.contains("gone"), "{why}");
        fs::remove_dir_all(dir).unwrap();
    }
}
