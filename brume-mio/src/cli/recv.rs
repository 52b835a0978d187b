//! `brume recv`: accept connections and files into a folder.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use brume_mio::client::ClientEvent;
use brume_proto::endpoint::EndpointEvent;
use brume_proto::framing::Data;
use brume_proto::transfer::{TransferEvent, TransferState};
use clap::Args;

use super::progress::{Bars, size};
use super::session::Session;

#[derive(Debug, Args)]
pub struct RecvArgs {
    /// Where to put received files.
    #[arg(long, default_value = ".")]
    dir: PathBuf,
    /// Exit after the first complete transfer.
    #[arg(long)]
    once: bool,
}

pub fn run(a: RecvArgs, config: &Path) -> Result<()> {
    std::fs::create_dir_all(&a.dir)
        .with_context(|| format!("cannot create {}", a.dir.display()))?;
    let dir = a.dir.canonicalize()?;
    let mut s = Session::open(config)?;
    let me = s.wait_ready(Duration::from_secs(10))?;
    println!("ready as {me}, receiving into {}", dir.display());
    let mut bars = Bars::default();
    loop {
        let Some(event) = s.next(None)? else {
            if s.stopping() {
                break;
            }
            continue;
        };
        match event {
            ClientEvent::Endpoint(EndpointEvent::Incoming { peer, .. }) => {
                let _ = s.client.accept(&peer);
            }
            ClientEvent::Endpoint(EndpointEvent::PeerOpen { peer }) => {
                println!("connected: {peer}");
            }
            ClientEvent::Endpoint(EndpointEvent::PeerClosed { peer, .. }) => {
                println!("disconnected: {peer}");
            }
            ClientEvent::Endpoint(EndpointEvent::Message {
                peer,
                kind,
                data: Data::Text(t),
            }) if kind == "chat" => {
                println!("{peer}: {t}");
            }
            ClientEvent::Transfer(TransferEvent::Offered {
                key, name, total, ..
            }) => {
                println!("receiving {name} ({}) from {}", size(total), key.peer);
                bars.start(&key, &name, total);
                // Whatever this transfer's fate, recv goes on for the others.
                if let Err(e) = s.client.accept_transfer(&key, &dir) {
                    println!("cannot accept {name} from {}: {e}", key.peer);
                }
            }
            ClientEvent::Transfer(TransferEvent::Progress {
                key, done, total, ..
            }) => {
                bars.set(&key, done, total);
            }
            ClientEvent::Transfer(TransferEvent::Saved { path, .. }) => {
                println!("saved {}", dir.join(path.join("/")).display());
            }
            ClientEvent::Transfer(TransferEvent::State {
                key,
                state: TransferState::Done,
            }) => {
                bars.finish(&key);
                println!("done: transfer from {} verified", key.peer);
                if a.once {
                    break;
                }
            }
            ClientEvent::Transfer(TransferEvent::Cancelled { key, reason, .. }) => {
                bars.finish(&key);
                println!("cancelled: {reason}");
            }
            _ => {}
        }
    }
    s.close();
    Ok(())
}
