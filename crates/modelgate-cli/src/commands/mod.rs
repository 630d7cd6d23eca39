//! One module per command.

mod attest;
mod dataset;
mod eval;
mod hash;
mod intake;
mod key;
mod ledger;
mod pickle;
mod registry;
mod rules;
mod sandbox;
mod sbom;
mod scan;
mod sign;
mod verify;
mod watch;

use crate::Outcome;
use crate::cli::{Cli, Command};

pub(crate) fn dispatch(cli: Cli) -> anyhow::Result<Outcome> {
    match cli.command {
        Command::Scan(args) => scan::run(&args),
        Command::Pickle(cmd) => pickle::run(&cmd),
        Command::Rules(args) => rules::run(&args),
        Command::Hash(args) => hash::run(&args),
        Command::Key(cmd) => key::run(&cmd),
        Command::Sign(cmd) => sign::run(&cmd),
        Command::Verify(cmd) => verify::run(&cmd),
        Command::Attest(args) => attest::run(&args),
        Command::Dataset(cmd) => dataset::run(&cmd),
        Command::Sandbox(cmd) => sandbox::run(&cmd),
        Command::Eval(cmd) => eval::run(cmd),
        Command::Sbom(args) => sbom::run(&args),
        Command::Watch(args) => watch::run(&args),
        Command::Intake(args) => intake::run(&args),
        Command::Registry(cmd) => registry::run(&cmd),
        Command::Ledger(cmd) => ledger::run(&cmd),
    }
}
