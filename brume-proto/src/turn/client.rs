//! One TURN allocation: its requests, its refresh, its channels.

use core::net::{IpAddr, SocketAddr};
use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use stun_codec::rfc5389::attributes::{
    ErrorCode, MessageIntegrity, Nonce, Realm, Username, XorMappedAddress,
};
use stun_codec::rfc5766::attributes::{
    ChannelNumber, Data, Lifetime, RequestedTransport, XorPeerAddress, XorRelayAddress,
};
use stun_codec::rfc5766::methods::{ALLOCATE, CHANNEL_BIND, CREATE_PERMISSION, DATA, REFRESH};
use stun_codec::{Message, MessageClass, TransactionId};

use super::codec::{self, FIRST_CHANNEL, LAST_CHANNEL, TurnMessage};
use super::{TurnCredentials, TurnError, TurnEvent};
use crate::endpoint::Transmit;

/// RFC 8489's schedule, shortened as for STUN: 500 ms doubling, seven tries.
const FIRST_RTO: Duration = Duration::from_millis(500);
const MAX_TRIES: u32 = 7;
/// What we ask for; the server may grant less.
const WANTED_LIFETIME: Duration = Duration::from_secs(600);
/// Channel bindings last ten minutes; permissions five (RFC 8656 §9, §12).
const CHANNEL_REFRESH: Duration = Duration::from_secs(300);
const PERMISSION_REFRESH: Duration = Duration::from_secs(240);
/// Datagrams held for a peer while its channel is being bound.
const MAX_QUEUED: usize = 16;
/// Fresh nonces taken for one request before giving up.
const MAX_AUTH_RETRIES: u8 = 3;
/// IANA protocol number of UDP, for REQUESTED-TRANSPORT.
const UDP: u8 = 17;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Request {
    Allocate,
    Refresh { lifetime: Duration },
    Permission(IpAddr),
    Bind { peer: SocketAddr, number: u16 },
}

impl Request {
    fn name(self) -> &'static str {
        match self {
            Request::Allocate => "Allocate",
            Request::Refresh { .. } => "Refresh",
            Request::Permission(_) => "CreatePermission",
            Request::Bind { .. } => "ChannelBind",
        }
    }
}

#[derive(Debug)]
struct Pending {
    request: Request,
    bytes: Vec<u8>,
    tries: u32,
    next: Instant,
    /// The nonce this request carried, if it was authenticated.
    nonce: Option<String>,
    auth_retries: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Allocation {
    Requesting,
    Active {
        relay: SocketAddr,
        mapped: Option<SocketAddr>,
        /// `None` while a refresh is in flight.
        refresh_at: Option<Instant>,
    },
    Failed,
    Released,
}

#[derive(Debug)]
struct Channel {
    number: u16,
    bound: bool,
    refresh_at: Option<Instant>,
    /// Traffic since the last (re)bind: only a used channel is refreshed.
    used: bool,
    queued: Vec<Vec<u8>>,
}

#[derive(Debug)]
struct Permission {
    refresh_at: Option<Instant>,
    used: bool,
}

/// What a datagram from the network was, for the TURN client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// Not from this client's server: someone else's datagram.
    NotOurs,
    /// From the server, and handled (or dropped) here.
    Handled,
    /// A peer's datagram, unwrapped from ChannelData or a Data indication.
    Data {
        /// The peer as the relay saw it.
        peer: SocketAddr,
        /// The bytes the peer sent.
        data: Vec<u8>,
    },
}

/// A sans-IO TURN client for one allocation (see the module docs).
#[derive(Debug)]
pub struct TurnClient {
    server: SocketAddr,
    base: SocketAddr,
    credentials: TurnCredentials,
    realm: Option<Realm>,
    nonce: Option<Nonce>,
    rng: fastrand::Rng,
    allocation: Allocation,
    pending: BTreeMap<[u8; 12], Pending>,
    channels: BTreeMap<SocketAddr, Channel>,
    by_number: BTreeMap<u16, SocketAddr>,
    permissions: BTreeMap<IpAddr, Permission>,
    next_channel: u16,
    out: VecDeque<Transmit>,
    events: VecDeque<TurnEvent>,
    /// Why the allocation failed, once it has.
    failure: Option<TurnError>,
}

