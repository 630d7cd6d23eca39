//! One module per command.

mod dataset;
mod pickle;
mod rules;
mod scan;

use crate::Outcome;
use crate::cli::{Cli, Command};

pub(crate) fn dispatch(cli: Cli) -> anyhow::Result<Outcome> {
    match cli.command {
        Command::Scan(args) => scan::run(&args),
        Command::Pickle(cmd) => pickle::run(&cmd),
        Command::Rules(args) => rules::run(&args),
        Command::Dataset(cmd) => dataset::run(&cmd),
    }
}
