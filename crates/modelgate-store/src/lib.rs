//! The modelgate store: evaluation runs and their sample records, each appended to a per-run
//! hash chain, in an embedded SQLite database by default.
//!
//! The store knows nothing about evaluation semantics: a run is metadata plus an ordered list
//! of opaque JSON sample records keyed by sample id. What it guarantees:
//!
//! - **Schema version checked on open.** A database written by another schema version fails
//!   fast with both versions named ([`StoreError::SchemaVersion`]).
//! - **Append-only, hash-chained samples.** Every record is linked to the previous one of its
//!   run by [`chain::link`]; [`Store::verify_chain`] recomputes the chain and names the first
//!   bad record. The same function verifies the chain carried in an exported eval log.
//! - **Durable on process death.** A record is committed before it counts as recorded; a runner
//!   killed at any point (SIGKILL included) loses at most samples that were never committed, and
//!   [`Store::sample_ids`] tells a resumed run exactly which samples to skip. A sample id is
//!   recorded at most once per run.
//!
//! # The embedded SQLite store
//!
//! [`SqliteStore`] keeps everything in one file (`DIR/modelgate.db`) in WAL mode with
//! `synchronous=NORMAL`: one [`Store::append_samples`] call is one transaction, written to the
//! WAL before it returns. A killed process loses nothing committed and never leaves a partial
//! batch; a power loss may roll back the last few commits (never corrupting the file or the
//! chain), which a resumed run redoes. Readers on other handles see the last committed state
//! while a run writes. See the [`SqliteStore`] docs for details and the limits it enforces.
//!
//! ```
//! use modelgate_store::{NewRun, SqliteStore, Store};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! let mut store = SqliteStore::open_dir(dir.path())?;
//! store.create_run(&NewRun {
//!     id: "0f3a".into(),
//!     task: "arith".into(),
//!     model: "mock/echo".into(),
//!     dataset_sha256: "ab".repeat(32),
//!     dataset_pinned: true,
//!     spec_sha256: "cd".repeat(32),
//!     spec_json: "{}".into(),
//!     started_at: "2025-01-01T00:00:00Z".into(),
//! })?;
//! let chain = store.append_samples("0f3a", &[("q1".into(), br#"{"score":1}"#.to_vec())])?;
//! assert_eq!(store.run("0f3a")?.map(|r| r.chain_head), chain.last().cloned());
//! assert_eq!(store.sample_ids("0f3a")?, ["q1"]);
//! assert!(store.verify_chain("0f3a")?.is_none());
//! # Ok(())
//! # }
//! ```
//!
//! # The evidence ledger and the artifact registry
//!
//! The same database holds the append-only, hash-chained evidence [`ledger`] (every intake,
//! scan, eval run, approval, promotion and rejection, with signed checkpoints) behind the
//! [`Ledger`] trait, and the [`artifacts`] registry (state quarantined → staging → production
//! or rejected, the permanent rejected-digest table, the content-addressed [`Quarantine`]).
//! [`SqliteStore::transaction`] commits registry changes and their ledger entries together.
//!
//! PostgreSQL is planned behind the same [`Store`] and [`Ledger`] traits.

#![forbid(unsafe_code)]

pub mod artifacts;
pub mod chain;
mod error;
pub mod ledger;
mod sqlite;

pub use artifacts::quarantine::{
    Committed, CopyLimits, Quarantine, QuarantineError, QuarantineErrorKind, Skipped, Staged,
};
pub use artifacts::{
    Artifact, ArtifactState, ContentKind, NewArtifact, RejectedDigest, ScanSummary, is_valid_digest,
};
pub use chain::{CHAIN_GENESIS_DOMAIN, ChainBreak, genesis, link, record_digest};
pub use error::StoreError;
pub use ledger::{
    BreakReason, CHECKPOINT_PAYLOAD_TYPE, CHECKPOINT_TYPE, CheckpointStatement,
    DEFAULT_CHECKPOINT_INTERVAL, Entry, EntryKind, LEDGER_DOMAIN, LEDGER_GENESIS, Ledger,
    LedgerBreak, LedgerHead, LedgerVerification, StoreTx, entry_hash, now_rfc3339,
};
pub use sqlite::SqliteStore;

use serde::{Deserialize, Serialize};

/// The schema version this build reads and writes.
pub const SCHEMA_VERSION: u32 = 2;

