//! The top-level scan: walk, then per file (in parallel) detect, run rules, hash.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use modelgate_core::{
    FileEntry, FileFormat, Finding, Limits, Location, Report, RuleId, ScanErrorRecord, Severity,
};
use rayon::prelude::*;

use crate::context::{Ctx, FindingSink};
use crate::detect::detect_format;
use crate::dispatch::{check_extension, read_prefix, scan_as};
use crate::file_source::FileSource;
use crate::hashing::sha256_file;
use crate::rules;
use crate::walk::{WalkItem, walk};

/// Called once per finished file with (files done, files total, bytes done).
pub type ProgressFn = Arc<dyn Fn(u64, u64, u64) + Send + Sync>;

/// Options for [`scan_paths`].
#[derive(Clone, Default)]
pub struct ScanOptions {
    /// Parser limits.
    pub limits: Limits,
    /// Progress callback (the CLI draws a bar on a TTY).
    pub progress: Option<ProgressFn>,
}

/// Files at least this large are hashed on one core while their rules run on another.
const PARALLEL_HASH_THRESHOLD: u64 = 32 * 1024 * 1024;

/// Scans every file under `paths` and returns the report. Never panics on file content; files
/// that cannot be read become [`ScanErrorRecord`]s.
pub fn scan_paths(paths: &[PathBuf], options: &ScanOptions) -> Report {
    let started = Instant::now();
    let items = walk(paths, &options.limits);
    let total = items
        .iter()
        .filter(|i| matches!(i, WalkItem::File { .. }))
        .count() as u64;
    let done = std::sync::atomic::AtomicU64::new(0);
    let bytes_done = std::sync::atomic::AtomicU64::new(0);
    let outcomes: Vec<Outcome> = items
        .into_par_iter()
        .map(|item| {
            let outcome = scan_item(item, &options.limits);
            if let (Some(progress), Some(entry)) = (&options.progress, &outcome.entry) {
                use std::sync::atomic::Ordering::Relaxed;
                let n = done.fetch_add(1, Relaxed) + 1;
                let b = bytes_done.fetch_add(entry.size, Relaxed) + entry.size;
                progress(n, total, b);
            }
            outcome
        })
        .collect();
    let mut files = Vec::new();
    let mut findings = Vec::new();
    let mut errors = Vec::new();
    for outcome in outcomes {
        files.extend(outcome.entry);
        findings.extend(outcome.findings);
        errors.extend(outcome.error);
    }
    let elapsed = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    Report::new(env!("CARGO_PKG_VERSION"), files, findings, errors, elapsed)
}

#[derive(Default)]
struct Outcome {
    entry: Option<FileEntry>,
    findings: Vec<Finding>,
    error: Option<ScanErrorRecord>,
}

fn display(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

fn scan_item(item: WalkItem, limits: &Limits) -> Outcome {
    match item {
        WalkItem::File { path, via_link } => {
            let mut outcome = scan_file(&path, limits);
            if let Some(target) = via_link {
                outcome.findings.push(
                    Finding::new(
                        RuleId::Symlink,
                        Severity::Low,
                        Location::file(display(&path)),
                        format!(
                            "symbolic link to `{}`; its target was scanned",
                            target.to_string_lossy()
                        ),
                    )
                    .with_evidence(target.to_string_lossy()),
                );
            }
            outcome
        }
        WalkItem::UnfollowedLink { path, target } => Outcome {
            findings: vec![
                Finding::of(
                    RuleId::Symlink,
                    Location::file(display(&path)),
                    format!(
                        "symbolic link to `{}`, which is not a regular file; not followed",
                        target.to_string_lossy()
                    ),
                )
                .with_evidence(target.to_string_lossy()),
            ],
            ..Outcome::default()
        },
        WalkItem::Error { path, message } => Outcome {
            error: Some(ScanErrorRecord {
                path: display(&path),
                message,
            }),
            ..Outcome::default()
        },
        WalkItem::Limit { path, message } => Outcome {
            findings: vec![Finding::of(
                RuleId::LimitExceeded,
                Location::file(display(&path)),
                format!("walk stopped: {message}"),
            )],
            ..Outcome::default()
        },
    }
}

fn scan_file(path: &Path, limits: &Limits) -> Outcome {
    let shown = display(path);
    let io_error = |what: &str, e: std::io::Error| Outcome {
        error: Some(ScanErrorRecord {
            path: shown.clone(),
            message: format!("{what}: {e}"),
        }),
        ..Outcome::default()
    };
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) => return io_error("cannot open", e),
    };
    let size = match file.metadata() {
        Ok(m) => m.len(),
        Err(e) => return io_error("cannot stat", e),
    };
    let hash_file = match file.try_clone() {
        Ok(f) => f,
        Err(e) => return io_error("cannot open", e),
    };
    let source = FileSource::new(file, size);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();

    let run_rules = || {
        let mut sink = FindingSink::default();
        let deadline = (limits.file_time_budget_ms > 0)
            .then(|| Instant::now() + Duration::from_millis(limits.file_time_budget_ms));
        let format = {
            let mut ctx = Ctx::new(
                limits,
                Location::file(shown.clone()),
                name.clone(),
                deadline,
                &mut sink,
            );
            let format = match read_prefix(&source) {
                Ok(prefix) => detect_format(&prefix, size, &name),
                Err(e) => return Err(e.to_string()),
            };
            check_extension(&mut ctx, format);
            scan_as(&mut ctx, format, &source);
            if !matches!(
                format,
                FileFormat::Zip | FileFormat::TorchZip | FileFormat::Npz | FileFormat::Keras
            ) {
                rules::archive::check_polyglot(&mut ctx, format, &source);
            }
            format
        };
        Ok((sink, format))
    };
    let hash = || sha256_file(&hash_file);
    let (rules_result, hash_result) = if size >= PARALLEL_HASH_THRESHOLD {
        rayon::join(run_rules, hash)
    } else {
        (run_rules(), hash())
    };
    let (sink, format) = match rules_result {
        Ok(v) => v,
        Err(message) => {
            return Outcome {
                error: Some(ScanErrorRecord {
                    path: shown,
                    message: format!("cannot read: {message}"),
                }),
                ..Outcome::default()
            };
        }
    };
    let (sha256, error) = match hash_result {
        Ok((hex, n)) if n == size => (Some(hex), None),
        Ok((_, n)) => (
            None,
            Some(ScanErrorRecord {
                path: shown.clone(),
                message: format!(
                    "file changed while being scanned ({size} bytes at open, {n} read)"
                ),
            }),
        ),
        Err(e) => (
            None,
            Some(ScanErrorRecord {
                path: shown.clone(),
                message: format!("cannot read: {e}"),
            }),
        ),
    };
    Outcome {
        entry: Some(FileEntry {
            path: shown,
            format: sink.refined_format.unwrap_or(format),
            size,
            sha256,
            findings_dropped: sink.dropped,
        }),
        findings: sink.findings,
        error,
    }
}
