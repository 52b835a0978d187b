//! Brume test support shared by the integration tests: the simulated world.

pub mod bench;
pub mod sim;
pub mod storage;

/// A time origin for tests, here rather than in brume-proto, whose source
/// never reads a clock. Only differences from it matter.
pub fn origin() -> std::time::Instant {
    std::time::Instant::now()
}
