//! Every bound a hostile dataset can push against while it is loaded and analysed.

use serde::{Deserialize, Serialize};

/// Size, depth and count limits for loading and analysing one dataset file.
///
/// Row-level limits (line length, nesting, fields) make the offending row a finding
/// (`MG602 dataset-limit-exceeded`) and the scan goes on; file-level limits (file size, row count)
/// stop the analysis with an error, because a partial analysis must never pass.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatasetLimits {
    /// Largest dataset file read, in bytes.
    pub max_file_bytes: u64,
    /// Longest row (a JSONL line or a CSV record), in bytes.
    pub max_line_bytes: usize,
    /// Deepest JSON nesting within a row.
    pub max_depth: u32,
    /// Most rows (items) read from one file.
    pub max_rows: u64,
    /// Most fields (string, number or boolean leaves) kept per row.
    pub max_fields: usize,
    /// Most distinct n-grams the trigger detector keeps in memory (lossy counting prunes rare
    /// n-grams beyond this; see `docs/dataset.md` for the memory bound this gives).
    pub max_ngrams: usize,
    /// Most findings stored per detector and file (further ones are counted, not stored).
    pub max_findings_per_kind: usize,
    /// Most line numbers listed in one cluster or trigger finding.
    pub max_lines_per_finding: usize,
    /// Largest Parquet footer (file metadata), in bytes.
    pub max_parquet_metadata_bytes: u64,
    /// Largest decompressed Parquet page, in bytes (checked in every page header, and by a
    /// bounded decompression of gzip and zstd pages, before the page is decoded).
    pub max_parquet_page_bytes: u64,
    /// Most decoded page bytes held at once while a Parquet row group is read: the sum over
    /// its columns of the largest data page plus the dictionary page.
    pub max_parquet_row_group_bytes: u64,
}

impl Default for DatasetLimits {
    fn default() -> Self {
        DatasetLimits {
            max_file_bytes: 64 * 1024 * 1024 * 1024,
            max_line_bytes: 16 * 1024 * 1024,
            max_depth: 32,
            max_rows: 100_000_000,
            max_fields: 4096,
            max_ngrams: 4_000_000,
            max_findings_per_kind: 10_000,
            max_lines_per_finding: 10_000,
            max_parquet_metadata_bytes: 64 * 1024 * 1024,
            max_parquet_page_bytes: 256 * 1024 * 1024,
            max_parquet_row_group_bytes: 1024 * 1024 * 1024,
        }
    }
}
