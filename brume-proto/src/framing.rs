//! Data-channel message framing: Brume's `encodeMsg`/`decodeMsg`.
//!
//! Every data-channel message is `{type, data}`, where `type` is a string and
//! `data` a string or bytes. One header byte carries a version and two flags,
//! one of which marks Brume's own control messages. Control and application
//! messages therefore live in separate namespaces: no application `type`,
//! whatever its spelling, can ever be read as a control message.
//!
//! ```text
//! byte 0      flags: bits 7..4 version (1), bits 3..2 zero,
//!                    bit 1 control (1) / application (0),
//!                    bit 0 data is UTF-8 text (1) / bytes (0)
//! byte 1      L, the length of `type` in bytes, 1..=255
//! 2..2+L      `type`, UTF-8
//! 2+L..       `data`, to the end of the message
//! ```

/// The framing version this crate writes and reads.
pub const FRAMING_VERSION: u8 = 1;
/// The longest `type`, in bytes.
pub const MAX_TYPE_LEN: usize = 255;

const FLAG_TEXT: u8 = 0b0000_0001;
const FLAG_CONTROL: u8 = 0b0000_0010;
const RESERVED_BITS: u8 = 0b0000_1100;

/// A message's payload: text or bytes, as the sender chose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Data {
    /// A UTF-8 string.
    Text(String),
    /// Raw bytes.
    Bytes(Vec<u8>),
}

impl Data {
    /// The payload's bytes, whichever kind it is.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Data::Text(s) => s.as_bytes(),
            Data::Bytes(b) => b,
        }
    }
}

/// Which namespace a message belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Namespace {
    /// The application's messages.
    App,
    /// Brume's own control messages, multiplexed on the same channel.
    Control,
}

/// One decoded data-channel message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Application or control.
    pub namespace: Namespace,
    /// What the data is; chosen by the sender.
    pub kind: String,
    /// The payload.
    pub data: Data,
}

/// Why a message could not be encoded or decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FramingError {
    /// Shorter than the two-byte header plus a one-byte type.
    #[error("message of {0} bytes is too short")]
    TooShort(usize),
    /// A version this crate does not read.
    #[error("framing version {0} is not supported")]
    Version(u8),
    /// Reserved header bits are set.
    #[error("reserved flag bits set: {0:#04x}")]
    ReservedBits(u8),
    /// `type` is empty or longer than [`MAX_TYPE_LEN`].
    #[error("type length {0} is outside 1..=255")]
    TypeLength(usize),
    /// The type length points past the end of the message.
    #[error("type runs past the end of the message")]
    Truncated,
    /// `type` is not UTF-8.
    #[error("type is not UTF-8")]
    TypeNotUtf8,
    /// The text flag is set but `data` is not UTF-8.
    #[error("text data is not UTF-8")]
    DataNotUtf8,
    /// The message is over the limit the caller gave.
    #[error("message of {len} bytes is over the {max}-byte limit")]
    TooLarge {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
}

/// Encodes an application message.
pub fn encode(kind: &str, data: &Data) -> Result<Vec<u8>, FramingError> {
    encode_in(Namespace::App, kind, data)
}

/// Encodes a message in either namespace.
pub fn encode_in(namespace: Namespace, kind: &str, data: &Data) -> Result<Vec<u8>, FramingError> {
    let text = matches!(data, Data::Text(_));
    encode_parts(namespace, kind, text, &[data.as_bytes()])
}

/// Encodes a binary message whose payload is `parts` one after the other,
/// copying each once, for senders that put a header before their data.
pub fn encode_binary(
    namespace: Namespace,
    kind: &str,
    parts: &[&[u8]],
) -> Result<Vec<u8>, FramingError> {
    encode_parts(namespace, kind, false, parts)
}

/// `text` only when the parts are UTF-8 (they come from a `Data::Text`).
fn encode_parts(
    namespace: Namespace,
    kind: &str,
    text: bool,
    parts: &[&[u8]],
) -> Result<Vec<u8>, FramingError> {
    if kind.is_empty() || kind.len() > MAX_TYPE_LEN {
        return Err(FramingError::TypeLength(kind.len()));
    }
    let mut flags = FRAMING_VERSION << 4;
    if text {
        flags |= FLAG_TEXT;
    }
    if namespace == Namespace::Control {
        flags |= FLAG_CONTROL;
    }
    let len: usize = parts.iter().map(|p| p.len()).sum();
    let mut out = Vec::with_capacity(2 + kind.len() + len);
    out.push(flags);
    // Checked above: 1..=255 fits a byte.
    out.push(kind.len() as u8);
    out.extend_from_slice(kind.as_bytes());
    for part in parts {
        out.extend_from_slice(part);
    }
    Ok(out)
}

/// A decoded message that borrows its type and payload from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageRef<'a> {
    /// Application or control.
    pub namespace: Namespace,
    /// What the data is; chosen by the sender.
    pub kind: &'a str,
    /// The payload is text (checked to be UTF-8), not bytes.
    pub text: bool,
    /// The payload.
    pub payload: &'a [u8],
}

