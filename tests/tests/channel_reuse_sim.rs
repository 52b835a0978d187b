//! Channels opened and closed in a tight loop on one connection, under
//! loss: each new channel lands on the SCTP stream id the last one just
//! freed, as libwebrtc (every browser) and str0m both allocate.
//!
//! str0m 0.25 (sctp-proto 0.10.8) loses some of these channels. When the
//! side that did not open the channel still waits for the answer to its own
//! reset of the old stream (that answer was lost; the opener, having had
//! its own reset answered, already reused the id), the new channel's DCEP
//! OPEN arrives on a stream sctp-proto still holds closed: the DCEP ACK
//! fails with `ErrStreamClosed`, and str0m logs `Failed to write DCEP ack`,
//! `Stream AwaitConfig -> Closed` and `Drop ChannelClose event`, and drops
//! the channel. When only that side had closed the old channel, its reset
//! closes the new one on the opener's side too; when both had closed it at
//! once (a transfer's two sides after `done`), the opener was never told
//! and waited for the ACK forever. Nothing on Brume's side can make such a
//! channel open (see `docs/PROTOCOL.md`, "Channels"); what holds, and is
//! tested here: every channel opens on both sides or is reported closed to
//! its opener (at the latest after `channel_open_timeout`), the peer never
//! reports a half-open channel, and the connection goes on. The strict
//! promise, every channel opens, is the ignored test at the end: it fails
//! on str0m 0.25.

use std::time::Duration;

use brume_proto::endpoint::ChannelId;
use brume_proto::endpoint::EndpointEvent;
use brume_proto::framing::Data;
use brume_tests::sim::World;
use str0m_netem::{NetemConfig, Probability, RandomLoss};

/// Seeds per scenario, 60 rounds each.
const SEEDS: u64 = 12;
const ROUNDS: usize = 60;
/// How long one channel may take to open or be closed: a DCEP OPEN lost
/// three times waits out sctp-proto's backed-off retransmissions (1, 2, 4,
/// 8 s: 15.2 s once with seed 10), which the endpoint's 10 s open deadline
/// cuts short.
const SETTLE: Duration = Duration::from_secs(60);

/// `deadline`: whether the endpoint's open deadline applies (off: only
/// str0m decides whether a channel opens).
fn lossy_pair(seed: u64, deadline: bool) -> Result<World, String> {
    let mut w = World::with_config(seed, &["alice", "bob"], |c| {
        c.datagram_parity = false;
        if !deadline {
            c.channel_open_timeout = Duration::from_secs(3600);
        }
    });
    for n in &mut w.nodes {
        n.node.set_transfers(false);
    }
    for i in 0..2 {
        w.set_inbound(
            i,
            NetemConfig::new()
                .latency(Duration::from_millis(10))
                .loss(RandomLoss::new(Probability::new(0.1)))
                .seed(seed + i as u64),
        );
    }
    w.with(0, |ep, now| ep.connect(now, &World::peer("bob"), None))
        .map_err(|e| e.to_string())?;
    let open = w.run_until(Duration::from_secs(30), |w| {
        (0..2).all(|i| w.saw(i, |e| matches!(e, EndpointEvent::PeerOpen { .. })))
    });
    open.then_some(w).ok_or_else(|| "no open".into())
}

fn opened(w: &World, i: usize, label: &str) -> Option<ChannelId> {
    w.nodes[i].events.iter().find_map(|(_, e)| match e {
        EndpointEvent::ChannelOpen {
            channel, label: l, ..
        } if l == label => Some(*channel),
        _ => None,
    })
}

fn closed_count(w: &World, i: usize, channel: ChannelId) -> usize {
    w.nodes[i]
        .events
        .iter()
        .filter(
            |(_, e)| matches!(e, EndpointEvent::ChannelClosed { channel: c, .. } if *c == channel),
        )
        .count()
}

