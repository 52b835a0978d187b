//! The file side of `brume share`: what sync needs of real folders, apart
//! from the command's loop (`cli/share.rs`).
//!
//! - `layout`: the root (`~/Brume`): `OWNER/GROUP` folders, `.members`, the
//!   daemon's own state under `.brume-share/` (lock, bases, hash caches, status);
//! - `scan`: a group folder as a `Manifest`, hashing only what the cache
//!   does not know, never following a link;
//! - `apply`: the plan's steps and the installs, each checked against what
//!   it expects to find, so nothing changed since the scan is lost.

pub mod apply;
pub mod layout;
pub mod scan;
