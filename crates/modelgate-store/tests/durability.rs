//! A writer `SIGKILL`ed mid-run loses no committed batch and leaves no partial one.
//!
//! The test binary re-invokes itself: `crash_child` (ignored in normal runs) appends batches
//! in a loop and prints `committed N` after each commit; the parent kills it at an arbitrary
//! point of a later batch, then checks the file. Three rounds resume the same run, so the kill
//! lands at several different points of a transaction.

// Test helpers outside #[test] fns: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use common::{new_run, record, records};
use modelgate_store::{SqliteStore, Store};

const CHILD_ENV: &str = "MODELGATE_STORE_CRASH_CHILD_DIR";
const BATCH: u64 = 64;
const SIZE: usize = 1000;

#[test]
#[ignore = "the child process of killed_writer_loses_no_committed_batch"]
fn crash_child() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let mut store = SqliteStore::open_dir(Path::new(&dir)).unwrap();
    let mut next = store.run("r").unwrap().unwrap().samples;
    let mut out = std::io::stdout().lock();
    loop {
        store
            .append_samples("r", &records(next..next + BATCH, SIZE))
            .unwrap();
        next += BATCH;
        writeln!(out, "committed {next}").unwrap();
        out.flush().unwrap();
    }
}

/// Runs the child until it has reported `batches` commits, kills it, and returns the highest
/// sample count it reported as committed before it died.
fn run_and_kill(dir: &Path, batches: usize) -> u64 {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["crash_child", "--exact", "--ignored", "--nocapture"])
        .env(CHILD_ENV, dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let committed_in = |line: String| -> Option<u64> {
        line.strip_prefix("committed ").map(|n| n.parse().unwrap())
    };
    let mut committed = 0;
    let mut seen = 0;
    while seen < batches {
        let line = lines.next().expect("the child exited early").unwrap();
        if let Some(n) = committed_in(line) {
            committed = n;
            seen += 1;
        }
    }
    // SIGKILL on Unix: no destructor, no rollback, no checkpoint runs in the child.
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success(), "the child must have been killed");
    // Commits the child reported between our last read and its death.
    for line in lines {
        if let Some(n) = committed_in(line.unwrap()) {
            committed = n;
        }
    }
    committed
}

#[test]
fn killed_writer_loses_no_committed_batch() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = SqliteStore::open_dir(dir.path()).unwrap();
    store
        .create_run(&new_run("r", "2025-01-01T00:00:00Z"))
        .unwrap();
    drop(store);

    let mut last = 0;
    for batches in [20, 35, 50] {
        let committed = run_and_kill(dir.path(), batches);
        assert!(committed > last);

        let store = SqliteStore::open_dir(dir.path()).unwrap();
        let run = store.run("r").unwrap().unwrap();
        // Every batch the child reported is there; the batch it was killed in is there whole
        // (committed, not yet reported) or not at all.
        assert!(run.samples >= committed, "{} < {committed}", run.samples);
        assert_eq!(run.samples % BATCH, 0, "a partial batch was recorded");
        assert!(run.samples <= committed + BATCH);
        let mut expected_seq = 0;
        store
            .for_each_sample("r", &mut |row| {
                assert_eq!(row.seq, expected_seq);
                assert_eq!(row.sample_id, format!("s{expected_seq}"));
                assert_eq!(row.record, record(expected_seq, SIZE));
                expected_seq += 1;
                Ok(())
            })
            .unwrap();
        assert_eq!(expected_seq, run.samples);
        assert_eq!(store.verify_chain("r").unwrap(), None);
        last = run.samples;
    }
}
