//! Access and refresh tokens: HS256 JWTs whose subject is the user name and
//! which carry the user's token generation (`gen`): the hub refuses a token
//! whose generation is not the user's current one, so changing a password,
//! revoking, or removing and re-adding a user kills every older token.
//!
//! Expiry is checked against the `now` the caller passes, never the system
//! clock, so tests can move time. `jsonwebtoken` only reads the clock when its
//! own `exp`/`nbf` checks are on; both are turned off here.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, errors::ErrorKind};
use serde::{Deserialize, Serialize};

use crate::error::ErrorCode;
use crate::signal::UserName;

/// Which of the two tokens a JWT is; an access token never works as a refresh token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    /// Opens a session (`hello`).
    Access,
    /// Buys a new access token (`refresh`).
    Refresh,
}

/// The claims Brume puts in its tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user name.
    pub sub: String,
    /// Expiry, seconds since the Unix epoch.
    pub exp: u64,
    /// Issue time, seconds since the Unix epoch.
    pub iat: u64,
    /// Access or refresh.
    pub kind: TokenKind,
    /// The user's token generation when it was minted. Required: a token
    /// without it (minted before generations existed) does not decode.
    #[serde(rename = "gen")]
    pub generation: u64,
}

/// The hub's HMAC signing key.
#[derive(Clone)]
pub struct TokenKey {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey(..)")
    }
}

/// The shortest key accepted: HS256 wants at least 256 bits.
pub const MIN_KEY_LEN: usize = 32;

/// Why a token was refused; maps onto the seed's 400/401/406.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// No token was given.
    #[error("missing token")]
    Missing,
    /// The token's `exp` is at or before now.
    #[error("token expired")]
    Expired,
    /// Bad shape, bad signature, wrong kind or an invalid subject.
    #[error("invalid token: {0}")]
    Invalid(String),
    /// Well formed and signed, but of an older generation of its user:
    /// their password changed, their tokens were revoked, or the account
    /// was removed and made again.
    #[error("token revoked: log in again")]
    Revoked,
}

impl TokenError {
    /// The error code that reports it.
    pub fn code(&self) -> ErrorCode {
        match self {
            TokenError::Missing => ErrorCode::TokenMissing,
            TokenError::Expired => ErrorCode::TokenExpired,
            TokenError::Invalid(_) | TokenError::Revoked => ErrorCode::TokenInvalid,
        }
    }
}