impl TurnClient {
    /// Starts allocating on `server` from the local socket `base`.
    /// `seed` makes the transaction ids (no OS randomness in the core).
    pub fn new(
        now: Instant,
        server: SocketAddr,
        base: SocketAddr,
        credentials: TurnCredentials,
        seed: u64,
    ) -> Self {
        let mut c = Self {
            server,
            base,
            credentials,
            realm: None,
            nonce: None,
            rng: fastrand::Rng::with_seed(seed),
            allocation: Allocation::Requesting,
            pending: BTreeMap::new(),
            channels: BTreeMap::new(),
            by_number: BTreeMap::new(),
            permissions: BTreeMap::new(),
            next_channel: FIRST_CHANNEL,
            out: VecDeque::new(),
            events: VecDeque::new(),
            failure: None,
        };
        c.start(now, Request::Allocate, 0);
        c
    }

    /// The TURN server's address.
    pub fn server(&self) -> SocketAddr {
        self.server
    }

    /// The local socket this allocation is made from.
    pub fn base(&self) -> SocketAddr {
        self.base
    }

    /// The relayed address, once allocated.
    pub fn relay_address(&self) -> Option<SocketAddr> {
        match self.allocation {
            Allocation::Active { relay, .. } => Some(relay),
            _ => None,
        }
    }

    /// Our address as the server saw it, once allocated.
    pub fn mapped_address(&self) -> Option<SocketAddr> {
        match self.allocation {
            Allocation::Active { mapped, .. } => mapped,
            _ => None,
        }
    }

    /// Why the allocation failed, if it has.
    pub fn failure(&self) -> Option<&TurnError> {
        self.failure.as_ref()
    }

    /// True once the allocation has failed or been released: nothing more
    /// will come of this client.
    pub fn is_over(&self) -> bool {
        matches!(self.allocation, Allocation::Failed | Allocation::Released)
    }

    /// Lets `peer`'s IP send to our relay address before we send to it
    /// (a peer's relay candidate, say). Kept while traffic flows.
    pub fn create_permission(&mut self, now: Instant, peer: IpAddr) {
        if self.relay_address().is_none() || self.permissions.contains_key(&peer) {
            return;
        }
        self.permissions.insert(
            peer,
            Permission {
                refresh_at: None,
                used: true,
            },
        );
        self.start(now, Request::Permission(peer), 0);
    }

    /// Sends `data` to `peer` through the relay: as ChannelData once the
    /// peer's channel is bound, held (a few datagrams) while it is being
    /// bound. False if dropped (no allocation, or the hold is full).
    pub fn send_to(&mut self, now: Instant, peer: SocketAddr, data: &[u8]) -> bool {
        if self.relay_address().is_none() || peer.is_ipv4() != self.server.is_ipv4() {
            return false;
        }
        if let Some(p) = self.permissions.get_mut(&peer.ip()) {
            p.used = true;
        }
        if let Some(channel) = self.channels.get_mut(&peer) {
            channel.used = true;
            if channel.bound {
                let Some(contents) = codec::channel_data(channel.number, data) else {
                    return false;
                };
                self.out.push_back(Transmit {
                    source: self.base,
                    destination: self.server,
                    contents,
                });
                return true;
            }
            if channel.queued.len() >= MAX_QUEUED {
                return false;
            }
            channel.queued.push(data.to_vec());
            return true;
        }
        let number = self.next_channel;
        self.next_channel = if number >= LAST_CHANNEL {
            FIRST_CHANNEL
        } else {
            number + 1
        };
        if let Some(old) = self.by_number.insert(number, peer) {
            self.channels.remove(&old);
        }
        self.channels.insert(
            peer,
            Channel {
                number,
                bound: false,
                refresh_at: None,
                used: true,
                queued: vec![data.to_vec()],
            },
        );
        self.start(now, Request::Bind { peer, number }, 0);
        true
    }

