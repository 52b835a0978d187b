//! Control messages waiting for room on the main channel.
//!
//! str0m refuses a write when its SCTP send buffer (shared by every channel
//! of the peer) has no room, which a file transfer keeps it close to. An
//! offer or answer refused then must not be lost, or renegotiation waits
//! for it forever: it waits here, in order, and is written again before the
//! peer's Rtc is next drained (every acknowledgement that frees room comes
//! as an input, and every input drains). Never does: decide what to send.

use std::collections::VecDeque;

/// What a queued control message is, so an unsent offer can be withdrawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ControlKind {
    /// A renegotiation offer (withdrawn if rolled back before it went out).
    Offer,
    /// An answer to the peer's offer.
    Answer,
    /// A ping of ours (see `ping.rs`).
    Ping,
    /// The answer to the peer's ping.
    Pong,
    /// An RPC request of ours (see `rpc.rs`).
    Rpc,
    /// The answer to the peer's RPC request.
    RpcResult,
}

/// The queue is full: the peer keeps asking while our buffer stays full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OutboxFull;

/// Encoded control frames not yet accepted by str0m, oldest first.
#[derive(Debug, Default)]
pub(crate) struct ControlOutbox {
    frames: VecDeque<(ControlKind, Vec<u8>)>,
}

impl ControlOutbox {
    /// At most this many frames wait. A well-behaved peer has one offer in
    /// flight at a time, so we owe it one answer and have one offer of our
    /// own queued at most.
    pub(crate) const LIMIT: usize = 8;
    /// Places only offers and answers may take.
    const RESERVED: usize = 2;

    /// Queues a frame behind the others.
    pub(crate) fn push(&mut self, kind: ControlKind, frame: Vec<u8>) -> Result<(), OutboxFull> {
        if self.frames.len() >= Self::LIMIT {
            return Err(OutboxFull);
        }
        self.frames.push_back((kind, frame));
        Ok(())
    }

    /// Queues a ping or pong, which may never crowd out renegotiation: it
    /// leaves room for one answer and one offer.
    pub(crate) fn push_spare(
        &mut self,
        kind: ControlKind,
        frame: Vec<u8>,
    ) -> Result<(), OutboxFull> {
        if self.frames.len() + Self::RESERVED >= Self::LIMIT {
            return Err(OutboxFull);
        }
        self.push(kind, frame)
    }

    /// True when nothing waits.
    pub(crate) fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// Withdraws offers that have not gone out (their changes were rolled back).
    pub(crate) fn withdraw_offers(&mut self) {
        self.frames.retain(|(kind, _)| *kind != ControlKind::Offer);
    }

    /// Writes frames in order until `write` has no room (`Ok(false)`);
    /// the error of a write that failed outright, leaving that frame queued.
    pub(crate) fn flush<E>(
        &mut self,
        mut write: impl FnMut(&[u8]) -> Result<bool, E>,
    ) -> Result<(), E> {
        while let Some((_, frame)) = self.frames.front() {
            if !write(frame)? {
                return Ok(());
            }
            self.frames.pop_front();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_go_out_in_order_as_room_allows() {
        let mut outbox = ControlOutbox::default();
        outbox.push(ControlKind::Answer, b"a".to_vec()).unwrap();
        outbox.push(ControlKind::Offer, b"o".to_vec()).unwrap();
        let mut written = Vec::new();
        let mut write_with_room = |room: &mut usize, f: &[u8]| -> Result<bool, ()> {
            if *room == 0 {
                return Ok(false);
            }
            *room -= 1;
            written.push(f.to_vec());
            Ok(true)
        };
        let mut room = 1;
        outbox.flush(|f| write_with_room(&mut room, f)).unwrap();
        assert!(!outbox.is_empty());
        let mut room = 5;
        outbox.flush(|f| write_with_room(&mut room, f)).unwrap();
        assert!(outbox.is_empty());
        assert_eq!(written, [b"a".to_vec(), b"o".to_vec()]);
    }

    #[test]
    fn a_failed_write_keeps_the_frame_and_reports_the_error() {
        let mut outbox = ControlOutbox::default();
        outbox.push(ControlKind::Answer, b"a".to_vec()).unwrap();
        assert_eq!(outbox.flush(|_| Err("gone")), Err("gone"));
        assert!(!outbox.is_empty());
    }

    #[test]
    fn withdrawing_keeps_answers_and_the_limit_holds() {
        let mut outbox = ControlOutbox::default();
        outbox.push(ControlKind::Offer, b"o".to_vec()).unwrap();
        outbox.push(ControlKind::Answer, b"a".to_vec()).unwrap();
        outbox.withdraw_offers();
        let mut written = Vec::new();
        outbox
            .flush(|f| -> Result<bool, ()> {
                written.push(f.to_vec());
                Ok(true)
            })
            .unwrap();
        assert_eq!(written, [b"a".to_vec()]);
        for _ in 0..ControlOutbox::LIMIT {
            outbox.push(ControlKind::Answer, Vec::new()).unwrap();
        }
        assert_eq!(
            outbox.push(ControlKind::Answer, Vec::new()),
            Err(OutboxFull)
        );
    }

    #[test]
    fn pings_and_pongs_leave_room_for_renegotiation() {
        let mut outbox = ControlOutbox::default();
        let spare = ControlOutbox::LIMIT - ControlOutbox::RESERVED;
        for _ in 0..spare {
            outbox.push_spare(ControlKind::Pong, Vec::new()).unwrap();
        }
        assert_eq!(
            outbox.push_spare(ControlKind::Ping, Vec::new()),
            Err(OutboxFull)
        );
        outbox.push(ControlKind::Answer, Vec::new()).unwrap();
        outbox.push(ControlKind::Offer, Vec::new()).unwrap();
    }
}
