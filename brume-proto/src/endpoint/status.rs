//! Where a connection to a peer stands, as the application sees it.

use core::fmt;

/// The state of the connection to one peer (see the module documentation
/// of [`crate::endpoint`] for how one leads to another).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PeerStatus {
    /// We sent an offer and wait for the answer.
    Offering,
    /// The peer's offer waits for [`accept`](super::Endpoint::accept) or
    /// [`reject`](super::Endpoint::reject).
    Incoming,
    /// Offer and answer are done; ICE, DTLS and SCTP are under way.
    Connecting,
    /// The main channel is open.
    Open,
    /// The peer went silent or ICE lost the path; recovery is under way.
    Recovering,
}

impl PeerStatus {
    /// The lower-case name used in logs and the command's output.
    pub fn as_str(self) -> &'static str {
        match self {
            PeerStatus::Offering => "offering",
            PeerStatus::Incoming => "incoming",
            PeerStatus::Connecting => "connecting",
            PeerStatus::Open => "open",
            PeerStatus::Recovering => "recovering",
        }
    }

    /// Open or recovering: past the first connection, so channels work.
    pub fn is_established(self) -> bool {
        matches!(self, PeerStatus::Open | PeerStatus::Recovering)
    }
}

impl fmt::Display for PeerStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_stable_and_only_open_and_recovering_are_established() {
        let all = [
            PeerStatus::Offering,
            PeerStatus::Incoming,
            PeerStatus::Connecting,
            PeerStatus::Open,
            PeerStatus::Recovering,
        ];
        let names: Vec<String> = all.iter().map(ToString::to_string).collect();
        assert_eq!(
            names,
            ["offering", "incoming", "connecting", "open", "recovering"]
        );
        let established: Vec<bool> = all.iter().map(|s| s.is_established()).collect();
        assert_eq!(established, [false, false, false, true, true]);
    }
}
