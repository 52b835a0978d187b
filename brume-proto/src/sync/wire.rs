//! The sync messages between a member and an owner: application messages
//! of type [`MESSAGE_TYPE`] on the peers' main channel, each a JSON object
//! with an `op` (docs/PROTOCOL.md, "Sync: messages").
//!
//! Decoding is total: bytes → [`SyncMsg`] or an error, size checked first;
//! every path goes through [`SyncPath`], so none can escape a group folder.

use super::manifest::Node;
use super::path::SyncPath;
use crate::signal::GroupName;
use crate::transfer::Hash;

/// The `type` of sync messages in the data-channel framing.
pub const MESSAGE_TYPE: &str = "brume-sync";

/// Manifest and fetch messages carry at most about this many bytes of
/// entries each, well under any peer's message limit.
pub const PIECE_BYTES: usize = 48 * 1024;

/// The largest sync message accepted (a piece plus one long entry).
pub const MAX_MESSAGE: usize = 64 * 1024;

/// One manifest entry on the wire: `{"path":"a/b.txt","kind":"file","size":3,"hash":"…"}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WireEntry {
    /// The path in the group folder.
    pub path: SyncPath,
    /// Folder or file (with size and hash); a link is never sent.
    #[serde(flatten)]
    pub node: Node,
}

/// One change of a `diff` on the wire: the path's new entry, or
/// `{"path":"a/b.txt","kind":"gone"}` when the path is no longer there.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DiffEntry {
    /// The path in the group folder.
    pub path: SyncPath,
    /// What it holds now.
    #[serde(flatten)]
    pub change: Change,
}

/// A path's new entry in a diff.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    /// Now a folder.
    Dir,
    /// Now this file.
    File {
        /// Size in bytes.
        size: u64,
        /// Content hash.
        #[serde(with = "super::manifest::hex_hash")]
        hash: Hash,
    },
    /// Nothing there any more.
    Gone,
}

impl DiffEntry {
    /// The change of `path` to `node` (`None`: gone). An owner never lists
    /// a link, so a link is sent as gone.
    pub fn new(path: SyncPath, node: Option<Node>) -> Self {
        let change = match node {
            Some(Node::Dir) => Change::Dir,
            Some(Node::File { size, hash }) => Change::File { size, hash },
            Some(Node::Link) | None => Change::Gone,
        };
        Self { path, change }
    }

    /// The path's new entry, `None` if it is gone.
    pub fn to(&self) -> Option<Node> {
        match self.change {
            Change::Dir => Some(Node::Dir),
            Change::File { size, hash } => Some(Node::File { size, hash }),
            Change::Gone => None,
        }
    }
}

/// A sync message.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum SyncMsg {
    /// Member → owner: send me the group's manifest, or only what changed
    /// since the version `since` (the digest of the member's base).
    Want {
        /// The owner's group (the owner is the peer).
        group: GroupName,
        /// The digest of the version the member is in step with.
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            with = "super::plan::option_hash"
        )]
        since: Option<Hash>,
    },
    /// Owner → member: one piece of the manifest; `last` ends it.
    Manifest {
        /// The group.
        group: GroupName,
        /// The sync round, counted by the owner, so pieces of two rounds never mix.
        round: u64,
        /// Entries in path order, continuing the previous piece.
        entries: Vec<WireEntry>,
        /// This is the last piece.
        last: bool,
    },
    /// Owner → member: one piece of what changed from version `since` to
    /// version `digest`, in path order; `last` ends it.
    Diff {
        /// The group.
        group: GroupName,
        /// The sync round, as for `manifest`.
        round: u64,
        /// The version the changes start from (the member's `since`).
        #[serde(with = "super::manifest::hex_hash")]
        since: Hash,
        /// The digest of the manifest the changes lead to.
        #[serde(with = "super::manifest::hex_hash")]
        digest: Hash,
        /// The changes, continuing the previous piece.
        changes: Vec<DiffEntry>,
        /// This is the last piece.
        last: bool,
    },
    /// Owner → member: not for you (`ENOTMEMBER`: the hub's membership,
    /// as the owner last published it, does not list you).
    Refused {
        /// The group.
        group: GroupName,
        /// An error code from the one table (`ENOTMEMBER`).
        code: String,
        /// For people.
        message: String,
    },
    /// Member → owner: send these files as one transfer, a folder named
    /// `sync-ROUND-BATCH` holding them at their paths; a batch's list comes
    /// in pieces of about 48 KiB, `last` ending it. If any no longer has the
    /// listed content the owner answers `changed` instead.
    Fetch {
        /// The group.
        group: GroupName,
        /// The round of the manifest they were chosen from.
        round: u64,
        /// Which batch of the round (from 0).
        batch: u64,
        /// The files, each with the size and hash it must have.
        files: Vec<WireEntry>,
        /// The last piece of this batch's list.
        last: bool,
    },
    /// Owner → member: the group changed; ask again (`want`).
    Changed {
        /// The group.
        group: GroupName,
    },
}

/// Why a sync message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Over [`MAX_MESSAGE`] bytes.
    #[error("sync message of {0} bytes, more than {MAX_MESSAGE}")]
    TooBig(usize),
    /// Not a sync message (JSON, fields, a path that escapes).
    #[error("bad sync message: {0}")]
    Malformed(String),
}

/// Decodes a sync message's data.
pub fn decode(bytes: &[u8]) -> Result<SyncMsg, WireError> {
    if bytes.len() > MAX_MESSAGE {
        return Err(WireError::TooBig(bytes.len()));
    }
    serde_json::from_slice(bytes).map_err(|e| WireError::Malformed(e.to_string()))
}

