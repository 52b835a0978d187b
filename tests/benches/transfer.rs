//! File-transfer throughput: a verified Brume transfer beside raw str0m
//! data-channel throughput driven the same way, over real UDP on loopback
//! and over a simulated 50 ms RTT, 100 Mbit/s link in virtual time.
//!
//! `cargo bench -p brume-tests --bench transfer` (256 MiB each); `-- quick`
//! for 32 MiB and 16 MiB. `-- sim seeds=N` measures Brume alone on the lossy
//! link over N seeds, `-- sim bdp2` behind the half-BDP queue alone, and
//! `sim-mib=N` sets the simulated size: one run of the simulated link is
//! exact but turns on where a few losses fall, so compare over seeds or sizes.
//!
//! Storage is in memory on both sides, so the figures are the protocol's,
//! hashing and verification included; the sender hashes the file before it
//! offers it, and that time counts.

use std::time::{Duration, Instant};

use brume_tests::bench::{BrumePair, Loopback, Pair, RawPair, VirtualNet, cert, virtual_addrs};
use str0m::config::DtlsCert;
use str0m_netem::{Bitrate, DataSize, NetemConfig, Probability, RandomLoss};

/// The largest message Brume sends: 256 KiB with its 15-byte header.
const MAX_CHUNK: usize = 256 * 1024 - 15;
/// The fixed pacing Brume used before its send window: 768 KiB kept queued.
const FIXED_HIGH_WATER: usize = 768 * 1024;
/// What an application on str0m's defaults typically sends.
const DEFAULT_MSG: usize = 16 * 1024;
/// The router queue of the simulated link: one bandwidth-delay product.
const BDP: usize = 625_000;

/// How raw str0m decides what to write.
#[derive(Clone, Copy)]
enum RawPacing {
    /// Brume's adaptive send window and chunk size, refilled on every
    /// acknowledgement (see `RawPair::send_windowed`).
    Window,
    /// Keep at most `high_water` buffered, in messages of `msg` bytes.
    Fixed { high_water: usize, msg: usize },
    /// str0m's defaults (128 KiB send buffer), 16 KiB messages written until
    /// str0m refuses.
    Defaults,
}

impl RawPacing {
    fn buffer(self) -> Option<usize> {
        match self {
            RawPacing::Defaults => None,
            _ => Some(brume_tests::bench::BUFFER),
        }
    }
}

/// A raw str0m sender moving `total` bytes at a fixed limit; with
/// [`RawPacing::Window`] the pair paces itself and this sends nothing.
struct RawSender {
    limit: Option<(usize, usize)>,
    msg: Vec<u8>,
    sent: usize,
    total: usize,
}

impl RawSender {
    fn new(pacing: RawPacing, total: usize) -> Self {
        let limit = match pacing {
            RawPacing::Window => None,
            RawPacing::Fixed { high_water, msg } => Some((high_water, msg)),
            RawPacing::Defaults => Some((usize::MAX, DEFAULT_MSG)),
        };
        Self {
            limit,
            msg: vec![0x5a; MAX_CHUNK],
            sent: 0,
            total,
        }
    }

    /// Writes what the limit allows now.
    fn send(&mut self, pair: &mut RawPair) {
        let Some((high_water, chunk)) = self.limit else {
            return;
        };
        let mut queued = pair.buffered();
        while self.sent < self.total && queued <= high_water {
            let len = chunk.min(self.total - self.sent);
            if !pair.write(&self.msg[..len]) {
                return;
            }
            queued += len;
            self.sent += len;
        }
    }
}

fn data(len: usize) -> Vec<u8> {
    let mut bytes = vec![0; len];
    fastrand::Rng::with_seed(7).fill(&mut bytes);
    bytes
}

/// Wall seconds for a Brume transfer of `bytes` on loopback; the receiver's
/// storage keeps the bytes in memory if `keep`, else drops them.
fn loopback_brume(certs: &[DtlsCert; 2], bytes: &[u8], keep: bool) -> f64 {
    let mut lo = Loopback::new();
    let mut pair = BrumePair::new(Instant::now(), lo.addrs(), certs);
    pair.keep_writes(keep);
    pair.start(Instant::now());
    while !pair.is_open() {
        lo.step(&mut pair);
    }
    let bytes = bytes.to_vec();
    let start = Instant::now();
    pair.start_transfer(start, bytes);
    while !pair.transfer_done {
        lo.step(&mut pair);
    }
    start.elapsed().as_secs_f64()
}

