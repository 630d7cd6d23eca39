//! Machine-readable outputs of a scan [`Report`]: the versioned JSON document
//! (`docs/schemas/scan-report-v1.json`) and SARIF 2.1.0 for code-scanning dashboards.
//!
//! ```
//! use modelgate_core::Report;
//!
//! let report = Report::new("0.1.0", vec![], vec![], vec![], 0);
//! let json = modelgate_report::to_json(&report);
//! assert!(json.contains("\"schema_version\": 1"));
//! let sarif = modelgate_report::to_sarif(&report);
//! assert_eq!(sarif["version"], "2.1.0");
//! ```
#![forbid(unsafe_code)]

mod rules_doc;
mod sarif;

use modelgate_core::Report;

pub use rules_doc::{rules_json, rules_markdown};
pub use sarif::to_sarif;

/// The report as pretty-printed JSON (the `--format json` output).
pub fn to_json(report: &Report) -> String {
    // Serialising plain structs of strings and numbers cannot fail.
    serde_json::to_string_pretty(report).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}
