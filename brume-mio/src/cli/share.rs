//! `brume share [--root DIR] [--status]`: the sync daemon (seed 001).
//!
//! Watches the root (`~/Brume`), keeps every group folder in step: a group
//! under our own name is ours (its `.members` is published to the hub and
//! its content served); any other `OWNER/GROUP` is mirrored from its owner.
//! The sans-IO `Sync` machine (in the node) decides; this loop scans,
//! runs the steps, sends and installs files, and logs one line per thing
//! that happened, for the journal.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use brume_mio::client::ClientEvent;
use brume_mio::share::apply::{clear_staging, install, run_step};
use brume_mio::share::layout::{Found, Root, read_members, save_json};
use brume_mio::share::scan::{scan, stamp};
use brume_proto::endpoint::EndpointEvent;
use brume_proto::signal::{GroupId, UserName};
use brume_proto::sync::manifest::MEMBERS_FILE;
use brume_proto::sync::{FollowState, HashCache, Seed, SyncOutput};
use brume_proto::transfer::{EntryKind, SourceEntry, TransferEvent, TransferKey, TransferState};
use notify::Watcher;

use super::ConfigArg;
use super::session::{Calls, Session};

/// How long the folder must be quiet after a change before it is scanned.
const SETTLE: Duration = Duration::from_millis(100);
/// A burst of changes is scanned at the latest this long after it began.
const SETTLE_MAX: Duration = Duration::from_secs(2);
/// Every group is scanned again this often, whatever the watcher says
/// (after outages, or events the watcher missed).
const RESCAN_EVERY: Duration = Duration::from_secs(30);

#[derive(Debug, clap::Args)]
pub struct ShareArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// The root folder holding OWNER/GROUP folders [default: ~/Brume].
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,
    /// Print what each group is doing (from the running daemon) and exit.
    #[arg(long)]
    status: bool,
}

/// One group folder the daemon looks after.
struct Group {
    dir: PathBuf,
    owned: bool,
    /// The members last published to the hub (owned groups).
    published: Option<BTreeSet<UserName>>,
    /// What it is doing, for `--status` and the log.
    doing: String,
    synced_at: Option<u64>,
    files: usize,
    /// Steps and installs done in the round under way, for the log line.
    work: usize,
    /// Names in `.members` the hub does not know (until the next hub session).
    unknown: BTreeSet<UserName>,
    /// Installs of this round that did not happen (the file changed on
    /// either side meanwhile): the base is then kept, and the round run again.
    missed: usize,
    /// A change came while a round was under way: scan once it ends
    /// (scanning during a round would rehash every file just installed).
    scan_after: bool,
    /// The group's hash cache, loaded once and kept (saved when it changed).
    cache: HashCache,
}

struct Daemon {
    root: Root,
    session: Session,
    me: Option<UserName>,
    groups: BTreeMap<GroupId, Group>,
    /// A call to an owner failed: scan (and so ask) again then.
    retry_at: Option<Instant>,
    /// Batches being received: (bytes so far, of them already here).
    progress: BTreeMap<TransferKey, (u64, u64)>,
}

/// How long after a failed call to an owner it is tried again.
const RETRY: Duration = Duration::from_secs(2);

