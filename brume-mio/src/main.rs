//! The `brume` command: the hub (`serve`), user administration, and a
//! client for files, chat and pings. See `brume --help`.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Args::parse();
    cli::init_logging(args.verbose);
    match cli::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line: the error and its causes.
            eprintln!("brume: {e:#}");
            ExitCode::FAILURE
        }
    }
}
