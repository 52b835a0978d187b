//! The UDP socket for peer traffic: sized buffers (4 MiB, with socket2),
//! reads until `WouldBlock`, and a queue for sends that would block, which
//! are retried when the socket is writable and never dropped.
//!
//! Owns: the socket, its send queue, drop counters. Never: looks inside
//! datagrams (the endpoint demultiplexes).

use std::collections::VecDeque;
use std::io;
use std::net::{IpAddr, SocketAddr};

use anyhow::{Context, Result};
use brume_proto::endpoint::Transmit;
use socket2::{Domain, Protocol, Socket, Type};
use tracing::{debug, warn};

/// The socket buffer size asked of the kernel.
pub const SOCKET_BUFFER: usize = 4 << 20;
/// The largest datagram read.
pub const MAX_DATAGRAM: usize = 2048;

/// One bound UDP socket.
#[derive(Debug)]
pub struct Udp {
    sock: mio::net::UdpSocket,
    local: SocketAddr,
    queue: VecDeque<Transmit>,
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
        Ok(Self {
            sock: mio::net::UdpSocket::from_std(std),
            local,
            queue: VecDeque::new(),
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

    /// Sends now, or queues if the socket would block (or others wait already).
    pub fn send(&mut self, t: Transmit) {
        if t.source != self.local {
            warn!(source = %t.source, "a transmit from an address with no socket");
            self.send_errors += 1;
            return;
        }
        if !self.queue.is_empty() {
            self.queue.push_back(t);
            return;
        }
        match self.sock.send_to(&t.contents, t.destination) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.queue.push_back(t),
            Err(e) => self.failed(&t, &e),
        }
    }

    /// Retries queued sends while the socket takes them; true if none is left.
    pub fn flush(&mut self) -> bool {
        while let Some(t) = self.queue.front() {
            match self.sock.send_to(&t.contents, t.destination) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
                Err(e) => {
                    let t = t.clone();
                    self.failed(&t, &e);
                }
            }
            self.queue.pop_front();
        }
        true
    }

    /// Datagrams waiting for the socket.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    fn failed(&mut self, t: &Transmit, e: &io::Error) {
        // Unreachable hosts and the like: the path is bad, ICE will notice.
        self.send_errors += 1;
        debug!(to = %t.destination, "UDP send failed: {e}");
    }

    /// Reads one datagram: `Ok(None)` when none is waiting.
    pub fn recv(&mut self, buf: &mut [u8]) -> io::Result<Option<(usize, SocketAddr)>> {
        match self.sock.recv_from(buf) {
            Ok(x) => Ok(Some(x)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(e) => Err(e),
        }
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
