//! Channels opened and closed in a tight loop on one connection, under
//! loss: each new channel lands on the SCTP stream id the last one just
//! freed, as libwebrtc (every browser) and str0m both allocate.
//!
//! str0m 0.25 (sctp-proto 0.10.8) loses some of these channels, in two ways:
//!
//! - The side that did not open it still waits for the answer to its own
//!   reset of the id (the answer was lost) when the new channel's DCEP OPEN
//!   arrives: its DCEP ACK fails with `ErrStreamClosed`, str0m drops the
//!   channel there (`Failed to write DCEP ack`, `Stream AwaitConfig ->
//!   Closed`, `Drop ChannelClose event`) and its reset closes it on ours.
//! - A reset "in progress" forever: it names a TSN held back behind that
//!   very reset, so the new channel's DCEP OPEN never goes out.
//!
//! Nothing on Brume's side makes such a channel open. What the endpoint
//! promises is that the opener is always told: the channel opens on both
//! sides, or it is reported closed to the opener (`ChannelClosed`, at the
//! latest after `channel_open_timeout`) and the peer never saw it.

use std::time::Duration;

use brume_proto::endpoint::EndpointEvent;
use brume_proto::framing::Data;
use brume_tests::sim::World;
use str0m::channel::ChannelId;
use str0m_netem::{NetemConfig, Probability, RandomLoss};

/// Seeds per scenario (60 rounds each).
const SEEDS: u64 = 12;
/// `EndpointConfig::channel_open_timeout`'s default.
const OPEN_TIMEOUT: Duration = Duration::from_secs(10);

fn lossy_pair(seed: u64) -> Result<World, String> {
    let mut w = World::with_config(seed, &["alice", "bob"], |c| c.datagram_parity = false);
    for n in &mut w.nodes {
        n.transfers_enabled = false;
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
    w.with(0, |ep, now| ep.connect(now, &World::user("bob"), None))
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

/// Alice opens `rounds` channels one after the other, each as soon as the
/// last is closed on her side; `closer` closes each once both sides have it.
/// Returns how many never opened (and were reported closed to alice).
fn tight_loop(seed: u64, closer: usize, rounds: usize) -> Result<usize, String> {
    let mut w = lossy_pair(seed)?;
    let mut lost = 0;
    for k in 0..rounds {
        let label = format!("t{k}");
        let ch = w
            .with(0, |ep, now| {
                ep.open_channel(now, &World::user("bob"), &label)
            })
            .map_err(|e| e.to_string())?;
        let settled = w.run_until(OPEN_TIMEOUT + Duration::from_secs(5), |w| {
            (opened(w, 0, &label).is_some() && opened(w, 1, &label).is_some())
                || closed_count(w, 0, ch) > 0
        });
        if !settled {
            return Err(format!(
                "round {k}: {label} neither opened nor was reported closed"
            ));
        }
        if opened(&w, 0, &label).is_none() {
            // Never opened: reported to the opener, once; the peer saw nothing.
            if closed_count(&w, 0, ch) != 1 || opened(&w, 1, &label).is_some() {
                return Err(format!("round {k}: {label} half open"));
            }
            lost += 1;
            continue;
        }
        let theirs = opened(&w, 1, &label).ok_or("bob lost the channel")?;
        let (peer, id) = if closer == 0 {
            ("bob", ch)
        } else {
            ("alice", theirs)
        };
        w.with(closer, |ep, now| {
            ep.close_channel(now, &World::user(peer), id)
        })
        .map_err(|e| e.to_string())?;
        if !w.run_until(Duration::from_secs(20), |w| closed_count(w, 0, ch) > 0) {
            return Err(format!("round {k}: no close at alice"));
        }
    }
    // The connection itself is unharmed.
    w.with(0, |ep, now| {
        ep.send(
            now,
            &World::user("bob"),
            "chat",
            &Data::Text("still".into()),
        )
    })
    .map_err(|e| e.to_string())?;
    let heard = w.run_until(Duration::from_secs(20), |w| {
        w.saw(
            1,
            |e| matches!(e, EndpointEvent::Message { data: Data::Text(t), .. } if t == "still"),
        )
    });
    heard
        .then_some(lost)
        .ok_or_else(|| "the main channel stopped".into())
}

#[test]
fn channels_closed_by_the_peer_in_a_tight_loop_under_loss() {
    let mut lost = 0;
    for seed in 0..SEEDS {
        lost += tight_loop(seed, 1, 60).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
    }
    // The loss pattern must have hit str0m's drop at least once, or this
    // test shows nothing.
    assert!(
        lost > 0,
        "no channel was dropped: the scenario no longer reproduces"
    );
    eprintln!(
        "{lost} of {} channels never opened, each reported",
        SEEDS * 60
    );
}

#[test]
fn channels_closed_by_their_opener_in_a_tight_loop_under_loss() {
    // Seed 10 hits the reset stuck in progress: without the open deadline
    // its channel neither opened nor closed.
    for seed in 0..SEEDS {
        tight_loop(seed, 0, 60).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
    }
}

/// What str0m should do and does not (0.25): every reused id opens.
#[test]
#[ignore = "str0m 0.25 drops a channel opened on an id whose local reset is still unanswered"]
fn every_channel_on_a_reused_id_opens() {
    for seed in 0..SEEDS {
        let lost = tight_loop(seed, 1, 60).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        assert_eq!(lost, 0, "seed {seed}: {lost} channels dropped");
    }
}
