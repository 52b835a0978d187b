//! Endpoint scenarios in the simulated world. Each runs under many seeds; a
//! failure names its seed so it can be replayed alone.

use std::time::Duration;

use brume_proto::ErrorCode;
use brume_proto::endpoint::EndpointEvent;
use brume_proto::endpoint::{Direction, MediaKind};
use brume_proto::framing::Data;
use brume_proto::signal::{GroupId, GroupName};
use brume_proto::token::TokenKind;
use brume_tests::sim::{STUN_SERVER, UNIX0, World, public_addr};
use str0m_netem::{NetemConfig, Probability, RandomLoss};

const SEEDS: u64 = 8;

fn for_seeds(scenario: impl Fn(u64) -> Result<(), String>) {
    brume_tests::for_each_seed(SEEDS, scenario);
}

fn is_open(e: &EndpointEvent) -> bool {
    matches!(e, EndpointEvent::PeerOpen { .. })
}

fn failed_with(code: ErrorCode) -> impl Fn(&EndpointEvent) -> bool {
    move |e| matches!(e, EndpointEvent::PeerFailed { code: c, .. } if *c == code)
}

fn events(w: &World, i: usize) -> String {
    format!("{}: {:#?}", w.nodes[i].name, w.nodes[i].events)
}

/// Connects `a` to `b` and waits for both sides to open.
fn open_pair(w: &mut World, a: usize, b: usize) -> Result<(), String> {
    let to = w.nodes[b].peer();
    w.with(a, |ep, now| ep.connect(now, &to, None))
        .map_err(|e| e.to_string())?;
    let (na, nb) = (w.nodes[a].peer(), w.nodes[b].peer());
    let opened = w.run_until(Duration::from_secs(10), |w| {
        w.saw(
            a,
            |e| matches!(e, EndpointEvent::PeerOpen { peer } if *peer == nb),
        ) && w.saw(
            b,
            |e| matches!(e, EndpointEvent::PeerOpen { peer } if *peer == na),
        )
    });
    if opened {
        Ok(())
    } else {
        Err(format!("no open\n{}\n{}", events(w, a), events(w, b)))
    }
}

fn say(w: &mut World, from: usize, to: usize, text: &str) -> Result<(), String> {
    let peer = w.nodes[to].peer();
    w.with(from, |ep, now| {
        ep.send_message(now, &peer, "chat", &Data::Text(text.into()))
    })
    .map_err(|e| format!("send {text}: {e}"))
}

