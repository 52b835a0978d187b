//! Any bytes from a peer's data channel decode to a message or an error,
//! never a panic: the main channel's `{type, data}` framing and the messages
//! of a transfer channel. What decodes re-encodes to the same meaning.

#![no_main]

use brume_proto::endpoint::MAX_MESSAGE_LEN;
use brume_proto::framing::{decode, encode_in};
use brume_proto::transfer::wire::Wire;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(msg) = decode(data, MAX_MESSAGE_LEN) {
        let again =
            encode_in(msg.namespace, &msg.kind, &msg.data).expect("a decoded message encodes");
        assert_eq!(again, data, "framing re-encodes to other bytes");
    }
    if let Ok(wire) = Wire::decode(data, MAX_MESSAGE_LEN) {
        let bytes = wire.encode();
        assert_eq!(
            Wire::decode(&bytes, usize::MAX).ok(),
            Some(wire),
            "transfer message round trip"
        );
    }
});
