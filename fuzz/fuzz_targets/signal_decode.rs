//! Any bytes given to the signaling codec decode to a message or an error,
//! never a panic; and whatever decodes survives an encode/decode round trip
//! unchanged.

#![no_main]

use brume_proto::signal::{HubMsg, decode_client, decode_hub, encode_client, encode_hub};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(msg) = decode_client(data) {
        let text = encode_client(&msg);
        match decode_client(text.as_bytes()) {
            Ok(again) => assert_eq!(again, msg, "client round trip changed {text}"),
            Err(e) => panic!("client message {msg:?} encoded as {text}, which fails: {e}"),
        }
    }

    if let Ok(msg) = decode_hub(data) {
        // `Unknown` stands for any type this version does not know; it has no
        // wire form of its own to round-trip.
        if msg != HubMsg::Unknown {
            let text = encode_hub(&msg);
            match decode_hub(text.as_bytes()) {
                Ok(again) => assert_eq!(again, msg, "hub round trip changed {text}"),
                Err(e) => panic!("hub message {msg:?} encoded as {text}, which fails: {e}"),
            }
        }
    }
});
