//! The account requests a client makes of the hub about contacts: ask for
//! an invitation, claim one, list contacts. Answers come back as events
//! (`Invitation`, `Contact`, `Contacts`), refusals as `HubError`.

use super::{Endpoint, EndpointError};
use crate::signal::ClientMsg;

/// A contacts request to the hub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContactsRequest {
    /// A single-use invitation token for someone this user calls `alias`.
    Invite {
        /// This user's name for the person the token is for.
        alias: String,
    },
    /// Claims an invitation; this user calls the inviter `alias`.
    Claim {
        /// The token, as the inviter passed it on.
        token: String,
        /// This user's name for the inviter.
        alias: String,
    },
    /// Every contact of this user.
    List,
}

impl Endpoint {
    /// Sends a contacts request; without a ready hub session it fails with
    /// `NoServer` (nothing is queued: the answer would come too late to use).
    pub fn contacts_request(&mut self, request: ContactsRequest) -> Result<(), EndpointError> {
        if self.stopped {
            return Err(EndpointError::Stopped);
        }
        if !self.is_ready() {
            return Err(EndpointError::NoServer);
        }
        let msg = match request {
            ContactsRequest::Invite { alias } => ClientMsg::Invite { alias },
            ContactsRequest::Claim { token, alias } => ClientMsg::Claim {
                token: Some(token),
                alias,
            },
            ContactsRequest::List => ClientMsg::Contacts {},
        };
        self.send_hub(&msg);
        Ok(())
    }
}
