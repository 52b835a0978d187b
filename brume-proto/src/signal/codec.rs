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
        };
        assert_eq!(decode_hub(encode_hub(&msg).as_bytes()).unwrap(), msg);
    }
}
