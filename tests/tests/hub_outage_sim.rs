//! The hub goes away and comes back: open connections and transfers carry on
//! without it, the endpoint signs in again when its driver reconnects, and
//! what it had asked of the old session (presence) it asks of the new one.

use std::time::Duration;

use brume_proto::endpoint::EndpointEvent;
use brume_proto::token::TokenKind;
use brume_proto::transfer::{TransferEvent, TransferState};
use brume_tests::content;
use brume_tests::sim::{UNIX0, World};

const SEEDS: u64 = 4;

fn for_seeds(scenario: impl Fn(u64) -> Result<(), String>) {
    brume_tests::for_each_seed(SEEDS, scenario);
}

fn count(w: &World, i: usize, f: impl Fn(&EndpointEvent) -> bool) -> usize {
    w.nodes[i].events.iter().filter(|(_, e)| f(e)).count()
}

fn connected(seed: u64, users: &[&str]) -> Result<World, String> {
    let mut w = World::new(seed, users);
    w.connect_pair(0, 1)?;
    Ok(w)
}

#[test]
fn a_transfer_started_before_the_hub_died_completes_without_it() {
    for_seeds(|seed| {
        let mut w = connected(seed, &["alice", "bob"])?;
        let data = content(seed, 2 * 1024 * 1024);
        w.send_files(0, "bob", &[("big.bin", &data)])?;
        // Data is flowing when the hub dies.
        let flowing = w.run_until(Duration::from_secs(10), |w| {
            w.saw_transfer(
                1,
                |e| matches!(e, TransferEvent::Progress { done, .. } if *done > 0),
            )
        });
        if !flowing {
            return Err("no data before the outage".into());
        }
        w.kill_hub();
        let done = w.run_until(Duration::from_secs(60), |w| {
            w.saw_transfer(1, |e| {
                matches!(
                    e,
                    TransferEvent::State {
                        state: TransferState::Done,
                        ..
                    }
                )
            })
        });
        if !done {
            return Err("the transfer did not finish without the hub".into());
        }
        if w.nodes[1].storage.file("inbox", &["big.bin"]) != Some(&data) {
            return Err("the file arrived different".into());
        }
        for i in 0..2 {
            if w.saw(i, |e| matches!(e, EndpointEvent::PeerClosed { .. })) {
                return Err(format!("node {i} lost its peer with the hub"));
            }
            if !w.saw(i, |e| matches!(e, EndpointEvent::HubClosed { .. })) {
                return Err(format!("node {i} was not told the hub went away"));
            }
            if w.nodes[i].node.is_hub_ready() {
                return Err(format!("node {i} thinks the hub is still there"));
            }
        }
        Ok(())
    });
}

#[test]
fn after_the_hub_returns_the_endpoint_signs_in_and_watches_again() {
    for_seeds(|seed| {
        let mut w = connected(seed, &["alice", "bob"])?;
        w.with(0, |ep, now| ep.subscribe(now, vec![World::user("carol")]))
            .map_err(|e| e.to_string())?;
        w.settle(Duration::from_millis(200));
        w.kill_hub();
        w.settle(Duration::from_secs(3));
        // The open connection carries on: a message still crosses.
        w.with(1, |ep, now| {
            ep.send_message(
                now,
                &World::peer("alice"),
                "chat",
                &brume_proto::framing::Data::Text("still here".into()),
            )
        })
        .map_err(|e| e.to_string())?;
        let heard = w.run_until(Duration::from_secs(2), |w| {
            w.saw(
                0,
                |e| matches!(e, EndpointEvent::Message { kind, .. } if kind == "chat"),
            )
        });
        if !heard {
            return Err("no message between peers during the outage".into());
        }
        w.restart_hub(&["alice", "bob", "carol"]);
        let back = w.run_until(Duration::from_secs(2), |w| {
            (0..2).all(|i| count(w, i, |e| matches!(e, EndpointEvent::Ready { .. })) == 2)
        });
        if !back {
            return Err("the endpoints did not sign in to the new hub".into());
        }
        // carol comes online at the new hub: alice's watch, asked of the old
        // session, still holds.
        w.add_node(World::user("carol"), |_| {});
        let seen = w.run_until(Duration::from_secs(2), |w| {
            w.saw(0, |e| {
                matches!(e, EndpointEvent::Presence { user, online: true, .. } if user.as_str() == "carol")
            })
        });
        if !seen {
            return Err("alice's presence watch was lost with the old hub".into());
        }
        // A new connection goes through the new hub.
        w.with(2, |ep, now| ep.connect(now, &World::peer("bob"), None))
            .map_err(|e| e.to_string())?;
        let open = w.run_until(Duration::from_secs(10), |w| {
            w.saw(2, |e| matches!(e, EndpointEvent::PeerOpen { .. }))
        });
        if !open {
            return Err("no new connection through the restarted hub".into());
        }
        Ok(())
    });
}

#[test]
fn a_damaged_access_token_beside_a_valid_refresh_token_is_refreshed() {
    let mut w = World::new(3, &[]);
    w.hub.add_user(World::user("alice"));
    let mut damaged = w.token("alice", TokenKind::Access, UNIX0, 3600);
    // Flip the last character of the signature.
    let last = damaged.pop().expect("a token");
    damaged.push(if last == 'A' { 'B' } else { 'A' });
    let refresh = w.token("alice", TokenKind::Refresh, UNIX0, 86_400);
    w.add_node(World::user("alice"), |c| {
        c.access_token = damaged;
        c.refresh_token = Some(refresh);
    });
    let ok = w.run_until(Duration::from_secs(1), |w| {
        w.saw(0, |e| matches!(e, EndpointEvent::Ready { .. }))
            && w.saw(0, |e| matches!(e, EndpointEvent::Reauth { .. }))
    });
    assert!(ok, "{:#?}", w.nodes[0].events);
}

#[test]
fn a_mute_hub_is_given_up_within_half_a_minute_and_a_live_idle_one_never() {
    for_seeds(|seed| {
        let mut w = connected(seed, &["alice", "bob"])?;
        // Idle for two minutes with a live hub: pings keep the session.
        w.settle(Duration::from_secs(120));
        if w.saw(0, |e| matches!(e, EndpointEvent::HubClosed { .. })) {
            return Err("a live hub was given up".into());
        }
        let muted = w.elapsed();
        w.mute_hub();
        let noticed = w.run_until(Duration::from_secs(30), |w| {
            w.saw(0, |e| matches!(e, EndpointEvent::HubClosed { .. }))
        });
        if !noticed {
            return Err("a mute hub was not noticed in 30 s".into());
        }
        let at = w.nodes[0]
            .events
            .iter()
            .find(|(_, e)| matches!(e, EndpointEvent::HubClosed { .. }))
            .map(|(t, _)| *t - muted)
            .unwrap_or_default();
        if at > Duration::from_secs(26) {
            return Err(format!("noticed after {at:?}"));
        }
        if w.saw(0, |e| matches!(e, EndpointEvent::PeerClosed { .. })) {
            return Err("the peer went with the hub".into());
        }
        Ok(())
    });
}