/// Wall seconds for raw str0m moving `total` bytes on loopback.
fn loopback_raw(certs: &[DtlsCert; 2], total: usize, pacing: RawPacing) -> f64 {
    let mut lo = Loopback::new();
    let mut pair = RawPair::new(Instant::now(), lo.addrs(), certs, false);
    pair.start(Instant::now());
    while !pair.is_open() {
        lo.step(&mut pair);
    }
    let mut sender = RawSender::new(pacing, total);
    let start = Instant::now();
    if let RawPacing::Window = pacing {
        pair.send_windowed(start, total, MAX_CHUNK);
    }
    while pair.received() < total {
        sender.send(&mut pair);
        lo.step(&mut pair);
    }
    start.elapsed().as_secs_f64()
}

/// 25 ms each way (50 ms RTT), 100 Mbit/s, with a router queue of `queue`
/// bytes. str0m-netem counts packets still on the wire against its buffer,
/// so the buffer is that queue plus the 25 ms (312.5 kB) in flight.
fn link(loss: f32, queue: usize, seed: u64) -> NetemConfig {
    NetemConfig::new()
        .latency(Duration::from_millis(25))
        .link(
            Bitrate::mbps(100),
            DataSize::bytes((queue + BDP / 2) as i64),
        )
        .loss(RandomLoss::new(Probability::new(loss)))
        .seed(seed)
}

/// The two links of the simulated path; `seed` picks their losses.
fn net(start: Instant, loss: f32, queue: usize, seed: u64) -> VirtualNet {
    let [a, b] = virtual_addrs();
    VirtualNet::new(start, Duration::ZERO)
        .with_link(a, link(loss, queue, 2 * seed - 1))
        .with_link(b, link(loss, queue, 2 * seed))
}

/// Virtual seconds for a Brume transfer of `bytes` over the simulated link
/// whose losses `seed` picks, with datagram parity on or off.
fn sim_brume(
    certs: &[DtlsCert; 2],
    bytes: &[u8],
    loss: f32,
    queue: usize,
    parity: bool,
    seed: u64,
) -> f64 {
    let start = Instant::now();
    let mut net = net(start, loss, queue, seed);
    let mut pair = BrumePair::with_parity(start, virtual_addrs(), certs, parity);
    pair.start(start);
    while !pair.is_open() {
        assert!(net.step(&mut pair), "stalled");
    }
    let begin = net.now;
    pair.start_transfer(begin, bytes.to_vec());
    while !pair.transfer_done {
        assert!(net.step(&mut pair), "stalled");
    }
    if std::env::args().any(|a| a == "fec") {
        println!("  fec {:?}", pair.fec_stats());
    }
    (net.now - begin).as_secs_f64()
}

/// Virtual seconds for raw str0m moving `total` bytes over the simulated link.
fn sim_raw(certs: &[DtlsCert; 2], total: usize, loss: f32, pacing: RawPacing) -> f64 {
    let start = Instant::now();
    let mut net = net(start, loss, BDP, 1);
    let mut pair = RawPair::new(start, virtual_addrs(), certs, false);
    pair.buffer = pacing.buffer();
    pair.start(start);
    while !pair.is_open() {
        assert!(net.step(&mut pair), "stalled");
    }
    let begin = net.now;
    let mut sender = RawSender::new(pacing, total);
    if let RawPacing::Window = pacing {
        pair.send_windowed(begin, total, MAX_CHUNK);
    }
    while pair.received() < total {
        sender.send(&mut pair);
        assert!(net.step(&mut pair), "stalled");
    }
    (net.now - begin).as_secs_f64()
}

/// The loopback runs, each made in a process of its own (see `loopback`).
const RUNS: [&str; 5] = ["brume", "raw-window", "brume-keep", "raw-768k", "raw-64k"];

