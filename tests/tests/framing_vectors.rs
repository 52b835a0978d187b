//! Decodes and re-encodes `tests/vectors/framing.json`.

use brume_proto::endpoint::MAX_MESSAGE_LEN;
use brume_proto::framing::{Data, FramingError, Message, Namespace, decode, encode_in};
use serde::Deserialize;

#[derive(Deserialize)]
struct Vector {
    name: String,
    hex: String,
    namespace: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    text: Option<String>,
    bytes: Option<String>,
    error: Option<String>,
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn error_name(e: &FramingError) -> &'static str {
    match e {
        FramingError::TooShort(_) => "TooShort",
        FramingError::Version(_) => "Version",
        FramingError::ReservedBits(_) => "ReservedBits",
        FramingError::TypeLength(_) => "TypeLength",
        FramingError::Truncated => "Truncated",
        FramingError::TypeNotUtf8 => "TypeNotUtf8",
        FramingError::DataNotUtf8 => "DataNotUtf8",
        FramingError::TooLarge { .. } => "TooLarge",
    }
}

#[test]
fn framing_vectors_decode_and_re_encode() {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/vectors/framing.json"))
            .expect("framing vectors");
    let vectors: Vec<Vector> = serde_json::from_str(&text).expect("valid JSON");
    let (mut good, mut bad) = (0, 0);
    for v in vectors {
        let bytes = unhex(&v.hex);
        match &v.error {
            Some(expected) => {
                let err = decode(&bytes, MAX_MESSAGE_LEN).expect_err(&v.name);
                assert_eq!(error_name(&err), expected, "{}", v.name);
                bad += 1;
            }
            None => {
                let namespace = match v.namespace.as_deref() {
                    Some("control") => Namespace::Control,
                    _ => Namespace::App,
                };
                let data = match (&v.text, &v.bytes) {
                    (Some(t), None) => Data::Text(t.clone()),
                    (None, Some(b)) => Data::Bytes(unhex(b)),
                    _ => panic!("{}: exactly one of text and bytes", v.name),
                };
                let kind = v.kind.clone().expect("type");
                let msg = decode(&bytes, MAX_MESSAGE_LEN).expect(&v.name);
                assert_eq!(
                    msg,
                    Message {
                        namespace,
                        kind: kind.clone(),
                        data: data.clone()
                    },
                    "{}",
                    v.name
                );
                assert_eq!(
                    encode_in(namespace, &kind, &data).unwrap(),
                    bytes,
                    "{}",
                    v.name
                );
                good += 1;
            }
        }
    }
    assert!(good >= 8 && bad >= 8, "{good} good, {bad} bad");
}
