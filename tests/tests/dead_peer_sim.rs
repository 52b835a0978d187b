//! A peer that stops answering is noticed within seconds, and given up
//! after the recovery limit; a short outage recovers the same connection;
//! a quiet but live connection is never taken for a dead one. All on
//! virtual time.

use std::time::Duration;

use brume_proto::endpoint::EndpointEvent;
use brume_proto::framing::Data;
use brume_tests::sim::World;

const SEEDS: u64 = 6;
/// The promise: a silent peer is reported within this.
const NOTICE_WITHIN: Duration = Duration::from_secs(5);
/// `EndpointConfig::recovery_limit`'s default.
const RECOVERY_LIMIT: Duration = Duration::from_secs(30);

fn for_seeds(scenario: impl Fn(u64) -> Result<(), String>) {
    brume_tests::for_each_seed(SEEDS, scenario);
}

fn events(w: &World, i: usize) -> String {
    format!("{}: {:#?}", w.nodes[i].name, w.nodes[i].events)
}

fn open_pair(w: &mut World) -> Result<(), String> {
    w.with(0, |ep, now| ep.connect(now, &World::peer("bob"), None))
        .map_err(|e| e.to_string())?;
    let open = w.run_until(Duration::from_secs(10), |w| {
        (0..2).all(|i| w.saw(i, |e| matches!(e, EndpointEvent::PeerOpen { .. })))
    });
    open.then_some(()).ok_or_else(|| "no open".into())
}

/// When node `i` first saw an event matching `f`, as virtual time since the start.
fn first(w: &World, i: usize, f: impl Fn(&EndpointEvent) -> bool) -> Option<Duration> {
    w.nodes[i]
        .events
        .iter()
        .find(|(_, e)| f(e))
        .map(|(t, _)| *t)
}

fn recovering(e: &EndpointEvent) -> bool {
    matches!(e, EndpointEvent::PeerReconnecting { .. })
}

fn closed(e: &EndpointEvent) -> bool {
    matches!(e, EndpointEvent::PeerClosed { .. })
}

fn heard(w: &World, i: usize, text: &str) -> bool {
    w.saw(
        i,
        |e| matches!(e, EndpointEvent::Message { data: Data::Text(t), .. } if t == text),
    )
}

fn say(w: &mut World, from: usize, to: &str, text: &str) -> Result<(), String> {
    w.with(from, |ep, now| {
        ep.send_message(now, &World::peer(to), "chat", &Data::Text(text.into()))
    })
    .map_err(|e| format!("send {text}: {e}"))
}

/// Runs `check` on a world whose peers went quiet `idle` after opening, then
/// bob's node went silent for good (a SIGKILLed process, a pulled cable).
fn after_bob_dies(idle: Duration, seed: u64) -> Result<(), String> {
    let mut w = World::new(seed, &["alice", "bob"]);
    open_pair(&mut w)?;
    w.settle(idle);
    w.nodes[1].link_up = false;
    let died = w.elapsed();
    w.run_until(
        RECOVERY_LIMIT + NOTICE_WITHIN + Duration::from_secs(5),
        |w| w.saw(0, closed),
    );
    let noticed = first(&w, 0, recovering).ok_or_else(|| events(&w, 0))? - died;
    if noticed > NOTICE_WITHIN {
        return Err(format!("noticed after {noticed:?}\n{}", events(&w, 0)));
    }
    let gone = first(&w, 0, closed).ok_or_else(|| format!("never closed\n{}", events(&w, 0)))?;
    let given_up = gone - died - noticed;
    // The limit runs from the notice, give or take a timer's granularity.
    if given_up < RECOVERY_LIMIT || given_up > RECOVERY_LIMIT + Duration::from_millis(500) {
        return Err(format!(
            "closed {given_up:?} after the notice, not {RECOVERY_LIMIT:?}\n{}",
            events(&w, 0)
        ));
    }
    if w.nodes[0].node.peer_state(&World::peer("bob")).is_some() {
        return Err("the dead peer is still listed".into());
    }
    eprintln!("seed {seed}: noticed after {noticed:?}, closed {given_up:?} later");
    Ok(())
}

#[test]
fn a_peer_that_goes_silent_is_noticed_within_5_s_and_given_up_after_the_limit() {
    for_seeds(|seed| after_bob_dies(Duration::from_millis(200), seed));
}

#[test]
fn a_peer_that_goes_silent_after_a_long_quiet_spell_is_noticed_as_fast() {
    for_seeds(|seed| after_bob_dies(Duration::from_secs(40), seed));
}

/// Both links go down for `outage`, long enough to be noticed, then come
/// back; `restart`: whether recovery took an ICE restart through the hub.
fn outage_recovers(outage: Duration, restart: bool, seed: u64) -> Result<(), String> {
    let mut w = World::new(seed, &["alice", "bob"]);
    open_pair(&mut w)?;
    w.settle(Duration::from_secs(1));
    for n in &mut w.nodes {
        n.link_up = false;
    }
    w.settle(outage);
    for n in &mut w.nodes {
        n.link_up = true;
    }
    w.settle(Duration::from_secs(10));
    for i in 0..2 {
        if w.saw(i, closed) {
            return Err(format!(
                "a {outage:?} outage closed the connection\n{}",
                events(&w, i)
            ));
        }
        let count =
            |f: fn(&EndpointEvent) -> bool| w.nodes[i].events.iter().filter(|(_, e)| f(e)).count();
        let reconnected = count(|e| matches!(e, EndpointEvent::PeerReconnected { .. }));
        if count(recovering) == 0 || count(recovering) != reconnected {
            return Err(format!(
                "the outage was not reported and ended\n{}",
                events(&w, i)
            ));
        }
    }
    let restarted = w.nodes[0]
        .frames_to_hub
        .iter()
        .any(|f| f.contains(r#""restart":true"#));
    if restarted != restart {
        return Err(format!("ICE restart sent: {restarted}, expected {restart}"));
    }
    say(&mut w, 0, "bob", "after")?;
    say(&mut w, 1, "alice", "back")?;
    if w.run_until(Duration::from_secs(3), |w| {
        heard(w, 1, "after") && heard(w, 0, "back")
    }) {
        Ok(())
    } else {
        Err(format!("{}\n{}", events(&w, 0), events(&w, 1)))
    }
}

#[test]
fn a_short_outage_is_reported_and_recovers_the_same_path() {
    // Noticed after 3 s of silence, over before an ICE restart is due (at 5 s).
    for_seeds(|seed| outage_recovers(Duration::from_millis(3500), false, seed));
}

#[test]
fn a_longer_outage_recovers_through_an_ice_restart() {
    for_seeds(|seed| outage_recovers(Duration::from_secs(8), true, seed));
}

#[test]
fn a_quiet_live_connection_is_never_taken_for_a_dead_one() {
    for_seeds(|seed| {
        let mut w = World::new(seed, &["alice", "bob"]);
        open_pair(&mut w)?;
        w.settle(Duration::from_secs(120));
        for i in 0..2 {
            if w.saw(i, |e| recovering(e) || closed(e)) {
                return Err(events(&w, i));
            }
        }
        Ok(())
    });
}