/// What each of [`RUNS`] is, for the report.
const LABELS: [&str; 5] = [
    "brume transfer (hash, offer, verify; writes dropped):",
    "raw str0m, Brume's send window and chunks:",
    "brume transfer, writes kept in a growing Vec:",
    "raw str0m, 768 KiB kept buffered, 256 KiB messages:",
    "raw str0m, 64 KiB kept buffered, 16 KiB messages:",
];

/// One loopback run of `what` (one of [`RUNS`]) over `size` bytes: wall seconds.
fn run_one(what: &str, size: usize) -> f64 {
    let certs = [cert(), cert()];
    match what {
        "brume" | "brume-keep" => loopback_brume(&certs, &data(size), what == "brume-keep"),
        "raw-window" => loopback_raw(&certs, size, RawPacing::Window),
        "raw-768k" => loopback_raw(
            &certs,
            size,
            RawPacing::Fixed {
                high_water: FIXED_HIGH_WATER,
                msg: MAX_CHUNK,
            },
        ),
        "raw-64k" => loopback_raw(
            &certs,
            size,
            RawPacing::Fixed {
                high_water: 64 << 10,
                msg: DEFAULT_MSG,
            },
        ),
        other => panic!("no run called {other}"),
    }
}

/// Runs `what` in a fresh process of this benchmark: wall seconds.
fn in_child(what: &str, size: usize) -> f64 {
    let exe = std::env::current_exe().expect("the bench's own path");
    let out = std::process::Command::new(exe)
        .args(["run", what, &(size >> 20).to_string()])
        .output()
        .expect("run a child");
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix("secs=")?.parse().ok())
        .unwrap_or_else(|| panic!("child {what} said: {text}"))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // `run WHAT MIB`: one loopback run, alone in this process (as the
    // loopback part calls it; also for profiling, e.g. valgrind --tool=callgrind).
    if let Some(i) = args.iter().position(|a| a == "run") {
        let what = args.get(i + 1).map_or("brume", String::as_str);
        let mib = args.get(i + 2).and_then(|m| m.parse().ok()).unwrap_or(32);
        let secs = run_one(what, mib << 20);
        println!("{what}: {:.1} MiB/s", mib as f64 / secs);
        println!("secs={secs}");
        return;
    }
    let quick = args.iter().any(|a| a == "quick");
    let (lo_size, sim_size, mut rounds) = if quick {
        (32 << 20, 16 << 20, 5)
    } else {
        (256 << 20, 256 << 20, 5)
    };
    // `sim-mib=N` sets the simulated transfer's size.
    let sim_size = args
        .iter()
        .find_map(|a| a.strip_prefix("sim-mib=")?.parse::<usize>().ok())
        .map_or(sim_size, |mib| mib << 20);
    // `rounds=N` sets the loopback rounds.
    if let Some(n) = args
        .iter()
        .find_map(|a| a.strip_prefix("rounds=")?.parse().ok())
    {
        rounds = n;
    }
    // `loopback` or `sim` runs that part alone.
    let only = |part: &str| {
        !args.iter().any(|a| a == "loopback" || a == "sim") || args.iter().any(|a| a == part)
    };

    if only("loopback") {
        loopback(lo_size, rounds, args.iter().any(|a| a == "ratio"));
    }
    if only("sim") {
        simulated(&[cert(), cert()], sim_size);
    }
}

/// The lowest and highest of `runs`.
fn spread(runs: &[f64]) -> (f64, f64) {
    let lo = runs.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = runs.iter().copied().fold(0.0, f64::max);
    (lo, hi)
}

/// The median of `runs`.
fn median(mut runs: Vec<f64>) -> f64 {
    runs.sort_by(f64::total_cmp);
    runs[runs.len() / 2]
}

