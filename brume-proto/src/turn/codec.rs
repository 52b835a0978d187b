//! TURN messages on the wire: STUN messages (RFC 8489) with the TURN
//! attributes (RFC 8656), encoded by `stun_codec`, and the 4-byte
//! ChannelData framing, which is small enough to write here.

use bytecodec::{DecodeExt, EncodeExt};
use stun_codec::rfc5389::attributes::{
    ErrorCode, Fingerprint, MappedAddress, MessageIntegrity, Nonce, Realm, Software, Username,
    XorMappedAddress,
};
use stun_codec::rfc5766::attributes::{
    ChannelNumber, Data, Lifetime, RequestedTransport, XorPeerAddress, XorRelayAddress,
};
use stun_codec::{Message, MessageDecoder, MessageEncoder};

stun_codec::define_attribute_enums!(
    Attribute,
    AttributeDecoder,
    AttributeEncoder,
    [
        MappedAddress,
        XorMappedAddress,
        Username,
        MessageIntegrity,
        ErrorCode,
        Realm,
        Nonce,
        Software,
        Fingerprint,
        ChannelNumber,
        Lifetime,
        XorPeerAddress,
        Data,
        XorRelayAddress,
        RequestedTransport
    ]
);

/// A STUN message with the attributes a TURN client reads and writes.
pub type TurnMessage = Message<Attribute>;

/// Channel numbers a client may bind (RFC 8656 §12).
pub const FIRST_CHANNEL: u16 = 0x4000;
/// The last bindable channel number.
pub const LAST_CHANNEL: u16 = 0x4fff;

/// The bytes of `message`; `None` only if an attribute cannot be encoded.
pub fn encode(message: TurnMessage) -> Option<Vec<u8>> {
    MessageEncoder::new().encode_into_bytes(message).ok()
}

/// A whole, well-formed STUN message, or `None` (unknown comprehension-required
/// attributes and broken ones count as not well-formed).
pub fn decode(bytes: &[u8]) -> Option<TurnMessage> {
    MessageDecoder::<Attribute>::new()
        .decode_from_bytes(bytes)
        .ok()?
        .ok()
}

/// True if the first byte marks a STUN message (the top two bits are zero).
pub fn looks_like_stun(bytes: &[u8]) -> bool {
    bytes.len() >= 20 && bytes[0] < 0x40
}

/// A ChannelData message: channel number, payload length, payload. Over UDP
/// no padding is needed (RFC 8656 §12.5).
pub fn channel_data(number: u16, payload: &[u8]) -> Option<Vec<u8>> {
    let len = u16::try_from(payload.len()).ok()?;
    let mut out = Vec::with_capacity(4 + payload.len());
    out.extend_from_slice(&number.to_be_bytes());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(payload);
    Some(out)
}

/// The channel number and payload of a ChannelData message. Trailing padding
/// is ignored; a length past the datagram's end is refused.
pub fn parse_channel_data(bytes: &[u8]) -> Option<(u16, &[u8])> {
    let number = u16::from_be_bytes([*bytes.first()?, *bytes.get(1)?]);
    if !(FIRST_CHANNEL..=0x7fff).contains(&number) {
        return None;
    }
    let len = usize::from(u16::from_be_bytes([*bytes.get(2)?, *bytes.get(3)?]));
    Some((number, bytes.get(4..4 + len)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_data_vector() {
        // RFC 8656 §12.4: 0x4001, length 3, "abc", unpadded over UDP.
        let bytes = channel_data(0x4001, b"abc").unwrap();
        assert_eq!(bytes, [0x40, 0x01, 0x00, 0x03, b'a', b'b', b'c']);
        assert_eq!(parse_channel_data(&bytes), Some((0x4001, &b"abc"[..])));
        let mut padded = bytes.clone();
        padded.push(0);
        assert_eq!(parse_channel_data(&padded), Some((0x4001, &b"abc"[..])));
    }

    #[test]
    fn broken_channel_data_is_refused() {
        let bytes = channel_data(0x4001, b"abc").unwrap();
        for cut in 0..bytes.len() {
            assert_eq!(parse_channel_data(&bytes[..cut]), None, "cut at {cut}");
        }
        assert_eq!(
            parse_channel_data(&[0x3f, 0xff, 0, 0]),
            None,
            "not a channel"
        );
        assert_eq!(parse_channel_data(&[0x80, 0x00, 0, 0]), None, "reserved");
    }

    #[test]
    fn garbage_is_not_a_message() {
        assert!(decode(b"").is_none());
        assert!(decode(&[0u8; 19]).is_none());
        let mut bogus = vec![0x00, 0x03, 0x00, 0x08, 0x21, 0x12, 0xa4, 0x42];
        bogus.extend_from_slice(&[0; 12]);
        assert!(decode(&bogus).is_none(), "length past the end");
    }
}
