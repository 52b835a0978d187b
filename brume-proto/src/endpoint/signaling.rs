//! The endpoint's signaling session with the hub:
//! disconnected → authenticating → ready → closed.

use std::time::Instant;

use super::hub_watch::HubWatchAction;
use super::peer::PeerState;
use super::{Endpoint, EndpointEvent, EndpointOutput};
use crate::error::ErrorCode;
use crate::signal::{ClientMsg, HubMsg, PROTOCOL_VERSION, PeerId, UserName, decode_hub};

#[derive(Debug)]
pub(crate) enum HubState {
    /// No hub connection.
    Disconnected,
    /// `hello` (or `refresh`) sent; `refreshed` once a refresh was tried.
    Authenticating { refreshed: bool },
    /// Authenticated as `user`.
    Ready { user: UserName },
    /// Stopped for good.
    Closed,
}

impl HubState {
    pub(crate) fn user(&self) -> Option<&UserName> {
        match self {
            HubState::Ready { user } => Some(user),
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
            HubMsg::Welcome { user, .. } => {
                self.hub = HubState::Ready { user: user.clone() };
                if !self.subscriptions.is_empty() {
                    let users = self.subscriptions.iter().cloned().collect();
                    self.send_hub(&ClientMsg::Subscribe { users });
                }
                self.event(EndpointEvent::Ready { user });
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
                let user = from.user.clone();
                self.on_offer(now, user, attempt.clone(), group, &sdp, restart);
                self.remember_device(from, &attempt);
            }
            HubMsg::Answer { attempt, from, sdp } => {
                self.on_answer(now, &from.user, &attempt, &sdp);
                self.remember_device(from, &attempt);
            }
            HubMsg::Candidate {
                attempt,
                from,
                candidate,
            } => self.on_candidate(now, &from.user, &attempt, &candidate),
            HubMsg::Reject {
                attempt,
                from,
                reason,
            } => self.on_reject(now, &from.user, &attempt, reason),
            HubMsg::Cancel {
                attempt,
                from,
                reason,
            } => self.on_cancel(&from.user, &attempt, reason),
            HubMsg::Presence { user, online, .. } => {
                self.event(EndpointEvent::Presence { user, online })
            }
            HubMsg::Members { .. } | HubMsg::Pong { .. } | HubMsg::Unknown => {}
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

    /// Peers are still keyed by user: the device an attempt's offer or
    /// answer came from is kept on the peer, for its ICE restarts.
    fn remember_device(&mut self, from: PeerId, attempt: &crate::signal::AttemptId) {
        if let Some(p) = self.peers.get_mut(&from.user)
            && p.attempt == *attempt
        {
            p.remote = Some(from);
        }
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