/// Decodes a message of at most `max` bytes without copying it, for
/// receivers that take the payload apart themselves. Total, like [`decode`].
pub fn decode_ref(bytes: &[u8], max: usize) -> Result<MessageRef<'_>, FramingError> {
    if bytes.len() > max {
        return Err(FramingError::TooLarge {
            len: bytes.len(),
            max,
        });
    }
    let [flags, len, rest @ ..] = bytes else {
        return Err(FramingError::TooShort(bytes.len()));
    };
    let version = flags >> 4;
    if version != FRAMING_VERSION {
        return Err(FramingError::Version(version));
    }
    if flags & RESERVED_BITS != 0 {
        return Err(FramingError::ReservedBits(*flags));
    }
    let len = usize::from(*len);
    if len == 0 {
        return Err(FramingError::TypeLength(0));
    }
    if rest.len() < len {
        return Err(FramingError::Truncated);
    }
    let (kind, payload) = rest.split_at(len);
    let kind = std::str::from_utf8(kind).map_err(|_| FramingError::TypeNotUtf8)?;
    let text = flags & FLAG_TEXT != 0;
    if text {
        std::str::from_utf8(payload).map_err(|_| FramingError::DataNotUtf8)?;
    }
    let namespace = if flags & FLAG_CONTROL != 0 {
        Namespace::Control
    } else {
        Namespace::App
    };
    Ok(MessageRef {
        namespace,
        kind,
        text,
        payload,
    })
}

/// Decodes a message of at most `max` bytes. Total: any input gives a message or an error.
pub fn decode(bytes: &[u8], max: usize) -> Result<Message, FramingError> {
    let m = decode_ref(bytes, max)?;
    let data = if m.text {
        // Checked to be UTF-8 by `decode_ref`.
        Data::Text(String::from_utf8_lossy(m.payload).into_owned())
    } else {
        Data::Bytes(m.payload.to_vec())
    };
    Ok(Message {
        namespace: m.namespace,
        kind: m.kind.to_owned(),
        data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_documented_layout() {
        let bytes = encode("chat", &Data::Text("hi".into())).unwrap();
        assert_eq!(bytes, [0x11, 4, b'c', b'h', b'a', b't', b'h', b'i']);
        let bytes = encode_in(Namespace::Control, "x", &Data::Bytes(vec![0xff])).unwrap();
        assert_eq!(bytes, [0x12, 1, b'x', 0xff]);
    }

    #[test]
    fn an_app_type_that_looks_like_control_stays_an_app_message() {
        let bytes = encode("brume.sdp", &Data::Bytes(vec![])).unwrap();
        assert_eq!(decode(&bytes, 1024).unwrap().namespace, Namespace::App);
    }

    #[test]
    fn bad_headers_are_typed_errors() {
        assert_eq!(decode(&[0x11], 64), Err(FramingError::TooShort(1)));
        assert_eq!(decode(&[0x21, 1, b'a'], 64), Err(FramingError::Version(2)));
        assert_eq!(
            decode(&[0x15, 1, b'a'], 64),
            Err(FramingError::ReservedBits(0x15))
        );
        assert_eq!(decode(&[0x10, 0], 64), Err(FramingError::TypeLength(0)));
        assert_eq!(decode(&[0x10, 3, b'a'], 64), Err(FramingError::Truncated));
        assert_eq!(decode(&[0x10, 1, 0xff], 64), Err(FramingError::TypeNotUtf8));
        assert_eq!(
            decode(&[0x11, 1, b'a', 0xff], 64),
            Err(FramingError::DataNotUtf8)
        );
        assert_eq!(
            decode(&[0x10; 65], 64),
            Err(FramingError::TooLarge { len: 65, max: 64 })
        );
    }

    #[test]
    fn types_must_fit_a_byte() {
        assert_eq!(
            encode("", &Data::Bytes(vec![])),
            Err(FramingError::TypeLength(0))
        );
        let long = "t".repeat(256);
        assert_eq!(
            encode(&long, &Data::Bytes(vec![])),
            Err(FramingError::TypeLength(256))
        );
    }

    fn data() -> impl Strategy<Value = Data> {
        prop_oneof![
            ".*".prop_map(Data::Text),
            proptest::collection::vec(any::<u8>(), 0..300).prop_map(Data::Bytes),
        ]
    }

    proptest! {
        #[test]
        fn round_trip(kind in "\\PC{1,60}", data in data(), control in any::<bool>()) {
            prop_assume!(kind.len() <= MAX_TYPE_LEN);
            let ns = if control { Namespace::Control } else { Namespace::App };
            let bytes = encode_in(ns, &kind, &data).unwrap();
            let msg = decode(&bytes, usize::MAX).unwrap();
            prop_assert_eq!(msg, Message { namespace: ns, kind, data });
        }

        #[test]
        fn decoding_is_total(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(msg) = decode(&bytes, 64) {
                // What decodes re-encodes to the same bytes.
                prop_assert_eq!(encode_in(msg.namespace, &msg.kind, &msg.data).unwrap(), bytes);
            }
        }
    }
}
