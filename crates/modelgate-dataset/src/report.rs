//! The dataset scan report: what `modelgate dataset scan --format json` prints
//! (`docs/schemas/dataset-report-v1.json`), and its conversion to the shared scan [`Report`] so
//! that SARIF is rendered by `modelgate-report`.

use std::fmt::Write as _;

use modelgate_core::{
    Finding, Location, Report, RuleId, ScanErrorRecord, Severity, SeverityCounts, sanitize_evidence,
};
use serde::Serialize;

use crate::load::DatasetFormat;

/// One dataset finding. `line`, `kind`, `severity`, `field` and `evidence` are always present.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DatasetFinding {
    /// The dataset file.
    pub path: String,
    /// 1-based line of the row (for clusters and triggers: the first row concerned).
    pub line: u64,
    /// 1-based column (Unicode code points) within that line, when the finding points at text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<u64>,
    /// What was found: the rule's name without the `dataset-` prefix (`tag-character`, `trigger`…).
    pub kind: &'static str,
    /// The rule code, e.g. `MG612`.
    pub rule: RuleId,
    /// How bad it is.
    pub severity: Severity,
    /// The field concerned (`output`, `messages[1].content`, a CSV column); `input` joins several.
    pub field: String,
    /// What happened and what to do.
    pub message: String,
    /// A short excerpt supporting the finding (invisible characters escaped).
    pub evidence: String,
    /// Every row concerned, for clusters and triggers (capped; see `lines_total`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub lines: Vec<u64>,
    /// How many rows are concerned in total (may exceed `lines.len()`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lines_total: Option<u64>,
    /// Trigger statistics.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trigger: Option<TriggerStats>,
}

/// The statistics behind a trigger finding.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TriggerStats {
    /// The phrase (one or more word n-grams that always occur together).
    pub phrase: String,
    /// The output or label it predicts.
    pub target: String,
    /// Rows (with distinct inputs) containing the phrase.
    pub support: u64,
    /// Of those, rows whose output or label is `target`.
    pub hits: u64,
    /// `hits / support`.
    pub precision: f64,
    /// How many of those rows the rest of the text predicts to have `target` (naive Bayes,
    /// trained without the rows containing the phrase).
    pub expected: f64,
    /// `hits / expected`: how much better the phrase predicts the target than the rest does.
    pub lift: f64,
    /// log10 of the one-sided binomial p-value of `hits` given `support` and `expected`.
    pub log10_p: f64,
    /// log10 of the significance threshold after Bonferroni correction over all n-grams tested.
    pub log10_threshold: f64,
    /// Mean pairwise Jaccard similarity of the rows' own content words (low = unrelated rows).
    pub row_similarity: f64,
}

impl DatasetFinding {
    /// A finding at one row.
    pub fn new(
        path: &str,
        line: u64,
        rule: RuleId,
        severity: Severity,
        field: impl Into<String>,
        message: impl Into<String>,
        evidence: impl AsRef<str>,
    ) -> Self {
        DatasetFinding {
            path: path.to_owned(),
            line,
            column: None,
            kind: kind_of(rule),
            rule,
            severity,
            field: field.into(),
            message: message.into(),
            evidence: sanitize_evidence(evidence.as_ref()),
            lines: Vec::new(),
            lines_total: None,
            trigger: None,
        }
    }
}

/// The finding kind for a dataset rule: its name without the `dataset-` prefix.
pub fn kind_of(rule: RuleId) -> &'static str {
    let name = rule.name();
    name.strip_prefix("dataset-").unwrap_or(name)
}

/// One scanned file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DatasetFileEntry {
    /// The path as given.
    pub path: String,
    /// The detected format.
    pub format: DatasetFormat,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 of the bytes analysed.
    pub sha256: String,
    /// Rows read (blank lines excluded).
    pub rows: u64,
    /// Rows that could not be parsed.
    pub malformed_rows: u64,
    /// The field used as output or label (most common), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_field: Option<String>,
    /// What each detector saw and kept (for memory and coverage accounting).
    pub stats: DetectorStats,
    /// Findings beyond the per-kind cap that were counted, not stored.
    pub findings_dropped: u64,
    /// Things the user should know about the analysis (detectors skipped and why).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// Counters describing the analysis.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DetectorStats {
    /// Rows with a distinct input that entered the trigger statistics.
    pub distinct_inputs: u64,
    /// Distinct output or label values.
    pub distinct_targets: u64,
    /// Distinct n-grams held in the table at the end of the first pass.
    pub ngrams_kept: u64,
    /// Lossy-counting floor: an n-gram's count may be under-estimated by at most this much.
    pub ngram_count_error: u64,
    /// N-gram/target pairs tested in the second pass.
    pub trigger_candidates: u64,
    /// Near-duplicate candidate pairs checked.
    pub lsh_pairs_checked: u64,
}

