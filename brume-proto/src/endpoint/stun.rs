//! A sans-IO STUN binding client: learns this endpoint's server-reflexive
//! address from a STUN server, for one more ICE candidate.
//!
//! Requests are the 20-byte RFC 8489 header with no attributes. Responses are
//! read here too, bounds-checked: str0m's STUN parser is made for ICE and
//! refuses any binding reply without MESSAGE-INTEGRITY, which a public STUN
//! server does not send.

use core::net::SocketAddr;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::event::Transmit;

const MAGIC_COOKIE: [u8; 4] = [0x21, 0x12, 0xa4, 0x42];
/// RFC 8489's schedule, shortened: 500 ms doubling, seven tries.
const FIRST_RTO: Duration = Duration::from_millis(500);
const MAX_TRIES: u32 = 7;

#[derive(Debug)]
struct Probe {
    trans_id: [u8; 12],
    tries: u32,
    next: Option<Instant>,
}

#[derive(Debug)]
pub(crate) struct StunClient {
    server: SocketAddr,
    probes: BTreeMap<SocketAddr, Probe>,
    out: Vec<Transmit>,
}

impl StunClient {
    pub(crate) fn new(server: SocketAddr) -> Self {
        Self {
            server,
            probes: BTreeMap::new(),
            out: Vec::new(),
        }
    }

    /// Starts probing from a new local address.
    pub(crate) fn add_base(&mut self, now: Instant, base: SocketAddr, trans_id: [u8; 12]) {
        if base.is_ipv4() != self.server.is_ipv4() || self.probes.contains_key(&base) {
            return;
        }
        self.probes.insert(
            base,
            Probe {
                trans_id,
                tries: 0,
                next: Some(now),
            },
        );
        self.handle_timeout(now);
    }

    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        for (base, probe) in &mut self.probes {
            let Some(next) = probe.next.filter(|n| *n <= now) else {
                continue;
            };
            if probe.tries >= MAX_TRIES {
                probe.next = None; // no server answered; host candidates remain
                continue;
            }
            let _ = next;
            probe.tries += 1;
            probe.next = Some(now + FIRST_RTO * (1 << (probe.tries - 1)));
            self.out.push(Transmit {
                source: *base,
                destination: self.server,
                contents: binding_request(&probe.trans_id),
            });
        }
    }

    /// If this datagram is our server's answer, the mapped address it reports.
    pub(crate) fn handle_response(
        &mut self,
        source: SocketAddr,
        destination: SocketAddr,
        contents: &[u8],
    ) -> Option<SocketAddr> {
        if source != self.server {
            return None;
        }
        let probe = self.probes.get_mut(&destination)?;
        if contents.get(8..20)? != probe.trans_id {
            return None;
        }
        let mapped = parse_binding_success(contents)?;
        probe.next = None;
        Some(mapped)
    }

    pub(crate) fn next_timeout(&self) -> Option<Instant> {
        self.probes.values().filter_map(|p| p.next).min()
    }

    pub(crate) fn poll_transmit(&mut self) -> Option<Transmit> {
        if self.out.is_empty() {
            None
        } else {
            Some(self.out.remove(0))
        }
    }
}

/// The (XOR-)MAPPED-ADDRESS of a binding success response; `None` for anything else.
fn parse_binding_success(msg: &[u8]) -> Option<SocketAddr> {
    if msg.get(0..2)? != [0x01, 0x01] || msg.get(4..8)? != MAGIC_COOKIE {
        return None;
    }
    let len = usize::from(u16::from_be_bytes([*msg.get(2)?, *msg.get(3)?]));
    let mut attrs = msg.get(20..20 + len)?;
    let mut plain = None;
    while attrs.len() >= 4 {
        let typ = u16::from_be_bytes([attrs[0], attrs[1]]);
        let alen = usize::from(u16::from_be_bytes([attrs[2], attrs[3]]));
        let value = attrs.get(4..4 + alen)?;
        match typ {
            0x0020 => return read_address(value, true),
            0x0001 => plain = read_address(value, false),
            _ => {}
        }
        // Attributes are padded to four bytes.
        attrs = attrs.get((4 + alen).div_ceil(4) * 4..).unwrap_or(&[]);
    }
    plain
}

/// An IPv4 address attribute: reserved, family 1, port, address.
fn read_address(value: &[u8], xor: bool) -> Option<SocketAddr> {
    let [_, 0x01, p0, p1, a0, a1, a2, a3] = *value.get(..8)? else {
        return None;
    };
    let (mut port, mut ip) = (
        u16::from_be_bytes([p0, p1]),
        u32::from_be_bytes([a0, a1, a2, a3]),
    );
    if xor {
        port ^= 0x2112;
        ip ^= u32::from_be_bytes(MAGIC_COOKIE);
    }
    Some(SocketAddr::from((core::net::Ipv4Addr::from(ip), port)))
}

