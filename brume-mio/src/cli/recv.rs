//! `brume recv`: accept connections and files into a folder.
//!
//! Whom it accepts from is [`Policy`]'s call. `--once` ends after one
//! sender's whole offer: every transfer of one `brume send` is over and that
//! sender's connection has closed (a `send` closes it once its last transfer
//! ends, which is the only mark of "everything I meant to send").

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use brume_mio::client::ClientEvent;
use brume_proto::endpoint::EndpointEvent;
use brume_proto::framing::Data;
use brume_proto::signal::{Address, UserName};
use brume_proto::transfer::{TransferEvent, TransferKey, TransferState};
use clap::Args;

use super::ConfigArg;
use super::accept::{Policy, describe};
use super::progress::{Bars, ProgressArg};
use super::session::{Calls, Session, peer_address};
use super::terminal::peer_text;

#[derive(Debug, Args)]
pub struct RecvArgs {
    /// Where to put received files.
    #[arg(long, default_value = ".")]
    dir: PathBuf,
    /// Exit after one sender's whole offer (every file of one `brume send`).
    #[arg(long)]
    once: bool,
    /// Accept every offer without asking.
    #[arg(short, long, conflicts_with = "from")]
    yes: bool,
    /// Accept connections and offers only from these users (or `user/device`),
    /// without asking; refuse everyone else.
    #[arg(long, num_args = 1.., value_name = "NAME")]
    from: Vec<String>,
    #[command(flatten)]
    progress: ProgressArg,
    #[command(flatten)]
    conf: ConfigArg,
}

/// What `--once` needs to know: transfers under way, and the senders one of
/// whose accepted transfers has ended (with whether all of theirs succeeded).
#[derive(Default)]
struct Offers {
    active: BTreeSet<TransferKey>,
    ended: BTreeMap<Address, bool>,
}

impl Offers {
    fn busy_with(&self, peer: &Address) -> bool {
        self.active.iter().any(|k| k.peer == *peer)
    }
}

/// Accepts or declines the offers answered at the terminal.
fn answer(
    s: &mut Session,
    policy: &mut Policy,
    bars: &Bars,
    offers: &mut Offers,
    dir: &Path,
    me: &UserName,
) -> Result<()> {
    let Policy::Ask(prompts) = policy else {
        return Ok(());
    };
    for (key, yes) in bars.suspend(|| prompts.answered()) {
        // A transfer that went wrong meanwhile is its own business, not recv's.
        let result = if yes {
            offers.active.insert(key.clone());
            s.client.accept_transfer(&key, dir)
        } else {
            s.client.reject_transfer(&key, &format!("declined by {me}"))
        };
        if let Err(e) = result {
            bars.println(&format!(
                "cannot answer the offer from {}: {e}",
                key.peer.user()
            ));
        }
    }
    Ok(())
}

