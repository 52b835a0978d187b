//! Embedding Brume in another program: a `Client` handle that yields events.
//!
//! This example answers every connection, prints chat messages, replies to
//! each with an echo, and accepts offered files into the current folder.
//! It reads the same config file as the `brume` command:
//!
//! ```sh
//! cargo run -p brume-mio --example embed            # uses $BRUME_CONF or ~/.config/brume/brume.conf
//! brume chat <the example's user>                   # from another account
//! ```

use std::path::Path;

use brume_mio::client::{Client, ClientEvent, ClientOptions};
use brume_mio::config::{ClientFile, default_path};
use brume_proto::endpoint::EndpointEvent;
use brume_proto::framing::Data;
use brume_proto::transfer::TransferEvent;

fn main() -> anyhow::Result<()> {
    let path = default_path();
    let mut file = ClientFile::load(&path)?;
    if file.ensure_cert()? {
        file.save(&path)?; // one DTLS certificate per device, kept with the config
    }
    let mut client = Client::connect(ClientOptions::from_file(&file)?)?;

    // `next_event` runs the loop (sockets, timers) until something happens.
    while let Some(event) = client.next_event(None)? {
        match event {
            // The client reconnects on its own; open peers carry on meanwhile.
            ClientEvent::HubWaiting {
                code,
                why,
                retry_in,
            } => {
                eprintln!("{why} ({}); again in {retry_in:?}", code.as_str())
            }
            ClientEvent::Endpoint(EndpointEvent::Ready { user, .. }) => {
                println!("online as {user}")
            }
            ClientEvent::Endpoint(EndpointEvent::Reauth { access_token, .. }) => {
                file.access_token = access_token; // keep the refreshed token
                file.save(&path)?;
            }
            ClientEvent::Endpoint(EndpointEvent::Incoming { peer, .. }) => client.accept(&peer)?,
            ClientEvent::Endpoint(EndpointEvent::Message { peer, kind, data }) => {
                if let Data::Text(text) = &data {
                    println!("{peer} ({kind}): {text}");
                }
                if kind == "chat" {
                    let echo = format!("echo: {}", String::from_utf8_lossy(data.as_bytes()));
                    client.send_message(&peer, "chat", Data::Text(echo))?;
                }
            }
            ClientEvent::Transfer(TransferEvent::Offered { key, name, .. }) => {
                println!("accepting {name} from {}", key.peer);
                client.accept_transfer(&key, Path::new("."))?;
            }
            ClientEvent::Transfer(TransferEvent::Saved { path, .. }) => {
                println!("saved {}", path.join("/"));
            }
            ClientEvent::Endpoint(EndpointEvent::HubClosed { reason, error }) => {
                anyhow::bail!("the hub closed the session: {reason:?} {error:?}");
            }
            _ => {}
        }
    }
    Ok(())
}
