//! Pacing against libwebrtc: raw str0m sends 16 KiB messages over real UDP on
//! loopback to a libwebrtc receiver (`tests/bench-node/sink.js`, Node with
//! `@roamhq/wrtc`), keeping at most so many bytes buffered. Bursts bigger
//! than the receiver takes are lost, and str0m's SCTP recovers slowly; this
//! shows how much the sender's pacing matters. Beside it, libwebrtc to
//! libwebrtc in one Node process (`loop.js`) as the reference.
//!
//! `cd tests/bench-node && npm ci` once, then
//! `cargo bench -p brume-tests --bench wrtc` (256 MiB per case; `-- quick`
//! for 32 MiB; `-- bind=IP` binds str0m to IP instead of 127.0.0.1).

use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError, channel};
use std::time::{Duration, Instant};

use brume_proto::transfer::{SendWindow, WindowLimits};
use brume_tests::bench::cert;
use serde_json::{Value, json};
use str0m::change::SdpAnswer;
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc};

/// The message size an application on str0m typically sends.
const MSG: usize = 16 * 1024;
/// str0m's SCTP send buffer: above every limit tried, so the pacer decides.
const SCTP_BUFFER: usize = 4 << 20;
/// Our socket's buffers, as `Loopback` sets them.
const SOCKET_BUFFER: usize = 4 << 20;
/// Without progress at the sink for this long, a case gives up.
const GIVE_UP: Duration = Duration::from_secs(60);

/// How the sender decides what to write: the seam for pacing strategies.
trait Pacing {
    fn name(&self) -> String;
    /// Bytes that may be written now, given what str0m still holds
    /// (`buffered`) and all that was written so far.
    fn room(&mut self, now: Instant, buffered: usize, written_total: u64) -> usize;
}

/// Keeps at most this many bytes buffered in str0m.
struct FixedLimit(usize);

impl Pacing for FixedLimit {
    fn name(&self) -> String {
        format!("up to {} KiB buffered", self.0 >> 10)
    }
    fn room(&mut self, _now: Instant, buffered: usize, _written_total: u64) -> usize {
        self.0.saturating_sub(buffered)
    }
}

/// Brume's adaptive send window (what its file transfers use), fed the
/// same buffered amounts.
struct Adaptive {
    window: SendWindow,
    written: u64,
}

impl Pacing for Adaptive {
    fn name(&self) -> String {
        "Brume's send window".into()
    }
    fn room(&mut self, now: Instant, buffered: usize, written_total: u64) -> usize {
        // Writes since the last call went out at about this time: the loop
        // asks again before it waits.
        if written_total > self.written {
            self.window
                .on_write(now, (written_total - self.written) as usize);
            self.written = written_total;
        }
        self.window.on_buffered(now, buffered);
        self.window.size().saturating_sub(buffered)
    }
}

/// A Node script as a child process, one JSON object per line both ways.
struct Node {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<Value>,
}

