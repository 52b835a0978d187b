//! File-transfer throughput: a verified Brume transfer beside raw str0m
//! data-channel throughput driven the same way, over real UDP on loopback
//! and over a simulated 50 ms RTT, 100 Mbit/s link in virtual time.
//!
//! `cargo bench -p brume-tests --bench transfer` (256 MiB on loopback, 64 MiB
//! simulated); `-- quick` for 32 MiB and 16 MiB.
//!
//! Storage is in memory on both sides, so the figures are the protocol's,
//! hashing and verification included; the sender hashes the file before it
//! offers it, and that time counts.

use std::time::{Duration, Instant};

use brume_tests::bench::{BrumePair, Loopback, Pair, RawPair, VirtualNet, cert, virtual_addrs};
use str0m::config::DtlsCert;
use str0m_netem::{Bitrate, DataSize, NetemConfig, Probability, RandomLoss};

/// Brume's data chunk: a 256 KiB message.
const CHUNK: usize = 256 * 1024 - 15;
/// What Brume keeps queued per peer.
const TRANSFER_HIGH_WATER: usize = 768 * 1024;
/// What an application on str0m's defaults typically sends.
const DEFAULT_MSG: usize = 16 * 1024;

fn data(len: usize) -> Vec<u8> {
    let mut rng = fastrand::Rng::with_seed(7);
    (0..len).map(|_| rng.u8(..)).collect()
}

fn loopback_brume(certs: &[DtlsCert; 2], bytes: &[u8]) -> f64 {
    let mut lo = Loopback::new();
    let mut pair = BrumePair::new(Instant::now(), lo.addrs(), certs);
    pair.start(Instant::now());
    while !pair.is_open() {
        lo.step(&mut pair);
    }
    let start = Instant::now();
    pair.start_transfer(start, bytes.to_vec());
    while !pair.transfer_done {
        lo.step(&mut pair);
    }
    start.elapsed().as_secs_f64()
}

fn loopback_raw(certs: &[DtlsCert; 2], total: usize) -> f64 {
    let mut lo = Loopback::new();
    let mut pair = RawPair::new(Instant::now(), lo.addrs(), certs, false);
    pair.high_water = TRANSFER_HIGH_WATER;
    pair.start(Instant::now());
    while !pair.is_open() {
        lo.step(&mut pair);
    }
    let msg = vec![0x5a; CHUNK];
    let start = Instant::now();
    let mut sent = 0;
    while pair.received() < total {
        while sent < total && pair.try_send(Instant::now(), &msg[..CHUNK.min(total - sent)]) {
            sent += CHUNK.min(total - sent);
        }
        lo.step(&mut pair);
    }
    start.elapsed().as_secs_f64()
}

/// 25 ms each way (50 ms RTT), 100 Mbit/s with a bandwidth-delay product of buffer.
fn link(loss: f32, seed: u64) -> NetemConfig {
    NetemConfig::new()
        .latency(Duration::from_millis(25))
        .link(Bitrate::mbps(100), DataSize::bytes(625_000))
        .loss(RandomLoss::new(Probability::new(loss)))
        .seed(seed)
}

fn net(start: Instant, loss: f32) -> VirtualNet {
    let [a, b] = virtual_addrs();
    VirtualNet::new(start, Duration::ZERO)
        .with_link(a, link(loss, 1))
        .with_link(b, link(loss, 2))
}

/// Virtual seconds for a Brume transfer of `bytes` over the simulated link.
fn sim_brume(certs: &[DtlsCert; 2], bytes: &[u8], loss: f32) -> f64 {
    let start = Instant::now();
    let mut net = net(start, loss);
    let mut pair = BrumePair::new(start, virtual_addrs(), certs);
    pair.start(start);
    while !pair.is_open() {
        assert!(net.step(&mut pair), "stalled");
    }
    let begin = net.now;
    pair.start_transfer(begin, bytes.to_vec());
    while !pair.transfer_done {
        assert!(net.step(&mut pair), "stalled");
    }
    (net.now - begin).as_secs_f64()
}

/// Virtual seconds for raw str0m moving `total` bytes in 16 KiB messages:
/// on its default configuration (128 KiB send buffer, written until it
/// refuses) when `tuned` is false, else tuned as Brume tunes it (1 MiB
/// buffer, 768 KiB queued).
fn sim_raw(certs: &[DtlsCert; 2], total: usize, loss: f32, tuned: bool) -> f64 {
    let start = Instant::now();
    let mut net = net(start, loss);
    let mut pair = RawPair::new(start, virtual_addrs(), certs, false);
    if tuned {
        pair.high_water = TRANSFER_HIGH_WATER;
    } else {
        pair.buffer = None;
        pair.high_water = usize::MAX;
    }
    pair.start(start);
    while !pair.is_open() {
        assert!(net.step(&mut pair), "stalled");
    }
    let begin = net.now;
    let msg = vec![0x5a; DEFAULT_MSG];
    let mut sent = 0;
    while pair.received() < total {
        while sent < total && pair.try_send(net.now, &msg) {
            sent += DEFAULT_MSG;
        }
        assert!(net.step(&mut pair), "stalled");
    }
    (net.now - begin).as_secs_f64()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // One side alone, small, for an instruction profile (valgrind --tool=callgrind).
    if args
        .iter()
        .any(|a| a == "profile-brume" || a == "profile-raw")
    {
        let certs = [cert(), cert()];
        let size = 8 << 20;
        if args.iter().any(|a| a == "profile-brume") {
            loopback_brume(&certs, &data(size));
        } else {
            loopback_raw(&certs, size);
        }
        return;
    }
    let quick = args.iter().any(|a| a == "quick");
    let (lo_size, sim_size) = if quick {
        (32 << 20, 16 << 20)
    } else {
        (256 << 20, 64 << 20)
    };
    let certs = [cert(), cert()];

    let mib = |n: usize| n as f64 / (1 << 20) as f64;
    println!(
        "# loopback: {:.0} MiB, one process, UDP on 127.0.0.1 with SO_RCVBUF/SO_SNDBUF 4 MiB",
        mib(lo_size)
    );
    let bytes = data(lo_size);
    let brume = loopback_brume(&certs, &bytes);
    let raw = loopback_raw(&certs, lo_size);
    println!(
        "  brume transfer (hash, offer, verify, write): {:>7.1} MiB/s",
        mib(lo_size) / brume
    );
    println!(
        "  raw str0m, same messages and pacing:         {:>7.1} MiB/s",
        mib(lo_size) / raw
    );
    println!("  ratio brume/str0m: {:.3}", raw / brume);
    drop(bytes);

    println!(
        "\n# simulated link: 50 ms RTT, 100 Mbit/s, {:.0} MiB, virtual time",
        mib(sim_size)
    );
    let bytes = data(sim_size);
    let mbit = |secs: f64| (sim_size * 8) as f64 / secs / 1e6;
    for loss in [0.0, 0.005] {
        let b = sim_brume(&certs, &bytes, loss);
        let r = sim_raw(&certs, sim_size, loss, false);
        let t = sim_raw(&certs, sim_size, loss, true);
        println!(
            "  loss {:>4.1} %: brume {:>6.1} Mbit/s   str0m defaults {:>6.1} Mbit/s (ratio {:.2})   str0m tuned like brume {:>6.1} Mbit/s",
            loss * 100.0,
            mbit(b),
            mbit(r),
            r / b,
            mbit(t)
        );
    }
}
