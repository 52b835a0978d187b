//! TURN long-term credentials, and coturn's shared-secret scheme for making
//! short-lived ones (`use-auth-secret`, the "TURN REST API").

use base64::Engine;
use hmac::{KeyInit, Mac};

/// A user name and password for a TURN server's long-term credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct TurnCredentials {
    /// The USERNAME attribute's value.
    pub username: String,
    /// The password; with the realm it keys every request's MESSAGE-INTEGRITY.
    pub password: String,
}

impl core::fmt::Debug for TurnCredentials {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // The password stays out of logs.
        f.debug_struct("TurnCredentials")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

impl TurnCredentials {
    /// coturn's `use-auth-secret` credentials: the user name is
    /// `expiry:user` (expiry in Unix seconds) and the password is
    /// base64(HMAC-SHA1(secret, user name)).
    pub fn shared_secret(secret: &[u8], user: &str, expires_unix: u64) -> Self {
        let username = format!("{expires_unix}:{user}");
        let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(secret)
            .expect("HMAC takes a key of any length");
        mac.update(username.as_bytes());
        let password =
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        Self { username, password }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_secret_vector() {
        // Checked with: printf '1700000000:alice' | openssl dgst -sha1 -hmac
        // 'brume-test-secret' -binary | base64
        let c = TurnCredentials::shared_secret(b"brume-test-secret", "alice", 1_700_000_000);
        assert_eq!(c.username, "1700000000:alice");
        assert_eq!(c.password, VECTOR_PASSWORD);
        assert!(!format!("{c:?}").contains(&c.password));
    }

    const VECTOR_PASSWORD: &str = "cMwWM11DVQ2vzOHbCFSIlbpC5k8=";
}
