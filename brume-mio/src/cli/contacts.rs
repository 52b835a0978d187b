//! `brume invite ALIAS`, `brume claim TOKEN ALIAS` and `brume contacts`:
//! contacts by invitation token, kept by the hub. On a hub run with
//! `--policy contacts`, only contacts (and group mates) may call each other.

use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, bail};
use brume_mio::client::ClientEvent;
use brume_proto::ErrorCode;
use brume_proto::endpoint::{ContactsRequest, EndpointEvent};
use clap::Args;

use super::ConfigArg;
use super::session::{Calls, Session};
use super::terminal::peer_text;

/// How long the hub may take to answer.
const ANSWER_LIMIT: Duration = Duration::from_secs(10);

#[derive(Debug, Args)]
pub struct InviteArgs {
    /// Your name for the person the invitation is for ("Bob from work").
    alias: String,
    #[command(flatten)]
    conf: ConfigArg,
}

#[derive(Debug, Args)]
pub struct ClaimArgs {
    /// The invitation token you were given.
    token: String,
    /// Your name for the person who invited you.
    alias: String,
    #[command(flatten)]
    conf: ConfigArg,
}

#[derive(Debug, Args)]
pub struct ContactsArgs {
    #[command(flatten)]
    conf: ConfigArg,
}

pub fn invite(a: InviteArgs) -> Result<()> {
    let answer = ask(&a.conf, ContactsRequest::Invite { alias: a.alias })?;
    let EndpointEvent::Invitation {
        token,
        alias,
        expires_at,
    } = answer
    else {
        bail!("the hub answered something else: {answer:?}");
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let hours = expires_at.saturating_sub(now) / 3600;
    let left = if hours >= 48 {
        format!("{} days", hours / 24)
    } else {
        format!("{hours} hours")
    };
    eprintln!(
        "an invitation for {}, good once, for {left}; give them this token, \
         and they run `brume claim TOKEN ALIAS`:",
        peer_text(&alias),
    );
    println!("{token}");
    Ok(())
}

pub fn claim(a: ClaimArgs) -> Result<()> {
    let request = ContactsRequest::Claim {
        token: a.token.trim().to_owned(),
        alias: a.alias,
    };
    match ask(&a.conf, request)? {
        EndpointEvent::Contact { user, alias } => {
            println!("{user} is now a contact, as {}", peer_text(&alias));
            Ok(())
        }
        other => bail!("the hub answered something else: {other:?}"),
    }
}

pub fn contacts(a: ContactsArgs) -> Result<()> {
    let EndpointEvent::Contacts { contacts } = ask(&a.conf, ContactsRequest::List)? else {
        bail!("the hub answered something else");
    };
    if contacts.is_empty() {
        eprintln!("no contacts yet: `brume invite ALIAS` makes an invitation");
    }
    for c in contacts {
        println!("{}\t{}", c.user, peer_text(&c.alias));
    }
    Ok(())
}

/// Sends one contacts request and waits for its answer, or the hub's error.
fn ask(conf: &ConfigArg, request: ContactsRequest) -> Result<EndpointEvent> {
    let mut s = Session::open(&conf.path(), Calls::Refuse)?;
    s.wait_ready(ANSWER_LIMIT)?;
    s.client
        .with(|node, now| node.contacts_request(now, request))?;
    let end = Instant::now() + ANSWER_LIMIT;
    let answer = loop {
        match s.next(Some(end))? {
            Some(ClientEvent::Endpoint(
                e @ (EndpointEvent::Invitation { .. }
                | EndpointEvent::Contact { .. }
                | EndpointEvent::Contacts { .. }),
            )) => break Ok(e),
            Some(ClientEvent::Endpoint(EndpointEvent::HubError { code, message })) => {
                break Err(refusal(code, &message));
            }
            Some(_) => {}
            None if s.stopping() => break Err(anyhow!("interrupted")),
            None if Instant::now() >= end => {
                break Err(anyhow!(
                    "the hub did not answer within {} s",
                    ANSWER_LIMIT.as_secs()
                ));
            }
            None => {}
        }
    };
    s.close();
    answer
}

fn refusal(code: ErrorCode, message: &str) -> anyhow::Error {
    let why = peer_text(message);
    match code {
        ErrorCode::InviteUsed => anyhow!("{why} (EINVITEUSED)"),
        ErrorCode::TokenExpired => anyhow!("{why} (ETOKENEXPIRED)"),
        ErrorCode::TokenInvalid => anyhow!("not a valid invitation from this hub: {why}"),
        _ => anyhow!("the hub refused: {why} ({})", code.as_str()),
    }
}
