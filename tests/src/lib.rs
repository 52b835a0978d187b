//! Brume test support shared by the integration tests: the simulated world.

pub mod bench;
pub mod sim;
pub mod storage;
pub mod turn_server;

/// A time origin for tests, here rather than in brume-proto, whose source
/// never reads a clock. Only differences from it matter.
pub fn origin() -> std::time::Instant {
    std::time::Instant::now()
}

/// Runs `scenario` under seeds `0..seeds`, failing with the first seed's error.
pub fn for_each_seed(seeds: u64, scenario: impl Fn(u64) -> Result<(), String>) {
    for seed in 0..seeds {
        if let Err(e) = scenario(seed) {
            panic!("seed {seed}: {e}");
        }
    }
}

/// Deterministic bytes that differ per seed and position.
pub fn content(seed: u64, len: usize) -> Vec<u8> {
    let mut rng = fastrand::Rng::with_seed(seed);
    (0..len).map(|_| rng.u8(..)).collect()
}
