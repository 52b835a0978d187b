//! Transfer storage off the network thread: a few threads execute
//! [`StorageAction`]s on real files (through [`FileStorage`]) and hand
//! `(request, result)` pairs back through a channel, waking the poll loop
//! with a [`mio::Waker`], so a slow disk never stalls sockets or timers.
//!
//! **Order.** Actions that touch the same file (or the same outgoing
//! transfer's sources) run one at a time, in the order submitted; actions
//! on different files run side by side, so results come back in any order
//! (which `Transfers::handle_storage` accepts), except that those of one
//! file come back in the order submitted.
//!
//! **Bounds.** At most `max_actions` actions, and `max_write_bytes` of
//! write data, are in flight (submitted, result not yet taken). Past
//! either, [`StorageWorker::submit`] hands the action back: hold it and
//! submit it again after taking results. One write larger than the byte
//! bound is accepted when nothing else is in flight, so it cannot wait
//! forever.
//!
//! **In a poll loop.** Register the waker's token with the loop's `Poll`.
//! Each turn: take every [`StorageWorker::poll_result`] and hand it to
//! `Transfers::handle_storage`; then submit what `Transfers::poll_action`
//! gives until `submit` hands one back, and keep that one aside to submit
//! first next turn (stop polling actions while one is held). Register an
//! outgoing transfer's paths with [`StorageWorker::add_source`] before
//! submitting its actions, and [`StorageWorker::remove_source`] once it
//! closes.
//!
//! Owns: the threads and the queue between them. Never: decides what to
//! read or write (the transfer core does), or touches a file itself
//! (`files.rs` does).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

use brume_proto::transfer::{RequestId, StorageAction, StorageResult, TargetPath};
use mio::Waker;

use crate::files::FileStorage;

/// How many threads and how much in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerLimits {
    /// Threads executing actions.
    pub threads: usize,
    /// Actions in flight at most.
    pub max_actions: usize,
    /// Bytes of `Write` data in flight at most.
    pub max_write_bytes: usize,
}

impl Default for WorkerLimits {
    /// 4 threads, 256 actions, 64 MiB of writes.
    fn default() -> Self {
        Self {
            threads: 4,
            max_actions: 256,
            max_write_bytes: 64 << 20,
        }
    }
}

/// What an action must not run beside: the files it touches, or the
/// outgoing transfer whose sources it reads.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    Source(u64),
    /// One range of one source file of an outgoing transfer, for hashing
    /// (transfer, file, offset): the ranges of a transfer are hashed side
    /// by side.
    SourceFile(u64, u32, u64),
    Path(PathBuf),
}

fn path_key(p: &TargetPath) -> Key {
    let mut path = PathBuf::from(&p.dir);
    path.extend(&p.components);
    Key::Path(path)
}

fn keys(action: &StorageAction) -> Vec<Key> {
    match action {
        StorageAction::ReadSource { transfer, .. }
        | StorageAction::ReleaseSources { transfer, .. } => vec![Key::Source(transfer.id)],
        StorageAction::HashSource {
            transfer,
            index,
            offset,
            ..
        } => vec![Key::SourceFile(transfer.id, *index, *offset)],
        StorageAction::FreeSpace { dir, .. } => vec![Key::Path(PathBuf::from(dir))],
        StorageAction::Read { path, .. }
        | StorageAction::Stat { path, .. }
        | StorageAction::CreateDir { path, .. }
        | StorageAction::Write { path, .. }
        | StorageAction::Truncate { path, .. }
        | StorageAction::SetAttributes { path, .. }
        | StorageAction::Remove { path, .. } => vec![path_key(path)],
        StorageAction::Sync { paths, .. } => paths.iter().map(path_key).collect(),
        StorageAction::Rename { from, to, .. } => vec![path_key(from), path_key(to)],
    }
}

/// What a thread does with a queued job.
enum Work {
    /// Execute it and hand its result back.
    Action(StorageAction),
    /// Forget an outgoing transfer's sources (keyed like its reads, so it
    /// comes after the reads submitted before it).
    ForgetSource(u64),
}

struct Job {
    work: Work,
    keys: Vec<Key>,
}

#[derive(Default)]
struct Queue {
    jobs: VecDeque<Job>,
    /// Keys of the jobs being executed right now.
    busy: BTreeSet<Key>,
    /// Outgoing transfers' sources: transfer id → path of each entry.
    sources: BTreeMap<u64, Arc<Vec<PathBuf>>>,
    closing: bool,
    /// Threads waiting for a job: only they need a wake-up (each one costs
    /// a futex call, and on two cores a switch away from the network thread).
    idle: usize,
}

