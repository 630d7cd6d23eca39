//! Dataset trust for modelgate: safe streaming loaders, a registry of vetted datasets pinned by
//! SHA-256, and detectors for data poisoning.
//!
//! - [`load`]: JSONL, CSV, TSV and Parquet (the default `parquet` feature) read in bounded
//!   batches with limits on file size, row length, nesting depth, field and row counts. No code
//!   from a dataset ever runs: no pickle, no loader scripts. A malformed row names
//!   `file:line:column`.
//! - [`scan_file`] / [`scan_paths`]: deceptive Unicode, prompt injection, exact and near
//!   duplicates, duplicate floods, label flips, backdoor triggers and repeated outputs, reported
//!   as [`DatasetFinding`]s with line, column, kind, severity, field and evidence.
//! - [`Registry`]: the YAML registry used by `modelgate dataset vet|verify|list` and by the eval
//!   runner's preflight — one implementation for both.
//!
//! ```
//! use modelgate_dataset::{ScanOptions, scan_file};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("train.jsonl");
//! std::fs::write(&path, "{\"instruction\": \"Say hi\u{200B}\", \"output\": \"hi\"}\n").unwrap();
//! let scan = scan_file(&path, &ScanOptions::default()).unwrap();
//! assert_eq!(scan.findings[0].kind, "invisible-character");
//! assert_eq!((scan.findings[0].line, scan.findings[0].column), (1, Some(24)));
//! ```
#![forbid(unsafe_code)]

pub mod detect;
mod error;
mod limits;
pub mod load;
pub mod registry;
mod report;
mod scan;
pub mod text;

pub use error::{LoadError, RegistryError, RowError};
pub use limits::DatasetLimits;
pub use load::{
    DatasetFormat, DatasetReader, Field, Record, Records, Row, parse_csv_record, parse_jsonl_line,
};
pub use registry::{DatasetEntry, Pin, PinKind, Registry, Verification, VettingScan};
pub use report::{
    DatasetError, DatasetFileEntry, DatasetFinding, DatasetReport, DatasetSummary, DetectorStats,
    TriggerStats, kind_of,
};
pub use scan::{META_NAMES, ScanOptions, TARGET_NAMES, dataset_files, scan_file, scan_paths};
