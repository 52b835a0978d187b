//! `brume send NAME FILE…`: connect by name and send each file or folder as a
//! verified transfer.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use brume_mio::client::ClientEvent;
use brume_proto::endpoint::EndpointEvent;
use brume_proto::transfer::{TransferEvent, TransferState};
use clap::Args;

use super::ConfigArg;
use super::progress::{Bars, ProgressArg, size};
use super::session::{Calls, Session, peer_address};
use super::terminal::peer_text;

#[derive(Debug, Args)]
pub struct SendArgs {
    /// Who to send to: a user, or one device of theirs (`user/device`;
    /// your own other devices too, as `you/device`).
    name: String,
    /// Files or folders.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    #[command(flatten)]
    progress: ProgressArg,
    #[command(flatten)]
    conf: ConfigArg,
    /// Follow symbolic links inside folders (by default each is skipped,
    /// with a warning); a link back to a folder it is in is still skipped.
    #[arg(long)]
    follow_links: bool,
}

pub fn run(a: SendArgs) -> Result<()> {
    let asked = peer_address(&a.name)?;
    for f in &a.files {
        if !f.exists() {
            bail!("no such file: {}", f.display());
        }
    }
    let mut s = Session::open(&a.conf.path(), Calls::Refuse)?;
    s.refuse_self(&asked, "send to")?;
    s.wait_ready(Duration::from_secs(10))?;
    let (took, peer) = s.connect(&asked, Duration::from_secs(20))?;
    eprintln!(
        "connected to {} ({peer}) in {:.1} ms",
        peer.user(),
        took.as_secs_f64() * 1e3
    );
    let mut bars = Bars::new(a.progress.progress);
    s.notices_above(&bars);
    let mut pending = BTreeMap::new();
    let mut failed = Vec::new();
    for f in &a.files {
        let offer = s.client.send_path_with(&peer, f, a.follow_links)?;
        for warning in &offer.skipped {
            eprintln!("warning: {warning}");
        }
        let name = f.file_name().map_or_else(
            || f.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        bars.start(&offer.key, &name);
        // A folder's files are listed once it is done; a file's line is its own.
        let files = match f.is_dir() {
            true => offer.files,
            false => Vec::new(),
        };
        pending.insert(offer.key, (name, Instant::now(), 0u64, files));
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
            ClientEvent::Transfer(TransferEvent::Hashing { key, done, total }) => {
                bars.hashing(&key, done, total);
            }
            ClientEvent::Transfer(TransferEvent::Progress {
                key,
                done,
                total,
                resumed,
                rate,
            }) => {
                bars.progress(&key, done, total, resumed, rate);
                if let Some(p) = pending.get_mut(&key) {
                    p.2 = total;
                }
            }
            ClientEvent::Transfer(TransferEvent::State {
                key,
                state: TransferState::Done,
            }) => {
                let (resumed_bytes, rate) = bars.finish(&key);
                if let Some((name, start, total, files)) = pending.remove(&key) {
                    let secs = start.elapsed().as_secs_f64();
                    // The rate is over the bytes that moved, not those resumed.
                    let resumed = match resumed_bytes {
                        0 => String::new(),
                        r => format!(", resumed at {}", size(r)),
                    };
                    // Too few bytes moved for a rate to mean anything.
                    let rate = match total > (64 << 10) + resumed_bytes {
                        true => format!(", {}/s", size(rate)),
                        false => String::new(),
                    };
                    for (path, bytes) in &files {
                        bars.println(&format!("sent {} ({})", peer_text(path), size(*bytes)));
                    }
                    let count = match files.len() {
                        0 => String::new(),
                        1 => "1 file, ".into(),
                        n => format!("{n} files, "),
                    };
                    bars.println(&format!(
                        "sent {name} ({count}{}{resumed}) in {secs:.2} s{rate}",
                        size(total)
                    ));
                }
            }
            ClientEvent::Transfer(TransferEvent::Cancelled {
                key,
                reason,
                by_peer,
            }) => {
                // One declined or failed transfer leaves the others running.
                bars.finish(&key);
                let who = if by_peer {
                    peer.to_string()
                } else {
                    "we".into()
                };
                let name = pending.remove(&key).map(|p| p.0).unwrap_or_default();
                let line = format!(
                    "sending {name} was cancelled ({who}): {}",
                    peer_text(&reason)
                );
                if a.files.len() > 1 {
                    bars.suspend(|| eprintln!("{line}"));
                }
                failed.push(line);
            }
            ClientEvent::Endpoint(EndpointEvent::PeerClosed { peer: p, reason }) if p == peer => {
                bail!(
                    "{peer} went away: {}; run the same command again to resume",
                    peer_text(&reason.to_string())
                );
            }
            _ => {}
        }
    }
    s.close();
    // With several transfers each failure was said as it came.
    match (failed.as_slice(), a.files.len()) {
        ([], _) => Ok(()),
        ([one], 1) => bail!("{one}"),
        (some, all) => bail!("{} of {all} transfers did not complete", some.len()),
    }
}
