//! This device's DTLS certificate: Brume's own type over str0m's, so the
//! public API does not change with str0m's.

use core::fmt;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use str0m::config::DtlsCert;

/// Why a certificate was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertificateError {
    /// The bytes are not a DER structure (they must start with a SEQUENCE).
    #[error("the {0} is not DER")]
    NotDer(&'static str),
    /// The DTLS stack cannot use the private key.
    #[error("the private key is not one DTLS can use: {0}")]
    BadKey(String),
    /// The PEM text has no such item, or it cannot be decoded.
    #[error("no {what} in the PEM text: {detail}")]
    Pem {
        /// `certificate` or `private key`.
        what: &'static str,
        /// The decoder's words.
        detail: String,
    },
    /// The crypto provider could not make one.
    #[error("cannot make a DTLS certificate: {0}")]
    Generate(String),
}

/// A DTLS certificate and its private key, both DER. The driver makes one
/// per device, keeps it with the user's config and hands it in
/// ([`EndpointConfig::new`](super::EndpointConfig::new)): a stable
/// fingerprint per device is what peer pinning builds on.
#[derive(Clone)]
pub struct Certificate(DtlsCert);

/// DER starts with a SEQUENCE tag; anything else is not a certificate or key.
fn check_der(what: &'static str, der: &[u8]) -> Result<(), CertificateError> {
    if der.first() == Some(&0x30) {
        Ok(())
    } else {
        Err(CertificateError::NotDer(what))
    }
}

impl Certificate {
    /// A fresh self-signed certificate from the crypto provider. For
    /// drivers: it draws on OS randomness, so the endpoint never calls it.
    pub fn generate() -> Result<Self, CertificateError> {
        str0m::crypto::from_feature_flags()
            .dtls_provider
            .generate_certificate()
            .map(Self)
            .ok_or_else(|| CertificateError::Generate("the provider made none".into()))
    }

    /// A certificate and private key (PKCS#8 or SEC1, ECDSA), both DER.
    /// The key is loaded by the DTLS stack here, since a key it cannot use
    /// would otherwise fail only when the first connection is built.
    pub fn from_der(certificate: Vec<u8>, private_key: Vec<u8>) -> Result<Self, CertificateError> {
        check_der("certificate", &certificate)?;
        check_der("private key", &private_key)?;
        dimpl::Config::default()
            .crypto_provider()
            .key_provider
            .load_private_key(&private_key)
            .map_err(|e| CertificateError::BadKey(e.to_string()))?;
        Ok(Self(DtlsCert {
            certificate,
            private_key,
        }))
    }

    /// The first `CERTIFICATE` and the first private key in PEM text (one
    /// file or two).
    pub fn from_pem(certificate: &[u8], private_key: &[u8]) -> Result<Self, CertificateError> {
        let cert =
            CertificateDer::from_pem_slice(certificate).map_err(|e| CertificateError::Pem {
                what: "certificate",
                detail: e.to_string(),
            })?;
        let key =
            PrivateKeyDer::from_pem_slice(private_key).map_err(|e| CertificateError::Pem {
                what: "private key",
                detail: e.to_string(),
            })?;
        Self::from_der(cert.as_ref().to_vec(), key.secret_der().to_vec())
    }

    /// The certificate, DER.
    pub fn certificate_der(&self) -> &[u8] {
        &self.0.certificate
    }

    /// The private key, DER. Keep it as secret as the user's tokens.
    pub fn private_key_der(&self) -> &[u8] {
        &self.0.private_key
    }

    pub(crate) fn to_str0m(&self) -> DtlsCert {
        self.0.clone()
    }
}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the key.
        f.debug_struct("Certificate")
            .field("certificate_len", &self.0.certificate.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_certificate_survives_der_and_hides_its_key() {
        let cert = Certificate::generate().unwrap();
        let again = Certificate::from_der(
            cert.certificate_der().to_vec(),
            cert.private_key_der().to_vec(),
        )
        .unwrap();
        assert_eq!(again.certificate_der(), cert.certificate_der());
        assert_eq!(again.private_key_der(), cert.private_key_der());
        let shown = format!("{cert:?}");
        assert!(!shown.contains(&format!("{:?}", cert.private_key_der())));
    }

    #[test]
    fn pem_is_read_and_bad_input_is_named() {
        let cert = Certificate::generate().unwrap();
        let pem = |label: &str, der: &[u8]| {
            use base64::Engine;
            let encode = |b| base64::engine::general_purpose::STANDARD.encode(b);
            format!(
                "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
                encode(der)
            )
        };
        let text = pem("CERTIFICATE", cert.certificate_der())
            + &pem("PRIVATE KEY", cert.private_key_der());
        let read = Certificate::from_pem(text.as_bytes(), text.as_bytes()).unwrap();
        assert_eq!(read.certificate_der(), cert.certificate_der());
        assert_eq!(read.private_key_der(), cert.private_key_der());

        assert_eq!(
            Certificate::from_der(b"junk".to_vec(), cert.private_key_der().to_vec()).unwrap_err(),
            CertificateError::NotDer("certificate")
        );
        assert_eq!(
            Certificate::from_der(cert.certificate_der().to_vec(), Vec::new()).unwrap_err(),
            CertificateError::NotDer("private key")
        );
        // DER-looking bytes that are no key: refused here, not a panic when
        // the endpoint builds its first connection.
        assert!(matches!(
            Certificate::from_der(cert.certificate_der().to_vec(), vec![0x30, 0]),
            Err(CertificateError::BadKey(_))
        ));
        let no_key = pem("CERTIFICATE", cert.certificate_der());
        assert!(matches!(
            Certificate::from_pem(no_key.as_bytes(), no_key.as_bytes()),
            Err(CertificateError::Pem {
                what: "private key",
                ..
            })
        ));
    }
}
