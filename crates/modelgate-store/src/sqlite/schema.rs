//! The SQLite schema, created on a fresh file and version-checked on every open.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use super::db_err;
use crate::{SCHEMA_VERSION, StoreError};

/// The whole schema of version [`SCHEMA_VERSION`], created in one transaction.
///
/// `runs.ord` is the creation order (`runs()` lists newest first by it: caller-supplied
/// timestamps need not sort). `samples` keeps the rowid layout because records are ~1 KB,
/// too large for a `WITHOUT ROWID` b-tree to pay off; its two unique indexes are the ones the
/// store queries by: `(run_id, seq)` for chain order, `(run_id, sample_id)` for "recorded at
/// most once".
///
/// Version 2 adds the evidence ledger (`ledger`, keyed by its dense `seq`, with an index on
/// `subject` for an artifact's history, and a one-row `ledger_head` holding the entry count and
/// chain head so a truncated tail is detected), the artifact registry (`artifacts`, keyed by
/// manifest digest, indexed by name and by state) and the permanent `rejected_digests`.
/// Triggers refuse `UPDATE` and `DELETE` on `ledger` and `rejected_digests`: the API never
/// issues them, so only someone editing the file by hand (and dropping the triggers) can, and
/// the hash chain catches that.
const SCHEMA_SQL: &str = "
CREATE TABLE schema_version (
    version INTEGER NOT NULL
);
CREATE TABLE runs (
    ord            INTEGER PRIMARY KEY,
    id             TEXT NOT NULL UNIQUE,
    task           TEXT NOT NULL,
    model          TEXT NOT NULL,
    dataset_sha256 TEXT NOT NULL,
    dataset_pinned INTEGER NOT NULL,
    spec_sha256    TEXT NOT NULL,
    spec_json      TEXT NOT NULL,
    started_at     TEXT NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('running', 'completed', 'error')),
    samples        INTEGER NOT NULL DEFAULT 0 CHECK (samples >= 0),
    chain_head     TEXT NOT NULL,
    finished_at    TEXT,
    summary_json   TEXT,
    log_path       TEXT,
    log_sha256     TEXT,
    log_signed     INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE samples (
    run_id    TEXT NOT NULL REFERENCES runs (id),
    seq       INTEGER NOT NULL CHECK (seq >= 0),
    sample_id TEXT NOT NULL,
    record    BLOB NOT NULL,
    chain     TEXT NOT NULL,
    UNIQUE (run_id, seq),
    UNIQUE (run_id, sample_id)
);
CREATE TABLE ledger (
    seq     INTEGER PRIMARY KEY CHECK (seq >= 0),
    time    TEXT NOT NULL,
    kind    TEXT NOT NULL,
    subject TEXT NOT NULL,
    payload BLOB NOT NULL,
    prev    TEXT NOT NULL,
    hash    TEXT NOT NULL
);
CREATE INDEX ledger_subject ON ledger (subject, seq);
CREATE TABLE ledger_head (
    one     INTEGER PRIMARY KEY CHECK (one = 1),
    entries INTEGER NOT NULL CHECK (entries >= 0),
    hash    TEXT NOT NULL,
    last_checkpoint INTEGER
);
INSERT INTO ledger_head (one, entries, hash)
    VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
