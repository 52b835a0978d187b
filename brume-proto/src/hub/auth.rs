//! Authentication: `hello` with an access token, `refresh` with a refresh
//! token, and one live session per user name.

use std::time::Instant;

use super::session::SessionState;
use super::{ConnId, Hub, HubEvent, error_msg};
use crate::error::ErrorCode;
use crate::signal::{ClientMsg, CloseReason, HubMsg, PROTOCOL_VERSION, UserName};
use crate::token::{TokenError, TokenKind};

impl Hub {
    pub(super) fn on_unauthenticated(&mut self, now: Instant, conn: ConnId, msg: ClientMsg) {
        match msg {
            ClientMsg::Hello { version, token } => {
                if !self.version_ok(conn, version, true) {
                    return;
                }
                let unix = self.unix_time(now);
                match self.verify(token.as_deref(), TokenKind::Access, unix) {
                    Ok(user) => self.authenticate(conn, user),
                    Err(e) => self.auth_failed(conn, &e),
                }
            }
            ClientMsg::Refresh {
                version,
                refresh_token,
            } => self.on_refresh(now, conn, None, version, refresh_token.as_deref()),
            ClientMsg::Ping { nonce } => self.send(conn, &HubMsg::Pong { nonce }),
            ClientMsg::Close { .. } => self.close_session(conn, CloseReason::Client),
            other => {
                let text = format!("authenticate before `{}`", other.kind());
                self.send(conn, &error_msg(ErrorCode::NotAuthenticated, None, &text));
            }
        }
    }

    /// Trades a refresh token for an access token. A session that was not yet
    /// authenticated is authenticated by it; one that was must present a
    /// refresh token for its own user.
    pub(super) fn on_refresh(
        &mut self,
        now: Instant,
        conn: ConnId,
        current: Option<&UserName>,
        version: u32,
        refresh_token: Option<&str>,
    ) {
        if !self.version_ok(conn, version, current.is_none()) {
            return;
        }
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
            self.authenticate(conn, user);
        }
        self.send(
            conn,
            &HubMsg::Token {
                access_token,
                expires_at: unix.saturating_add(lifetime),
            },
        );
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

    /// Binds the session to `user`; an older session of the same user is
    /// closed as `replaced`, so a reconnecting client never finds its name taken.
    fn authenticate(&mut self, conn: ConnId, user: UserName) {
        let replaced = match self.online.get(&user) {
            Some(&old) if old != conn => {
                self.close_session(old, CloseReason::Replaced);
                true
            }
            _ => false,
        };
        let Some(session) = self.sessions.get_mut(&conn) else {
            return;
        };
        session.state = SessionState::Authenticated { user: user.clone() };
        self.online.insert(user.clone(), conn);
        self.event(HubEvent::Authenticated {
            conn,
            user: user.clone(),
        });
        self.reschedule_session(conn);
        let limits = self.config.limits.session_limits();
        self.send(
            conn,
            &HubMsg::Welcome {
                version: PROTOCOL_VERSION,
                user: user.clone(),
                limits,
            },
        );
        if !replaced {
            self.broadcast_presence(&user, true);
        }
        for mate in self.groups.mates(&user) {
            let online = self.online.contains_key(&mate);
            self.send(conn, &HubMsg::Presence { user: mate, online });
        }
    }
}