/// Encodes a sync message.
pub fn encode(msg: &SyncMsg) -> String {
    // Plain data (names, paths, numbers) always serialises.
    serde_json::to_string(msg).unwrap_or_default()
}

/// Cuts `items` into pieces of about [`PIECE_BYTES`] of JSON each (always
/// at least one piece, and at least one item per piece).
pub fn pieces<T: serde::Serialize>(items: Vec<T>) -> Vec<Vec<T>> {
    let mut out = vec![Vec::new()];
    let mut bytes = 0;
    for item in items {
        let len = serde_json::to_string(&item)
            .map(|s| s.len() + 1)
            .unwrap_or(0);
        let current = out.len() - 1;
        if bytes + len > PIECE_BYTES && !out[current].is_empty() {
            out.push(Vec::new());
            bytes = 0;
        }
        bytes += len;
        let current = out.len() - 1;
        out[current].push(item);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g() -> GroupName {
        GroupName::new("photos").unwrap()
    }

    #[test]
    fn vectors() {
        let cases = [
            (
                SyncMsg::Want {
                    group: g(),
                    since: None,
                },
                r#"{"op":"want","group":"photos"}"#.to_owned(),
            ),
            (
                SyncMsg::Want {
                    group: g(),
                    since: Some([0xcd; 32]),
                },
                format!(r#"{{"op":"want","group":"photos","since":"{}"}}"#, "cd".repeat(32)),
            ),
            (
                SyncMsg::Diff {
                    group: g(),
                    round: 2,
                    since: [0xcd; 32],
                    digest: [0xef; 32],
                    changes: vec![
                        DiffEntry::new(
                            SyncPath::parse("a/b.txt").unwrap(),
                            Some(Node::File { size: 3, hash: [0xab; 32] }),
                        ),
                        DiffEntry::new(SyncPath::parse("a/old.txt").unwrap(), None),
                    ],
                    last: true,
                },
                format!(
                    r#"{{"op":"diff","group":"photos","round":2,"since":"{}","digest":"{}","changes":[{{"path":"a/b.txt","kind":"file","size":3,"hash":"{}"}},{{"path":"a/old.txt","kind":"gone"}}],"last":true}}"#,
                    "cd".repeat(32),
                    "ef".repeat(32),
                    "ab".repeat(32)
                ),
            ),
            (
                SyncMsg::Manifest {
                    group: g(),
                    round: 1,
                    entries: vec![
                        WireEntry { path: SyncPath::parse("a").unwrap(), node: Node::Dir },
                        WireEntry {
                            path: SyncPath::parse("a/b.txt").unwrap(),
                            node: Node::File { size: 3, hash: [0xab; 32] },
                        },
                    ],
                    last: true,
                },
                format!(
                    r#"{{"op":"manifest","group":"photos","round":1,"entries":[{{"path":"a","kind":"dir"}},{{"path":"a/b.txt","kind":"file","size":3,"hash":"{}"}}],"last":true}}"#,
                    "ab".repeat(32)
                ),
            ),
            (
                SyncMsg::Refused {
                    group: g(),
                    code: "ENOTMEMBER".into(),
                    message: "carol is not a member of bob/photos".into(),
                },
                r#"{"op":"refused","group":"photos","code":"ENOTMEMBER","message":"carol is not a member of bob/photos"}"#.to_owned(),
            ),
            (
                SyncMsg::Fetch {
                    group: g(),
                    round: 1,
                    batch: 0,
                    files: vec![WireEntry {
                        path: SyncPath::parse("a/b.txt").unwrap(),
                        node: Node::File { size: 3, hash: [0xab; 32] },
                    }],
                    last: true,
                },
                format!(
                    r#"{{"op":"fetch","group":"photos","round":1,"batch":0,"files":[{{"path":"a/b.txt","kind":"file","size":3,"hash":"{}"}}],"last":true}}"#,
                    "ab".repeat(32)
                ),
            ),
            (SyncMsg::Changed { group: g() }, r#"{"op":"changed","group":"photos"}"#.to_owned()),
        ];
        for (msg, json) in cases {
            assert_eq!(encode(&msg), json);
            assert_eq!(decode(json.as_bytes()).unwrap(), msg);
        }
    }

    #[test]
    fn hostile_messages_are_refused() {
        for bad in [
            r#"{"op":"fetch","group":"photos","round":1,"batch":0,"files":[{"path":"../../.ssh/id","kind":"dir"}],"last":true}"#,
            r#"{"op":"want","group":"../x"}"#,
            r#"{"op":"manifest","group":"photos","round":1,"entries":[{"path":"/etc","kind":"dir"}],"last":true}"#,
            r#"{"op":"manifest","group":"photos","round":1,"entries":[{"path":"a","kind":"file","size":1,"hash":"zz"}],"last":true}"#,
            r#"{"op":"nope"}"#,
            "not json",
        ] {
            assert!(
                matches!(decode(bad.as_bytes()), Err(WireError::Malformed(_))),
                "{bad}"
            );
        }
        assert_eq!(
            decode(&vec![b' '; MAX_MESSAGE + 1]),
            Err(WireError::TooBig(MAX_MESSAGE + 1))
        );
    }

    #[test]
    fn pieces_stay_small() {
        let items: Vec<String> = (0..10_000)
            .map(|i| format!("folder/file-{i:05}.dat"))
            .collect();
        let ps = pieces(items.clone());
        assert!(ps.len() > 1);
        assert!(
            ps.iter()
                .all(|p| serde_json::to_string(p).unwrap().len() <= PIECE_BYTES + 64)
        );
        assert_eq!(ps.concat(), items);
        assert_eq!(pieces(Vec::<String>::new()), vec![Vec::<String>::new()]);
    }
}
