//! What a transfer carries: its entries, how files are cut into blocks, and
//! the content hash that proves a file whole.
//!
//! A file is cut into blocks of [`block_size`] bytes; each block's BLAKE3 hash
//! is listed, and the file's content hash is BLAKE3 over its size, its block
//! size and that list. Checking every block against the list, and the list
//! against the content hash, verifies the whole content; and a receiver that
//! restarts can check what it already holds block by block, without the
//! sender, and resume after the last good block.

use serde::{Deserialize, Serialize};

/// The smallest block: 1 MiB.
pub const MIN_BLOCK: u64 = 1 << 20;
/// At most this many blocks per file, so a hash list stays small; larger
/// files get larger blocks.
pub const MAX_BLOCKS: u64 = 1 << 16;
/// At most this many entries (files and folders) in one transfer.
pub const MAX_ENTRIES: usize = 1_000_000;
/// At most this many bytes of entry paths in one transfer, all added up
/// (1,000,000 entries with paths of 128 bytes on average): bounds what a
/// receiver holds for one offer.
pub const MAX_PATH_BYTES: usize = 128 << 20;
/// Offer and `entries` messages carry at most about this many bytes of
/// entries each (one entry always fits), well under any peer's message limit.
pub const PIECE_BYTES: usize = 48 * 1024;
/// A BLAKE3 hash.
pub type Hash = [u8; 32];

/// The block size for a file of `size` bytes: a power of two, at least 1 MiB,
/// with at most `MAX_BLOCKS` (65,536) blocks.
pub fn block_size(size: u64) -> u64 {
    let mut b = MIN_BLOCK;
    while size.div_ceil(b) > MAX_BLOCKS {
        b *= 2;
    }
    b
}

/// How many blocks a file of `size` bytes has with blocks of `block`.
pub fn block_count(size: u64, block: u64) -> u64 {
    size.div_ceil(block)
}

/// The length of block `index` of a file of `size` bytes.
pub fn block_len(size: u64, block: u64, index: u64) -> u64 {
    block.min(size.saturating_sub(index * block))
}

/// The hash of one block.
pub fn hash_block(data: &[u8]) -> Hash {
    *blake3::hash(data).as_bytes()
}

/// The hash of each `block` bytes of `data` in turn (the last piece may be
/// shorter): what a `HashSource` answers for a range held in memory.
pub fn hash_blocks(data: &[u8], block: u64) -> Vec<Hash> {
    data.chunks(block.max(1) as usize).map(hash_block).collect()
}

/// The content hash of a file from its size, block size and block hashes.
pub fn content_hash(size: u64, block: u64, blocks: &[Hash]) -> Hash {
    let mut h = blake3::Hasher::new();
    h.update(b"brume-file-v1");
    h.update(&size.to_le_bytes());
    h.update(&block.to_le_bytes());
    for b in blocks {
        h.update(b);
    }
    *h.finalize().as_bytes()
}

/// One entry of a transfer, as offered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Its `/`-separated path within the transfer; the first component is
    /// the transfer's name.
    pub path: String,
    /// A file or a folder.
    pub kind: EntryKind,
    /// Size in bytes (0 for a folder).
    #[serde(default)]
    pub size: u64,
    /// Modification time, seconds since the Unix epoch.
    #[serde(default)]
    pub mtime: u64,
    /// The MIME type, if the sender knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime: Option<String>,
    /// The content hash, hex (files only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
    /// The file is executable (on Unix: any execute bit was set); absent
    /// means false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub executable: bool,
}

impl Entry {
    /// A folder at `path`, with no time of its own.
    pub fn dir(path: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            kind: EntryKind::Dir,
            size: 0,
            mtime: 0,
            mime: None,
            hash: None,
            executable: false,
        }
    }
}

/// File or folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A folder.
    Dir,
}

/// Lower-case hex of a hash.
pub fn to_hex(h: &Hash) -> String {
    // BLAKE3's own encoder: a `format!` per byte made saving a 10,000-file
    // hash cache cost a twentieth of a member's CPU in its first sync.
    blake3::Hash::from_bytes(*h).to_hex().to_string()
}

/// A hash from 64 hex digits.
pub fn from_hex(s: &str) -> Option<Hash> {
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(s.get(i * 2..i * 2 + 2)?, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_lower_case_and_round_trips() {
        let h: Hash = std::array::from_fn(|i| (i * 37 + 5) as u8);
        let hex = to_hex(&h);
        assert_eq!(&hex[..8], "052a4f74");
        assert_eq!(hex.len(), 64);
        assert_eq!(from_hex(&hex), Some(h));
    }

    #[test]
    fn blocks_grow_for_large_files() {
        assert_eq!(block_size(0), MIN_BLOCK);
        assert_eq!(block_size(64 << 30), MIN_BLOCK);
        assert_eq!(block_size((64 << 30) + 1), 2 * MIN_BLOCK);
        assert!(block_count(1 << 40, block_size(1 << 40)) <= MAX_BLOCKS);
    }

    #[test]
    fn the_last_block_is_short() {
        assert_eq!(block_len(10, 4, 0), 4);
        assert_eq!(block_len(10, 4, 2), 2);
        assert_eq!(block_len(10, 4, 3), 0);
        assert_eq!(block_count(10, 4), 3);
        assert_eq!(block_count(0, 4), 0);
    }

    #[test]
    fn the_content_hash_depends_on_every_block_and_the_size() {
        let a = [hash_block(b"one"), hash_block(b"two")];
        let b = [hash_block(b"one"), hash_block(b"tw0")];
        assert_ne!(content_hash(6, 3, &a), content_hash(6, 3, &b));
        assert_ne!(content_hash(6, 3, &a), content_hash(7, 3, &a));
    }

    #[test]
    fn hex_round_trips_and_refuses_junk() {
        let h = hash_block(b"x");
        assert_eq!(from_hex(&to_hex(&h)), Some(h));
        assert_eq!(from_hex("zz"), None);
        assert_eq!(from_hex(&"g".repeat(64)), None);
    }
}
