//! Store errors.

use std::path::PathBuf;

use crate::artifacts::ArtifactState;

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
    /// No artifact with that name or digest.
    #[error("no artifact {0:?} in the registry")]
    UnknownArtifact(String),
    /// An artifact with that digest is registered already.
    #[error("{digest} is registered already as {name:?}")]
    DuplicateArtifact {
        /// The manifest digest.
        digest: String,
        /// The name it was registered under.
        name: String,
    },
    /// The digest was rejected; rejections are permanent.
    #[error("{digest} was rejected ({reason}); a rejected digest is never accepted again")]
    RejectedDigest {
        /// The manifest digest.
        digest: String,
        /// Why it was rejected.
        reason: String,
    },
    /// The artifact is not in the state the caller decided from (another process changed it).
    #[error("{digest}: expected state {expected}, found {found} (changed concurrently?)")]
    StateConflict {
        /// The manifest digest.
        digest: String,
        /// The state the caller expected.
        expected: ArtifactState,
        /// The state found.
        found: ArtifactState,
    },
    /// The registry does not allow that state change.
    #[error("{digest}: cannot go from {from} to {to}")]
    InvalidTransition {
        /// The manifest digest.
        digest: String,
        /// Current state.
        from: ArtifactState,
        /// Requested state.
        to: ArtifactState,
    },
    /// A ledger payload is not JSON.
    #[error("ledger payload is not JSON: {0}")]
    InvalidPayload(String),
    /// A ledger checkpoint was requested but no signing key is configured.
    #[error("no ledger key configured: pass --ledger-key or set MODELGATE_LEDGER_KEY")]
    NoLedgerKey,
    /// Signing a ledger checkpoint failed.
    #[error("signing a ledger checkpoint: {0}")]
    Sign(String),
    /// Writing an export failed.
    #[error("writing the ledger export: {0}")]
    Export(std::io::Error),
}
