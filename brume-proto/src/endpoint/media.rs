//! Audio and video tracks in Brume's own types, so the public API does not
//! change with str0m's.

use core::fmt;

use str0m::media;

/// A track's media id (the SDP `mid`), unique within one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MediaId(media::Mid);

impl MediaId {
    pub(crate) fn from_str0m(mid: media::Mid) -> Self {
        Self(mid)
    }

    pub(crate) fn to_str0m(self) -> media::Mid {
        self.0
    }
}

impl fmt::Display for MediaId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// Audio or video.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MediaKind {
    /// An audio track.
    Audio,
    /// A video track.
    Video,
}

impl MediaKind {
    pub(crate) fn from_str0m(kind: media::MediaKind) -> Self {
        match kind {
            media::MediaKind::Audio => MediaKind::Audio,
            media::MediaKind::Video => MediaKind::Video,
        }
    }

    pub(crate) fn to_str0m(self) -> media::MediaKind {
        match self {
            MediaKind::Audio => media::MediaKind::Audio,
            MediaKind::Video => media::MediaKind::Video,
        }
    }
}

/// Which way a track carries media, seen from this endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Direction {
    /// We send and receive.
    SendRecv,
    /// We only send.
    SendOnly,
    /// We only receive.
    RecvOnly,
    /// Neither: the track is stopped or paused.
    Inactive,
}

impl Direction {
    pub(crate) fn from_str0m(direction: media::Direction) -> Self {
        match direction {
            media::Direction::SendRecv => Direction::SendRecv,
            media::Direction::SendOnly => Direction::SendOnly,
            media::Direction::RecvOnly => Direction::RecvOnly,
            media::Direction::Inactive => Direction::Inactive,
        }
    }

    pub(crate) fn to_str0m(self) -> media::Direction {
        match self {
            Direction::SendRecv => media::Direction::SendRecv,
            Direction::SendOnly => media::Direction::SendOnly,
            Direction::RecvOnly => media::Direction::RecvOnly,
            Direction::Inactive => media::Direction::Inactive,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_directions_map_both_ways() {
        for kind in [MediaKind::Audio, MediaKind::Video] {
            assert_eq!(MediaKind::from_str0m(kind.to_str0m()), kind);
        }
        let all = [
            Direction::SendRecv,
            Direction::SendOnly,
            Direction::RecvOnly,
            Direction::Inactive,
        ];
        for d in all {
            assert_eq!(Direction::from_str0m(d.to_str0m()), d);
        }
        let mid = MediaId::from_str0m(media::Mid::from("a1"));
        assert_eq!(mid.to_string(), "a1");
        assert_eq!(mid.to_str0m(), media::Mid::from("a1"));
    }
}
