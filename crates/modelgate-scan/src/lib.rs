//! The static scanner behind `modelgate scan`: walks files and directories, detects each file's
//! format from its content, runs the rules for that format (recursing into archive members and
//! compressed streams), and hashes every file in the same pass.
//!
//! Nothing here executes, imports or deserializes the artifact: pickles run on a symbolic stack
//! machine, templates are parsed but never rendered.
//!
//! ```no_run
//! use modelgate_scan::{ScanOptions, scan_paths};
//!
//! let report = scan_paths(&["models/bert".into()], &ScanOptions::default());
//! for finding in &report.findings {
//!     println!("{} {} {}", finding.severity, finding.rule.code(), finding.message);
//! }
//! ```
#![forbid(unsafe_code)]

mod context;
mod detect;
mod dispatch;
mod explain;
mod file_source;
mod hashing;
pub mod rules;
mod scanner;
mod walk;

pub use context::Ctx;
pub use detect::{SNIFF_LEN, detect_format, expected_formats_for_extension};
pub use dispatch::{scan_bytes, scan_nested};
pub use explain::{ExplainError, ExplainedStream, explain_file};
pub use scanner::{ProgressFn, ScanOptions, scan_paths};
