//! The SQLite store through its public API, plus raw SQL on the file where a test needs to do
//! what the API never does (bump the version, tamper with rows, hold a write lock).

// Test helpers outside #[test] fns: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};

use common::{new_run, record, records};
use modelgate_store::{
    ChainBreak, Finish, RunStatus, SCHEMA_VERSION, SqliteStore, Store, StoreError, genesis, link,
};
use rusqlite::{Connection, params};

fn fresh() -> (tempfile::TempDir, PathBuf, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("modelgate.db");
    let store = SqliteStore::open(&path).unwrap();
    (dir, path, store)
}

fn hex(bytes: &[u8]) -> String {
    modelgate_core::to_hex(bytes)
}

/// A store at `path` holding run "r" with samples s0..s(n-1).
fn with_samples(path: &Path, n: u64) -> SqliteStore {
    let mut store = SqliteStore::open(path).unwrap();
    store
        .create_run(&new_run("r", "2025-01-01T00:00:00Z"))
        .unwrap();
    store.append_samples("r", &records(0..n, 200)).unwrap();
    store
}

fn all_rows(store: &SqliteStore, run: &str) -> Vec<modelgate_store::SampleRow> {
    let mut rows = Vec::new();
    store
        .for_each_sample(run, &mut |row| {
            rows.push(row);
            Ok(())
        })
        .unwrap();
    rows
}