impl Queue {
    /// Takes the first job that shares no key with one running or one
    /// queued before it, and marks its keys busy.
    fn next_job(&mut self) -> Option<Job> {
        let mut blocked: BTreeSet<&Key> = BTreeSet::new();
        let mut pick = None;
        for (i, job) in self.jobs.iter().enumerate() {
            if job
                .keys
                .iter()
                .any(|k| self.busy.contains(k) || blocked.contains(k))
            {
                blocked.extend(job.keys.iter());
                continue;
            }
            pick = Some(i);
            break;
        }
        let job = self.jobs.remove(pick?)?;
        self.busy.extend(job.keys.iter().cloned());
        Some(job)
    }
}

struct Shared {
    queue: Mutex<Queue>,
    ready: Condvar,
}

impl Shared {
    /// The queue, even if a thread panicked while holding it: every update
    /// to it is a single push, pop or set change, never left half done.
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The background threads and the accounting of what is in flight. Used
/// from the network thread only.
pub struct StorageWorker {
    shared: Arc<Shared>,
    results: Receiver<(RequestId, StorageResult)>,
    threads: Vec<JoinHandle<()>>,
    limits: WorkerLimits,
    /// Write bytes of each request in flight (0 for other actions).
    in_flight: BTreeMap<RequestId, usize>,
    write_bytes: usize,
}

impl std::fmt::Debug for StorageWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StorageWorker")
            .field("threads", &self.threads.len())
            .field("in_flight", &self.in_flight.len())
            .field("write_bytes", &self.write_bytes)
            .finish_non_exhaustive()
    }
}

fn write_len(action: &StorageAction) -> usize {
    match action {
        StorageAction::Write { data, .. } => data.len(),
        _ => 0,
    }
}

impl StorageWorker {
    /// Starts the threads; each finished action wakes `waker`.
    pub fn start(limits: WorkerLimits, waker: Arc<Waker>) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue::default()),
            ready: Condvar::new(),
        });
        let (tx, results) = mpsc::channel();
        let mut worker = Self {
            shared,
            results,
            threads: Vec::new(),
            limits,
            in_flight: BTreeMap::new(),
            write_bytes: 0,
        };
        for i in 0..limits.threads.max(1) {
            let (shared, tx, waker) = (worker.shared.clone(), tx.clone(), waker.clone());
            let thread = std::thread::Builder::new()
                .name(format!("brume-storage-{i}"))
                .spawn(move || run(&shared, &tx, &waker))?;
            worker.threads.push(thread);
        }
        Ok(worker)
    }

    /// Remembers where an outgoing transfer's entries live, for the
    /// `ReadSource` actions submitted after this.
    pub fn add_source(&mut self, transfer_id: u64, paths: Vec<PathBuf>) {
        // At once: only reads submitted later use it.
        self.shared
            .lock()
            .sources
            .insert(transfer_id, Arc::new(paths));
    }

    /// Forgets an outgoing transfer's sources, after the reads submitted before this.
    pub fn remove_source(&mut self, transfer_id: u64) {
        self.push(Job {
            work: Work::ForgetSource(transfer_id),
            keys: vec![Key::Source(transfer_id)],
        });
    }

    /// True when one more action of `write_bytes` would be refused.
    pub fn is_full(&self, write_bytes: usize) -> bool {
        self.in_flight.len() >= self.limits.max_actions
            || (!self.in_flight.is_empty()
                && self.write_bytes + write_bytes > self.limits.max_write_bytes)
    }

    /// Queues an action, or hands it back when the bounds are reached:
    /// keep it, take results, and submit it again.
    pub fn submit(&mut self, action: StorageAction) -> Result<(), StorageAction> {
        if let StorageAction::ReleaseSources { transfer, .. } = &action {
            // Bookkeeping, never refused; its result is not wanted.
            self.remove_source(transfer.id);
            return Ok(());
        }
        let bytes = write_len(&action);
        if self.is_full(bytes) {
            return Err(action);
        }
        self.in_flight.insert(action.req(), bytes);
        self.write_bytes += bytes;
        let keys = keys(&action);
        self.push(Job {
            work: Work::Action(action),
            keys,
        });
        Ok(())
    }

    /// A finished action's request and result, if one is ready. Call after
    /// every wake until `None`.
    pub fn poll_result(&mut self) -> Option<(RequestId, StorageResult)> {
        let (req, result) = self.results.try_recv().ok()?;
        if let Some(bytes) = self.in_flight.remove(&req) {
            self.write_bytes -= bytes;
        }
        Some((req, result))
    }

    /// Actions submitted whose results have not been taken.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Bytes of write data in flight.
    pub fn write_bytes_in_flight(&self) -> usize {
        self.write_bytes
    }

    /// Lets the threads finish what was submitted, then joins them.
    /// Results not taken by then are dropped.
    pub fn shutdown(mut self) {
        self.stop_and_join();
    }

    fn push(&self, job: Job) {
        let mut queue = self.shared.lock();
        queue.jobs.push_back(job);
        let someone_waits = queue.idle > 0;
        drop(queue);
        if someone_waits {
            self.shared.ready.notify_one();
        }
    }

    fn stop_and_join(&mut self) {
        self.shared.lock().closing = true;
        self.shared.ready.notify_all();
        for thread in self.threads.drain(..) {
            // A thread that panicked outside an action has nothing to hand back.
            let _ = thread.join();
        }
    }
}