/// Each run is a process of its own, Brume and raw str0m taking turns: a
/// run's leftovers (allocator, sockets) moved the next one by up to 10 %
/// when they shared a process, and not the same way for both. With
/// `ratio_only`, just the two runs whose ratio is the target.
fn loopback(lo_size: usize, rounds: usize, ratio_only: bool) {
    let mib = |n: usize| n as f64 / (1 << 20) as f64;
    println!(
        "# loopback: {:.0} MiB, both peers in one process (a fresh one per run), UDP on \
         127.0.0.1 with SO_RCVBUF/SO_SNDBUF 4 MiB; median of {rounds} rounds, Brume and raw \
         str0m taking turns",
        mib(lo_size)
    );
    let runs = if ratio_only { &RUNS[..2] } else { &RUNS[..] };
    let mut secs = vec![Vec::new(); runs.len()];
    for _ in 0..rounds {
        for (i, what) in runs.iter().enumerate() {
            secs[i].push(in_child(what, lo_size));
        }
    }
    let rates: Vec<Vec<f64>> = secs
        .iter()
        .map(|s| s.iter().map(|t| mib(lo_size) / t).collect())
        .collect();
    let show = |r: &[f64]| {
        let (lo, hi) = spread(r);
        format!("{:>6.1} MiB/s ({lo:.1}–{hi:.1})", median(r.to_vec()))
    };
    // The ratio of each round's pair, so both saw the same machine.
    let ratios: Vec<f64> = secs[0].iter().zip(&secs[1]).map(|(b, r)| r / b).collect();
    let row = |i: usize| println!("  {:<52} {}", LABELS[i], show(&rates[i]));
    row(0);
    row(1);
    println!(
        "  ratio brume/str0m, median of rounds: {:.3} ({})",
        median(ratios.clone()),
        ratios
            .iter()
            .map(|r| format!("{r:.2}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    (2..runs.len()).for_each(row);
}

fn simulated(certs: &[DtlsCert; 2], sim_size: usize) {
    let mib = |n: usize| n as f64 / (1 << 20) as f64;
    println!(
        "\n# simulated link: 50 ms RTT, 100 Mbit/s, {:.0} MiB, virtual time",
        mib(sim_size)
    );
    let bytes = data(sim_size);
    let mbit = |secs: f64| (sim_size * 8) as f64 / secs / 1e6;
    // `bdp2`: Brume alone behind the half-BDP queue.
    if std::env::args().any(|a| a == "bdp2") {
        let b = sim_brume(certs, &bytes, 0.0, BDP / 2, true, 1);
        println!("  loss 0.0 %, queue BDP/2: brume {:>5.1} Mbit/s", mbit(b));
        return;
    }
    // `seeds=N`: Brume alone on 0.5 % loss over N seeds of the links, since
    // one seed's figure turns on where a few losses fall.
    if let Some(n) = std::env::args().find_map(|a| a.strip_prefix("seeds=")?.parse::<u64>().ok()) {
        let rates: Vec<f64> = (1..=n.max(1))
            .map(|seed| mbit(sim_brume(certs, &bytes, 0.005, BDP, true, seed)))
            .collect();
        let (lo, hi) = spread(&rates);
        println!(
            "  loss 0.5 %, queue 1 BDP, {n} seeds: brume median {:.1} Mbit/s ({lo:.1}–{hi:.1})",
            median(rates.clone())
        );
        return;
    }
    // `loss=P` (a fraction) measures that loss rate instead of 0 and 0.5 %.
    let losses: Vec<f32> = std::env::args()
        .find_map(|a| a.strip_prefix("loss=")?.parse().ok())
        .map_or(vec![0.0, 0.005], |p| vec![p]);
    for loss in losses {
        let b = sim_brume(certs, &bytes, loss, BDP, true, 1);
        let off = sim_brume(certs, &bytes, loss, BDP, false, 1);
        let d = sim_raw(certs, sim_size, loss, RawPacing::Defaults);
        let w = sim_raw(certs, sim_size, loss, RawPacing::Window);
        println!(
            "  loss {:>3.1} %, queue 1 BDP:   brume {:>5.1} Mbit/s   str0m defaults {:>5.1} (brume/defaults {:.2})   brume without datagram parity {:>5.1}   str0m with Brume's window {:>5.1}",
            loss * 100.0,
            mbit(b),
            mbit(d),
            d / b,
            mbit(off),
            mbit(w)
        );
    }
    let b = sim_brume(certs, &bytes, 0.0, BDP / 2, true, 1);
    let off = sim_brume(certs, &bytes, 0.0, BDP / 2, false, 1);
    println!(
        "  loss 0.0 %, queue BDP/2: brume {:>5.1} Mbit/s   brume without datagram parity {:>5.1}",
        mbit(b),
        mbit(off)
    );
}
