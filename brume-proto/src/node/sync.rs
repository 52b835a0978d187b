//! The node's sync child: sync messages and batch transfers are routed to
//! the [`Sync`] machine, and what it asks of the network is done here; what
//! needs files (scans, steps, installs, sending files) reaches the
//! application as [`NodeEvent::Sync`].

use std::collections::VecDeque;
use std::time::Instant;

use super::{Node, NodeEvent, ToHub};

use crate::endpoint::{EndpointError, EndpointEvent, PeerStatus};
use crate::framing::Data;
use crate::signal::codec::encode_client;
use crate::signal::{Address, ClientMsg, GroupName, UserName};
use crate::sync::wire::MESSAGE_TYPE;
use crate::sync::{Sync, SyncOutput};
use crate::transfer::{TransferEvent, TransferState};

impl Node {
    /// Turns sync on for user `me` (off by default): messages of type
    /// `brume-sync` and the batch transfers sync asks for are then the sync
    /// machine's, not the application's.
    pub fn enable_sync(&mut self, me: UserName) {
        self.sync = Some(Sync::new(me));
    }

    /// The sync machine, if on.
    pub fn sync(&self) -> Option<&Sync> {
        self.sync.as_ref()
    }

    /// The sync machine, to tell it of groups (`own`, `follow`); its outputs
    /// are handled by the next call or poll.
    pub fn sync_mut(&mut self) -> Option<&mut Sync> {
        self.dirty = true;
        self.sync.as_mut()
    }

    /// Publishes the members of our group `group` to the hub (from its
    /// `.members`), once the hub session is ready. The hub answers with the
    /// list it holds, or an error (`EBADDEST` naming an unknown user) that
    /// the application hears as `HubError`.
    pub fn publish_members(&mut self, now: Instant, group: GroupName, members: Vec<UserName>) {
        let msg = ClientMsg::Members { group, members };
        self.to_hub.push_back(ToHub::Frame(encode_client(&msg)));
        self.touch(now);
    }

    /// An endpoint event, before the application sees it: true if sync took it.
    pub(super) fn sync_endpoint_event(&mut self, e: &EndpointEvent) -> bool {
        let Some(sync) = self.sync.as_mut() else {
            return false;
        };
        match e {
            EndpointEvent::Message { peer, kind, data } if kind == MESSAGE_TYPE => {
                sync.handle_message(peer, data.as_bytes());
                true
            }
            EndpointEvent::PeerOpen { peer } | EndpointEvent::PeerReconnected { peer } => {
                sync.peer_opened(peer);
                false
            }
            EndpointEvent::PeerClosed { peer, .. } | EndpointEvent::PeerFailed { peer, .. } => {
                sync.peer_closed(peer);
                false
            }
            _ => false,
        }
    }

    /// A transfer event, before the application sees it: true if sync took it.
    pub(super) fn sync_transfer_event(&mut self, e: &TransferEvent) -> bool {
        let Some(sync) = self.sync.as_mut() else {
            return false;
        };
        match e {
            TransferEvent::Offered {
                key, name, entries, ..
            } if !key.outgoing => {
                let taken = sync.handle_offer(key, name, entries);
                if taken {
                    self.sync_batches.insert(key.clone(), name.clone());
                }
                taken
            }
            TransferEvent::State { key, state } => {
                let Some(name) = self.sync_batches.get(key).cloned() else {
                    return false;
                };
                match state {
                    TransferState::Done => {
                        self.sync_batches.remove(key);
                        sync.handle_transfer_done(key.peer.user(), &name);
                    }
                    TransferState::Cancelled => {
                        self.sync_batches.remove(key);
                        sync.handle_transfer_failed(key.peer.user(), &name, "cancelled");
                    }
                    _ => {}
                }
                false
            }
            TransferEvent::Cancelled { key, reason, .. } => {
                if let Some(name) = self.sync_batches.remove(key) {
                    sync.handle_transfer_failed(key.peer.user(), &name, reason);
                }
                false
            }
            _ => false,
        }
    }

    /// Writes queued sync messages while each peer's send buffer has room
    /// (a manifest of 10,000 files is some 25 messages, more than the buffer
    /// holds at once); the rest wait for the next drain. True if any went.
    fn flush_sync_outbox(&mut self, now: Instant) -> bool {
        if self.sync_outbox.is_empty() {
            return false; // the common case, on every drain
        }
        let mut sent = false;
        let peers: Vec<Address> = self.sync_outbox.keys().cloned().collect();
        for peer in peers {
            while let Some(data) = self.sync_outbox.get(&peer).and_then(VecDeque::front) {
                let data = Data::Text(data.clone());
                match self.endpoint.send(now, &peer, MESSAGE_TYPE, &data) {
                    Ok(()) => {
                        sent = true;
                        self.sync_outbox.get_mut(&peer).map(VecDeque::pop_front);
                    }
                    // Kept: acknowledgements arriving drain the node again.
                    Err(EndpointError::SendBufferFull(_)) => break,
                    Err(e) => {
                        let text = format!("cannot send a sync message: {e}");
                        let problem = SyncOutput::Problem {
                            peer: peer.clone(),
                            text,
                        };
                        self.events.push_back(NodeEvent::Sync(problem));
                        self.sync_outbox.remove(&peer);
                        break;
                    }
                }
            }
            if self.sync_outbox.get(&peer).is_some_and(VecDeque::is_empty) {
                self.sync_outbox.remove(&peer);
            }
        }
        sent
    }

    /// Drains the sync machine; true if it had anything.
    pub(super) fn drain_sync(&mut self, now: Instant) -> bool {
        let mut busy = self.flush_sync_outbox(now);
        while let Some(out) = self.sync.as_mut().and_then(Sync::poll_output) {
            busy = true;
            match out {
                SyncOutput::Send { peer, data } => {
                    self.sync_outbox.entry(peer).or_default().push_back(data);
                    self.flush_sync_outbox(now);
                }
                SyncOutput::Connect { owner, group } => {
                    let peer = Address::User(owner.clone());
                    let open = self
                        .endpoint
                        .peers()
                        .find(|p| {
                            *p.user() == owner
                                && matches!(self.endpoint.peer_state(p), Some(PeerStatus::Open))
                        })
                        .cloned();
                    if let Some(open) = open {
                        if let Some(s) = self.sync.as_mut() {
                            s.peer_opened(&open);
                        }
                    } else {
                        // An attempt under way reports PeerOpen or PeerFailed
                        // itself; one that failed is tried again.
                        let busy = self.endpoint.peers().any(|p| {
                            *p.user() == owner
                                && matches!(
                                    self.endpoint.peer_state(p),
                                    Some(
                                        PeerStatus::Offering
                                            | PeerStatus::Connecting
                                            | PeerStatus::Incoming
                                            | PeerStatus::Recovering
                                    )
                                )
                        });
                        if !busy && let Err(e) = self.endpoint.connect(now, &peer, Some(group)) {
                            let text = format!("cannot connect for sync: {e}");
                            self.events
                                .push_back(NodeEvent::Sync(SyncOutput::Problem { peer, text }));
                        }
                    }
                }
                other => self.events.push_back(NodeEvent::Sync(other)),
            }
        }
        busy
    }
}
