//! Transfer after transfer on one connection under 10 % loss, each started
//! once both sides have closed the last one's channel, so each new channel
//! lands on the SCTP stream id the last one freed (where str0m 0.25 can drop
//! a raw channel, see `channel_reuse_sim.rs`): every transfer still arrives.

use std::time::Duration;

use brume_proto::transfer::{TransferEvent, TransferState};
use brume_tests::content;
use brume_tests::sim::World;
use str0m_netem::{NetemConfig, Probability, RandomLoss};

const SEEDS: u64 = 6;
const ROUNDS: usize = 60;

fn count(w: &World, i: usize, state: TransferState) -> usize {
    w.nodes[i]
        .transfer_events
        .iter()
        .filter(|(_, e)| matches!(e, TransferEvent::State { state: s, .. } if *s == state))
        .count()
}

#[test]
fn transfers_one_after_another_under_loss_all_arrive() {
    brume_tests::for_each_seed(SEEDS, |seed| {
        let mut w = World::new(seed, &["alice", "bob"]);
        w.connect_pair(0, 1)?;
        for i in 0..2 {
            let cfg = NetemConfig::new()
                .latency(Duration::from_millis(10))
                .loss(RandomLoss::new(Probability::new(0.1)))
                .seed(seed * 7 + i as u64);
            w.set_inbound(i, cfg);
        }
        for round in 0..ROUNDS {
            let data = content(seed * 100 + round as u64, 3000);
            let name = format!("f{round}.bin");
            w.send_files(0, "bob", &[(&name, &data)])?;
            // Both sides done and closed, so the next channel reuses the id.
            let ok = w.run_until(Duration::from_secs(60), |w| {
                count(w, 1, TransferState::Done) > round
                    && (0..2).all(|i| count(w, i, TransferState::Closed) > round)
            });
            if !ok {
                return Err(format!("round {round}: the transfer never arrived"));
            }
            if w.nodes[1].storage.file("inbox", &[&name]) != Some(&data) {
                return Err(format!("round {round}: content differs"));
            }
        }
        Ok(())
    });
}
