//! Store errors.

use std::path::PathBuf;

/// Everything that can go wrong in a store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database was written by another schema version.
    #[error("{path}: store schema version {found}, this modelgate reads version {expected}")]
    SchemaVersion {
        /// The database file.
        path: PathBuf,
        /// Version found in the database.
        found: u32,
        /// Version this build supports.
        expected: u32,
    },
    /// No run with that id.
    #[error("no run {0:?} in the store")]
    UnknownRun(String),
    /// A run with that id exists already.
    #[error("a run {0:?} exists already")]
    DuplicateRun(String),
    /// A sample id was appended twice to one run.
    #[error("run {run}: sample {sample:?} is recorded already")]
    DuplicateSample {
        /// The run.
        run: String,
        /// The sample id.
        sample: String,
    },
    /// The database failed.
    #[error("{path}: {message}")]
    Database {
        /// The database file.
        path: PathBuf,
        /// What failed.
        message: String,
    },
    /// A stored value does not parse.
    #[error("{path}: corrupt store: {message}")]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}
