//! A scan [`Report`]: what was scanned, what was found, what could not be read.

use serde::{Deserialize, Serialize};

use crate::{FileFormat, Finding, Severity};

/// The name and version of the tool that produced a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolInfo {
    /// Always `modelgate`.
    pub name: String,
    /// The tool's version.
    pub version: String,
}

/// One scanned file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// The path as walked.
    pub path: String,
    /// The format detected from content.
    pub format: FileFormat,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 of the whole file, lowercase hex (absent if the file could not be read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Findings in this file beyond the per-file cap that were counted but not stored.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub findings_dropped: u64,
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A file or member that could not be read or walked (an I/O problem, not a finding).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanErrorRecord {
    /// The file concerned.
    pub path: String,
    /// What went wrong, and what to do.
    pub message: String,
}

/// Findings counted by severity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeverityCounts {
    /// Critical findings.
    pub critical: u64,
    /// High findings.
    pub high: u64,
    /// Medium findings.
    pub medium: u64,
    /// Low findings.
    pub low: u64,
    /// Informational findings.
    pub info: u64,
}

impl SeverityCounts {
    /// Counts one finding of `severity`.
    pub fn add(&mut self, severity: Severity) {
        let slot = match severity {
            Severity::Critical => &mut self.critical,
            Severity::High => &mut self.high,
            Severity::Medium => &mut self.medium,
            Severity::Low => &mut self.low,
            Severity::Info => &mut self.info,
        };
        *slot += 1;
    }

    /// How many findings are at or above `threshold`.
    pub fn at_or_above(&self, threshold: Severity) -> u64 {
        Severity::ALL
            .into_iter()
            .filter(|s| *s >= threshold)
            .map(|s| self.get(s))
            .sum()
    }

    /// The count for one severity.
    pub fn get(&self, severity: Severity) -> u64 {
        match severity {
            Severity::Critical => self.critical,
            Severity::High => self.high,
            Severity::Medium => self.medium,
            Severity::Low => self.low,
            Severity::Info => self.info,
        }
    }
}

/// Totals for a report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Files scanned (archive members are not counted separately).
    pub files: u64,
    /// Bytes read from disk.
    pub bytes: u64,
    /// Findings by severity.
    pub findings: SeverityCounts,
    /// The highest severity seen, if any finding was made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_severity: Option<Severity>,
    /// Files or members that could not be read.
    pub errors: u64,
    /// Wall-clock time of the scan in milliseconds.
    pub duration_ms: u64,
}

/// The result of `modelgate scan`: the JSON output is this struct (see `docs/schemas/`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// The schema version of this document; bumped on any incompatible change.
    pub schema_version: u32,
    /// The producing tool.
    pub tool: ToolInfo,
    /// Every file scanned, in walk order (sorted by path).
    pub files: Vec<FileEntry>,
    /// Every finding, sorted by path, member, offset, then rule.
    pub findings: Vec<Finding>,
    /// Everything that could not be read.
    pub errors: Vec<ScanErrorRecord>,
    /// Totals.
    pub summary: Summary,
}

impl Report {
    /// The current schema version of the scan report.
    pub const SCHEMA_VERSION: u32 = 1;

    /// Builds a report, sorting its parts and computing the summary's counts.
    pub fn new(
        version: &str,
        mut files: Vec<FileEntry>,
        mut findings: Vec<Finding>,
        mut errors: Vec<ScanErrorRecord>,
        duration_ms: u64,
    ) -> Self {
        files.sort_by(|a, b| a.path.cmp(&b.path));
        findings.sort_by(|a, b| {
            a.location
                .cmp(&b.location)
                .then(b.severity.cmp(&a.severity))
                .then(a.rule.cmp(&b.rule))
                .then(a.subject.cmp(&b.subject))
        });
        errors.sort_by(|a, b| a.path.cmp(&b.path));
        let mut counts = SeverityCounts::default();
        for finding in &findings {
            counts.add(finding.severity);
        }
        let summary = Summary {
            files: files.len() as u64,
            bytes: files.iter().map(|f| f.size).sum(),
            findings: counts,
            max_severity: findings.iter().map(|f| f.severity).max(),
            errors: errors.len() as u64,
            duration_ms,
        };
        Report {
            schema_version: Self::SCHEMA_VERSION,
            tool: ToolInfo {
                name: "modelgate".to_owned(),
                version: version.to_owned(),
            },
            files,
            findings,
            errors,
            summary,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Location, RuleId};

    #[test]
    fn summary_counts_and_sorting() {
        let findings = vec![
            Finding::of(RuleId::PickleMalformed, Location::file("b"), "m"),
            Finding::of(RuleId::PickleDangerousCallable, Location::file("a"), "m"),
            Finding::of(RuleId::NumpyObjectArray, Location::file("a"), "m"),
        ];
        let report = Report::new("0.0.0", vec![], findings, vec![], 5);
        assert_eq!(report.findings[0].location.path, "a");
        assert_eq!(report.findings[0].severity, Severity::Critical);
        assert_eq!(report.summary.findings.critical, 1);
        assert_eq!(report.summary.findings.at_or_above(Severity::High), 2);
        assert_eq!(report.summary.max_severity, Some(Severity::Critical));
        let json = serde_json::to_value(&report).unwrap_or_default();
        assert_eq!(json["findings"][0]["rule"], "MG101");
    }
}
