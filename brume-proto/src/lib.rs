//! Brume's sans-IO protocol core.
//!
//! Nothing in this crate touches a socket, a file, a thread, a clock or OS
//! randomness: bytes, time and seeds go in; frames, timeouts and events come
//! out. Any event loop can embed it, and tests drive it on virtual time.
//!
//! - [`signal`]: the client↔hub wire protocol (JSON over WebSocket text frames).
//! - [`hub`]: the signaling hub's state machine.
//! - [`endpoint`]: the client endpoint, one str0m `Rtc` per remote user.
//! - [`transfer`]: verified, resumable file and folder transfer.
//! - [`turn`]: a sans-IO TURN client (relay candidates through NATs).
//! - [`token`]: access and refresh tokens (HS256 JWTs).
//! - [`framing`]: data-channel message framing (`{type, data}`).
//! - [`error`]: the one list of error codes.

pub mod endpoint;
pub mod error;
pub mod framing;
pub mod hub;
pub mod node;
pub mod signal;
pub mod sync;
pub mod token;
pub mod transfer;
pub mod turn;

pub use error::ErrorCode;
