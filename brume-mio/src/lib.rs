//! brume-mio drives the sans-IO state machines of `brume-proto` with mio:
//! one `Poll` loop per process, holding the UDP socket for peer traffic,
//! the WebSocket to the hub (client) or the listener (hub), and the wake-up
//! at the cores' next timeout. Nothing here decides protocol behaviour.
//!
//! - [`hub_server`]: the hub process (`brume serve`), with [`store`] and
//!   [`login_throttle`]; behind the `hub` feature (on by default), so a
//!   client-only build (`default-features = false`) needs no SQLite or argon2.
//!   [`stun_server`]: the hub's optional STUN server on a UDP port.
//! - [`client`]: the embedding API, a [`client::Client`] that yields events
//!   (see `examples/embed.rs`).
//! - [`store`] (users and groups in SQLite), [`config`] (the client's config
//!   file), [`files`] (transfer storage on real files), [`udp`], [`ws`],
//!   [`stream`] (TLS), [`login`] (password login), [`url`], [`heap`] (freed
//!   memory back to the system): the pieces.

pub mod backoff;
pub mod client;
pub mod config;
pub mod files;
pub mod heap;
#[cfg(feature = "hub")]
pub mod hub_server;
pub mod login;
#[cfg(feature = "hub")]
pub mod login_throttle;
#[cfg(feature = "cli")]
pub mod share;
#[cfg(feature = "hub")]
pub mod static_files;
pub mod storage_worker;
#[cfg(feature = "hub")]
pub mod store;
pub mod stream;
#[cfg(feature = "hub")]
pub mod stun_server;
pub mod udp;
mod udp_inbox;
pub mod url;
mod wake;
pub mod ws;
