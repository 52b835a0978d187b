//! An endpoint driven with any inputs: hub frames (well-formed hub messages
//! built from the input, and raw bytes), datagrams from anywhere, time, and
//! application calls. Nothing panics, and every hub frame it sends decodes.

#![no_main]

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use arbitrary::Arbitrary;
use brume_proto::endpoint::{Certificate, Endpoint, EndpointConfig, EndpointOutput};
use brume_proto::framing::Data;
use brume_proto::signal::{
    Address, AttemptId, DeviceName, HubMsg, PROTOCOL_VERSION, PeerId, SessionLimits, UserName,
    decode_client, encode_hub,
};
use libfuzzer_sys::fuzz_target;

const PEERS: [&str; 3] = ["bob", "carol", "dave"];

#[derive(Debug, Arbitrary)]
enum Step {
    Welcome,
    Offer {
        peer: u8,
        attempt: u8,
        sdp: String,
        restart: bool,
    },
    Answer {
        peer: u8,
        attempt: u8,
        sdp: String,
    },
    Candidate {
        peer: u8,
        attempt: u8,
        line: String,
    },
    Reject {
        peer: u8,
        attempt: u8,
    },
    Cancel {
        peer: u8,
        attempt: u8,
        reason: String,
    },
    Ping(u32),
    HubBytes(Vec<u8>),
    Datagram {
        from: u8,
        port: u16,
        bytes: Vec<u8>,
    },
    Wait(u16),
    Connect(u8),
    Accept(u8),
    RejectCall(u8),
    Send(u8, String),
    Close(u8),
    HubClosed,
    Stop,
}

fn cert() -> Certificate {
    static CERT: OnceLock<Certificate> = OnceLock::new();
    CERT.get_or_init(|| Certificate::generate().expect("a certificate"))
        .clone()
}

/// Devices of each peer: the hub stamps any of them on what it relays.
const DEVICES: [&str; 3] = ["default", "phone", "default~1"];

fn peer_id(i: u8) -> PeerId {
    let user = UserName::new(PEERS[i as usize % PEERS.len()]).unwrap();
    let device = DeviceName::new(DEVICES[i as usize / PEERS.len() % DEVICES.len()]).unwrap();
    PeerId::new(user, device)
}

/// Whom the application names: a device, or (every fourth) the bare user.
fn peer(i: u8) -> Address {
    match i % 4 {
        3 => Address::User(peer_id(i).user),
        _ => Address::Device(peer_id(i)),
    }
}

fn attempt(i: u8) -> AttemptId {
    AttemptId::new(format!("a{i}")).unwrap()
}

fuzz_target!(|steps: Vec<Step>| {
    let start = Instant::now();
    let mut now = start;
    let mut ep = Endpoint::new(EndpointConfig::new("token".into(), cert(), 7), now);
    let local: SocketAddr = "10.0.0.1:5000".parse().unwrap();
    ep.add_local_address(now, local);
    ep.hub_connected(now);
    for step in steps.into_iter().take(48) {
        let hub = |msg: HubMsg| encode_hub(&msg);
        match step {
            Step::Welcome => {
                let limits = SessionLimits {
                    max_frame: 65536,
                    rate_per_sec: 20,
                    burst: 50,
                    max_pending_attempts: 16,
                    max_subscriptions: 1024,
                    idle_timeout_secs: 45,
                    max_devices: 16,
                };
                let f = hub(HubMsg::Welcome {
                    version: PROTOCOL_VERSION,
                    user: UserName::new("alice").unwrap(),
                    device: DeviceName::new("default").unwrap(),
                    limits,
                });
                ep.handle_hub_frame(now, f.as_bytes());
            }
            Step::Offer {
                peer: p,
                attempt: a,
                sdp,
                restart,
            } => {
                let f = hub(HubMsg::Offer {
                    attempt: attempt(a),
                    from: peer_id(p),
                    group: None,
                    sdp,
                    restart,
                });
                ep.handle_hub_frame(now, f.as_bytes());
            }
            Step::Answer {
                peer: p,
                attempt: a,
                sdp,
            } => {
                let f = hub(HubMsg::Answer {
                    attempt: attempt(a),
                    from: peer_id(p),
                    sdp,
                });
                ep.handle_hub_frame(now, f.as_bytes());
            }
            Step::Candidate {
                peer: p,
                attempt: a,
                line,
            } => {
                let f = hub(HubMsg::Candidate {
                    attempt: attempt(a),
                    from: peer_id(p),
                    candidate: line,
                });
                ep.handle_hub_frame(now, f.as_bytes());
            }
            Step::Reject {
                peer: p,
                attempt: a,
            } => {
                let f = hub(HubMsg::Reject {
                    attempt: attempt(a),
                    from: peer_id(p),
                    reason: None,
                });
                ep.handle_hub_frame(now, f.as_bytes());
            }
            Step::Cancel {
                peer: p,
                attempt: a,
                reason,
            } => {
                let f = hub(HubMsg::Cancel {
                    attempt: attempt(a),
                    from: peer_id(p),
                    reason: Some(reason),
                });
                ep.handle_hub_frame(now, f.as_bytes());
            }
            Step::Ping(nonce) => ep.handle_hub_frame(now, hub(HubMsg::Ping { nonce }).as_bytes()),
            Step::HubBytes(b) => ep.handle_hub_frame(now, &b),
            Step::Datagram { from, port, bytes } => {
                let source = SocketAddr::from(([10, 0, 0, from], port));
                ep.handle_datagram(now, source, local, &bytes);
            }
            Step::Wait(ms) => {
                now += Duration::from_millis(ms as u64);
                ep.handle_timeout(now);
            }
            Step::Connect(p) => {
                let _ = ep.connect(now, &peer(p), None);
            }
            Step::Accept(p) => {
                let _ = ep.accept(now, &peer(p));
            }
            Step::RejectCall(p) => {
                let _ = ep.reject(now, &peer(p), "no");
            }
            Step::Send(p, text) => {
                let _ = ep.send(now, &peer(p), "chat", &Data::Text(text));
            }
            Step::Close(p) => {
                let _ = ep.close_peer(now, &peer(p));
            }
            Step::HubClosed => ep.hub_closed(now),
            Step::Stop => ep.stop(now),
        }
        if let Some(t) = ep.poll_timeout()
            && t <= now
        {
            ep.handle_timeout(now);
        }
        while let Some(out) = ep.poll_output() {
            if let EndpointOutput::HubFrame(f) = out {
                assert!(
                    decode_client(f.as_bytes()).is_ok(),
                    "the endpoint sent an undecodable frame: {f}"
                );
            }
        }
    }
});