pub fn run(a: RecvArgs) -> Result<()> {
    let from = a
        .from
        .iter()
        .map(|n| peer_address(n))
        .collect::<Result<Vec<_>>>()?;
    std::fs::create_dir_all(&a.dir)
        .with_context(|| format!("cannot create {}", a.dir.display()))?;
    let dir = a.dir.canonicalize()?;
    let mut s = Session::open(&a.conf.path(), Calls::Take)?;
    let mut policy = Policy::new(a.yes, from, &s.client)?;
    let me = s.wait_ready(Duration::from_secs(10))?;
    let me_id = s.client.endpoint().me().cloned();
    s.client.with(|node, _| {
        for module in super::rpc::RECV_MODULES {
            node.register_module(module);
        }
    });
    println!("ready as {me}, receiving into {}", dir.display());
    let mut bars = Bars::new(a.progress.progress);
    s.notices_above(&bars);
    let mut offers = Offers::default();
    let result = loop {
        let event = s.next(None)?;
        answer(&mut s, &mut policy, &bars, &mut offers, &dir, &me)?;
        let Some(event) = event else {
            if s.stopping() {
                break Ok(());
            }
            continue;
        };
        match event {
            ClientEvent::Endpoint(EndpointEvent::Incoming { peer, .. }) => {
                if policy.admits(&peer) {
                    let _ = s.client.accept(&peer);
                } else {
                    bars.println(&format!(
                        "refused a connection from {peer} (not one of --from)"
                    ));
                    let reason = format!("{me} accepts only other users");
                    let _ = s.client.with(|node, now| node.reject(now, &peer, &reason));
                }
            }
            ClientEvent::Endpoint(EndpointEvent::PeerOpen { peer }) => {
                bars.println(&format!("connected: {peer}"));
            }
            ClientEvent::Endpoint(EndpointEvent::RpcRequest {
                peer,
                id,
                module,
                payload,
            }) => {
                // Who we were at the first login: answers go on during a hub outage.
                let answer = match &me_id {
                    Some(id) => super::rpc::recv_answer(id, &module, payload),
                    None => Err("this program has no device name yet".into()),
                };
                let _ = s
                    .client
                    .with(|node, now| node.respond(now, &peer, id, answer));
            }
            ClientEvent::Endpoint(EndpointEvent::PeerClosed { peer, .. }) => {
                bars.println(&format!("disconnected: {peer}"));
                if a.once
                    && !offers.busy_with(&peer)
                    && let Some(all_ok) = offers.ended.get(&peer)
                {
                    break if *all_ok {
                        Ok(())
                    } else {
                        Err(anyhow::anyhow!("not everything {peer} offered arrived"))
                    };
                }
            }
            ClientEvent::Endpoint(EndpointEvent::Message {
                peer,
                kind,
                data: Data::Text(t),
            }) if kind == "chat" => {
                bars.println(&format!("{}: {}", peer.user(), peer_text(&t)));
            }
            ClientEvent::Transfer(TransferEvent::Offered {
                key,
                name,
                total,
                entries,
            }) => {
                let what = describe(&key, &name, total, &entries);
                bars.start(&key, &peer_text(&name));
                if let Policy::Ask(prompts) = &mut policy {
                    bars.suspend(|| prompts.offer(key, what));
                    // Answered at once if nobody can answer any more.
                    answer(&mut s, &mut policy, &bars, &mut offers, &dir, &me)?;
                } else if policy.admits(&key.peer) {
                    bars.println(&format!("{what}: accepted"));
                    offers.active.insert(key.clone());
                    // Whatever this transfer's fate, recv goes on for the others.
                    if let Err(e) = s.client.accept_transfer(&key, &dir) {
                        bars.println(&format!("cannot accept {}: {e}", peer_text(&name)));
                    }
                } else {
                    if let Err(e) = s.client.reject_transfer(&key, &format!("declined by {me}")) {
                        bars.println(&format!("cannot decline {}: {e}", peer_text(&name)));
                    }
                }
            }
            ClientEvent::Transfer(TransferEvent::Progress {
                key,
                done,
                total,
                resumed,
                rate,
            }) => {
                bars.progress(&key, done, total, resumed, rate);
            }
            ClientEvent::Transfer(TransferEvent::Saved { path, .. }) => {
                let placed = dir.join(path.join("/"));
                bars.println(&format!("saved {}", peer_text(&placed.to_string_lossy())));
            }
            ClientEvent::Transfer(TransferEvent::State {
                key,
                state: TransferState::Done,
            }) => {
                bars.finish(&key);
                bars.println(&format!("done: transfer from {} verified", key.peer.user()));
                if offers.active.remove(&key) {
                    offers.ended.entry(key.peer).or_insert(true);
                }
            }
            ClientEvent::Transfer(TransferEvent::Cancelled { key, reason, .. }) => {
                bars.finish(&key);
                bars.println(&format!("cancelled: {}", peer_text(&reason)));
                if let Policy::Ask(prompts) = &mut policy {
                    bars.suspend(|| prompts.withdrawn(&key));
                }
                if offers.active.remove(&key) {
                    offers.ended.insert(key.peer, false);
                }
            }
            _ => {}
        }
    };
    s.close();
    if result.is_ok() && !offers.active.is_empty() {
        bail!("interrupted during a transfer; the partial file is kept, to resume");
    }
    result
}
