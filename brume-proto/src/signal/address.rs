//! Devices and addresses: a user's sessions each hold a device, a peer is a
//! (user, device) pair, and a client names whom it calls by user or by device.
//!
//! On the wire a [`PeerId`] is the string `"alice/laptop"` and an
//! [`Address`] is `"alice"` or `"alice/laptop"`; parsing is total.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use super::names::{NameError, UserName, check_name, shared_text_order};

/// Longest device name a client may ask for, in bytes; a hub-assigned `~N`
/// comes on top, so every base name has its 16 instances.
pub const MAX_DEVICE_LEN: usize = 32;

/// The most instances of one base name the hub assigns (`BASE~1` to `BASE~16`).
pub const MAX_INSTANCE: u8 = 16;

/// The device a session holds when its `hello` names none.
pub const DEFAULT_DEVICE: &str = "default";

/// A device name: the user-name rules, at most [`MAX_DEVICE_LEN`] bytes; or a
/// hub-assigned instance `BASE~N` of such a name (N in 1..=[`MAX_INSTANCE`])
/// for a session that does not accept calls. Clients may only ask for a
/// base name.
#[derive(Debug, Clone, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
// Shared text, as a user name's: a clone must not allocate.
pub struct DeviceName(Arc<str>);

shared_text_order!(DeviceName);

impl DeviceName {
    /// Checks `s` (a base name or `BASE~N`) and wraps it.
    pub fn new(s: impl Into<String>) -> Result<Self, NameError> {
        let s = s.into();
        let (base, n) = match s.split_once('~') {
            Some((base, n)) => (base, Some(n)),
            None => (s.as_str(), None),
        };
        if base.len() > MAX_DEVICE_LEN {
            return Err(NameError::TooLong);
        }
        check_name(base)?;
        if let Some(n) = n {
            parse_instance(n)?;
        }
        Ok(Self(s.into()))
    }

    /// `"default"`, for sessions that name no device.
    pub fn default_device() -> Self {
        Self(DEFAULT_DEVICE.into())
    }

    /// The string itself.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name without its `~N`.
    pub fn base(&self) -> &str {
        self.0.split_once('~').map_or(&*self.0, |(b, _)| b)
    }

    /// The N of a hub-assigned `BASE~N`; `None` for a base name.
    pub fn instance(&self) -> Option<u8> {
        let (_, n) = self.0.split_once('~')?;
        parse_instance(n).ok()
    }

    /// Instance `n` of this name's base, if `n` is in range.
    pub fn with_instance(&self, n: u8) -> Option<Self> {
        Self::new(format!("{}~{n}", self.base())).ok()
    }
}

/// `N` of `BASE~N`: decimal 1..=16, no sign, no leading zero.
fn parse_instance(n: &str) -> Result<u8, NameError> {
    let bad = || NameError::BadChar('~');
    if n.is_empty() || n.starts_with('0') || !n.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    match n.parse::<u8>() {
        Ok(v) if (1..=MAX_INSTANCE).contains(&v) => Ok(v),
        _ => Err(bad()),
    }
}

impl Default for DeviceName {
    fn default() -> Self {
        Self::default_device()
    }
}

impl TryFrom<String> for DeviceName {
    type Error = NameError;
    fn try_from(s: String) -> Result<Self, NameError> {
        Self::new(s)
    }
}

impl From<DeviceName> for String {
    fn from(n: DeviceName) -> String {
        n.0.to_string()
    }
}

impl FromStr for DeviceName {
    type Err = NameError;
    fn from_str(s: &str) -> Result<Self, NameError> {
        Self::new(s)
    }
}

impl fmt::Display for DeviceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a string is not a peer id or an address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    /// The part before the `/` is not a user name.
    #[error("bad user name: {0}")]
    User(NameError),
    /// The part after the `/` is not a device name.
    #[error("bad device name: {0}")]
    Device(NameError),
    /// A peer id needs both parts, `user/device`.
    #[error("expected user/device")]
    NoDevice,
}

/// One session's identity: a user and the device it holds. Ordered by (user, device).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PeerId {
    /// The user.
    pub user: UserName,
    /// The device.
    pub device: DeviceName,
}

impl PeerId {
    /// The pair.
    pub fn new(user: UserName, device: DeviceName) -> Self {
        Self { user, device }
    }
}

fn split(s: &str) -> Result<(UserName, Option<DeviceName>), AddressError> {
    let (user, device) = match s.split_once('/') {
        Some((u, d)) => (u, Some(d)),
        None => (s, None),
    };
    let user = UserName::new(user).map_err(AddressError::User)?;
    let device = device
        .map(DeviceName::new)
        .transpose()
        .map_err(AddressError::Device)?;
    Ok((user, device))
}

impl FromStr for PeerId {
    type Err = AddressError;
    fn from_str(s: &str) -> Result<Self, AddressError> {
        match split(s)? {
            (user, Some(device)) => Ok(Self { user, device }),
            (_, None) => Err(AddressError::NoDevice),
        }
    }
}

impl TryFrom<String> for PeerId {
    type Error = AddressError;
    fn try_from(s: String) -> Result<Self, AddressError> {
        s.parse()
    }
}

impl From<PeerId> for String {
    fn from(p: PeerId) -> String {
        p.to_string()
    }
}

impl fmt::Display for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.user, self.device)
    }
}

/// Whom a client calls: a user (the hub picks the device) or one device.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Address {
    /// `"alice"`: the device of hers that accepts calls and was used most recently.
    User(UserName),
    /// `"alice/laptop"`: exactly that device.
    Device(PeerId),
}

