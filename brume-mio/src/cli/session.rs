//! What every client command shares: load the config, connect, wait for the
//! hub, keep refreshed tokens, turn failures into one-line errors, answer
//! pings, and stop cleanly on Ctrl-C or SIGTERM.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, bail};
use brume_mio::client::{Client, ClientEvent, ClientOptions, hub_close_is_final};
use brume_mio::config::ClientFile;
use brume_proto::ErrorCode;
use brume_proto::endpoint::EndpointEvent;
use brume_proto::signal::{Address, CloseReason, UserName};

/// A connected client with its config.
pub struct Session {
    pub client: Client,
    file: ClientFile,
    path: PathBuf,
    stop: Arc<AtomicBool>,
    /// Why the hub is out of reach, while it is.
    hub_down: Option<String>,
    /// The command's progress bars, which notices are printed above.
    bars: Option<indicatif::MultiProgress>,
    /// Whether this session means to take calls (`recv`, `chat`).
    accepts_calls: bool,
}

/// How a command's session takes calls at the hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Calls {
    /// Takes the device's calls, ending an older session there: `recv`, so
    /// that a restarted one never finds its device held by its stale self.
    Take,
    /// Takes the device's calls unless a live session holds it, and then
    /// none: `chat`, which must not end the `recv` it is typed beside.
    TakeUnlessHeld,
    /// Takes none, on an instance of the device: `send`, `ping`.
    Refuse,
}

/// Whom a command reaches: `alice` (the device of hers that takes calls and
/// was used last) or `alice/laptop` (that device).
pub fn peer_address(name: &str) -> Result<Address> {
    name.parse()
        .map_err(|e| anyhow!("bad name {name:?} (a user, or user/device): {e}"))
}

/// True if `got`, a peer's full address, is what `asked` reaches: the same
/// address, or one device of the user asked for.
pub fn reaches(asked: &Address, got: &Address) -> bool {
    asked == got || matches!(asked, Address::User(u) if got.user() == u)
}

/// Why a connection to `peer` failed, for people.
pub fn peer_failure(peer: &Address, code: ErrorCode, reason: &str) -> anyhow::Error {
    match code {
        ErrorCode::NoDest => anyhow!("{peer} is not online"),
        ErrorCode::BadDest => anyhow!("no user {peer} on this hub"),
        ErrorCode::Rejected if !reason.is_empty() && reason != "rejected" => {
            anyhow!("{peer} declined ({})", super::terminal::peer_text(reason))
        }
        ErrorCode::Rejected => anyhow!("{peer} declined"),
        ErrorCode::OfferTimeout if reason.starts_with("no direct path") => {
            anyhow!("cannot connect to {peer}: {reason}")
        }
        ErrorCode::OfferTimeout => anyhow!("{peer} did not answer in time"),
        ErrorCode::Identity => anyhow!(
            "{peer} is not the device you met before: its identity key changed (a hub in \
             the middle, or a device set up again). Check out of band: `brume verify {}` \
             against their `brume whoami`; then `brume trust {}` accepts the new one",
            peer.user(),
            peer.user()
        ),
        ErrorCode::NotContact => anyhow!(
            "{peer} is not a contact of yours, and this hub lets only contacts call: \
             one of you runs `brume invite ALIAS`, the other `brume claim TOKEN ALIAS`"
        ),
        _ => anyhow!(
            "cannot connect to {peer}: {} ({})",
            super::terminal::peer_text(reason),
            code.as_str()
        ),
    }
}

impl Session {
    /// Refuses `peer` when it is this config's own user: the hub would
    /// answer that there is no such user to reach.
    /// Refuses to call this very session: `alice` run as alice is
    /// ambiguous (name the other device), and `alice/laptop` run on that
    /// device by a command that takes its calls is the command itself.
    /// From a short-lived command, `alice/laptop` reaches the `recv` there.
    pub fn refuse_self(&self, peer: &Address, verb: &str) -> Result<()> {
        if peer.user().as_str() != self.file.user {
            return Ok(());
        }
        let device = self.file.device();
        match peer.device() {
            None => bail!(
                "you are {}: you cannot {verb} yourself; name one of your other devices \
                 ({}/DEVICE) to {verb} it",
                self.file.user,
                self.file.user
            ),
            Some(d) if *d == device && self.accepts_calls => {
                bail!("{peer} is this device: you cannot {verb} yourself")
            }
            Some(_) => Ok(()),
        }
    }

