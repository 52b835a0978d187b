//! The one list of Brume error codes, shared by the hub, the endpoint and applications.
//!
//! Each code has a stable string (what goes on the wire and what applications
//! match on) and a number. The numbers come from Brume's client API where it
//! gives one and otherwise follow the HTTP status they resemble; the string is
//! the identity, the number a category, so two codes may share a number.

use serde::{Deserialize, Serialize};

/// Every error a hub or an endpoint reports, with its wire string and number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ErrorCode {
    /// 400: the client authenticated without a token.
    #[serde(rename = "ETOKENMISSING")]
    TokenMissing,
    /// 401: the token has expired; refresh it.
    #[serde(rename = "ETOKENEXPIRED")]
    TokenExpired,
    /// 406: the token is malformed, badly signed, or of the wrong kind.
    #[serde(rename = "ETOKENINVALID")]
    TokenInvalid,
    /// 403: the session must authenticate before anything else.
    #[serde(rename = "ENOAUTH")]
    NotAuthenticated,
    /// 404: the named user does not exist, or the address is the caller's own session.
    #[serde(rename = "EBADDEST")]
    BadDest,
    /// 410: the named user (or device) exists but no session of it that
    /// could take the call is connected.
    #[serde(rename = "ENODEST")]
    NoDest,
    /// 409: a group-scoped request from or to someone outside the group.
    #[serde(rename = "ENOTMEMBER")]
    NotMember,
    /// 408: the callee did not answer an offer in time.
    #[serde(rename = "EOFFERTIMEOUT")]
    OfferTimeout,
    /// 403: the callee declined the connection.
    #[serde(rename = "EREJECTED")]
    Rejected,
    /// 487: the other side cancelled the attempt before it opened.
    #[serde(rename = "ECANCELLED")]
    Cancelled,
    /// 488: the peer's session description could not be used.
    #[serde(rename = "ENEGOTIATION")]
    Negotiation,
    /// 481: no live attempt has that id between these two users.
    #[serde(rename = "ENOATTEMPT")]
    NoAttempt,
    /// 429: too many attempts waiting for an answer at once.
    #[serde(rename = "EATTEMPTLIMIT")]
    AttemptLimit,
    /// 429: too many frames too fast; the frame was dropped.
    #[serde(rename = "ERATELIMIT")]
    RateLimited,
    /// 429: too many presence subscriptions, group members, or devices of one user.
    #[serde(rename = "ELIMIT")]
    Limit,
    /// 413: the frame is larger than the protocol allows; it was not read.
    #[serde(rename = "ETOOBIG")]
    TooBig,
    /// 422: the frame is not a well-formed message.
    #[serde(rename = "EBADMSG")]
    BadMessage,
    /// 505: the client speaks a protocol version the hub does not.
    #[serde(rename = "EVERSION")]
    Version,
    /// 503: the hub is at its session limit.
    #[serde(rename = "EFULL")]
    Full,
    /// 503: the hub could not be reached.
    #[serde(rename = "ECONNREFUSED")]
    ConnRefused,
    /// 502: no ready signaling session to send through.
    #[serde(rename = "ENOSRV")]
    NoServer,
    /// 500: an unspecified hub error.
    #[serde(rename = "ESERVER")]
    Server,
    /// 401: password login refused: wrong user name or password.
    #[serde(rename = "ELOGIN")]
    Login,
    /// 503: busy; try again: the hub, too busy to check a password now, or
    /// (never sent) the send buffer towards a peer, full.
    #[serde(rename = "EBUSY")]
    Busy,
    /// 403: the hub's policy lets only contacts (and group mates) call or
    /// watch each other, and these two are neither.
    #[serde(rename = "ENOTCONTACT")]
    NotContact,
    /// 409: the invitation was claimed already; each is good once.
    #[serde(rename = "EINVITEUSED")]
    InviteUsed,
    /// 495: the peer's device presented another certificate fingerprint
    /// than the one pinned for it: a hub in the middle, or a device set up
    /// again. Never sent by the hub.
    #[serde(rename = "EIDENTITY")]
    Identity,
    /// A code this version does not know (from a newer hub); treat it as a
    /// generic failure. Never sent.
    #[serde(rename = "EUNKNOWN", other)]
    Unknown,
}

