//! What the end-to-end tests share: a real `brume serve` on a free loopback
//! port, real `brume` processes, and waits on output lines and exits with
//! deadlines (nothing sleeps in place of synchronisation).
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use brume_proto::token::TokenKey;

pub const BIN: &str = env!("CARGO_BIN_EXE_brume");
pub const LIMIT: Duration = Duration::from_secs(30);

pub fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "brume-e2e-{name}-{}-{:x}",
        std::process::id(),
        fastrand::u64(..)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A child whose stdout lines arrive on a channel.
pub struct Proc {
    pub child: Child,
    pub lines: Receiver<String>,
    pub seen: Vec<String>,
}

impl Proc {
    pub fn spawn(cmd: &mut Command) -> Self {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .stdin(Stdio::null())
            .spawn()
            .expect("brume runs");
        let out = child.stdout.take().unwrap();
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Self {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits for a line containing `needle`; returns it.
    pub fn wait_line(&mut self, needle: &str) -> String {
        let end = Instant::now() + LIMIT;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => panic!("no line with {needle:?}; saw {:?}", self.seen),
            }
        }
    }

    /// Waits for the process to exit; its status code.
    pub fn wait_exit(&mut self) -> i32 {
        let end = Instant::now() + LIMIT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code().unwrap_or(-1);
            }
            assert!(
                Instant::now() < end,
                "process did not exit; saw {:?}",
                self.seen
            );
            // Polling an exit status: there is nothing to block on.
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Every line not yet read, once the process has exited: waits for its
    /// pipes to close, since lines still in flight when it exits are not in
    /// the channel yet.
    pub fn rest_of_output(&mut self) -> Vec<String> {
        let end = Instant::now() + LIMIT;
        let mut rest = Vec::new();
        while let Ok(line) = self
            .lines
            .recv_timeout(end.saturating_duration_since(Instant::now()))
        {
            rest.push(line);
        }
        self.seen.extend(rest.iter().cloned());
        rest
    }

    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct Hub {
    pub proc: Proc,
    pub url: String,
    pub data: PathBuf,
    pub dir: PathBuf,
}

impl Hub {
    pub fn start(name: &str) -> Self {
        Self::start_with(name, Proc::spawn)
    }

    /// A hub whose stderr (its logs, at the default verbosity) arrives as
    /// lines beside its stdout.
    pub fn start_logged(name: &str) -> Self {
        Self::start_with(name, |cmd| spawn_all(cmd.env_remove("RUST_LOG")))
    }

    /// A hub started with more `brume serve` arguments.
    pub fn start_serving(name: &str, args: &[&str]) -> Self {
        Self::start_with(name, |cmd| Proc::spawn(cmd.args(args)))
    }

    fn start_with(name: &str, spawn: impl FnOnce(&mut Command) -> Proc) -> Self {
        let dir = tmp(name);
        let data = dir.join("hub");
        let mut proc = spawn(
            Command::new(BIN)
                .args(["serve", "--listen", "127.0.0.1:0", "--data"])
                .arg(&data),
        );
        let line = proc.wait_line("listening on");
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("ws://"))
            .unwrap()
            .to_owned();
        Self {
            proc,
            url,
            data,
            dir,
        }
    }

    /// `brume user add NAME --out DIR/NAME.conf`, password on stdin.
    pub fn add_user(&self, name: &str, password: &str) -> PathBuf {
        let conf = self.dir.join(format!("{name}.conf"));
        let out = run_stdin(
            Command::new(BIN)
                .args(["user", "add", name, "--password-stdin", "--url", &self.url])
                .arg("--data")
                .arg(&self.data)
                .arg("--out")
                .arg(&conf),
            password,
        );
        assert!(out.status.success(), "{out:?}");
        conf
    }

    pub fn key(&self) -> TokenKey {
        TokenKey::from_secret(&std::fs::read(self.data.join("hub.key")).unwrap()).unwrap()
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs `cmd` with `input` and a newline on stdin.
pub fn run_stdin(cmd: &mut Command, input: &str) -> Output {
    run_with_input(cmd, &format!("{input}\n"))
}

/// Runs `cmd` with exactly `input` on stdin, then end of input.
fn run_with_input(cmd: &mut Command, input: &str) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A command may exit (on a bad argument, say) before it reads its
    // input: the pipe is then closed, which is no failure of the test.
    let written = child.stdin.take().unwrap().write_all(input.as_bytes());
    if let Err(e) = written {
        assert_eq!(
            e.kind(),
            std::io::ErrorKind::BrokenPipe,
            "writing stdin: {e}"
        );
    }
    child.wait_with_output().unwrap()
}

pub fn brume(conf: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .env("BRUME_CONF", conf)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn recv(conf: &Path, dir: &Path, once: bool) -> Proc {
    let mut cmd = Command::new(BIN);
    cmd.env("BRUME_CONF", conf)
        .args(["recv", "--yes", "--dir"])
        .arg(dir);
    if once {
        cmd.arg("--once");
    }
    let mut p = Proc::spawn(&mut cmd);
    p.wait_line("ready as");
    p
}

/// As [`Proc::spawn`], with standard error's lines arriving on the same
/// channel as standard output's (each stream keeps its own order).
pub fn spawn_all(cmd: &mut Command) -> Proc {
    spawn_lines(cmd, Stdio::null(), "")
}

/// As [`spawn_all`], with stdin left open (a pipe nobody writes to) for as
/// long as it runs.
pub fn spawn_merged(cmd: &mut Command) -> Proc {
    spawn_lines(cmd, Stdio::piped(), "")
}

/// A child whose stdout and stderr lines both arrive on one channel (stderr
/// ones prefixed `stderr: `), with its stdin a pipe the test writes to.
pub fn spawn_talking(cmd: &mut Command) -> (Proc, std::process::ChildStdin) {
    let mut proc = spawn_lines(cmd, Stdio::piped(), "stderr: ");
    let stdin = proc.child.stdin.take().unwrap();
    (proc, stdin)
}

/// Spawns `cmd` with its stdout and stderr lines on one channel, stderr
/// lines echoed to the test's stderr and marked with `stderr_prefix`.
fn spawn_lines(cmd: &mut Command, stdin: Stdio, stderr_prefix: &'static str) -> Proc {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(stdin)
        .spawn()
        .expect("brume runs");
    let (tx, lines) = channel();
    let out = child.stdout.take().unwrap();
    let err = child.stderr.take().unwrap();
    let tx2 = tx.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            eprintln!("{line}");
            if tx2.send(format!("{stderr_prefix}{line}")).is_err() {
                return;
            }
        }
    });
    Proc {
        child,
        lines,
        seen: Vec::new(),
    }
}