impl Drop for StorageWorker {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}

/// One thread: take a runnable action, execute it, hand the result back.
fn run(shared: &Shared, results: &Sender<(RequestId, StorageResult)>, waker: &Waker) {
    // Each thread keeps its own open files; sources are shared.
    let mut storage = FileStorage::default();
    let mut known: BTreeMap<u64, Arc<Vec<PathBuf>>> = BTreeMap::new();
    loop {
        let (job, sources) = {
            let mut queue = shared.lock();
            loop {
                if let Some(job) = queue.next_job() {
                    break (job, queue.sources.clone());
                }
                if queue.closing && queue.jobs.is_empty() {
                    return;
                }
                queue.idle += 1;
                queue = shared
                    .ready
                    .wait(queue)
                    .unwrap_or_else(PoisonError::into_inner);
                queue.idle -= 1;
            }
        };
        let done = match job.work {
            Work::Action(action) => {
                sync_sources(&mut storage, &mut known, sources);
                let result = catch_unwind(AssertUnwindSafe(|| storage.execute(&action)))
                    .unwrap_or_else(|_| {
                        // Its open files may be in any state: start afresh.
                        storage = FileStorage::default();
                        known.clear();
                        StorageResult::Failed("the storage thread failed on this action".into())
                    });
                Some((action.req(), result))
            }
            Work::ForgetSource(id) => {
                shared.lock().sources.remove(&id);
                None
            }
        };
        // The result goes out before the keys are free, so the results of
        // actions on one file come back in the order they were submitted.
        // A send fails only once the worker is gone and nobody wants it.
        let sent = done.is_some_and(|done| results.send(done).is_ok());
        let waiting = {
            let mut queue = shared.lock();
            for key in &job.keys {
                queue.busy.remove(key);
            }
            !queue.jobs.is_empty() && queue.idle > 0
        };
        // Jobs that waited for these keys may run now.
        if waiting {
            shared.ready.notify_all();
        }
        if sent {
            // A failed wake leaves the result queued for the next turn.
            let _ = waker.wake();
        }
    }
}

