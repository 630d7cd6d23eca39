//! The embedded SQLite store.

use std::path::{Path, PathBuf};

use crate::{ChainBreak, Finish, NewRun, RunRow, SampleRow, Store, StoreError};

/// A store in one SQLite database file (WAL mode).
#[derive(Debug)]
pub struct SqliteStore {
    path: PathBuf,
    conn: rusqlite::Connection,
}

impl SqliteStore {
    /// Opens (creating when missing) the database at `path`, checking its schema version.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let conn = rusqlite::Connection::open(path).map_err(|e| StoreError::Database {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        Ok(SqliteStore {
            path: path.to_owned(),
            conn,
        })
    }

    /// Opens `DIR/modelgate.db`, creating the directory when missing.
    pub fn open_dir(dir: &Path) -> Result<SqliteStore, StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::Database {
            path: dir.to_owned(),
            message: e.to_string(),
        })?;
        Self::open(&dir.join("modelgate.db"))
    }

    fn unimplemented(&self) -> StoreError {
        let _ = &self.conn;
        StoreError::Database {
            path: self.path.clone(),
            message: "not implemented yet".into(),
        }
    }
}

impl Store for SqliteStore {
    fn create_run(&mut self, _run: &NewRun) -> Result<(), StoreError> {
        Err(self.unimplemented())
    }
    fn run(&self, _id: &str) -> Result<Option<RunRow>, StoreError> {
        Err(self.unimplemented())
    }
    fn runs(&self, _limit: usize) -> Result<Vec<RunRow>, StoreError> {
        Err(self.unimplemented())
    }
    fn append_samples(
        &mut self,
        _run_id: &str,
        _records: &[(String, Vec<u8>)],
    ) -> Result<Vec<String>, StoreError> {
        Err(self.unimplemented())
    }
    fn sample_ids(&self, _run_id: &str) -> Result<Vec<String>, StoreError> {
        Err(self.unimplemented())
    }
    fn for_each_sample(
        &self,
        _run_id: &str,
        _f: &mut dyn FnMut(SampleRow) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        Err(self.unimplemented())
    }
    fn finish_run(&mut self, _run_id: &str, _finish: &Finish) -> Result<(), StoreError> {
        Err(self.unimplemented())
    }
    fn verify_chain(&self, _run_id: &str) -> Result<Option<ChainBreak>, StoreError> {
        Err(self.unimplemented())
    }
}
