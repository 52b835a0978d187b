//! The users the hub knows, each with their token generation: a token is
//! honoured only at its user's current generation, so the driver revokes
//! every token of a user by handing the hub a new generation.

use std::collections::BTreeMap;

use crate::signal::UserName;

/// A user as the driver's store describes it to the hub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubUser {
    /// The name.
    pub name: UserName,
    /// Tokens minted at another generation are refused (`ETOKENINVALID`).
    pub generation: u64,
}

/// A user who was never revoked: generation 0.
impl From<UserName> for HubUser {
    fn from(name: UserName) -> Self {
        Self {
            name,
            generation: 0,
        }
    }
}

impl From<(UserName, u64)> for HubUser {
    fn from((name, generation): (UserName, u64)) -> Self {
        Self { name, generation }
    }
}

/// Name → current token generation.
#[derive(Debug, Default)]
pub(crate) struct Users(BTreeMap<UserName, u64>);

impl Users {
    pub(crate) fn contains(&self, user: &UserName) -> bool {
        self.0.contains_key(user)
    }

    pub(crate) fn generation(&self, user: &UserName) -> Option<u64> {
        self.0.get(user).copied()
    }

    /// Adds or updates a user; the generation it had before, if it was known.
    pub(crate) fn insert(&mut self, user: HubUser) -> Option<u64> {
        self.0.insert(user.name, user.generation)
    }

    pub(crate) fn remove(&mut self, user: &UserName) {
        self.0.remove(user);
    }
}

impl FromIterator<HubUser> for Users {
    fn from_iter<I: IntoIterator<Item = HubUser>>(iter: I) -> Self {
        Self(iter.into_iter().map(|u| (u.name, u.generation)).collect())
    }
}
