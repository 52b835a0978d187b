//! The endpoint's signaling session with the hub:
//! disconnected → authenticating → ready → closed.

use std::time::Instant;

use super::hub_watch::HubWatchAction;
use super::peer::PeerState;
use super::{Endpoint, EndpointEvent, EndpointOutput};
use crate::error::ErrorCode;
use crate::signal::{
    Address, AttemptId, ClientMsg, HubMsg, PROTOCOL_VERSION, PeerId, UserName, decode_hub,
};

#[derive(Debug)]
pub(crate) enum HubState {
    /// No hub connection.
    Disconnected,
    /// `hello` (or `refresh`) sent; `refreshed` once a refresh was tried.
    Authenticating { refreshed: bool },
    /// Authenticated as `me`: our user, on the device the hub confirmed.
    Ready { me: PeerId },
    /// Stopped for good.
    Closed,
}

impl HubState {
    pub(crate) fn user(&self) -> Option<&UserName> {
        self.me().map(|me| &me.user)
    }

    pub(crate) fn me(&self) -> Option<&PeerId> {
        match self {
            HubState::Ready { me } => Some(me),
            _ => None,
        }
    }
}

impl Endpoint {
    /// The driver's WebSocket to the hub is open: the endpoint authenticates.
    pub fn hub_connected(&mut self, now: Instant) {
        if self.stopped {
            return;
        }
        self.last_now = self.last_now.max(now);
        self.hub_watch.heard(now);
        self.hub = HubState::Authenticating { refreshed: false };
        self.send_hub(&ClientMsg::Hello {
            version: PROTOCOL_VERSION,
            token: Some(self.config.access_token.clone()),
            device: Some(self.config.device.clone()),
            calls: self.config.accepts_calls,
            replace: self.config.replaces_device,
        });
    }

    /// The hub connection is gone. Open peers carry on; attempts still
    /// waiting on signaling fail with `ESERVER`.
    pub fn hub_closed(&mut self, now: Instant) {
        if matches!(self.hub, HubState::Disconnected | HubState::Closed) {
            return;
        }
        self.hub = HubState::Disconnected;
        self.hub_watch.stop();
        self.lose_signaling(now);
        self.event(EndpointEvent::HubClosed {
            reason: None,
            error: None,
        });
    }

    /// A text frame arrived from the hub.
    pub fn handle_hub_frame(&mut self, now: Instant, bytes: &[u8]) {
        if self.stopped {
            return;
        }
        self.last_now = self.last_now.max(now);
        self.pump_deferred(now);
        if !matches!(self.hub, HubState::Disconnected | HubState::Closed) {
            self.hub_watch.heard(now);
        }
        let msg = match decode_hub(bytes) {
            Ok(msg) => msg,
            Err(e) => {
                return self.event(EndpointEvent::HubError {
                    code: e.code(),
                    message: format!("from the hub: {e}"),
                });
            }
        };
        match msg {
            HubMsg::Welcome { user, device, .. } => {
                let me = PeerId::new(user.clone(), device.clone());
                self.hub = HubState::Ready { me };
                if !self.subscriptions.is_empty() {
                    let users = self.subscriptions.iter().cloned().collect();
                    self.send_hub(&ClientMsg::Subscribe { users });
                }
                self.event(EndpointEvent::Ready { user, device });
            }
            HubMsg::Token {
                access_token,
                expires_at,
            } => {
                self.config.access_token = access_token.clone();
                self.event(EndpointEvent::Reauth {
                    access_token,
                    expires_at,
                });
            }
            HubMsg::Offer {
                attempt,
                from,
                group,
                sdp,
                restart,
            } => {
                self.on_offer(now, from, attempt, group, &sdp, restart);
            }
            HubMsg::Answer { attempt, from, sdp } => {
                let key = self.answered(&from, &attempt);
                self.on_answer(now, &key, &attempt, &sdp);
            }
            HubMsg::Candidate {
                attempt,
                from,
                candidate,
            } => {
                let key = self.key_of(&from, &attempt);
                self.on_candidate(now, &key, &attempt, &candidate)
            }
            HubMsg::Reject {
                attempt,
                from,
                reason,
            } => {
                let key = self.key_of(&from, &attempt);
                self.on_reject(now, &key, &attempt, reason)
            }
            HubMsg::Cancel {
                attempt,
                from,
                reason,
            } => {
                let key = self.key_of(&from, &attempt);
                self.on_cancel(&key, &attempt, reason)
            }
            HubMsg::Presence {
                user,
                online,
                devices,
            } => self.event(EndpointEvent::Presence {
                user,
                online,
                devices,
            }),
            HubMsg::Invitation {
                token,
                alias,
                expires_at,
            } => self.event(EndpointEvent::Invitation {
                token,
                alias,
                expires_at,
            }),
            HubMsg::Contact { user, alias } => self.event(EndpointEvent::Contact { user, alias }),
            HubMsg::Contacts { contacts } => self.event(EndpointEvent::Contacts { contacts }),
            HubMsg::Members { .. } | HubMsg::Pong { .. } | HubMsg::Unknown => {}
            HubMsg::Turn {
                server,
                username,
                password,
                ..
            } => self.on_turn_grant(now, server, username, password),
            HubMsg::Ping { nonce } => self.send_hub(&ClientMsg::Pong { nonce }),
            HubMsg::Error {
                code,
                attempt,
                message,
            } => self.on_hub_error(now, code, attempt, message),
            HubMsg::Close { reason } => {
                self.hub = HubState::Disconnected;
                self.hub_watch.stop();
                self.outputs.push_back(EndpointOutput::CloseHub);
                self.lose_signaling(now);
                self.event(EndpointEvent::HubClosed {
                    reason: Some(reason),
                    error: None,
                });
            }
        }
    }

