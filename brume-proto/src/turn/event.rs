//! What a TURN client tells its owner.

use core::net::SocketAddr;

/// Something the application (or the endpoint) should know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TurnEvent {
    /// The server gave us a relayed transport address: a relay candidate.
    /// `mapped` is our address as the server saw it (server-reflexive).
    Allocated {
        /// The relayed address peers send to.
        relay: SocketAddr,
        /// Our address as seen by the server, if it said.
        mapped: Option<SocketAddr>,
    },
    /// The allocation is gone or never came; relay candidates from it are void.
    Failed(TurnError),
    /// A channel binding or permission was refused; data to that peer is
    /// dropped until the next attempt.
    PeerRefused {
        /// The peer the binding was for.
        peer: SocketAddr,
        /// Why.
        error: TurnError,
    },
}

/// Why a TURN operation failed, in words a user can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TurnError {
    /// The server refused our credentials even with a fresh nonce.
    #[error("TURN server {server} refused the credentials of user {user:?} (401 Unauthorized)")]
    Unauthorized {
        /// The server.
        server: SocketAddr,
        /// The user name we sent.
        user: String,
    },
    /// No answer to a request after every retransmission.
    #[error("TURN server {server} did not answer {request} ({tries} tries)")]
    Timeout {
        /// The server.
        server: SocketAddr,
        /// Which request.
        request: &'static str,
        /// How often it was sent.
        tries: u32,
    },
    /// An error response other than an authentication challenge.
    #[error("TURN server {server} refused {request}: {code} {reason}")]
    Refused {
        /// The server.
        server: SocketAddr,
        /// Which request.
        request: &'static str,
        /// The STUN error code (e.g. 437, 486, 508).
        code: u16,
        /// The server's reason phrase.
        reason: String,
    },
    /// A success response lacking what it must carry.
    #[error("TURN server {server} answered {request} without {missing}")]
    Malformed {
        /// The server.
        server: SocketAddr,
        /// Which request.
        request: &'static str,
        /// The missing attribute.
        missing: &'static str,
    },
}
