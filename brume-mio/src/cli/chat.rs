//! `brume chat NAME`: lines from stdin go to NAME over the data channel
//! (messages of kind `chat`); theirs are printed.
//!
//! Beside a `recv` of the same user on the same device, chat leaves the
//! device's calls to `recv` (the hub gives it an instance name) and calls
//! NAME itself; NAME's chat then moves to this device, the one that called.
//!
//! NAME need not be online yet: chat watches their presence and connects
//! when they come (or accepts them when they call first; glare is settled by
//! the endpoint), unless `--no-wait`. Lines typed or piped before the
//! connection opens are kept and sent once it does; at the end of input,
//! chat waits until the peer has acknowledged everything before it leaves.

use std::collections::{BTreeSet, VecDeque};
use std::io::BufRead;

use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use brume_mio::client::ClientEvent;
use brume_proto::ErrorCode;
use brume_proto::endpoint::{EndpointEvent, PeerCloseReason};
use brume_proto::framing::Data;
use brume_proto::signal::Address;
use clap::Args;

use super::ConfigArg;
use super::session::{Calls, Session, peer_address, peer_failure, reaches};
use super::terminal::peer_text;

#[derive(Debug, Args)]
pub struct ChatArgs {
    /// Who to chat with: a user, or one device of theirs (`user/device`).
    name: String,
    /// Fail at once if NAME is not online, instead of waiting for them.
    #[arg(long)]
    no_wait: bool,
    #[command(flatten)]
    conf: ConfigArg,
}

/// How long the last lines may take to be acknowledged at the end of input.
const DRAIN_LIMIT: Duration = Duration::from_secs(10);
/// Lines wait in the outbox while this much is queued on the main channel
/// (str0m refuses writes once its 1 MiB send buffer is full).
const QUEUED_MAX: usize = 512 * 1024;
/// How often to look again while lines wait for room or an acknowledgement.
const RECHECK: Duration = Duration::from_millis(10);

#[derive(Debug, PartialEq, Eq)]
enum Link {
    /// Not connected; waiting for NAME to come online (or to call us).
    Waiting,
    /// An attempt is under way.
    Connecting,
    Open,
}

pub fn run(a: ChatArgs) -> Result<()> {
    let peer = peer_address(&a.name)?;
    let mut s = Session::open(&a.conf.path(), Calls::TakeUnlessHeld)?;
    s.refuse_self(&peer, "chat with")?;
    s.wait_ready(Duration::from_secs(10))?;
    let lines = stdin_lines(&s);
    let mut chat = Chat {
        peer,
        open: None,
        callers: BTreeSet::new(),
        no_wait: a.no_wait,
        link: Link::Waiting,
        outbox: VecDeque::new(),
        input_ended: false,
        drain_until: None,
        said_waiting: false,
        left: false,
    };
    if chat.no_wait {
        chat.connect(&mut s)?;
    } else {
        // The hub answers with the current presence, then every change.
        let watch = vec![chat.peer.user().clone()];
        s.client.with(|node, now| node.subscribe(now, watch))?;
    }
    let result = chat.run(&mut s, &lines);
    s.close();
    result
}

/// Reads stdin on a thread (it blocks); `None` marks the end of input.
fn stdin_lines(s: &Session) -> mpsc::Receiver<Option<String>> {
    let (tx, rx) = mpsc::channel();
    let waker = s.client.waker();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if tx.send(Some(line)).is_err() {
                return;
            }
            let _ = waker.wake();
        }
        let _ = tx.send(None);
        let _ = waker.wake();
    });
    rx
}

struct Chat {
    /// Whom the user asked for: a user, or one device.
    peer: Address,
    /// The device the chat is open with.
    open: Option<Address>,
    /// Devices of the peer that called us, rather than we them.
    callers: BTreeSet<Address>,
    no_wait: bool,
    link: Link,
    /// Lines read and not yet handed to the channel, in order.
    outbox: VecDeque<String>,
    input_ended: bool,
    /// Set once input ended and every line is on the channel.
    drain_until: Option<Instant>,
    said_waiting: bool,
    /// The peer closed the connection.
    left: bool,
}

impl Chat {
    fn run(&mut self, s: &mut Session, lines: &mpsc::Receiver<Option<String>>) -> Result<()> {
        loop {
            // Look again soon while something waits on the channel.
            let busy = self.link == Link::Open && (!self.outbox.is_empty() || self.input_ended);
            let event = s.next(busy.then(|| Instant::now() + RECHECK))?;
            while let Ok(line) = lines.try_recv() {
                match line {
                    Some(l) => self.outbox.push_back(l),
                    None => self.input_ended = true,
                }
            }
            if s.stopping() {
                if !self.outbox.is_empty() {
                    bail!(
                        "interrupted; {} line(s) not sent to {}",
                        self.outbox.len(),
                        self.peer
                    );
                }
                return Ok(());
            }
            if let Some(event) = event {
                self.on_event(s, event)?;
                if self.left {
                    return Ok(());
                }
            }
            if self.link == Link::Open {
                self.flush(s)?;
                if self.delivered(s)? {
                    return Ok(());
                }
            }
        }
    }

