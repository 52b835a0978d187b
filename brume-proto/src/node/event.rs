//! What a [`Node`](super::Node) hands its driver and its application.

use crate::endpoint::EndpointEvent;
use crate::error::ErrorCode;
use crate::signal::{Address, UserName};
use crate::sync::SyncOutput;
use crate::transfer::TransferEvent;

/// Something for the hub connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToHub {
    /// Send this text frame.
    Frame(String),
    /// Close the connection, after sending the frames before this one.
    Close,
}

/// What happened, for the application.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeEvent {
    /// From the connections: the hub session, peers, messages, media, and
    /// channels that are not file transfers.
    Endpoint(EndpointEvent),
    /// From the file transfers.
    Transfer(TransferEvent),
    /// A message given to [`Node::send_to`](super::Node::send_to) did not go
    /// out: the connection it waited for failed.
    Undelivered {
        /// The name it was sent to.
        to: Address,
        /// Its application type.
        kind: String,
        /// Why, as a code.
        code: ErrorCode,
        /// Why, for people.
        reason: String,
    },
    /// From sync (with [`Node::enable_sync`](super::Node::enable_sync)):
    /// what needs the group folders (run steps, accept a batch into the
    /// staging folder, install, send files, rescan), and what to log.
    Sync(SyncOutput),
}

/// Whom [`Node::broadcast`](super::Node::broadcast) reaches, among the open
/// connections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipients {
    /// Every connected peer.
    All,
    /// Every connected device of one user.
    User(UserName),
    /// One device, if connected.
    Device(Address),
}

impl Recipients {
    /// True if `peer`, a connection's address, is among these.
    pub fn includes(&self, peer: &Address) -> bool {
        match self {
            Recipients::All => true,
            Recipients::User(u) => peer.user() == u,
            Recipients::Device(d) => d == peer,
        }
    }
}
