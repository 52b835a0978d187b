//! The hub's optional STUN server (`brume serve --stun-listen`): answers
//! each RFC 8489 Binding request on a UDP port with the sender's address
//! (XOR-MAPPED-ADDRESS), so a small deployment needs no other server for
//! server-reflexive candidates. Anything else is dropped; one thread, no
//! state.

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context, Result};
use brume_proto::endpoint::binding_response;

/// A running STUN server; dropping it stops the thread.
#[derive(Debug)]
pub struct StunServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl StunServer {
    /// Binds `listen` and answers on a thread of its own.
    pub fn spawn(listen: SocketAddr) -> Result<Self> {
        let socket = UdpSocket::bind(listen).with_context(|| format!("STUN on udp {listen}"))?;
        let addr = socket.local_addr()?;
        // A short timeout so that a stop is noticed.
        socket.set_read_timeout(Some(Duration::from_millis(200)))?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("stun".into())
            .spawn(move || serve(&socket, &flag))?;
        Ok(Self {
            addr,
            stop,
            thread: Some(thread),
        })
    }

    /// The address it answers on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for StunServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(socket: &UdpSocket, stop: &AtomicBool) {
    let mut buf = [0u8; 1500];
    while !stop.load(Ordering::Relaxed) {
        let Ok((n, from)) = socket.recv_from(&mut buf) else {
            continue; // a timeout, or an ICMP error from an earlier answer
        };
        if let Some(answer) = binding_response(&buf[..n], from) {
            let _ = socket.send_to(&answer, from);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_a_binding_request_with_the_senders_address() {
        let server = StunServer::spawn("127.0.0.1:0".parse().unwrap()).unwrap();
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        // Garbage first: dropped, and the server goes on.
        client.send_to(b"not stun", server.local_addr()).unwrap();
        let mut request = vec![0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42];
        request.extend_from_slice(&[7; 12]);
        client.send_to(&request, server.local_addr()).unwrap();
        let mut buf = [0u8; 100];
        let (n, from) = client.recv_from(&mut buf).unwrap();
        assert_eq!(from, server.local_addr());
        let me = client.local_addr().unwrap();
        assert_eq!(&buf[..n], binding_response(&request, me).unwrap());
        assert_eq!(&buf[8..20], &[7; 12], "the transaction id comes back");
    }
}
