//! How to build a [`Node`](super::Node).

use crate::endpoint::EndpointConfig;
use crate::transfer::TransferConfig;

/// A node's configuration: its connections' and its transfers'.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// Tokens, certificate, seed, deadlines, STUN server, str0m tuning.
    pub endpoint: EndpointConfig,
    /// Transfer tuning; its seed is derived from the endpoint's by
    /// [`NodeConfig::new`], so one seed makes the whole node reproducible.
    pub transfer: TransferConfig,
}

impl NodeConfig {
    /// A node of the given endpoint config, with default transfer tuning.
    pub fn new(endpoint: EndpointConfig) -> Self {
        // Different streams of the same seed: transfer ids never follow attempt ids.
        let transfer = TransferConfig::new(endpoint.seed ^ 0x7f7f_7f7f_7f7f_7f7f);
        Self { endpoint, transfer }
    }
}
