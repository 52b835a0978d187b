//! Brume test support shared by the integration tests: the simulated world.

pub mod sim;
pub mod storage;
