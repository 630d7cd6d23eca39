//! The vocabulary every modelgate crate speaks: [`Severity`], [`RuleId`], [`Finding`],
//! [`Report`], [`Digest`], [`FileFormat`] and the [`Limits`] that bound every parser.
//!
//! This crate does no I/O and has no logic beyond ordering, naming and counting, so that the
//! parsers, rules, renderers and the CLI agree on one meaning for each word.
//!
//! ```
//! use modelgate_core::{Finding, Location, RuleId, Severity};
//!
//! let finding = Finding::new(
//!     RuleId::PickleDangerousCallable,
//!     Severity::Critical,
//!     Location::file("model/pytorch_model.bin").with_member("archive/data.pkl").with_offset(42),
//!     "the pickle calls os.system when loaded; do not load this file",
//! )
//! .with_subject("os.system");
//! assert_eq!(finding.rule.code(), "MG101");
//! assert!(finding.severity >= Severity::High);
//! ```
#![forbid(unsafe_code)]

mod digest;
mod finding;
mod format;
mod limits;
mod report;
mod rule;
mod severity;

pub use digest::{Digest, DigestAlgorithm, to_hex};
pub use finding::{Finding, Location, MAX_EVIDENCE_CHARS, sanitize_evidence};
pub use format::FileFormat;
pub use limits::Limits;
pub use report::{FileEntry, Report, ScanErrorRecord, SeverityCounts, Summary, ToolInfo};
pub use rule::{RuleCategory, RuleId};
pub use severity::{ParseSeverityError, Severity};