impl TokenKey {
    /// Wraps a secret of at least [`MIN_KEY_LEN`] bytes; `None` if it is shorter.
    pub fn from_secret(secret: &[u8]) -> Option<Self> {
        (secret.len() >= MIN_KEY_LEN).then(|| Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
        })
    }

    /// Signs a token of `kind` for `user` at generation 0 (a user that was
    /// never revoked), valid from `now_unix` for `lifetime_secs`.
    pub fn mint(
        &self,
        user: &UserName,
        kind: TokenKind,
        now_unix: u64,
        lifetime_secs: u64,
    ) -> String {
        self.mint_generation(user, 0, kind, now_unix, lifetime_secs)
    }

    /// Signs a token of `kind` for `user` at token generation `generation`,
    /// valid from `now_unix` for `lifetime_secs`.
    pub fn mint_generation(
        &self,
        user: &UserName,
        generation: u64,
        kind: TokenKind,
        now_unix: u64,
        lifetime_secs: u64,
    ) -> String {
        let claims = Claims {
            sub: user.as_str().to_owned(),
            exp: now_unix.saturating_add(lifetime_secs),
            iat: now_unix,
            kind,
            generation,
        };
        self.sign(&claims)
    }

    /// Signs any claims with this key (HS256).
    pub(crate) fn sign<C: Serialize>(&self, claims: &C) -> String {
        // HS256 signing with an in-memory key cannot fail.
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .expect("HS256 signing is infallible")
    }

    /// Checks the signature and decodes the claims; their meaning (kind,
    /// expiry) is the caller's to check.
    pub(crate) fn decode<C: serde::de::DeserializeOwned>(
        &self,
        token: Option<&str>,
    ) -> Result<C, TokenError> {
        let token = match token {
            None | Some("") => return Err(TokenError::Missing),
            Some(t) => t,
        };
        let mut validation = Validation::new(Algorithm::HS256);
        validation.validate_exp = false; // checked by the caller against its `now`
        validation.validate_nbf = false;
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        let data = jsonwebtoken::decode::<C>(token, &self.decoding, &validation).map_err(|e| {
            match e.kind() {
                ErrorKind::InvalidSignature => TokenError::Invalid("bad signature".into()),
                ErrorKind::InvalidAlgorithm => {
                    TokenError::Invalid("algorithm must be HS256".into())
                }
                _ => TokenError::Invalid(e.to_string()),
            }
        })?;
        Ok(data.claims)
    }

    /// Checks signature, claims, kind and expiry against `now_unix`; returns
    /// the claims. The generation is the hub's to check (it knows the users).
    pub fn verify(
        &self,
        token: Option<&str>,
        kind: TokenKind,
        now_unix: u64,
    ) -> Result<(UserName, Claims), TokenError> {
        let claims: Claims = self.decode(token)?;
        if claims.kind != kind {
            return Err(TokenError::Invalid(
                format!("not a {kind:?} token").to_lowercase(),
            ));
        }
        if claims.exp <= now_unix {
            return Err(TokenError::Expired);
        }
        let user = UserName::new(claims.sub.clone())
            .map_err(|e| TokenError::Invalid(format!("subject: {e}")))?;
        Ok((user, claims))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> TokenKey {
        TokenKey::from_secret(&[7u8; 32]).unwrap()
    }

    fn alice() -> UserName {
        UserName::new("alice").unwrap()
    }

    #[test]
    fn short_keys_are_refused() {
        assert!(TokenKey::from_secret(&[0u8; 31]).is_none());
    }

    #[test]
    fn a_minted_token_verifies_until_it_expires() {
        let t = key().mint(&alice(), TokenKind::Access, 1_000, 60);
        let (user, claims) = key().verify(Some(&t), TokenKind::Access, 1_059).unwrap();
        assert_eq!(user, alice());
        assert_eq!(claims.exp, 1_060);
        assert_eq!(
            key().verify(Some(&t), TokenKind::Access, 1_060),
            Err(TokenError::Expired)
        );
    }

    #[test]
    fn minting_is_deterministic() {
        let a = key().mint(&alice(), TokenKind::Refresh, 5, 5);
        let b = key().mint(&alice(), TokenKind::Refresh, 5, 5);
        assert_eq!(a, b);
    }

    #[test]
    fn kinds_do_not_substitute() {
        let refresh = key().mint(&alice(), TokenKind::Refresh, 0, 60);
        let err = key()
            .verify(Some(&refresh), TokenKind::Access, 1)
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::TokenInvalid);
    }

    #[test]
    fn another_key_is_invalid() {
        let other = TokenKey::from_secret(&[8u8; 32]).unwrap();
        let t = other.mint(&alice(), TokenKind::Access, 0, 60);
        let err = key().verify(Some(&t), TokenKind::Access, 1).unwrap_err();
        assert_eq!(err, TokenError::Invalid("bad signature".into()));
    }

    #[test]
    fn missing_and_garbage_tokens_map_to_seed_codes() {
        assert_eq!(
            key()
                .verify(None, TokenKind::Access, 0)
                .unwrap_err()
                .code()
                .number(),
            400
        );
        assert_eq!(
            key()
                .verify(Some(""), TokenKind::Access, 0)
                .unwrap_err()
                .code()
                .number(),
            400
        );
        let err = key()
            .verify(Some("a.b.c"), TokenKind::Access, 0)
            .unwrap_err();
        assert_eq!(err.code().number(), 406);
    }

    #[test]
    fn the_generation_travels_in_the_token() {
        let t = key().mint_generation(&alice(), 7, TokenKind::Access, 0, 60);
        let (_, claims) = key().verify(Some(&t), TokenKind::Access, 1).unwrap();
        assert_eq!(claims.generation, 7);
        let t = key().mint(&alice(), TokenKind::Refresh, 0, 60);
        let (_, claims) = key().verify(Some(&t), TokenKind::Refresh, 1).unwrap();
        assert_eq!(claims.generation, 0);
        // On the wire the claim is `gen`: the example in docs/PROTOCOL.md,
        // {"sub":"alice","exp":1800003600,"iat":1800000000,"kind":"access","gen":0}.
        let test_key = TokenKey::from_secret(b"0123456789abcdef0123456789abcdef").unwrap();
        assert_eq!(
            test_key.mint(&alice(), TokenKind::Access, 1_800_000_000, 3600),
            "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSIsImV4cCI6MTgwMDAwMzYwMCwiaWF0IjoxODAwMDAwMDAwLCJraW5kIjoiYWNjZXNzIiwiZ2VuIjowfQ.-xlYQsbR4h5jAsy3Ub49QX3JAi9n7Ch2E4ks7Jv3V4E"
        );
    }

    #[test]
    fn a_token_without_a_generation_is_refused() {
        // Signed with key() before generations existed:
        // {"sub":"alice","exp":1800003600,"iat":1800000000,"kind":"access"}.
        let t = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSIsImV4cCI6MTgwMDAwMzYwMCwiaWF0IjoxODAwMDAwMDAwLCJraW5kIjoiYWNjZXNzIn0.9vVktvy9Uyh7ZIwoCqOrW-gdVJYbcU5ye0cfbm3rdJg";
        let err = key()
            .verify(Some(t), TokenKind::Access, 1_800_000_000)
            .unwrap_err();
        assert!(
            matches!(&err, TokenError::Invalid(why) if why.contains("missing field `gen`")),
            "{err:?}"
        );
        assert_eq!(TokenError::Revoked.code(), ErrorCode::TokenInvalid);
    }

    #[test]
    fn an_alg_none_token_is_refused() {
        // header {"alg":"none","typ":"JWT"}, claims for alice, no signature.
        let t = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJhbGljZSIsImV4cCI6OTk5OTk5OTk5OSwiaWF0IjowLCJraW5kIjoiYWNjZXNzIn0.";
        let err = key().verify(Some(t), TokenKind::Access, 0).unwrap_err();
        assert_eq!(err.code(), ErrorCode::TokenInvalid);
    }
}
