//! A transfer whose channel never opens (its DCEP OPEN lost for longer than
//! the endpoint's `channel_open_timeout`, or dropped by str0m on a reused
//! stream id) opens another for the same transfer instead of failing.

use std::time::Duration;

use brume_proto::transfer::{TransferEvent, TransferState};
use brume_tests::content;
use brume_tests::sim::World;

const SEEDS: u64 = 4;

#[test]
fn a_transfer_whose_channel_never_answers_opens_another_and_arrives() {
    brume_tests::for_each_seed(SEEDS, |seed| {
        let mut w = World::new(seed, &["alice", "bob"]);
        w.connect_pair(0, 1)?;
        let data = content(seed, 200_000);
        // Bob hears nothing from the moment the channel is opened until past
        // the 10 s the endpoint waits for an answer.
        w.nodes[1].link_up = false;
        w.send_files(0, "bob", &[("late.bin", &data)])?;
        w.settle(Duration::from_secs(12));
        let cancelled =
            |w: &World| w.saw_transfer(0, |e| matches!(e, TransferEvent::Cancelled { .. }));
        if cancelled(&w) {
            return Err("the transfer was cancelled when its channel timed out".into());
        }
        w.nodes[1].link_up = true;
        let done = w.run_until(Duration::from_secs(60), |w| {
            cancelled(w)
                || w.saw_transfer(1, |e| {
                    matches!(
                        e,
                        TransferEvent::State {
                            state: TransferState::Done,
                            ..
                        }
                    )
                })
        });
        if !done || cancelled(&w) {
            return Err(format!("not done: {:?}", w.nodes[0].transfer_events));
        }
        match w.nodes[1].storage.file("inbox", &["late.bin"]) {
            Some(got) if *got == data => Ok(()),
            _ => Err("bob's copy differs".into()),
        }
    });
}