/// Lifecycle of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Started and not finished (or killed: a resumable run).
    Running,
    /// Every sample was attempted.
    Completed,
    /// The run stopped on an error (`on_failure: abort`, a provider that refused every call …).
    Error,
}

impl RunStatus {
    /// The name used in the database and in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Completed => "completed",
            RunStatus::Error => "error",
        }
    }
}

/// What is known about a run when it starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewRun {
    /// Unique run id (chosen by the caller; a 128-bit random hex string in practice).
    pub id: String,
    /// Task name.
    pub task: String,
    /// `PROVIDER/NAME`.
    pub model: String,
    /// Lowercase hex SHA-256 of the dataset as hashed before any model call.
    pub dataset_sha256: String,
    /// `false` when the run was started with `--allow-unpinned`.
    pub dataset_pinned: bool,
    /// Lowercase hex SHA-256 of the canonical spec JSON.
    pub spec_sha256: String,
    /// The resolved spec (JSON), so a resumed run uses exactly the same settings.
    pub spec_json: String,
    /// RFC 3339 start time.
    pub started_at: String,
}

/// A run as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRow {
    /// What was known at the start.
    #[serde(flatten)]
    pub run: NewRun,
    /// Current status.
    pub status: RunStatus,
    /// Samples recorded.
    pub samples: u64,
    /// Hex chain head after the last recorded sample (the genesis value when none).
    pub chain_head: String,
    /// RFC 3339 end time, once finished.
    pub finished_at: Option<String>,
    /// Summary JSON, once finished.
    pub summary_json: Option<String>,
    /// Where the log was written, once finished.
    pub log_path: Option<String>,
    /// Lowercase hex SHA-256 of the log file as written, once finished.
    pub log_sha256: Option<String>,
    /// Whether a signature was written for the log.
    pub log_signed: bool,
}

/// One recorded sample.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleRow {
    /// 0-based position in the run's chain.
    pub seq: u64,
    /// The sample's id (unique within the run).
    pub sample_id: String,
    /// The record exactly as appended (JSON bytes).
    pub record: Vec<u8>,
    /// Hex chain value after this record.
    pub chain: String,
}

/// The outcome of finishing a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finish {
    /// Final status.
    pub status: RunStatus,
    /// RFC 3339 end time.
    pub finished_at: String,
    /// Summary JSON.
    pub summary_json: String,
    /// Log path.
    pub log_path: Option<String>,
    /// Log SHA-256 (hex).
    pub log_sha256: Option<String>,
    /// Whether the log was signed.
    pub log_signed: bool,
}

/// A storage backend for evaluation runs.
///
/// Implementations are used from one thread at a time (the runner owns a writer thread);
/// readers open their own handle.
pub trait Store: Send {
    /// Records a new run. Fails if the id exists.
    fn create_run(&mut self, run: &NewRun) -> Result<(), StoreError>;

    /// The run with `id`, if any.
    fn run(&self, id: &str) -> Result<Option<RunRow>, StoreError>;

    /// All runs, newest first, at most `limit`.
    fn runs(&self, limit: usize) -> Result<Vec<RunRow>, StoreError>;

    /// Appends records to a run's chain in one transaction, in the order given. Each item is
    /// `(sample_id, record_json)`. Returns the chain value after each. A sample id already
    /// recorded for the run fails the whole batch with [`StoreError::DuplicateSample`] and
    /// nothing of the batch is written.
    fn append_samples(
        &mut self,
        run_id: &str,
        records: &[(String, Vec<u8>)],
    ) -> Result<Vec<String>, StoreError>;

    /// Ids of the samples recorded for a run.
    fn sample_ids(&self, run_id: &str) -> Result<Vec<String>, StoreError>;

    /// Calls `f` with each recorded sample of a run in chain order. Stops at the first error.
    fn for_each_sample(
        &self,
        run_id: &str,
        f: &mut dyn FnMut(SampleRow) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>;

    /// Marks a run finished.
    fn finish_run(&mut self, run_id: &str, finish: &Finish) -> Result<(), StoreError>;

    /// Recomputes a run's chain from its records; `Ok(None)` when it is intact.
    ///
    /// The first record whose stored chain value differs from the recomputed one is the break.
    /// When every record links but the run's chain head does not match the last one (a record
    /// deleted or appended at the end), the break is at position *number of records* with an
    /// empty `sample_id`, and `stored` is the head.
    fn verify_chain(&self, run_id: &str) -> Result<Option<ChainBreak>, StoreError>;
}
