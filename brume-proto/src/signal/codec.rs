//! Total decoding and encoding of signaling frames.
//!
//! Any bytes decode to a message or a typed error. The size is checked before
//! a single byte is parsed, so an oversized frame costs nothing.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::message::{ClientMsg, HubMsg};
use crate::error::ErrorCode;

/// The largest frame either side reads, in bytes (64 KiB).
pub const MAX_FRAME_LEN: usize = 64 * 1024;

/// Why a frame did not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The frame is over [`MAX_FRAME_LEN`]; it was not parsed.
    #[error("frame of {len} bytes is over the {MAX_FRAME_LEN}-byte limit")]
    TooLarge {
        /// The frame's length.
        len: usize,
    },
    /// The frame is not UTF-8 JSON of a known message, or a field is invalid.
    #[error("malformed message: {0}")]
    Malformed(String),
}

impl DecodeError {
    /// The error code a hub answers with.
    pub fn code(&self) -> ErrorCode {
        match self {
            DecodeError::TooLarge { .. } => ErrorCode::TooBig,
            DecodeError::Malformed(_) => ErrorCode::BadMessage,
        }
    }
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, DecodeError> {
    if bytes.len() > MAX_FRAME_LEN {
        return Err(DecodeError::TooLarge { len: bytes.len() });
    }
    serde_json::from_slice(bytes).map_err(|e| DecodeError::Malformed(e.to_string()))
}

/// Decodes a frame a client sent.
pub fn decode_client(bytes: &[u8]) -> Result<ClientMsg, DecodeError> {
    decode(bytes)
}

/// Decodes a frame the hub sent. Unknown message types decode to [`HubMsg::Unknown`].
pub fn decode_hub(bytes: &[u8]) -> Result<HubMsg, DecodeError> {
    decode(bytes)
}

fn encode<T: Serialize>(msg: &T) -> String {
    // Serialising these types cannot fail: every field is a string, number,
    // bool or a sequence of them, and every map key is a string.
    serde_json::to_string(msg).expect("signaling messages always serialise")
}

/// Encodes a client message as the text of one WebSocket frame.
pub fn encode_client(msg: &ClientMsg) -> String {
    encode(msg)
}

/// Encodes a hub message as the text of one WebSocket frame.
pub fn encode_hub(msg: &HubMsg) -> String {
    encode(msg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signal::names::UserName;

    #[test]
    fn oversized_frames_are_refused_before_parsing() {
        let big = vec![b'{'; MAX_FRAME_LEN + 1];
        assert_eq!(
            decode_client(&big),
            Err(DecodeError::TooLarge {
                len: MAX_FRAME_LEN + 1
            })
        );
    }

    #[test]
    fn garbage_is_a_malformed_error() {
        for bytes in [
            &b""[..],
            b"\xff\xfe",
            b"[]",
            b"{}",
            b"{\"type\":\"nope\"}",
            b"null",
        ] {
            let err = decode_client(bytes).unwrap_err();
            assert_eq!(err.code(), ErrorCode::BadMessage, "{bytes:?}");
        }
    }

    #[test]
    fn invalid_names_do_not_decode() {
        let frame = br#"{"type":"subscribe","users":["ok","../etc"]}"#;
        assert!(matches!(
            decode_client(frame),
            Err(DecodeError::Malformed(_))
        ));
    }

    #[test]
    fn unknown_hub_types_are_ignorable() {
        let msg = decode_hub(br#"{"type":"from_the_future","x":1}"#).unwrap();
        assert_eq!(msg, HubMsg::Unknown);
    }

    #[test]
    fn unknown_fields_are_ignored_for_forward_compatibility() {
        let msg = decode_client(br#"{"type":"ping","nonce":7,"extra":[1,2]}"#).unwrap();
        assert_eq!(msg, ClientMsg::Ping { nonce: 7 });
    }

    #[test]
    fn an_error_with_a_code_from_a_newer_hub_still_decodes() {
        let frame = br#"{"type":"error","code":"EFROMTHEFUTURE","message":"new"}"#;
        assert_eq!(
            decode_hub(frame).unwrap(),
            HubMsg::Error {
                code: ErrorCode::Unknown,
                attempt: None,
                message: "new".into(),
            }
        );
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let mut frame = String::from(r#"{"type":"ping","nonce":1,"x":"#);
        frame.push_str(&"[".repeat(10_000));
        assert!(decode_client(frame.as_bytes()).is_err());
    }

    #[test]
    fn round_trip_keeps_the_message() {
        let msg = HubMsg::Presence {
            user: UserName::new("bob").unwrap(),
            online: true,
            devices: vec![crate::signal::DeviceName::new("phone").unwrap()],
        };
        assert_eq!(decode_hub(encode_hub(&msg).as_bytes()).unwrap(), msg);
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use crate::error::ErrorCode;
    use crate::signal::{
        Address, AttemptId, CloseReason, DeviceName, GroupId, GroupName, PeerId, SessionLimits,
        UserName,
    };
    use proptest::prelude::*;

    fn user() -> impl Strategy<Value = UserName> {
        "[a-z0-9][a-z0-9._-]{0,20}".prop_map(|s| UserName::new(s).unwrap())
    }

    fn device() -> impl Strategy<Value = DeviceName> {
        ("[a-z0-9][a-z0-9._-]{0,20}", proptest::option::of(1u8..=16)).prop_map(|(s, n)| {
            let d = DeviceName::new(s).unwrap();
            n.and_then(|n| d.with_instance(n)).unwrap_or(d)
        })
    }

    fn peer() -> impl Strategy<Value = PeerId> {
        (user(), device()).prop_map(|(u, d)| PeerId::new(u, d))
    }

    fn address() -> impl Strategy<Value = Address> {
        prop_oneof![
            user().prop_map(Address::User),
            peer().prop_map(Address::Device)
        ]
    }

    fn attempt() -> impl Strategy<Value = AttemptId> {
        "[!-~]{1,64}".prop_map(|s| AttemptId::new(s).unwrap())
    }

    fn group() -> impl Strategy<Value = GroupId> {
        (user(), "[a-z0-9][a-z0-9._-]{0,20}").prop_map(|(owner, n)| GroupId {
            owner,
            name: GroupName::new(n).unwrap(),
        })
    }

    fn text() -> impl Strategy<Value = String> {
        "\\PC{0,40}"
    }

    fn client() -> impl Strategy<Value = ClientMsg> {
        prop_oneof![
            (
                any::<u32>(),
                proptest::option::of(text()),
                proptest::option::of(device()),
                any::<bool>(),
                any::<bool>()
            )
                .prop_map(|(version, token, device, calls, replace)| {
                    ClientMsg::Hello {
                        version,
                        token,
                        device,
                        calls,
                        replace,
                    }
                }),
            (
                any::<u32>(),
                proptest::option::of(text()),
                proptest::option::of(device()),
                any::<bool>(),
                any::<bool>()
            )
                .prop_map(|(version, refresh_token, device, calls, replace)| {
                    ClientMsg::Refresh {
                        version,
                        refresh_token,
                        device,
                        calls,
                        replace,
                    }
                }),
            (
                attempt(),
                address(),
                proptest::option::of(group()),
                text(),
                any::<bool>()
            )
                .prop_map(|(attempt, to, group, sdp, restart)| ClientMsg::Offer {
                    attempt,
                    to,
                    group,
                    sdp,
                    restart
                }),
            (attempt(), address(), text()).prop_map(|(attempt, to, sdp)| ClientMsg::Answer {
                attempt,
                to,
                sdp
            }),
            (attempt(), address(), text()).prop_map(|(attempt, to, candidate)| {
                ClientMsg::Candidate {
                    attempt,
                    to,
                    candidate,
                }
            }),
            (attempt(), address(), proptest::option::of(text())).prop_map(
                |(attempt, to, reason)| {
                    ClientMsg::Reject {
                        attempt,
                        to,
                        reason,
                    }
                }
            ),
            (attempt(), address(), proptest::option::of(text())).prop_map(
                |(attempt, to, reason)| {
                    ClientMsg::Cancel {
                        attempt,
                        to,
                        reason,
                    }
                }
            ),
            proptest::collection::vec(user(), 0..4)
                .prop_map(|users| ClientMsg::Subscribe { users }),
            proptest::collection::vec(user(), 0..4)
                .prop_map(|users| ClientMsg::Unsubscribe { users }),
            (group(), proptest::collection::vec(user(), 0..4)).prop_map(|(g, members)| {
                ClientMsg::Members {
                    group: g.name,
                    members,
                }
            }),
            any::<u32>().prop_map(|nonce| ClientMsg::Ping { nonce }),
            any::<u32>().prop_map(|nonce| ClientMsg::Pong { nonce }),
            proptest::option::of(text()).prop_map(|reason| ClientMsg::Close { reason }),
        ]
    }

    fn hub() -> impl Strategy<Value = HubMsg> {
        let limits = (
            any::<u32>(),
            any::<u32>(),
            any::<u32>(),
            any::<u32>(),
            any::<u32>(),
            any::<u32>(),
            any::<u32>(),
        )
            .prop_map(|(a, b, c, d, e, f, g)| SessionLimits {
                max_frame: a,
                rate_per_sec: b,
                burst: c,
                max_pending_attempts: d,
                max_subscriptions: e,
                idle_timeout_secs: f,
                max_devices: g,
            });
        let reasons = [
            CloseReason::Replaced,
            CloseReason::Idle,
            CloseReason::AuthTimeout,
            CloseReason::AuthFailed,
            CloseReason::Version,
            CloseReason::Full,
            CloseReason::Shutdown,
            CloseReason::UserRemoved,
            CloseReason::Client,
            CloseReason::TooManyDevices,
        ];
        prop_oneof![
            (any::<u32>(), peer(), limits).prop_map(|(version, p, limits)| HubMsg::Welcome {
                version,
                user: p.user,
                device: p.device,
                limits
            }),
            (text(), any::<u64>()).prop_map(|(access_token, expires_at)| HubMsg::Token {
                access_token,
                expires_at
            }),
            (
                attempt(),
                peer(),
                proptest::option::of(group()),
                text(),
                any::<bool>()
            )
                .prop_map(|(attempt, from, group, sdp, restart)| HubMsg::Offer {
                    attempt,
                    from,
                    group,
                    sdp,
                    restart
                }),
            (attempt(), peer(), text()).prop_map(|(attempt, from, sdp)| HubMsg::Answer {
                attempt,
                from,
                sdp
            }),
            (attempt(), peer(), proptest::option::of(text())).prop_map(
                |(attempt, from, reason)| HubMsg::Cancel {
                    attempt,
                    from,
                    reason
                }
            ),
            (user(), proptest::collection::btree_set(device(), 0..4)).prop_map(|(user, d)| {
                HubMsg::Presence {
                    user,
                    online: !d.is_empty(),
                    devices: d.into_iter().collect(),
                }
            }),
            (group(), proptest::collection::vec(user(), 0..4))
                .prop_map(|(group, members)| HubMsg::Members { group, members }),
            (
                0..ErrorCode::ALL.len(),
                proptest::option::of(attempt()),
                text()
            )
                .prop_map(|(i, attempt, message)| {
                    HubMsg::Error {
                        code: ErrorCode::ALL[i],
                        attempt,
                        message,
                    }
                }),
            (0..reasons.len()).prop_map(move |i| HubMsg::Close { reason: reasons[i] }),
            any::<u32>().prop_map(|nonce| HubMsg::Ping { nonce }),
        ]
    }

    proptest! {
        #[test]
        fn client_messages_round_trip(msg in client()) {
            prop_assert_eq!(decode_client(encode_client(&msg).as_bytes()).unwrap(), msg);
        }

        #[test]
        fn hub_messages_round_trip(msg in hub()) {
            prop_assert_eq!(decode_hub(encode_hub(&msg).as_bytes()).unwrap(), msg);
        }

        #[test]
        fn client_decoding_is_total(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = decode_client(&bytes);
            let _ = decode_hub(&bytes);
        }
    }
}
