//! Whom `brume recv` takes offers from: everyone (`--yes`), listed users
//! only (`--from`), or, at a terminal, whoever the person at it says yes to,
//! one offer at a time (as croc asks). With neither flag and no terminal on
//! stdin nobody could answer, so recv refuses to start.

use std::collections::VecDeque;
use std::io::{BufRead, IsTerminal};
use std::sync::mpsc;

use anyhow::{Result, bail};
use brume_mio::client::Client;
use brume_proto::signal::Address;
use brume_proto::transfer::{Entry, EntryKind, TransferKey};

use super::progress::size;
use super::terminal::peer_text;

/// What recv does with a connection or an offer.
pub enum Policy {
    /// `--yes`.
    All,
    /// `--from NAME…`: only these; everyone else is refused.
    Only(Vec<Address>),
    /// Ask at the terminal.
    Ask(Prompts),
}

impl Policy {
    /// From the flags; `Ask` needs stdin to be a terminal.
    pub fn new(yes: bool, from: Vec<Address>, client: &Client) -> Result<Self> {
        if yes {
            return Ok(Self::All);
        }
        if !from.is_empty() {
            return Ok(Self::Only(from));
        }
        if !std::io::stdin().is_terminal() {
            bail!(
                "stdin is not a terminal, so nobody can answer whether to accept an offer: \
                 pass --yes to accept every offer, or --from NAME… to accept those users'"
            );
        }
        Ok(Self::Ask(Prompts::new(client)))
    }

    /// Whether a connection from `peer` may open at all.
    pub fn admits(&self, peer: &Address) -> bool {
        match self {
            Self::Only(names) => names.iter().any(|n| super::session::reaches(n, peer)),
            Self::All | Self::Ask(_) => true,
        }
    }
}

/// An offer as people see it: who, what and how big.
pub fn describe(key: &TransferKey, name: &str, total: u64, entries: &[Entry]) -> String {
    let files = entries.iter().filter(|e| e.kind == EntryKind::File).count();
    let what = if entries.len() == 1 && files == 1 {
        size(total)
    } else {
        format!("{files} file(s), {}", size(total))
    };
    format!("{} offers {} ({what})", key.peer.user(), peer_text(name))
}

/// Offers waiting for an answer at the terminal; the first one is asked.
pub struct Prompts {
    queue: VecDeque<(TransferKey, String)>,
    answers: mpsc::Receiver<String>,
    asking: bool,
}

/// The answer to one prompt: only an explicit yes accepts.
pub fn is_yes(answer: &str) -> bool {
    matches!(answer.trim().to_lowercase().as_str(), "y" | "yes")
}

impl Prompts {
    fn new(client: &Client) -> Self {
        let (tx, answers) = mpsc::channel();
        let waker = client.waker();
        std::thread::spawn(move || {
            for line in std::io::stdin().lock().lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    return;
                }
                let _ = waker.wake();
            }
            // The end of input, seen as a disconnected channel once woken.
            drop(tx);
            let _ = waker.wake();
        });
        Self {
            queue: VecDeque::new(),
            answers,
            asking: false,
        }
    }

    /// Queues an offer; asks about it if nothing else is being asked.
    pub fn offer(&mut self, key: TransferKey, what: String) {
        self.queue.push_back((key, what));
        self.ask();
    }

    /// Forgets an offer its sender withdrew.
    pub fn withdrawn(&mut self, key: &TransferKey) {
        let Some(i) = self.queue.iter().position(|(k, _)| k == key) else {
            return;
        };
        self.queue.remove(i);
        if i == 0 {
            eprintln!("(withdrawn by {})", key.peer.user());
            self.asking = false;
            self.ask();
        }
    }

    /// The offers answered since the last call, with the answer. Once the
    /// terminal's input has ended nobody can answer: every offer is declined.
    pub fn answered(&mut self) -> Vec<(TransferKey, bool)> {
        let mut out = Vec::new();
        loop {
            let line = match self.answers.try_recv() {
                Ok(line) => line,
                Err(mpsc::TryRecvError::Empty) => break,
                Err(mpsc::TryRecvError::Disconnected) => {
                    out.extend(self.queue.drain(..).map(|(key, _)| (key, false)));
                    break;
                }
            };
            let Some((key, _)) = self.queue.pop_front() else {
                continue; // typed with nothing asked
            };
            out.push((key, is_yes(&line)));
            self.asking = false;
            self.ask();
        }
        out
    }

    fn ask(&mut self) {
        if self.asking {
            return;
        }
        if let Some((_, what)) = self.queue.front() {
            // A whole line: bars drawn below it cannot overwrite it.
            eprintln!("{what}. Accept? [y/N]");
            self.asking = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::is_yes;

    #[test]
    fn only_an_explicit_yes_accepts() {
        for yes in ["y", "Y", "yes", " YES \r"] {
            assert!(is_yes(yes), "{yes:?}");
        }
        for no in ["", "n", "no", "yep", "y y", "ja"] {
            assert!(!is_yes(no), "{no:?}");
        }
    }
}