#[test]
fn runs_and_samples_round_trip() {
    let (_dir, path, mut store) = fresh();
    store
        .create_run(&new_run("r1", "2025-01-02T00:00:00Z"))
        .unwrap();
    store
        .create_run(&new_run("r2", "2025-01-01T00:00:00Z"))
        .unwrap();

    let row = store.run("r1").unwrap().unwrap();
    assert_eq!(row.run, new_run("r1", "2025-01-02T00:00:00Z"));
    assert_eq!(row.status, RunStatus::Running);
    assert_eq!(row.samples, 0);
    assert_eq!(row.chain_head, hex(&genesis("r1")));
    assert_eq!(row.finished_at, None);
    assert!(!row.log_signed);
    assert_eq!(store.run("nope").unwrap(), None);
    assert_eq!(store.verify_chain("r1").unwrap(), None);

    let first = store.append_samples("r1", &records(0..3, 100)).unwrap();
    let second = store.append_samples("r1", &records(3..5, 100)).unwrap();
    assert_eq!(
        store.append_samples("r1", &[]).unwrap(),
        Vec::<String>::new()
    );
    let mut expected = genesis("r1");
    let mut chain = Vec::new();
    for i in 0..5 {
        expected = link(&expected, &record(i, 100));
        chain.push(hex(&expected));
    }
    assert_eq!([first, second].concat(), chain);

    let rows = all_rows(&store, "r1");
    assert_eq!(rows.len(), 5);
    for (i, row) in (0u64..).zip(&rows) {
        assert_eq!(row.seq, i);
        assert_eq!(row.sample_id, format!("s{i}"));
        assert_eq!(row.record, record(i, 100));
        assert_eq!(row.chain, chain[i as usize]);
    }
    assert_eq!(
        store.sample_ids("r1").unwrap(),
        ["s0", "s1", "s2", "s3", "s4"]
    );
    assert!(store.sample_ids("r2").unwrap().is_empty());
    let row = store.run("r1").unwrap().unwrap();
    assert_eq!(row.samples, 5);
    assert_eq!(row.chain_head, chain[4]);
    assert_eq!(store.verify_chain("r1").unwrap(), None);

    let finish = Finish {
        status: RunStatus::Completed,
        finished_at: "2025-01-02T00:10:00Z".into(),
        summary_json: r#"{"accuracy":0.6}"#.into(),
        log_path: Some("/logs/r1.json".into()),
        log_sha256: Some("ef".repeat(32)),
        log_signed: true,
    };
    store.finish_run("r1", &finish).unwrap();
    let row = store.run("r1").unwrap().unwrap();
    assert_eq!(row.status, RunStatus::Completed);
    assert_eq!(row.finished_at.as_deref(), Some("2025-01-02T00:10:00Z"));
    assert_eq!(row.summary_json.as_deref(), Some(r#"{"accuracy":0.6}"#));
    assert_eq!(row.log_path.as_deref(), Some("/logs/r1.json"));
    assert_eq!(row.log_sha256, Some("ef".repeat(32)));
    assert!(row.log_signed);
    assert_eq!(row.samples, 5);

    // Newest created first, whatever the caller's timestamps say.
    let ids = |runs: Vec<modelgate_store::RunRow>| -> Vec<String> {
        runs.into_iter().map(|r| r.run.id).collect()
    };
    assert_eq!(ids(store.runs(10).unwrap()), ["r2", "r1"]);
    assert_eq!(ids(store.runs(1).unwrap()), ["r2"]);
    assert!(store.runs(0).unwrap().is_empty());

    // All of it survives reopening.
    drop(store);
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.run("r1").unwrap().unwrap().samples, 5);
    assert_eq!(all_rows(&store, "r1"), rows);
}

#[test]
fn open_dir_creates_the_directory_and_uses_modelgate_db() {
    let dir = tempfile::tempdir().unwrap();
    let nested = dir.path().join("a").join("b");
    let store = SqliteStore::open_dir(&nested).unwrap();
    assert_eq!(store.path(), nested.join("modelgate.db"));
    assert!(nested.join("modelgate.db").is_file());
}

#[test]
fn fresh_file_gets_the_schema_in_wal_mode() {
    let (_dir, path, store) = fresh();
    drop(store);
    let raw = Connection::open(&path).unwrap();
    let version: u32 = raw
        .query_row("SELECT version FROM schema_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION);
    let mode: String = raw
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let tables: i64 = raw
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' \
             AND name IN ('runs', 'samples', 'schema_version')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(tables, 3);
}

#[test]
fn duplicate_run_is_refused() {
    let (_dir, _path, mut store) = fresh();
    store.create_run(&new_run("r", "t")).unwrap();
    let err = store.create_run(&new_run("r", "t2")).unwrap_err();
    assert!(
        matches!(err, StoreError::DuplicateRun(ref id) if id == "r"),
        "{err}"
    );
    assert_eq!(store.run("r").unwrap().unwrap().run.started_at, "t");
}

#[test]
fn duplicate_sample_fails_the_whole_batch_and_writes_nothing() {
    let (_dir, _path, mut store) = fresh();
    store.create_run(&new_run("r", "t")).unwrap();
    store.append_samples("r", &records(0..3, 50)).unwrap();
    let before = store.run("r").unwrap().unwrap();

    // Against a recorded sample, late in the batch.
    let mut batch = records(3..6, 50);
    batch.push(("s1".into(), b"{}".to_vec()));
    let err = store.append_samples("r", &batch).unwrap_err();
    assert!(
        matches!(&err, StoreError::DuplicateSample { run, sample } if run == "r" && sample == "s1"),
        "{err}"
    );
    // Twice within one batch.
    let mut batch = records(3..5, 50);
    batch.push(("s3".into(), b"{}".to_vec()));
    let err = store.append_samples("r", &batch).unwrap_err();
    assert!(
        matches!(&err, StoreError::DuplicateSample { sample, .. } if sample == "s3"),
        "{err}"
    );

    assert_eq!(store.run("r").unwrap().unwrap(), before);
    assert_eq!(store.sample_ids("r").unwrap(), ["s0", "s1", "s2"]);
    assert_eq!(store.verify_chain("r").unwrap(), None);
    // The same sample id in another run is fine.
    store.create_run(&new_run("other", "t")).unwrap();
    store.append_samples("other", &records(0..3, 50)).unwrap();
    // And the store still appends after the failures.
    store.append_samples("r", &records(3..5, 50)).unwrap();
    assert_eq!(store.verify_chain("r").unwrap(), None);
}

#[test]
fn unknown_run_is_named() {
    let (_dir, _path, mut store) = fresh();
    let unknown = |e: StoreError| matches!(e, StoreError::UnknownRun(ref id) if id == "ghost");
    assert!(unknown(
        store
            .append_samples("ghost", &records(0..1, 10))
            .unwrap_err()
    ));
    assert!(unknown(store.sample_ids("ghost").unwrap_err()));
    assert!(unknown(store.verify_chain("ghost").unwrap_err()));
    assert!(unknown(
        store.for_each_sample("ghost", &mut |_| Ok(())).unwrap_err()
    ));
    let finish = Finish {
        status: RunStatus::Error,
        finished_at: "t".into(),
        summary_json: "{}".into(),
        log_path: None,
        log_sha256: None,
        log_signed: false,
    };
    assert!(unknown(store.finish_run("ghost", &finish).unwrap_err()));
}

#[test]
fn for_each_sample_stops_at_the_callbacks_error() {
    let dir = tempfile::tempdir().unwrap();
    let store = with_samples(&dir.path().join("db"), 10);
    let mut seen = 0;
    let err = store
        .for_each_sample("r", &mut |row| {
            seen += 1;
            if row.seq == 3 {
                Err(StoreError::UnknownRun("stop".into()))
            } else {
                Ok(())
            }
        })
        .unwrap_err();
    assert!(matches!(err, StoreError::UnknownRun(ref s) if s == "stop"));
    assert_eq!(seen, 4);
}

#[test]
fn other_schema_version_fails_naming_both_versions() {
    let (_dir, path, store) = fresh();
    drop(store);
    Connection::open(&path)
        .unwrap()
        .execute(
            "UPDATE schema_version SET version = ?1",
            [SCHEMA_VERSION + 1],
        )
        .unwrap();
    for result in [SqliteStore::open(&path), SqliteStore::open_read_only(&path)] {
        let err = result.unwrap_err();
        match &err {
            StoreError::SchemaVersion {
                path: p,
                found,
                expected,
            } => {
                assert_eq!(p, &path);
                assert_eq!(*found, SCHEMA_VERSION + 1);
                assert_eq!(*expected, SCHEMA_VERSION);
            }
            other => panic!("expected SchemaVersion, got {other:?}"),
        }
        let text = err.to_string();
        assert!(
            text.contains(&format!("version {}", SCHEMA_VERSION + 1)),
            "{text}"
        );
        assert!(
            text.contains(&format!("version {SCHEMA_VERSION}")),
            "{text}"
        );
        assert!(text.contains("modelgate.db"), "{text}");
    }
}

#[test]
fn garbled_version_table_is_corrupt_not_a_panic() {
    let (_dir, path, store) = fresh();
    drop(store);
    let raw = Connection::open(&path).unwrap();
    raw.execute("INSERT INTO schema_version (version) VALUES (1)", [])
        .unwrap();
    drop(raw);
    let err = SqliteStore::open(&path).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
}

#[test]
fn missing_directory_is_a_database_error_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no-such-dir").join("modelgate.db");
    let err = SqliteStore::open(&path).unwrap_err();
    assert!(
        matches!(&err, StoreError::Database { path: p, .. } if p == &path),
        "{err}"
    );
    assert!(err.to_string().contains("no-such-dir"), "{err}");
}

#[test]
fn garbage_file_is_a_database_error_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("modelgate.db");
    let garbage: Vec<u8> = (0..8192u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&path, &garbage).unwrap();
    for result in [SqliteStore::open(&path), SqliteStore::open_read_only(&path)] {
        let err = result.unwrap_err();
        assert!(
            matches!(&err, StoreError::Database { path: p, .. } if p == &path),
            "{err}"
        );
        assert!(err.to_string().contains("not a database"), "{err}");
    }
    assert_eq!(std::fs::read(&path).unwrap(), garbage);
}

