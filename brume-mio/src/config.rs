//! The client's config file, like Brume's downloadable config: the hub URL,
//! the user's access and refresh tokens, this device's name and its DTLS
//! certificate (made once, on first use). JSON, mode 0600, at `~/.config/brume/brume.conf`
//! unless `BRUME_CONF` says otherwise.

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use brume_proto::endpoint::Certificate;
use brume_proto::signal::{DeviceName, MAX_DEVICE_LEN};
use serde::{Deserialize, Serialize};

/// The environment variable naming the config file.
pub const ENV: &str = "BRUME_CONF";

/// A DTLS certificate and key, DER in base64.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CertFile {
    /// The certificate.
    pub certificate: String,
    /// Its private key.
    pub private_key: String,
}

/// Everything a client needs to reach its hub as its user.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClientFile {
    /// The hub, `ws://` or `wss://`.
    pub url: String,
    /// The user name (the tokens' subject).
    pub user: String,
    /// The access token.
    pub access_token: String,
    /// The refresh token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// This device's name at the hub (`brume login --device`); absent, the
    /// host name's (see [`ClientFile::device`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<DeviceName>,
    /// This device's DTLS certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dtls_cert: Option<CertFile>,
    /// An extra CA to trust for `wss://` (a self-signed hub).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca: Option<PathBuf>,
    /// A STUN server for a server-reflexive candidate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stun: Option<std::net::SocketAddr>,
    /// This device's identity key: an ed25519 seed, in base64, made with
    /// the certificate. It signs the certificate's fingerprint in every
    /// offer and answer, so peers know the device again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_key: Option<String>,
    /// The devices met before: `user/device` → their identity key (hex),
    /// pinned on first use.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub pins: std::collections::BTreeMap<String, String>,
}

/// `$BRUME_CONF`, else `~/.config/brume/brume.conf`.
pub fn default_path() -> PathBuf {
    if let Some(p) = std::env::var_os(ENV) {
        return PathBuf::from(p);
    }
    dirs::config_dir()
        .unwrap_or_else(|| PathBuf::from("."))
        .join("brume")
        .join("brume.conf")
}

/// A device name from a host name: its first label, lowercased, with any
/// character a device name does not allow made `-`, cut to fit; `None` if
/// nothing usable is left.
pub fn device_from_host(host: &str) -> Option<DeviceName> {
    let label = host.trim().split('.').next().unwrap_or_default();
    let cleaned: String = label
        .chars()
        .map(|c| c.to_ascii_lowercase())
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .skip_while(|c| !c.is_ascii_alphanumeric())
        .take(MAX_DEVICE_LEN)
        .collect();
    DeviceName::new(cleaned).ok()
}

/// This machine's device name: from its host name, else `"default"`.
pub fn host_device() -> DeviceName {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| {
            fs::read_to_string(p)
                .ok()
                .and_then(|h| device_from_host(&h))
        })
        .unwrap_or_default()
}

/// A fresh DTLS certificate from the crypto provider.
pub fn new_cert() -> Result<Certificate> {
    Ok(Certificate::generate()?)
}

