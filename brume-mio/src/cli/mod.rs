//! Command-line parsing and dispatch; one file per command.

mod bench;
mod chat;
mod demo;
mod ping;
mod progress;
mod recv;
mod send;
mod serve;
mod session;
mod user;

use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};

/// Reach people by user name through a small hub, then talk peer to peer.
#[derive(Debug, Parser)]
#[command(name = "brume", version, about)]
pub struct Args {
    /// Log what happens (-v: info, -vv: debug, -vvv: trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// The client config file.
    #[arg(long, global = true, env = "BRUME_CONF", value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
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
    /// Receive files.
    Recv(recv::RecvArgs),
    /// Chat with a user, line by line.
    Chat(chat::ChatArgs),
    /// Connect to a user and measure the round trip.
    Ping(ping::PingArgs),
    /// Run a hub and two peers here and send a file between them.
    Demo(demo::DemoArgs),
    /// Open many idle sessions to a hub and measure its memory.
    #[command(hide = true)]
    BenchSessions(bench::BenchArgs),
}

/// Logs to stderr when asked.
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
        .init();
}

/// The client config path: `--config`, `$BRUME_CONF`, or the XDG default.
fn config_path(args: &Option<PathBuf>) -> PathBuf {
    args.clone().unwrap_or_else(brume_mio::config::default_path)
}

/// The hub's default data directory: `~/.local/share/brume`.
fn default_data_dir() -> PathBuf {
    dirs::data_dir()
        .unwrap_or_else(|| PathBuf::from("."))
        .join("brume")
}

/// Runs the command.
pub fn run(args: Args) -> Result<()> {
    let config = config_path(&args.config);
    match args.command {
        Command::Serve(a) => serve::run(a),
        Command::User { cmd } => user::run(cmd),
        Command::Login(a) => user::login(a, &config),
        Command::Send(a) => send::run(a, &config),
        Command::Recv(a) => recv::run(a, &config),
        Command::Chat(a) => chat::run(a, &config),
        Command::Ping(a) => ping::run(a, &config),
        Command::Demo(a) => demo::run(a),
        Command::BenchSessions(a) => bench::run(a),
    }
}
