//! Checks the protocol test vectors in `tests/vectors/` against brume-proto.
//!
//! The format of each file is described in docs/PROTOCOL.md, "Test vectors".
//! Besides checking each vector, these tests make sure the vectors cover every
//! message type, every error code and every close reason, so they cannot
//! silently fall behind the code.

use std::collections::BTreeSet;
use std::path::PathBuf;

use brume_proto::ErrorCode;
use brume_proto::signal::{
    ClientMsg, CloseReason, HubMsg, MAX_FRAME_LEN, decode_client, decode_hub, encode_client,
    encode_hub,
};
use brume_proto::token::{TokenKey, TokenKind};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

// ----- the vector files -----

/// One message that must decode, in `client.json` or `hub.json`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Valid {
    name: String,
    #[serde(default)]
    #[allow(dead_code)] // for people
    note: Option<String>,
    /// The message as sent.
    json: Value,
    /// What re-encoding gives, when it is not `json` itself.
    #[serde(default)]
    canonical: Option<Value>,
    /// A hub message of a type clients do not know and must ignore.
    #[serde(default)]
    ignored: bool,
}

/// Which decoder an invalid frame is fed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Decoder {
    Client,
    Hub,
    Both,
}

/// A piece of a generated frame: a literal, or a string repeated `count` times.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Part {
    Literal(String),
    Repeat { repeat: String, count: usize },
}

/// One frame that must not decode, in `invalid.json`. Exactly one of `text`,
/// `hex`, `repeat` (with `count`) or `parts` gives the frame's bytes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Invalid {
    name: String,
    #[serde(default)]
    #[allow(dead_code)] // for people
    note: Option<String>,
    decoder: Decoder,
    expect: String,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    hex: Option<String>,
    #[serde(default)]
    repeat: Option<String>,
    #[serde(default)]
    count: Option<usize>,
    #[serde(default)]
    parts: Option<Vec<Part>>,
}

/// One row of `errors.json`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ErrorRow {
    code: String,
    number: u16,
    text: String,
}

fn load<T: DeserializeOwned>(file: &str) -> Vec<T> {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "vectors", file]
        .iter()
        .collect();
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
}

fn unique_names<'a>(file: &str, names: impl IntoIterator<Item = &'a str>) {
    let mut seen = BTreeSet::new();
    for name in names {
        assert!(seen.insert(name), "{file}: the name {name:?} is used twice");
    }
    assert!(!seen.is_empty(), "{file} is empty");
}

fn hex_decode(hex: &str) -> Vec<u8> {
    assert!(hex.len().is_multiple_of(2), "odd-length hex {hex:?}");
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex digits"))
        .collect()
}

impl Invalid {
    fn frame(&self) -> Vec<u8> {
        let given = [
            self.text.is_some(),
            self.hex.is_some(),
            self.repeat.is_some(),
            self.parts.is_some(),
        ];
        assert_eq!(
            given.iter().filter(|g| **g).count(),
            1,
            "{}: give exactly one of text, hex, repeat, parts",
            self.name
        );
        assert_eq!(
            self.repeat.is_some(),
            self.count.is_some(),
            "{}: repeat and count go together",
            self.name
        );
        if let Some(text) = &self.text {
            return text.as_bytes().to_vec();
        }
        if let Some(hex) = &self.hex {
            return hex_decode(hex);
        }
        if let (Some(repeat), Some(count)) = (&self.repeat, self.count) {
            return repeat.repeat(count).into_bytes();
        }
        let mut frame = String::new();
        for part in self.parts.iter().flatten() {
            match part {
                Part::Literal(s) => frame.push_str(s),
                Part::Repeat { repeat, count } => frame.push_str(&repeat.repeat(*count)),
            }
        }
        frame.into_bytes()
    }
}

// ----- exhaustive lists, so a new variant cannot go unnoticed -----

/// Every `type` a client may send, in declaration order.
const CLIENT_TYPES: [&str; 16] = [
    "hello",
    "refresh",
    "offer",
    "answer",
    "candidate",
    "reject",
    "cancel",
    "subscribe",
    "unsubscribe",
    "members",
    "ping",
    "pong",
    "close",
    "invite",
    "claim",
    "contacts",
];

