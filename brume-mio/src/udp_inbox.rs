//! Datagrams read from a socket in batches: one `recvmmsg` fills several
//! buffers, and with GRO each buffer may hold many datagrams of one size
//! (the last shorter), which are handed out one at a time.
//!
//! Owns: the receive buffers and what the last read put in them.

use std::io::{self, IoSliceMut};
use std::net::SocketAddr;

use quinn_udp::{RecvMeta, UdpSockRef, UdpSocketState};

/// Buffers filled by one read.
const BUFFERS: usize = 4;

/// The receive batch of one socket.
#[derive(Debug)]
pub struct Inbox {
    /// Each is large enough for the biggest GRO list the kernel makes.
    bufs: [Box<[u8]>; BUFFERS],
    meta: [RecvMeta; BUFFERS],
    /// Buffers the last read filled.
    filled: usize,
    /// The buffer and offset of the next datagram to hand out.
    at: (usize, usize),
}

impl Inbox {
    /// Buffers of `size` bytes each; untouched pages cost no memory.
    pub fn new(size: usize) -> Self {
        Self {
            bufs: std::array::from_fn(|_| vec![0; size].into_boxed_slice()),
            meta: std::array::from_fn(|_| RecvMeta::default()),
            filled: 0,
            at: (0, 0),
        }
    }

    /// The next datagram and its source, reading the socket once the last
    /// read is used up: `Ok(None)` when nothing is waiting.
    pub fn next(
        &mut self,
        state: &UdpSocketState,
        sock: &mio::net::UdpSocket,
    ) -> io::Result<Option<(SocketAddr, &[u8])>> {
        loop {
            if let Some((buf, start, end)) = self.take() {
                let addr = self.meta[buf].addr;
                return Ok(Some((addr, &self.bufs[buf][start..end])));
            }
            let mut slices = self.bufs.each_mut().map(|b| IoSliceMut::new(&mut b[..]));
            match state.recv(UdpSockRef::from(sock), &mut slices, &mut self.meta) {
                Ok(n) => {
                    self.filled = n;
                    self.at = (0, 0);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
                Err(e) => return Err(e),
            }
        }
    }

    /// Where the next unread datagram lies, if the last read holds one more.
    fn take(&mut self) -> Option<(usize, usize, usize)> {
        while self.at.0 < self.filled {
            let (buf, start) = self.at;
            let meta = &self.meta[buf];
            if start < meta.len {
                let end = (start + meta.stride.max(1)).min(meta.len);
                self.at.1 = end;
                return Some((buf, start, end));
            }
            self.at = (buf + 1, 0);
        }
        None
    }
}