impl ErrorCode {
    /// Every code a hub or endpoint sends, in order of declaration; for
    /// tables and tests. (`Unknown` only stands in for codes from newer peers.)
    pub const ALL: [ErrorCode; 27] = [
        ErrorCode::TokenMissing,
        ErrorCode::TokenExpired,
        ErrorCode::TokenInvalid,
        ErrorCode::NotAuthenticated,
        ErrorCode::BadDest,
        ErrorCode::NoDest,
        ErrorCode::NotMember,
        ErrorCode::OfferTimeout,
        ErrorCode::Rejected,
        ErrorCode::Cancelled,
        ErrorCode::Negotiation,
        ErrorCode::NoAttempt,
        ErrorCode::AttemptLimit,
        ErrorCode::RateLimited,
        ErrorCode::Limit,
        ErrorCode::TooBig,
        ErrorCode::BadMessage,
        ErrorCode::Version,
        ErrorCode::Full,
        ErrorCode::ConnRefused,
        ErrorCode::NoServer,
        ErrorCode::Server,
        ErrorCode::Login,
        ErrorCode::Busy,
        ErrorCode::NotContact,
        ErrorCode::InviteUsed,
        ErrorCode::Identity,
    ];

    /// The stable wire string, such as `"ENODEST"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::TokenMissing => "ETOKENMISSING",
            ErrorCode::TokenExpired => "ETOKENEXPIRED",
            ErrorCode::TokenInvalid => "ETOKENINVALID",
            ErrorCode::NotAuthenticated => "ENOAUTH",
            ErrorCode::BadDest => "EBADDEST",
            ErrorCode::NoDest => "ENODEST",
            ErrorCode::NotMember => "ENOTMEMBER",
            ErrorCode::OfferTimeout => "EOFFERTIMEOUT",
            ErrorCode::Rejected => "EREJECTED",
            ErrorCode::Cancelled => "ECANCELLED",
            ErrorCode::Negotiation => "ENEGOTIATION",
            ErrorCode::NoAttempt => "ENOATTEMPT",
            ErrorCode::AttemptLimit => "EATTEMPTLIMIT",
            ErrorCode::RateLimited => "ERATELIMIT",
            ErrorCode::Limit => "ELIMIT",
            ErrorCode::TooBig => "ETOOBIG",
            ErrorCode::BadMessage => "EBADMSG",
            ErrorCode::Version => "EVERSION",
            ErrorCode::Full => "EFULL",
            ErrorCode::ConnRefused => "ECONNREFUSED",
            ErrorCode::NoServer => "ENOSRV",
            ErrorCode::Server => "ESERVER",
            ErrorCode::Login => "ELOGIN",
            ErrorCode::Busy => "EBUSY",
            ErrorCode::NotContact => "ENOTCONTACT",
            ErrorCode::InviteUsed => "EINVITEUSED",
            ErrorCode::Identity => "EIDENTITY",
            ErrorCode::Unknown => "EUNKNOWN",
        }
    }

    /// The number that goes with the code, such as 410 for `ENODEST`.
    pub fn number(self) -> u16 {
        match self {
            ErrorCode::TokenMissing => 400,
            ErrorCode::TokenExpired => 401,
            ErrorCode::TokenInvalid => 406,
            ErrorCode::NotAuthenticated => 403,
            ErrorCode::BadDest => 404,
            ErrorCode::NoDest => 410,
            ErrorCode::NotMember => 409,
            ErrorCode::OfferTimeout => 408,
            ErrorCode::Rejected => 403,
            ErrorCode::Cancelled => 487,
            ErrorCode::Negotiation => 488,
            ErrorCode::NoAttempt => 481,
            ErrorCode::AttemptLimit => 429,
            ErrorCode::RateLimited => 429,
            ErrorCode::Limit => 429,
            ErrorCode::TooBig => 413,
            ErrorCode::BadMessage => 422,
            ErrorCode::Version => 505,
            ErrorCode::Full => 503,
            ErrorCode::ConnRefused => 503,
            ErrorCode::NoServer => 502,
            ErrorCode::Server => 500,
            ErrorCode::Login => 401,
            ErrorCode::Busy => 503,
            ErrorCode::NotContact => 403,
            ErrorCode::InviteUsed => 409,
            ErrorCode::Identity => 495,
            ErrorCode::Unknown => 0,
        }
    }

    /// A short sentence for people, in the words of Brume's client API.
    pub fn describe(self) -> &'static str {
        match self {
            ErrorCode::TokenMissing => "missing token",
            ErrorCode::TokenExpired => "token expired",
            ErrorCode::TokenInvalid => "invalid token",
            ErrorCode::NotAuthenticated => "authenticate first",
            ErrorCode::BadDest => "the requested user or device is unknown",
            ErrorCode::NoDest => "the requested user or device is not connected",
            ErrorCode::NotMember => "not a member of the specified group",
            ErrorCode::OfferTimeout => "the connection attempt timed out",
            ErrorCode::Rejected => "the requested user declined the connection",
            ErrorCode::Cancelled => "the other side cancelled the connection attempt",
            ErrorCode::Negotiation => "the peer's session description could not be used",
            ErrorCode::NoAttempt => "no such connection attempt",
            ErrorCode::AttemptLimit => "too many connection attempts at once",
            ErrorCode::RateLimited => "too many messages; slow down",
            ErrorCode::Limit => "over a hub limit",
            ErrorCode::TooBig => "frame too large",
            ErrorCode::BadMessage => "malformed message",
            ErrorCode::Version => "unsupported protocol version",
            ErrorCode::Full => "the hub is full",
            ErrorCode::ConnRefused => "could not connect to the hub",
            ErrorCode::NoServer => "no signaling server connection",
            ErrorCode::Server => "unspecified hub error",
            ErrorCode::Login => "wrong user name or password",
            ErrorCode::Busy => "the hub is busy; try again",
            ErrorCode::NotContact => "only contacts may call or watch each other on this hub",
            ErrorCode::InviteUsed => "the invitation was already claimed",
            ErrorCode::Identity => "the peer's device is not the one pinned for it",
            ErrorCode::Unknown => "an error this version does not know",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.as_str(), self.number())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_string_matches_serde_for_every_code() {
        for code in ErrorCode::ALL {
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            let back: ErrorCode = serde_json::from_str(&json).unwrap();
            assert_eq!(back, code);
        }
    }

    #[test]
    fn all_lists_every_code_but_unknown() {
        // Exhaustive: a new variant does not compile until it is placed here.
        let listed = |c: ErrorCode| match c {
            ErrorCode::Unknown => false,
            ErrorCode::TokenMissing
            | ErrorCode::TokenExpired
            | ErrorCode::TokenInvalid
            | ErrorCode::NotAuthenticated
            | ErrorCode::BadDest
            | ErrorCode::NoDest
            | ErrorCode::NotMember
            | ErrorCode::OfferTimeout
            | ErrorCode::Rejected
            | ErrorCode::Cancelled
            | ErrorCode::Negotiation
            | ErrorCode::NoAttempt
            | ErrorCode::AttemptLimit
            | ErrorCode::RateLimited
            | ErrorCode::Limit
            | ErrorCode::TooBig
            | ErrorCode::BadMessage
            | ErrorCode::Version
            | ErrorCode::Full
            | ErrorCode::ConnRefused
            | ErrorCode::NoServer
            | ErrorCode::Server
            | ErrorCode::Login
            | ErrorCode::Busy
            | ErrorCode::NotContact
            | ErrorCode::InviteUsed
            | ErrorCode::Identity => true,
        };
        assert!(ErrorCode::ALL.iter().all(|c| listed(*c)));
        assert_eq!(
            ErrorCode::ALL.len(),
            27,
            "a listed code is missing from ALL"
        );
    }

    #[test]
    fn codes_from_newer_peers_decode_as_unknown() {
        let code: ErrorCode = serde_json::from_str("\"EBRANDNEW\"").unwrap();
        assert_eq!(code, ErrorCode::Unknown);
    }

    #[test]
    fn wire_strings_are_unique() {
        let mut names: Vec<_> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ErrorCode::ALL.len());
    }

    #[test]
    fn seed_numbers_are_kept() {
        assert_eq!(ErrorCode::NoDest.number(), 410);
        assert_eq!(ErrorCode::BadDest.number(), 404);
        assert_eq!(ErrorCode::NotMember.number(), 409);
        assert_eq!(ErrorCode::ConnRefused.number(), 503);
        assert_eq!(ErrorCode::TokenMissing.number(), 400);
        assert_eq!(ErrorCode::TokenExpired.number(), 401);
        assert_eq!(ErrorCode::TokenInvalid.number(), 406);
    }
}
