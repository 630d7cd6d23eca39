//! One module per command.

mod pickle;
mod rules;
mod sandbox;
mod scan;

use crate::Outcome;
use crate::cli::{Cli, Command};

pub(crate) fn dispatch(cli: Cli) -> anyhow::Result<Outcome> {
    match cli.command {
        Command::Scan(args) => scan::run(&args),
        Command::Pickle(cmd) => pickle::run(&cmd),
        Command::Rules(args) => rules::run(&args),
        Command::Sandbox(cmd) => sandbox::run(&cmd),
    }
}
