//! Invitations and contacts: `invite` mints a single-use token naming the
//! inviter and their alias for the person it is for; `claim` with it makes
//! the two contacts, each under the alias they chose; `contacts` lists them.
//! Under [`CallPolicy::Contacts`] only contacts and group mates may call or
//! watch each other.

use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::config::CallPolicy;
use super::contacts::alias_problem;
use super::{ConnId, Hub, HubOutput, error_msg};
use crate::error::ErrorCode;
use crate::signal::{HubMsg, UserName};
use crate::token::TokenError;

/// The claims of an invitation token, an HS256 JWT signed with the hub's key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct InvitationClaims {
    /// The inviter.
    pub sub: String,
    /// The inviter's alias for the person the token is for.
    pub alias: String,
    /// Expiry, Unix seconds.
    pub exp: u64,
    /// Issue time, Unix seconds.
    pub iat: u64,
    /// Always `"invite"`: no access or refresh token passes for one.
    pub kind: InvitationKind,
    /// Unique per invitation: what makes it single use.
    pub jti: String,
    /// The inviter's token generation: revoking them voids their invitations.
    #[serde(rename = "gen")]
    pub generation: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum InvitationKind {
    Invite,
}

impl Hub {
    pub(super) fn on_invite(&mut self, now: Instant, conn: ConnId, me: UserName, alias: String) {
        if let Some(problem) = alias_problem(&alias) {
            return self.send(conn, &error_msg(ErrorCode::BadMessage, None, problem));
        }
        let unix = self.unix_time(now);
        self.invitations_minted += 1;
        let expires_at = unix.saturating_add(self.config.invitation_lifetime.as_secs());
        let claims = InvitationClaims {
            sub: me.as_str().to_owned(),
            alias: alias.clone(),
            exp: expires_at,
            iat: unix,
            kind: InvitationKind::Invite,
            jti: format!("{:016x}-{}", self.config.instance, self.invitations_minted),
            generation: self.users.generation(&me).unwrap_or_default(),
        };
        let token = self.config.key.sign(&claims);
        self.send(
            conn,
            &HubMsg::Invitation {
                token,
                alias,
                expires_at,
            },
        );
    }

    pub(super) fn on_claim(
        &mut self,
        now: Instant,
        conn: ConnId,
        me: UserName,
        token: Option<&str>,
        alias: String,
    ) {
        if let Some(problem) = alias_problem(&alias) {
            return self.send(conn, &error_msg(ErrorCode::BadMessage, None, problem));
        }
        let unix = self.unix_time(now);
        let (inviter, claims) = match self.check_invitation(token, unix) {
            Ok(found) => found,
            Err((code, text)) => return self.send(conn, &error_msg(code, None, &text)),
        };
        if inviter == me {
            let text = "this is your own invitation: give it to the person it is for";
            return self.send(conn, &error_msg(ErrorCode::BadMessage, None, text));
        }
        let max = self.config.limits.max_contacts;
        let new = !self.contacts.are_contacts(&me, &inviter);
        if new && (self.contacts.count(&me) >= max || self.contacts.count(&inviter) >= max) {
            let text = format!("at most {max} contacts per user");
            return self.send(conn, &error_msg(ErrorCode::Limit, None, &text));
        }
        self.contacts.claim(claims.jti.clone(), claims.exp, unix);
        self.outputs.push_back(HubOutput::InvitationClaimed {
            id: claims.jti,
            expires_at: claims.exp,
        });
        self.make_contact(inviter.clone(), me.clone(), claims.alias);
        self.make_contact(me, inviter, alias);
    }

    /// The inviter and claims of a claimable invitation, or the code and
    /// text that refuse it.
    fn check_invitation(
        &self,
        token: Option<&str>,
        unix: u64,
    ) -> Result<(UserName, InvitationClaims), (ErrorCode, String)> {
        let claims: InvitationClaims = self
            .config
            .key
            .decode(token)
            .map_err(|e: TokenError| (e.code(), format!("invitation: {e}")))?;
        let invalid = |why: &str| (ErrorCode::TokenInvalid, format!("invitation: {why}"));
        let inviter = UserName::new(claims.sub.clone()).map_err(|_| invalid("bad inviter"))?;
        if self.users.generation(&inviter) != Some(claims.generation) {
            return Err(invalid(
                "its inviter is no longer on this hub, or was revoked",
            ));
        }
        if alias_problem(&claims.alias).is_some() {
            return Err(invalid("bad alias"));
        }
        if self.contacts.is_claimed(&claims.jti) {
            let text = "this invitation was already claimed; ask for a new one".into();
            return Err((ErrorCode::InviteUsed, text));
        }
        if claims.exp <= unix {
            let text = "this invitation has expired; ask for a new one".into();
            return Err((ErrorCode::TokenExpired, text));
        }
        Ok((inviter, claims))
    }

    /// `user` now calls `contact` `alias`: recorded, persisted, and told to
    /// every session of `user`.
    fn make_contact(&mut self, user: UserName, contact: UserName, alias: String) {
        self.contacts
            .set_alias(user.clone(), contact.clone(), alias.clone());
        self.outputs.push_back(HubOutput::ContactChanged {
            user: user.clone(),
            contact: contact.clone(),
            alias: alias.clone(),
        });
        let msg = HubMsg::Contact {
            user: contact,
            alias,
        };
        for conn in self.online.conns(&user) {
            self.send(conn, &msg);
        }
    }

    pub(super) fn on_contacts(&mut self, conn: ConnId, me: &UserName) {
        let contacts = self.contacts.list(me);
        self.send(conn, &HubMsg::Contacts { contacts });
    }

    /// Whether the policy lets `from` call or watch `to`: always under
    /// `open`, and for oneself; under `contacts`, for contacts and mates.
    pub(super) fn may_reach(&self, from: &UserName, to: &UserName) -> bool {
        match self.config.policy {
            CallPolicy::Open => true,
            CallPolicy::Contacts => {
                from == to
                    || self.contacts.are_contacts(from, to)
                    || self.groups.mates(from).contains(to)
            }
        }
    }
}
