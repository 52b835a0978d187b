//! Contacts: pairs of users who claimed an invitation between them, each
//! with the name one gives the other, and the invitations already claimed.

use std::collections::BTreeMap;

use crate::signal::{ContactEntry, UserName};

/// The longest alias, in bytes.
pub const MAX_ALIAS_LEN: usize = 64;

#[derive(Debug, Default)]
pub(crate) struct Contacts {
    /// user → contact → the user's alias for them. Always both ways.
    aliases: BTreeMap<UserName, BTreeMap<UserName, String>>,
    /// Invitation id → its expiry (Unix seconds): each is good once, and
    /// remembered only until it would have expired anyway.
    claimed: BTreeMap<String, u64>,
}

impl Contacts {
    /// Records that `user` calls `contact` `alias` (one direction).
    pub(crate) fn set_alias(&mut self, user: UserName, contact: UserName, alias: String) {
        self.aliases.entry(user).or_default().insert(contact, alias);
    }

    pub(crate) fn are_contacts(&self, a: &UserName, b: &UserName) -> bool {
        self.aliases.get(a).is_some_and(|c| c.contains_key(b))
    }

    pub(crate) fn count(&self, user: &UserName) -> usize {
        self.aliases.get(user).map_or(0, BTreeMap::len)
    }

    /// `user`'s contacts, sorted by user.
    pub(crate) fn list(&self, user: &UserName) -> Vec<ContactEntry> {
        self.aliases
            .get(user)
            .into_iter()
            .flatten()
            .map(|(user, alias)| ContactEntry {
                user: user.clone(),
                alias: alias.clone(),
            })
            .collect()
    }

    /// Forgets a removed user on both sides.
    pub(crate) fn remove_user(&mut self, user: &UserName) {
        for contact in self.aliases.remove(user).unwrap_or_default().into_keys() {
            if let Some(theirs) = self.aliases.get_mut(&contact) {
                theirs.remove(user);
                if theirs.is_empty() {
                    self.aliases.remove(&contact);
                }
            }
        }
    }

    pub(crate) fn is_claimed(&self, id: &str) -> bool {
        self.claimed.contains_key(id)
    }

    /// Marks an invitation claimed, and forgets those expired by `unix_now`.
    pub(crate) fn claim(&mut self, id: String, expires_at: u64, unix_now: u64) {
        self.claimed.retain(|_, exp| *exp > unix_now);
        self.claimed.insert(id, expires_at);
    }
}

/// Why an alias is refused, or `None` for a good one: 1 to 64 bytes, no
/// control characters and none of the format characters that reorder or
/// hide text (a bidi override could make `alice` read as `ecila`).
pub fn alias_problem(alias: &str) -> Option<&'static str> {
    if alias.is_empty() {
        return Some("an alias may not be empty");
    }
    if alias.len() > MAX_ALIAS_LEN {
        return Some("an alias is at most 64 bytes");
    }
    let disguising = |c: char| {
        c.is_control()
            || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}')
    };
    alias
        .chars()
        .any(disguising)
        .then_some("an alias may not hold control or format characters")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(name: &str) -> UserName {
        UserName::new(name).unwrap()
    }

    #[test]
    fn removing_a_user_forgets_them_on_both_sides() {
        let mut c = Contacts::default();
        c.set_alias(u("alice"), u("bob"), "Bobby".into());
        c.set_alias(u("bob"), u("alice"), "Al".into());
        c.set_alias(u("alice"), u("carol"), "C".into());
        c.set_alias(u("carol"), u("alice"), "A".into());
        assert!(c.are_contacts(&u("bob"), &u("alice")));
        c.remove_user(&u("alice"));
        assert!(!c.are_contacts(&u("bob"), &u("alice")));
        assert_eq!(c.list(&u("bob")), []);
        assert_eq!(c.count(&u("carol")), 0);
        assert!(c.aliases.is_empty());
    }

    #[test]
    fn claimed_invitations_are_kept_until_they_expire() {
        let mut c = Contacts::default();
        c.claim("a".into(), 100, 50);
        c.claim("b".into(), 300, 99);
        assert!(c.is_claimed("a") && c.is_claimed("b"));
        c.claim("c".into(), 400, 100);
        assert!(!c.is_claimed("a"));
        assert!(c.is_claimed("b") && c.is_claimed("c"));
    }

    #[test]
    fn aliases_that_disguise_are_refused() {
        assert_eq!(alias_problem("Bob from work"), None);
        assert_eq!(alias_problem("Zoé 🎸"), None);
        for bad in ["", "a\nb", "\u{202e}ecila", "a\u{200b}b", &"x".repeat(65)] {
            assert!(alias_problem(bad).is_some(), "{bad:?}");
        }
    }
}
