//! Authentication: `hello` with an access token, `refresh` with a refresh
//! token, and the devices of a user: one live session per device, at most
//! `max_devices` per user, instance names for sessions that take no calls.

use std::time::Instant;

use super::session::SessionState;
use super::{ConnId, Hub, HubEvent, error_msg};
use crate::error::ErrorCode;
use crate::signal::{
    ClientMsg, CloseReason, DeviceName, HubMsg, PROTOCOL_VERSION, PeerId, UserName,
};
use crate::token::{TokenError, TokenKind};

/// What a `hello` or `refresh` asks for its session.
#[derive(Debug)]
pub(super) struct Login {
    device: DeviceName,
    calls: bool,
    replace: bool,
}

impl Default for Login {
    fn default() -> Self {
        Login {
            device: DeviceName::default(),
            calls: true,
            replace: true,
        }
    }
}

impl Hub {
    pub(super) fn on_unauthenticated(&mut self, now: Instant, conn: ConnId, msg: ClientMsg) {
        match msg {
            ClientMsg::Hello {
                version,
                token,
                device,
                calls,
                replace,
            } => {
                if !self.version_ok(conn, version, true) {
                    return;
                }
                let Some(device) = self.requested_device(conn, device) else {
                    return;
                };
                let unix = self.unix_time(now);
                match self.verify(token.as_deref(), TokenKind::Access, unix) {
                    Ok(user) => {
                        let login = Login {
                            device,
                            calls,
                            replace,
                        };
                        if self.authenticate(conn, user.clone(), login) {
                            self.send_turn_grant(conn, &user, unix);
                        }
                    }
                    Err(e) => self.auth_failed(conn, &e),
                }
            }
            ClientMsg::Refresh {
                version,
                refresh_token,
                device,
                calls,
                replace,
            } => {
                if !self.version_ok(conn, version, true) {
                    return;
                }
                if let Some(device) = self.requested_device(conn, device) {
                    let login = Some(Login {
                        device,
                        calls,
                        replace,
                    });
                    self.refresh(now, conn, None, login, refresh_token.as_deref());
                }
            }
            ClientMsg::Ping { nonce } => self.send(conn, &HubMsg::Pong { nonce }),
            ClientMsg::Close { .. } => self.close_session(conn, CloseReason::Client),
            other => {
                let text = format!("authenticate before `{}`", other.kind());
                self.send(conn, &error_msg(ErrorCode::NotAuthenticated, None, &text));
            }
        }
    }

    /// A `refresh` on a live session: a new access token for its own user.
    pub(super) fn on_refresh(
        &mut self,
        now: Instant,
        conn: ConnId,
        current: Option<&UserName>,
        version: u32,
        refresh_token: Option<&str>,
    ) {
        if self.version_ok(conn, version, current.is_none()) {
            self.refresh(now, conn, current, None, refresh_token);
        }
    }

    /// The device a `hello` or `refresh` asks for; an instance name `x~N`
    /// is the hub's to give and is refused (`EBADMSG`).
    fn requested_device(&mut self, conn: ConnId, device: Option<DeviceName>) -> Option<DeviceName> {
        let device = device.unwrap_or_default();
        if device.instance().is_none() {
            return Some(device);
        }
        let text = format!("device {device}: names with ~N are assigned by the hub");
        self.send(conn, &error_msg(ErrorCode::BadMessage, None, &text));
        None
    }

    /// Trades a refresh token for an access token. A session that was not yet
    /// authenticated (`current` is `None`) is authenticated by it, on the
    /// device of `login`; one that was must present a refresh token for its
    /// own user.
    fn refresh(
        &mut self,
        now: Instant,
        conn: ConnId,
        current: Option<&UserName>,
        login: Option<Login>,
        refresh_token: Option<&str>,
    ) {
        let unix = self.unix_time(now);
        let user = match self.verify(refresh_token, TokenKind::Refresh, unix) {
            Ok(user) => user,
            Err(e) if current.is_none() => return self.auth_failed(conn, &e),
            Err(e) => {
                self.event(HubEvent::AuthFailed {
                    conn,
                    code: e.code(),
                    reason: e.to_string(),
                });
                return self.send(conn, &error_msg(e.code(), None, &e.to_string()));
            }
        };
        if current.is_some_and(|c| *c != user) {
            let e = TokenError::Invalid("refresh token belongs to another user".into());
            return self.send(conn, &error_msg(e.code(), None, &e.to_string()));
        }
        let lifetime = self.config.access_token_lifetime.as_secs();
        // `verify` found the user at this generation.
        let generation = self.users.generation(&user).unwrap_or_default();
        let access_token =
            self.config
                .key
                .mint_generation(&user, generation, TokenKind::Access, unix, lifetime);
        if current.is_none() {
            let login = login.unwrap_or_default();
            if !self.authenticate(conn, user.clone(), login) {
                return; // refused: over the device limit
            }
        }
        self.send(
            conn,
            &HubMsg::Token {
                access_token,
                expires_at: unix.saturating_add(lifetime),
            },
        );
        if current.is_none() {
            self.send_turn_grant(conn, &user, unix);
        }
    }

