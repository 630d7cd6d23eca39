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
