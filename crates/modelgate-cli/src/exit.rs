//! Exit codes shared by every command.

use std::process::ExitCode;

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exit 0: nothing at or above the threshold.
    Pass,
    /// Exit 1: findings or policy say no.
    Fail,
    /// Exit 2: usage, input or runtime error.
    Error,
}

impl From<Outcome> for ExitCode {
    fn from(outcome: Outcome) -> Self {
        ExitCode::from(match outcome {
            Outcome::Pass => 0,
            Outcome::Fail => 1,
            Outcome::Error => 2,
        })
    }
}
