//! TURN credentials for each authenticated session, so that users never
//! configure a relay: coturn's shared-secret scheme, made from the secret the
//! hub shares with its TURN server.

use super::{ConnId, Hub};
use crate::signal::{HubMsg, UserName};
use crate::turn::TurnCredentials;

impl Hub {
    /// Sends `user`'s session on `conn` fresh TURN credentials, if the hub
    /// has a TURN server; `unix` is the time now.
    pub(super) fn send_turn_grant(&mut self, conn: ConnId, user: &UserName, unix: u64) {
        let Some(turn) = &self.config.turn else {
            return;
        };
        let expires_at = unix.saturating_add(turn.lifetime.as_secs());
        let c = TurnCredentials::shared_secret(&turn.secret, user.as_str(), expires_at);
        let msg = HubMsg::Turn {
            server: turn.server,
            username: c.username,
            password: c.password,
            expires_at,
        };
        self.send(conn, &msg);
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{UNIX0, key, u};
    use super::super::{HubConfig, HubInput, HubOutput, HubTurn};
    use super::*;
    use crate::signal::decode_hub;
    use crate::token::TokenKind;
    use brume_tests::origin as t0;

    fn frames_after_hello(turn: Option<HubTurn>) -> Vec<HubMsg> {
        let now = t0();
        let mut config = HubConfig::new(key());
        config.turn = turn;
        let mut hub = Hub::new(config, [u("alice")], now, UNIX0);
        let token = key().mint(&u("alice"), TokenKind::Access, UNIX0, 600);
        hub.handle_input(now, HubInput::Opened(ConnId(1)));
        let hello = format!(r#"{{"type":"hello","version":2,"token":"{token}"}}"#);
        hub.handle_input(now, HubInput::Frame(ConnId(1), hello.as_bytes()));
        std::iter::from_fn(|| hub.poll_output())
            .filter_map(|o| match o {
                HubOutput::Send { frame, .. } => decode_hub(frame.as_bytes()).ok(),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_session_gets_turn_credentials_right_after_welcome() {
        let server = "192.0.2.1:3478".parse().unwrap();
        let mut turn = HubTurn::new(server, b"brume-test-secret".to_vec());
        turn.lifetime = std::time::Duration::from_secs(3600);
        let frames = frames_after_hello(Some(turn));
        assert!(matches!(frames[0], HubMsg::Welcome { .. }), "{frames:?}");
        let expires_at = UNIX0 + 3600;
        let want = TurnCredentials::shared_secret(b"brume-test-secret", "alice", expires_at);
        assert_eq!(
            frames[1],
            HubMsg::Turn {
                server,
                username: format!("{expires_at}:alice"),
                password: want.password,
                expires_at,
            }
        );
    }

    #[test]
    fn no_turn_server_no_credentials() {
        let frames = frames_after_hello(None);
        assert!(matches!(frames[0], HubMsg::Welcome { .. }));
        assert!(!frames.iter().any(|f| matches!(f, HubMsg::Turn { .. })));
    }

    #[test]
    fn the_secret_stays_out_of_debug_output() {
        let turn = HubTurn::new("192.0.2.1:3478".parse().unwrap(), b"hush".to_vec());
        assert!(!format!("{turn:?}").contains("hush"));
    }
}
