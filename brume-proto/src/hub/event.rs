//! What the hub tells a driver about sessions, for its logs and its own
//! defences (the hub knows users, the driver knows addresses): who
//! authenticated, whose token was refused, which session ended.
//!
//! Off unless [`HubConfig::session_events`](super::HubConfig) is set, so a
//! driver that never drains them keeps nothing.

use crate::error::ErrorCode;
use crate::signal::{CloseReason, DeviceName, UserName};

use super::ConnId;

/// A session event, drained with [`Hub::poll_event`](super::Hub::poll_event).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HubEvent {
    /// `conn` authenticated as `user` (by `hello` or `refresh`).
    Authenticated {
        /// The connection.
        conn: ConnId,
        /// Its user.
        user: UserName,
        /// The device it holds, as assigned.
        device: DeviceName,
    },
    /// A `hello` or `refresh` was refused for its token. Never holds the token.
    AuthFailed {
        /// The connection.
        conn: ConnId,
        /// `ETOKENMISSING`, `ETOKENEXPIRED` (a client then refreshes: not
        /// an attack) or `ETOKENINVALID`.
        code: ErrorCode,
        /// Why, as the client was told (`token revoked: log in again`, …).
        reason: String,
    },
    /// A session ended, authenticated or not.
    Closed {
        /// The connection.
        conn: ConnId,
        /// Its user, if it had authenticated.
        user: Option<UserName>,
        /// The device it held, if it had authenticated.
        device: Option<DeviceName>,
        /// Why the hub closed it; `None` when the driver reported the
        /// connection gone ([`HubInput::Closed`](super::HubInput::Closed)).
        reason: Option<CloseReason>,
    },
}
