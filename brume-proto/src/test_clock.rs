//! A time origin for unit tests. Only differences from it matter, so reading
//! the clock once here decides nothing.

use std::time::Instant;

#[allow(clippy::disallowed_methods)] // tests need some Instant to start from
pub(crate) fn t0() -> Instant {
    Instant::now()
}
