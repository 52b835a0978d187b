//! The web app at the hub's HTTP root: the JavaScript client library
//! (`clients/js/`) and a small app built on it, embedded in the binary.
//!
//! A connection to the hub that is a plain HTTP request (no `Upgrade:
//! websocket`) is answered here, once, and closed: `GET` or `HEAD` of one of
//! the embedded files, by its exact path (`/` is `index.html`), with its
//! content type. Nothing else is served: no directory listing, no other
//! file, no path outside the list. Only plain `ws://` hubs look at requests
//! this way (the request is peeked, not read, so a WebSocket handshake
//! still finds it whole); a `wss://` hub answers WebSockets only.

use std::io::{self, Write};

use crate::stream::Stream;

/// The largest request head read; a longer one is refused (431).
const MAX_HEAD: usize = 8 * 1024;

/// One embedded file: its path at the hub, content type, and bytes.
struct Asset {
    path: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

macro_rules! asset {
    ($path:literal, $file:literal, $type:expr) => {
        Asset {
            path: $path,
            content_type: $type,
            body: include_bytes!(concat!("../../clients/js/", $file)),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";

/// Every file the hub serves, and nothing more.
const ASSETS: &[Asset] = &[
    asset!("/", "app/index.html", "text/html; charset=utf-8"),
    asset!("/index.html", "app/index.html", "text/html; charset=utf-8"),
    asset!("/app.css", "app/app.css", "text/css; charset=utf-8"),
    asset!("/app.mjs", "app/app.mjs", JS),
    asset!("/brume.mjs", "brume.mjs", JS),
    asset!(
        "/brume.d.ts",
        "brume.d.ts",
        "application/typescript; charset=utf-8"
    ),
    asset!("/blocks.mjs", "blocks.mjs", JS),
    asset!("/channel.mjs", "channel.mjs", JS),
    asset!("/emitter.mjs", "emitter.mjs", JS),
    asset!("/errors.mjs", "errors.mjs", JS),
    asset!("/framing.mjs", "framing.mjs", JS),
    asset!("/hub.mjs", "hub.mjs", JS),
    asset!("/identity.mjs", "identity.mjs", JS),
    asset!("/names.mjs", "names.mjs", JS),
    asset!("/peer.mjs", "peer.mjs", JS),
    asset!("/rpc.mjs", "rpc.mjs", JS),
    asset!("/storage-web.mjs", "storage-web.mjs", JS),
    asset!("/transfer.mjs", "transfer.mjs", JS),
    asset!(
        "/vendor/hash-wasm-blake3.umd.min.js",
        "vendor/hash-wasm-blake3.umd.min.js",
        JS
    ),
];

/// What a connection's first bytes are.
pub enum Sniffed {
    /// A WebSocket handshake (or anything not plain HTTP): tungstenite's.
    WebSocket,
    /// Not all of the request head has come yet.
    Incomplete,
    /// A plain HTTP request, read off the socket; this is its answer.
    Http(Reply),
}

/// An HTTP answer being written.
pub struct Reply {
    bytes: Vec<u8>,
    sent: usize,
}

impl Reply {
    /// Writes what the socket takes; true once all of it is written.
    pub fn write(&mut self, stream: &mut Stream) -> io::Result<bool> {
        while self.sent < self.bytes.len() {
            match stream.write(&self.bytes[self.sent..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) => return Err(e),
            }
        }
        stream.flush()?;
        Ok(true)
    }
}

/// Looks at a new connection's request without consuming a WebSocket one.
pub fn sniff(stream: &mut Stream) -> Sniffed {
    let Stream::Plain(sock) = stream else {
        return Sniffed::WebSocket;
    };
    let mut buf = vec![0; MAX_HEAD];
    let n = match sock.peek(&mut buf) {
        // Nothing sent yet (browsers open sockets ahead of their requests).
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Sniffed::Incomplete,
        // Closed or broken: tungstenite's to report.
        Ok(0) | Err(_) => return Sniffed::WebSocket,
        Ok(n) => n,
    };
    let head = &buf[..n];
    let Some(end) = find(head, b"\r\n\r\n") else {
        if n == MAX_HEAD {
            return consume(stream, n, status(431, "Request Header Fields Too Large"));
        }
        return Sniffed::Incomplete;
    };
    let text = String::from_utf8_lossy(&head[..end]);
    let mut lines = text.split("\r\n");
    let request = lines.next().unwrap_or_default();
    let upgrade = lines.any(|l| {
        let mut kv = l.splitn(2, ':');
        let key = kv.next().unwrap_or_default().trim();
        let value = kv.next().unwrap_or_default();
        key.eq_ignore_ascii_case("upgrade") && value.to_ascii_lowercase().contains("websocket")
    });
    if upgrade {
        return Sniffed::WebSocket;
    }
    consume(stream, end + 4, answer(request))
}

/// Reads the request head off the socket (it was only peeked) and answers.
fn consume(stream: &mut Stream, len: usize, reply: Vec<u8>) -> Sniffed {
    let mut head = vec![0; len];
    if io::Read::read_exact(stream, &mut head).is_err() {
        return Sniffed::WebSocket;
    }
    Sniffed::Http(Reply {
        bytes: reply,
        sent: 0,
    })
}

/// The answer to a request line such as `GET /app.mjs?v=1 HTTP/1.1`.
fn answer(request: &str) -> Vec<u8> {
    let mut parts = request.split(' ');
    let method = parts.next().unwrap_or_default();
    let target = parts.next().unwrap_or_default();
    let path = target.split(['?', '#']).next().unwrap_or_default();
    if method != "GET" && method != "HEAD" {
        return status(405, "Method Not Allowed");
    }
    let Some(asset) = ASSETS.iter().find(|a| a.path == path) else {
        return status(404, "Not Found");
    };
    let mut out = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: {}\r\nContent-Length: {}\r\n{}\r\n",
        asset.content_type,
        asset.body.len(),
        COMMON_HEADERS
    )
    .into_bytes();
    if method == "GET" {
        out.extend_from_slice(asset.body);
    }
    out
}

/// Headers on every answer: no caching across hub upgrades, no sniffing
/// of content types, the page's own origin only.
const COMMON_HEADERS: &str = "Cache-Control: no-cache\r\n\
X-Content-Type-Options: nosniff\r\n\
Content-Security-Policy: default-src 'self'; connect-src 'self' ws: wss:; media-src 'self' blob: mediastream:; img-src 'self' data: blob:; script-src 'self' 'wasm-unsafe-eval'\r\n\
Connection: close\r\n";

fn status(code: u16, text: &str) -> Vec<u8> {
    let body = format!("{code} {text}\n");
    format!(
        "HTTP/1.1 {code} {text}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n{COMMON_HEADERS}\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(reply: &[u8]) -> String {
        let text = String::from_utf8_lossy(reply);
        text.split("\r\n\r\n").next().unwrap().to_owned()
    }

    #[test]
    fn files_are_served_by_exact_path_with_their_types() {
        let index = answer("GET / HTTP/1.1");
        assert!(head(&index).starts_with("HTTP/1.1 200 OK"));
        assert!(head(&index).contains("Content-Type: text/html; charset=utf-8"));
        let lib = answer("GET /brume.mjs?x=1 HTTP/1.1");
        assert!(head(&lib).contains("Content-Type: text/javascript"));
        assert!(String::from_utf8_lossy(&lib).contains("export class Brume"));
        let headonly = answer("HEAD /brume.mjs HTTP/1.1");
        assert!(head(&headonly).contains("Content-Length:"));
        assert!(String::from_utf8_lossy(&headonly).ends_with("\r\n\r\n"));
    }

    #[test]
    fn nothing_else_is_served() {
        for path in [
            "/vendor/",
            "/vendor",
            "/../Cargo.toml",
            "/storage-node.mjs",
            "/identity-node.mjs",
            "/test/helpers.mjs",
            "/package.json",
            "//brume.mjs",
            "/brume.mjs/",
            "/%2e%2e/hub.key",
        ] {
            let reply = answer(&format!("GET {path} HTTP/1.1"));
            assert!(head(&reply).starts_with("HTTP/1.1 404"), "{path}");
        }
        assert!(head(&answer("POST / HTTP/1.1")).starts_with("HTTP/1.1 405"));
    }
}
