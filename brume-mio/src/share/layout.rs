//! The share root: which groups it holds, and the daemon's state beside them.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use brume_proto::signal::{GroupId, GroupName, UserName};
use brume_proto::sync::{HashCache, Manifest};
use fs4::fs_std::FileExt;

/// The daemon's own folder at the top of the root (never a user name: names
/// start with a letter or a digit).
pub const STATE_DIR: &str = ".brume-share";

/// The root folder of group folders.
#[derive(Debug, Clone)]
pub struct Root {
    /// The root itself.
    pub dir: PathBuf,
}

/// A group folder found in the root.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Found {
    /// `OWNER/GROUP`.
    pub group: GroupId,
    /// Its folder.
    pub dir: PathBuf,
}

impl Root {
    /// The root at `dir` (created if missing).
    pub fn open(dir: &Path) -> Result<Self> {
        fs::create_dir_all(dir.join(STATE_DIR))
            .with_context(|| format!("cannot create {}", dir.join(STATE_DIR).display()))?;
        Ok(Self {
            dir: dir.to_owned(),
        })
    }

    /// Takes the root for this process: a second daemon on the same root is
    /// refused. The lock lasts as long as the returned file is open.
    pub fn lock(&self) -> Result<fs::File> {
        let path = self.dir.join(STATE_DIR).join("lock");
        let file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        if !FileExt::try_lock_exclusive(&file)
            .with_context(|| format!("cannot lock {}", path.display()))?
        {
            let pid = fs::read_to_string(&path).unwrap_or_default();
            bail!(
                "another brume share (pid {}) is running on {}",
                pid.trim(),
                self.dir.display()
            );
        }
        file.set_len(0)?;
        fs::write(&path, format!("{}\n", std::process::id()))?;
        Ok(file)
    }

    /// Whether a daemon holds the root now.
    pub fn is_locked(&self) -> bool {
        let path = self.dir.join(STATE_DIR).join("lock");
        match fs::File::open(&path) {
            Ok(f) => !FileExt::try_lock_shared(&f).unwrap_or(false),
            Err(_) => false,
        }
    }

    /// Every `OWNER/GROUP` folder in the root, sorted; folders whose names
    /// are not user or group names are left out with a warning each.
    pub fn groups(&self, warn: &mut impl FnMut(String)) -> Vec<Found> {
        let mut out = Vec::new();
        for owner in sorted_dirs(&self.dir) {
            let name = owner
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if name.starts_with('.') {
                continue;
            }
            let Ok(user) = UserName::new(name.clone()) else {
                warn(format!("{}: not a user name; left alone", owner.display()));
                continue;
            };
            for dir in sorted_dirs(&owner) {
                let g = dir
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                match GroupName::new(g.clone()) {
                    Ok(name) => out.push(Found {
                        group: GroupId {
                            owner: user.clone(),
                            name,
                        },
                        dir,
                    }),
                    Err(_) => warn(format!("{}: not a group name; left alone", dir.display())),
                }
            }
        }
        out
    }

    fn state_file(&self, kind: &str, group: &GroupId) -> PathBuf {
        self.dir
            .join(STATE_DIR)
            .join(kind)
            .join(group.owner.as_str())
            .join(format!("{}.json", group.name))
    }

    /// The group's base (the owner's manifest at the last finished sync).
    pub fn load_base(&self, group: &GroupId) -> Manifest {
        load_json(&self.state_file("base", group)).unwrap_or_default()
    }

    /// Saves the group's base.
    pub fn save_base(&self, group: &GroupId, base: &Manifest) -> Result<()> {
        save_json(
            &self.state_file("base", group),
            &serde_json::to_string(base)?,
        )
    }

    /// The group's hash cache (empty if missing or damaged: a rehash).
    pub fn load_cache(&self, group: &GroupId) -> HashCache {
        fs::read_to_string(self.state_file("cache", group))
            .ok()
            .and_then(|s| HashCache::from_json(&s).ok())
            .unwrap_or_default()
    }

    /// Saves the group's hash cache.
    pub fn save_cache(&self, group: &GroupId, cache: &HashCache) -> Result<()> {
        save_json(&self.state_file("cache", group), &cache.to_json())
    }

    /// Where `--status` reads what each group is doing.
    pub fn status_file(&self) -> PathBuf {
        self.dir.join(STATE_DIR).join("status.json")
    }
}

/// The members a `.members` file names: one per line; blank lines and
/// `#` comments skipped; a line that is no user name is reported.
pub fn read_members(dir: &Path, warn: &mut impl FnMut(String)) -> BTreeSet<UserName> {
    let path = dir.join(brume_proto::sync::manifest::MEMBERS_FILE);
    let Ok(text) = fs::read_to_string(&path) else {
        return BTreeSet::new();
    };
    let mut out = BTreeSet::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match UserName::new(line) {
            Ok(u) => {
                out.insert(u);
            }
            Err(e) => warn(format!(
                "{}:{}: {line:?} is not a user name ({e}); left out",
                path.display(),
                n + 1
            )),
        }
    }
    out
}

fn sorted_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect();
    v.sort();
    v
}

fn load_json<T: serde::de::DeserializeOwned>(path: &Path) -> Option<T> {
    serde_json::from_str(&fs::read_to_string(path).ok()?).ok()
}

/// Writes through a temporary file and a rename, so a crash leaves the old
/// or the new file, never half of one.
pub fn save_json(path: &Path, text: &str) -> Result<()> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)?;
    }
    let tmp = path.with_extension("json.tmp");
    fs::write(&tmp, text).with_context(|| format!("cannot write {}", tmp.display()))?;
    fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
