//! Password login, which the sans-IO hub leaves to its driver: a WebSocket
//! on path `/login` whose first text frame is
//! `{"type":"login","user":..,"password":..}`, answered with one frame
//! (`tokens` or `error`), then closed. See docs/PROTOCOL.md, "Password login".
//!
//! Owns: the messages, and the client side (a short blocking exchange: the
//! `brume login` command has nothing else to do meanwhile).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use brume_proto::ErrorCode;
use serde::{Deserialize, Serialize};

use crate::url::HubUrl;

/// The path of the login endpoint.
pub const LOGIN_PATH: &str = "/login";
/// Access tokens minted at login live this long.
pub const ACCESS_LIFETIME: u64 = 3600;
/// Refresh tokens minted at login live this long (90 days).
pub const REFRESH_LIFETIME: u64 = 90 * 24 * 3600;

/// The client's one frame.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LoginRequest {
    /// Log in with a password.
    Login {
        /// The user name.
        user: String,
        /// The password.
        password: String,
    },
}

/// The hub's one frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LoginReply {
    /// Logged in.
    Tokens {
        /// The user name.
        user: String,
        /// An access token (for `hello`).
        access_token: String,
        /// A refresh token (for `refresh`).
        refresh_token: String,
        /// The access token's expiry, Unix seconds.
        expires_at: u64,
    },
    /// Refused.
    Error {
        /// `ELOGIN` (wrong name or password), `EBADMSG` or `EBUSY`; a code
        /// this version does not know reads as `EUNKNOWN`.
        code: ErrorCode,
        /// For people.
        message: String,
    },
}

enum Blocking {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Read for Blocking {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Blocking::Plain(s) => s.read(buf),
            Blocking::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Blocking {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Blocking::Plain(s) => s.write(buf),
            Blocking::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Blocking::Plain(s) => s.flush(),
            Blocking::Tls(s) => s.flush(),
        }
    }
}

/// How long reaching the hub and its WebSocket handshake may take in all.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the hub may take to answer the login itself (argon2 is slow on purpose).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// Logs in at the hub behind `url`; returns `(user, access, refresh)`.
pub fn login(
    url: &HubUrl,
    user: &str,
    password: &str,
    ca: Option<&Path>,
) -> Result<(String, String, String)> {
    // Unreachable, the login fails as every client names it: ECONNREFUSED.
    let unreachable = || {
        format!(
            "cannot reach the hub at {url} ({})",
            ErrorCode::ConnRefused.as_str()
        )
    };
    let addr = url.resolve().with_context(unreachable)?;
    let start = Instant::now();
    let tcp = TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT).with_context(unreachable)?;
    // A port that accepts and never answers is not a hub: the handshake
    // gets what is left of the connect timeout, not the answer's.
    let left = CONNECT_TIMEOUT
        .saturating_sub(start.elapsed())
        .max(Duration::from_millis(100));
    tcp.set_read_timeout(Some(left))?;
    tcp.set_write_timeout(Some(left))?;
    tcp.set_nodelay(true)?;
    let stream = if url.tls {
        let config: Arc<rustls::ClientConfig> = crate::stream::client_config(ca)?;
        let name = rustls::pki_types::ServerName::try_from(url.host.clone())?;
        let conn = rustls::ClientConnection::new(config, name)?;
        Blocking::Tls(Box::new(rustls::StreamOwned::new(conn, tcp)))
    } else {
        Blocking::Plain(tcp)
    };
    let target = url.with_path(LOGIN_PATH).to_string();
    let (mut ws, _) =
        tungstenite::client::client_with_config(target.as_str(), stream, Some(crate::ws::config()))
            .map_err(|e| not_a_hub(url, &e))?;
    let tcp = match ws.get_mut() {
        Blocking::Plain(s) => &*s,
        Blocking::Tls(s) => s.get_ref(),
    };
    tcp.set_read_timeout(Some(ANSWER_TIMEOUT))?;
    let req = LoginRequest::Login {
        user: user.to_owned(),
        password: password.to_owned(),
    };
    let text = serde_json::to_string(&req)?;
    ws.send(tungstenite::Message::text(text))
        .map_err(|e| anyhow!("login failed: {e}"))?;
    loop {
        let msg = ws.read().map_err(|e| anyhow!("login failed: {e}"))?;
        let tungstenite::Message::Text(t) = msg else {
            continue;
        };
        let reply: LoginReply = serde_json::from_str(t.as_str())
            .map_err(|e| anyhow!("the hub answered the login oddly: {e}"))?;
        let _ = ws.close(None);
        let _ = ws.flush();
        return match reply {
            LoginReply::Tokens {
                user,
                access_token,
                refresh_token,
                ..
            } => Ok((user, access_token, refresh_token)),
            LoginReply::Error { message, .. } => bail!("login refused: {message}"),
        };
    }
}

/// A failed handshake, for people: whatever answered is not a Brume hub.
fn not_a_hub<S>(url: &HubUrl, e: &tungstenite::HandshakeError<S>) -> anyhow::Error
where
    S: tungstenite::handshake::HandshakeRole,
{
    use tungstenite::error::Error as WsError;
    let failure = match e {
        tungstenite::HandshakeError::Failure(f) => f,
        // A blocking stream only stops half-way when its timeout expires.
        tungstenite::HandshakeError::Interrupted(_) => {
            return anyhow!(
                "no Brume hub answered at {url} within {} s",
                CONNECT_TIMEOUT.as_secs()
            );
        }
    };
    match failure {
        WsError::Io(io)
            if matches!(
                io.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) =>
        {
            anyhow!(
                "no Brume hub answered at {url} within {} s",
                CONNECT_TIMEOUT.as_secs()
            )
        }
        WsError::Tls(_) | WsError::Io(_) => anyhow!("cannot reach the hub at {url}: {failure}"),
        other => anyhow!("no Brume hub at {url}: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_replies_carry_codes_of_the_one_list() {
        let reply = LoginReply::Error {
            code: ErrorCode::Login,
            message: "wrong user name or password".into(),
        };
        let text = serde_json::to_string(&reply).unwrap();
        assert_eq!(
            text,
            r#"{"type":"error","code":"ELOGIN","message":"wrong user name or password"}"#
        );
        // A code from a newer hub still reads, as EUNKNOWN, with its message.
        let newer: LoginReply =
            serde_json::from_str(r#"{"type":"error","code":"ENEWER","message":"m"}"#).unwrap();
        assert_eq!(
            newer,
            LoginReply::Error {
                code: ErrorCode::Unknown,
                message: "m".into()
            }
        );
    }
}