/// Every `type` the hub sends, in declaration order (not `Unknown`).
const HUB_TYPES: [&str; 17] = [
    "welcome",
    "token",
    "offer",
    "answer",
    "candidate",
    "reject",
    "cancel",
    "presence",
    "members",
    "ping",
    "pong",
    "error",
    "close",
    "invitation",
    "contact",
    "contacts",
    "turn",
];

/// The `type` of a hub message; exhaustive, like `ClientMsg::kind`.
fn hub_type(msg: &HubMsg) -> Option<&'static str> {
    Some(match msg {
        HubMsg::Welcome { .. } => "welcome",
        HubMsg::Token { .. } => "token",
        HubMsg::Offer { .. } => "offer",
        HubMsg::Answer { .. } => "answer",
        HubMsg::Candidate { .. } => "candidate",
        HubMsg::Reject { .. } => "reject",
        HubMsg::Cancel { .. } => "cancel",
        HubMsg::Presence { .. } => "presence",
        HubMsg::Members { .. } => "members",
        HubMsg::Ping { .. } => "ping",
        HubMsg::Pong { .. } => "pong",
        HubMsg::Error { .. } => "error",
        HubMsg::Close { .. } => "close",
        HubMsg::Invitation { .. } => "invitation",
        HubMsg::Contact { .. } => "contact",
        HubMsg::Contacts { .. } => "contacts",
        HubMsg::Turn { .. } => "turn",
        HubMsg::Unknown => return None,
    })
}

/// Every close reason, the catch-all `Unknown` included.
const CLOSE_REASONS: [&str; 11] = [
    "replaced",
    "idle",
    "auth_timeout",
    "auth_failed",
    "version",
    "full",
    "shutdown",
    "user_removed",
    "client",
    "too_many_devices",
    "unknown",
];

/// The wire string of a close reason; exhaustive, like `ClientMsg::kind`.
fn close_reason(reason: CloseReason) -> &'static str {
    match reason {
        CloseReason::Replaced => "replaced",
        CloseReason::Idle => "idle",
        CloseReason::AuthTimeout => "auth_timeout",
        CloseReason::AuthFailed => "auth_failed",
        CloseReason::Version => "version",
        CloseReason::Full => "full",
        CloseReason::Shutdown => "shutdown",
        CloseReason::UserRemoved => "user_removed",
        CloseReason::Client => "client",
        CloseReason::TooManyDevices => "too_many_devices",
        CloseReason::Unknown => "unknown",
    }
}

