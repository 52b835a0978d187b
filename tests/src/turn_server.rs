//! A TURN server for the simulated world: allocations, channel bindings,
//! ChannelData and Data indications, relaying between a client and its
//! peers. Lenient where a real one is strict (no credentials, no
//! permission checks, no lifetimes): the TURN client's handling of those is
//! tested against scripted answers and against coturn; this one exists to
//! carry a connection's traffic when the direct path is blocked.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use brume_proto::endpoint::Transmit;
use brume_proto::turn::codec::{self, Attribute, TurnMessage};
use stun_codec::rfc5389::attributes::{ErrorCode, XorMappedAddress};
use stun_codec::rfc5766::attributes::{
    ChannelNumber, Data, Lifetime, XorPeerAddress, XorRelayAddress,
};
use stun_codec::rfc5766::methods::{ALLOCATE, CHANNEL_BIND, CREATE_PERMISSION, REFRESH, SEND};
use stun_codec::{Message, MessageClass};

/// The world's TURN server.
pub const TURN_SERVER: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)), 3478);

#[derive(Debug)]
struct Allocation {
    relay: SocketAddr,
    channels: BTreeMap<u16, SocketAddr>,
}

/// The server's state: one allocation per client address.
#[derive(Debug)]
pub struct SimTurn {
    allocations: BTreeMap<SocketAddr, Allocation>,
    next_port: u16,
    /// While false the server is down: everything to it is lost.
    pub up: bool,
    /// Datagrams relayed either way, for tests to check the relay was used.
    pub relayed: u64,
}

impl Default for SimTurn {
    fn default() -> Self {
        Self {
            allocations: BTreeMap::new(),
            next_port: 49152,
            up: true,
            relayed: 0,
        }
    }
}

impl SimTurn {
    /// True if `addr` is one of this server's relayed addresses.
    pub fn is_relay(&self, addr: SocketAddr) -> bool {
        addr.ip() == TURN_SERVER.ip() && addr != TURN_SERVER
    }

    /// A datagram from `client` to the server: what it sends in answer, to
    /// the client or (relayed, from the client's relay address) to a peer.
    pub fn from_client(&mut self, client: SocketAddr, bytes: &[u8]) -> Vec<Transmit> {
        if !self.up {
            return Vec::new();
        }
        let to_client = |contents| Transmit {
            source: TURN_SERVER,
            destination: client,
            contents,
        };
        if let Some((number, payload)) = codec::parse_channel_data(bytes) {
            let Some(a) = self.allocations.get(&client) else {
                return Vec::new();
            };
            let Some(peer) = a.channels.get(&number) else {
                return Vec::new();
            };
            self.relayed += 1;
            return vec![Transmit {
                source: a.relay,
                destination: *peer,
                contents: payload.to_vec(),
            }];
        }
        let Some(req) = codec::decode(bytes) else {
            return Vec::new();
        };
        if req.class() == MessageClass::Indication && req.method() == SEND {
            let (Some(a), Some(peer), Some(data)) = (
                self.allocations.get(&client),
                req.get_attribute::<XorPeerAddress>(),
                req.get_attribute::<Data>(),
            ) else {
                return Vec::new();
            };
            self.relayed += 1;
            return vec![Transmit {
                source: a.relay,
                destination: peer.address(),
                contents: data.data().to_vec(),
            }];
        }
        if req.class() != MessageClass::Request {
            return Vec::new();
        }
        let method = req.method();
        let mut attrs: Vec<Attribute> = Vec::new();
        if method == ALLOCATE {
            let relay = match self.allocations.get(&client) {
                Some(a) => a.relay,
                None => {
                    let relay = SocketAddr::new(TURN_SERVER.ip(), self.next_port);
                    self.next_port += 1;
                    self.allocations.insert(
                        client,
                        Allocation {
                            relay,
                            channels: BTreeMap::new(),
                        },
                    );
                    relay
                }
            };
            attrs.push(XorRelayAddress::new(relay).into());
            attrs.push(XorMappedAddress::new(client).into());
            attrs.push(Lifetime::from_u32(600).into());
        } else if method == REFRESH {
            let zero = req
                .get_attribute::<Lifetime>()
                .is_some_and(|l| l.lifetime().is_zero());
            if zero {
                self.allocations.remove(&client);
            }
            attrs.push(Lifetime::from_u32(if zero { 0 } else { 600 }).into());
        } else if method == CHANNEL_BIND {
            let (Some(a), Some(n), Some(peer)) = (
                self.allocations.get_mut(&client),
                req.get_attribute::<ChannelNumber>(),
                req.get_attribute::<XorPeerAddress>(),
            ) else {
                return vec![to_client(error(&req, 400))];
            };
            a.channels.insert(n.value(), peer.address());
        } else if method != CREATE_PERMISSION {
            return vec![to_client(error(&req, 400))];
        }
        let mut m: TurnMessage =
            Message::new(MessageClass::SuccessResponse, method, req.transaction_id());
        for at in attrs {
            m.add_attribute(at);
        }
        codec::encode(m).map(to_client).into_iter().collect()
    }

    /// A datagram from `peer` to the relayed address `relay`: what goes to
    /// the client that holds it (ChannelData if a channel is bound to the
    /// peer, a Data indication if not).
    pub fn to_relay(
        &mut self,
        peer: SocketAddr,
        relay: SocketAddr,
        bytes: &[u8],
    ) -> Option<Transmit> {
        if !self.up {
            return None;
        }
        let (client, a) = self.allocations.iter().find(|(_, a)| a.relay == relay)?;
        let channel = a
            .channels
            .iter()
            .find(|(_, p)| **p == peer)
            .map(|(n, _)| *n);
        let contents = match channel {
            Some(n) => codec::channel_data(n, bytes)?,
            None => {
                let mut m: TurnMessage = Message::new(
                    MessageClass::Indication,
                    stun_codec::rfc5766::methods::DATA,
                    stun_codec::TransactionId::new([0; 12]),
                );
                m.add_attribute(XorPeerAddress::new(peer));
                m.add_attribute(Data::new(bytes.to_vec()).ok()?);
                codec::encode(m)?
            }
        };
        self.relayed += 1;
        Some(Transmit {
            source: TURN_SERVER,
            destination: *client,
            contents,
        })
    }
}

fn error(req: &TurnMessage, code: u16) -> Vec<u8> {
    let mut m: TurnMessage = Message::new(
        MessageClass::ErrorResponse,
        req.method(),
        req.transaction_id(),
    );
    if let Ok(e) = ErrorCode::new(code, "Bad Request".into()) {
        m.add_attribute(e);
    }
    codec::encode(m).unwrap_or_default()
}