    /// Loads the config (making the device certificate on first use) and
    /// connects, taking calls as `calls` says. A session that takes none
    /// gets an instance of the device from the hub and ends no other session.
    pub fn open(config: &Path, calls: Calls) -> Result<Self> {
        let accepts_calls = calls != Calls::Refuse;
        let mut file = ClientFile::load(config)?;
        if file.identity_key.is_none() || file.dtls_cert.is_none() {
            // Made once: a process racing this one keeps the same.
            file = ClientFile::update(config, |f| f.ensure_cert().map(drop))?;
        }
        let mut opts = ClientOptions::from_file(&file)?;
        opts.accepts_calls = accepts_calls;
        opts.replaces_device = calls == Calls::Take;
        let client = Client::connect(opts)?;
        let stop = Arc::new(AtomicBool::new(false));
        for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            // The flag is set in the handler; the waker is woken from a thread.
            signal_hook::flag::register(sig, stop.clone())?;
        }
        let waker = client.waker();
        let mut signals = signal_hook::iterator::Signals::new([
            signal_hook::consts::SIGINT,
            signal_hook::consts::SIGTERM,
        ])?;
        std::thread::spawn(move || {
            if signals.forever().next().is_some() {
                let _ = waker.wake();
            }
        });
        Ok(Self {
            client,
            file,
            path: config.to_owned(),
            stop,
            hub_down: None,
            bars: None,
            accepts_calls,
        })
    }

    /// Prints this session's notices (the hub lost or back, a peer
    /// unreachable) above the command's progress bars instead of through them.
    pub fn notices_above(&mut self, bars: &super::progress::Bars) {
        self.bars = Some(bars.multi());
    }

    /// A line for people on stderr, above any bars.
    fn notice(&self, line: &str) {
        match &self.bars {
            Some(multi) => multi.suspend(|| eprintln!("{line}")),
            None => eprintln!("{line}"),
        }
    }

    /// True once Ctrl-C or SIGTERM arrived.
    pub fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// The next event, after the shared handling; `None` on timeout, wake-up
    /// or a signal (check [`Session::stopping`]).
    pub fn next(&mut self, deadline: Option<Instant>) -> Result<Option<ClientEvent>> {
        if self.stopping() {
            return Ok(None);
        }
        let Some(event) = self.client.next_event(deadline)? else {
            return Ok(None);
        };
        match &event {
            ClientEvent::HubWaiting {
                code,
                why,
                retry_in,
            } => {
                let why = format!("{why} ({})", code.as_str());
                if self.hub_down.is_none() {
                    self.notice(&format!(
                        "brume: {why}; trying again every few seconds (open connections carry on)"
                    ));
                }
                tracing::info!("{why}; next try in {retry_in:?}");
                self.hub_down = Some(why);
            }
            ClientEvent::Endpoint(EndpointEvent::Ready { .. }) if self.hub_down.is_some() => {
                self.hub_down = None;
                self.notice("brume: the hub is back");
            }
            ClientEvent::Endpoint(EndpointEvent::PeerReconnecting { peer }) => {
                self.notice(&format!(
                    "brume: {} is unreachable ({peer}); trying to recover (giving up after {} s)",
                    peer.user(),
                    self.client.endpoint().config().recovery_limit.as_secs()
                ));
            }
            ClientEvent::Endpoint(EndpointEvent::PeerReconnected { peer }) => {
                self.notice(&format!("brume: {} is reachable again", peer.user()));
            }
            ClientEvent::Endpoint(EndpointEvent::PathChanged { peer, path }) => {
                tracing::info!(%peer, %path, "path changed");
            }
            ClientEvent::Endpoint(EndpointEvent::RelayFailed { error }) => {
                self.notice(&format!("brume: no relay: {error} (direct paths only)"));
            }
            ClientEvent::Endpoint(EndpointEvent::PeerPinned { peer, fingerprint }) => {
                // Trust on first use: kept with the config, written atomically.
                self.file.pins.insert(peer.to_string(), fingerprint.clone());
                let pin = |f: &mut ClientFile| {
                    f.pins.insert(peer.to_string(), fingerprint.clone());
                    Ok(())
                };
                match ClientFile::update(&self.path, pin) {
                    Ok(file) => self.file = file,
                    Err(e) => tracing::warn!("cannot save the pin of {peer}: {e:#}"),
                }
            }
            ClientEvent::Endpoint(EndpointEvent::IdentityChanged { peer, .. }) => {
                self.notice(&format!(
                    "brume: {peer} is not the device met before (its identity key changed): \
                     refused. If they set it up again, compare `brume verify {}` with what \
                     their `brume whoami` says, then run `brume trust {peer}`",
                    peer.user()
                ));
            }
            ClientEvent::Endpoint(EndpointEvent::Reauth { access_token, .. }) => {
                self.file.access_token = access_token.clone();
                let token = |f: &mut ClientFile| {
                    f.access_token = access_token.clone();
                    Ok(())
                };
                match ClientFile::update(&self.path, token) {
                    Ok(file) => self.file = file,
                    Err(e) => tracing::warn!("cannot save the refreshed token: {e:#}"),
                }
            }
            ClientEvent::Endpoint(EndpointEvent::HubClosed { reason, error })
                if hub_close_is_final(*reason, *error) =>
            {
                return Err(hub_closed(&self.file.user, *reason, *error));
            }
            _ => {}
        }
        Ok(Some(event))
    }

    /// Waits until the hub has authenticated us, saying so while it is out
    /// of reach, and fails once `limit` has passed.
    pub fn wait_ready(&mut self, limit: Duration) -> Result<UserName> {
        let end = Instant::now() + limit;
        if let Some(user) = self.client.endpoint().user()
            && self.client.is_hub_ready()
        {
            return Ok(user.clone());
        }
        let mut said = false;
        loop {
            if self.hub_down.is_some() && !said {
                self.notice(&format!(
                    "brume: waiting for the hub (up to {} s)",
                    limit.as_secs()
                ));
                said = true;
            }
            match self.next(Some(end))? {
                Some(ClientEvent::Endpoint(EndpointEvent::Ready { user, .. })) => return Ok(user),
                Some(_) => {}
                None if self.stopping() => bail!("interrupted"),
                None if Instant::now() >= end => match &self.hub_down {
                    Some(why) => bail!("no answer from the hub in {} s: {why}", limit.as_secs()),
                    None => bail!("the hub did not answer in {} s", limit.as_secs()),
                },
                None => {}
            }
        }
    }

    /// Connects to `peer` and waits for the open channel; returns the time it took.
    /// `peer` may name a user: the device that answered is returned.
    pub fn connect(&mut self, peer: &Address, limit: Duration) -> Result<(Duration, Address)> {
        // A new connection needs the hub: wait for it if it is away.
        self.wait_ready(limit)?;
        let start = Instant::now();
        self.client.connect_peer(peer)?;
        let end = start + limit;
        loop {
            match self.next(Some(end))? {
                Some(ClientEvent::Endpoint(EndpointEvent::PeerOpen { peer: p }))
                    if reaches(peer, &p) =>
                {
                    return Ok((start.elapsed(), p));
                }
                Some(ClientEvent::Endpoint(EndpointEvent::PeerFailed {
                    peer: p,
                    code,
                    reason,
                })) if reaches(peer, &p) => {
                    return Err(peer_failure(peer, code, &reason));
                }
                Some(_) => {}
                None if self.stopping() => bail!("interrupted"),
                None if Instant::now() >= end => bail!("{peer} did not answer in time"),
                None => {}
            }
        }
    }

    /// Says goodbye to peers and the hub.
    pub fn close(mut self) {
        self.client.shutdown(Duration::from_secs(1));
        let stats = self.client.stats();
        tracing::info!(
            datagrams_in = stats.datagrams_in,
            datagrams_out = stats.datagrams_out,
            most_queued = stats.max_queued,
            send_errors = self.client.udp_send_errors(),
            kernel_drops = ?self.client.udp_drops(),
            "UDP"
        );
    }
}