    /// The key of the peer a reply from `from` about `attempt` is for: its
    /// device, or, while our call to the bare user is unanswered, the user.
    fn key_of(&self, from: &PeerId, attempt: &AttemptId) -> Address {
        let device = Address::Device(from.clone());
        let user = Address::User(from.user.clone());
        match self.peers.get(&user) {
            Some(p) if p.attempt == *attempt && !self.peers.contains_key(&device) => user,
            _ => device,
        }
    }

    /// An answer from `from`: a call we made to the bare user now knows its
    /// device, and the peer is keyed by it from here on.
    fn answered(&mut self, from: &PeerId, attempt: &AttemptId) -> Address {
        let device = Address::Device(from.clone());
        let user = Address::User(from.user.clone());
        if self.key_of(from, attempt) != user {
            return device;
        }
        if let Some(peer) = self.peers.remove(&user) {
            self.peers.insert(device.clone(), peer);
        }
        for owner in self.learned.values_mut() {
            if *owner == user {
                *owner = device.clone();
            }
        }
        if self.unpumped.remove(&user) {
            self.unpumped.insert(device.clone());
        }
        device
    }

    fn on_hub_error(
        &mut self,
        now: Instant,
        code: ErrorCode,
        attempt: Option<crate::signal::AttemptId>,
        message: String,
    ) {
        if let HubState::Authenticating { refreshed } = self.hub {
            // An expired access token, or one the hub no longer accepts (a
            // damaged config, a rotated key), is worth one refresh.
            let refusable = matches!(code, ErrorCode::TokenExpired | ErrorCode::TokenInvalid);
            match (&self.config.refresh_token, refusable, refreshed) {
                (Some(refresh), true, false) => {
                    let refresh_token = Some(refresh.clone());
                    self.hub = HubState::Authenticating { refreshed: true };
                    self.send_hub(&ClientMsg::Refresh {
                        version: PROTOCOL_VERSION,
                        refresh_token,
                        device: Some(self.config.device.clone()),
                        calls: self.config.accepts_calls,
                        replace: self.config.replaces_device,
                    });
                }
                _ => {
                    self.hub = HubState::Disconnected;
                    self.hub_watch.stop();
                    self.outputs.push_back(EndpointOutput::CloseHub);
                    self.event(EndpointEvent::HubClosed {
                        reason: None,
                        error: Some(code),
                    });
                }
            }
            return;
        }
        if let Some(attempt) = attempt {
            // An error about one of our attempts ends it; about anything
            // else (a glare loser's leftover, an old restart) it is moot.
            let owner = self
                .peers
                .iter()
                .find(|(_, p)| {
                    p.attempt == attempt && matches!(p.state, PeerState::Offering { .. })
                })
                .map(|(name, _)| name.clone());
            if let Some(name) = owner {
                self.fail_peer(&name, code, message);
            }
            return;
        }
        let _ = now;
        self.event(EndpointEvent::HubError { code, message });
    }

    /// Pings a quiet hub, and gives up a mute one: the driver is told to
    /// close the connection, and the endpoint carries on as after
    /// [`Endpoint::hub_closed`].
    pub(super) fn check_hub(&mut self, now: Instant) {
        match self.hub_watch.on_timeout(now) {
            None => {}
            Some(HubWatchAction::Ping(nonce)) => self.send_hub(&ClientMsg::Ping { nonce }),
            Some(HubWatchAction::Lost) => {
                self.outputs.push_back(EndpointOutput::CloseHub);
                self.hub_closed(now);
            }
        }
    }

    /// Signaling is gone: attempts that still needed it fail.
    fn lose_signaling(&mut self, _now: Instant) {
        let waiting: Vec<_> = self
            .peers
            .iter()
            .filter(|(_, p)| {
                matches!(
                    p.state,
                    PeerState::Offering { .. } | PeerState::Incoming { .. }
                )
            })
            .map(|(name, _)| name.clone())
            .collect();
        for name in waiting {
            self.fail_peer(
                &name,
                ErrorCode::Server,
                "the signaling session ended".into(),
            );
        }
    }
}
