//! `modelgate pickle disasm` and `modelgate scan --explain`: show what a pickle would do.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use modelgate_core::Limits;
use modelgate_scan::explain_file;

use crate::Outcome;
use crate::cli::PickleCommand;

pub(crate) fn run(cmd: &PickleCommand) -> anyhow::Result<Outcome> {
    match cmd {
        PickleCommand::Disasm { file } => explain_paths(std::slice::from_ref(file)),
    }
}

/// Prints the explanation of every pickle stream in each of `paths`.
pub(crate) fn explain_paths(paths: &[PathBuf]) -> anyhow::Result<Outcome> {
    let limits = Limits::default();
    let mut text = String::new();
    for path in paths {
        explain_one(path, &limits, &mut text)?;
    }
    std::io::stdout().lock().write_all(text.as_bytes())?;
    Ok(Outcome::Pass)
}

fn explain_one(path: &Path, limits: &Limits, text: &mut String) -> anyhow::Result<()> {
    if path.is_dir() {
        anyhow::bail!(
            "{}: is a directory; name a file (scan the directory to find the pickles in it)",
            path.display()
        );
    }
    for stream in explain_file(path, limits)? {
        let _ = match &stream.member {
            Some(member) => writeln!(text, "### {}!{member}", path.display()),
            None => writeln!(text, "### {}", path.display()),
        };
        text.push_str(&stream.text);
        if !stream.text.ends_with('\n') {
            text.push('\n');
        }
        text.push('\n');
    }
    Ok(())
}
