//! `brume help [COMMAND…]` and `brume completions SHELL`. clap's own `help`
//! subcommand takes every word as a command name, so `brume help --help`
//! failed; this one is an ordinary command with its own help.

use anyhow::{Result, bail};
use clap::{Args, CommandFactory};
use clap_complete::Shell;

#[derive(Debug, Args)]
pub struct HelpArgs {
    /// The command (and subcommand) to explain, e.g. `user add`.
    command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    shell: Shell,
}

/// Prints the long help of the command named by `a.command`.
pub fn help<C: CommandFactory>(a: HelpArgs) -> Result<()> {
    let mut cmd = C::command();
    // Built, subcommands know their full name (`brume user add`).
    cmd.build();
    for name in &a.command {
        let Some(sub) = cmd.find_subcommand(name).cloned() else {
            bail!("no command {name:?}; `brume help` lists them");
        };
        cmd = sub;
    }
    cmd.print_long_help()?;
    Ok(())
}

/// Prints the completion script for `a.shell` on stdout.
pub fn completions<C: CommandFactory>(a: CompletionsArgs) -> Result<()> {
    let mut cmd = C::command();
    clap_complete::generate(a.shell, &mut cmd, "brume", &mut std::io::stdout());
    Ok(())
}
