//! `brume whoami`, `brume verify NAME` and `brume trust NAME`: the
//! identity keys that say who a device is. Each device's is pinned the
//! first time it is met; `whoami` and `verify` print short forms
//! to compare out of band (read them out, as safety numbers are), and
//! `trust` forgets a pin so the next connection takes the device's new one.

use anyhow::{Result, bail};
use brume_mio::config::ClientFile;
use brume_proto::endpoint::{identity_public_key, short_form};
use clap::Args;

use super::ConfigArg;
use super::session::peer_address;

#[derive(Debug, Args)]
pub struct WhoamiArgs {
    #[command(flatten)]
    conf: ConfigArg,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// A user (every device of theirs met so far), or `user/device`.
    name: String,
    #[command(flatten)]
    conf: ConfigArg,
}

#[derive(Debug, Args)]
pub struct TrustArgs {
    /// A user (every device of theirs), or `user/device`.
    name: String,
    #[command(flatten)]
    conf: ConfigArg,
}

pub fn whoami(a: WhoamiArgs) -> Result<()> {
    let path = a.conf.path();
    let mut file = ClientFile::load(&path)?;
    if file.identity_key.is_none() || file.dtls_cert.is_none() {
        file = ClientFile::update(&path, |f| f.ensure_cert().map(drop))?;
    }
    let Some(key) = identity_public_key(&file.identity_seed()?) else {
        bail!("the identity key in the config is not an ed25519 seed");
    };
    println!("{}/{}", file.user, file.device());
    println!("{}", short_form(&key));
    println!("{key}");
    Ok(())
}

/// The pins `name` covers: `user` means each of their devices.
fn matching<'a>(file: &'a ClientFile, name: &str) -> Result<Vec<(&'a String, &'a String)>> {
    let asked = peer_address(name)?;
    let user = format!("{}/", asked.user());
    Ok(file
        .pins
        .iter()
        .filter(|(peer, _)| match asked.device() {
            Some(_) => **peer == asked.to_string(),
            None => peer.starts_with(&user),
        })
        .collect())
}

pub fn verify(a: VerifyArgs) -> Result<()> {
    let file = ClientFile::load(&a.conf.path())?;
    let pins = matching(&file, &a.name)?;
    if pins.is_empty() {
        bail!("no device of {} met yet: connect once, then verify", a.name);
    }
    for (peer, fp) in pins {
        println!("{peer}\t{}", short_form(fp));
    }
    Ok(())
}

pub fn trust(a: TrustArgs) -> Result<()> {
    let path = a.conf.path();
    let file = ClientFile::load(&path)?;
    let gone: Vec<String> = matching(&file, &a.name)?
        .into_iter()
        .map(|(peer, _)| peer.clone())
        .collect();
    if gone.is_empty() {
        bail!("no pin for {}: nothing to trust", a.name);
    }
    ClientFile::update(&path, |f| {
        for peer in &gone {
            f.pins.remove(peer);
        }
        Ok(())
    })?;
    for peer in &gone {
        println!("forgot the pin of {peer}: the next connection pins its current identity key");
    }
    Ok(())
}