#[test]
fn another_programs_database_is_refused_and_not_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.db");
    Connection::open(&path)
        .unwrap()
        .execute_batch("CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('hi');")
        .unwrap();
    let err = SqliteStore::open(&path).unwrap_err();
    assert!(err.to_string().contains("not a modelgate store"), "{err}");
    let tables: i64 = Connection::open(&path)
        .unwrap()
        .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
        .unwrap();
    assert_eq!(tables, 1);
}

#[test]
fn read_only_open_never_creates_and_never_writes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("modelgate.db");
    let err = SqliteStore::open_read_only(&path).unwrap_err();
    assert!(
        matches!(&err, StoreError::Database { path: p, .. } if p == &path),
        "{err}"
    );
    assert!(!path.exists());

    // An empty file is an SQLite database without the schema: refused, not initialised.
    std::fs::write(&path, b"").unwrap();
    let err = SqliteStore::open_read_only(&path).unwrap_err();
    assert!(err.to_string().contains("not a modelgate store"), "{err}");
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);
    std::fs::remove_file(&path).unwrap();

    let writer = with_samples(&path, 4);
    let mut reader = SqliteStore::open_read_only(&path).unwrap();
    assert_eq!(reader.sample_ids("r").unwrap().len(), 4);
    assert_eq!(reader.verify_chain("r").unwrap(), None);
    let err = reader.append_samples("r", &records(4..5, 10)).unwrap_err();
    assert!(matches!(err, StoreError::Database { .. }), "{err}");
    let err = reader.create_run(&new_run("x", "t")).unwrap_err();
    assert!(matches!(err, StoreError::Database { .. }), "{err}");
    assert_eq!(writer.run("r").unwrap().unwrap().samples, 4);
}