CREATE TRIGGER ledger_no_update BEFORE UPDATE ON ledger
BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
CREATE TRIGGER ledger_no_delete BEFORE DELETE ON ledger
BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
CREATE TABLE artifacts (
    digest            TEXT PRIMARY KEY,
    name              TEXT NOT NULL,
    state             TEXT NOT NULL
        CHECK (state IN ('quarantined', 'staging', 'production', 'rejected')),
    content_kind      TEXT NOT NULL CHECK (content_kind IN ('file', 'directory')),
    quarantine_path   TEXT NOT NULL,
    source            TEXT,
    submitted_at      TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    files             INTEGER NOT NULL CHECK (files >= 0),
    bytes             INTEGER NOT NULL CHECK (bytes >= 0),
    scan_max_severity TEXT,
    scan_findings     INTEGER NOT NULL CHECK (scan_findings >= 0),
    scan_errors       INTEGER NOT NULL CHECK (scan_errors >= 0),
    scan_report       TEXT NOT NULL,
    claimed_results   TEXT
) WITHOUT ROWID;
CREATE INDEX artifacts_name ON artifacts (name, submitted_at);
CREATE INDEX artifacts_state ON artifacts (state, name);
CREATE TABLE rejected_digests (
    digest      TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    reason      TEXT NOT NULL,
    rejected_at TEXT NOT NULL,
    ledger_seq  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TRIGGER rejected_no_update BEFORE UPDATE ON rejected_digests
BEGIN SELECT RAISE(ABORT, 'rejections are permanent'); END;
CREATE TRIGGER rejected_no_delete BEFORE DELETE ON rejected_digests
BEGIN SELECT RAISE(ABORT, 'rejections are permanent'); END;
";

/// Whether the database holds a `schema_version` table.
fn has_version_table(conn: &Connection) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'",
        [],
        |row| row.get::<_, i64>(0),
    )
    .map(|n| n > 0)
}

/// Checks the stored schema version; `Ok(false)` when the database has no modelgate schema.
fn check_version(conn: &Connection, path: &Path) -> Result<bool, StoreError> {
    if !has_version_table(conn).map_err(db_err(path, "reading the schema"))? {
        return Ok(false);
    }
    let mut stmt = conn
        .prepare("SELECT version FROM schema_version")
        .map_err(db_err(path, "reading the schema version"))?;
    let versions: Vec<rusqlite::types::Value> = stmt
        .query_map([], |row| row.get(0))
        .map_err(db_err(path, "reading the schema version"))?
        .take(2)
        .collect::<Result<_, _>>()
        .map_err(db_err(path, "reading the schema version"))?;
    let corrupt = |message: &str| StoreError::Corrupt {
        path: path.to_owned(),
        message: format!("schema_version table: {message}"),
    };
    let [rusqlite::types::Value::Integer(found)] = versions.as_slice() else {
        return Err(corrupt("expected exactly one integer row"));
    };
    let found = u32::try_from(*found).map_err(|_| corrupt("version out of range"))?;
    if found != SCHEMA_VERSION {
        return Err(StoreError::SchemaVersion {
            path: path.to_owned(),
            found,
            expected: SCHEMA_VERSION,
        });
    }
    Ok(true)
}

fn not_a_store(path: &Path) -> StoreError {
    StoreError::Database {
        path: path.to_owned(),
        message: "an SQLite database without a modelgate schema: not a modelgate store \
                  (choose another --store path)"
            .into(),
    }
}

/// Checks the schema of a database opened read-only: it must exist at this version.
pub(super) fn check(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    if check_version(conn, path)? {
        Ok(())
    } else {
        Err(not_a_store(path))
    }
}

/// Checks the schema version, creating the schema in one transaction when the database is
/// empty. A non-empty database without the modelgate schema is refused, never written.
pub(super) fn ensure(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    // The common case (an existing store) needs no write lock, so opening a store that a run
    // is writing to does not wait for the writer.
    if check_version(conn, path)? {
        return Ok(());
    }
    // Re-check under the write lock: another process may be creating the schema right now.
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db_err(path, "creating the schema"))?;
    if check_version(&tx, path)? {
        return Ok(());
    }
    let other: Option<String> = tx
        .query_row("SELECT name FROM sqlite_master LIMIT 1", [], |row| {
            row.get(0)
        })
        .optional()
        .map_err(db_err(path, "creating the schema"))?;
    if other.is_some() {
        return Err(not_a_store(path));
    }
    tx.execute_batch(SCHEMA_SQL)
        .map_err(db_err(path, "creating the schema"))?;
    tx.execute(
        "INSERT INTO schema_version (version) VALUES (?1)",
        [SCHEMA_VERSION],
    )
    .map_err(db_err(path, "creating the schema"))?;
    tx.commit().map_err(db_err(path, "creating the schema"))
}