/// Brings this thread's `FileStorage` up to date with the shared sources,
/// copying each transfer's list once (they are shared `Arc`s).
fn sync_sources(
    storage: &mut FileStorage,
    known: &mut BTreeMap<u64, Arc<Vec<PathBuf>>>,
    sources: BTreeMap<u64, Arc<Vec<PathBuf>>>,
) {
    known.retain(|id, _| {
        let keep = sources.contains_key(id);
        if !keep {
            storage.remove_source(*id);
        }
        keep
    });
    for (id, paths) in sources {
        if known.get(&id).is_none_or(|k| !Arc::ptr_eq(k, &paths)) {
            storage.add_source(id, paths.clone());
            known.insert(id, paths);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::time::{Duration, Instant};

    use brume_proto::signal::UserName;
    use brume_proto::transfer::TransferKey;
    use mio::{Events, Poll, Token};

    struct Harness {
        poll: Poll,
        worker: StorageWorker,
        dir: PathBuf,
        next_req: u64,
    }

    impl Harness {
        fn new(limits: WorkerLimits) -> Self {
            let poll = Poll::new().unwrap();
            let waker = Arc::new(Waker::new(poll.registry(), Token(0)).unwrap());
            let worker = StorageWorker::start(limits, waker).unwrap();
            let dir = std::env::temp_dir().join(format!(
                "brume-worker-{}-{:x}",
                std::process::id(),
                fastrand::u64(..)
            ));
            fs::create_dir_all(&dir).unwrap();
            Self {
                poll,
                worker,
                dir,
                next_req: 0,
            }
        }

        fn target(&self, name: &str) -> TargetPath {
            TargetPath {
                dir: self.dir.display().to_string(),
                components: vec![name.into()],
            }
        }

        fn req(&mut self) -> RequestId {
            self.next_req += 1;
            RequestId(self.next_req)
        }

        fn write(&mut self, name: &str, data: &[u8]) -> StorageAction {
            StorageAction::Write {
                req: self.req(),
                path: self.target(name),
                offset: 0,
                data: data.to_vec(),
                finish: None,
            }
        }

        fn read(&mut self, name: &str, len: u64) -> StorageAction {
            StorageAction::Read {
                req: self.req(),
                path: self.target(name),
                offset: 0,
                len,
            }
        }

        fn stat(&mut self, name: &str) -> StorageAction {
            StorageAction::Stat {
                req: self.req(),
                path: self.target(name),
            }
        }

        /// Waits on the poll (woken by the worker) until `n` results came.
        fn results(&mut self, n: usize) -> Vec<(RequestId, StorageResult)> {
            let end = Instant::now() + Duration::from_secs(10);
            let mut events = Events::with_capacity(8);
            let mut got = Vec::new();
            while got.len() < n {
                while let Some(r) = self.worker.poll_result() {
                    got.push(r);
                }
                if got.len() >= n {
                    break;
                }
                let left = end.saturating_duration_since(Instant::now());
                assert!(
                    !left.is_zero(),
                    "only {} of {n} results: {got:?}",
                    got.len()
                );
                self.poll.poll(&mut events, Some(left)).unwrap();
            }
            got
        }
    }

    impl Drop for Harness {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }

    fn mkfifo(path: &std::path::Path) {
        let status = std::process::Command::new("mkfifo")
            .arg(path)
            .status()
            .unwrap();
        assert!(status.success());
    }

    #[test]
    fn every_action_gets_its_result() {
        let mut h = Harness::new(WorkerLimits::default());
        let mut reqs = BTreeSet::new();
        for i in 0..40 {
            let a = h.write(&format!("f{i}"), format!("data {i}").as_bytes());
            reqs.insert(a.req());
            h.worker.submit(a).unwrap();
        }
        let got = h.results(40);
        let seen: BTreeSet<RequestId> = got.iter().map(|(r, _)| *r).collect();
        assert_eq!(seen, reqs);
        assert!(
            got.iter().all(|(_, r)| *r == StorageResult::Done),
            "{got:?}"
        );
        assert_eq!(h.worker.in_flight(), 0);
        assert_eq!(h.worker.write_bytes_in_flight(), 0);
        assert_eq!(fs::read(h.dir.join("f7")).unwrap(), b"data 7");
    }

    #[test]
    fn reads_of_a_registered_source_work_until_it_is_forgotten() {
        let mut h = Harness::new(WorkerLimits::default());
        fs::write(h.dir.join("src"), b"0123456789").unwrap();
        h.worker.add_source(5, vec![h.dir.join("src")]);
        let transfer = TransferKey {
            peer: brume_proto::signal::Address::User(UserName::new("bob").unwrap()),
            id: 5,
            outgoing: true,
        };
        let read = |req| StorageAction::ReadSource {
            req: RequestId(req),
            transfer: transfer.clone(),
            index: 0,
            offset: 2,
            len: 3,
            head_room: 1,
        };
        h.worker.submit(read(1)).unwrap();
        h.worker.remove_source(5);
        h.worker.submit(read(2)).unwrap();
        let got = h.results(2);
        assert_eq!(
            got[0],
            (RequestId(1), StorageResult::Data(vec![0, b'2', b'3', b'4']))
        );
        assert_eq!(
            got[1],
            (RequestId(2), StorageResult::Failed("no such source".into()))
        );
    }

    #[test]
    fn the_bounds_hold_until_results_are_taken() {
        let mut h = Harness::new(WorkerLimits {
            threads: 2,
            max_actions: 2,
            max_write_bytes: 10,
        });
        let first = h.write("a", b"12345678");
        h.worker.submit(first).unwrap();
        // 8 + 8 bytes would pass the 10-byte bound.
        let second = h.write("b", b"12345678");
        let refused = h.worker.submit(second.clone()).unwrap_err();
        assert_eq!(refused, second, "the action comes back whole");
        let stat = h.stat("a");
        h.worker.submit(stat).unwrap();
        // Two actions in flight: the bound on actions holds too.
        let another = h.stat("b");
        assert!(h.worker.submit(another).is_err());
        assert!(h.worker.is_full(0));
        h.results(2);
        assert!(!h.worker.is_full(0));
        // Alone, a write larger than the byte bound still goes.
        let big = h.write("c", &[7; 100]);
        h.worker.submit(big).unwrap();
        assert_eq!(h.worker.write_bytes_in_flight(), 100);
        let small = h.write("d", b"1");
        assert!(h.worker.submit(small).is_err());
        assert_eq!(h.results(1)[0].1, StorageResult::Done);
    }

    #[test]
    fn a_slow_action_holds_back_only_its_own_file() {
        let mut h = Harness::new(WorkerLimits {
            threads: 2,
            ..WorkerLimits::default()
        });
        // Opening a FIFO to read blocks until a writer comes: a stalled disk.
        let fifo = h.dir.join("slow");
        mkfifo(&fifo);
        let slow = h.read("slow", 5);
        let behind = h.stat("slow");
        let other = h.write("other", b"x");
        let (slow_req, behind_req, other_req) = (slow.req(), behind.req(), other.req());
        h.worker.submit(slow).unwrap();
        h.worker.submit(behind).unwrap();
        h.worker.submit(other).unwrap();
        // The write to another file finishes while the read still blocks.
        assert_eq!(h.results(1), [(other_req, StorageResult::Done)]);
        assert_eq!(h.worker.in_flight(), 2);
        fs::write(&fifo, b"hello").unwrap();
        let got = h.results(2);
        // (Its result is a failure: a FIFO cannot seek. The open blocked.)
        assert_eq!(got[0].0, slow_req);
        // Its Stat waited behind it, in order.
        assert_eq!(got[1].0, behind_req);
    }

    #[test]
    fn work_queued_while_every_thread_is_busy_runs_when_one_frees() {
        let mut h = Harness::new(WorkerLimits {
            threads: 2,
            ..WorkerLimits::default()
        });
        // Both threads block on a FIFO each; what comes after finds no
        // thread waiting, so nobody is woken for it, and must still run.
        let fifos = [h.dir.join("slow0"), h.dir.join("slow1")];
        for (i, fifo) in fifos.iter().enumerate() {
            mkfifo(fifo);
            let slow = h.read(&format!("slow{i}"), 5);
            h.worker.submit(slow).unwrap();
        }
        let mut queued = BTreeSet::new();
        for i in 0..20 {
            let a = h.write(&format!("q{i}"), b"queued");
            queued.insert(a.req());
            h.worker.submit(a).unwrap();
        }
        // Both threads have taken their FIFO (the queue holds only the writes).
        let end = Instant::now() + Duration::from_secs(10);
        while h.worker.shared.lock().busy.len() < 2 {
            assert!(Instant::now() < end, "the threads never took their reads");
            std::thread::yield_now();
        }
        fs::write(&fifos[0], b"hello").unwrap();
        let got = h.results(21);
        let writes: BTreeSet<RequestId> = got
            .iter()
            .filter(|(_, r)| *r == StorageResult::Done)
            .map(|(r, _)| *r)
            .collect();
        assert_eq!(writes, queued);
        fs::write(&fifos[1], b"hello").unwrap();
        assert_eq!(h.results(1).len(), 1);
        assert_eq!(h.worker.in_flight(), 0);
    }

    #[test]
    fn shutdown_finishes_what_was_submitted_and_joins() {
        let mut h = Harness::new(WorkerLimits::default());
        for i in 0..10 {
            let a = h.write(&format!("s{i}"), b"kept");
            h.worker.submit(a).unwrap();
        }
        let dir = h.dir.clone();
        let poll = Poll::new().unwrap();
        let waker = Arc::new(Waker::new(poll.registry(), Token(0)).unwrap());
        let worker = std::mem::replace(
            &mut h.worker,
            StorageWorker::start(WorkerLimits::default(), waker).unwrap(),
        );
        worker.shutdown();
        for i in 0..10 {
            assert_eq!(fs::read(dir.join(format!("s{i}"))).unwrap(), b"kept");
        }
    }
}
