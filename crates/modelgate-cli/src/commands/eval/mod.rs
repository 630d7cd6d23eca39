//! `modelgate eval run|view|verify`.

mod run;
mod verify;
mod view;

use crate::Outcome;
use crate::cli::EvalCommand;

pub(crate) fn run(cmd: EvalCommand) -> anyhow::Result<Outcome> {
    match cmd {
        EvalCommand::Run(args) => run::run(&args),
        EvalCommand::View(args) => view::run(&args),
        EvalCommand::Verify(args) => verify::run(&args),
    }
}

/// A mean with its standard error, as the summary tables print it.
pub(super) fn metric(mean: f64, stderr: f64) -> String {
    format!("{mean:.4} ± {stderr:.4}")
}
