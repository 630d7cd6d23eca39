//! The embedded SQLite store ([`SqliteStore`] documents its durability and concurrency).

pub(crate) mod samples;
mod schema;

use std::path::{Path, PathBuf};
use std::time::Duration;

use modelgate_core::to_hex;
use rusqlite::limits::Limit;
use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, params};

use crate::chain::genesis;
use crate::{ChainBreak, Finish, NewRun, RunRow, RunStatus, SampleRow, Store, StoreError};

/// A store in one SQLite database file (WAL mode).
///
/// # Durability
///
/// The database runs in WAL mode with `synchronous=NORMAL`. Every transaction (one
/// [`Store::append_samples`] call, one [`Store::create_run`] …) is appended to the
/// `modelgate.db-wal` file with `write(2)` before its commit returns; the WAL is synced to disk
/// at checkpoints, not at every commit. So:
///
/// - **Process death** (SIGKILL, panic, OOM kill) loses nothing that was committed: the writes
///   are in the operating system's page cache, and the next open replays the WAL. A batch is
///   either wholly there or not at all.
/// - **Power loss or a kernel crash** may roll back the last few commits since the previous
///   checkpoint, but never leaves a partial transaction or a corrupt database; the chain of
///   what survives still verifies, and a resumed run redoes the lost samples.
///
/// `synchronous=FULL` would make every commit survive power loss at the price of an `fsync`
/// per batch; a re-run of a few samples is cheaper than that on the hot path.
///
/// # Concurrency
///
/// WAL lets any number of readers (other [`SqliteStore`] handles, e.g. `modelgate eval view`)
/// read the last committed state while one writer appends. Writers wait up to
/// [`SqliteStore::BUSY_TIMEOUT`] for each other.
///
/// # Limits
///
/// No string or blob larger than [`SqliteStore::MAX_VALUE_BYTES`] is written or read, and a
/// file that is not a modelgate store (not SQLite, another program's database, another schema
/// version) is refused on open without being written to.
#[derive(Debug)]
pub struct SqliteStore {
    pub(crate) path: PathBuf,
    pub(crate) conn: Connection,
    /// Signs ledger checkpoints, when configured.
    pub(crate) ledger_signer: Option<crate::ledger::tx::CheckpointConfig>,
}

/// A closure mapping a database error to [`StoreError::Database`] naming `path` and what was
/// being done.
pub(crate) fn db_err<'a>(
    path: &'a Path,
    doing: &'a str,
) -> impl Fn(rusqlite::Error) -> StoreError + 'a {
    move |e| StoreError::Database {
        path: path.to_owned(),
        message: format!("{doing}: {e}"),
    }
}

/// Whether `e` is a UNIQUE (or PRIMARY KEY) constraint failure.
pub(crate) fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _)
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
    )
}

impl SqliteStore {
    /// The file name [`SqliteStore::open_dir`] uses inside its directory.
    pub const FILE_NAME: &'static str = "modelgate.db";

    /// How long a writer waits for another writer's transaction before failing.
    pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

    /// The largest string or blob (a record, a spec, a summary) the store writes or reads, in
    /// bytes. A larger value fails with [`StoreError::Database`] instead of being allocated,
    /// so a hostile database file cannot make a reader allocate without bound.
    pub const MAX_VALUE_BYTES: usize = 64 << 20;

