//! The UDP socket for peer traffic: sized buffers (4 MiB, with socket2),
//! sends gathered into segmentation-offload batches and reads in batches
//! (quinn-udp: GSO, GRO and `recvmmsg` where the kernel has them), and a
//! queue for sends that would block, which are retried when the socket is
//! writable and never dropped.
//!
//! Owns: the socket, its send queue, its receive batch, drop counters.
//! Never: looks inside datagrams (the endpoint demultiplexes).

use std::collections::VecDeque;
use std::io;
use std::net::{IpAddr, SocketAddr};

use anyhow::{Context, Result};
use brume_proto::endpoint::Transmit;
use quinn_udp::{UdpSockRef, UdpSocketState};
use socket2::{Domain, Protocol, Socket, Type};
use tracing::{debug, warn};

use crate::udp_inbox::Inbox;

/// The socket buffer size asked of the kernel.
pub const SOCKET_BUFFER: usize = 4 << 20;
/// The largest datagram read.
pub const MAX_DATAGRAM: usize = 2048;
/// The most bytes one segmentation-offload send carries: what one IP
/// packet can (the kernel refuses more).
const MAX_BATCH_BYTES: usize = 65_000;

/// One bound UDP socket.
#[derive(Debug)]
pub struct Udp {
    sock: mio::net::UdpSocket,
    state: UdpSocketState,
    local: SocketAddr,
    /// Datagrams to send, oldest first: [`Udp::send`] queues, [`Udp::flush`] sends.
    queue: VecDeque<Transmit>,
    /// A run of queued datagrams laid end to end, for one offloaded send.
    batch: Vec<u8>,
    inbox: Inbox,
    /// Datagrams that failed to send for a reason other than a full buffer.
    pub send_errors: u64,
}

impl Udp {
    /// Binds to `ip` on a free port with 4 MiB buffers.
    pub fn bind(ip: IpAddr) -> Result<Self> {
        let domain = if ip.is_ipv4() {
            Domain::IPV4
        } else {
            Domain::IPV6
        };
        let s = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))?;
        // The kernel caps these at net.core.{r,w}mem_max; say so if it did.
        let _ = s.set_recv_buffer_size(SOCKET_BUFFER);
        let _ = s.set_send_buffer_size(SOCKET_BUFFER);
        let (rcv, snd) = (s.recv_buffer_size()?, s.send_buffer_size()?);
        if rcv < SOCKET_BUFFER || snd < SOCKET_BUFFER {
            debug!(
                rcv,
                snd, "UDP buffers smaller than asked (see net.core.rmem_max)"
            );
        }
        s.set_nonblocking(true)?;
        s.bind(&SocketAddr::new(ip, 0).into())
            .with_context(|| format!("cannot bind a UDP socket on {ip}"))?;
        let std: std::net::UdpSocket = s.into();
        let local = std.local_addr()?;
        // Turns on GRO where the kernel has it: from here on, reads must go
        // through the state (one read may hold many datagrams).
        let state = UdpSocketState::new(UdpSockRef::from(&std))
            .context("cannot set up the UDP socket's batching")?;
        debug!(
            gso = state.max_gso_segments(),
            gro = state.gro_segments(),
            "UDP offload"
        );
        let inbox = Inbox::new(state.gro_segments() * MAX_DATAGRAM);
        Ok(Self {
            sock: mio::net::UdpSocket::from_std(std),
            state,
            local,
            queue: VecDeque::new(),
            batch: Vec::new(),
            inbox,
            send_errors: 0,
        })
    }

    /// The address it is bound to: the source of its transmits.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The socket, to register with mio.
    pub fn source(&mut self) -> &mut mio::net::UdpSocket {
        &mut self.sock
    }

    /// Queues a datagram; [`Udp::flush`] sends it, with those queued beside it.
    pub fn send(&mut self, t: Transmit) {
        if t.source != self.local {
            warn!(source = %t.source, "a transmit from an address with no socket");
            self.send_errors += 1;
            return;
        }
        self.queue.push_back(t);
    }

    /// Sends queued datagrams while the socket takes them, a run of equal
    /// sizes to one destination at a time; true if none is left.
    pub fn flush(&mut self) -> bool {
        while !self.queue.is_empty() {
            let (count, segment) = self.next_run();
            let t = &self.queue[0];
            let contents = if count == 1 {
                &t.contents[..]
            } else {
                self.batch.clear();
                for q in self.queue.range(..count) {
                    self.batch.extend_from_slice(&q.contents);
                }
                &self.batch[..]
            };
            let transmit = quinn_udp::Transmit {
                destination: t.destination,
                ecn: None,
                contents,
                segment_size: (count > 1).then_some(segment),
                src_ip: None,
            };
            match self.state.try_send(UdpSockRef::from(&self.sock), &transmit) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
                // A kernel or device without offload says so once; quinn-udp
                // then stops offloading, and the run goes again one by one.
                Err(_) if count > 1 && self.state.max_gso_segments() == 1 => continue,
                Err(e) => {
                    self.send_errors += count as u64;
                    debug!(to = %t.destination, count, "UDP send failed: {e}");
                }
            }
            self.queue.drain(..count);
        }
        true
    }

    /// How many queued datagrams, from the front, go in one send, and the
    /// size of each but the last (which may be shorter): one destination,
    /// within the offload's limits.
    fn next_run(&self) -> (usize, usize) {
        let first = &self.queue[0];
        let segment = first.contents.len();
        let most = self.state.max_gso_segments();
        let mut count = 1;
        let mut bytes = segment;
        for t in self.queue.iter().skip(1) {
            let len = t.contents.len();
            if count == most
                || segment == 0
                || t.destination != first.destination
                || len > segment
                || bytes + len > MAX_BATCH_BYTES
            {
                break;
            }
            count += 1;
            bytes += len;
            if len < segment {
                break; // a shorter one ends the run
            }
        }
        (count, segment)
    }

    /// Datagrams waiting for the socket.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// The next datagram that arrived, with its source: `Ok(None)` when none
    /// is waiting.
    pub fn recv(&mut self) -> io::Result<Option<(SocketAddr, &[u8])>> {
        self.inbox.next(&self.state, &self.sock)
    }

    /// Datagrams the kernel dropped on this socket for want of buffer room
    /// (the `drops` column of /proc/net/udp); `None` where unknown.
    pub fn kernel_drops(&self) -> Option<u64> {
        let file = if self.local.is_ipv4() {
            "/proc/net/udp"
        } else {
            "/proc/net/udp6"
        };
        let text = std::fs::read_to_string(file).ok()?;
        let port = format!(":{:04X}", self.local.port());
        text.lines().skip(1).find_map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            (cols.get(1)?.ends_with(&port)).then(|| cols.last()?.parse().ok())?
        })
    }
}