/// Waits up to `limit` for a line of `p` containing `needle`; the line and
/// when it came.
pub fn wait_line_within(p: &mut Proc, needle: &str, limit: Duration) -> (String, Instant) {
    let end = Instant::now() + limit;
    loop {
        let left = end.saturating_duration_since(Instant::now());
        match p.lines.recv_timeout(left) {
            Ok(line) => {
                p.seen.push(line.clone());
                if line.contains(needle) {
                    return (line, Instant::now());
                }
            }
            Err(_) => panic!("no line with {needle:?} within {limit:?}; saw {:?}", p.seen),
        }
    }
}

/// `brume ARGS` as the user of `conf`, with `input` on stdin.
pub fn brume_stdin(conf: &Path, args: &[&str], input: &str) -> Output {
    run_with_input(Command::new(BIN).env("BRUME_CONF", conf).args(args), input)
}

/// `brume ARGS…` with the config `conf`, killed if it has not exited within
/// `limit` (a hang then fails the test instead of stalling it); the output,
/// and whether it exited by itself.
pub fn brume_within(conf: &Path, args: &[&str], limit: Duration) -> (Output, bool) {
    let mut child = Command::new(BIN)
        .env("BRUME_CONF", conf)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read both pipes as the command writes: a full pipe would stop it.
    let drain = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let out = drain(child.stdout.take().map(|p| Box::new(p) as _));
    let err = drain(child.stderr.take().map(|p| Box::new(p) as _));
    let end = Instant::now() + limit;
    let mut exited = false;
    while Instant::now() < end {
        if child.try_wait().unwrap().is_some() {
            exited = true;
            break;
        }
        // Polling an exit: there is nothing else to wait on.
        std::thread::sleep(Duration::from_millis(20));
    }
    if !exited {
        let _ = child.kill();
    }
    let status = child.wait().unwrap();
    let output = Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    };
    (output, exited)
}

// ----- brume share -----

/// Logs `user` in on `device` into the config `conf`.
pub fn share_login(hub: &Hub, conf: &Path, user: &str, password: &str, device: &str) {
    let mut cmd = Command::new(BIN);
    cmd.env("BRUME_CONF", conf).args([
        "login",
        "--url",
        &hub.url,
        user,
        "--password-stdin",
        "--device",
        device,
    ]);
    let out = run_stdin(&mut cmd, password);
    assert!(out.status.success(), "{out:?}");
}

/// `brume share --root ROOT` as the user of `conf`.
pub fn share_daemon(conf: &Path, root: &Path) -> Proc {
    spawn_all(
        Command::new(BIN)
            .env("BRUME_CONF", conf)
            .arg("share")
            .arg("--root")
            .arg(root),
    )
}

/// Every file under `dir` (relative path → content), folders as `None`;
/// the daemon's own state and `.members` left out.
pub fn share_tree(dir: &Path) -> std::collections::BTreeMap<String, Option<Vec<u8>>> {
    fn walk(
        dir: &Path,
        prefix: &str,
        out: &mut std::collections::BTreeMap<String, Option<Vec<u8>>>,
    ) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name == ".members" || name == ".brume-sync" || name.ends_with(".brume-part") {
                continue;
            }
            let rel = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            };
            let p = e.path();
            if p.is_dir() {
                out.insert(rel.clone(), None);
                walk(&p, &rel, out);
            } else {
                out.insert(rel, std::fs::read(&p).ok());
            }
        }
    }
    let mut out = std::collections::BTreeMap::new();
    walk(dir, "", &mut out);
    out
}

/// Waits (bounded) until `member` holds exactly `expected`; the time it took.
pub fn share_wait(
    member: &Path,
    expected: &std::collections::BTreeMap<String, Option<Vec<u8>>>,
    what: &str,
) -> Duration {
    share_wait_within(member, expected, what, LIMIT)
}

/// As [`share_wait`], within `limit`.
pub fn share_wait_within(
    member: &Path,
    expected: &std::collections::BTreeMap<String, Option<Vec<u8>>>,
    what: &str,
    limit: Duration,
) -> Duration {
    let start = Instant::now();
    let end = start + limit;
    loop {
        let got = share_tree(member);
        if got == *expected {
            return start.elapsed();
        }
        assert!(
            Instant::now() < end,
            "{what}: {} never matched\n got {:?}\nwant {:?}",
            member.display(),
            got.keys(),
            expected.keys()
        );
        // Polling a folder: there is nothing to block on.
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Writes `data` to `p`, making its folders.
pub fn share_write(p: &Path, data: &str) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, data).unwrap();
}
