//! A sans-IO STUN binding client: learns this endpoint's server-reflexive
//! address from a STUN server, for one more ICE candidate.
//!
//! Requests are the 20-byte RFC 8489 header with no attributes; responses are
//! parsed by str0m's STUN parser and matched on the transaction id.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use str0m::ice::StunMessage;

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
        let msg = StunMessage::parse(contents).ok()?;
        if !msg.is_successful_binding_response() {
            return None;
        }
        probe.next = None;
        msg.mapped_address()
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

/// A BINDING request: type 0x0001, no attributes, the magic cookie, the id.
pub(crate) fn binding_request(trans_id: &[u8; 12]) -> Vec<u8> {
    let mut out = Vec::with_capacity(20);
    out.extend_from_slice(&[0x00, 0x01, 0x00, 0x00]);
    out.extend_from_slice(&MAGIC_COOKIE);
    out.extend_from_slice(trans_id);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_clock::t0;

    #[test]
    fn a_request_parses_as_a_binding_request() {
        let bytes = binding_request(&[7; 12]);
        let msg = StunMessage::parse(&bytes).unwrap();
        assert!(msg.is_binding_request());
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
}
