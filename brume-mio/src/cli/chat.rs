//! `brume chat NAME`: lines from stdin go to NAME over the data channel
//! (messages of kind `chat`); theirs are printed.

use std::io::BufRead;
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Result, bail};
use brume_mio::client::ClientEvent;
use brume_proto::endpoint::EndpointEvent;
use brume_proto::framing::Data;
use clap::Args;

use super::session::{Session, peer_failure, user_name};

#[derive(Debug, Args)]
pub struct ChatArgs {
    /// Who to chat with.
    name: String,
}

pub fn run(a: ChatArgs, config: &Path) -> Result<()> {
    let peer = user_name(&a.name)?;
    let mut s = Session::open(config)?;
    s.wait_ready(Duration::from_secs(10))?;
    s.client.connect_peer(&peer)?;
    eprintln!("connecting to {peer}…");
    let (tx, rx) = mpsc::channel::<Option<String>>();
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
    let mut open = false;
    let mut outbox: Vec<String> = Vec::new();
    loop {
        let event = s.next(None)?;
        while let Ok(line) = rx.try_recv() {
            match line {
                Some(l) if open => s.client.send_message(&peer, "chat", Data::Text(l))?,
                Some(l) => outbox.push(l),
                None => {
                    s.close();
                    return Ok(());
                }
            }
        }
        if s.stopping() {
            s.close();
            return Ok(());
        }
        let Some(event) = event else { continue };
        match event {
            ClientEvent::Endpoint(EndpointEvent::Incoming { peer: p, .. }) if p == peer => {
                let _ = s.client.accept(&p);
            }
            ClientEvent::Endpoint(EndpointEvent::PeerOpen { peer: p }) if p == peer => {
                open = true;
                eprintln!("connected to {peer}; type lines, end with Ctrl-D");
                for l in outbox.drain(..) {
                    s.client.send_message(&peer, "chat", Data::Text(l))?;
                }
            }
            ClientEvent::Endpoint(EndpointEvent::PeerFailed {
                peer: p,
                code,
                reason,
            }) if p == peer => {
                return Err(peer_failure(&peer, code, &reason));
            }
            ClientEvent::Endpoint(EndpointEvent::PeerClosed { peer: p, reason }) if p == peer => {
                bail!("{peer} left: {reason}");
            }
            ClientEvent::Endpoint(EndpointEvent::Message {
                peer: p,
                kind,
                data,
            }) if kind == "chat" => match data {
                Data::Text(t) => println!("{p}: {t}"),
                Data::Bytes(b) => println!("{p}: ({} bytes)", b.len()),
            },
            _ => {}
        }
    }
}