pub fn run(a: ShareArgs) -> Result<()> {
    let dir = a.root.clone().unwrap_or_else(|| {
        dirs::home_dir()
            .unwrap_or_else(|| PathBuf::from("."))
            .join("Brume")
    });
    let root = Root::open(&dir)?;
    if a.status {
        return status(&root);
    }
    let _lock = root.lock()?;
    // An instance of the device that takes no bare calls, so it lives beside
    // `brume recv` there: members' calls scoped to a group reach the session
    // that published the group's members (the hub routes them), this one.
    let session = Session::open(&a.config.path(), Calls::Refuse)?;
    let changed = Arc::new(AtomicBool::new(false));
    let flag = changed.clone();
    let waker = session.client.waker();
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        // Reads (our own scans among them) are no change.
        if let Ok(ev) = res
            && !matches!(ev.kind, notify::EventKind::Access(_))
            && ev.paths.iter().any(|p| !internal(p))
        {
            flag.store(true, Ordering::Release);
            let _ = waker.wake();
        }
    })
    .context("cannot watch the root")?;
    watcher
        .watch(&dir, notify::RecursiveMode::Recursive)
        .with_context(|| format!("cannot watch {}", dir.display()))?;
    eprintln!("brume share: watching {}", dir.display());
    let mut d = Daemon {
        root,
        session,
        me: None,
        groups: BTreeMap::new(),
        retry_at: None,
        progress: BTreeMap::new(),
    };
    let mut settle: Option<(Instant, Instant)> = None; // (due, burst began)
    let mut next_rescan = Instant::now() + RESCAN_EVERY;
    loop {
        let due = [settle.map(|(at, _)| at), d.retry_at, Some(next_rescan)]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(next_rescan);
        let event = d.session.next(Some(due))?;
        if d.session.stopping() {
            eprintln!("brume share: stopping");
            d.session.client.shutdown(Duration::from_secs(2));
            return Ok(());
        }
        let now = Instant::now();
        if changed.swap(false, Ordering::AcqRel) {
            let began = settle.map_or(now, |(_, b)| b);
            settle = Some(((now + SETTLE).min(began + SETTLE_MAX), began));
        }
        if let Some(e) = event {
            d.handle(e);
        }
        let settled = settle.is_some_and(|(at, _)| now >= at);
        let retry = d.retry_at.is_some_and(|at| now >= at);
        if settled || retry || now >= next_rescan {
            settle = None;
            d.retry_at = None;
            next_rescan = now + RESCAN_EVERY;
            d.rescan_all();
        }
    }
}