/// Only keepalive pongs went to the hub since `before` (frame counts per node).
fn hub_saw_nothing_since(w: &World, before: &[usize]) -> Result<(), String> {
    for (n, skip) in w.nodes.iter().zip(before) {
        let signaling = n.frames_to_hub[*skip..]
            .iter()
            .find(|f| !f.contains(r#""type":"pong""#));
        if let Some(f) = signaling {
            return Err(format!("the hub saw {f}"));
        }
    }
    Ok(())
}

fn heard(w: &World, i: usize, text: &str) -> bool {
    w.saw(
        i,
        |e| matches!(e, EndpointEvent::Message { data: Data::Text(t), .. } if t == text),
    )
}

#[test]
fn connect_by_name_and_exchange_messages_both_ways() {
    for_seeds(|seed| {
        let mut w = World::new(seed, &["alice", "bob"]);
        // Some loss on both sides: SCTP must carry the messages anyway.
        for i in 0..2 {
            let lossy = NetemConfig::new()
                .latency(Duration::from_millis(10))
                .loss(RandomLoss::new(Probability::new(0.02)))
                .seed(seed + i as u64);
            w.set_inbound(i, lossy);
        }
        open_pair(&mut w, 0, 1)?;
        for n in 0..20 {
            say(&mut w, 0, 1, &format!("a{n}"))?;
            say(&mut w, 1, 0, &format!("b{n}"))?;
        }
        w.with(1, |ep, now| {
            ep.send_message(
                now,
                &World::peer("alice"),
                "blob",
                &Data::Bytes(vec![0, 1, 255]),
            )
        })
        .map_err(|e| e.to_string())?;
        let all = w.run_until(Duration::from_secs(20), |w| {
            (0..20).all(|n| heard(w, 1, &format!("a{n}")) && heard(w, 0, &format!("b{n}")))
                && w.saw(0, |e| matches!(e, EndpointEvent::Message { kind, data: Data::Bytes(b), .. } if kind == "blob" && b == &[0, 1, 255]))
        });
        // Messages arrive in order on the ordered main channel.
        let order: Vec<String> = w.nodes[1]
            .events
            .iter()
            .filter_map(|(_, e)| match e {
                EndpointEvent::Message {
                    data: Data::Text(t),
                    ..
                } => Some(t.clone()),
                _ => None,
            })
            .collect();
        let expected: Vec<String> = (0..20).map(|n| format!("a{n}")).collect();
        if !all || order != expected {
            return Err(format!(
                "messages lost or reordered: {order:?}\n{}",
                events(&w, 0)
            ));
        }
        Ok(())
    });
}

#[test]
fn connecting_to_an_offline_user_fails_with_enodest() {
    for_seeds(|seed| {
        let mut w = World::new(seed, &["alice", "bob"]);
        let (a, b) = (w.index("alice"), w.index("bob"));
        w.with(b, |ep, now| ep.stop(now));
        w.settle(Duration::from_millis(50));
        w.with(a, |ep, now| ep.connect(now, &World::peer("bob"), None))
            .map_err(|e| e.to_string())?;
        if w.run_until(Duration::from_secs(2), |w| {
            w.saw(a, failed_with(ErrorCode::NoDest))
        }) {
            Ok(())
        } else {
            Err(events(&w, a))
        }
    });
}

#[test]
fn connecting_to_an_unknown_user_fails_with_ebaddest() {
    for_seeds(|seed| {
        let mut w = World::new(seed, &["alice"]);
        w.with(0, |ep, now| ep.connect(now, &World::peer("nobody"), None))
            .map_err(|e| e.to_string())?;
        if w.run_until(Duration::from_secs(2), |w| {
            w.saw(0, failed_with(ErrorCode::BadDest))
        }) {
            Ok(())
        } else {
            Err(events(&w, 0))
        }
    });
}

#[test]
fn connecting_without_a_hub_session_is_enosrv() {
    let mut w = World::new(3, &["alice", "bob"]);
    w.with(0, |ep, now| ep.handle_hub_closed(now));
    let err = w
        .with(0, |ep, now| ep.connect(now, &World::peer("bob"), None))
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::NoServer);
}

#[test]
fn an_unanswered_offer_times_out_with_eoffertimeout() {
    for_seeds(|seed| {
        let mut w = World::new(seed, &["alice", "bob"]);
        w.nodes[1].auto_accept = false;
        w.with(0, |ep, now| ep.connect(now, &World::peer("bob"), None))
            .map_err(|e| e.to_string())?;
        let start = w.elapsed();
        if !w.run_until(Duration::from_secs(20), |w| {
            w.saw(0, failed_with(ErrorCode::OfferTimeout))
        }) {
            return Err(events(&w, 0));
        }
        // The documented default: 15 s from connect.
        let took = w.elapsed() - start;
        if took != Duration::from_secs(15) {
            return Err(format!("timed out after {took:?}"));
        }
        // The callee's pending attempt is cancelled too.
        if !w.run_until(Duration::from_secs(1), |w| {
            w.saw(1, failed_with(ErrorCode::Cancelled))
        }) {
            return Err(events(&w, 1));
        }
        Ok(())
    });
}

#[test]
fn a_rejected_attempt_fails_with_erejected() {
    for_seeds(|seed| {
        let mut w = World::new(seed, &["alice", "bob"]);
        w.nodes[1].auto_accept = false;
        w.with(0, |ep, now| ep.connect(now, &World::peer("bob"), None))
            .map_err(|e| e.to_string())?;
        w.run_until(Duration::from_secs(1), |w| {
            w.saw(1, |e| matches!(e, EndpointEvent::Incoming { .. }))
        });
        w.with(1, |ep, now| ep.reject(now, &World::peer("alice"), "busy"))
            .map_err(|e| e.to_string())?;
        let rejected = w.run_until(Duration::from_secs(1), |w| {
            w.saw(0, |e| matches!(e, EndpointEvent::PeerFailed { code: ErrorCode::Rejected, reason, .. } if reason == "busy"))
        });
        if rejected && w.nodes[0].node.peer_state(&World::peer("bob")).is_none() {
            Ok(())
        } else {
            Err(events(&w, 0))
        }
    });
}

#[test]
fn glare_gives_exactly_one_connection() {
    for_seeds(|seed| {
        let mut w = World::new(seed, &["alice", "bob"]);
        // Both connect at the same virtual instant.
        w.with(0, |ep, now| ep.connect(now, &World::peer("bob"), None))
            .map_err(|e| e.to_string())?;
        w.with(1, |ep, now| ep.connect(now, &World::peer("alice"), None))
            .map_err(|e| e.to_string())?;
        let open = w.run_until(Duration::from_secs(10), |w| {
            w.saw(0, is_open) && w.saw(1, is_open)
        });
        w.settle(Duration::from_secs(2));
        let opens = |i: usize| w.nodes[i].events.iter().filter(|(_, e)| is_open(e)).count();
        let failures = |i: usize| {
            w.nodes[i]
                .events
                .iter()
                .filter(|(_, e)| {
                    matches!(
                        e,
                        EndpointEvent::PeerFailed { .. } | EndpointEvent::PeerClosed { .. }
                    )
                })
                .count()
        };
        if !open || opens(0) != 1 || opens(1) != 1 || failures(0) + failures(1) != 0 {
            return Err(format!("{}\n{}", events(&w, 0), events(&w, 1)));
        }
        // The connection that stands is alice's offer (her name sorts first).
        let bob_offered = w.nodes[1]
            .frames_to_hub
            .iter()
            .any(|f| f.contains(r#""type":"cancel""#));
        if !bob_offered {
            return Err("bob should have cancelled his own offer".into());
        }
        say(&mut w, 0, 1, "one")?;
        say(&mut w, 1, 0, "two")?;
        if w.run_until(Duration::from_secs(2), |w| {
            heard(w, 1, "one") && heard(w, 0, "two")
        }) {
            Ok(())
        } else {
            Err("no messages over the glare connection".into())
        }
    });
}

#[test]
fn a_peer_that_closes_is_reported_closed() {
    for_seeds(|seed| {
        let mut w = World::new(seed, &["alice", "bob"]);
        open_pair(&mut w, 0, 1)?;
        w.with(1, |ep, now| ep.close_peer(now, &World::peer("alice")))
            .map_err(|e| e.to_string())?;
        let closed = w.run_until(Duration::from_secs(5), |w| {
            w.saw(0, |e| matches!(e, EndpointEvent::PeerClosed { .. }))
        });
        let local = w.saw(1, |e| matches!(e, EndpointEvent::PeerClosed { .. }));
        if closed && local && w.nodes[0].node.peer_state(&World::peer("bob")).is_none() {
            Ok(())
        } else {
            Err(format!("{}\n{}", events(&w, 0), events(&w, 1)))
        }
    });
}

#[test]
fn three_peers_in_a_triangle() {
    for_seeds(|seed| {
        let mut w = World::new(seed, &["alice", "bob", "carol"]);
        open_pair(&mut w, 0, 1)?;
        open_pair(&mut w, 1, 2)?;
        open_pair(&mut w, 2, 0)?;
        for (from, to) in [(0, 1), (1, 2), (2, 0), (1, 0), (2, 1), (0, 2)] {
            say(&mut w, from, to, &format!("{from}->{to}"))?;
        }
        let all = w.run_until(Duration::from_secs(3), |w| {
            [(0, 1), (1, 2), (2, 0), (1, 0), (2, 1), (0, 2)]
                .iter()
                .all(|(f, t)| heard(w, *t, &format!("{f}->{t}")))
        });
        // One peer failing never disturbs the others.
        w.with(2, |ep, now| ep.stop(now));
        w.settle(Duration::from_secs(2));
        say(&mut w, 0, 1, "still here")?;
        let still = w.run_until(Duration::from_secs(2), |w| heard(w, 1, "still here"));
        if all && still {
            Ok(())
        } else {
            Err(format!("{}\n{}", events(&w, 0), events(&w, 1)))
        }
    });
}

#[test]
fn the_connection_recovers_after_a_link_outage() {
    for_seeds(|seed| {
        let mut w = World::new(seed, &["alice", "bob"]);
        open_pair(&mut w, 0, 1)?;
        w.nodes[1].link_up = false;
        let lost = w.run_until(Duration::from_secs(30), |w| {
            w.saw(0, |e| matches!(e, EndpointEvent::PeerReconnecting { .. }))
        });
        w.settle(Duration::from_secs(3));
        w.nodes[1].link_up = true;
        let back = w.run_until(Duration::from_secs(20), |w| {
            w.saw(0, |e| matches!(e, EndpointEvent::PeerReconnected { .. }))
        });
        say(&mut w, 0, 1, "after")?;
        let heard_after = w.run_until(Duration::from_secs(5), |w| heard(w, 1, "after"));
        if lost && back && heard_after {
            Ok(())
        } else {
            Err(format!(
                "lost {lost} back {back} heard {heard_after}\n{}\n{}",
                events(&w, 0),
                events(&w, 1)
            ))
        }
    });
}

#[test]
fn media_added_after_connect_is_negotiated_on_the_data_channel_only() {
    for_seeds(|seed| {
        let mut w = World::new(seed, &["alice", "bob"]);
        open_pair(&mut w, 0, 1)?;
        w.settle(Duration::from_millis(500));
        let before: Vec<usize> = w.nodes.iter().map(|n| n.frames_to_hub.len()).collect();
        w.with(0, |ep, now| {
            ep.endpoint_mut().add_media(
                now,
                &World::peer("bob"),
                MediaKind::Audio,
                Direction::SendRecv,
            )
        })
        .map_err(|e| e.to_string())?;
        let added = w.run_until(Duration::from_secs(5), |w| {
            w.saw(1, |e| {
                matches!(
                    e,
                    EndpointEvent::MediaAdded {
                        kind: MediaKind::Audio,
                        ..
                    }
                )
            })
        });
        if !added {
            return Err(format!(
                "{}
{}",
                events(&w, 0),
                events(&w, 1)
            ));
        }
        w.settle(Duration::from_secs(1));
        // The hub saw nothing for it: at most keepalive pongs went its way.
        hub_saw_nothing_since(&w, &before)?;
        Ok(())
    });
}

#[test]
fn a_stun_server_adds_a_server_reflexive_candidate() {
    for_seeds(|seed| {
        let mut w = World::new(seed, &[]);
        for name in ["alice", "bob"] {
            w.hub.add_user(World::user(name));
            w.add_node(World::user(name), |c| c.stun_server = Some(STUN_SERVER));
        }
        w.settle(Duration::from_millis(500));
        open_pair(&mut w, 0, 1)?;
        // The candidate carries the public address STUN reported.
        let public = public_addr(0).ip().to_string();
        let signaled = w.nodes[0]
            .frames_to_hub
            .iter()
            .any(|f| f.contains("srflx") && f.contains(&public));
        if signaled {
            Ok(())
        } else {
            Err(format!(
                "no srflx candidate signaled: {:?}",
                w.nodes[0].frames_to_hub
            ))
        }
    });
}

/// str0m's own randomness is seeded through fastrand and Brume's through the
/// endpoint seed; DTLS keys are not seedable. "Reproducible" means the same
/// seed gives the same application events at the same virtual times.
#[test]
fn one_seed_twice_gives_the_same_events_at_the_same_times() {
    let run = |seed: u64| {
        let mut w = World::new(seed, &["alice", "bob", "carol"]);
        for i in 0..3 {
            let lossy = NetemConfig::new()
                .latency(Duration::from_millis(15))
                .jitter(Duration::from_millis(5))
                .loss(RandomLoss::new(Probability::new(0.05)))
                .seed(seed * 10 + i as u64);
            w.set_inbound(i, lossy);
        }
        open_pair(&mut w, 0, 1).unwrap();
        w.with(2, |ep, now| ep.connect(now, &World::peer("alice"), None))
            .unwrap();
        w.with(1, |ep, now| ep.connect(now, &World::peer("carol"), None))
            .unwrap();
        for n in 0..10 {
            say(&mut w, 0, 1, &format!("m{n}")).unwrap();
        }
        w.settle(Duration::from_secs(5));
        let log: Vec<String> = w
            .nodes
            .iter()
            .flat_map(|n| {
                n.events
                    .iter()
                    .map(move |(t, e)| format!("{} {t:?} {e:?}", n.name))
            })
            .collect();
        log
    };
    for seed in 11..16 {
        let first = run(seed);
        assert!(first.len() > 10, "{first:#?}");
        assert_eq!(first, run(seed), "seed {seed}");
    }
}

#[test]
fn an_expired_token_is_refreshed_and_reported_as_reauth() {
    let mut w = World::new(5, &[]);
    w.hub.add_user(World::user("alice"));
    let expired = w.token("alice", TokenKind::Access, UNIX0 - 7200, 3600);
    let refresh = w.token("alice", TokenKind::Refresh, UNIX0, 86_400);
    w.add_node(World::user("alice"), |c| {
        c.access_token = expired;
        c.refresh_token = Some(refresh);
    });
    let ok = w.run_until(Duration::from_secs(1), |w| {
        w.saw(0, |e| matches!(e, EndpointEvent::Ready { .. }))
            && w.saw(0, |e| matches!(e, EndpointEvent::Reauth { expires_at, .. } if *expires_at == UNIX0 + 3600))
    });
    assert!(ok, "{}", events(&w, 0));
}

#[test]
fn an_expired_token_without_a_refresh_token_ends_the_session_clearly() {
    let mut w = World::new(5, &[]);
    w.hub.add_user(World::user("alice"));
    let expired = w.token("alice", TokenKind::Access, UNIX0 - 7200, 3600);
    w.add_node(World::user("alice"), |c| c.access_token = expired);
    let ended = w.run_until(Duration::from_secs(1), |w| {
        w.saw(0, |e| {
            matches!(
                e,
                EndpointEvent::HubClosed {
                    error: Some(ErrorCode::TokenExpired),
                    ..
                }
            )
        })
    });
    assert!(ended, "{}", events(&w, 0));
    assert!(!w.nodes[0].node.is_hub_ready());
}

#[test]
fn an_incoming_attempt_left_unanswered_expires() {
    for_seeds(|seed| {
        let mut w = World::new(seed, &["bob"]);
        w.hub.add_user(World::user("alice"));
        w.add_node(World::user("alice"), |c| {
            c.connect_timeout = Duration::from_secs(60)
        });
        w.nodes[0].auto_accept = false;
        w.settle(Duration::from_millis(100));
        w.with(1, |ep, now| ep.connect(now, &World::peer("bob"), None))
            .map_err(|e| e.to_string())?;
        let start = w.elapsed();
        let expired = w.run_until(Duration::from_secs(29), |w| {
            w.saw(0, failed_with(ErrorCode::OfferTimeout))
        });
        // The documented default, 25 s: under the hub's 30 s attempt timeout.
        let took = w.elapsed() - start;
        if !expired
            || took > Duration::from_millis(25_100)
            || w.nodes[0].node.peer_state(&World::peer("alice")).is_some()
        {
            return Err(format!("after {took:?}: {}", events(&w, 0)));
        }
        Ok(())
    });
}

#[test]
fn a_group_scoped_connect_by_a_non_member_fails_with_enotmember() {
    let mut w = World::new(6, &["alice", "bob"]);
    let group = GroupId {
        owner: World::user("bob"),
        name: GroupName::new("photos").unwrap(),
    };
    w.with(0, |ep, now| {
        ep.connect(now, &World::peer("bob"), Some(group))
    })
    .unwrap();
    assert!(
        w.run_until(Duration::from_secs(1), |w| w
            .saw(0, failed_with(ErrorCode::NotMember))),
        "{}",
        events(&w, 0)
    );
}

#[test]
fn stopping_an_endpoint_closes_every_peer_with_events() {
    for_seeds(|seed| {
        let mut w = World::new(seed, &["alice", "bob", "carol"]);
        open_pair(&mut w, 0, 1)?;
        open_pair(&mut w, 0, 2)?;
        w.with(0, |ep, now| ep.stop(now));
        let closed = |w: &World, i: usize| {
            w.saw(
                i,
                |e| matches!(e, EndpointEvent::PeerClosed { peer, .. } if peer.user().as_str() == "alice"),
            )
        };
        let done = w.run_until(Duration::from_secs(5), |w| closed(w, 1) && closed(w, 2));
        let local = w.nodes[0]
            .events
            .iter()
            .filter(|(_, e)| matches!(e, EndpointEvent::PeerClosed { .. }))
            .count();
        let stopped = w.saw(0, |e| matches!(e, EndpointEvent::Stopped));
        if done && local == 2 && stopped {
            Ok(())
        } else {
            Err(format!("{}\n{}", events(&w, 0), events(&w, 1)))
        }
    });
}

#[test]
fn extra_channels_open_carry_bytes_and_close_without_the_hub() {
    for_seeds(|seed| {
        let mut w = World::new(seed, &["alice", "bob"]);
        open_pair(&mut w, 0, 1)?;
        let before: Vec<usize> = w.nodes.iter().map(|n| n.frames_to_hub.len()).collect();
        let ch = w
            .with(0, |ep, now| {
                ep.endpoint_mut()
                    .open_channel(now, &World::peer("bob"), "file")
            })
            .map_err(|e| e.to_string())?;
        let opened = w.run_until(Duration::from_secs(2), |w| {
            (0..2).all(|i| {
                w.saw(
                    i,
                    |e| matches!(e, EndpointEvent::ChannelOpen { label, .. } if label == "file"),
                )
            })
        });
        if !opened {
            return Err(events(&w, 1));
        }
        // A burst of writes is drained once, before the next output; a
        // driver that asks for its timeout first is told to come back now.
        let due = w
            .with(0, |ep, now| {
                for chunk in [&b"chunk"[..], b"two", b"three"] {
                    ep.endpoint_mut()
                        .channel_write(now, &World::peer("bob"), ch, chunk)?;
                }
                Ok::<_, brume_proto::endpoint::EndpointError>(
                    ep.poll_timeout().is_some_and(|t| t <= now),
                )
            })
            .map_err(|e| e.to_string())?;
        if !due {
            return Err("written bytes wait for a later timeout".into());
        }
        let got = w.run_until(Duration::from_secs(2), |w| {
            let data: Vec<&[u8]> = w.nodes[1]
                .events
                .iter()
                .filter_map(|(_, e)| match e {
                    EndpointEvent::ChannelData { data, .. } => Some(&data[..]),
                    _ => None,
                })
                .collect();
            data == [&b"chunk"[..], b"two", b"three"]
        });
        w.with(0, |ep, now| {
            ep.endpoint_mut()
                .close_channel(now, &World::peer("bob"), ch)
        })
        .map_err(|e| e.to_string())?;
        let closed = w.run_until(Duration::from_secs(2), |w| {
            w.saw(1, |e| matches!(e, EndpointEvent::ChannelClosed { .. }))
        });
        if !(got && closed) {
            return Err(format!("got {got} closed {closed}\n{}", events(&w, 1)));
        }
        hub_saw_nothing_since(&w, &before)?;
        // The main channel still works.
        say(&mut w, 1, 0, "still")?;
        if w.run_until(Duration::from_secs(2), |w| heard(w, 0, "still")) {
            Ok(())
        } else {
            Err(events(&w, 0))
        }
    });
}

#[test]
fn a_track_is_removed_over_the_data_channel() {
    for_seeds(|seed| {
        let mut w = World::new(seed, &["alice", "bob"]);
        open_pair(&mut w, 0, 1)?;
        w.with(0, |ep, now| {
            ep.endpoint_mut().add_media(
                now,
                &World::peer("bob"),
                MediaKind::Video,
                Direction::SendRecv,
            )
        })
        .map_err(|e| e.to_string())?;
        let added = w.run_until(Duration::from_secs(3), |w| {
            w.saw(1, |e| {
                matches!(
                    e,
                    EndpointEvent::MediaAdded {
                        kind: MediaKind::Video,
                        ..
                    }
                )
            }) && !w.nodes[0]
                .node
                .endpoint()
                .media(&World::peer("bob"))
                .is_empty()
        });
        let Some((mid, _)) = w.nodes[0]
            .node
            .endpoint()
            .media(&World::peer("bob"))
            .first()
            .copied()
        else {
            return Err("alice lists no track".into());
        };
        if !added
            || w.nodes[1].node.endpoint().media(&World::peer("alice")) != [(mid, MediaKind::Video)]
        {
            return Err(events(&w, 1));
        }
        let before: Vec<usize> = w.nodes.iter().map(|n| n.frames_to_hub.len()).collect();
        w.with(0, |ep, now| {
            ep.endpoint_mut()
                .remove_media(now, &World::peer("bob"), mid)
        })
        .map_err(|e| e.to_string())?;
        let stopped = w.run_until(Duration::from_secs(3), |w| {
            w.saw(1, |e| matches!(e, EndpointEvent::MediaChanged { mid: m, direction: Direction::Inactive, .. } if *m == mid))
        });
        if !stopped {
            return Err(events(&w, 1));
        }
        hub_saw_nothing_since(&w, &before)?;
        Ok(())
    });
}

#[test]
fn garbage_from_the_peers_address_does_not_end_the_connection() {
    for_seeds(|seed| {
        let mut w = World::new(seed, &["alice", "bob"]);
        open_pair(&mut w, 0, 1)?;
        let (from, to) = (w.nodes[1].addr, w.nodes[0].addr);
        // What an off-path sender spoofing bob's address could send: DTLS
        // application data that does not authenticate, a record cut short,
        // a handshake record, and parity and reports of every length.
        let mut bad: Vec<Vec<u8>> = vec![
            [
                &[23u8, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 3, 0xe8, 0, 40][..],
                &[0x55; 40],
            ]
            .concat(),
            vec![23, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 3, 0xe9, 0x40, 0, 1, 2],
            [
                &[22u8, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 9, 0, 20][..],
                &[7; 20],
            ]
            .concat(),
        ];
        for n in 0..40 {
            bad.push([&[0x60u8, 1][..], &vec![0xaa; n]].concat());
            bad.push([&[0x61u8][..], &vec![0xff; n]].concat());
        }
        w.with(0, |ep, now| {
            for b in &bad {
                ep.handle_datagram(now, from, to, b);
            }
        });
        say(&mut w, 1, 0, "still here")?;
        if !w.run_until(Duration::from_secs(2), |w| heard(w, 0, "still here")) {
            return Err(events(&w, 0));
        }
        if w.saw(0, |e| matches!(e, EndpointEvent::PeerClosed { .. })) {
            return Err("garbage closed the peer".into());
        }
        Ok(())
    });
}
