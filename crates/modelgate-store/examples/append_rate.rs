//! Measures the hot path: appends records of about 1 KB in batches, as the runner's writer
//! thread does, and prints the rate.
//!
//! `cargo run --release -p modelgate-store --example append_rate [RECORDS [BATCH [BYTES]]]`
//! (defaults: 100000 records, batches of 64, 1000 bytes each).

// An example program reports on stdout.
#![allow(clippy::print_stdout)]

use std::time::Instant;

use modelgate_store::{NewRun, SqliteStore, Store, StoreError};

fn arg(n: usize, default: u64) -> u64 {
    std::env::args()
        .nth(n)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}

fn main() -> Result<(), StoreError> {
    let total = arg(1, 100_000);
    let batch = arg(2, 64).max(1);
    let size = usize::try_from(arg(3, 1000)).unwrap_or(1000);

    let dir = std::env::temp_dir().join(format!("modelgate-append-rate-{}", std::process::id()));
    let mut store = SqliteStore::open_dir(&dir)?;
    store.create_run(&NewRun {
        id: "bench".into(),
        task: "bench".into(),
        model: "mock/echo".into(),
        dataset_sha256: "0".repeat(64),
        dataset_pinned: true,
        spec_sha256: "0".repeat(64),
        spec_json: "{}".into(),
        started_at: "2025-01-01T00:00:00Z".into(),
    })?;

    let padding = "x".repeat(size.saturating_sub(40));
    let start = Instant::now();
    let mut next = 0;
    while next < total {
        let end = (next + batch).min(total);
        let records: Vec<(String, Vec<u8>)> = (next..end)
            .map(|i| {
                let json = format!(r#"{{"id":"s{i}","score":1,"output":"{padding}"}}"#);
                (format!("s{i}"), json.into_bytes())
            })
            .collect();
        store.append_samples("bench", &records)?;
        next = end;
    }
    let append = start.elapsed();

    let start = Instant::now();
    let intact = store.verify_chain("bench")?.is_none();
    let verify = start.elapsed();
    let db_bytes = std::fs::metadata(dir.join(SqliteStore::FILE_NAME)).map_or(0, |m| m.len());
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);

    let secs = append.as_secs_f64();
    #[allow(clippy::cast_precision_loss)]
    let rate = total as f64 / secs;
    println!(
        "appended {total} records of ~{size} B in batches of {batch}: {secs:.2} s, {rate:.0} records/s"
    );
    println!(
        "verified the chain in {:.2} s (intact: {intact}); database {} MB",
        verify.as_secs_f64(),
        db_bytes / 1_000_000
    );
    Ok(())
}
