//! `brume ping NAME`: connect by name, print the time from `connect` to an
//! open data channel, then round trips of Brume's own `ping` control
//! messages (the peer's endpoint answers them, whatever its application).

use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use brume_mio::client::ClientEvent;
use brume_proto::endpoint::EndpointEvent;
use clap::Args;

use super::ConfigArg;
use super::session::{Calls, Session, peer_address};
use super::terminal::peer_text;

#[derive(Debug, Args)]
pub struct PingArgs {
    /// Who to ping: a user, or one device of theirs (`user/device`).
    name: String,
    /// Round trips to measure.
    #[arg(short, long, default_value_t = 5)]
    count: u32,
    #[command(flatten)]
    conf: ConfigArg,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

pub fn run(a: PingArgs) -> Result<()> {
    let asked = peer_address(&a.name)?;
    let start = Instant::now();
    let mut s = Session::open(&a.conf.path(), Calls::Refuse)?;
    s.refuse_self(&asked, "ping")?;
    s.wait_ready(Duration::from_secs(10))?;
    let ready = start.elapsed();
    let (open, peer) = s.connect(&asked, Duration::from_secs(20))?;
    println!(
        "{}: channel open in {:.3} ms, to {peer} (hub session ready in {:.3} ms)",
        peer.user(),
        ms(open),
        ms(ready)
    );
    let mut rtts = Vec::new();
    let mut path = None;
    for _ in 0..a.count {
        let sent = Instant::now();
        let nonce = s.client.ping(&peer)?;
        let end = sent + Duration::from_secs(5);
        loop {
            match s.next(Some(end))? {
                Some(ClientEvent::Endpoint(EndpointEvent::Pong {
                    peer: p,
                    nonce: n,
                    rtt,
                })) if p == peer && n == nonce => {
                    // The path is printed with the first pong and on each change.
                    let now_path = s.client.endpoint().peer_path(&peer);
                    if now_path != path {
                        path = now_path;
                        if let Some(p) = path {
                            println!("{}: path {p}", peer.user());
                        }
                    }
                    println!("{}: rtt {:.3} ms", peer.user(), ms(rtt));
                    rtts.push(rtt);
                    break;
                }
                Some(ClientEvent::Endpoint(EndpointEvent::PeerClosed { reason, .. })) => {
                    bail!("{peer} went away: {}", peer_text(&reason.to_string()));
                }
                Some(_) => {}
                None if s.stopping() => {
                    s.close();
                    bail!("interrupted");
                }
                None if Instant::now() >= end => bail!("no pong from {peer} within 5 s"),
                None => {}
            }
        }
    }
    if !rtts.is_empty() {
        rtts.sort();
        println!(
            "{}: rtt min {:.3} / median {:.3} / max {:.3} ms",
            peer.user(),
            ms(rtts[0]),
            ms(rtts[rtts.len() / 2]),
            ms(rtts[rtts.len() - 1])
        );
    }
    s.close();
    Ok(())
}
