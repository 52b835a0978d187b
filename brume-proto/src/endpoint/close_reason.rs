//! Why an open connection ended, as the application sees it.

use core::fmt;

/// Why [`EndpointEvent::PeerClosed`](super::EndpointEvent::PeerClosed) came.
/// Text inside a variant may come from the peer: escape it before showing it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PeerCloseReason {
    /// This endpoint closed it ([`close_peer`](super::Endpoint::close_peer)
    /// or [`stop`](super::Endpoint::stop)).
    Local,
    /// The peer closed its main channel or the connection: a goodbye.
    Remote,
    /// The peer offered a new connection, so it lost the old one (it
    /// restarted, say); the new attempt follows as `Incoming`.
    Replaced,
    /// The peer declined our ICE restart, with its words.
    RestartRefused {
        /// The peer's reason.
        reason: String,
    },
    /// The peer stayed unreachable for `recovery_limit`: it vanished.
    ConnectionLost,
    /// The WebRTC stack ended the connection without an error.
    Ended,
    /// The WebRTC stack failed on this connection.
    Webrtc {
        /// str0m's error.
        error: String,
    },
    /// An offer or answer could not be written on the main channel, so
    /// renegotiation could never finish.
    ControlWrite {
        /// Why the write failed.
        error: String,
    },
}

impl PeerCloseReason {
    /// True if the peer vanished rather than ended the connection on purpose.
    pub fn is_loss(&self) -> bool {
        matches!(self, PeerCloseReason::ConnectionLost)
    }
}

impl fmt::Display for PeerCloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeerCloseReason::Local => f.write_str("closed locally"),
            PeerCloseReason::Remote => f.write_str("closed by the peer"),
            PeerCloseReason::Replaced => f.write_str("the peer started a new connection"),
            PeerCloseReason::RestartRefused { reason } => {
                write!(f, "the peer refused to restart the connection: {reason}")
            }
            PeerCloseReason::ConnectionLost => f.write_str("connection lost"),
            PeerCloseReason::Ended => f.write_str("the connection ended"),
            PeerCloseReason::Webrtc { error } => write!(f, "webrtc: {error}"),
            PeerCloseReason::ControlWrite { error } => {
                write!(f, "a control message could not be sent: {error}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_says_why_and_only_a_loss_is_a_loss() {
        assert_eq!(
            PeerCloseReason::ConnectionLost.to_string(),
            "connection lost"
        );
        assert_eq!(
            PeerCloseReason::RestartRefused {
                reason: "busy".into()
            }
            .to_string(),
            "the peer refused to restart the connection: busy"
        );
        assert!(PeerCloseReason::ConnectionLost.is_loss());
        assert!(!PeerCloseReason::Remote.is_loss());
        assert!(!PeerCloseReason::Local.is_loss());
    }
}