/// Alice opens `ROUNDS` channels one after the other, each as soon as the
/// last is closed on her side; once both sides have it, it is closed by
/// alice (`closer` 0), bob (1) or both at once (2, as a transfer's two
/// sides do after `done`). Returns how many never opened.
fn tight_loop(seed: u64, closer: usize, deadline: bool) -> Result<usize, String> {
    let mut w = lossy_pair(seed, deadline)?;
    let mut lost = 0;
    for k in 0..ROUNDS {
        let label = format!("t{k}");
        let ch = w
            .with(0, |ep, now| {
                ep.endpoint_mut()
                    .open_channel(now, &World::peer("bob"), &label)
            })
            .map_err(|e| e.to_string())?;
        let settled = w.run_until(SETTLE, |w| {
            (opened(w, 0, &label).is_some() && opened(w, 1, &label).is_some())
                || closed_count(w, 0, ch) > 0
        });
        if !settled {
            return Err(format!("round {k}: {label} neither opened nor closed"));
        }
        if opened(&w, 0, &label).is_none() {
            // Dropped by the peer: alice is told once, bob never saw it open.
            if closed_count(&w, 0, ch) != 1 || opened(&w, 1, &label).is_some() {
                return Err(format!("round {k}: {label} half open"));
            }
            lost += 1;
            continue;
        }
        let theirs = opened(&w, 1, &label).ok_or("bob lost the channel")?;
        if closer != 1 {
            w.with(0, |ep, now| {
                ep.endpoint_mut()
                    .close_channel(now, &World::peer("bob"), ch)
            })
            .map_err(|e| e.to_string())?;
        }
        if closer != 0 {
            w.with(1, |ep, now| {
                ep.endpoint_mut()
                    .close_channel(now, &World::peer("alice"), theirs)
            })
            .map_err(|e| e.to_string())?;
        }
        if !w.run_until(SETTLE, |w| closed_count(w, 0, ch) > 0) {
            return Err(format!("round {k}: no close at alice"));
        }
    }
    // The connection itself is unharmed.
    w.with(0, |ep, now| {
        ep.send_message(
            now,
            &World::peer("bob"),
            "chat",
            &Data::Text("still".into()),
        )
    })
    .map_err(|e| e.to_string())?;
    let heard = w.run_until(SETTLE, |w| {
        w.saw(
            1,
            |e| matches!(e, EndpointEvent::Message { data: Data::Text(t), .. } if t == "still"),
        )
    });
    heard
        .then_some(lost)
        .ok_or_else(|| "the main channel stopped".into())
}

fn all_seeds(closer: usize, deadline: bool) -> usize {
    (0..SEEDS)
        .map(|seed| {
            tight_loop(seed, closer, deadline).unwrap_or_else(|e| panic!("seed {seed}: {e}"))
        })
        .sum()
}

fn report(lost: usize) {
    let all = SEEDS * ROUNDS as u64;
    eprintln!("{lost} of {all} never opened (dropped, or past the open deadline)");
}

#[test]
fn channels_closed_by_the_peer_on_reused_ids_open_or_are_reported_closed() {
    let lost = all_seeds(1, true);
    // These seeds hit str0m's drop; if none is lost, the scenario no longer
    // shows it (does the ignored strict test pass now?).
    assert!(
        lost > 0,
        "no channel was dropped: does the strict test pass now?"
    );
    report(lost);
}

#[test]
fn channels_closed_by_their_opener_on_reused_ids_open_or_are_reported_closed() {
    let lost = all_seeds(0, true);
    report(lost);
}

#[test]
fn channels_closed_by_both_at_once_on_reused_ids_open_or_are_reported_closed() {
    // Seed 1, round 12: without the endpoint's open deadline the opener
    // waited for good.
    let lost = all_seeds(2, true);
    report(lost);
}

/// What str0m should do and does not (0.25): every channel on a reused id opens.
#[test]
#[ignore = "fails on str0m 0.25: a channel on a reused stream id is dropped when the answer to the receiver's own reset of it was lost"]
fn every_channel_on_a_reused_stream_id_opens() {
    for closer in [1, 2, 0] {
        assert_eq!(all_seeds(closer, false), 0, "closer {closer}");
    }
}
