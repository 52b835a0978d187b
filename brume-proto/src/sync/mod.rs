//! Sync: a group folder mirrored from its owner to its members (seed 001).
//!
//! This module is the sans-IO logic: manifests of a folder by content
//! (`manifest`), conflict names (`conflict`), the plan that brings a member
//! to the owner's tree without losing a member's change (`plan`), and the
//! hash cache a driver persists (`hash_cache`); the messages between a
//! member and an owner (`wire`) and the machine that speaks them
//! (`machine`). It never reads a file or a clock: the driver scans, hashes,
//! runs the plan's steps and moves content with the file transfer.

pub mod conflict;
pub mod diff;
mod error;
pub mod hash_cache;
pub mod machine;
pub mod manifest;
pub mod path;
pub mod plan;
pub mod wire;

pub use conflict::{ConflictKind, conflict_name, is_conflict_name};
pub use error::SyncError;
pub use hash_cache::{FileStamp, HashCache};
pub use machine::{FollowState, Seed, Sync, SyncOutput, batch_name};
pub use manifest::{Manifest, Node, Scanned};
pub use path::SyncPath;
pub use plan::{Plan, Step, plan};
