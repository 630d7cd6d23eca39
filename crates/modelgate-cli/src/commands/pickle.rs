//! `modelgate pickle disasm`.

use crate::Outcome;
use crate::cli::PickleCommand;

pub(crate) fn run(cmd: &PickleCommand) -> anyhow::Result<Outcome> {
    match cmd {
        PickleCommand::Disasm { file } => {
            anyhow::bail!(
                "{}: pickle disassembly is not available yet",
                file.display()
            )
        }
    }
}
