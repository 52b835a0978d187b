//! `brume ping NAME`: connect by name, print the time from `connect` to an
//! open data channel, then round trips of Brume's own `ping` control
//! messages (the peer's endpoint answers them, whatever its application).

use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use brume_mio::client::ClientEvent;
use brume_proto::endpoint::{EndpointEvent, PeerPath};
use brume_proto::signal::Address;
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
    /// Seconds between the starts of round trips (0: back to back). A
    /// path can improve after the channel opens, relayed to direct, as
    /// ICE checks finish; a slower ping shows it.
    #[arg(short, long, default_value_t = 0.0, value_parser = interval_secs)]
    interval: f64,
    #[command(flatten)]
    conf: ConfigArg,
}

fn interval_secs(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && (0.0..=3600.0).contains(&v) => Ok(v),
        _ => Err(format!("{s:?} is not a number of seconds from 0 to 3600")),
    }
}

/// Prints the path to `peer` if it differs from the one printed last.
fn print_path_change(s: &Session, peer: &Address, printed: &mut Option<PeerPath>) {
    let now = s.client.endpoint().peer_path(peer);
    if let Some(p) = now
        && now != *printed
    {
        *printed = now;
        println!("{}: path {p}", peer.user());
    }
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
    // The path is printed with the first pong and on each change after it.
    let mut path = None;
    let interval = Duration::from_secs_f64(a.interval);
    for round in 0..a.count {
        let sent = Instant::now();
        let nonce = s.client.ping(&peer)?;
        let mut answered = false;
        // After the pong, events are still handled until the next round is due.
        let mut until = sent + Duration::from_secs(5);
        loop {
            let event = s.next(Some(until))?;
            match event {
                Some(ClientEvent::Endpoint(EndpointEvent::Pong {
                    peer: p,
                    nonce: n,
                    rtt,
                })) if !answered && p == peer && n == nonce => {
                    print_path_change(&s, &peer, &mut path);
                    println!("{}: rtt {:.3} ms", peer.user(), ms(rtt));
                    rtts.push(rtt);
                    answered = true;
                    if round + 1 == a.count {
                        break;
                    }
                    until = sent + interval;
                }
                Some(ClientEvent::Endpoint(EndpointEvent::PeerClosed { reason, .. })) => {
                    bail!("{peer} went away: {}", peer_text(&reason.to_string()));
                }
                Some(_) if !rtts.is_empty() => print_path_change(&s, &peer, &mut path),
                Some(_) => {}
                None if s.stopping() => {
                    s.close();
                    bail!("interrupted");
                }
                None if Instant::now() < until => {}
                None if answered => break,
                None => bail!("no pong from {peer} within 5 s"),
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
