//! The messages on a transfer's own data channel.
//!
//! Every message is framed with [`crate::framing`]. Control messages are JSON
//! in the control namespace; block hashes and file data are binary in the
//! application namespace, kinds `h` and `d`:
//!
//! ```text
//! h: file u32 BE | first block u32 BE | 32-byte hashes…
//! d: file u32 BE | offset u64 BE | bytes…
//! ```

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::manifest::{Entry, Hash};
use crate::framing::{self, Data, FramingError, Namespace};

/// A transfer's control messages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Control {
    /// Sender → receiver, first: what is offered, and the first piece of
    /// its entries.
    Offer {
        /// The transfer's display name (the root entry's name).
        name: String,
        /// Total bytes of all files.
        total: u64,
        /// How many entries the transfer has in all; absent means those in
        /// this message are all of them.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        count: Option<u64>,
        /// The first entries (folders and files).
        entries: Vec<Entry>,
    },
    /// Sender → receiver, after the offer and before any hashes: the next
    /// piece of the entries, until `count` have come.
    Entries {
        /// The index of this piece's first entry: how many came before.
        start: u64,
        /// The entries.
        entries: Vec<Entry>,
    },
    /// Receiver → sender: yes.
    Accept,
    /// Receiver → sender: no, and why.
    Reject {
        /// For people.
        reason: String,
    },
    /// Receiver → sender: send file `file` from byte `offset` (a block boundary).
    Get {
        /// Index into the offer's entries.
        file: u32,
        /// Where to start.
        offset: u64,
    },
    /// Receiver → sender: everything arrived, verified and in place.
    Done,
    /// Either side: stop now.
    Cancel {
        /// For people; both sides see it.
        reason: String,
    },
}

/// One message on a transfer channel. File data is borrowed where it can
/// be: decoding leaves it in the received message and encoding copies it
/// once, straight into the frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wire<'a> {
    /// A control message.
    Control(Control),
    /// Block hashes of a file, from block `start` on.
    Hashes {
        /// Index into the offer's entries.
        file: u32,
        /// The first block these hashes are for.
        start: u32,
        /// The hashes.
        hashes: Vec<Hash>,
    },
    /// File bytes.
    Data {
        /// Index into the offer's entries.
        file: u32,
        /// Where they go.
        offset: u64,
        /// The bytes.
        bytes: Cow<'a, [u8]>,
    },
}

/// Why a transfer message could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The framing is wrong.
    #[error(transparent)]
    Framing(#[from] FramingError),
    /// A control message that is not valid JSON of a known type.
    #[error("bad control message: {0}")]
    Control(String),
    /// A binary message of an unknown kind or the wrong length.
    #[error("bad binary message: {0}")]
    Binary(&'static str),
}

/// Bytes of header before a data chunk's payload, framing included.
pub const DATA_OVERHEAD: usize = 2 + 1 + 4 + 8;
/// Bytes of header before a hash list, framing included.
pub const HASHES_OVERHEAD: usize = 2 + 1 + 4 + 4;

impl Wire<'_> {
    /// Encodes for the channel.
    pub fn encode(&self) -> Vec<u8> {
        // The kinds are one byte, inside the framing's limits.
        const FRAMES: &str = "one-byte kinds always frame";
        match self {
            Wire::Control(c) => {
                // Control messages are plain structs of strings and numbers.
                let json = serde_json::to_string(c).expect("control messages serialise");
                framing::encode_in(Namespace::Control, "c", &Data::Text(json)).expect(FRAMES)
            }
            Wire::Hashes {
                file,
                start,
                hashes,
            } => {
                let head = [file.to_be_bytes(), start.to_be_bytes()].concat();
                let mut parts: Vec<&[u8]> = Vec::with_capacity(1 + hashes.len());
                parts.push(&head);
                parts.extend(hashes.iter().map(|h| &h[..]));
                framing::encode_binary(Namespace::App, "h", &parts).expect(FRAMES)
            }
            Wire::Data {
                file,
                offset,
                bytes,
            } => {
                let (file, offset) = (file.to_be_bytes(), offset.to_be_bytes());
                framing::encode_binary(Namespace::App, "d", &[&file, &offset, bytes]).expect(FRAMES)
            }
        }
    }
}