    /// A datagram that arrived on `base`, from `source`.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        source: SocketAddr,
        contents: &[u8],
    ) -> Received {
        if source != self.server {
            return Received::NotOurs;
        }
        if let Some((number, payload)) = codec::parse_channel_data(contents) {
            let Some(peer) = self.by_number.get(&number).copied() else {
                return Received::Handled;
            };
            if let Some(channel) = self.channels.get_mut(&peer) {
                channel.used = true;
            }
            return Received::Data {
                peer,
                data: payload.to_vec(),
            };
        }
        let Some(message) = codec::looks_like_stun(contents)
            .then(|| codec::decode(contents))
            .flatten()
        else {
            return Received::Handled;
        };
        match message.class() {
            MessageClass::Indication if message.method() == DATA => {
                let peer = message
                    .get_attribute::<XorPeerAddress>()
                    .map(|a| a.address());
                let data = message.get_attribute::<Data>().map(|d| d.data().to_vec());
                match (peer, data) {
                    (Some(peer), Some(data)) => {
                        if let Some(p) = self.permissions.get_mut(&peer.ip()) {
                            p.used = true;
                        }
                        Received::Data { peer, data }
                    }
                    _ => Received::Handled,
                }
            }
            MessageClass::SuccessResponse | MessageClass::ErrorResponse => {
                self.on_response(now, &message);
                Received::Handled
            }
            _ => Received::Handled,
        }
    }

    /// Retransmissions, refreshes, and channels left to lapse.
    pub fn handle_timeout(&mut self, now: Instant) {
        let due: Vec<[u8; 12]> = self
            .pending
            .iter()
            .filter(|(_, p)| p.next <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            let Some(p) = self.pending.get_mut(&id) else {
                continue;
            };
            if p.tries >= MAX_TRIES {
                let Some(p) = self.pending.remove(&id) else {
                    continue;
                };
                let error = TurnError::Timeout {
                    server: self.server,
                    request: p.request.name(),
                    tries: p.tries,
                };
                self.on_failure(p.request, error);
                continue;
            }
            p.next = now + FIRST_RTO * (1 << p.tries);
            p.tries += 1;
            self.out.push_back(Transmit {
                source: self.base,
                destination: self.server,
                contents: p.bytes.clone(),
            });
        }
        if let Allocation::Active {
            refresh_at: Some(at),
            relay,
            mapped,
        } = self.allocation
            && at <= now
        {
            self.allocation = Allocation::Active {
                relay,
                mapped,
                refresh_at: None,
            };
            self.start(
                now,
                Request::Refresh {
                    lifetime: WANTED_LIFETIME,
                },
                0,
            );
        }
        self.refresh_channels(now);
        self.refresh_permissions(now);
    }

    /// Gives the allocation back (a Refresh with lifetime zero).
    pub fn deallocate(&mut self, now: Instant) {
        if self.relay_address().is_none() {
            self.allocation = Allocation::Released;
            self.pending.clear();
            return;
        }
        self.pending.clear();
        self.channels.clear();
        self.by_number.clear();
        self.permissions.clear();
        self.start(
            now,
            Request::Refresh {
                lifetime: Duration::ZERO,
            },
            0,
        );
    }

    /// The next datagram for the server.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<TurnEvent> {
        self.events.pop_front()
    }

    /// When [`TurnClient::handle_timeout`] wants to run next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let refresh = match self.allocation {
            Allocation::Active { refresh_at, .. } => refresh_at,
            _ => None,
        };
        self.pending
            .values()
            .map(|p| p.next)
            .chain(refresh)
            .chain(self.channels.values().filter_map(|c| c.refresh_at))
            .chain(self.permissions.values().filter_map(|p| p.refresh_at))
            .min()
    }

    // ----- requests -----

    fn start(&mut self, now: Instant, request: Request, auth_retries: u8) {
        let id: [u8; 12] = std::array::from_fn(|_| self.rng.u8(..));
        let Some((bytes, nonce)) = self.build(request, id) else {
            return;
        };
        self.out.push_back(Transmit {
            source: self.base,
            destination: self.server,
            contents: bytes.clone(),
        });
        self.pending.insert(
            id,
            Pending {
                request,
                bytes,
                tries: 1,
                next: now + FIRST_RTO,
                nonce,
                auth_retries,
            },
        );
    }

    /// The request's bytes, and the nonce it carries if authenticated.
    fn build(&self, request: Request, id: [u8; 12]) -> Option<(Vec<u8>, Option<String>)> {
        let (method, attrs): (_, Vec<codec::Attribute>) = match request {
            Request::Allocate => (
                ALLOCATE,
                vec![
                    RequestedTransport::new(UDP).into(),
                    Lifetime::new(WANTED_LIFETIME).ok()?.into(),
                ],
            ),
            Request::Refresh { lifetime } => (REFRESH, vec![Lifetime::new(lifetime).ok()?.into()]),
            Request::Permission(ip) => (
                CREATE_PERMISSION,
                vec![XorPeerAddress::new(SocketAddr::new(ip, 0)).into()],
            ),
            Request::Bind { peer, number } => (
                CHANNEL_BIND,
                vec![
                    ChannelNumber::new(number).ok()?.into(),
                    XorPeerAddress::new(peer).into(),
                ],
            ),
        };
        let mut message: TurnMessage =
            Message::new(MessageClass::Request, method, TransactionId::new(id));
        for a in attrs {
            message.add_attribute(a);
        }
        let mut sent_nonce = None;
        if let (Some(realm), Some(nonce)) = (&self.realm, &self.nonce) {
            let user = Username::new(self.credentials.username.clone()).ok()?;
            message.add_attribute(user.clone());
            message.add_attribute(realm.clone());
            message.add_attribute(nonce.clone());
            let mi = MessageIntegrity::new_long_term_credential(
                &message,
                &user,
                realm,
                &self.credentials.password,
            )
            .ok()?;
            message.add_attribute(mi);
            sent_nonce = Some(nonce.value().to_owned());
        }
        Some((codec::encode(message)?, sent_nonce))
    }

    fn on_response(&mut self, now: Instant, message: &TurnMessage) {
        let id = *message.transaction_id().as_bytes();
        let Some(pending) = self.pending.get(&id) else {
            return;
        };
        let error = message.get_attribute::<ErrorCode>();
        let challenge = matches!(error.map(ErrorCode::code), Some(401 | 438));
        if !challenge && pending.nonce.is_some() && !self.integrity_ok(message) {
            return; // not from the server we share a key with: keep waiting
        }
        let Some(pending) = self.pending.remove(&id) else {
            return;
        };
        let request = pending.request;
        match (message.class(), error) {
            (MessageClass::SuccessResponse, _) => self.on_success(now, request, message),
            (_, Some(e)) if challenge => {
                let stale = e.code() == 438;
                let new_nonce = message.get_attribute::<Nonce>().cloned();
                let same_nonce = new_nonce.as_ref().map(Nonce::value) == pending.nonce.as_deref();
                let refused = new_nonce.is_none()
                    || pending.auth_retries >= MAX_AUTH_RETRIES
                    || (!stale && pending.nonce.is_some() && same_nonce);
                if refused {
                    let error = TurnError::Unauthorized {
                        server: self.server,
                        user: self.credentials.username.clone(),
                    };
                    self.on_failure(request, error);
                    return;
                }
                if let Some(realm) = message.get_attribute::<Realm>() {
                    self.realm = Some(realm.clone());
                }
                self.nonce = new_nonce;
                self.start(now, request, pending.auth_retries + 1);
            }
            (_, e) => {
                let error = TurnError::Refused {
                    server: self.server,
                    request: request.name(),
                    code: e.map_or(0, ErrorCode::code),
                    reason: e.map_or_else(String::new, |e| e.reason_phrase().to_owned()),
                };
                self.on_failure(request, error);
            }
        }
    }

    fn integrity_ok(&self, message: &TurnMessage) -> bool {
        let (Some(mi), Some(realm)) = (message.get_attribute::<MessageIntegrity>(), &self.realm)
        else {
            return false;
        };
        let Ok(user) = Username::new(self.credentials.username.clone()) else {
            return false;
        };
        mi.check_long_term_credential(&user, realm, &self.credentials.password)
            .is_ok()
    }

    fn on_success(&mut self, now: Instant, request: Request, message: &TurnMessage) {
        let granted = message
            .get_attribute::<Lifetime>()
            .map_or(WANTED_LIFETIME, Lifetime::lifetime);
        match request {
            Request::Allocate => {
                let Some(relay) = message.get_attribute::<XorRelayAddress>() else {
                    let error = TurnError::Malformed {
                        server: self.server,
                        request: request.name(),
                        missing: "XOR-RELAYED-ADDRESS",
                    };
                    self.on_failure(request, error);
                    return;
                };
                let relay = relay.address();
                let mapped = message
                    .get_attribute::<XorMappedAddress>()
                    .map(XorMappedAddress::address);
                self.allocation = Allocation::Active {
                    relay,
                    mapped,
                    refresh_at: Some(now + granted / 2),
                };
                self.events
                    .push_back(TurnEvent::Allocated { relay, mapped });
            }
            Request::Refresh { lifetime } if lifetime.is_zero() => {
                self.allocation = Allocation::Released;
            }
            Request::Refresh { .. } => {
                if let Allocation::Active { relay, mapped, .. } = self.allocation {
                    self.allocation = Allocation::Active {
                        relay,
                        mapped,
                        refresh_at: Some(now + granted / 2),
                    };
                }
            }
            Request::Permission(ip) => {
                if let Some(p) = self.permissions.get_mut(&ip) {
                    p.refresh_at = Some(now + PERMISSION_REFRESH);
                    p.used = false;
                }
            }
            Request::Bind { peer, number } => {
                let Some(channel) = self.channels.get_mut(&peer).filter(|c| c.number == number)
                else {
                    return;
                };
                channel.bound = true;
                channel.refresh_at = Some(now + CHANNEL_REFRESH);
                let queued = std::mem::take(&mut channel.queued);
                for data in queued {
                    if let Some(contents) = codec::channel_data(number, &data) {
                        self.out.push_back(Transmit {
                            source: self.base,
                            destination: self.server,
                            contents,
                        });
                    }
                }
            }
        }
    }

    fn on_failure(&mut self, request: Request, error: TurnError) {
        match request {
            Request::Refresh { lifetime } if lifetime.is_zero() => {
                self.allocation = Allocation::Released;
            }
            Request::Allocate | Request::Refresh { .. } => {
                self.allocation = Allocation::Failed;
                self.pending.clear();
                self.channels.clear();
                self.by_number.clear();
                self.permissions.clear();
                self.failure = Some(error.clone());
                self.events.push_back(TurnEvent::Failed(error));
            }
            Request::Permission(ip) => {
                self.permissions.remove(&ip);
                let peer = SocketAddr::new(ip, 0);
                self.events
                    .push_back(TurnEvent::PeerRefused { peer, error });
            }
            Request::Bind { peer, number } => {
                if self.channels.get(&peer).is_some_and(|c| c.number == number) {
                    self.channels.remove(&peer);
                    self.by_number.remove(&number);
                }
                self.events
                    .push_back(TurnEvent::PeerRefused { peer, error });
            }
        }
    }

    fn refresh_channels(&mut self, now: Instant) {
        let due: Vec<SocketAddr> = self
            .channels
            .iter()
            .filter(|(_, c)| c.refresh_at.is_some_and(|at| at <= now))
            .map(|(peer, _)| *peer)
            .collect();
        for peer in due {
            let Some(channel) = self.channels.get_mut(&peer) else {
                continue;
            };
            if !channel.used {
                // Idle for five minutes: let the server's binding lapse.
                let number = channel.number;
                self.channels.remove(&peer);
                self.by_number.remove(&number);
                continue;
            }
            channel.used = false;
            channel.refresh_at = None;
            let number = channel.number;
            self.start(now, Request::Bind { peer, number }, 0);
        }
    }

    fn refresh_permissions(&mut self, now: Instant) {
        let due: Vec<IpAddr> = self
            .permissions
            .iter()
            .filter(|(_, p)| p.refresh_at.is_some_and(|at| at <= now))
            .map(|(ip, _)| *ip)
            .collect();
        for ip in due {
            let Some(p) = self.permissions.get_mut(&ip) else {
                continue;
            };
            if !p.used {
                self.permissions.remove(&ip);
                continue;
            }
            p.used = false;
            p.refresh_at = None;
            self.start(now, Request::Permission(ip), 0);
        }
    }
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