#[test]
fn readers_work_while_a_writer_holds_the_write_lock() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("modelgate.db");
    let mut writer = with_samples(&path, 3);
    let reader = SqliteStore::open(&path).unwrap();
    let read_only = SqliteStore::open_read_only(&path).unwrap();

    // Another connection in the middle of an uncommitted write.
    let mut raw = Connection::open(&path).unwrap();
    let tx = raw
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .unwrap();
    tx.execute("UPDATE runs SET task = 'changing' WHERE id = 'r'", [])
        .unwrap();
    for store in [&reader, &read_only] {
        assert_eq!(store.sample_ids("r").unwrap().len(), 3);
        assert_eq!(store.run("r").unwrap().unwrap().run.task, "arith");
        assert_eq!(store.verify_chain("r").unwrap(), None);
    }
    // Opening an existing store takes no write lock either.
    assert!(SqliteStore::open(&path).is_ok());
    tx.rollback().unwrap();

    // Two writing handles interleave batches on one run without breaking its chain.
    let mut second = SqliteStore::open(&path).unwrap();
    for k in 0..4u64 {
        let start = 3 + k * 4;
        writer
            .append_samples("r", &records(start..start + 2, 30))
            .unwrap();
        second
            .append_samples("r", &records(start + 2..start + 4, 30))
            .unwrap();
        assert_eq!(read_only.sample_ids("r").unwrap().len() as u64, start + 4);
    }
    assert_eq!(reader.verify_chain("r").unwrap(), None);
    assert_eq!(reader.run("r").unwrap().unwrap().samples, 19);
}

#[test]
fn a_second_writer_waits_for_a_short_transaction() {
    // Without the busy timeout the append would fail at once with "database is locked".
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("modelgate.db");
    let mut writer = with_samples(&path, 1);
    let (locked, is_locked) = std::sync::mpsc::channel();
    let holder = std::thread::spawn({
        let path = path.clone();
        move || {
            let mut raw = Connection::open(&path).unwrap();
            let tx = raw
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .unwrap();
            locked.send(()).unwrap();
            std::thread::sleep(std::time::Duration::from_millis(200));
            tx.commit().unwrap();
        }
    });
    is_locked.recv().unwrap();
    writer.append_samples("r", &records(1..2, 10)).unwrap();
    holder.join().unwrap();
    assert_eq!(writer.verify_chain("r").unwrap(), None);
}

// ---- tampering with the file, one kind at a time ------------------------------------------

const N: u64 = 8;

/// Builds run "r" with N samples, applies `sql` to the file, and returns the verdict.
fn tampered(sql: &str) -> Result<Option<ChainBreak>, StoreError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("modelgate.db");
    drop(with_samples(&path, N));
    let raw = Connection::open(&path).unwrap();
    raw.execute_batch(sql).unwrap();
    drop(raw);
    SqliteStore::open(&path).unwrap().verify_chain("r")
}

fn chain_at(i: u64) -> String {
    let mut c = genesis("r");
    for k in 0..=i {
        c = link(&c, &record(k, 200));
    }
    hex(&c)
}

fn break_at(result: Result<Option<ChainBreak>, StoreError>, seq: u64, sample: &str) -> ChainBreak {
    let brk = result.unwrap().expect("tampering must be detected");
    assert_eq!((brk.seq, brk.sample_id.as_str()), (seq, sample), "{brk}");
    assert_ne!(brk.stored, brk.expected);
    brk
}

#[test]
fn untampered_chain_verifies() {
    assert_eq!(tampered("").unwrap(), None);
}

#[test]
fn edited_record_is_found() {
    let brk = break_at(
        tampered("UPDATE samples SET record = X'7b7d' WHERE seq = 3"),
        3,
        "s3",
    );
    assert_eq!(brk.stored, chain_at(3));
    // Edited to text instead of a blob: still hashed, still found.
    break_at(
        tampered("UPDATE samples SET record = '{}' WHERE seq = 5"),
        5,
        "s5",
    );
}

