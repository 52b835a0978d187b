//! The storage actions a transfer asks its driver to execute, and their results.
//!
//! The core never touches a file. Target paths are components already
//! checked by [`super::names`], relative to the folder the application chose
//! when it accepted (`dir`, which the core passes through and never reads).

use super::TransferKey;

/// The id of one storage request; its result must come back with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId(pub u64);

/// A path under a receiving transfer's folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetPath {
    /// The folder the application chose at `accept`, as it gave it.
    pub dir: String,
    /// Checked components below it; never empty, never `..`.
    pub components: Vec<String>,
}

/// Something for the driver to do on storage, then answer with
/// [`super::Transfers::handle_storage`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageAction {
    /// Read `len` bytes at `offset` of source file `index` of an outgoing
    /// transfer → `Data`: `head_room` bytes of any value, then what was read
    /// (fewer bytes only at the end of the file). The core writes a message
    /// header into the head room, so file data is copied once, from the
    /// file into the message.
    ReadSource {
        /// The request.
        req: RequestId,
        /// The transfer.
        transfer: TransferKey,
        /// Which of the files the application offered.
        index: u32,
        /// Where.
        offset: u64,
        /// How much.
        len: u64,
        /// Bytes to leave before the data.
        head_room: usize,
    },
    /// Hash `len` bytes at `offset` of source file `index` of an outgoing
    /// transfer, block by block → `Hashes`: [`hash_block`](super::hash_block)
    /// of each `block` bytes in turn (the last piece may be shorter only at
    /// the end of the range). `offset` is a multiple of `block`. A file that
    /// ends before `offset + len` changed since it was listed: `Failed`
    /// (and a wrong number of hashes cancels the transfer too). Requests
    /// on different files (or different ranges) may run side by side: the
    /// sender keeps several in flight, so hashing uses every core the
    /// driver gives it and a folder of small files costs no round trip each.
    HashSource {
        /// The request.
        req: RequestId,
        /// The transfer.
        transfer: TransferKey,
        /// Which of the files the application offered.
        index: u32,
        /// Where, a multiple of `block`.
        offset: u64,
        /// How much.
        len: u64,
        /// The file's block size.
        block: u64,
    },
    /// Read `len` bytes at `offset` of a target file → `Data`.
    Read {
        /// The request.
        req: RequestId,
        /// The file.
        path: TargetPath,
        /// Where.
        offset: u64,
        /// How much.
        len: u64,
    },
    /// The size of a target file → `Size(None)` if it does not exist.
    Stat {
        /// The request.
        req: RequestId,
        /// The file.
        path: TargetPath,
    },
    /// Free bytes on the folder's file system → `Size(Some(free))`.
    FreeSpace {
        /// The request.
        req: RequestId,
        /// The folder the application chose.
        dir: String,
    },
    /// Create a folder (its parent exists) → `Done`, also if a folder is
    /// there already; `Exists` if anything else is in the way (a file, a
    /// symbolic link), and nothing changed.
    CreateDir {
        /// The request.
        req: RequestId,
        /// The folder.
        path: TargetPath,
    },
    /// Write at `offset`, creating the file if needed → `Done`; then, with
    /// `finish`, what [`SetAttributes`](Self::SetAttributes) does. A file
    /// that arrives in one write (most small files) is thus written and
    /// finished in one action: one open and one round trip, not three.
    Write {
        /// The request.
        req: RequestId,
        /// The file.
        path: TargetPath,
        /// Where.
        offset: u64,
        /// What.
        data: Vec<u8>,
        /// The file's last step, when this is its last write.
        finish: Option<Finish>,
    },
    /// Cut (or create) a file to `len` bytes → `Done`.
    Truncate {
        /// The request.
        req: RequestId,
        /// The file.
        path: TargetPath,
        /// Its new length.
        len: u64,
    },
    /// Flush these files' data and metadata to stable storage → `Done`
    /// once all of them are durable. A driver may sync each, or the whole
    /// file system once: files are batched so that many small ones cost one
    /// wait for the disk.
    Sync {
        /// The request.
        req: RequestId,
        /// The files.
        paths: Vec<TargetPath>,
    },
    /// Rename `from` to `to` only if `to` does not exist → `Done`, or
    /// `Exists` and nothing changed. Never overwrites.
    Rename {
        /// The request.
        req: RequestId,
        /// The file now.
        from: TargetPath,
        /// Its new name.
        to: TargetPath,
    },
    /// A received file's last step → `Done`: create it if absent, cut or
    /// extend it to `finish.len` bytes, set its modification time and
    /// whether it is executable (on Unix: an execute bit wherever a read
    /// bit is set, or none). A temporary file is not cut before a transfer
    /// writes it from its start: this step drops whatever older bytes lay
    /// past the end.
    SetAttributes {
        /// The request.
        req: RequestId,
        /// The file.
        path: TargetPath,
        /// Its length and attributes.
        finish: Finish,
    },
    /// Delete one of the transfer's own temporary files → `Done`.
    Remove {
        /// The request.
        req: RequestId,
        /// The file.
        path: TargetPath,
    },
    /// An outgoing transfer is over: its sources will not be read again,
    /// so the driver may forget what it opened or mapped for them. The
    /// result is ignored.
    ReleaseSources {
        /// The request (its result is ignored).
        req: RequestId,
        /// The transfer whose sources to forget.
        transfer: TransferKey,
    },
}

/// A received file's length and attributes, set once all of it is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Finish {
    /// Its length in bytes.
    pub len: u64,
    /// Its modification time, in seconds since the Unix epoch.
    pub mtime: u64,
    /// Executable or not.
    pub executable: bool,
}

impl StorageAction {
    /// The request id, whichever action it is.
    pub fn req(&self) -> RequestId {
        match self {
            StorageAction::ReadSource { req, .. }
            | StorageAction::HashSource { req, .. }
            | StorageAction::Read { req, .. }
            | StorageAction::Stat { req, .. }
            | StorageAction::FreeSpace { req, .. }
            | StorageAction::CreateDir { req, .. }
            | StorageAction::Write { req, .. }
            | StorageAction::Truncate { req, .. }
            | StorageAction::Sync { req, .. }
            | StorageAction::Rename { req, .. }
            | StorageAction::SetAttributes { req, .. }
            | StorageAction::Remove { req, .. }
            | StorageAction::ReleaseSources { req, .. } => *req,
        }
    }
}

/// How a storage action went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageResult {
    /// Done.
    Done,
    /// The bytes read.
    Data(Vec<u8>),
    /// The block hashes of a `HashSource` range, in order.
    Hashes(Vec<super::Hash>),
    /// A size: a file's (`None` if absent), or free space.
    Size(Option<u64>),
    /// `Rename` found its target taken, or `CreateDir` something other
    /// than a folder in the way; nothing changed.
    Exists,
    /// It failed; the transfer is cancelled with this reason.
    Failed(String),
}