impl ClientFile {
    /// Reads a config file: "no config" only when there is none; a file
    /// that cannot be read or parsed is named with what is wrong with it.
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = match fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
                "no config at {} (run `brume login` first, or set {ENV})",
                path.display()
            ),
            Err(e) => bail!("cannot read the config {}: {e}", path.display()),
        };
        serde_json::from_slice(&bytes).with_context(|| {
            format!(
                "cannot parse the config {} (run `brume login` again to rewrite it)",
                path.display()
            )
        })
    }

    /// Writes it (mode 0600), replacing the old file atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        f.write_all(self.to_text().as_bytes())?;
        f.sync_all()?;
        fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
        Ok(())
    }

    /// Changes the config on disk with `change` and returns what was
    /// written. Every process of the user shares the file (a `recv`, a
    /// `chat`, the share daemon), each refreshing tokens and pinning peers:
    /// under an exclusive lock on `<path>.lock`, the change is applied to
    /// the file as it is now, not to what this process read at its start,
    /// so one's pins are never lost to another's token.
    pub fn update(path: &Path, change: impl FnOnce(&mut Self) -> Result<()>) -> Result<Self> {
        use fs4::fs_std::FileExt;
        let mut lock_path = path.as_os_str().to_owned();
        lock_path.push(".lock");
        let lock = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&lock_path)
            .with_context(|| format!("cannot open {}", Path::new(&lock_path).display()))?;
        FileExt::lock_exclusive(&lock)
            .with_context(|| format!("cannot lock {}", Path::new(&lock_path).display()))?;
        let mut file = Self::load(path)?;
        change(&mut file)?;
        file.save(path)?;
        // The lock goes with the handle.
        drop(lock);
        Ok(file)
    }

    /// Pretty JSON.
    pub fn to_text(&self) -> String {
        // A struct of strings always serialises.
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }

    /// The device this config's sessions hold: the one it names, else this host's.
    pub fn device(&self) -> DeviceName {
        self.device.clone().unwrap_or_else(host_device)
    }

    /// Makes the device certificate if there is none; true if it did.
    pub fn ensure_cert(&mut self) -> Result<bool> {
        let mut made = false;
        if self.identity_key.is_none() {
            let mut seed = [0u8; 32];
            getrandom::fill(&mut seed).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
            self.identity_key = Some(B64.encode(seed));
            made = true;
        }
        if self.dtls_cert.is_some() {
            return Ok(made);
        }
        let cert = new_cert()?;
        self.dtls_cert = Some(CertFile {
            certificate: B64.encode(cert.certificate_der()),
            private_key: B64.encode(cert.private_key_der()),
        });
        Ok(true)
    }

    /// The identity key's seed (call [`ClientFile::ensure_cert`] first).
    pub fn identity_seed(&self) -> Result<[u8; 32]> {
        let text = self
            .identity_key
            .as_ref()
            .context("the config has no identity key")?;
        let bytes = B64.decode(text).context("bad identity key in the config")?;
        bytes
            .try_into()
            .map_err(|_| anyhow::anyhow!("the identity key in the config is not 32 bytes"))
    }

    /// The device certificate (call [`ClientFile::ensure_cert`] first).
    pub fn cert(&self) -> Result<Certificate> {
        let c = self
            .dtls_cert
            .as_ref()
            .context("the config has no DTLS certificate")?;
        Certificate::from_der(
            B64.decode(&c.certificate)
                .context("bad certificate in the config")?,
            B64.decode(&c.private_key)
                .context("bad private key in the config")?,
        )
        .context("bad DTLS certificate in the config")
    }
}

#[cfg(test)]
mod tests {
    use super::ClientFile;

    fn dir() -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!(
            "brume-config-{}-{:x}",
            std::process::id(),
            fastrand::u64(..)
        ));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn error(path: &std::path::Path) -> String {
        format!("{:#}", ClientFile::load(path).unwrap_err())
    }

    fn sample() -> ClientFile {
        serde_json::from_str(r#"{"url":"ws://127.0.0.1:1/","user":"alice","access_token":"t0"}"#)
            .unwrap()
    }

    #[test]
    fn updates_from_many_processes_at_once_all_land() {
        let d = dir();
        let path = d.join("brume.conf");
        sample().save(&path).unwrap();
        // Each thread stands for a process that read the file at its start
        // and now pins a peer, or refreshes its token.
        let writers: Vec<_> = (0..12)
            .map(|n| {
                let path = path.clone();
                std::thread::spawn(move || {
                    for round in 0..5 {
                        ClientFile::update(&path, |f| {
                            if n % 3 == 0 {
                                f.access_token = format!("t{n}.{round}");
                            } else {
                                f.pins.insert(format!("peer{n}/d{round}"), "key".into());
                            }
                            Ok(())
                        })
                        .unwrap();
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        let file = ClientFile::load(&path).unwrap();
        assert_eq!(file.pins.len(), 8 * 5, "{:?}", file.pins.keys());
        assert!(file.access_token.starts_with('t') && file.access_token != "t0");
    }

    #[test]
    fn an_update_of_a_config_that_is_not_there_says_so_and_writes_nothing() {
        let d = dir();
        let path = d.join("brume.conf");
        let e = ClientFile::update(&path, |_| Ok(())).unwrap_err();
        assert!(format!("{e:#}").starts_with("no config at"), "{e:#}");
        assert!(!path.exists());
    }

    #[test]
    fn a_missing_config_is_not_a_broken_one() {
        let d = dir();
        let path = d.join("brume.conf");
        assert!(error(&path).starts_with("no config at"), "{}", error(&path));

        std::fs::write(&path, [0xff, 0x00, 0x9c, 0x12, 0xfe]).unwrap();
        let e = error(&path);
        assert!(e.starts_with("cannot parse the config"), "{e}");
        assert!(e.contains(&path.display().to_string()), "{e}");

        std::fs::write(&path, "{\"url\": 3}").unwrap();
        assert!(error(&path).starts_with("cannot parse the config"));

        // A folder where the file should be: it exists, and cannot be read.
        let e = error(&d);
        assert!(e.starts_with("cannot read the config"), "{e}");
        std::fs::remove_dir_all(&d).unwrap();
    }
}