impl<'a> Wire<'a> {
    /// Decodes a message of at most `max` bytes; file data stays in `bytes`.
    /// Total: never panics.
    pub fn decode(bytes: &'a [u8], max: usize) -> Result<Wire<'a>, WireError> {
        let msg = framing::decode_ref(bytes, max)?;
        match (msg.namespace, msg.kind, msg.text) {
            (Namespace::Control, "c", true) => serde_json::from_slice(msg.payload)
                .map(Wire::Control)
                .map_err(|e| WireError::Control(e.to_string())),
            (Namespace::App, "h", false) => {
                let (file, start, rest) = split_header(msg.payload)?;
                if rest.len() % 32 != 0 {
                    return Err(WireError::Binary(
                        "hash list is not a whole number of hashes",
                    ));
                }
                let hashes = rest
                    .chunks_exact(32)
                    .map(|c| {
                        let mut h = [0u8; 32];
                        h.copy_from_slice(c);
                        h
                    })
                    .collect();
                Ok(Wire::Hashes {
                    file,
                    start,
                    hashes,
                })
            }
            (Namespace::App, "d", false) => {
                let (file, hi, rest) = split_header(msg.payload)?;
                let [l0, l1, l2, l3, payload @ ..] = rest else {
                    return Err(WireError::Binary("data header too short"));
                };
                let lo = u32::from_be_bytes([*l0, *l1, *l2, *l3]);
                Ok(Wire::Data {
                    file,
                    offset: (u64::from(hi) << 32) | u64::from(lo),
                    bytes: Cow::Borrowed(payload),
                })
            }
            _ => Err(WireError::Binary("unknown message kind")),
        }
    }
}

/// Makes `frame` a data message by writing its header into the first
/// [`DATA_OVERHEAD`] bytes; the rest is the data. The same bytes as encoding
/// [`Wire::Data`], without copying the data (the driver reads file data in
/// after that much head room).
pub fn frame_data_in_place(file: u32, offset: u64, frame: &mut [u8]) {
    let header = framing::encode_binary(
        Namespace::App,
        "d",
        &[&file.to_be_bytes(), &offset.to_be_bytes()],
    )
    .expect("one-byte kinds always frame");
    frame[..DATA_OVERHEAD].copy_from_slice(&header);
}

fn split_header(b: &[u8]) -> Result<(u32, u32, &[u8]), WireError> {
    let [a0, a1, a2, a3, b0, b1, b2, b3, rest @ ..] = b else {
        return Err(WireError::Binary("header too short"));
    };
    Ok((
        u32::from_be_bytes([*a0, *a1, *a2, *a3]),
        u32::from_be_bytes([*b0, *b1, *b2, *b3]),
        rest,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transfer::manifest::EntryKind;
    use proptest::prelude::*;

    #[test]
    fn control_messages_round_trip() {
        let offer = Control::Offer {
            name: "a.txt".into(),
            total: 3,
            entries: vec![Entry {
                path: "a.txt".into(),
                kind: EntryKind::File,
                size: 3,
                mtime: 1,
                mime: Some("text/plain".into()),
                hash: Some("00".repeat(32)),
                executable: true,
            }],
            count: Some(2),
        };
        let piece = Control::Entries {
            start: 1,
            entries: vec![Entry::dir("a.txt/b")],
        };
        for c in [
            offer,
            piece,
            Control::Accept,
            Control::Done,
            Control::Get {
                file: 2,
                offset: 1 << 40,
            },
        ] {
            let w = Wire::Control(c);
            assert_eq!(Wire::decode(&w.encode(), 1 << 20).unwrap(), w);
        }
    }

    #[test]
    fn data_keeps_a_64_bit_offset() {
        let w = Wire::Data {
            file: 7,
            offset: (5 << 32) + 9,
            bytes: vec![1, 2, 3].into(),
        };
        let bytes = w.encode();
        assert_eq!(bytes.len(), DATA_OVERHEAD + 3);
        assert_eq!(Wire::decode(&bytes, 1 << 20).unwrap(), w);
    }

    #[test]
    fn framing_in_place_matches_encoding() {
        let data = [7u8, 8, 9, 10];
        let mut frame = vec![0xff; DATA_OVERHEAD];
        frame.extend_from_slice(&data);
        frame_data_in_place(3, 1 << 33, &mut frame);
        let w = Wire::Data {
            file: 3,
            offset: 1 << 33,
            bytes: data[..].into(),
        };
        assert_eq!(frame, w.encode());
    }

    #[test]
    fn a_ragged_hash_list_is_an_error() {
        let mut bytes = Wire::Hashes {
            file: 0,
            start: 0,
            hashes: vec![[1; 32]],
        }
        .encode();
        bytes.pop();
        assert!(matches!(
            Wire::decode(&bytes, 1 << 20),
            Err(WireError::Binary(_))
        ));
    }

    proptest! {
        #[test]
        fn decoding_is_total(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = Wire::decode(&bytes, 100);
        }

        #[test]
        fn binary_round_trip(file in any::<u32>(), offset in any::<u64>(), bytes in proptest::collection::vec(any::<u8>(), 0..100)) {
            let w = Wire::Data { file, offset, bytes: bytes.into() };
            let bytes = w.encode();
            prop_assert_eq!(Wire::decode(&bytes, usize::MAX).unwrap(), w);
        }
    }
}

#[cfg(test)]
mod vector {
    use super::*;
    use crate::transfer::manifest::{self, EntryKind};

    /// The manifest example of docs/PROTOCOL.md ("A manifest in pieces"):
    /// these exact bytes, in this order.
    #[test]
    fn the_documented_manifest_in_pieces() {
        let abc = manifest::content_hash(3, manifest::MIN_BLOCK, &[manifest::hash_block(b"abc")]);
        let empty = manifest::content_hash(0, manifest::MIN_BLOCK, &[]);
        let file = |path: &str, size, hash, executable| Entry {
            path: path.into(),
            kind: EntryKind::File,
            size,
            mtime: 1_800_000_000,
            mime: None,
            hash: Some(manifest::to_hex(hash)),
            executable,
        };
        let msgs = [
            Wire::Control(Control::Offer {
                name: "album".into(),
                total: 3,
                count: Some(3),
                entries: vec![Entry {
                    path: "album".into(),
                    kind: EntryKind::Dir,
                    size: 0,
                    mtime: 1_800_000_000,
                    mime: None,
                    hash: None,
                    executable: false,
                }],
            }),
            Wire::Control(Control::Entries {
                start: 1,
                entries: vec![
                    file("album/run.sh", 3, &abc, true),
                    file("album/empty", 0, &empty, false),
                ],
            }),
            Wire::Hashes {
                file: 1,
                start: 0,
                hashes: vec![manifest::hash_block(b"abc")],
            },
        ];
        let expected = [
            concat!(
                "130163",
                r#"{"type":"offer","name":"album","total":3,"count":3,"entries":[{"path":"album","kind":"dir","size":0,"mtime":1800000000}]}"#
            )
            .to_owned(),
            format!(
                "130163{}",
                concat!(
                    r#"{"type":"entries","start":1,"entries":["#,
                    r#"{"path":"album/run.sh","kind":"file","size":3,"mtime":1800000000,"hash":"HASH_ABC","executable":true},"#,
                    r#"{"path":"album/empty","kind":"file","size":0,"mtime":1800000000,"hash":"HASH_EMPTY"}]}"#
                )
                .replace("HASH_ABC", &manifest::to_hex(&abc))
                .replace("HASH_EMPTY", &manifest::to_hex(&empty))
            ),
            format!(
                "100168 00000001 00000000 {}",
                manifest::to_hex(&manifest::hash_block(b"abc"))
            ),
        ];
        for (msg, want) in msgs.iter().zip(expected) {
            let bytes = msg.encode();
            // Text after the 3-byte header; binary messages in hex throughout.
            let hex = |b: &[u8]| b.iter().map(|b| format!("{b:02x}")).collect::<String>();
            let shown = match msg {
                Wire::Control(_) => hex(&bytes[..3]) + std::str::from_utf8(&bytes[3..]).unwrap(),
                _ => hex(&bytes),
            };
            assert_eq!(shown, want.replace(' ', ""), "{msg:?}");
            assert_eq!(&Wire::decode(&bytes, 1 << 20).unwrap(), msg);
        }
        println!(
            "abc {}\nempty {}",
            manifest::to_hex(&abc),
            manifest::to_hex(&empty)
        );
    }
}
