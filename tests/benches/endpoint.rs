//! Connect-to-open time and main-channel message throughput through Brume's
//! endpoint, side by side with raw str0m driven the same way, in virtual time
//! and in wall time over real UDP on loopback. Prints the figures and ratios.
//!
//! `cargo bench -p brume-tests --bench endpoint` (add `-- quick` for a short run).

use std::time::{Duration, Instant};

use brume_tests::bench::{
    BrumePair, HIGH_WATER, Loopback, MSG, MakePair, Pair, RawPair, cert, open_virtual,
};

// ----- measurements -----

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn connect_virtual(make: MakePair) -> Duration {
    let (_, net, start) = open_virtual(make);
    net.now - start
}

fn connect_loopback(make: MakePair) -> Duration {
    let mut lo = Loopback::new();
    let mut pair = make(Instant::now(), lo.addrs());
    let start = Instant::now();
    pair.start(start);
    while !pair.is_open() {
        lo.step(pair.as_mut());
        assert!(start.elapsed() < Duration::from_secs(30), "no open");
    }
    start.elapsed()
}

/// Sends `total` bytes in 16 KiB messages; (virtual or wall seconds, CPU wall seconds).
fn throughput(make: MakePair, total: usize, loopback: bool) -> (f64, f64) {
    let msg = vec![0x42u8; MSG];
    let wall = Instant::now();
    if loopback {
        let mut lo = Loopback::new();
        let mut pair = make(Instant::now(), lo.addrs());
        pair.start(Instant::now());
        while !pair.is_open() {
            lo.step(pair.as_mut());
        }
        let start = Instant::now();
        let mut sent = 0;
        while pair.received() < total {
            while sent < total && pair.try_send(Instant::now(), &msg) {
                sent += MSG;
            }
            lo.step(pair.as_mut());
        }
        let secs = start.elapsed().as_secs_f64();
        (secs, secs)
    } else {
        let (mut pair, mut net, _) = open_virtual(make);
        let (vstart, cpu) = (net.now, Instant::now());
        let mut sent = 0;
        while pair.received() < total {
            while sent < total && pair.try_send(net.now, &msg) {
                sent += MSG;
            }
            assert!(net.step(pair.as_mut()), "stalled");
        }
        let _ = wall;
        (
            (net.now - vstart).as_secs_f64(),
            cpu.elapsed().as_secs_f64(),
        )
    }
}

fn main() {
    let quick = std::env::args().any(|a| a == "quick");
    let (rounds, total) = if quick { (5, 8 << 20) } else { (51, 64 << 20) };
    let certs = [cert(), cert()];
    let brume = |now, addrs| Box::new(BrumePair::new(now, addrs, &certs)) as Box<dyn Pair>;
    let raw = |now, addrs| Box::new(RawPair::new(now, addrs, &certs, false)) as Box<dyn Pair>;
    let prebuilt = |now, addrs| Box::new(RawPair::new(now, addrs, &certs, true)) as Box<dyn Pair>;
    let makers: [(&str, MakePair); 2] = [("brume", &brume), ("str0m", &raw)];
    let _ = (BrumePair::name, RawPair::name);

    println!("# connect-to-open (median of {rounds}); virtual links have 1 ms one-way latency");
    let mut virt = Vec::new();
    let mut wall = Vec::new();
    for (name, make) in makers {
        let v = median((0..rounds).map(|_| connect_virtual(make)).collect());
        // Alternate rounds are not needed: each round is independent.
        let w = median((0..rounds).map(|_| connect_loopback(make)).collect());
        println!("{name:>6}: virtual {v:>10.3?}   loopback wall {w:>10.3?}");
        virt.push(v);
        wall.push(w);
    }
    let w = median((0..rounds).map(|_| connect_loopback(&prebuilt)).collect());
    println!(
        "{:>6}: loopback wall {w:>10.3?} (Rtcs built before the clock starts)",
        "str0m prebuilt"
    );
    println!(
        "ratio brume/str0m: virtual {:.3}, loopback wall {:.3} (vs prebuilt {:.3})",
        virt[0].as_secs_f64() / virt[1].as_secs_f64(),
        wall[0].as_secs_f64() / wall[1].as_secs_f64(),
        wall[0].as_secs_f64() / w.as_secs_f64()
    );

    let mib = total as f64 / (1 << 20) as f64;
    println!(
        "\n# main-channel throughput: {mib:.0} MiB in {MSG}-byte messages, at most {HIGH_WATER} bytes queued"
    );
    let mut rates = Vec::new();
    for (name, make) in makers {
        let (vsecs, cpu) = throughput(make, total, false);
        let (lsecs, _) = throughput(make, total, true);
        println!(
            "{name:>6}: virtual {:>8.1} MiB/s (CPU {:>7.1} MiB/s)   loopback {:>7.1} MiB/s",
            mib / vsecs,
            mib / cpu,
            mib / lsecs
        );
        rates.push((mib / vsecs, mib / cpu, mib / lsecs));
    }
    println!(
        "ratio brume/str0m: virtual {:.3}, CPU {:.3}, loopback {:.3}",
        rates[0].0 / rates[1].0,
        rates[0].1 / rates[1].1,
        rates[0].2 / rates[1].2
    );
    println!("sockets: UDP on 127.0.0.1, SO_RCVBUF and SO_SNDBUF 4 MiB, one thread for both peers");
}