/// The local address the OS would use to reach `remote`: the interface for
/// host candidates. (A connected UDP socket sends nothing.)
pub fn route_to(remote: SocketAddr) -> Result<IpAddr> {
    let any: SocketAddr = if remote.is_ipv4() {
        "0.0.0.0:0".parse()?
    } else {
        "[::]:0".parse()?
    };
    let s = std::net::UdpSocket::bind(any)?;
    s.connect(remote)
        .with_context(|| format!("no route to {remote}"))?;
    Ok(s.local_addr()?.ip())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn datagram(from: &Udp, to: &Udp, len: usize, tag: u8) -> Transmit {
        Transmit {
            source: from.local_addr(),
            destination: to.local_addr(),
            contents: vec![tag; len],
        }
    }

    #[test]
    fn queued_datagrams_arrive_whole_and_in_order_through_batched_sends_and_reads() {
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let (mut a, mut b) = (Udp::bind(ip).unwrap(), Udp::bind(ip).unwrap());
        // Runs of equal sizes, a shorter one that ends a run, a longer one
        // that starts the next, and more than one send's worth in all.
        let sizes: Vec<usize> = (0..300)
            .map(|i| match i % 50 {
                17 => 300,
                18 => 1300,
                _ => 1200,
            })
            .collect();
        for (i, len) in sizes.iter().enumerate() {
            let t = datagram(&a, &b, *len, i as u8);
            a.send(t);
        }
        assert!(a.flush(), "loopback with 4 MiB buffers takes 300 datagrams");
        assert_eq!(a.queued(), 0);
        let mut got = Vec::new();
        let end = Instant::now() + Duration::from_secs(10);
        while got.len() < sizes.len() && Instant::now() < end {
            if let Some((from, data)) = b.recv().unwrap() {
                assert_eq!(from, a.local_addr());
                got.push(data.to_vec());
            }
        }
        assert_eq!(got.len(), sizes.len(), "every datagram arrives");
        for (i, (d, len)) in got.iter().zip(&sizes).enumerate() {
            assert_eq!(d.len(), *len, "datagram {i}'s length");
            assert!(d.iter().all(|&x| x == i as u8), "datagram {i}'s bytes");
        }
        assert_eq!(b.recv().unwrap(), None);
    }

    #[test]
    fn a_run_is_one_destination_of_equal_sizes_ended_by_a_shorter_one() {
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let (mut a, b, c) = (
            Udp::bind(ip).unwrap(),
            Udp::bind(ip).unwrap(),
            Udp::bind(ip).unwrap(),
        );
        for (to, len) in [(&b, 1000), (&b, 1000), (&b, 400), (&b, 1000), (&c, 1000)] {
            let t = datagram(&a, to, len, 0);
            a.send(t);
        }
        let most = a.state.max_gso_segments();
        let (count, segment) = a.next_run();
        assert_eq!(segment, 1000);
        assert_eq!(count, 3.min(most), "the shorter third ends the run");
        a.queue.drain(..count);
        if most > 1 {
            assert_eq!(a.next_run(), (1, 1000), "another destination ends it");
        }
    }
}
