//! The command with a damaged config: a DTLS key the DTLS stack cannot use
//! is named as the config's fault and ends the command cleanly, instead of
//! panicking when the first connection is built.

mod common;
use common::*;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

#[test]
fn a_config_with_an_unusable_dtls_key_is_refused_with_a_clear_error() {
    let hub = Hub::start("bad-key");
    let alice = hub.add_user("alice", "pw-alice");
    hub.add_user("bob", "pw-bob");
    // DER-shaped bytes (a SEQUENCE), but no key: what a truncated or
    // hand-edited config holds.
    let mut conf: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&alice).unwrap()).unwrap();
    conf["dtls_cert"] = serde_json::json!({
        "certificate": B64.encode([0x30, 0x03, 0x02, 0x01, 0x01]),
        "private_key": B64.encode([0x30, 0x00]),
    });
    std::fs::write(&alice, conf.to_string()).unwrap();

    let out = brume(&alice, &["ping", "bob"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("bad DTLS certificate in the config"), "{err}");
    assert!(err.contains("private key"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}
