//! The node's sync child: sync messages and batch transfers are routed to
//! the [`Sync`] machine, and what it asks of the network is done here; what
//! needs files (scans, steps, installs, sending files) reaches the
//! application as [`NodeEvent::Sync`].

use std::time::Instant;

use super::{Node, NodeEvent, ToHub};
use crate::endpoint::{EndpointEvent, PeerStatus};
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
            TransferEvent::Offered { key, name, .. } if !key.outgoing => {
                let taken = sync.handle_offer(key, name);
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

    /// Drains the sync machine; true if it had anything.
    pub(super) fn drain_sync(&mut self, now: Instant) -> bool {
        let mut busy = false;
        while let Some(out) = self.sync.as_mut().and_then(Sync::poll_output) {
            busy = true;
            match out {
                SyncOutput::Send { peer, data } => {
                    if let Err(e) = self
                        .endpoint
                        .send(now, &peer, MESSAGE_TYPE, &Data::Text(data))
                    {
                        let text = format!("cannot send a sync message: {e}");
                        self.events
                            .push_back(NodeEvent::Sync(SyncOutput::Problem { peer, text }));
                    }
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
