//! Validated names: user names, group names and attempt ids.
//!
//! Each is a newtype that cannot hold an illegal value, so a message that
//! decodes is already well-formed; serde rejects bad values while parsing.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;

/// Longest user name, group name or attempt id, in bytes.
pub const MAX_NAME_LEN: usize = 64;

/// Why a string is not a valid name or id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// The string is empty.
    #[error("empty")]
    Empty,
    /// The string is longer than [`MAX_NAME_LEN`] bytes.
    #[error("longer than {MAX_NAME_LEN} bytes")]
    TooLong,
    /// The string holds a character the name does not allow.
    #[error("character {0:?} not allowed")]
    BadChar(char),
}

fn check_len(s: &str) -> Result<(), NameError> {
    if s.is_empty() {
        return Err(NameError::Empty);
    }
    if s.len() > MAX_NAME_LEN {
        return Err(NameError::TooLong);
    }
    Ok(())
}

/// Names are lowercase so that `Alice` can never pose as `alice`, and start
/// with a letter or digit so they are safe as folder names.
pub(crate) fn check_name(s: &str) -> Result<(), NameError> {
    check_len(s)?;
    for (i, c) in s.chars().enumerate() {
        let ok =
            c.is_ascii_lowercase() || c.is_ascii_digit() || (i > 0 && matches!(c, '.' | '_' | '-'));
        if !ok {
            return Err(NameError::BadChar(c));
        }
    }
    Ok(())
}

/// Equality, order and hash by text, with a shortcut for two clones of one name,
/// which is what a map lookup by a stored key compares.
macro_rules! shared_text_order {
    ($name:ident) => {
        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                Arc::ptr_eq(&self.0, &other.0) || self.0 == other.0
            }
        }

        impl Ord for $name {
            fn cmp(&self, other: &Self) -> std::cmp::Ordering {
                if Arc::ptr_eq(&self.0, &other.0) {
                    return std::cmp::Ordering::Equal;
                }
                self.0.cmp(&other.0)
            }
        }

        impl PartialOrd for $name {
            fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
                Some(self.cmp(other))
            }
        }

        impl std::hash::Hash for $name {
            fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
                self.0.hash(state);
            }
        }
    };
}
pub(crate) use shared_text_order;

macro_rules! string_newtype {
    ($(#[$doc:meta])* $name:ident, $check:path) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Eq, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        // Shared text: names are cloned into keys and events on every
        // datagram, and a clone must not allocate.
        pub struct $name(Arc<str>);

        shared_text_order!($name);

        impl $name {
            /// Checks `s` and wraps it.
            pub fn new(s: impl Into<String>) -> Result<Self, NameError> {
                let s = s.into();
                $check(&s)?;
                Ok(Self(s.into()))
            }

            /// The string itself.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = NameError;
            fn try_from(s: String) -> Result<Self, NameError> {
                Self::new(s)
            }
        }

        impl From<$name> for String {
            fn from(n: $name) -> String {
                n.0.to_string()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }
    };
}

string_newtype!(
    /// A user name: 1–64 bytes of `a-z`, `0-9`, `.`, `_`, `-`, starting with a letter or digit.
    UserName,
    check_name
);

string_newtype!(
    /// A group's name within its owner's groups; same rules as a user name.
    GroupName,
    check_name
);

/// Attempt ids are opaque to the hub: any printable ASCII without spaces.
fn check_attempt(s: &str) -> Result<(), NameError> {
    check_len(s)?;
    match s.chars().find(|c| !c.is_ascii_graphic()) {
        Some(c) => Err(NameError::BadChar(c)),
        None => Ok(()),
    }
}

string_newtype!(
    /// A connection attempt's id, chosen by the caller: 1–64 printable ASCII bytes, no spaces.
    AttemptId,
    check_attempt
);

/// A group is named by its owner and its name, like the folder `owner/name`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct GroupId {
    /// The user who owns the group and publishes its membership.
    pub owner: UserName,
    /// The group's name among the owner's groups.
    pub name: GroupName,
}

impl fmt::Display for GroupId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names_accept_the_documented_alphabet() {
        for ok in ["a", "alice", "bob-2", "c.d_e", "0day", &"x".repeat(64)] {
            assert!(UserName::new(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn user_names_refuse_everything_else() {
        assert_eq!(UserName::new(""), Err(NameError::Empty));
        assert_eq!(UserName::new("x".repeat(65)), Err(NameError::TooLong));
        assert_eq!(UserName::new("Alice"), Err(NameError::BadChar('A')));
        assert_eq!(UserName::new(".hidden"), Err(NameError::BadChar('.')));
        assert_eq!(UserName::new("-x"), Err(NameError::BadChar('-')));
        assert_eq!(UserName::new("a/b"), Err(NameError::BadChar('/')));
        assert_eq!(UserName::new("a b"), Err(NameError::BadChar(' ')));
        assert_eq!(UserName::new("é"), Err(NameError::BadChar('é')));
    }

    #[test]
    fn names_compare_by_text_whether_or_not_they_share_it() {
        let bob = UserName::new("bob").unwrap();
        let shared = bob.clone();
        let separate = UserName::new(String::from("bob")).unwrap();
        assert_eq!(bob, shared);
        assert_eq!(bob, separate);
        assert_eq!(bob.cmp(&separate), std::cmp::Ordering::Equal);
        let alice = UserName::new("alice").unwrap();
        assert!(alice < bob);
        assert_eq!(bob.cmp(&alice), std::cmp::Ordering::Greater);
        let mut sorted = vec![bob.clone(), alice.clone(), separate];
        sorted.sort();
        assert_eq!(sorted, vec![alice, bob.clone(), bob]);
    }

    #[test]
    fn attempt_ids_are_printable_ascii() {
        assert!(AttemptId::new("a1:B/2").is_ok());
        assert_eq!(AttemptId::new("a b"), Err(NameError::BadChar(' ')));
        assert_eq!(AttemptId::new("\u{0}"), Err(NameError::BadChar('\u{0}')));
    }

    #[test]
    fn serde_refuses_invalid_names() {
        assert!(serde_json::from_str::<UserName>("\"ok\"").is_ok());
        assert!(serde_json::from_str::<UserName>("\"../etc\"").is_err());
    }
}
