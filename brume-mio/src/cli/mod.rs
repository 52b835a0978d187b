//! Command-line parsing and dispatch; one file per command.

mod accept;
mod bench;
mod chat;
mod contacts;
mod demo;
mod help;
mod identity;
mod ping;
mod progress;
mod recv;
mod rpc;
mod send;
mod serve;
mod session;
mod share;
mod terminal;
mod user;

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};

/// Send files and folders, chat and ping people by their user name, device
/// to device: a small hub introduces you, then everything goes peer to peer.
#[derive(Debug, Parser)]
#[command(name = "brume", version, disable_help_subcommand = true)]
pub struct Args {
    /// Log what happens (-v: info, -vv: debug, -vvv: trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    command: Command,
}

/// `--config`, for the commands that act as a user (the hub's commands
/// have a data folder instead).
#[derive(Debug, clap::Args)]
pub struct ConfigArg {
    /// The client config file [default: ~/.config/brume/brume.conf].
    #[arg(long, env = "BRUME_CONF", value_name = "FILE")]
    config: Option<PathBuf>,
}

impl ConfigArg {
    /// `--config`, `$BRUME_CONF`, or the XDG default.
    pub fn path(&self) -> PathBuf {
        self.config
            .clone()
            .unwrap_or_else(brume_mio::config::default_path)
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a hub.
    Serve(serve::ServeArgs),
    /// Manage the hub's users (on the hub's machine).
    User {
        #[command(subcommand)]
        cmd: user::UserCmd,
    },
    /// Log in to a hub with a password and write the config file.
    Login(user::LoginArgs),
    /// Send files or folders to a user.
    Send(send::SendArgs),
    /// Receive files (asking before each offer, unless --yes or --from).
    Recv(recv::RecvArgs),
    /// Chat with a user, line by line (waiting for them to come online).
    Chat(chat::ChatArgs),
    /// Connect to a user and measure the round trip.
    Ping(ping::PingArgs),
    /// Ask a module of a user's program (`echo`, `brume.info` in `brume recv`).
    Rpc(rpc::RpcArgs),
    /// This device's name and identity key, to read out to others.
    Whoami(identity::WhoamiArgs),
    /// The identity keys pinned for a user's devices, to compare with their whoami.
    Verify(identity::VerifyArgs),
    /// Forget a user's (or a device's) pinned identity key, after checking it changed for a good reason.
    Trust(identity::TrustArgs),
    /// Make an invitation: a single-use token that makes its claimer your contact.
    Invite(contacts::InviteArgs),
    /// Claim an invitation: you and the inviter become contacts.
    Claim(contacts::ClaimArgs),
    /// List your contacts (user, then your alias for them).
    Contacts(contacts::ContactsArgs),
    /// Keep group folders in step, owner to members (a long-running daemon).
    Share(share::ShareArgs),
    /// Run a hub and two peers here and send a file between them.
    Demo(demo::DemoArgs),
    /// Print a shell's completion script.
    ///
    /// For example: `brume completions bash > ~/.local/share/bash-completion/completions/brume`.
    Completions(help::CompletionsArgs),
    /// Print the help of brume or of one of its commands.
    Help(help::HelpArgs),
    /// Open many idle sessions to a hub and measure its memory.
    #[command(hide = true)]
    BenchSessions(bench::BenchArgs),
}

/// Logs to stderr when asked; colours only on a terminal.
pub fn init_logging(verbose: u8) {
    if verbose == 0 {
        return;
    }
    let level = match verbose {
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

/// The hub's default data directory: `~/.local/share/brume`.
fn default_data_dir() -> PathBuf {
    dirs::data_dir()
        .unwrap_or_else(|| PathBuf::from("."))
        .join("brume")
}

/// Runs the command.
pub fn run(args: Args) -> Result<()> {
    match args.command {
        Command::Serve(a) => serve::run(a),
        Command::User { cmd } => user::run(cmd),
        Command::Login(a) => user::login(a),
        Command::Send(a) => send::run(a),
        Command::Recv(a) => recv::run(a),
        Command::Chat(a) => chat::run(a),
        Command::Ping(a) => ping::run(a),
        Command::Rpc(a) => rpc::run(a),
        Command::Whoami(a) => identity::whoami(a),
        Command::Verify(a) => identity::verify(a),
        Command::Trust(a) => identity::trust(a),
        Command::Invite(a) => contacts::invite(a),
        Command::Claim(a) => contacts::claim(a),
        Command::Contacts(a) => contacts::contacts(a),
        Command::Demo(a) => demo::run(a),
        Command::Share(a) => share::run(a),
        Command::Completions(a) => help::completions::<Args>(a),
        Command::Help(a) => help::help::<Args>(a),
        Command::BenchSessions(a) => bench::run(a),
    }
}
