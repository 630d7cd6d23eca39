//! The `modelgate` binary. All logic lives in the library crates and [`modelgate_cli::run`].
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    modelgate_cli::run()
}
