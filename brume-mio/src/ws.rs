//! WebSocket settings from the protocol's own limits, and small helpers for
//! running tungstenite over a non-blocking stream.
//!
//! tungstenite's defaults suit a browser tab, not a hub: 128 KiB read and
//! write buffers per connection, 64 MiB messages, an unbounded write buffer.
//! Here the read buffer is 4 KiB (idle sessions stay cheap), messages are
//! bounded near `MAX_FRAME_LEN`, and the write buffer is bounded: a client
//! that stops reading is disconnected once it fills.

use std::io;

use brume_proto::signal::MAX_FRAME_LEN;
use tungstenite::protocol::WebSocketConfig;
use tungstenite::{Error, Message, WebSocket};

/// The read buffer: small, so 10,000 idle sessions cost little.
pub const READ_BUFFER: usize = 4 * 1024;
/// The most a connection may have queued for writing before it is dropped.
pub const MAX_WRITE_BUFFER: usize = 4 * MAX_FRAME_LEN;
/// The largest message read. A bit over the protocol's limit, so that a frame
/// slightly too big reaches the hub, which answers `ETOOBIG` and carries on;
/// anything larger ends the connection (tungstenite cannot skip a message).
pub const MAX_MESSAGE: usize = 2 * MAX_FRAME_LEN;

/// The settings every Brume WebSocket uses, hub and client.
pub fn config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(0)
        .max_write_buffer_size(MAX_WRITE_BUFFER)
        .max_message_size(Some(MAX_MESSAGE))
        .max_frame_size(Some(MAX_MESSAGE))
}

/// What came of reading one message.
#[derive(Debug)]
pub enum Read {
    /// A text or binary message's payload.
    Data(tungstenite::Bytes),
    /// Nothing more now (`WouldBlock`), or a control frame handled inside.
    Idle,
    /// Nothing more now: the socket would block.
    Blocked,
    /// The connection is over (closed, reset, or broke the rules).
    Gone(String),
}

/// Reads one message without blocking.
pub fn read<S: io::Read + io::Write>(ws: &mut WebSocket<S>) -> Read {
    match ws.read() {
        Ok(Message::Text(t)) => Read::Data(t.into()),
        Ok(Message::Binary(b)) => Read::Data(b),
        Ok(Message::Close(_)) => Read::Gone("closed by the other side".into()),
        Ok(_) => Read::Idle,
        Err(Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => Read::Blocked,
        Err(Error::ConnectionClosed | Error::AlreadyClosed) => Read::Gone("closed".into()),
        Err(e) => Read::Gone(e.to_string()),
    }
}

/// How a write or flush went.
#[derive(Debug, PartialEq, Eq)]
pub enum Flush {
    /// Everything is on the socket.
    Done,
    /// Some bytes wait for the socket to be writable.
    Pending,
    /// The connection is broken or its write buffer is full: drop it.
    Failed(String),
}

/// Flushes what tungstenite holds.
pub fn flush<S: io::Read + io::Write>(ws: &mut WebSocket<S>) -> Flush {
    match ws.flush() {
        Ok(()) => Flush::Done,
        Err(Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => Flush::Pending,
        Err(e) => Flush::Failed(e.to_string()),
    }
}

/// Queues a text message and writes what the socket takes.
pub fn send_text<S: io::Read + io::Write>(ws: &mut WebSocket<S>, text: String) -> Flush {
    match ws.write(Message::text(text)) {
        Ok(()) => flush(ws),
        Err(Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => Flush::Pending,
        Err(Error::WriteBufferFull(_)) => Flush::Failed("write buffer full".into()),
        Err(e) => Flush::Failed(e.to_string()),
    }
}

/// Queues a close frame and writes what the socket takes.
pub fn close<S: io::Read + io::Write>(ws: &mut WebSocket<S>) -> Flush {
    match ws.close(None) {
        Ok(()) => flush(ws),
        Err(Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => Flush::Pending,
        Err(Error::ConnectionClosed | Error::AlreadyClosed) => Flush::Done,
        Err(e) => Flush::Failed(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tungstenite::protocol::Role;

    /// A peer that never reads: every write would block.
    struct Stalled;

    impl io::Read for Stalled {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::ErrorKind::WouldBlock.into())
        }
    }

    impl io::Write for Stalled {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::ErrorKind::WouldBlock.into())
        }
        fn flush(&mut self) -> io::Result<()> {
            Err(io::ErrorKind::WouldBlock.into())
        }
    }

    #[test]
    fn a_client_that_stops_reading_is_dropped_once_its_buffer_fills() {
        let mut ws = WebSocket::from_raw_socket(Stalled, Role::Server, Some(config()));
        let frame = "x".repeat(16 * 1024);
        let mut queued = 0;
        let outcome = loop {
            match send_text(&mut ws, frame.clone()) {
                Flush::Pending => queued += frame.len(),
                other => break other,
            }
            assert!(
                queued <= 2 * MAX_WRITE_BUFFER,
                "the write buffer grew past its bound"
            );
        };
        assert_eq!(outcome, Flush::Failed("write buffer full".into()));
        assert!(
            queued >= MAX_WRITE_BUFFER - frame.len(),
            "dropped after only {queued} bytes"
        );
    }
}
