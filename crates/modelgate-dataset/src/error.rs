//! Typed errors: every one names the file, and where it can the line and column.

use std::path::PathBuf;

use thiserror::Error;

/// A dataset file that could not be loaded or analysed as a whole.
#[derive(Debug, Error)]
pub enum LoadError {
    /// The file could not be opened or read.
    #[error("{path}: cannot read the dataset: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The format could not be recognised from the extension or the content.
    #[error(
        "{path}: unknown dataset format (expected .jsonl, .json lines, .csv, .tsv or .parquet); pass --format-hint or rename the file"
    )]
    UnknownFormat {
        /// The file.
        path: PathBuf,
    },
    /// A Parquet file was given but this build has no Parquet support.
    #[error(
        "{path}: this is a Parquet file, and this build of modelgate cannot read Parquet; convert it to JSONL (for example `python -c \"import pandas as p; p.read_parquet('IN').to_json('OUT.jsonl', orient='records', lines=True)\"`). The file was NOT scanned"
    )]
    ParquetUnsupported {
        /// The file.
        path: PathBuf,
    },
    /// The Parquet file is malformed or uses a feature the reader does not support.
    #[error("{path}: cannot read the Parquet file: {message}")]
    Parquet {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The file is larger than [`crate::DatasetLimits::max_file_bytes`].
    #[error(
        "{path}: the file is {size} bytes, over the limit of {limit}; raise --max-file-bytes if the dataset is trusted to be this large"
    )]
    FileTooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The file has more rows than [`crate::DatasetLimits::max_rows`]; it was not fully analysed.
    #[error(
        "{path}:{line}: more than {limit} rows; the rest of the file was not analysed (raise --max-rows)"
    )]
    TooManyRows {
        /// The file.
        path: PathBuf,
        /// The line where reading stopped.
        line: u64,
        /// The limit.
        limit: u64,
    },
    /// The CSV header is missing, empty or repeats a column name.
    #[error("{path}:{line}:{column}: bad CSV header: {message}")]
    CsvHeader {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: u64,
        /// 1-based column.
        column: u64,
        /// What is wrong.
        message: String,
    },
}

/// Why one row could not be parsed; the scan reports it as a finding and goes on.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("line {line}, column {column}: {message}")]
pub struct RowError {
    /// 1-based line where the row starts (or where the problem is, for multi-line CSV records).
    pub line: u64,
    /// 1-based column, in Unicode code points.
    pub column: u64,
    /// Whether a limit was hit (as opposed to malformed syntax).
    pub limit: bool,
    /// What is wrong.
    pub message: String,
}

/// A problem with the registry file or with verifying a dataset against it.
#[derive(Debug, Error)]
pub enum RegistryError {
    /// The registry or a dataset could not be read or written.
    #[error("{path}: {action}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What was being done.
        action: &'static str,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The registry YAML is malformed or has unknown fields.
    #[error("{path}: invalid registry: {message}")]
    Parse {
        /// The registry file.
        path: PathBuf,
        /// The parser's message (names the field and line).
        message: String,
    },
    /// The registry is valid YAML but breaks a rule (duplicate names, bad digests, bad version).
    #[error("{path}: invalid registry: {message}")]
    Invalid {
        /// The registry file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// No dataset of that name is registered.
    #[error("{path}: no dataset named `{name}` is registered (see `modelgate dataset list`)")]
    UnknownName {
        /// The registry file.
        path: PathBuf,
        /// The name asked for.
        name: String,
    },
    /// A dataset of that name is already registered.
    #[error("{path}: a dataset named `{name}` is already registered; pass --replace to re-vet it")]
    DuplicateName {
        /// The registry file.
        path: PathBuf,
        /// The name.
        name: String,
    },
    /// A directory walk hit a limit or a path that cannot be pinned.
    #[error("{path}: cannot pin: {message}")]
    Unpinnable {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        message: String,
    },
}
