//! Devices seen from the endpoint: a session that takes no calls (a
//! `brume send`) is reachable for the ICE restart of a connection it made,
//! because the restart names its device, not the bare user, which would
//! resolve to the user's session that takes calls. On virtual time.

use std::time::Duration;

use brume_proto::endpoint::EndpointEvent;
use brume_proto::framing::Data;
use brume_proto::signal::{Address, CloseReason, DeviceName};
use brume_tests::sim::World;

const SEEDS: u64 = 4;

fn events(w: &World, i: usize) -> String {
    format!("{}: {:#?}", w.nodes[i].name, w.nodes[i].events)
}

fn heard(w: &World, i: usize, text: &str) -> bool {
    w.saw(
        i,
        |e| matches!(e, EndpointEvent::Message { data: Data::Text(t), .. } if t == text),
    )
}

/// alice (0) takes calls; bob has a session that takes calls (1) and a
/// short-lived one that does not (2, `bob/default~1`), which calls alice.
/// Both paths drop long enough for an ICE restart, which alice sends (her
/// name sorts first).
fn restart_reaches_the_calling_device(seed: u64) -> Result<(), String> {
    let mut w = World::new(seed, &["alice", "bob"]);
    let send = w.add_node(World::user("bob"), |c| c.accepts_calls = false);
    w.settle(Duration::from_millis(100));
    w.with(send, |ep, now| ep.connect(now, &World::peer("alice"), None))
        .map_err(|e| e.to_string())?;
    let open = w.run_until(Duration::from_secs(10), |w| {
        [0, send]
            .iter()
            .all(|&i| w.saw(i, |e| matches!(e, EndpointEvent::PeerOpen { .. })))
    });
    if !open {
        return Err(format!("no open\n{}\n{}", events(&w, 0), events(&w, send)));
    }
    w.settle(Duration::from_secs(1));
    for i in [0, send] {
        w.nodes[i].link_up = false;
    }
    w.settle(Duration::from_secs(8));
    for i in [0, send] {
        w.nodes[i].link_up = true;
    }
    w.settle(Duration::from_secs(10));
    let restarts: Vec<&String> = w.nodes[0]
        .frames_to_hub
        .iter()
        .filter(|f| f.contains(r#""restart":true"#))
        .collect();
    if restarts.is_empty()
        || !restarts
            .iter()
            .all(|f| f.contains(r#""to":"bob/default~1""#))
    {
        return Err(format!("restarts not sent to bob/default~1: {restarts:?}"));
    }
    // The session of bob's that takes calls was never dragged in.
    if w.saw(1, |e| matches!(e, EndpointEvent::Incoming { .. })) {
        return Err(format!("bob's other session was called\n{}", events(&w, 1)));
    }
    w.with(send, |ep, now| {
        ep.send_message(
            now,
            &World::peer("alice"),
            "chat",
            &Data::Text("after".into()),
        )
    })
    .map_err(|e| e.to_string())?;
    if w.run_until(Duration::from_secs(3), |w| heard(w, 0, "after")) {
        Ok(())
    } else {
        Err(format!("{}\n{}", events(&w, 0), events(&w, send)))
    }
}

#[test]
fn an_ice_restart_reaches_the_session_that_takes_no_calls() {
    brume_tests::for_each_seed(SEEDS, restart_reaches_the_calling_device);
}

fn opened(w: &World, i: usize, peer: &Address) -> bool {
    w.saw(
        i,
        |e| matches!(e, EndpointEvent::PeerOpen { peer: p } if p == peer),
    )
}

fn device(name: &str) -> DeviceName {
    DeviceName::new(name).expect("a device name")
}

/// bob on a second device, "phone", that takes calls; returns its index.
fn add_phone(w: &mut World) -> usize {
    let phone = w.add_node(World::user("bob"), |c| c.device = device("phone"));
    w.settle(Duration::from_millis(100));
    phone
}

fn say(w: &mut World, from: usize, to: &Address, text: &str) -> Result<(), String> {
    let to = to.clone();
    w.with(from, |ep, now| {
        ep.send_message(now, &to, "chat", &Data::Text(text.into()))
    })
    .map_err(|e| e.to_string())
}

#[test]
fn two_devices_of_one_user_are_reached_each_by_name_at_once() {
    brume_tests::for_each_seed(SEEDS, |seed| {
        let mut w = World::new(seed, &["alice", "bob"]);
        let phone = add_phone(&mut w);
        let (laptop_id, phone_id) = (w.nodes[1].peer(), w.nodes[phone].peer());
        if laptop_id == phone_id {
            return Err(format!("one address for two devices: {laptop_id}"));
        }
        for to in [&laptop_id, &phone_id] {
            let to = to.clone();
            w.with(0, |ep, now| ep.connect(now, &to, None))
                .map_err(|e| e.to_string())?;
        }
        let alice = w.nodes[0].peer();
        let open = w.run_until(Duration::from_secs(10), |w| {
            opened(w, 0, &laptop_id)
                && opened(w, 0, &phone_id)
                && opened(w, 1, &alice)
                && opened(w, phone, &alice)
        });
        if !open {
            return Err(format!("not both open\n{}", events(&w, 0)));
        }
        say(&mut w, 0, &laptop_id, "to the laptop")?;
        say(&mut w, 0, &phone_id, "to the phone")?;
        w.settle(Duration::from_secs(1));
        let right = heard(&w, 1, "to the laptop") && heard(&w, phone, "to the phone");
        let crossed = heard(&w, 1, "to the phone") || heard(&w, phone, "to the laptop");
        if !right || crossed {
            return Err(format!("{}\n{}", events(&w, 1), events(&w, phone)));
        }
        Ok(())
    });
}

#[test]
fn a_call_to_the_user_reaches_the_device_used_last_and_is_keyed_by_it() {
    brume_tests::for_each_seed(SEEDS, |seed| {
        let mut w = World::new(seed, &["alice", "bob"]);
        let phone = add_phone(&mut w);
        let bare = Address::User(World::user("bob"));
        w.with(0, |ep, now| ep.connect(now, &bare, None))
            .map_err(|e| e.to_string())?;
        let phone_id = w.nodes[phone].peer();
        if !w.run_until(Duration::from_secs(10), |w| opened(w, 0, &phone_id)) {
            return Err(format!("the phone was not reached\n{}", events(&w, 0)));
        }
        if w.saw(1, |e| matches!(e, EndpointEvent::Incoming { .. })) {
            return Err("the laptop, used before the phone, was called".into());
        }
        // From here on the connection is the phone's: the bare name is gone.
        let keys: Vec<Address> = w.nodes[0].node.peers().cloned().collect();
        if keys != [phone_id.clone()] {
            return Err(format!("alice's peers: {keys:?}"));
        }
        say(&mut w, 0, &phone_id, "hello phone")?;
        w.settle(Duration::from_secs(1));
        heard(&w, phone, "hello phone")
            .then_some(())
            .ok_or_else(|| events(&w, phone))
    });
}

#[test]
fn a_new_session_on_the_same_device_replaces_the_old_one_only() {
    brume_tests::for_each_seed(SEEDS, |seed| {
        let mut w = World::new(seed, &["alice", "bob"]);
        let phone = add_phone(&mut w);
        let again = add_phone(&mut w);
        let replaced = |w: &World, i: usize| {
            w.saw(i, |e| {
                matches!(
                    e,
                    EndpointEvent::HubClosed {
                        reason: Some(CloseReason::Replaced),
                        ..
                    }
                )
            })
        };
        if !replaced(&w, phone) || replaced(&w, 1) || replaced(&w, again) {
            return Err(format!("{}\n{}", events(&w, phone), events(&w, 1)));
        }
        Ok(())
    });
}

#[test]
fn two_devices_calling_each_other_at_once_end_with_one_connection() {
    brume_tests::for_each_seed(SEEDS, |seed| {
        let mut w = World::new(seed, &["alice", "bob"]);
        let phone = add_phone(&mut w);
        // alice calls bob (the phone answers: used last) while the phone
        // calls alice's device: glare, settled by (user, device).
        let alice = w.nodes[0].peer();
        let bare = Address::User(World::user("bob"));
        w.with(0, |ep, now| ep.connect(now, &bare, None))
            .map_err(|e| e.to_string())?;
        w.with(phone, |ep, now| ep.connect(now, &alice, None))
            .map_err(|e| e.to_string())?;
        let phone_id = w.nodes[phone].peer();
        let open = w.run_until(Duration::from_secs(10), |w| {
            opened(w, 0, &phone_id) && opened(w, phone, &alice)
        });
        if !open {
            return Err(format!("{}\n{}", events(&w, 0), events(&w, phone)));
        }
        w.settle(Duration::from_secs(2));
        let peers = |w: &World, i: usize| w.nodes[i].node.peers().cloned().collect::<Vec<_>>();
        if peers(&w, 0) != [phone_id.clone()] || peers(&w, phone) != [alice.clone()] {
            return Err(format!("{:?} {:?}", peers(&w, 0), peers(&w, phone)));
        }
        let failed =
            |w: &World, i: usize| w.saw(i, |e| matches!(e, EndpointEvent::PeerClosed { .. }));
        if failed(&w, 0) || failed(&w, phone) {
            return Err("the connection that stood was closed".into());
        }
        Ok(())
    });
}

#[test]
fn a_user_reaches_their_own_other_device() {
    brume_tests::for_each_seed(SEEDS, |seed| {
        let mut w = World::new(seed, &["alice", "bob"]);
        let phone = add_phone(&mut w);
        let (laptop_id, phone_id) = (w.nodes[1].peer(), w.nodes[phone].peer());
        w.with(1, |ep, now| ep.connect(now, &phone_id, None))
            .map_err(|e| e.to_string())?;
        let open = w.run_until(Duration::from_secs(10), |w| {
            opened(w, 1, &phone_id) && opened(w, phone, &laptop_id)
        });
        open.then_some(())
            .ok_or_else(|| format!("{}\n{}", events(&w, 1), events(&w, phone)))
    });
}