/// A BINDING request: type 0x0001, no attributes, the magic cookie, the id.
pub(crate) fn binding_request(trans_id: &[u8; 12]) -> Vec<u8> {
    let mut out = Vec::with_capacity(20);
    out.extend_from_slice(&[0x00, 0x01, 0x00, 0x00]);
    out.extend_from_slice(&MAGIC_COOKIE);
    out.extend_from_slice(trans_id);
    out
}

/// A STUN server's answer to a binding request (the hub's STUN server,
/// simulations): a success response with XOR-MAPPED-ADDRESS for an IPv4
/// `mapped`; `None` for anything but a well-formed binding request.
pub fn binding_response(request: &[u8], mapped: SocketAddr) -> Option<Vec<u8>> {
    let SocketAddr::V4(v4) = mapped else {
        return None;
    };
    let trans_id = request.get(8..20)?;
    if request.get(0..2)? != [0x00, 0x01] || request.get(4..8)? != MAGIC_COOKIE {
        return None;
    }
    let mut out = vec![0x01, 0x01, 0x00, 0x0c];
    out.extend_from_slice(&MAGIC_COOKIE);
    out.extend_from_slice(trans_id);
    out.extend_from_slice(&[0x00, 0x20, 0x00, 0x08, 0x00, 0x01]);
    out.extend_from_slice(&(v4.port() ^ 0x2112).to_be_bytes());
    let ip = u32::from(*v4.ip()) ^ u32::from_be_bytes(MAGIC_COOKIE);
    out.extend_from_slice(&ip.to_be_bytes());
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use brume_tests::origin as t0;

    #[test]
    fn a_request_is_the_bare_rfc_8489_header() {
        let bytes = binding_request(&[7; 12]);
        assert_eq!(&bytes[..8], &[0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42]);
        assert_eq!(&bytes[8..], &[7; 12]);
    }

    #[test]
    fn the_mapped_address_comes_back_from_a_matching_answer() {
        let server: SocketAddr = "192.0.2.1:3478".parse().unwrap();
        let base: SocketAddr = "10.0.0.1:5000".parse().unwrap();
        let mapped: SocketAddr = "203.0.113.9:41000".parse().unwrap();
        let mut c = StunClient::new(server);
        c.add_base(t0(), base, [3; 12]);
        let request = c.poll_transmit().unwrap().contents;
        let answer = binding_response(&request, mapped).unwrap();
        assert_eq!(c.handle_response(server, base, &answer), Some(mapped));
        assert_eq!(c.next_timeout(), None, "probing stops once answered");
        let mut wrong = answer.clone();
        wrong[8] ^= 1;
        assert_eq!(c.handle_response(server, base, &wrong), None);
    }

    #[test]
    fn probes_retransmit_then_give_up() {
        let server: SocketAddr = "192.0.2.1:3478".parse().unwrap();
        let base: SocketAddr = "10.0.0.1:5000".parse().unwrap();
        let mut c = StunClient::new(server);
        let start = t0();
        c.add_base(start, base, [1; 12]);
        let first = c.poll_transmit().unwrap();
        assert_eq!((first.source, first.destination), (base, server));
        let mut now = start;
        let mut sent = 1;
        while let Some(next) = c.next_timeout() {
            now = next;
            c.handle_timeout(now);
            sent += std::iter::from_fn(|| c.poll_transmit()).count();
        }
        assert_eq!(sent, MAX_TRIES as usize);
        // 0.5 + 1 + 2 + 4 + 8 + 16 s of waits before the last try, then 32 s.
        assert_eq!(now - start, Duration::from_millis(500 * 127));
    }

    #[test]
    fn only_the_matching_answer_counts() {
        let server: SocketAddr = "192.0.2.1:3478".parse().unwrap();
        let base: SocketAddr = "10.0.0.1:5000".parse().unwrap();
        let mut c = StunClient::new(server);
        c.add_base(t0(), base, [9; 12]);
        assert_eq!(
            c.handle_response(server, base, &binding_request(&[9; 12])),
            None
        );
        assert_eq!(c.handle_response(server, base, b"short"), None);
    }

    #[test]
    fn truncated_or_odd_answers_are_ignored() {
        let mapped: SocketAddr = "203.0.113.9:41000".parse().unwrap();
        let answer = binding_response(&binding_request(&[1; 12]), mapped).unwrap();
        assert_eq!(parse_binding_success(&answer), Some(mapped));
        for cut in 0..answer.len() {
            assert_eq!(parse_binding_success(&answer[..cut]), None, "cut at {cut}");
        }
        let mut huge_len = answer.clone();
        huge_len[2] = 0xff;
        assert_eq!(parse_binding_success(&huge_len), None);
    }
}
