//! `brume user add|list|remove|passwd|revoke` (on the hub's machine,
//! through its data directory) and `brume login` (anywhere, through the hub).

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use brume_mio::config::ClientFile;
use brume_mio::login::{ACCESS_LIFETIME, REFRESH_LIFETIME};
use brume_mio::store::Store;
use brume_mio::url::HubUrl;
use brume_proto::signal::{DeviceName, UserName};
use brume_proto::token::TokenKind;
use clap::{Args, Subcommand};

#[derive(Debug, Subcommand)]
pub enum UserCmd {
    /// Add a user and print (or write, with --out) their config file.
    Add {
        /// The user name: lowercase letters, digits, `.`, `_`, `-`.
        name: String,
        /// Their e-mail address.
        #[arg(long)]
        email: Option<String>,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
        /// The hub's data directory [default: ~/.local/share/brume].
        #[arg(long, value_name = "DIR")]
        data: Option<PathBuf>,
        /// The hub's URL, as the user will reach it.
        #[arg(long, default_value = "ws://127.0.0.1:7770")]
        url: String,
        /// Write the config here (with a new device certificate) instead of printing it.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// List the users.
    List {
        /// The hub's data directory [default: ~/.local/share/brume].
        #[arg(long, value_name = "DIR")]
        data: Option<PathBuf>,
    },
    /// Remove a user (a running hub closes their session within a second).
    Remove {
        /// The user name.
        name: String,
        /// The hub's data directory [default: ~/.local/share/brume].
        #[arg(long, value_name = "DIR")]
        data: Option<PathBuf>,
    },
    /// Set a user's password, revoking every token of theirs.
    ///
    /// They log in again with `brume login`; a running hub closes their
    /// session within a second.
    Passwd {
        /// The user name.
        name: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
        /// The hub's data directory [default: ~/.local/share/brume].
        #[arg(long, value_name = "DIR")]
        data: Option<PathBuf>,
    },
    /// Revoke every token of a user, keeping their password.
    ///
    /// They log in again with `brume login`; a running hub closes their
    /// session within a second.
    Revoke {
        /// The user name.
        name: String,
        /// The hub's data directory [default: ~/.local/share/brume].
        #[arg(long, value_name = "DIR")]
        data: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The hub, ws://host:port or wss://host:port.
    #[arg(long)]
    url: String,
    /// Your user name.
    name: String,
    /// Read the password from the first line of standard input.
    #[arg(long)]
    password_stdin: bool,
    /// An extra CA certificate (PEM) to trust for wss://.
    #[arg(long, value_name = "PEM")]
    ca: Option<PathBuf>,
    /// This device's name at the hub (lowercase letters, digits, `.`, `_`,
    /// `-`; at most 32 bytes); by default the host name's.
    #[arg(long, value_name = "NAME")]
    device: Option<String>,
    #[command(flatten)]
    conf: super::ConfigArg,
}

fn user_name(name: &str) -> Result<UserName> {
    UserName::new(name).map_err(|e| anyhow::anyhow!("bad user name {name:?}: {e}"))
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A password from stdin's first line, or typed at the terminal.
fn password(from_stdin: bool, confirm: bool) -> Result<String> {
    let pw = if from_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    } else if std::io::stdin().is_terminal() {
        let pw = rpassword::prompt_password("password: ")?;
        if confirm && rpassword::prompt_password("again: ")? != pw {
            bail!("the passwords differ");
        }
        pw
    } else {
        bail!("no password: type it at a terminal or pass --password-stdin");
    };
    if pw.is_empty() {
        bail!("empty password");
    }
    Ok(pw)
}

pub fn run(cmd: UserCmd) -> Result<()> {
    match cmd {
        UserCmd::Add {
            name,
            email,
            password_stdin,
            data,
            url,
            out,
        } => {
            let name = user_name(&name)?;
            let url = HubUrl::parse(&url)?;
            let store = Store::open(&data.unwrap_or_else(super::default_data_dir))?;
            let pw = password(password_stdin, true)?;
            let now = unix_now();
            let generation = store.add_user(&name, email.as_deref(), &pw, now)?;
            let key = store.signing_key()?;
            let mint = |kind, lifetime| key.mint_generation(&name, generation, kind, now, lifetime);
            let mut file = ClientFile {
                url: url.to_string(),
                user: name.as_str().to_owned(),
                access_token: mint(TokenKind::Access, ACCESS_LIFETIME),
                refresh_token: Some(mint(TokenKind::Refresh, REFRESH_LIFETIME)),
                device: None,
                dtls_cert: None,
                ca: None,
                stun: None,
                identity_key: None,
                pins: Default::default(),
            };
            match out {
                Some(path) => {
                    file.ensure_cert()?;
                    file.save(&path)?;
                    println!("added {name}; config written to {}", path.display());
                }
                None => print!("{}", file.to_text()),
            }
            Ok(())
        }
        UserCmd::List { data } => {
            let store = Store::open_existing(&data.unwrap_or_else(super::default_data_dir))?;
            for u in store.users()? {
                println!("{}\t{}", u.name, u.email.as_deref().unwrap_or("-"));
            }
            Ok(())
        }
        UserCmd::Remove { name, data } => {
            let name = user_name(&name)?;
            let store = Store::open_existing(&data.unwrap_or_else(super::default_data_dir))?;
            if !store.remove_user(&name)? {
                bail!("no user {name}");
            }
            println!("removed {name}");
            Ok(())
        }
        UserCmd::Passwd {
            name,
            password_stdin,
            data,
        } => {
            let name = user_name(&name)?;
            let store = Store::open_existing(&data.unwrap_or_else(super::default_data_dir))?;
            if !store.user_generations()?.contains_key(&name) {
                bail!("no user {name}");
            }
            let pw = password(password_stdin, true)?;
            if store.set_password(&name, &pw)?.is_none() {
                bail!("no user {name}");
            }
            println!("new password for {name}; their tokens are revoked (`brume login` again)");
            Ok(())
        }
        UserCmd::Revoke { name, data } => {
            let name = user_name(&name)?;
            let store = Store::open_existing(&data.unwrap_or_else(super::default_data_dir))?;
            if store.revoke(&name)?.is_none() {
                bail!("no user {name}");
            }
            println!("revoked every token of {name} (`brume login` again)");
            Ok(())
        }
    }
}

pub fn login(a: LoginArgs) -> Result<()> {
    let name = user_name(&a.name)?;
    // Checked before anything is written: a wrong path made every later
    // command fail with the hub's EBADMSG.
    let url = HubUrl::parse_root(&a.url)?;
    let device = match &a.device {
        Some(d) => DeviceName::new(d.as_str())
            .map_err(|e| anyhow::anyhow!("bad device name {d:?}: {e}"))?,
        None => brume_mio::config::host_device(),
    };
    if device.instance().is_some() {
        bail!("bad device name \"{device}\": ~N is for the hub to add");
    }
    let config = &a.conf.path();
    let pw = password(a.password_stdin, false)?;
    let (user, access, refresh) =
        brume_mio::login::login(&url, name.as_str(), &pw, a.ca.as_deref())?;
    // Keep this device's certificate, and the devices it met, if the
    // config already has them.
    let old = ClientFile::load(config).ok();
    let pins = old.as_ref().map(|f| f.pins.clone()).unwrap_or_default();
    let identity_key = old.as_ref().and_then(|f| f.identity_key.clone());
    let cert = old.and_then(|f| f.dtls_cert);
    let mut file = ClientFile {
        url: url.to_string(),
        user,
        access_token: access,
        refresh_token: Some(refresh),
        device: Some(device.clone()),
        dtls_cert: cert,
        ca: a.ca,
        stun: None,
        identity_key,
        pins,
    };
    file.ensure_cert()?;
    file.save(config)
        .with_context(|| format!("cannot write the config {}", config.display()))?;
    println!(
        "logged in as {name} on device {device}; config written to {}",
        config.display()
    );
    Ok(())
}