#[test]
fn edited_chain_value_is_found() {
    let brk = break_at(
        tampered(&format!(
            "UPDATE samples SET chain = '{}' WHERE seq = 2",
            "0".repeat(64)
        )),
        2,
        "s2",
    );
    assert_eq!(brk.expected, chain_at(2));
}

#[test]
fn deleted_row_is_found() {
    // In the middle: the next record no longer links.
    break_at(tampered("DELETE FROM samples WHERE seq = 4"), 4, "s5");
    // The last one: the head no longer matches.
    let brk = break_at(
        tampered(&format!("DELETE FROM samples WHERE seq = {}", N - 1)),
        N - 1,
        "",
    );
    assert_eq!(brk.stored, chain_at(N - 1));
    assert_eq!(brk.expected, chain_at(N - 2));
}

#[test]
fn inserted_row_is_found() {
    // A row with a correctly recomputed chain value slipped in at position 3: record 3 onwards
    // are renumbered, and the old record 3 no longer links.
    let forged = b"{\"id\":\"forged\"}";
    let forged_chain = hex(&link(
        &{
            let mut c = genesis("r");
            for k in 0..3 {
                c = link(&c, &record(k, 200));
            }
            c
        },
        forged,
    ));
    let sql = format!(
        "UPDATE samples SET seq = seq + 1000 WHERE seq >= 3;
         UPDATE samples SET seq = seq - 999 WHERE seq >= 1000;
         INSERT INTO samples (run_id, seq, sample_id, record, chain)
             VALUES ('r', 3, 'forged', X'{}', '{forged_chain}');",
        hex(forged)
    );
    break_at(tampered(&sql), 4, "s3");

    // Appended after the last record with a correct chain value, head left alone.
    let tail = link(
        &{
            let mut c = genesis("r");
            for k in 0..N {
                c = link(&c, &record(k, 200));
            }
            c
        },
        forged,
    );
    let sql = format!(
        "INSERT INTO samples (run_id, seq, sample_id, record, chain)
             VALUES ('r', {N}, 'forged', X'{}', '{}');",
        hex(forged),
        hex(&tail)
    );
    let brk = break_at(tampered(&sql), N + 1, "");
    assert_eq!(brk.stored, chain_at(N - 1));
}

#[test]
fn reordered_rows_are_found() {
    let sql = "UPDATE samples SET seq = 100 WHERE seq = 2;
               UPDATE samples SET seq = 2 WHERE seq = 5;
               UPDATE samples SET seq = 5 WHERE seq = 100;";
    break_at(tampered(sql), 2, "s5");
}

#[test]
fn head_that_does_not_match_the_last_record_is_found() {
    let brk = break_at(
        tampered(&format!(
            "UPDATE runs SET chain_head = '{}'",
            "f".repeat(64)
        )),
        N,
        "",
    );
    assert_eq!(brk.stored, "f".repeat(64));
    assert_eq!(brk.expected, chain_at(N - 1));
}

#[test]
fn inconsistent_count_or_numbering_is_corrupt() {
    let err = tampered("UPDATE runs SET samples = 3").unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("says 3 but 8"), "{err}");
    let err = tampered("UPDATE samples SET seq = seq + 10 WHERE seq >= 6").unwrap_err();
    assert!(err.to_string().contains("renumbered"), "{err}");
    // A head that is not hex stops appends instead of silently restarting the chain.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("modelgate.db");
    drop(with_samples(&path, 2));
    Connection::open(&path)
        .unwrap()
        .execute("UPDATE runs SET chain_head = ?1", params!["zz"])
        .unwrap();
    let mut store = SqliteStore::open(&path).unwrap();
    let err = store.append_samples("r", &records(2..3, 10)).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
    assert_eq!(store.sample_ids("r").unwrap().len(), 2);
}

#[test]
fn unknown_status_is_corrupt_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("modelgate.db");
    drop(with_samples(&path, 1));
    let raw = Connection::open(&path).unwrap();
    // The CHECK constraint stops this through SQL; a hand-edited file need not have it.
    raw.execute_batch("PRAGMA ignore_check_constraints = ON; UPDATE runs SET status = 'weird';")
        .unwrap();
    drop(raw);
    let store = SqliteStore::open(&path).unwrap();
    let err = store.run("r").unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
    assert!(store.runs(5).is_err());
}
