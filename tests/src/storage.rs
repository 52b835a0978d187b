//! An in-memory file system that executes transfer storage actions, for
//! simulations: exact, instant and inspectable.

use std::collections::{BTreeMap, BTreeSet};

use brume_proto::transfer::{Finish, StorageAction, StorageResult, TargetPath, hash_blocks};

/// Files and folders by full path: the accepting folder, then components.
#[derive(Debug, Default, Clone)]
pub struct MemStorage {
    /// Files and their bytes.
    pub files: BTreeMap<Vec<String>, Vec<u8>>,
    /// Folders.
    pub dirs: BTreeSet<Vec<String>>,
    /// Modification times set by transfers.
    pub mtimes: BTreeMap<Vec<String>, u64>,
    /// Files made executable by transfers.
    pub executable: BTreeSet<Vec<String>>,
    /// How many syncs were asked for, and of how many files in all.
    pub syncs: (usize, usize),
    /// Sources of outgoing transfers, by (transfer id, entry index).
    pub sources: BTreeMap<(u64, u32), Vec<u8>>,
    /// Free bytes reported.
    pub free: u64,
    /// Every action executed, in order, for assertions.
    pub log: Vec<StorageAction>,
    /// Whether to keep that log; benchmarks turn it off, since it copies
    /// every write.
    pub logging: bool,
    /// Whether to drop written bytes instead of keeping them, as raw str0m's
    /// receiver drops its messages; benchmarks comparing the two turn this
    /// on. Files then stay empty (and `Stat` says so): nothing may resume.
    pub discard_writes: bool,
    /// If set, every write fails with this message (which may name a local
    /// path, as a real file system's errors do).
    pub fail_writes: Option<String>,
}

fn full(p: &TargetPath) -> Vec<String> {
    std::iter::once(p.dir.clone())
        .chain(p.components.iter().cloned())
        .collect()
}

impl MemStorage {
    /// An empty store with plenty of free space.
    pub fn new() -> Self {
        Self {
            free: 1 << 40,
            logging: true,
            ..Self::default()
        }
    }

    /// The bytes of a file under `dir`.
    pub fn file(&self, dir: &str, components: &[&str]) -> Option<&Vec<u8>> {
        let mut key = vec![dir.to_owned()];
        key.extend(components.iter().map(|c| c.to_string()));
        self.files.get(&key)
    }

    /// A received file's last step: created if absent, cut to its length
    /// (unless writes are dropped), its attributes set.
    fn finish(&mut self, path: Vec<String>, finish: &Finish) -> StorageResult {
        let file = self.files.entry(path.clone()).or_default();
        if !self.discard_writes {
            file.resize(finish.len as usize, 0);
        }
        self.mtimes.insert(path.clone(), finish.mtime);
        if finish.executable {
            self.executable.insert(path);
        } else {
            self.executable.remove(&path);
        }
        StorageResult::Done
    }

    /// Executes one action.
    pub fn execute(&mut self, action: &StorageAction) -> StorageResult {
        if self.logging {
            self.log.push(action.clone());
        }
        match action {
            StorageAction::ReadSource {
                transfer,
                index,
                offset,
                len,
                head_room,
                ..
            } => match self.sources.get(&(transfer.id, *index)) {
                Some(data) => {
                    let mut out = Vec::with_capacity(head_room + *len as usize);
                    out.resize(*head_room, 0);
                    out.extend_from_slice(slice(data, *offset, *len));
                    StorageResult::Data(out)
                }
                None => StorageResult::Failed("no such source".into()),
            },
            StorageAction::HashSource {
                transfer,
                index,
                offset,
                len,
                block,
                ..
            } => match self.sources.get(&(transfer.id, *index)) {
                Some(data) if (data.len() as u64) >= offset + len => {
                    StorageResult::Hashes(hash_blocks(slice(data, *offset, *len), *block))
                }
                Some(_) => StorageResult::Failed("the source changed since it was listed".into()),
                None => StorageResult::Failed("no such source".into()),
            },
            StorageAction::Read {
                path, offset, len, ..
            } => match self.files.get(&full(path)) {
                Some(data) => StorageResult::Data(slice(data, *offset, *len).to_vec()),
                None => StorageResult::Failed("no such file".into()),
            },
            StorageAction::Stat { path, .. } => {
                StorageResult::Size(self.files.get(&full(path)).map(|d| d.len() as u64))
            }
            StorageAction::FreeSpace { .. } => StorageResult::Size(Some(self.free)),
            StorageAction::CreateDir { path, .. } => {
                let path = full(path);
                if self.files.contains_key(&path) {
                    return StorageResult::Exists;
                }
                self.dirs.insert(path);
                StorageResult::Done
            }
            StorageAction::Write {
                path,
                offset,
                data,
                finish,
                ..
            } => {
                if let Some(e) = &self.fail_writes {
                    return StorageResult::Failed(e.clone());
                }
                let file = self.files.entry(full(path)).or_default();
                if !self.discard_writes {
                    let end = *offset as usize + data.len();
                    if file.len() < end {
                        file.resize(end, 0);
                    }
                    file[*offset as usize..end].copy_from_slice(data);
                }
                match finish {
                    Some(finish) => self.finish(full(path), finish),
                    None => StorageResult::Done,
                }
            }
            StorageAction::Truncate { path, len, .. } => {
                self.files
                    .entry(full(path))
                    .or_default()
                    .resize(*len as usize, 0);
                StorageResult::Done
            }
            StorageAction::Sync { paths, .. } => {
                self.syncs.0 += 1;
                self.syncs.1 += paths.len();
                if paths.iter().all(|p| self.files.contains_key(&full(p))) {
                    StorageResult::Done
                } else {
                    StorageResult::Failed("sync of a missing file".into())
                }
            }
            StorageAction::Rename { from, to, .. } => {
                let (from, to) = (full(from), full(to));
                if self.files.contains_key(&to) || self.dirs.contains(&to) {
                    return StorageResult::Exists;
                }
                match self.files.remove(&from) {
                    Some(data) => {
                        if self.executable.remove(&from) {
                            self.executable.insert(to.clone());
                        }
                        if let Some(t) = self.mtimes.remove(&from) {
                            self.mtimes.insert(to.clone(), t);
                        }
                        self.files.insert(to, data);
                        StorageResult::Done
                    }
                    None => StorageResult::Failed("rename of a missing file".into()),
                }
            }
            StorageAction::SetAttributes { path, finish, .. } => self.finish(full(path), finish),
            StorageAction::Remove { path, .. } => {
                self.files.remove(&full(path));
                StorageResult::Done
            }
            StorageAction::ReleaseSources { transfer, .. } => {
                self.sources.retain(|(id, _), _| *id != transfer.id);
                StorageResult::Done
            }
        }
    }
}

fn slice(data: &[u8], offset: u64, len: u64) -> &[u8] {
    let start = (offset as usize).min(data.len());
    let end = (start + len as usize).min(data.len());
    &data[start..end]
}
