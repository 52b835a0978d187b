//! Who a peer really is: each device's DTLS certificate is its long-term
//! key (made once and kept with its config), so its SHA-256 fingerprint,
//! which the SDP carries and DTLS then proves, names the device. The first
//! connection that opens pins it per `user/device` (trust on first use);
//! a later offer or answer with another fingerprint for that device is a
//! hub that lies, or a device that changed: the attempt fails with
//! `EIDENTITY` and [`EndpointEvent::IdentityChanged`] until the
//! application trusts the new one ([`Endpoint::pin`]). Pins are per
//! device: a short-lived `laptop~1` pins as `laptop`, whose certificate it
//! shares.

use sha2::{Digest, Sha256};

use super::{Endpoint, EndpointEvent};
use crate::signal::{Address, PeerId};

/// A fingerprint as SDP writes it, upper-case: `sha-256 AB:CD:…`.
pub type Fingerprint = String;

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
    let digest = Sha256::digest(der);
    let hex: Vec<String> = digest.iter().map(|b| format!("{b:02X}")).collect();
    format!("sha-256 {}", hex.join(":"))
}

/// A short form to read out to the other person (as safety numbers are):
/// the first 16 bytes in groups of four hex digits.
pub fn short_form(fingerprint: &str) -> String {
    let hex: String = fingerprint
        .split_once(' ')
        .map_or(fingerprint, |(_, h)| h)
        .chars()
        .filter(char::is_ascii_hexdigit)
        .take(32)
        .collect();
    hex.as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The device a pin is for: every session of a device (`laptop`,
/// `laptop~1`, …) shares its certificate, so instances pin as their base.
pub fn pin_key(peer: &PeerId) -> PeerId {
    match peer.device.instance() {
        None => peer.clone(),
        Some(_) => PeerId::new(
            peer.user.clone(),
            crate::signal::DeviceName::new(peer.device.base())
                .unwrap_or_else(|_| peer.device.clone()),
        ),
    }
}

impl Endpoint {
    /// This device's fingerprint, as its peers pin it.
    pub fn local_fingerprint(&self) -> Fingerprint {
        certificate_fingerprint(self.config.dtls_cert.certificate_der())
    }

    /// The pinned fingerprint of `peer`, if any.
    pub fn pinned(&self, peer: &PeerId) -> Option<&Fingerprint> {
        self.config.pins.get(&pin_key(peer))
    }

    /// Pins (or re-pins, once the user trusts a changed one) `peer`'s fingerprint.
    pub fn pin(&mut self, peer: PeerId, fingerprint: Fingerprint) {
        self.config.pins.insert(pin_key(&peer), fingerprint);
    }

    /// Forgets `peer`'s pin: the next connection pins anew.
    pub fn unpin(&mut self, peer: &PeerId) {
        self.config.pins.remove(&pin_key(peer));
    }

    /// Checks a remote SDP against `peer`'s pin; remembers what it
    /// presented, to pin once the connection opens. False (with an
    /// `IdentityChanged` event) when it differs from the pin.
    pub(super) fn identity_ok(&mut self, peer: &PeerId, sdp: &str) -> bool {
        let Some(presented) = sdp_fingerprint(sdp) else {
            return true; // str0m refuses an SDP without one anyway
        };
        let name = Address::Device(peer.clone());
        if let Some(pinned) = self.config.pins.get(&pin_key(peer)).cloned()
            && pinned != presented
        {
            self.event(EndpointEvent::IdentityChanged {
                peer: name,
                pinned,
                presented,
            });
            return false;
        }
        // The callee has no peer yet: kept by address until it opens.
        self.presented.insert(name, presented);
        true
    }

    /// The connection to `name` opened, so DTLS proved the fingerprint its
    /// SDP carried: pin it on first use.
    pub(super) fn pin_on_open(&mut self, name: &Address) {
        let Address::Device(peer) = name else {
            return;
        };
        let Some(fingerprint) = self.presented.remove(name) else {
            return;
        };
        let key = pin_key(peer);
        if self.config.pins.contains_key(&key) {
            return;
        }
        self.config.pins.insert(key.clone(), fingerprint.clone());
        self.event(EndpointEvent::PeerPinned {
            peer: Address::Device(key),
            fingerprint,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_are_read_from_sdp_and_shortened() {
        let sdp = "v=0\r\na=fingerprint:SHA-256 ab:cd:01:23\r\na=setup:actpass\r\n";
        assert_eq!(sdp_fingerprint(sdp).as_deref(), Some("sha-256 AB:CD:01:23"));
        assert_eq!(sdp_fingerprint("v=0\r\n"), None);
        let long = certificate_fingerprint(b"x");
        assert!(long.starts_with("sha-256 2D:71:16:42"), "{long}");
        assert_eq!(short_form(&long).split(' ').count(), 8);
        assert!(short_form(&long).starts_with("2D71 1642"));
    }
}