    fn on_event(&mut self, s: &mut Session, event: ClientEvent) -> Result<()> {
        let ClientEvent::Endpoint(event) = event else {
            return Ok(());
        };
        match event {
            EndpointEvent::Presence {
                user,
                online,
                devices,
            } if user == *self.peer.user() => {
                // A device named must be among those online.
                let online = online && self.peer.device().is_none_or(|d| devices.contains(d));
                if online && self.link == Link::Waiting {
                    self.connect(s)?;
                } else if !online && self.link == Link::Waiting {
                    self.wait_for_peer()?;
                }
            }
            EndpointEvent::HubError {
                code: ErrorCode::BadDest,
                message,
            } => {
                bail!(
                    "no user {} on this hub ({})",
                    self.peer,
                    peer_text(&message)
                );
            }
            EndpointEvent::Incoming { peer, .. } if reaches(&self.peer, &peer) => {
                // Our own connect may have accepted it already (its presence
                // came first): the attempt is under way either way.
                if let Err(e) = s.client.accept(&peer) {
                    tracing::debug!("accepting {peer}: {e:#}");
                }
                self.callers.insert(peer);
                if self.link != Link::Open {
                    self.link = Link::Connecting;
                }
            }
            EndpointEvent::PeerOpen { peer } if reaches(&self.peer, &peer) => {
                // A device of theirs that called us is the one they type at
                // (a `chat` beside their `recv`): it wins over the device our
                // own call to the bare user reached.
                let keep = self
                    .open
                    .as_ref()
                    .is_some_and(|o| self.callers.contains(o) && !self.callers.contains(&peer));
                self.link = Link::Open;
                if keep || self.open.as_ref() == Some(&peer) {
                    return Ok(());
                }
                if self.open.is_some() {
                    eprintln!("now chatting with {peer}");
                } else {
                    eprintln!("connected to {peer}; type lines, end with Ctrl-D");
                }
                self.open = Some(peer);
            }
            EndpointEvent::PeerFailed { peer, code, reason } if reaches(&self.peer, &peer) => {
                // Gone again between its presence and our offer: wait on.
                if code == ErrorCode::NoDest && !self.no_wait {
                    self.link = Link::Waiting;
                    self.said_waiting = false;
                    return self.wait_for_peer();
                }
                return Err(peer_failure(&peer, code, &reason));
            }
            EndpointEvent::PeerClosed { peer, reason } if self.open.as_ref() == Some(&peer) => {
                // The other side ended the chat: a normal end, unless lines
                // of ours were still waiting for the channel.
                if !self.outbox.is_empty() {
                    bail!(
                        "{} left ({}); {} line(s) not sent",
                        peer.user(),
                        peer_text(&reason.to_string()),
                        self.outbox.len()
                    );
                }
                // A peer that vanished is a failure; one that said goodbye is not.
                if reason == PeerCloseReason::ConnectionLost {
                    bail!("{} left: connection lost", peer.user());
                }
                eprintln!("{} left", peer.user());
                self.left = true;
            }
            EndpointEvent::Message { peer, kind, data } if kind == "chat" => match data {
                Data::Text(t) => println!("{}: {}", peer.user(), peer_text(&t)),
                Data::Bytes(b) => println!("{}: ({} bytes)", peer.user(), b.len()),
            },
            _ => {}
        }
        Ok(())
    }

    fn connect(&mut self, s: &mut Session) -> Result<()> {
        eprintln!("connecting to {}…", self.peer);
        s.client.connect_peer(&self.peer)?;
        self.link = Link::Connecting;
        Ok(())
    }

    fn wait_for_peer(&mut self) -> Result<()> {
        if self.no_wait {
            bail!("{} is not online", self.peer);
        }
        if !self.said_waiting {
            eprintln!(
                "{} is not online; waiting for them (Ctrl-C to give up)…",
                self.peer
            );
            self.said_waiting = true;
        }
        Ok(())
    }

    /// Hands waiting lines to the channel while it has room.
    fn flush(&mut self, s: &mut Session) -> Result<()> {
        while let Some(line) = self.outbox.front() {
            let Some(peer) = self.open.clone() else {
                return Ok(());
            };
            if queued(s, &peer) > QUEUED_MAX {
                return Ok(());
            }
            s.client
                .send_message(&peer, "chat", Data::Text(line.clone()))?;
            self.outbox.pop_front();
        }
        Ok(())
    }

    /// True once input ended and the peer acknowledged every line.
    fn delivered(&mut self, s: &mut Session) -> Result<bool> {
        if !self.input_ended || !self.outbox.is_empty() {
            return Ok(false);
        }
        let until = *self
            .drain_until
            .get_or_insert_with(|| Instant::now() + DRAIN_LIMIT);
        if self.open.as_ref().is_none_or(|peer| queued(s, peer) == 0) {
            return Ok(true);
        }
        if Instant::now() >= until {
            bail!(
                "{} did not acknowledge the last lines within {} s",
                self.peer,
                DRAIN_LIMIT.as_secs()
            );
        }
        Ok(false)
    }
}

/// Bytes on the main channel to `peer` that it has not acknowledged yet.
fn queued(s: &mut Session, peer: &Address) -> usize {
    s.client
        .with(|node, _| node.endpoint().main_buffered_amount(peer))
        .unwrap_or(0)
}
