//! Who a peer really is. Each device has a long-term identity key (ed25519,
//! made once and kept with its config) that signs the fingerprint of the
//! DTLS certificate it connects with; every offer and answer the hub relays
//! carries the key and the signature in one SDP line,
//! `a=brume-identity:KEY SIG` (hex). The first connection that opens pins
//! the key per `user/device` (trust on first use). Later, a signature that
//! does not verify, or another key for a pinned device, is a hub that lies
//! or a device set up again: the attempt fails with `EIDENTITY` and
//! [`EndpointEvent::IdentityChanged`] until the application trusts the new
//! key ([`Endpoint::pin`]). Per-connection DTLS certificates (browsers make
//! one per RTCPeerConnection) do no harm: the key, not the certificate, is
//! pinned. A peer that signs nothing (a client without an identity key) is
//! not pinned, and is refused only for a device that was pinned before.
//! Pins are per device: `laptop~1` pins as `laptop`, whose key it shares.

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};

use super::{Endpoint, EndpointEvent};
use crate::signal::{Address, DeviceName, PeerId};

/// A certificate fingerprint as SDP writes it, upper-case: `sha-256 AB:CD:…`.
pub type Fingerprint = String;

/// The SDP attribute that carries a device's identity.
const ATTRIBUTE: &str = "a=brume-identity:";
/// What the identity key signs, before the fingerprint.
const CONTEXT: &str = "brume-identity-v1 ";

/// The `a=fingerprint:` of an SDP, normalised (algorithm lower-case, hex
/// upper-case); `None` without one.
pub fn sdp_fingerprint(sdp: &str) -> Option<Fingerprint> {
    sdp.lines().find_map(|line| {
        let rest = line.trim().strip_prefix("a=fingerprint:")?;
        let (alg, hex) = rest.split_once(' ')?;
        Some(format!(
            "{} {}",
            alg.to_ascii_lowercase(),
            hex.trim().to_ascii_uppercase()
        ))
    })
}

/// The fingerprint of a DER certificate, as SDP writes it.
pub fn certificate_fingerprint(der: &[u8]) -> Fingerprint {
    let hex: Vec<String> = digest(&SHA256, der)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect();
    format!("sha-256 {}", hex.join(":"))
}

