//! A sans-IO TURN client (RFC 8656, UDP to the server).
//!
//! [`TurnClient`] holds one allocation on one server from one local socket.
//! Inputs are datagrams from the server and the time; outputs are datagrams
//! to the server ([`TurnClient::poll_transmit`]), a deadline
//! ([`TurnClient::poll_timeout`]) and [`TurnEvent`]s. Peer traffic goes in
//! with [`TurnClient::send_to`] and comes out of
//! [`TurnClient::handle_datagram`], wrapped as ChannelData on the wire.
//!
//! - allocation: unauthenticated Allocate, the 401 challenge, then long-term
//!   credentials (MESSAGE-INTEGRITY keyed by MD5(user:realm:password));
//!   438 (stale nonce) takes the new nonce and retries; a 401 on a request
//!   that already carried credentials re-authenticates once with the new
//!   nonce and fails only if that too is refused.
//! - refresh at half the granted lifetime; [`TurnClient::deallocate`] sends
//!   a zero lifetime.
//! - a channel per peer, bound on first use (which also installs the
//!   permission), refreshed every five minutes only if it carried traffic
//!   since the last refresh, else left to lapse (as firezone's snownet does).
//! - requests retransmit from 500 ms, doubling, seven tries.

mod client;
pub mod codec;
mod credentials;
mod event;

pub use client::{Received, TurnClient};
pub use credentials::TurnCredentials;
pub use event::{TurnError, TurnEvent};