/// An error: a file that could not be read, or stopped early.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DatasetError {
    /// The file.
    pub path: String,
    /// What went wrong and what to do.
    pub message: String,
}

/// Totals.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DatasetSummary {
    /// Files scanned.
    pub files: u64,
    /// Rows read.
    pub rows: u64,
    /// Bytes read.
    pub bytes: u64,
    /// Findings by severity.
    pub findings: SeverityCounts,
    /// The highest severity seen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_severity: Option<Severity>,
    /// Files that could not be (fully) read.
    pub errors: u64,
    /// Wall-clock time in milliseconds.
    pub duration_ms: u64,
}

/// The output of `modelgate dataset scan`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DatasetReport {
    /// Schema version of this document.
    pub schema_version: u32,
    /// Always `dataset-scan`.
    pub report: &'static str,
    /// The producing tool.
    pub tool: modelgate_core::ToolInfo,
    /// Every file scanned.
    pub files: Vec<DatasetFileEntry>,
    /// Every finding, sorted by file, line, then severity (highest first).
    pub findings: Vec<DatasetFinding>,
    /// Files that could not be read.
    pub errors: Vec<DatasetError>,
    /// Totals.
    pub summary: DatasetSummary,
}

impl DatasetReport {
    /// The current schema version.
    pub const SCHEMA_VERSION: u32 = 1;

    /// Builds a report, sorting findings and computing the summary.
    pub fn new(
        version: &str,
        files: Vec<DatasetFileEntry>,
        mut findings: Vec<DatasetFinding>,
        errors: Vec<DatasetError>,
        duration_ms: u64,
    ) -> Self {
        findings.sort_by(|a, b| {
            a.path
                .cmp(&b.path)
                .then(a.line.cmp(&b.line))
                .then(b.severity.cmp(&a.severity))
                .then(a.rule.cmp(&b.rule))
                .then(a.column.cmp(&b.column))
        });
        let mut counts = SeverityCounts::default();
        for f in &findings {
            counts.add(f.severity);
        }
        let summary = DatasetSummary {
            files: files.len() as u64,
            rows: files.iter().map(|f| f.rows).sum(),
            bytes: files.iter().map(|f| f.size).sum(),
            findings: counts,
            max_severity: findings.iter().map(|f| f.severity).max(),
            errors: errors.len() as u64,
            duration_ms,
        };
        DatasetReport {
            schema_version: Self::SCHEMA_VERSION,
            report: "dataset-scan",
            tool: modelgate_core::ToolInfo {
                name: "modelgate".to_owned(),
                version: version.to_owned(),
            },
            files,
            findings,
            errors,
            summary,
        }
    }

    /// The same findings as a shared scan [`Report`] (for SARIF rendering): each finding's
    /// location is `path:line:column`, its subject the field.
    pub fn to_scan_report(&self) -> Report {
        let files = self
            .files
            .iter()
            .map(|f| modelgate_core::FileEntry {
                path: f.path.clone(),
                format: modelgate_core::FileFormat::Unknown,
                size: f.size,
                sha256: Some(f.sha256.clone()),
                findings_dropped: f.findings_dropped,
            })
            .collect();
        let findings = self
            .findings
            .iter()
            .map(|f| {
                let mut loc = Location::file(&f.path);
                loc.line = Some(u32::try_from(f.line).unwrap_or(u32::MAX));
                loc.column = f.column.map(|c| u32::try_from(c).unwrap_or(u32::MAX));
                let mut message = f.message.clone();
                if let Some(total) = f.lines_total
                    && total > 1
                {
                    let _ = write!(message, " ({total} rows)");
                }
                Finding::new(f.rule, f.severity, loc, message)
                    .with_subject(&f.field)
                    .with_evidence(&f.evidence)
            })
            .collect();
        let errors = self
            .errors
            .iter()
            .map(|e| ScanErrorRecord {
                path: e.path.clone(),
                message: e.message.clone(),
            })
            .collect();
        Report::new(
            &self.tool.version,
            files,
            findings,
            errors,
            self.summary.duration_ms,
        )
    }
}
