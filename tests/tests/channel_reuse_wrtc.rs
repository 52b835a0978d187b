//! Against real libwebrtc (Node with `@roamhq/wrtc`, `tests/bench-node/churn.js`):
//! the libwebrtc side opens data channels in a tight loop, each on the SCTP
//! stream id the last one freed, as browsers do; raw str0m, as Brume's
//! endpoint drives it, echoes every message. `local`: libwebrtc closes each
//! channel; `remote`: str0m does, with messages still arriving; `both`: at
//! once, as a transfer's two sides do after `done`.
//!
//! Run by hand (real time, real processes): `cd tests/bench-node && npm ci`,
//! then `cargo test -p brume-tests --test channel_reuse_wrtc -- --ignored`.
//! `LOSS=10` drops 10 % of what str0m receives once the channel is up; then
//! str0m 0.25 drops some channels on reused ids (see
//! `tests/tests/channel_reuse_sim.rs`) and the test fails, which is the
//! point: it reproduces the fault against libwebrtc.

use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, TryRecvError, channel};
use std::time::{Duration, Instant};

use brume_tests::bench::cert;
use serde_json::{Value, json};
use str0m::change::SdpAnswer;
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc};

struct Node {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<Value>,
}

impl Node {
    fn spawn(script: &Path) -> Self {
        let mut child = Command::new("node")
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("node");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<Value>(&line)
                    && tx.send(v).is_err()
                {
                    return;
                }
            }
        });
        let stdin = child.stdin.take();
        Self {
            child,
            stdin,
            lines,
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.stdin = None;
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn node_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("bench-node")
}

fn run(closer: &str, rounds: u64, tail: u64) -> Result<(), String> {
    let socket = UdpSocket::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).expect("bind");
    socket
        .set_read_timeout(Some(Duration::from_millis(1)))
        .expect("timeout");
    let local = socket.local_addr().expect("addr");
    let mut rtc = Rtc::builder()
        .set_dtls_cert(cert())
        .set_snap_enabled(false)
        .set_stats_interval(None)
        .build(Instant::now());
    rtc.add_local_candidate(Candidate::host(local, "udp").expect("candidate"));
    let mut change = rtc.sdp_api();
    change.add_channel("main".into());
    let (offer, pending) = change.apply().expect("offer");
    let mut node = Node::spawn(&node_dir().join("churn.js"));
    let stdin = node.stdin.as_mut().expect("stdin");
    writeln!(
        stdin,
        "{}",
        json!({"offer": offer.to_sdp_string(), "rounds": rounds, "closer": closer, "tail": tail})
    )
    .map_err(|e| e.to_string())?;
    let answer = node
        .lines
        .recv_timeout(Duration::from_secs(20))
        .map_err(|e| e.to_string())?;
    let answer = answer["answer"].as_str().ok_or("no answer")?;
    let answer = SdpAnswer::from_sdp_string(answer).map_err(|e| e.to_string())?;
    rtc.sdp_api()
        .accept_answer(pending, answer)
        .map_err(|e| e.to_string())?;
    let loss: u64 = std::env::var("LOSS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut buf = vec![0; 2048];
    let mut next_timeout;
    let mut main = None;
    let mut log = Vec::new();
    let mut closed = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut to_close = Vec::new();
        loop {
            match rtc.poll_output().map_err(|e| e.to_string())? {
                Output::Timeout(t) => {
                    next_timeout = t;
                    break;
                }
                Output::Transmit(t) => {
                    let _ = socket.send_to(&t.contents, t.destination);
                }
                Output::Event(Event::ChannelOpen(id, label)) => {
                    log.push(format!("str0m open {id:?} {label}"));
                    if label == "main" {
                        main = Some(id);
                    }
                }
                Output::Event(Event::ChannelData(d)) if Some(d.id) != main => {
                    log.push(format!("str0m data {:?}", d.id));
                    if let Some(mut ch) = rtc.channel(d.id) {
                        let _ = ch.write(false, &d.data);
                    }
                    if closer != "local" && !closed.contains(&d.id) {
                        closed.push(d.id);
                        to_close.push(d.id);
                    }
                }
                Output::Event(Event::ChannelClose(id)) => log.push(format!("str0m close {id:?}")),
                Output::Event(_) => {}
            }
        }
        for id in to_close {
            rtc.direct_api().close_data_channel(id);
        }
        loop {
            match node.lines.try_recv() {
                Ok(v) if v["done"].is_u64() => {
                    let opens = log.iter().filter(|l| l.starts_with("str0m open")).count();
                    if opens as u64 != rounds + 1 {
                        return Err(format!("{opens} opens\n{}", log.join("\n")));
                    }
                    return Ok(());
                }
                Ok(v) if v["stuck"].is_u64() => {
                    return Err(format!("libwebrtc stuck: {v}\n{}", log.join("\n")));
                }
                Ok(v) => log.push(format!("wrtc {v}")),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    // node-wrtc 0.10 itself sometimes dies without a word (a
                    // signal) when channels close under it.
                    let status = node.child.wait().map(|s| s.to_string());
                    return Err(format!("node exited: {status:?}"));
                }
            }
        }
        if Instant::now() > deadline {
            return Err(format!("timed out\n{}", log.join("\n")));
        }
        match socket.recv_from(&mut buf) {
            Ok((n, source)) => {
                if main.is_some() && fastrand::u64(0..100) < loss {
                    continue;
                }
                let r = Receive::new(Protocol::Udp, source, local, &buf[..n])
                    .map_err(|e| e.to_string())?;
                rtc.handle_input(Input::Receive(Instant::now(), r))
                    .map_err(|e| e.to_string())?;
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => return Err(e.to_string()),
        }
        let now = Instant::now();
        if now >= next_timeout {
            rtc.handle_input(Input::Timeout(now))
                .map_err(|e| e.to_string())?;
        }
    }
}

fn node_ready() -> bool {
    let ok = Command::new("node").arg("--version").output().is_ok()
        && node_dir().join("node_modules/@roamhq/wrtc").exists();
    if !ok {
        eprintln!("skipped: needs node and `cd tests/bench-node && npm ci`");
    }
    ok
}

#[test]
#[ignore = "needs node and npm ci in tests/bench-node; real time"]
fn libwebrtc_closes_each_channel_and_reuses_its_id() {
    if node_ready() {
        run("local", 50, 3).unwrap();
    }
}

#[test]
#[ignore = "needs node and npm ci in tests/bench-node; real time"]
fn str0m_closes_each_channel_and_libwebrtc_reuses_its_id() {
    if node_ready() {
        run("remote", 50, 3).unwrap();
    }
}

#[test]
#[ignore = "needs node and npm ci in tests/bench-node; real time"]
fn both_close_each_channel_at_once_and_libwebrtc_reuses_its_id() {
    if node_ready() {
        run("both", 50, 0).unwrap();
    }
}
