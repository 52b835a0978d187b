//! Control messages (renegotiation offers and answers) written while the
//! SCTP send buffer is full are not lost: they wait for room and go out.

use std::time::Duration;

use brume_proto::endpoint::{Direction, MediaKind};
use brume_tests::sim::World;

const SEEDS: u64 = 4;

fn events(w: &World, i: usize) -> String {
    format!("{}: {:#?}", w.nodes[i].name, w.nodes[i].events)
}

fn open_pair(w: &mut World) -> Result<(), String> {
    w.connect_pair(0, 1)?;
    w.settle(Duration::from_millis(200));
    Ok(())
}

fn add_audio(w: &mut World, i: usize, peer: &str) -> Result<(), String> {
    let peer = World::peer(peer);
    w.with(i, |ep, now| {
        ep.endpoint_mut()
            .add_media(now, &peer, MediaKind::Audio, Direction::SendRecv)
    })
    .map_err(|e| e.to_string())
}

/// Both sides list the track: the offer reached bob and his answer reached alice.
fn both_list_a_track(w: &World) -> bool {
    !w.nodes[0]
        .node
        .endpoint()
        .media(&World::peer("bob"))
        .is_empty()
        && !w.nodes[1]
            .node
            .endpoint()
            .media(&World::peer("alice"))
            .is_empty()
}

#[test]
fn an_offer_written_into_a_full_buffer_goes_out_once_there_is_room() {
    brume_tests::for_each_seed(SEEDS, |seed| {
        let mut w = World::new(seed, &["alice", "bob"]);
        open_pair(&mut w)?;
        let fills = w.fill_send_buffer(0, "bob");
        // The offer is written at once, into a buffer with no room for it.
        add_audio(&mut w, 0, "bob")?;
        let done = w.run_until(Duration::from_secs(10), |w| {
            both_list_a_track(w) && w.fills_heard(1) == fills
        });
        if !done {
            return Err(format!(
                "fills {fills}, heard {}\n{}\n{}",
                w.fills_heard(1),
                events(&w, 0),
                events(&w, 1)
            ));
        }
        // Renegotiation is not stuck: a second change goes through too.
        add_audio(&mut w, 0, "bob")?;
        let second = w.run_until(Duration::from_secs(5), |w| {
            w.nodes[0].node.endpoint().media(&World::peer("bob")).len() == 2
        });
        if !second {
            return Err(format!("the second track never came\n{}", events(&w, 0)));
        }
        Ok(())
    });
}

#[test]
fn an_answer_written_into_a_full_buffer_goes_out_once_there_is_room() {
    brume_tests::for_each_seed(SEEDS, |seed| {
        let mut w = World::new(seed, &["alice", "bob"]);
        open_pair(&mut w)?;
        // Bob's buffer is full when alice's offer reaches him: his data is
        // acknowledged a round trip later, so his answer finds no room.
        let fills = w.fill_send_buffer(1, "alice");
        add_audio(&mut w, 0, "bob")?;
        let done = w.run_until(Duration::from_secs(10), |w| {
            both_list_a_track(w) && w.fills_heard(0) == fills
        });
        if !done {
            return Err(format!(
                "fills {fills}, heard {}\n{}\n{}",
                w.fills_heard(0),
                events(&w, 0),
                events(&w, 1)
            ));
        }
        Ok(())
    });
}

#[test]
fn a_message_that_finds_the_send_buffer_full_is_refused_as_such_and_goes_once_it_drains() {
    brume_tests::for_each_seed(SEEDS, |seed| {
        let mut w = World::new(seed, &["alice", "bob"]);
        open_pair(&mut w)?;
        let fills = w.fill_send_buffer(0, "bob");
        let bob = World::peer("bob");
        let small = brume_proto::framing::Data::Bytes(vec![0; 100]);
        let refused = w.with(0, |node, now| {
            node.endpoint_mut().send(now, &bob, "fill", &small)
        });
        match refused {
            Err(brume_proto::endpoint::EndpointError::SendBufferFull(to)) if to == bob => {}
            other => return Err(format!("not a full buffer: {other:?}")),
        }
        let code = brume_proto::endpoint::EndpointError::SendBufferFull(bob.clone()).code();
        if code != brume_proto::ErrorCode::Busy {
            return Err(format!("code {code:?}"));
        }
        if !w.run_until(Duration::from_secs(10), |w| w.fills_heard(1) == fills) {
            return Err(format!("{} of {fills} fills heard", w.fills_heard(1)));
        }
        w.with(0, |node, now| {
            node.endpoint_mut().send(now, &bob, "fill", &small)
        })
        .map_err(|e| format!("still refused once drained: {e}"))
    });
}
