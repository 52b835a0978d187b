//! The spare `Rtc`, built ahead of the next connection (building one costs
//! about a millisecond of CPU), and kept young: str0m's DTLS layer arms
//! its 40 s handshake deadline when the `Rtc` is built, so a spare kept
//! from an idle minute would fail its first handshake at once.

use std::time::{Duration, Instant};

use str0m::Rtc;

/// How long a spare stays usable: well inside the 40 s handshake deadline,
/// so a connection built from it has 30 s or more to finish its handshake.
pub(crate) const SPARE_MAX_AGE: Duration = Duration::from_secs(10);

/// A spare `Rtc` and when it was built.
#[derive(Debug, Default)]
pub(crate) struct Spare(Option<(Instant, Rtc)>);

impl Spare {
    /// Keeps `rtc`, built at `now`.
    pub(crate) fn put(&mut self, now: Instant, rtc: Rtc) {
        self.0 = Some((now, rtc));
    }

    /// The spare, if it is young enough to use at `now`; an old one is dropped.
    pub(crate) fn take_fresh(&mut self, now: Instant) -> Option<Rtc> {
        let (built, rtc) = self.0.take()?;
        (now < built + SPARE_MAX_AGE).then_some(rtc)
    }

    /// True if a new spare should be built at `now`: none is kept, or the
    /// one kept is too old.
    pub(crate) fn wanted(&self, now: Instant) -> bool {
        self.0
            .as_ref()
            .is_none_or(|(built, _)| now >= *built + SPARE_MAX_AGE)
    }

    /// When the spare kept is to be replaced (`None` without one).
    pub(crate) fn expires_at(&self) -> Option<Instant> {
        self.0.as_ref().map(|(built, _)| *built + SPARE_MAX_AGE)
    }
}