fn hub_closed(user: &str, reason: Option<CloseReason>, error: Option<ErrorCode>) -> anyhow::Error {
    match (error, reason) {
        (Some(ErrorCode::TokenExpired), _) => {
            anyhow!("the hub refused the token: it has expired (run `brume login` again)")
        }
        (Some(ErrorCode::TokenInvalid | ErrorCode::TokenMissing), _) => {
            anyhow!("the hub refused the token for {user} (run `brume login` again)")
        }
        (Some(ErrorCode::Limit), _) => anyhow!(
            "{user} is logged in on as many devices as the hub allows: end a `brume recv` \
             or `brume chat` of {user} elsewhere (ELIMIT)"
        ),
        (Some(code), _) => anyhow!(
            "the hub closed the session: {} ({})",
            code.describe(),
            code.as_str()
        ),
        (None, Some(CloseReason::Replaced)) => {
            anyhow!("{user} logged in again on this device; this session was replaced")
        }
        (None, Some(CloseReason::AuthFailed)) => anyhow!(
            "the hub no longer accepts the login of {user} (its tokens were revoked or its \
             password changed): run `brume login` again"
        ),
        (None, Some(CloseReason::UserRemoved)) => {
            anyhow!("the user {user} was removed from the hub")
        }
        (None, Some(reason)) => anyhow!("the hub closed the session ({})", reason.as_str()),
        (None, None) => anyhow!("the hub connection was lost"),
    }
}
