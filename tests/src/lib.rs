//! Brume test support shared by the integration tests: the simulated world.

pub mod bench;
pub mod sim;
pub mod storage;