/// The names serde lists in an "unknown variant `…`, expected one of `a`, `b`"
/// error: the enum's variants as the code sees them, not as this file does.
fn serde_variants(error: &str) -> BTreeSet<String> {
    let list = error
        .split_once("expected one of ")
        .unwrap_or_else(|| panic!("serde's error no longer lists the variants: {error}"))
        .1;
    list.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

// ----- valid vectors -----

/// Decodes one vector's frame, compact and pretty-printed, and re-encodes it.
fn round_trip<M: PartialEq + std::fmt::Debug>(
    v: &Valid,
    decode: impl Fn(&[u8]) -> Result<M, brume_proto::signal::DecodeError>,
    encode: impl Fn(&M) -> String,
) -> M {
    let frame = serde_json::to_vec(&v.json).unwrap();
    let msg = decode(&frame).unwrap_or_else(|e| panic!("{}: does not decode: {e}", v.name));
    let pretty = serde_json::to_vec_pretty(&v.json).unwrap();
    assert_eq!(
        decode(&pretty).as_ref(),
        Ok(&msg),
        "{}: whitespace changed the message",
        v.name
    );
    let encoded = encode(&msg);
    let got: Value = serde_json::from_str(&encoded).unwrap();
    let want = v.canonical.as_ref().unwrap_or(&v.json);
    assert_eq!(&got, want, "{}: re-encoded as {encoded}", v.name);
    if let Some(canonical) = &v.canonical {
        assert_ne!(
            canonical, &v.json,
            "{}: `canonical` is only for when it differs",
            v.name
        );
    }
    assert_eq!(
        decode(encoded.as_bytes()).as_ref(),
        Ok(&msg),
        "{}: the re-encoded frame decodes differently",
        v.name
    );
    msg
}

fn client_vectors() -> Vec<(Valid, ClientMsg)> {
    let vectors: Vec<Valid> = load("client.json");
    unique_names("client.json", vectors.iter().map(|v| v.name.as_str()));
    vectors
        .into_iter()
        .map(|v| {
            assert!(!v.ignored, "{}: `ignored` is only for hub.json", v.name);
            let msg = round_trip(&v, decode_client, encode_client);
            (v, msg)
        })
        .collect()
}

fn hub_vectors() -> Vec<(Valid, HubMsg)> {
    let vectors: Vec<Valid> = load("hub.json");
    unique_names("hub.json", vectors.iter().map(|v| v.name.as_str()));
    vectors
        .into_iter()
        .map(|v| {
            let msg = if v.ignored {
                assert!(
                    v.canonical.is_none(),
                    "{}: ignored has no canonical",
                    v.name
                );
                let frame = serde_json::to_vec(&v.json).unwrap();
                let msg = decode_hub(&frame)
                    .unwrap_or_else(|e| panic!("{}: does not decode: {e}", v.name));
                assert_eq!(msg, HubMsg::Unknown, "{}: should be ignorable", v.name);
                msg
            } else {
                let msg = round_trip(&v, decode_hub, encode_hub);
                assert_ne!(msg, HubMsg::Unknown, "{}: decodes as unknown", v.name);
                msg
            };
            (v, msg)
        })
        .collect()
}

#[test]
fn client_vectors_round_trip() {
    for (v, msg) in client_vectors() {
        assert_eq!(
            v.json.get("type").and_then(Value::as_str),
            Some(msg.kind()),
            "{}: the `type` field",
            v.name
        );
    }
}

#[test]
fn hub_vectors_round_trip() {
    let vectors = hub_vectors();
    assert!(vectors.iter().any(|(v, _)| v.ignored));
}

#[test]
fn every_client_message_type_has_a_vector() {
    let seen: BTreeSet<&str> = client_vectors().iter().map(|(_, m)| m.kind()).collect();
    let all: BTreeSet<&str> = CLIENT_TYPES.into_iter().collect();
    assert_eq!(seen, all);

    // The decoder's own list of types, so CLIENT_TYPES cannot fall behind it.
    let err = decode_client(br#"{"type":"?"}"#).unwrap_err().to_string();
    let variants = serde_variants(&err);
    assert_eq!(variants, all.iter().map(|s| s.to_string()).collect());
}

#[test]
fn every_hub_message_type_has_a_vector() {
    let seen: BTreeSet<&str> = hub_vectors()
        .iter()
        .filter_map(|(_, m)| hub_type(m))
        .collect();
    assert_eq!(seen, HUB_TYPES.into_iter().collect());
}

#[test]
fn every_error_code_has_a_vector() {
    let seen: BTreeSet<ErrorCode> = hub_vectors()
        .iter()
        .filter_map(|(_, m)| match m {
            HubMsg::Error { code, .. } => Some(*code),
            _ => None,
        })
        .collect();
    let all: BTreeSet<ErrorCode> = ErrorCode::ALL.into_iter().collect();
    assert_eq!(
        all.len(),
        ErrorCode::ALL.len(),
        "ErrorCode::ALL repeats a code"
    );
    let missing: Vec<_> = all.difference(&seen).map(|c| c.as_str()).collect();
    assert!(missing.is_empty(), "no error vector for {missing:?}");

    // A code from a newer hub decodes, as `Unknown`, instead of failing the frame.
    let frame = br#"{"type":"error","code":"E?","message":""}"#;
    assert!(matches!(
        decode_hub(frame),
        Ok(HubMsg::Error {
            code: ErrorCode::Unknown,
            ..
        })
    ));
}

#[test]
fn every_close_reason_has_a_vector() {
    let mut seen = BTreeSet::new();
    for (v, msg) in hub_vectors() {
        if let HubMsg::Close { reason } = msg {
            assert_eq!(close_reason(reason), reason.as_str(), "{}", v.name);
            seen.insert(close_reason(reason));
        }
    }
    assert_eq!(seen, CLOSE_REASONS.into_iter().collect());
}

#[test]
fn the_error_table_matches_the_code() {
    let rows: Vec<ErrorRow> = load("errors.json");
    unique_names("errors.json", rows.iter().map(|r| r.code.as_str()));
    let table: Vec<(&str, u16, &str)> = rows
        .iter()
        .map(|r| (r.code.as_str(), r.number, r.text.as_str()))
        .collect();
    let code: Vec<(&str, u16, &str)> = ErrorCode::ALL
        .iter()
        .map(|c| (c.as_str(), c.number(), c.describe()))
        .collect();
    assert_eq!(table, code);
}

/// The secret the tokens in the vectors are signed with (docs/PROTOCOL.md).
const TEST_SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

#[test]
fn the_tokens_in_the_vectors_verify_with_the_test_secret() {
    let key = TokenKey::from_secret(TEST_SECRET).unwrap();
    let mut checked = 0;
    for (v, msg) in client_vectors() {
        let (token, kind) = match msg {
            ClientMsg::Hello { token: Some(t), .. } => (t, TokenKind::Access),
            ClientMsg::Refresh {
                refresh_token: Some(t),
                ..
            } => (t, TokenKind::Refresh),
            _ => continue,
        };
        let (user, claims) = key
            .verify(Some(&token), kind, 1_800_000_000)
            .unwrap_or_else(|e| panic!("{}: {e}", v.name));
        assert_eq!((user.as_str(), claims.iat), ("alice", 1_800_000_000));
        checked += 1;
    }
    for (v, msg) in hub_vectors() {
        if let HubMsg::Token {
            access_token,
            expires_at,
        } = msg
        {
            let (user, claims) = key
                .verify(Some(&access_token), TokenKind::Access, expires_at - 1)
                .unwrap_or_else(|e| panic!("{}: {e}", v.name));
            assert_eq!((user.as_str(), claims.exp), ("alice", expires_at));
            checked += 1;
        }
    }
    assert_eq!(checked, 7);
}

// ----- invalid vectors -----

#[test]
fn invalid_vectors_fail_with_their_code() {
    let vectors: Vec<Invalid> = load("invalid.json");
    unique_names("invalid.json", vectors.iter().map(|v| v.name.as_str()));
    let mut expected_codes = BTreeSet::new();
    for v in &vectors {
        let frame = v.frame();
        assert!(
            v.expect == "EBADMSG" || v.expect == "ETOOBIG",
            "{}: expect {:?}",
            v.name,
            v.expect
        );
        expected_codes.insert(v.expect.as_str());
        if matches!(v.decoder, Decoder::Client | Decoder::Both) {
            match decode_client(&frame) {
                Ok(msg) => panic!("{}: decoded as a client message: {msg:?}", v.name),
                Err(e) => assert_eq!(e.code().as_str(), v.expect, "{}: {e}", v.name),
            }
        }
        if matches!(v.decoder, Decoder::Hub | Decoder::Both) {
            match decode_hub(&frame) {
                Ok(msg) => panic!("{}: decoded as a hub message: {msg:?}", v.name),
                Err(e) => assert_eq!(e.code().as_str(), v.expect, "{}: {e}", v.name),
            }
        }
        if v.expect == "ETOOBIG" {
            assert!(
                frame.len() > MAX_FRAME_LEN,
                "{}: not over the limit",
                v.name
            );
        }
    }
    assert_eq!(expected_codes, BTreeSet::from(["EBADMSG", "ETOOBIG"]));
}

#[test]
fn a_frame_of_exactly_the_limit_decodes() {
    let prefix = r#"{"type":"ping","nonce":1,"pad":""#;
    let suffix = r#""}"#;
    let pad = "x".repeat(MAX_FRAME_LEN - prefix.len() - suffix.len());
    let frame = format!("{prefix}{pad}{suffix}");
    assert_eq!(frame.len(), MAX_FRAME_LEN);
    assert_eq!(
        decode_client(frame.as_bytes()),
        Ok(ClientMsg::Ping { nonce: 1 })
    );
    let over = format!("{prefix}{pad}x{suffix}");
    assert_eq!(
        decode_client(over.as_bytes()).unwrap_err().code(),
        ErrorCode::TooBig
    );
}