    /// Opens the database at `path`, creating the file and the schema when missing, and
    /// checking the schema version of an existing one.
    ///
    /// The directory must exist ([`SqliteStore::open_dir`] creates it). Fails with
    /// [`StoreError::SchemaVersion`] for a database of another schema version, and with
    /// [`StoreError::Database`] naming the file when it is not a modelgate store (a file that is
    /// not SQLite, or an SQLite database of another program, which is never written to).
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        // No SQLITE_OPEN_URI: a path is a path, even when it starts with "file:".
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut conn = Self::connect(path, flags)?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
            .map_err(db_err(path, "switching to WAL mode"))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Database {
                path: path.to_owned(),
                message: format!(
                    "the file system does not support WAL mode (journal mode stayed {mode:?}); \
                     put the store on a local disk"
                ),
            });
        }
        conn.execute_batch("PRAGMA synchronous = NORMAL")
            .map_err(db_err(path, "configuring the database"))?;
        schema::ensure(&mut conn, path)?;
        Ok(SqliteStore {
            path: path.to_owned(),
            conn,
            ledger_signer: None,
        })
    }

    /// Opens `DIR/modelgate.db` ([`SqliteStore::FILE_NAME`]), creating the directory when
    /// missing.
    pub fn open_dir(dir: &Path) -> Result<SqliteStore, StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::Database {
            path: dir.to_owned(),
            message: format!("creating the store directory: {e}"),
        })?;
        Self::open(&dir.join(Self::FILE_NAME))
    }

    /// Opens an existing store for reading only; never creates or changes the file. Every
    /// write through the handle fails with [`StoreError::Database`].
    ///
    /// A missing file, a file that is not a modelgate store and a database of another schema
    /// version fail as in [`SqliteStore::open`].
    pub fn open_read_only(path: &Path) -> Result<SqliteStore, StoreError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Self::connect(path, flags)?;
        schema::check(&conn, path)?;
        Ok(SqliteStore {
            path: path.to_owned(),
            conn,
            ledger_signer: None,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Opens a connection with the settings every handle shares.
    fn connect(path: &Path, flags: OpenFlags) -> Result<Connection, StoreError> {
        let conn = Connection::open_with_flags(path, flags)
            .map_err(db_err(path, "opening the database"))?;
        conn.busy_timeout(Self::BUSY_TIMEOUT)
            .map_err(db_err(path, "configuring the database"))?;
        // The cap fits in i32 (64 MiB).
        #[allow(clippy::cast_possible_wrap)]
        conn.set_limit(Limit::SQLITE_LIMIT_LENGTH, Self::MAX_VALUE_BYTES as i32)
            .map_err(db_err(path, "configuring the database"))?;
        conn.execute_batch("PRAGMA foreign_keys = ON")
            .map_err(db_err(path, "configuring the database"))?;
        // A few statements per call on the hot path; keep them all prepared.
        conn.set_prepared_statement_cache_capacity(32);
        Ok(conn)
    }

    fn corrupt(&self, message: String) -> StoreError {
        StoreError::Corrupt {
            path: self.path.clone(),
            message,
        }
    }

    /// Reads one `runs` row selected with [`RUN_COLUMNS`].
    fn run_from_row(&self, row: &Row<'_>) -> Result<RunRow, StoreError> {
        let get = |e: rusqlite::Error| self.corrupt(format!("runs table: {e}"));
        let id: String = row.get(0).map_err(get)?;
        let status: String = row.get(8).map_err(get)?;
        let status = match status.as_str() {
            "running" => RunStatus::Running,
            "completed" => RunStatus::Completed,
            "error" => RunStatus::Error,
            _ => return Err(self.corrupt(format!("run {id:?}: unknown status"))),
        };
        let samples: i64 = row.get(9).map_err(get)?;
        let samples = u64::try_from(samples)
            .map_err(|_| self.corrupt(format!("run {id:?}: negative sample count")))?;
        Ok(RunRow {
            run: NewRun {
                id,
                task: row.get(1).map_err(get)?,
                model: row.get(2).map_err(get)?,
                dataset_sha256: row.get(3).map_err(get)?,
                dataset_pinned: row.get(4).map_err(get)?,
                spec_sha256: row.get(5).map_err(get)?,
                spec_json: row.get(6).map_err(get)?,
                started_at: row.get(7).map_err(get)?,
            },
            status,
            samples,
            chain_head: row.get(10).map_err(get)?,
            finished_at: row.get(11).map_err(get)?,
            summary_json: row.get(12).map_err(get)?,
            log_path: row.get(13).map_err(get)?,
            log_sha256: row.get(14).map_err(get)?,
            log_signed: row.get(15).map_err(get)?,
        })
    }

    /// The run's stored sample count and chain head, or [`StoreError::UnknownRun`].
    fn head(conn: &Connection, path: &Path, run_id: &str) -> Result<(i64, String), StoreError> {
        conn.prepare_cached("SELECT samples, chain_head FROM runs WHERE id = ?1")
            .and_then(|mut stmt| {
                stmt.query_row([run_id], |row| Ok((row.get(0)?, row.get(1)?)))
                    .optional()
            })
            .map_err(db_err(path, "reading the run"))?
            .ok_or_else(|| StoreError::UnknownRun(run_id.to_owned()))
    }
}

/// The `runs` columns [`SqliteStore::run_from_row`] reads, in its order.
const RUN_COLUMNS: &str = "id, task, model, dataset_sha256, dataset_pinned, spec_sha256, \
     spec_json, started_at, status, samples, chain_head, finished_at, summary_json, log_path, \
     log_sha256, log_signed";

impl Store for SqliteStore {
    fn create_run(&mut self, run: &NewRun) -> Result<(), StoreError> {
        let head = to_hex(&genesis(&run.id));
        let result = self
            .conn
            .prepare_cached(
                "INSERT INTO runs (id, task, model, dataset_sha256, dataset_pinned, spec_sha256, \
                 spec_json, started_at, status, samples, chain_head) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'running', 0, ?9)",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![
                    run.id,
                    run.task,
                    run.model,
                    run.dataset_sha256,
                    run.dataset_pinned,
                    run.spec_sha256,
                    run.spec_json,
                    run.started_at,
                    head,
                ])
            });
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_unique_violation(&e) => Err(StoreError::DuplicateRun(run.id.clone())),
            Err(e) => Err(db_err(&self.path, "recording the run")(e)),
        }
    }

    fn run(&self, id: &str) -> Result<Option<RunRow>, StoreError> {
        let sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1");
        let mut stmt = self
            .conn
            .prepare_cached(&sql)
            .map_err(db_err(&self.path, "reading the run"))?;
        let mut rows = stmt
            .query([id])
            .map_err(db_err(&self.path, "reading the run"))?;
        match rows.next().map_err(db_err(&self.path, "reading the run"))? {
            Some(row) => self.run_from_row(row).map(Some),
            None => Ok(None),
        }
    }

    /// Runs in creation order, newest first.
    fn runs(&self, limit: usize) -> Result<Vec<RunRow>, StoreError> {
        let sql = format!("SELECT {RUN_COLUMNS} FROM runs ORDER BY ord DESC LIMIT ?1");
        let mut stmt = self
            .conn
            .prepare_cached(&sql)
            .map_err(db_err(&self.path, "listing runs"))?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut rows = stmt
            .query([limit])
            .map_err(db_err(&self.path, "listing runs"))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(db_err(&self.path, "listing runs"))? {
            out.push(self.run_from_row(row)?);
        }
        Ok(out)
    }

    fn append_samples(
        &mut self,
        run_id: &str,
        records: &[(String, Vec<u8>)],
    ) -> Result<Vec<String>, StoreError> {
        samples::append(&mut self.conn, &self.path, run_id, records)
    }

    fn sample_ids(&self, run_id: &str) -> Result<Vec<String>, StoreError> {
        samples::ids(&self.conn, &self.path, run_id)
    }

    fn for_each_sample(
        &self,
        run_id: &str,
        f: &mut dyn FnMut(SampleRow) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        samples::for_each(&self.conn, &self.path, run_id, f)
    }

    fn finish_run(&mut self, run_id: &str, finish: &Finish) -> Result<(), StoreError> {
        let changed = self
            .conn
            .prepare_cached(
                "UPDATE runs SET status = ?2, finished_at = ?3, summary_json = ?4, \
                 log_path = ?5, log_sha256 = ?6, log_signed = ?7 WHERE id = ?1",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![
                    run_id,
                    finish.status.as_str(),
                    finish.finished_at,
                    finish.summary_json,
                    finish.log_path,
                    finish.log_sha256,
                    finish.log_signed,
                ])
            })
            .map_err(db_err(&self.path, "finishing the run"))?;
        if changed == 0 {
            return Err(StoreError::UnknownRun(run_id.to_owned()));
        }
        Ok(())
    }

    /// See [`Store::verify_chain`]. Besides a record whose stored chain value is wrong, a run
    /// whose chain head does not match its last record is reported as a [`ChainBreak`] at
    /// position *number of records* with an empty `sample_id` (`stored` is the head).
    /// Rows whose chain is intact but whose `seq` numbers have gaps, or a sample count that
    /// does not match the rows, fail with [`StoreError::Corrupt`].
    fn verify_chain(&self, run_id: &str) -> Result<Option<ChainBreak>, StoreError> {
        samples::verify(&self.conn, &self.path, run_id)
    }
}