/// A short form of an identity key to read out to the other person (as
/// safety numbers are): its first 16 bytes, in groups of four hex digits.
pub fn short_form(key_hex: &str) -> String {
    let hex: String = key_hex
        .chars()
        .filter(char::is_ascii_hexdigit)
        .take(32)
        .collect::<String>()
        .to_ascii_uppercase();
    hex.as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn from_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The public key of an identity key's 32-byte seed, in hex.
pub fn identity_public_key(seed: &[u8; 32]) -> Option<String> {
    let pair = Ed25519KeyPair::from_seed_unchecked(seed).ok()?;
    Some(to_hex(pair.public_key().as_ref()))
}

/// `sdp` with this device's identity line added: the key and its signature
/// of `fingerprint`.
pub(super) fn sign_sdp(sdp: String, seed: &[u8; 32], fingerprint: &str) -> String {
    let Ok(pair) = Ed25519KeyPair::from_seed_unchecked(seed) else {
        return sdp;
    };
    let signature = pair.sign(format!("{CONTEXT}{fingerprint}").as_bytes());
    let mut sdp = sdp;
    if !sdp.ends_with("\r\n") {
        sdp.push_str("\r\n");
    }
    sdp.push_str(&format!(
        "{ATTRIBUTE}{} {}\r\n",
        to_hex(pair.public_key().as_ref()),
        to_hex(signature.as_ref())
    ));
    sdp
}

/// `sdp` without its identity line, for str0m.
pub(super) fn strip_identity(sdp: &str) -> String {
    sdp.split_inclusive('\n')
        .filter(|line| !line.trim_start().starts_with(ATTRIBUTE))
        .collect()
}

/// What an SDP says of its device's identity.
#[derive(Debug, PartialEq, Eq)]
enum Presented {
    /// No identity line.
    Unsigned,
    /// A key whose signature of the SDP's fingerprint verifies.
    Key(String),
    /// A line that does not verify against the fingerprint.
    Forged,
}

fn presented(sdp: &str) -> Presented {
    let Some(line) = sdp.lines().find_map(|l| l.trim().strip_prefix(ATTRIBUTE)) else {
        return Presented::Unsigned;
    };
    let (Some(fingerprint), Some((key, sig))) = (sdp_fingerprint(sdp), line.split_once(' ')) else {
        return Presented::Forged;
    };
    let (Some(key_bytes), Some(sig_bytes)) = (from_hex(key.trim()), from_hex(sig.trim())) else {
        return Presented::Forged;
    };
    let message = format!("{CONTEXT}{fingerprint}");
    match UnparsedPublicKey::new(&ED25519, &key_bytes).verify(message.as_bytes(), &sig_bytes) {
        Ok(()) => Presented::Key(key.trim().to_ascii_lowercase()),
        Err(_) => Presented::Forged,
    }
}

/// The device a pin is for: every session of a device (`laptop`,
/// `laptop~1`, …) shares its key, so instances pin as their base.
pub fn pin_key(peer: &PeerId) -> PeerId {
    match peer.device.instance() {
        None => peer.clone(),
        Some(_) => PeerId::new(
            peer.user.clone(),
            DeviceName::new(peer.device.base()).unwrap_or_else(|_| peer.device.clone()),
        ),
    }
}

impl Endpoint {
    /// This device's identity key (public, hex), if it has one.
    pub fn identity(&self) -> Option<String> {
        self.config
            .identity_key
            .as_ref()
            .and_then(identity_public_key)
    }

    /// The key pinned for `peer`, if any.
    pub fn pinned(&self, peer: &PeerId) -> Option<&String> {
        self.config.pins.get(&pin_key(peer))
    }

    /// Pins (or re-pins, once the user trusts a changed one) `peer`'s key.
    pub fn pin(&mut self, peer: PeerId, key: String) {
        self.config.pins.insert(pin_key(&peer), key);
    }

    /// Forgets `peer`'s pin: the next connection pins anew.
    pub fn unpin(&mut self, peer: &PeerId) {
        self.config.pins.remove(&pin_key(peer));
    }

    /// Our SDP for the hub, signed when this device has an identity key.
    pub(super) fn signed(&self, sdp: String) -> String {
        match &self.config.identity_key {
            Some(seed) => {
                let fingerprint = certificate_fingerprint(self.config.dtls_cert.certificate_der());
                sign_sdp(sdp, seed, &fingerprint)
            }
            None => sdp,
        }
    }

    /// Checks a remote SDP's identity against `peer`'s pin, and remembers a
    /// verified key, to pin once the connection opens. False (with an
    /// `IdentityChanged` event) for a forged line, or another key (or none)
    /// where one is pinned.
    pub(super) fn identity_ok(&mut self, peer: &PeerId, sdp: &str) -> bool {
        let name = Address::Device(peer.clone());
        let pinned = self.config.pins.get(&pin_key(peer)).cloned();
        let shown = presented(sdp);
        let refuse = match (&pinned, &shown) {
            (_, Presented::Forged) => Some("a signature that does not verify".to_owned()),
            (Some(p), Presented::Key(k)) if p != k => Some(k.clone()),
            (Some(_), Presented::Unsigned) => Some("no identity at all".to_owned()),
            _ => None,
        };
        if let Some(presented) = refuse {
            self.event(EndpointEvent::IdentityChanged {
                peer: name,
                pinned: pinned.unwrap_or_default(),
                presented,
            });
            return false;
        }
        // The callee has no peer yet: kept by address until it opens.
        match shown {
            Presented::Key(k) => {
                self.presented.insert(name, k);
            }
            _ => {
                self.presented.remove(&name);
            }
        }
        true
    }

    /// The connection to `name` opened, so DTLS proved the fingerprint
    /// that its key signed: pin the key on first use.
    pub(super) fn pin_on_open(&mut self, name: &Address) {
        let Address::Device(peer) = name else {
            return;
        };
        let Some(key) = self.presented.remove(name) else {
            return;
        };
        let device = pin_key(peer);
        if self.config.pins.contains_key(&device) {
            return;
        }
        self.config.pins.insert(device.clone(), key.clone());
        self.event(EndpointEvent::PeerPinned {
            peer: Address::Device(device),
            fingerprint: key,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SDP: &str = "v=0\r\na=fingerprint:sha-256 ab:cd:01:23\r\na=setup:actpass\r\n";

    #[test]
    fn fingerprints_are_read_from_sdp_and_keys_shortened() {
        assert_eq!(sdp_fingerprint(SDP).as_deref(), Some("sha-256 AB:CD:01:23"));
        assert_eq!(sdp_fingerprint("v=0\r\n"), None);
        let long = certificate_fingerprint(b"x");
        assert!(long.starts_with("sha-256 2D:71:16:42"), "{long}");
        assert_eq!(
            short_form("2d711642b726b04401627ca9fbac32f5"),
            "2D71 1642 B726 B044 0162 7CA9 FBAC 32F5"
        );
    }

    #[test]
    fn a_signed_sdp_verifies_and_a_forged_one_does_not() {
        let seed = [7u8; 32];
        let signed = sign_sdp(SDP.to_owned(), &seed, "sha-256 AB:CD:01:23");
        let key = identity_public_key(&seed).unwrap();
        assert_eq!(presented(&signed), Presented::Key(key));
        assert_eq!(strip_identity(&signed), SDP);
        assert_eq!(presented(SDP), Presented::Unsigned);
        // The hub rewrites the fingerprint and keeps the line: forged.
        let rewritten = signed.replace("ab:cd:01:23", "ee:ee:ee:ee");
        assert_eq!(presented(&rewritten), Presented::Forged);
        // Or signs with a key of its own: verifies, but is another key.
        let other = sign_sdp(
            strip_identity(&rewritten),
            &[9u8; 32],
            "sha-256 EE:EE:EE:EE",
        );
        assert_eq!(
            presented(&other),
            Presented::Key(identity_public_key(&[9u8; 32]).unwrap())
        );
        assert_eq!(presented("a=brume-identity:zz 00\r\n"), Presented::Forged);
    }

    /// The vector in docs/PROTOCOL.md ("Who a peer is").
    #[test]
    fn the_documented_identity_line() {
        let line = sign_sdp("v=0\r\n".into(), &[7u8; 32], "sha-256 AB:CD:01:23");
        assert_eq!(
            line,
            "v=0\r\na=brume-identity:ea4a6c63e29c520abef5507b132ec5f9954776aebebe7b92421eea691446d22c \
             f7c2f344301f9f95f3137fceccd7c040ec1f2d338fba3129c40e92e6cd431ca1\
             32f9523c1d086004406327f8cc655c2d27ad8dd85a41b8729e415192f8f1dc08\r\n"
        );
    }
}