/// Paths the daemon writes itself: never a reason to scan.
fn internal(p: &Path) -> bool {
    p.components().any(|c| {
        let c = c.as_os_str().to_string_lossy();
        c == brume_mio::share::layout::STATE_DIR || c == brume_proto::sync::manifest::STAGING_DIR
    }) || p.to_string_lossy().ends_with(".brume-part")
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Daemon {
    fn handle(&mut self, e: ClientEvent) {
        match e {
            ClientEvent::Endpoint(EndpointEvent::Ready { user, .. }) => {
                if self.me.is_none() {
                    self.session.client.with(|n, _| n.enable_sync(user.clone()));
                    eprintln!("brume share: signed in as {user}");
                }
                self.me = Some(user);
                for g in self.groups.values_mut() {
                    g.published = None; // a new hub session: publish again
                    g.unknown.clear();
                }
                self.rescan_all();
            }
            ClientEvent::Endpoint(EndpointEvent::Incoming { peer, .. }) => {
                if let Err(e) = self.session.client.accept(&peer) {
                    eprintln!("brume share: cannot accept {peer}: {e:#}");
                }
            }
            ClientEvent::Endpoint(EndpointEvent::HubError { code, message }) => {
                eprintln!("brume share: the hub says {} ({})", message, code.as_str());
                self.publish_without_unknown(&message);
            }
            ClientEvent::Endpoint(EndpointEvent::PeerFailed { peer, code, reason }) => {
                eprintln!(
                    "brume share: cannot reach {peer}: {reason} ({})",
                    code.as_str()
                );
                if self.groups.keys().any(|g| g.owner == *peer.user()) {
                    self.retry_at.get_or_insert(Instant::now() + RETRY);
                }
            }
            ClientEvent::Transfer(TransferEvent::Progress {
                key, done, resumed, ..
            }) => {
                if let Some(p) = self.progress.get_mut(&key) {
                    *p = (done, resumed);
                }
            }
            ClientEvent::Transfer(TransferEvent::State { key, state }) => {
                let way = if key.outgoing { "to" } else { "from" };
                tracing::info!("batch {} {way} {}: {state:?}", key.id, key.peer);
                if state == TransferState::Closed {
                    // The batch is forgotten: its offer, hashes and blocks
                    // are freed now.
                    brume_mio::heap::release_freed();
                }
                if matches!(state, TransferState::Done | TransferState::Cancelled)
                    && let Some((done, resumed)) = self.progress.remove(&key)
                    && resumed > 0
                {
                    eprintln!(
                        "brume share: a batch from {}: {} bytes moved, {resumed} already here",
                        key.peer,
                        done - resumed
                    );
                }
            }
            ClientEvent::Transfer(TransferEvent::Offered { key, name, .. }) => {
                tracing::info!("refusing {name:?} from {}: not a sync batch", key.peer);
                let _ = self
                    .session
                    .client
                    .reject_transfer(&key, "brume share takes only sync batches");
            }
            ClientEvent::Sync(out) => self.sync_output(out),
            _ => {}
        }
    }

    /// The hub refuses a whole `.members` that names a user it does not
    /// know (`unknown user zed; group bob/photos unchanged`): publish the
    /// others, so they still sync.
    fn publish_without_unknown(&mut self, message: &str) {
        let Some(rest) = message.strip_prefix("unknown user ") else {
            return;
        };
        let Some((user, group)) = rest.split_once("; group ") else {
            return;
        };
        let group = group.trim_end_matches(" unchanged");
        let Ok(user) = UserName::new(user) else {
            return;
        };
        let Some((id, g)) = self
            .groups
            .iter_mut()
            .find(|(id, g)| g.owned && id.to_string() == group)
        else {
            return;
        };
        let Some(members) = g.published.as_mut() else {
            return;
        };
        if !members.remove(&user) {
            return;
        }
        g.unknown.insert(user.clone());
        eprintln!(
            "brume share: {id}: .members names {user}, whom the hub does not know; the others still sync"
        );
        let (name, members) = (id.name.clone(), members.clone());
        self.session.client.with(|n, now| {
            n.publish_members(now, name.clone(), members.iter().cloned().collect());
            if let Some(sync) = n.sync_mut() {
                // The owner serves whom the hub holds.
                let manifest = sync.owned_manifest(&name).cloned().unwrap_or_default();
                sync.own(name, manifest, members);
            }
        });
    }

    fn rescan_all(&mut self) {
        let Some(me) = self.me.clone() else { return };
        let mut warnings = Vec::new();
        let found = self.root.groups(&mut |w| warnings.push(w));
        for w in warnings {
            tracing::warn!("{w}");
        }
        let present: BTreeSet<GroupId> = found.iter().map(|f| f.group.clone()).collect();
        let gone: Vec<GroupId> = self
            .groups
            .keys()
            .filter(|g| !present.contains(*g))
            .cloned()
            .collect();
        for g in gone {
            self.groups.remove(&g);
            self.session.client.with(|n, _| {
                if let Some(s) = n.sync_mut() {
                    s.unfollow(&g);
                    s.disown(&g.name);
                }
            });
        }
        for f in found {
            // Under our own name with a `.members`: ours to serve. Without
            // one, this is another of the owner's devices: it mirrors the
            // group from the device that serves it, as a member does.
            let owned = f.group.owner == me && f.dir.join(MEMBERS_FILE).is_file();
            let g = self.groups.entry(f.group.clone()).or_insert_with(|| Group {
                dir: f.dir.clone(),
                owned,
                published: None,
                doing: "starting".into(),
                synced_at: None,
                files: 0,
                work: 0,
                unknown: BTreeSet::new(),
                missed: 0,
                scan_after: false,
                cache: self.root.load_cache(&f.group),
            });
            if g.owned != owned {
                // `.members` came or went: served from here, or mirrored.
                g.owned = owned;
                g.published = None;
                let id = f.group.clone();
                self.session.client.with(|n, _| {
                    if let Some(s) = n.sync_mut() {
                        s.unfollow(&id);
                        s.disown(&id.name);
                    }
                });
            }
            if owned {
                self.own(&f);
            } else {
                self.follow(&f.group);
            }
        }
        self.write_status();
    }

    fn own(&mut self, f: &Found) {
        let mut warnings = Vec::new();
        let mut members = read_members(&f.dir, &mut |w| warnings.push(w));
        if let Some(g) = self.groups.get(&f.group) {
            members.retain(|m| !g.unknown.contains(m));
        }
        for w in warnings {
            eprintln!("brume share: {w}");
        }
        let Some(g) = self.groups.get_mut(&f.group) else {
            return;
        };
        // Published before the scan (which may hash a whole tree), so a
        // member's call is not refused meanwhile.
        if g.published.as_ref() != Some(&members) {
            g.published = Some(members.clone());
            let (name, list) = (f.group.name.clone(), members.iter().cloned().collect());
            self.session
                .client
                .with(|n, now| n.publish_members(now, name, list));
        }
        let Some(g) = self.groups.get_mut(&f.group) else {
            return;
        };
        let s = scan_cached(&self.root, &f.group, &f.dir, &mut g.cache, true);
        if g.doing == "starting" || g.files != s.manifest.len() {
            eprintln!(
                "brume share: {}: serving {} entries ({} hashed)",
                f.group,
                s.manifest.len(),
                s.hashed
            );
        }
        g.files = s.manifest.len();
        g.doing = format!(
            "serving {} entries to {} members",
            s.manifest.len(),
            members.len()
        );
        let name = f.group.name.clone();
        self.session.client.with(|n, _| {
            if let Some(sync) = n.sync_mut() {
                sync.own(name, s.manifest, members);
            }
        });
    }

    /// Where sync stands on a group this member follows.
    fn follow_state(&self, group: &GroupId) -> Option<FollowState> {
        self.session
            .client
            .node()
            .sync()
            .and_then(|s| s.follow_state(group))
            .cloned()
    }

    fn follow(&mut self, group: &GroupId) {
        let state = self.follow_state(group);
        if matches!(
            state,
            Some(FollowState::Asking | FollowState::Fetching { .. })
        ) {
            if let Some(g) = self.groups.get_mut(group) {
                g.scan_after = true;
            }
            return;
        }
        let Some(g) = self.groups.get_mut(group) else {
            return;
        };
        let s = scan_cached(&self.root, group, &g.dir, &mut g.cache, false);
        let base = self.root.load_base(group);
        self.session.client.with(|n, _| {
            if let Some(sync) = n.sync_mut() {
                sync.follow(group.clone(), s.manifest, base);
            }
        });
        self.note_state(group);
    }

    fn note_state(&mut self, group: &GroupId) {
        let state = self.follow_state(group);
        if let (Some(g), Some(state)) = (self.groups.get_mut(group), state) {
            g.doing = match state {
                FollowState::Idle => "in step".into(),
                FollowState::Connecting => format!("connecting to {}", group.owner),
                FollowState::Asking => "asking for the owner's manifest".into(),
                FollowState::Fetching { due, .. } => format!("fetching ({due} batches due)"),
                FollowState::Refused(code) => format!("refused by the owner ({})", code.as_str()),
            };
        }
    }

    fn dir_of(&self, group: &GroupId) -> Option<PathBuf> {
        self.groups.get(group).map(|g| g.dir.clone())
    }

    fn sync_output(&mut self, out: SyncOutput) {
        match out {
            SyncOutput::Run { group, steps } => {
                let Some(g) = self.groups.get_mut(&group) else {
                    return;
                };
                let mut done = 0;
                for step in &steps {
                    match run_step(&g.dir, step, &mut g.cache) {
                        Ok(true) => done += 1,
                        Ok(false) => tracing::info!("{group}: skipped {step:?}: not as planned"),
                        Err(e) => eprintln!("brume share: {group}: {step:?} failed: {e}"),
                    }
                    if let brume_proto::sync::Step::Keep { path, to, .. } = step {
                        eprintln!("brume share: {group}: kept your version of {path} as {to}");
                    }
                }
                tracing::info!("{group}: ran {done} of {} steps", steps.len());
                g.work += done;
            }
            SyncOutput::Accept {
                key,
                group,
                dir,
                seeds,
            } => {
                let Some(g) = self.groups.get_mut(&group) else {
                    return;
                };
                let into = g.dir.join(dir);
                if let Err(e) = std::fs::create_dir_all(&into) {
                    eprintln!("brume share: {group}: cannot make {}: {e}", into.display());
                }
                for seed in &seeds {
                    // Only the blocks that differ from the older copy move.
                    if let Err(e) = plant(&g.dir, seed, &mut g.cache) {
                        tracing::info!("{group}: no seed for {}: {e}", seed.from);
                    }
                }
                self.progress.insert(key.clone(), (0, 0));
                if let Err(e) = self.session.client.accept_transfer(&key, &into) {
                    eprintln!("brume share: {group}: cannot take the batch: {e:#}");
                }
            }
            SyncOutput::Install {
                group,
                from,
                fetch,
                verified,
            } => {
                let Some(g) = self.groups.get_mut(&group) else {
                    return;
                };
                let done = match install(&g.dir, &from, &fetch, verified, &mut g.cache) {
                    Ok(true) => true,
                    Ok(false) => {
                        tracing::info!("{group}: not installed {from}: changed meanwhile");
                        false
                    }
                    Err(e) => {
                        eprintln!("brume share: {group}: cannot install {from}: {e}");
                        false
                    }
                };
                if done {
                    g.work += 1;
                } else {
                    g.missed += 1;
                }
            }
            SyncOutput::Synced { group, base } => {
                let Some(dir) = self.dir_of(&group) else {
                    return;
                };
                clear_staging(&dir);
                let missed = self
                    .groups
                    .get_mut(&group)
                    .map_or(0, |g| std::mem::take(&mut g.missed));
                if missed > 0 {
                    // The old base stays: what did land now matches the owner,
                    // and what did not is fetched again, never taken for an edit.
                    eprintln!(
                        "brume share: {group}: {missed} files changed while they were sent; syncing again"
                    );
                    self.retry_at.get_or_insert(Instant::now() + RETRY);
                    return;
                }
                if let Err(e) = self.root.save_base(&group, &base) {
                    eprintln!("brume share: {group}: cannot save the sync state: {e:#}");
                }
                if let Some(g) = self.groups.get(&group)
                    && g.work > 0
                {
                    let _ = self.root.save_cache(&group, &g.cache);
                }
                if let Some(g) = self.groups.get_mut(&group) {
                    if g.work > 0 || g.synced_at.is_none() {
                        eprintln!(
                            "brume share: {group}: in step ({} entries, {} changes made)",
                            base.len(),
                            g.work
                        );
                    }
                    g.work = 0;
                    if std::mem::take(&mut g.scan_after) {
                        self.retry_at.get_or_insert(Instant::now() + SETTLE);
                    }
                    g.synced_at = Some(unix_now());
                    g.files = base.len();
                    g.doing = "in step".into();
                }
                self.write_status();
                // The round's manifests and plan are freed once `base` goes:
                // the idle daemon gives their pages back (a third of the
                // member's resident memory after a 10,000-file first sync).
                drop(base);
                brume_mio::heap::release_freed();
            }
            SyncOutput::Refused {
                group,
                code,
                message,
            } => {
                eprintln!(
                    "brume share: {group}: refused: {message} ({})",
                    code.as_str()
                );
                self.note_state(&group);
                self.write_status();
            }
            SyncOutput::Rescan { group } => self.follow(&group),
            SyncOutput::SendFiles {
                peer,
                group,
                name,
                files,
            } => {
                let Some((dir, cache)) = self
                    .groups
                    .iter()
                    .find(|(g, o)| o.owned && g.name == group)
                    .map(|(_, o)| (o.dir.clone(), &o.cache))
                else {
                    return;
                };
                let mut entries = vec![dir_entry(name.clone())];
                let mut paths = vec![dir.clone()];
                let mut dirs = BTreeSet::new();
                for f in &files {
                    let mut parent = f.path.parent();
                    let mut chain = Vec::new();
                    while let Some(p) = parent {
                        parent = p.parent();
                        chain.push(p);
                    }
                    for p in chain.into_iter().rev() {
                        if dirs.insert(p.clone()) {
                            entries.push(dir_entry(format!("{name}/{p}")));
                            paths.push(dir.join(p.to_string()));
                        }
                    }
                    let path = dir.join(f.path.to_string());
                    let meta = std::fs::symlink_metadata(&path).ok();
                    // The member's copy gets the owner's time (whole seconds).
                    let mtime = meta.as_ref().map_or(0, |m| {
                        u64::try_from(std::os::unix::fs::MetadataExt::mtime(m)).unwrap_or(0)
                    });
                    // Unchanged since the scan read it: offered unread.
                    let blocks = meta
                        .as_ref()
                        .and_then(|m| cache.blocks(&f.path, stamp(m)))
                        .map(<[_]>::to_vec);
                    entries.push(SourceEntry {
                        path: format!("{name}/{}", f.path),
                        kind: EntryKind::File,
                        size: match f.node {
                            brume_proto::sync::Node::File { size, .. } => size,
                            _ => 0,
                        },
                        mtime,
                        mime: None,
                        executable: false,
                        blocks,
                    });
                    paths.push(path);
                }
                tracing::info!("{group}: sending {} files to {peer}", files.len());
                if let Err(e) = self.session.client.send_entries(&peer, entries, paths) {
                    eprintln!("brume share: {group}: cannot send to {peer}: {e:#}");
                }
            }
            SyncOutput::Failed { group, text } => {
                // A full disk or a lost connection: tried again shortly (the
                // transfer keeps what it verified), until it goes through.
                eprintln!(
                    "brume share: {group}: {text}; trying again in {} s",
                    RETRY.as_secs()
                );
                self.note_state(&group);
                self.retry_at.get_or_insert(Instant::now() + RETRY);
            }
            SyncOutput::Problem { peer, text } => eprintln!("brume share: {peer}: {text}"),
            SyncOutput::Send { .. } | SyncOutput::Connect { .. } => {} // the node's
        }
    }

    fn write_status(&self) {
        let groups: Vec<serde_json::Value> = self
            .groups
            .iter()
            .map(|(id, g)| {
                serde_json::json!({
                    "group": id.to_string(),
                    "role": if g.owned { "owner" } else { "member" },
                    "doing": g.doing,
                    "entries": g.files,
                    "synced_at": g.synced_at,
                })
            })
            .collect();
        let status = serde_json::json!({ "pid": std::process::id(), "groups": groups });
        let _ = save_json(&self.root.status_file(), &status.to_string());
    }
}

/// Copies a seed's older file to the transfer's partial name, unless the
/// cache knows it holds something else now. Whatever is copied, the
/// receiver checks every block against the offer before keeping it.
fn plant(dir: &Path, seed: &Seed, cache: &mut HashCache) -> std::io::Result<()> {
    let from = dir.join(seed.from.to_string());
    let meta = std::fs::symlink_metadata(&from)?;
    if !meta.file_type().is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    let known = cache.lookup(&seed.from, brume_mio::share::scan::stamp(&meta));
    if known.is_some_and(|h| h != seed.hash) {
        return Err(std::io::Error::other("it changed since the scan"));
    }
    let to = dir.join(&seed.to);
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::copy(from, to).map(|_| ())
}

/// Scans a group folder with its cache, logs what was refused, and saves
/// the cache if the scan changed it.
fn scan_cached(
    root: &Root,
    group: &GroupId,
    dir: &Path,
    cache: &mut HashCache,
    owner: bool,
) -> brume_mio::share::scan::Scan {
    let before = cache.len();
    let s = scan(dir, cache, owner);
    for r in &s.refused {
        eprintln!("brume share: {group}: {r}");
    }
    if s.hashed > 0 || cache.len() != before {
        let _ = root.save_cache(group, cache);
    }
    s
}

fn dir_entry(path: String) -> SourceEntry {
    SourceEntry {
        path,
        kind: EntryKind::Dir,
        size: 0,
        mtime: 0,
        mime: None,
        executable: false,
        blocks: None,
    }
}

fn status(root: &Root) -> Result<()> {
    let running = root.is_locked();
    let text = std::fs::read_to_string(root.status_file()).unwrap_or_default();
    let status: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    if !running {
        println!("brume share is not running on {}", root.dir.display());
    }
    let groups = status["groups"].as_array().cloned().unwrap_or_default();
    if groups.is_empty() {
        println!("no groups under {}", root.dir.display());
    }
    let now = unix_now();
    for g in groups {
        let when = match g["synced_at"].as_u64() {
            Some(t) => format!(", last in step {} s ago", now.saturating_sub(t)),
            None => String::new(),
        };
        println!(
            "{}  {}  {} ({} entries{when})",
            g["group"].as_str().unwrap_or("?"),
            g["role"].as_str().unwrap_or("?"),
            g["doing"].as_str().unwrap_or("?"),
            g["entries"].as_u64().unwrap_or(0),
        );
    }
    Ok(())
}
