//! `SyncError`: what sync refuses, each with a message for a log line.

/// Why a path, a manifest or a request is refused. Every variant names the
/// path (relative to its group folder) so the log line says what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SyncError {
    /// A path that would escape the group folder, or a name no platform
    /// should store.
    #[error("refused path {path:?}: {why}")]
    UnsafePath {
        /// The path as given (cut to 64 characters).
        path: String,
        /// What is wrong with it.
        why: String,
    },
    /// A symbolic link where the owner's content is read: not followed.
    #[error("{0} is a symbolic link, which sync does not follow")]
    Symlink(String),
    /// A file that could not be read, or that is neither file, folder nor link.
    #[error("{path} is left out: {why}")]
    Unreadable {
        /// The path.
        path: String,
        /// Why.
        why: String,
    },
    /// A manifest entry whose parent folder is not in the manifest.
    #[error("manifest entry {0} has no parent folder in the manifest")]
    Orphan(String),
    /// A manifest lists a path twice.
    #[error("manifest lists {0} twice")]
    Duplicate(String),
    /// A manifest lists a path that is never synced (`.members`, the
    /// staging folder, a partial file).
    #[error("manifest lists {0}, which is never synced")]
    Excluded(String),
}
