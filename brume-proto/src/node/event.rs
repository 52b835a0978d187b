//! What a [`Node`](super::Node) hands its driver and its application.

use crate::endpoint::EndpointEvent;
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
    /// From sync (with [`Node::enable_sync`](super::Node::enable_sync)):
    /// what needs the group folders (run steps, accept a batch into the
    /// staging folder, install, send files, rescan), and what to log.
    Sync(SyncOutput),
}
