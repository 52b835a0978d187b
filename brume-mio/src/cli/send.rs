//! `brume send NAME FILE…`: connect by name and send each file or folder as a
//! verified transfer.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use brume_mio::client::ClientEvent;
use brume_proto::endpoint::EndpointEvent;
use brume_proto::transfer::{TransferEvent, TransferState};
use clap::Args;

use super::progress::{Bars, size};
use super::session::{Session, user_name};

#[derive(Debug, Args)]
pub struct SendArgs {
    /// Who to send to.
    name: String,
    /// Files or folders.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Follow symbolic links inside folders (by default each is skipped,
    /// with a warning); a link back to a folder it is in is still skipped.
    #[arg(long)]
    follow_links: bool,
}

pub fn run(a: SendArgs, config: &Path) -> Result<()> {
    let peer = user_name(&a.name)?;
    for f in &a.files {
        if !f.exists() {
            bail!("no such file: {}", f.display());
        }
    }
    let mut s = Session::open(config)?;
    s.wait_ready(Duration::from_secs(10))?;
    let took = s.connect(&peer, Duration::from_secs(20))?;
    eprintln!("connected to {peer} in {:.1} ms", took.as_secs_f64() * 1e3);
    let mut bars = Bars::default();
    let mut pending = BTreeMap::new();
    for f in &a.files {
        let (key, skipped) = s.client.send_path_with(&peer, f, a.follow_links)?;
        for warning in skipped {
            eprintln!("warning: {warning}");
        }
        let name = f.file_name().map_or_else(
            || f.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        bars.start(&key, &name, 0);
        pending.insert(key, (name, Instant::now(), 0u64));
    }
    while !pending.is_empty() {
        let Some(event) = s.next(None)? else {
            if s.stopping() {
                s.close();
                bail!("interrupted; run the same command again to resume");
            }
            continue;
        };
        match event {
            ClientEvent::Transfer(TransferEvent::Progress {
                key, done, total, ..
            }) => {
                bars.set(&key, done, total);
                if let Some(p) = pending.get_mut(&key) {
                    p.2 = total;
                }
            }
            ClientEvent::Transfer(TransferEvent::State {
                key,
                state: TransferState::Done,
            }) => {
                bars.finish(&key);
                if let Some((name, start, total)) = pending.remove(&key) {
                    let secs = start.elapsed().as_secs_f64();
                    println!(
                        "sent {name} ({}) in {secs:.2} s, {}/s",
                        size(total),
                        size((total as f64 / secs.max(1e-9)) as u64)
                    );
                }
            }
            ClientEvent::Transfer(TransferEvent::Cancelled {
                key,
                reason,
                by_peer,
            }) => {
                bars.finish(&key);
                let who = if by_peer { peer.as_str() } else { "we" };
                let name = pending.remove(&key).map(|p| p.0).unwrap_or_default();
                s.close();
                bail!("sending {name} was cancelled ({who}): {reason}");
            }
            ClientEvent::Endpoint(EndpointEvent::PeerClosed { peer: p, reason }) if p == peer => {
                bail!("{peer} went away: {reason}; run the same command again to resume");
            }
            _ => {}
        }
    }
    s.close();
    Ok(())
}
