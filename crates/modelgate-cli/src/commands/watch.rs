//! `modelgate watch`: runtime integrity of a deployed model. Re-hashes it at an interval and
//! compares the root digest with the expected one; a mismatch is an alert: a log line, the
//! `modelgate_watch_mismatch` metric at 1, and exit 1.
//!
//! Signals are not handled (that would need a new dependency): SIGINT or SIGTERM end the process
//! at once. Nothing is left half-written, because the metrics file is replaced atomically.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use modelgate_attest::algorithm::to_hex;
use modelgate_attest::cyclonedx::parse_sha256;
use modelgate_attest::{HashOptions, hash_model, write_atomic};
use modelgate_dataset::registry::rfc3339;

use crate::Outcome;
use crate::cli::WatchArgs;
use crate::commands::hash::ignore_paths;

/// Counters exported to the metrics file.
#[derive(Debug, Default)]
struct Counters {
    checks: u64,
    errors: u64,
    mismatch: bool,
    last_check: f64,
}

pub(crate) fn run(args: &WatchArgs) -> anyhow::Result<Outcome> {
    let expected = parse_sha256(args.expect.trim()).with_context(|| {
        format!(
            "--expect {:?} is not a root digest: give `sha256:` and 64 hex digits (or just the \
             hex), as `modelgate hash` prints it",
            args.expect
        )
    })?;
    let interval = Duration::from_secs_f64(args.interval);
    let options = HashOptions {
        ignore_paths: ignore_paths(&args.ignore_paths, &args.path)?,
        ..HashOptions::default()
    };
    let mut counters = Counters::default();
    loop {
        let result = hash_model(&args.path, &options);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        counters.last_check = now.as_secs_f64();
        let stamp = rfc3339(now.as_secs());
        let manifest = match result {
            Ok(m) => m,
            Err(e) => {
                counters.errors += 1;
                log(&format!("{stamp} modelgate watch: ERROR {e}"))?;
                write_metrics(args, &counters)?;
                return Err(e).context(format!(
                    "cannot check {}; the model is unreadable",
                    args.path.display()
                ));
            }
        };
        counters.checks += 1;
        let got = manifest.root_digest();
        counters.mismatch = got != expected;
        let line = if counters.mismatch {
            format!(
                "{stamp} modelgate watch: MISMATCH {} expected sha256:{} got sha256:{} ({} files)",
                args.path.display(),
                to_hex(&expected),
                to_hex(&got),
                manifest.file_count()
            )
        } else {
            format!(
                "{stamp} modelgate watch: ok {} sha256:{} ({} files)",
                args.path.display(),
                to_hex(&got),
                manifest.file_count()
            )
        };
        log(&line)?;
        write_metrics(args, &counters)?;
        if counters.mismatch {
            return Ok(Outcome::Fail);
        }
        if args.once {
            return Ok(Outcome::Pass);
        }
        std::thread::sleep(interval);
    }
}

fn log(line: &str) -> anyhow::Result<()> {
    let mut err = std::io::stderr().lock();
    writeln!(err, "{line}")?;
    err.flush()?;
    Ok(())
}

fn write_metrics(args: &WatchArgs, c: &Counters) -> anyhow::Result<()> {
    let Some(file) = &args.metrics_file else {
        return Ok(());
    };
    let text = metrics_text(&args.path, c);
    write_atomic(file, text.as_bytes())?;
    Ok(())
}

/// The Prometheus text exposition format, labelled with the watched path.
fn metrics_text(path: &Path, c: &Counters) -> String {
    let label = format!("{{path=\"{}\"}}", escape_label(&path.to_string_lossy()));
    let mut out = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, value: &str| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        let _ = writeln!(out, "{name}{label} {value}");
    };
    metric(
        "modelgate_watch_checks_total",
        "counter",
        "Integrity checks completed (the model was hashed).",
        &c.checks.to_string(),
    );
    metric(
        "modelgate_watch_mismatch",
        "gauge",
        "1 when the last check found a root digest other than the expected one, else 0.",
        if c.mismatch { "1" } else { "0" },
    );
    metric(
        "modelgate_watch_check_errors_total",
        "counter",
        "Checks that could not hash the model (unreadable or missing files).",
        &c.errors.to_string(),
    );
    metric(
        "modelgate_watch_last_check_timestamp_seconds",
        "gauge",
        "Unix time of the last check.",
        &format!("{:.3}", c.last_check),
    );
    out
}

/// Escapes a label value: backslash, double quote and newline.
fn escape_label(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for ch in value.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_escaped() {
        assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        let text = metrics_text(
            Path::new("/m\"x"),
            &Counters {
                checks: 2,
                errors: 0,
                mismatch: true,
                last_check: 1.5,
            },
        );
        assert!(text.contains("modelgate_watch_mismatch{path=\"/m\\\"x\"} 1\n"));
        assert!(
            text.contains("modelgate_watch_last_check_timestamp_seconds{path=\"/m\\\"x\"} 1.500\n")
        );
    }
}
