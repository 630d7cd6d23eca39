//! The `modelgate` command line: argument parsing, rendering and exit codes. Library crates
//! never print; this crate does, and maps outcomes to the documented exit codes:
//! `0` pass, `1` policy or findings say no, `2` usage, input or runtime error.
#![forbid(unsafe_code)]

mod cli;
mod commands;
mod exit;
mod render;

use std::process::ExitCode;

use clap::Parser;

pub use exit::Outcome;

/// Parses the command line, runs the command, and returns its exit code.
pub fn run() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                Outcome::Error
            } else {
                Outcome::Pass
            };
            let _ = e.print();
            return code.into();
        }
    };
    match commands::dispatch(cli) {
        Ok(outcome) => outcome.into(),
        Err(e) => {
            render::error(&e);
            Outcome::Error.into()
        }
    }
}
