//! `brume serve`: the hub. Unlike the client commands it logs at info
//! without `-v`: sessions, failed logins and store changes are what an
//! operator reads.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use brume_mio::hub_server::{HubServer, ServeOptions};
use brume_mio::stun_server::StunServer;
use brume_proto::hub::CallPolicy;
use clap::Args;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Where to listen (port 0 picks a free one; the URL is printed).
    #[arg(long, default_value = "127.0.0.1:7770")]
    listen: SocketAddr,
    /// The data directory: users, groups and the signing key
    /// [default: ~/.local/share/brume].
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// A PEM certificate chain, to serve wss:// (with --tls-key).
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Who may call whom: anyone (`open`), or only contacts and members of
    /// a shared group (`contacts`; made with `brume invite` and `brume claim`).
    #[arg(long, value_enum, default_value_t = Policy::Open)]
    policy: Policy,
    /// Also answer STUN Binding requests on this UDP address (e.g.
    /// 0.0.0.0:3478), for clients' server-reflexive candidates.
    #[arg(long, value_name = "ADDR")]
    stun_listen: Option<SocketAddr>,
    /// A TURN server (coturn with use-auth-secret) whose credentials the
    /// hub hands each session; with --turn-secret-file.
    #[arg(long, value_name = "ADDR", requires = "turn_secret_file")]
    turn_server: Option<SocketAddr>,
    /// A file holding the TURN server's static-auth-secret (kept out of
    /// the process list).
    #[arg(long, value_name = "FILE", requires = "turn_server")]
    turn_secret_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Policy {
    Open,
    Contacts,
}

/// Info logs to stderr, unless `-v` already set up logging.
fn default_logging() {
    use std::io::IsTerminal;
    if tracing::dispatcher::has_been_set() {
        return;
    }
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

pub fn run(a: ServeArgs) -> Result<()> {
    default_logging();
    let data = a.data.unwrap_or_else(super::default_data_dir);
    let tls = match (a.tls_cert, a.tls_key) {
        (Some(c), Some(k)) => Some((c, k)),
        (None, None) => None,
        _ => bail!("--tls-cert and --tls-key go together"),
    };
    let scheme = if tls.is_some() { "wss" } else { "ws" };
    let turn = match (a.turn_server, a.turn_secret_file) {
        (Some(server), Some(file)) => {
            let secret = std::fs::read_to_string(&file)
                .with_context(|| format!("reading the TURN secret from {}", file.display()))?;
            let secret = secret.trim();
            if secret.is_empty() {
                bail!("the TURN secret file {} is empty", file.display());
            }
            Some(brume_proto::hub::HubTurn::new(
                server,
                secret.as_bytes().to_vec(),
            ))
        }
        _ => None,
    };
    let stun = a.stun_listen.map(StunServer::spawn).transpose()?;
    // More descriptors than the default 1024, for many sessions.
    let _ = rlimit::increase_nofile_limit(1 << 20);
    let (server, _handle) = HubServer::bind(&ServeOptions {
        listen: a.listen,
        data: data.clone(),
        tls,
        handle_signals: true,
        policy: match a.policy {
            Policy::Open => CallPolicy::Open,
            Policy::Contacts => CallPolicy::Contacts,
        },
        turn,
    })?;
    println!(
        "brume hub listening on {scheme}://{} (data in {}, pid {})",
        server.local_addr(),
        data.display(),
        std::process::id()
    );
    if let Some(stun) = &stun {
        println!("brume hub answering STUN on udp {}", stun.local_addr());
    }
    server.run()
}
