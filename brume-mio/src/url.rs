//! Hub addresses: `ws://host:port/path` or `wss://host:port/path`.

use std::fmt;
use std::net::{SocketAddr, ToSocketAddrs};

use anyhow::{Context, Result, bail};

/// A parsed hub URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubUrl {
    /// `wss://`.
    pub tls: bool,
    /// The host name or address (IPv6 without brackets).
    pub host: String,
    /// The port (80 or 443 when left out).
    pub port: u16,
    /// The path, starting with `/`.
    pub path: String,
}

impl HubUrl {
    /// Parses `ws://` and `wss://` URLs.
    pub fn parse(s: &str) -> Result<Self> {
        let (tls, rest) = if let Some(r) = s.strip_prefix("wss://") {
            (true, r)
        } else if let Some(r) = s.strip_prefix("ws://") {
            (false, r)
        } else {
            bail!("bad hub URL {s:?}: it must start with ws:// or wss://");
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let end = v6.find(']').with_context(|| format!("bad hub URL {s:?}"))?;
            let port = v6[end + 1..].strip_prefix(':');
            (&v6[..end], port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            bail!("bad hub URL {s:?}: no host");
        }
        let port = match port {
            Some(p) => p
                .parse()
                .with_context(|| format!("bad hub URL {s:?}: bad port"))?,
            None if tls => 443,
            None => 80,
        };
        Ok(Self {
            tls,
            host: host.to_owned(),
            port,
            path: path.to_owned(),
        })
    }

    /// Parses the URL of a hub's root, as `brume login` and the config
    /// need it: `ws://` or `wss://`, a host, and no path beyond `/` (the
    /// hub serves sessions at `/` and password login at `/login`).
    pub fn parse_root(s: &str) -> Result<Self> {
        let url = Self::parse(s)?;
        if url.path != "/" {
            bail!(
                "bad hub URL {s:?}: give the hub itself, without a path (ws://{}:{})",
                url.host,
                url.port
            );
        }
        Ok(url)
    }

    /// The same hub with another path.
    pub fn with_path(&self, path: &str) -> Self {
        Self {
            path: path.to_owned(),
            ..self.clone()
        }
    }

    /// The first address the host resolves to.
    pub fn resolve(&self) -> Result<SocketAddr> {
        (self.host.as_str(), self.port)
            .to_socket_addrs()
            .with_context(|| format!("cannot resolve {}", self.host))?
            .next()
            .with_context(|| format!("{} has no address", self.host))
    }
}

impl fmt::Display for HubUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.tls { "wss" } else { "ws" };
        if self.host.contains(':') {
            write!(f, "{scheme}://[{}]:{}{}", self.host, self.port, self.path)
        } else {
            write!(f, "{scheme}://{}:{}{}", self.host, self.port, self.path)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_usual_forms() {
        let u = HubUrl::parse("ws://127.0.0.1:7770").unwrap();
        assert_eq!(
            (u.tls, u.host.as_str(), u.port, u.path.as_str()),
            (false, "127.0.0.1", 7770, "/")
        );
        let u = HubUrl::parse("wss://hub.example.org/brume").unwrap();
        assert_eq!((u.tls, u.port, u.path.as_str()), (true, 443, "/brume"));
        let u = HubUrl::parse("ws://[::1]:9/").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("::1", 9));
        assert_eq!(u.to_string(), "ws://[::1]:9/");
        assert!(HubUrl::parse("http://x").is_err());
        assert!(HubUrl::parse("ws://:80").is_err());
        assert!(HubUrl::parse("ws://x:port").is_err());
    }

    #[test]
    fn a_hub_root_has_no_path() {
        assert_eq!(HubUrl::parse_root("ws://h:1").unwrap().path, "/");
        assert_eq!(HubUrl::parse_root("ws://h:1/").unwrap().path, "/");
        assert_eq!(HubUrl::parse_root("wss://[::1]").unwrap().port, 443);
        for bad in [
            "ws://h:1/login",
            "ws://h/x/",
            "ws://h:1/?a=b",
            "http://h:1",
            "h:1",
            "ws://",
            "ws:///",
            "wss://:443",
        ] {
            assert!(HubUrl::parse_root(bad).is_err(), "{bad}");
        }
    }
}
