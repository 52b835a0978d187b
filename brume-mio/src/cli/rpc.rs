//! `brume rpc NAME MODULE [JSON]`: one RPC request to a module NAME's
//! program serves, the answer printed as JSON. `brume recv` serves two:
//! `echo` (answers with the payload) and `brume.info` (who and what it is).

use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use brume_mio::client::ClientEvent;
use brume_proto::endpoint::{EndpointEvent, RpcError};
use brume_proto::signal::{Address, PeerId};
use clap::Args;
use serde_json::{Value, json};

use super::ConfigArg;
use super::session::{Calls, Session, peer_address};
use super::terminal::peer_text;

#[derive(Debug, Args)]
pub struct RpcArgs {
    /// Whom to ask: a user, or one device of theirs (`user/device`).
    name: String,
    /// The module, such as `echo` or `brume.info` (both served by `brume recv`).
    module: String,
    /// The request's payload, as JSON [default: null].
    json: Option<String>,
    /// How long to wait for the answer, in seconds.
    #[arg(long, default_value_t = 10)]
    timeout: u64,
    #[command(flatten)]
    conf: ConfigArg,
}

/// The modules `brume recv` serves.
pub const RECV_MODULES: [&str; 2] = ["echo", "brume.info"];

/// `brume recv`'s answer to a request for one of [`RECV_MODULES`].
pub fn recv_answer(me: &PeerId, module: &str, payload: Value) -> Result<Value, String> {
    match module {
        "echo" => Ok(payload),
        "brume.info" => Ok(json!({
            "user": me.user.as_str(),
            "device": me.device.as_str(),
            "program": "brume recv",
            "version": env!("CARGO_PKG_VERSION"),
        })),
        other => Err(format!("no module {other}")),
    }
}

pub fn run(a: RpcArgs) -> Result<()> {
    let asked = peer_address(&a.name)?;
    let payload: Value = match &a.json {
        Some(text) => serde_json::from_str(text)
            .with_context(|| format!("the payload is not JSON: {text:?}"))?,
        None => Value::Null,
    };
    let mut s = Session::open(&a.conf.path(), Calls::Refuse)?;
    s.refuse_self(&asked, "ask")?;
    s.wait_ready(Duration::from_secs(10))?;
    let (_, peer): (Duration, Address) = s.connect(&asked, Duration::from_secs(20))?;
    let timeout = Duration::from_secs(a.timeout);
    let id = s
        .client
        .with(|node, now| node.request(now, &peer, &a.module, payload, timeout))?;
    // The core times the request out; this only bounds a stuck loop.
    let end = Instant::now() + timeout + Duration::from_secs(5);
    let result = loop {
        match s.next(Some(end))? {
            Some(ClientEvent::Endpoint(EndpointEvent::RpcResponse {
                peer: p,
                id: i,
                result,
            })) if p == peer && i == id => break result,
            Some(_) => {}
            None if s.stopping() => bail!("interrupted"),
            None if Instant::now() >= end => bail!("no answer from {peer}"),
            None => {}
        }
    };
    s.close();
    match result {
        Ok(v) => {
            println!("{v}");
            Ok(())
        }
        Err(RpcError::HandlerFailed(why)) => {
            Err(anyhow!("{peer}'s {} failed: {}", a.module, peer_text(&why)))
        }
        Err(e) => Err(anyhow!("{}", peer_text(&e.to_string()))),
    }
}
