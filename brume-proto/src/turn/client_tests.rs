//! The TURN client against a scripted server, on virtual time.

use super::*;
use brume_tests::origin as t0;
use stun_codec::rfc5389::attributes::XorMappedAddress;

const SERVER: &str = "192.0.2.1:3478";
const BASE: &str = "10.0.0.1:5000";
const RELAY: &str = "192.0.2.1:49152";
const MAPPED: &str = "203.0.113.9:41000";
const PEER: &str = "198.51.100.7:6000";

fn a(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn creds() -> TurnCredentials {
    TurnCredentials {
        username: "1700000000:alice".into(),
        password: "secret".into(),
    }
}

/// The server's side: reads requests and answers them.
struct Server {
    realm: Realm,
    nonce: Nonce,
    password: String,
}

impl Server {
    fn new() -> Self {
        Self {
            realm: Realm::new("brume.test".into()).unwrap(),
            nonce: Nonce::new("n1".into()).unwrap(),
            password: "secret".into(),
        }
    }

    fn request(bytes: &[u8]) -> TurnMessage {
        let m = codec::decode(bytes).expect("a well-formed request");
        assert_eq!(m.class(), MessageClass::Request);
        m
    }

    /// True if the request carries our nonce and a valid MESSAGE-INTEGRITY.
    fn authentic(&self, req: &TurnMessage) -> bool {
        let (Some(user), Some(mi), Some(nonce)) = (
            req.get_attribute::<Username>(),
            req.get_attribute::<MessageIntegrity>(),
            req.get_attribute::<Nonce>(),
        ) else {
            return false;
        };
        nonce == &self.nonce
            && mi
                .check_long_term_credential(user, &self.realm, &self.password)
                .is_ok()
    }

    fn error(&self, req: &TurnMessage, code: u16, with_nonce: bool) -> Vec<u8> {
        let mut m: TurnMessage = Message::new(
            MessageClass::ErrorResponse,
            req.method(),
            req.transaction_id(),
        );
        m.add_attribute(ErrorCode::new(code, "no".into()).unwrap());
        if with_nonce {
            m.add_attribute(self.realm.clone());
            m.add_attribute(self.nonce.clone());
        }
        codec::encode(m).unwrap()
    }

    fn success(&self, req: &TurnMessage, attrs: Vec<codec::Attribute>) -> Vec<u8> {
        let mut m: TurnMessage = Message::new(
            MessageClass::SuccessResponse,
            req.method(),
            req.transaction_id(),
        );
        for at in attrs {
            m.add_attribute(at);
        }
        let user = req.get_attribute::<Username>().unwrap().clone();
        let mi = MessageIntegrity::new_long_term_credential(&m, &user, &self.realm, &self.password)
            .unwrap();
        m.add_attribute(mi);
        codec::encode(m).unwrap()
    }

    fn allocated(&self, req: &TurnMessage, lifetime: u32) -> Vec<u8> {
        self.success(
            req,
            vec![
                XorRelayAddress::new(a(RELAY)).into(),
                XorMappedAddress::new(a(MAPPED)).into(),
                Lifetime::from_u32(lifetime).into(),
            ],
        )
    }
}

fn sent(c: &mut TurnClient) -> Vec<u8> {
    let t = c.poll_transmit().expect("a datagram for the server");
    assert_eq!((t.source, t.destination), (a(BASE), a(SERVER)));
    t.contents
}

fn answer(c: &mut TurnClient, now: Instant, bytes: &[u8]) {
    assert_eq!(c.handle_datagram(now, a(SERVER), bytes), Received::Handled);
}

/// A client with an allocation of `lifetime` seconds, and its server.
fn allocated(lifetime: u32) -> (TurnClient, Server, Instant) {
    let now = t0();
    let s = Server::new();
    let mut c = TurnClient::new(now, a(SERVER), a(BASE), creds(), 1);
    let first = Server::request(&sent(&mut c));
    answer(&mut c, now, &s.error(&first, 401, true));
    let second = Server::request(&sent(&mut c));
    assert!(s.authentic(&second));
    answer(&mut c, now, &s.allocated(&second, lifetime));
    assert_eq!(
        c.poll_event(),
        Some(TurnEvent::Allocated {
            relay: a(RELAY),
            mapped: Some(a(MAPPED))
        })
    );
    (c, s, now)
}

#[test]
fn the_first_allocate_request_matches_the_vector() {
    let mut c = TurnClient::new(t0(), a(SERVER), a(BASE), creds(), 1);
    let bytes = sent(&mut c);
    // Allocate request, 16 bytes of attributes, magic cookie, then the id.
    assert_eq!(
        &bytes[..8],
        &[0x00, 0x03, 0x00, 0x10, 0x21, 0x12, 0xa4, 0x42]
    );
    assert_eq!(
        &bytes[20..],
        &[
            0x00, 0x19, 0x00, 0x04, 17, 0, 0, 0, // REQUESTED-TRANSPORT: UDP
            0x00, 0x0d, 0x00, 0x04, 0, 0, 0x02, 0x58, // LIFETIME: 600 s
        ]
    );
}

#[test]
fn allocation_answers_the_challenge_with_long_term_credentials() {
    let (c, _, now) = allocated(600);
    assert_eq!(c.relay_address(), Some(a(RELAY)));
    assert_eq!(c.mapped_address(), Some(a(MAPPED)));
    assert_eq!(c.poll_timeout(), Some(now + Duration::from_secs(300)));
}

#[test]
fn refresh_comes_at_half_the_granted_lifetime() {
    let (mut c, s, start) = allocated(120);
    assert_eq!(c.poll_timeout(), Some(start + Duration::from_secs(60)));
    let now = start + Duration::from_secs(60);
    c.handle_timeout(now);
    let refresh = Server::request(&sent(&mut c));
    assert_eq!(refresh.method(), REFRESH);
    assert!(s.authentic(&refresh));
    assert_eq!(
        refresh.get_attribute::<Lifetime>().map(Lifetime::lifetime),
        Some(Duration::from_secs(600))
    );
    answer(
        &mut c,
        now,
        &s.success(&refresh, vec![Lifetime::from_u32(120).into()]),
    );
    assert_eq!(c.poll_timeout(), Some(now + Duration::from_secs(60)));
    assert_eq!(c.poll_event(), None);
}

#[test]
fn a_stale_nonce_is_replaced_and_the_request_sent_again() {
    let (mut c, mut s, start) = allocated(120);
    let now = start + Duration::from_secs(60);
    c.handle_timeout(now);
    let refresh = Server::request(&sent(&mut c));
    s.nonce = Nonce::new("n2".into()).unwrap();
    assert!(!s.authentic(&refresh), "the old nonce is stale now");
    answer(&mut c, now, &s.error(&refresh, 438, true));
    let again = Server::request(&sent(&mut c));
    assert!(s.authentic(&again), "resent with the new nonce");
    assert_ne!(again.transaction_id(), refresh.transaction_id());
    answer(
        &mut c,
        now,
        &s.success(&again, vec![Lifetime::from_u32(120).into()]),
    );
    assert_eq!(c.relay_address(), Some(a(RELAY)));
    assert_eq!(c.poll_event(), None);
}

#[test]
fn a_401_with_a_new_nonce_re_authenticates_and_one_with_the_same_fails() {
    let (mut c, mut s, start) = allocated(120);
    let now = start + Duration::from_secs(60);
    c.handle_timeout(now);
    let refresh = Server::request(&sent(&mut c));
    s.nonce = Nonce::new("after-restart".into()).unwrap();
    answer(&mut c, now, &s.error(&refresh, 401, true));
    let again = Server::request(&sent(&mut c));
    assert!(s.authentic(&again));
    // The server still says 401 to the very nonce it just handed out: the
    // credentials themselves are wrong.
    answer(&mut c, now, &s.error(&again, 401, true));
    assert_eq!(c.poll_transmit(), None);
    let Some(TurnEvent::Failed(error)) = c.poll_event() else {
        panic!("the allocation fails");
    };
    assert_eq!(
        error.to_string(),
        "TURN server 192.0.2.1:3478 refused the credentials of user \"1700000000:alice\" (401 Unauthorized)"
    );
    assert!(c.is_over());
}

#[test]
fn a_wrong_password_fails_the_allocation_clearly() {
    let now = t0();
    let mut s = Server::new();
    s.password = "other".into();
    let mut c = TurnClient::new(now, a(SERVER), a(BASE), creds(), 1);
    let first = Server::request(&sent(&mut c));
    answer(&mut c, now, &s.error(&first, 401, true));
    let second = Server::request(&sent(&mut c));
    assert!(!s.authentic(&second));
    answer(&mut c, now, &s.error(&second, 401, true));
    assert!(matches!(
        c.poll_event(),
        Some(TurnEvent::Failed(TurnError::Unauthorized { .. }))
    ));
    assert_eq!(c.poll_timeout(), None, "nothing left to do");
}

#[test]
fn no_answer_fails_after_seven_tries() {
    let start = t0();
    let mut c = TurnClient::new(start, a(SERVER), a(BASE), creds(), 1);
    let mut sent_count = 0;
    let mut now = start;
    while let Some(next) = c.poll_timeout() {
        sent_count += std::iter::from_fn(|| c.poll_transmit()).count();
        now = next;
        c.handle_timeout(now);
    }
    assert_eq!(sent_count, 7);
    assert_eq!(now - start, Duration::from_millis(500 * 127));
    let Some(TurnEvent::Failed(error)) = c.poll_event() else {
        panic!("the allocation fails");
    };
    assert_eq!(
        error.to_string(),
        "TURN server 192.0.2.1:3478 did not answer Allocate (7 tries)"
    );
}

#[test]
fn a_success_without_our_integrity_is_ignored() {
    let now = t0();
    let s = Server::new();
    let mut c = TurnClient::new(now, a(SERVER), a(BASE), creds(), 1);
    let first = Server::request(&sent(&mut c));
    answer(&mut c, now, &s.error(&first, 401, true));
    let second = Server::request(&sent(&mut c));
    let mut forged = Server::new();
    forged.password = "attacker".into();
    answer(&mut c, now, &forged.allocated(&second, 600));
    assert_eq!(c.relay_address(), None);
    assert_eq!(c.poll_event(), None);
    answer(&mut c, now, &s.allocated(&second, 600));
    assert_eq!(c.relay_address(), Some(a(RELAY)));
}

#[test]
fn other_errors_name_the_code_and_reason() {
    let now = t0();
    let s = Server::new();
    let mut c = TurnClient::new(now, a(SERVER), a(BASE), creds(), 1);
    let first = Server::request(&sent(&mut c));
    answer(&mut c, now, &s.error(&first, 401, true));
    let second = Server::request(&sent(&mut c));
    let mut m: TurnMessage = Message::new(
        MessageClass::ErrorResponse,
        ALLOCATE,
        second.transaction_id(),
    );
    m.add_attribute(ErrorCode::new(486, "Allocation Quota Reached".into()).unwrap());
    let user = second.get_attribute::<Username>().unwrap().clone();
    let mi = MessageIntegrity::new_long_term_credential(&m, &user, &s.realm, "secret").unwrap();
    m.add_attribute(mi);
    answer(&mut c, now, &codec::encode(m).unwrap());
    let Some(TurnEvent::Failed(error)) = c.poll_event() else {
        panic!("the allocation fails");
    };
    assert_eq!(
        error.to_string(),
        "TURN server 192.0.2.1:3478 refused Allocate: 486 Allocation Quota Reached"
    );
}

/// Binds a channel to PEER by sending to it; returns the ChannelBind request.
fn bind(c: &mut TurnClient, s: &Server, now: Instant) -> TurnMessage {
    assert!(c.send_to(now, a(PEER), b"first"));
    let req = Server::request(&sent(c));
    assert_eq!(req.method(), CHANNEL_BIND);
    assert!(s.authentic(&req));
    assert_eq!(
        req.get_attribute::<XorPeerAddress>()
            .map(XorPeerAddress::address),
        Some(a(PEER))
    );
    assert!(c.send_to(now, a(PEER), b"second"), "held while binding");
    assert_eq!(c.poll_transmit(), None);
    answer(c, now, &s.success(&req, vec![]));
    req
}

#[test]
fn data_goes_out_as_channel_data_once_bound() {
    let (mut c, s, now) = allocated(600);
    let req = bind(&mut c, &s, now);
    let number = req.get_attribute::<ChannelNumber>().unwrap().value();
    assert_eq!(number, 0x4000);
    assert_eq!(sent(&mut c), codec::channel_data(number, b"first").unwrap());
    assert_eq!(
        sent(&mut c),
        codec::channel_data(number, b"second").unwrap()
    );
    assert!(c.send_to(now, a(PEER), b"third"));
    assert_eq!(sent(&mut c), codec::channel_data(number, b"third").unwrap());
}

#[test]
fn channel_data_and_data_indications_come_back_unwrapped() {
    let (mut c, s, now) = allocated(600);
    bind(&mut c, &s, now);
    let incoming = codec::channel_data(0x4000, b"pong").unwrap();
    assert_eq!(
        c.handle_datagram(now, a(SERVER), &incoming),
        Received::Data {
            peer: a(PEER),
            data: b"pong".to_vec()
        }
    );
    let other: SocketAddr = "198.51.100.8:7000".parse().unwrap();
    let mut ind: TurnMessage =
        Message::new(MessageClass::Indication, DATA, TransactionId::new([5; 12]));
    ind.add_attribute(XorPeerAddress::new(other));
    ind.add_attribute(Data::new(b"hello".to_vec()).unwrap());
    assert_eq!(
        c.handle_datagram(now, a(SERVER), &codec::encode(ind).unwrap()),
        Received::Data {
            peer: other,
            data: b"hello".to_vec()
        }
    );
    assert_eq!(
        c.handle_datagram(now, a(PEER), &incoming),
        Received::NotOurs
    );
    let unbound = codec::channel_data(0x4abc, b"x").unwrap();
    assert_eq!(
        c.handle_datagram(now, a(SERVER), &unbound),
        Received::Handled
    );
}

#[test]
fn a_used_channel_is_rebound_and_an_idle_one_lapses() {
    let (mut c, s, start) = allocated(3600);
    bind(&mut c, &s, start);
    std::iter::from_fn(|| c.poll_transmit()).for_each(drop);
    // Used after binding: rebound at five minutes, same number.
    assert!(c.send_to(start + Duration::from_secs(10), a(PEER), b"x"));
    sent(&mut c);
    let at = start + Duration::from_secs(300);
    assert_eq!(c.poll_timeout(), Some(at));
    c.handle_timeout(at);
    let rebind = Server::request(&sent(&mut c));
    assert_eq!(rebind.method(), CHANNEL_BIND);
    assert_eq!(
        rebind.get_attribute::<ChannelNumber>().unwrap().value(),
        0x4000
    );
    answer(&mut c, at, &s.success(&rebind, vec![]));
    // Idle for the next five minutes: no refresh, the binding lapses.
    let later = at + Duration::from_secs(300);
    c.handle_timeout(later);
    assert_eq!(c.poll_transmit(), None);
    assert!(c.send_to(later, a(PEER), b"y"));
    let fresh = Server::request(&sent(&mut c));
    assert_eq!(fresh.method(), CHANNEL_BIND);
    assert_eq!(
        fresh.get_attribute::<ChannelNumber>().unwrap().value(),
        0x4001,
        "a new binding, not the lapsed one"
    );
}

#[test]
fn a_refused_binding_is_reported_and_its_data_dropped() {
    let (mut c, s, now) = allocated(600);
    assert!(c.send_to(now, a(PEER), b"x"));
    let req = Server::request(&sent(&mut c));
    let mut m: TurnMessage = Message::new(
        MessageClass::ErrorResponse,
        CHANNEL_BIND,
        req.transaction_id(),
    );
    m.add_attribute(ErrorCode::new(403, "Forbidden".into()).unwrap());
    let user = req.get_attribute::<Username>().unwrap().clone();
    let mi = MessageIntegrity::new_long_term_credential(&m, &user, &s.realm, "secret").unwrap();
    m.add_attribute(mi);
    answer(&mut c, now, &codec::encode(m).unwrap());
    assert!(matches!(
        c.poll_event(),
        Some(TurnEvent::PeerRefused { peer, error: TurnError::Refused { code: 403, .. } }) if peer == a(PEER)
    ));
    assert_eq!(c.poll_transmit(), None);
    assert_eq!(c.relay_address(), Some(a(RELAY)), "the allocation stays");
}

#[test]
fn permissions_are_requested_and_kept_while_used() {
    let (mut c, s, start) = allocated(3600);
    let ip: IpAddr = "198.51.100.9".parse().unwrap();
    c.create_permission(start, ip);
    let req = Server::request(&sent(&mut c));
    assert_eq!(req.method(), CREATE_PERMISSION);
    assert_eq!(
        req.get_attribute::<XorPeerAddress>()
            .unwrap()
            .address()
            .ip(),
        ip
    );
    answer(&mut c, start, &s.success(&req, vec![]));
    let at = start + Duration::from_secs(240);
    c.handle_timeout(at);
    assert_eq!(c.poll_transmit(), None, "unused: left to lapse");
}

#[test]
fn deallocate_sends_a_zero_lifetime() {
    let (mut c, s, now) = allocated(600);
    c.deallocate(now);
    let req = Server::request(&sent(&mut c));
    assert_eq!(req.method(), REFRESH);
    assert_eq!(
        req.get_attribute::<Lifetime>().map(Lifetime::lifetime),
        Some(Duration::ZERO)
    );
    answer(
        &mut c,
        now,
        &s.success(&req, vec![Lifetime::from_u32(0).into()]),
    );
    assert!(c.is_over());
    assert_eq!(c.poll_event(), None);
}

#[test]
fn garbage_from_the_server_is_dropped() {
    let (mut c, _, now) = allocated(600);
    for junk in [
        &b""[..],
        b"\x00\x01",
        &[0u8; 40],
        &[0x01; 20],
        &[0x40, 0, 0xff, 0xff],
    ] {
        assert_eq!(c.handle_datagram(now, a(SERVER), junk), Received::Handled);
    }
    assert_eq!(c.poll_event(), None);
}