impl Node {
    fn spawn(script: &Path, args: &[String]) -> Self {
        let mut child = Command::new("node")
            .arg(script)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("node");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = channel();
        // A reader thread, so the UDP loop never blocks on the pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                match serde_json::from_str::<Value>(&line) {
                    Ok(v) => {
                        if tx.send(v).is_err() {
                            return;
                        }
                    }
                    Err(_) => eprintln!("node: {line}"),
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

    fn send(&mut self, v: &Value) {
        let stdin = self.stdin.as_mut().expect("stdin");
        writeln!(stdin, "{v}").expect("write to node");
    }

    /// The next line, waiting up to `wait`.
    fn next(&self, wait: Duration) -> Result<Value, String> {
        self.lines.recv_timeout(wait).map_err(|e| match e {
            RecvTimeoutError::Timeout => "node said nothing".to_string(),
            RecvTimeoutError::Disconnected => "node exited".to_string(),
        })
    }
}

impl Drop for Node {
    /// Closes stdin (the sink exits on EOF); kills what does not exit.
    fn drop(&mut self) {
        self.stdin = None;
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One case's outcome.
struct Report {
    /// As the sink measured it: from its first byte to its last.
    sink_secs: f64,
    /// From our first write until the sink said it had everything.
    wall_secs: f64,
    path: Option<(SocketAddr, SocketAddr)>,
    /// Kernel drops on the sink's and our socket (`/proc/net/udp`).
    drops: [u64; 2],
    /// `RcvbufErrors` delta in `/proc/net/snmp`: the whole machine.
    rcvbuf_errors: u64,
    /// Pauses of 200 ms or more in the sink's delivery (a retransmission
    /// timeout is at least 1 s in sctp-proto), and the longest, in ms.
    pauses: u64,
    longest_pause_ms: u64,
}

fn udp_socket(ip: IpAddr) -> UdpSocket {
    let domain = socket2::Domain::for_address(SocketAddr::new(ip, 0));
    let s = socket2::Socket::new(domain, socket2::Type::DGRAM, None).expect("socket");
    s.set_recv_buffer_size(SOCKET_BUFFER).expect("SO_RCVBUF");
    s.set_send_buffer_size(SOCKET_BUFFER).expect("SO_SNDBUF");
    s.bind(&SocketAddr::new(ip, 0).into()).expect("bind");
    let s: UdpSocket = s.into();
    // A short wait for datagrams; timers are checked after every wake.
    s.set_read_timeout(Some(Duration::from_millis(1)))
        .expect("timeout");
    s
}

/// Sends `total` bytes to a fresh sink, paced by `pacing`.
fn run(script: &Path, ip: IpAddr, pacing: &mut dyn Pacing, total: u64) -> Result<Report, String> {
    let socket = udp_socket(ip);
    let local = socket.local_addr().expect("addr");
    let mut rtc = Rtc::builder()
        .set_dtls_cert(cert())
        // libwebrtc (M106 in @roamhq/wrtc 0.10) knows nothing of SNAP.
        .set_snap_enabled(false)
        .set_stats_interval(None)
        .set_sctp_max_buffered_amount(SCTP_BUFFER)
        .build(Instant::now());
    rtc.add_local_candidate(Candidate::host(local, "udp").expect("candidate"));
    let mut change = rtc.sdp_api();
    change.add_channel("bench".into());
    let (offer, pending) = change.apply().expect("offer");

    let mut sink = Node::spawn(script, &[]);
    sink.send(&json!({ "offer": offer.to_sdp_string(), "expect": total }));
    let answer = sink.next(Duration::from_secs(20))?;
    let answer = answer["answer"].as_str().ok_or("no answer")?;
    let answer = SdpAnswer::from_sdp_string(answer).map_err(|e| e.to_string())?;
    rtc.sdp_api()
        .accept_answer(pending, answer)
        .map_err(|e| e.to_string())?;

    let rcvbuf_before = rcvbuf_errors();
    let msg = vec![0x5a; MSG];
    let mut buf = vec![0; 2048];
    let mut channel = None;
    let mut path = None;
    let mut next_timeout;
    let mut written = 0u64;
    let mut first_write = None;
    let mut progress = Instant::now();
    let done = loop {
        // Write what the pacer allows.
        if let Some(id) = channel {
            let mut ch = rtc.channel(id).ok_or("channel gone")?;
            let now = Instant::now();
            first_write.get_or_insert(now);
            let mut room = pacing.room(now, ch.buffered_amount(), written);
            while room >= MSG
                && written < total
                && ch.write(true, &msg).map_err(|e| e.to_string())?
            {
                written += MSG as u64;
                room -= MSG;
            }
        }
        // Send everything str0m has to send.
        loop {
            match rtc.poll_output().map_err(|e| e.to_string())? {
                Output::Timeout(t) => {
                    next_timeout = t;
                    break;
                }
                Output::Transmit(t) => {
                    if channel.is_some() {
                        path = Some((t.source, t.destination));
                    }
                    socket
                        .send_to(&t.contents, t.destination)
                        .map_err(|e| e.to_string())?;
                }
                Output::Event(Event::ChannelOpen(id, _)) => channel = Some(id),
                Output::Event(Event::ChannelClose(_)) => return Err("channel closed".into()),
                Output::Event(_) => {}
            }
        }
        // What the sink says.
        match sink.lines.try_recv() {
            Ok(v) if v["done"].is_u64() => break v,
            Ok(_) => progress = Instant::now(),
            Err(TryRecvError::Empty) => {}
            Err(TryRecvError::Disconnected) => return Err("the sink exited".into()),
        }
        if progress.elapsed() > GIVE_UP {
            return Err(format!("stalled: {written} of {total} bytes written"));
        }
        // One datagram, or a millisecond's wait.
        match socket.recv_from(&mut buf) {
            Ok((n, source)) => {
                let now = Instant::now();
                let r = Receive::new(Protocol::Udp, source, local, &buf[..n])
                    .map_err(|e| e.to_string())?;
                rtc.handle_input(Input::Receive(now, r))
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
    };
    let wall_secs = first_write.map_or(0.0, |t| t.elapsed().as_secs_f64());
    // Read while the sink's socket still exists.
    let drops = [
        path.map_or(0, |p| udp_drops(p.1.port())),
        udp_drops(local.port()),
    ];
    Ok(Report {
        sink_secs: done["secs"].as_f64().unwrap_or(f64::NAN),
        wall_secs,
        path,
        drops,
        rcvbuf_errors: rcvbuf_errors().saturating_sub(rcvbuf_before),
        pauses: done["pauses"].as_u64().unwrap_or(0),
        longest_pause_ms: done["longest_pause_ms"].as_u64().unwrap_or(0),
    })
}

/// The kernel's drop count for the UDP sockets on `port` (last column of
/// `/proc/net/udp` and `udp6`); 0 where unreadable.
fn udp_drops(port: u16) -> u64 {
    let port = format!(":{port:04X}");
    let mut drops = 0;
    for file in ["/proc/net/udp", "/proc/net/udp6"] {
        let table = std::fs::read_to_string(file).unwrap_or_default();
        for line in table.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            if cols.get(1).is_some_and(|local| local.ends_with(&port)) {
                drops += cols.last().and_then(|d| d.parse().ok()).unwrap_or(0);
            }
        }
    }
    drops
}

/// `Udp: RcvbufErrors` from `/proc/net/snmp`; 0 where unreadable.
fn rcvbuf_errors() -> u64 {
    let snmp = std::fs::read_to_string("/proc/net/snmp").unwrap_or_default();
    let mut udp = snmp.lines().filter(|l| l.starts_with("Udp: "));
    let (Some(names), Some(values)) = (udp.next(), udp.next()) else {
        return 0;
    };
    names
        .split_whitespace()
        .zip(values.split_whitespace())
        .find(|(n, _)| *n == "RcvbufErrors")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0)
}

/// The reference: libwebrtc to libwebrtc in one Node process.
fn reference(dir: &Path, mib: u64) -> Result<Value, String> {
    let node = Node::spawn(&dir.join("loop.js"), &[mib.to_string()]);
    node.next(Duration::from_secs(600))
}

fn node_ready(dir: &Path) -> bool {
    let node = Command::new("node").arg("--version").output();
    node.is_ok_and(|o| o.status.success())
        && dir.join("node_modules/@roamhq/wrtc/package.json").exists()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("bench-node");
    if !node_ready(&dir) {
        println!("wrtc bench skipped: needs node and its modules (cd tests/bench-node && npm ci)");
        return;
    }
    let quick = args.iter().any(|a| a == "quick");
    let ip: IpAddr = args
        .iter()
        .find_map(|a| a.strip_prefix("bind="))
        .map_or(Ipv4Addr::LOCALHOST.into(), |s| s.parse().expect("bind=IP"));
    let mib: u64 = if quick { 32 } else { 256 };
    let total = mib << 20;

    let mut pacers: Vec<Box<dyn Pacing>> = vec![
        Box::new(FixedLimit(2 << 20)),
        Box::new(FixedLimit(256 << 10)),
        Box::new(FixedLimit(64 << 10)),
        Box::new(Adaptive {
            window: SendWindow::new(WindowLimits::default()),
            written: 0,
        }),
    ];
    println!(
        "raw str0m → libwebrtc (node @roamhq/wrtc), {mib} MiB in {} KiB messages, \
         UDP buffers {} MiB (ours), str0m SCTP buffer {} MiB",
        MSG >> 10,
        SOCKET_BUFFER >> 20,
        SCTP_BUFFER >> 20
    );
    let sink = dir.join("sink.js");
    for pacing in &mut pacers {
        let name = pacing.name();
        match run(&sink, ip, pacing.as_mut(), total) {
            Ok(r) => {
                let path = r.path.map_or("?".into(), |(a, b)| format!("{a} → {b}"));
                println!(
                    "  {name:>24}: {:7.1} MiB/s at the sink ({:.1} MiB/s from the first write); \
                     {path}; udp drops: sink {}, ours {} (RcvbufErrors +{}); \
                     {} delivery pauses ≥ 200 ms, longest {} ms",
                    mib as f64 / r.sink_secs,
                    mib as f64 / r.wall_secs,
                    r.drops[0],
                    r.drops[1],
                    r.rcvbuf_errors,
                    r.pauses,
                    r.longest_pause_ms,
                );
            }
            Err(e) => println!("  {name:>24}: failed: {e}"),
        }
    }
    let rcvbuf_before = rcvbuf_errors();
    match reference(&dir, mib) {
        Ok(v) => println!(
            "libwebrtc → libwebrtc (loop.js, ≤ {} KiB queued, refilled at {} KiB): {:.1} MiB/s; \
             RcvbufErrors +{}",
            v["high"].as_u64().unwrap_or(0) >> 10,
            v["low"].as_u64().unwrap_or(0) >> 10,
            v["mibps"].as_f64().unwrap_or(0.0),
            rcvbuf_errors().saturating_sub(rcvbuf_before),
        ),
        Err(e) => println!("libwebrtc → libwebrtc (loop.js): failed: {e}"),
    }
}
