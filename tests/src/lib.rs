//! Brume test support (shared by the integration tests).