impl Address {
    /// The user addressed.
    pub fn user(&self) -> &UserName {
        match self {
            Address::User(u) => u,
            Address::Device(p) => &p.user,
        }
    }

    /// The device addressed, if one is.
    pub fn device(&self) -> Option<&DeviceName> {
        match self {
            Address::User(_) => None,
            Address::Device(p) => Some(&p.device),
        }
    }

    /// True if `peer` is (one of) the sessions this address names.
    pub fn matches(&self, peer: &PeerId) -> bool {
        *self.user() == peer.user && self.device().is_none_or(|d| *d == peer.device)
    }
}

impl Ord for Address {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.user(), self.device()).cmp(&(other.user(), other.device()))
    }
}

impl PartialOrd for Address {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl From<UserName> for Address {
    fn from(u: UserName) -> Self {
        Address::User(u)
    }
}

impl From<PeerId> for Address {
    fn from(p: PeerId) -> Self {
        Address::Device(p)
    }
}

impl FromStr for Address {
    type Err = AddressError;
    fn from_str(s: &str) -> Result<Self, AddressError> {
        Ok(match split(s)? {
            (user, Some(device)) => Address::Device(PeerId { user, device }),
            (user, None) => Address::User(user),
        })
    }
}

impl TryFrom<String> for Address {
    type Error = AddressError;
    fn try_from(s: String) -> Result<Self, AddressError> {
        s.parse()
    }
}

impl From<Address> for String {
    fn from(a: Address) -> String {
        a.to_string()
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::User(u) => u.fmt(f),
            Address::Device(p) => p.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Result<DeviceName, NameError> {
        DeviceName::new(s)
    }

    #[test]
    fn device_names_follow_the_user_rules_within_32_bytes() {
        for ok in ["laptop", "phone-2", "a.b_c", &"x".repeat(32)] {
            assert!(d(ok).is_ok(), "{ok}");
        }
        assert_eq!(d(&"x".repeat(33)), Err(NameError::TooLong));
        assert_eq!(d(""), Err(NameError::Empty));
        assert_eq!(d("Laptop"), Err(NameError::BadChar('L')));
        assert_eq!(d("a/b"), Err(NameError::BadChar('/')));
        assert_eq!(d("-x"), Err(NameError::BadChar('-')));
    }

    #[test]
    fn instances_run_from_1_to_16() {
        let one = d("laptop~1").unwrap();
        assert_eq!((one.base(), one.instance()), ("laptop", Some(1)));
        assert_eq!(d("laptop~16").unwrap().instance(), Some(16));
        for bad in [
            "laptop~0",
            "laptop~17",
            "laptop~01",
            "laptop~",
            "~1",
            "a~1~2",
            "a~+1",
        ] {
            assert!(d(bad).is_err(), "{bad}");
        }
        let base = d("laptop").unwrap();
        assert_eq!(base.instance(), None);
        assert_eq!(base.with_instance(3), Some(d("laptop~3").unwrap()));
        assert_eq!(base.with_instance(17), None);
        // The `~N` comes on top of the 32 bytes: every base has its instances.
        let long = d(&"x".repeat(32)).unwrap();
        assert_eq!(long.with_instance(16).unwrap().as_str().len(), 35);
        assert_eq!(d(&format!("{}~1", "x".repeat(33))), Err(NameError::TooLong));
    }

    #[test]
    fn peer_ids_and_addresses_parse_totally_and_print_back() {
        let p: PeerId = "alice/laptop".parse().unwrap();
        assert_eq!(p.to_string(), "alice/laptop");
        assert_eq!("alice".parse::<PeerId>(), Err(AddressError::NoDevice));
        assert!(matches!(
            "alice/".parse::<PeerId>(),
            Err(AddressError::Device(_))
        ));
        assert!(matches!(
            "/laptop".parse::<PeerId>(),
            Err(AddressError::User(_))
        ));
        assert!("alice/lap/top".parse::<PeerId>().is_err());
        let a: Address = "alice".parse().unwrap();
        assert_eq!(a, Address::User(UserName::new("alice").unwrap()));
        let b: Address = "alice/send~2".parse().unwrap();
        assert_eq!(b.to_string(), "alice/send~2");
        assert!(b.matches(&"alice/send~2".parse().unwrap()));
        assert!(a.matches(&"alice/phone".parse().unwrap()));
        assert!(!b.matches(&"alice/phone".parse().unwrap()));
    }

    #[test]
    fn peers_order_by_user_then_device() {
        let mut v: Vec<PeerId> = ["bob/a", "alice/z", "alice/b"]
            .map(|s| s.parse().unwrap())
            .into();
        v.sort();
        let s: Vec<String> = v.iter().map(ToString::to_string).collect();
        assert_eq!(s, ["alice/b", "alice/z", "bob/a"]);
        assert!("alice".parse::<Address>().unwrap() < "alice/a".parse().unwrap());
    }

    #[test]
    fn serde_uses_the_strings() {
        let p: PeerId = serde_json::from_str("\"bob/phone\"").unwrap();
        assert_eq!(serde_json::to_string(&p).unwrap(), "\"bob/phone\"");
        assert!(serde_json::from_str::<PeerId>("\"bob\"").is_err());
        let a: Address = serde_json::from_str("\"bob\"").unwrap();
        assert_eq!(serde_json::to_string(&a).unwrap(), "\"bob\"");
        assert!(serde_json::from_str::<Address>("\"Bob\"").is_err());
    }
}