    /// A mismatched version is told clearly and, before authentication, closed.
    fn version_ok(&mut self, conn: ConnId, version: u32, close: bool) -> bool {
        if version == PROTOCOL_VERSION {
            return true;
        }
        let text = format!("client speaks version {version}; this hub speaks {PROTOCOL_VERSION}");
        self.send(conn, &error_msg(ErrorCode::Version, None, &text));
        if close {
            self.close_session(conn, CloseReason::Version);
        }
        false
    }

    /// The token's user, if it is one of ours and the token is of their
    /// current generation (an older one was revoked).
    fn verify(
        &self,
        token: Option<&str>,
        kind: TokenKind,
        unix: u64,
    ) -> Result<UserName, TokenError> {
        let (user, claims) = self.config.key.verify(token, kind, unix)?;
        match self.users.generation(&user) {
            None => Err(TokenError::Invalid(format!("unknown user {user}"))),
            Some(current) if current != claims.generation => Err(TokenError::Revoked),
            Some(_) => Ok(user),
        }
    }

    fn auth_failed(&mut self, conn: ConnId, e: &TokenError) {
        self.event(HubEvent::AuthFailed {
            conn,
            code: e.code(),
            reason: e.to_string(),
        });
        self.send(conn, &error_msg(e.code(), None, &e.to_string()));
        let max = self.config.limits.max_auth_failures;
        let Some(session) = self.sessions.get_mut(&conn) else {
            return;
        };
        if let SessionState::Pending { failures, .. } = &mut session.state {
            *failures = failures.saturating_add(1);
            if *failures >= max {
                self.close_session(conn, CloseReason::AuthFailed);
            }
        }
    }

    /// Binds the session to `user` on a device. Accepting calls, it takes
    /// `device` itself, and an older session on it is closed as `replaced`, so
    /// a reconnecting client never finds its device taken. Not accepting
    /// calls, it gets `device~N`, the smallest N free, and replaces no one.
    /// A login that would replace but asked not to is treated as one that
    /// takes no calls. Past `max_devices` (without a replacement) the session
    /// is refused and closed (`ELIMIT`, `too_many_devices`); returns whether
    /// it was bound.
    fn authenticate(&mut self, conn: ConnId, user: UserName, login: Login) -> bool {
        let Login {
            device,
            calls,
            replace,
        } = login;
        let held = self
            .online
            .get(&PeerId::new(user.clone(), device.clone()))
            .is_some_and(|c| c != conn);
        let calls = calls && (replace || !held);
        let max = self.config.limits.max_devices;
        let before = self.accepting_devices(&user);
        let device = if calls {
            Some(device)
        } else {
            self.online.free_instance(&user, &device)
        };
        let peer = device.map(|device| PeerId::new(user.clone(), device));
        // Only a session that takes calls replaces one (and only its own
        // device: instance names are never asked for).
        let old = peer
            .as_ref()
            .filter(|_| calls)
            .and_then(|p| self.online.get(p))
            .filter(|&old| old != conn);
        let Some(peer) = peer.filter(|_| old.is_some() || self.online.count(&user) < max) else {
            let text = format!("at most {max} devices per user");
            self.send(conn, &error_msg(ErrorCode::Limit, None, &text));
            self.close_session(conn, CloseReason::TooManyDevices);
            return false;
        };
        if let Some(old) = old {
            self.close_session(old, CloseReason::Replaced);
        }
        let Some(session) = self.sessions.get_mut(&conn) else {
            return false;
        };
        session.state = SessionState::Authenticated {
            peer: peer.clone(),
            calls,
            last_used: 0,
        };
        self.touch(conn);
        self.online.insert(peer.clone(), conn);
        self.event(HubEvent::Authenticated {
            conn,
            user: user.clone(),
            device: peer.device.clone(),
        });
        self.reschedule_session(conn);
        let limits = self.config.limits.session_limits();
        self.send(
            conn,
            &HubMsg::Welcome {
                version: PROTOCOL_VERSION,
                user: user.clone(),
                device: peer.device,
                limits,
            },
        );
        if self.accepting_devices(&user) != before {
            self.broadcast_presence(&user);
        }
        for mate in self.groups.mates(&user) {
            let presence = self.presence_msg(&mate);
            self.send(conn, &presence);
        }
        true
    }
}
