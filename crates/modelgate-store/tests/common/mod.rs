//! Helpers shared by the store's integration tests.

#![allow(dead_code)]

use modelgate_store::NewRun;

/// A run with fixed metadata and the given id.
pub fn new_run(id: &str, started_at: &str) -> NewRun {
    NewRun {
        id: id.to_owned(),
        task: "arith".to_owned(),
        model: "mock/echo".to_owned(),
        dataset_sha256: "ab".repeat(32),
        dataset_pinned: true,
        spec_sha256: "cd".repeat(32),
        spec_json: r#"{"task":"arith","epochs":1}"#.to_owned(),
        started_at: started_at.to_owned(),
    }
}

/// The record stored for sample number `i`: deterministic, about `size` bytes of JSON.
pub fn record(i: u64, size: usize) -> Vec<u8> {
    let head = format!(r#"{{"id":"s{i}","score":{},"output":""#, i % 2);
    let pad = size.saturating_sub(head.len() + 2);
    let mut out = head.into_bytes();
    out.extend(std::iter::repeat_n(b'x', pad));
    out.extend_from_slice(b"\"}");
    out
}

/// `(sample_id, record)` for samples `range`.
pub fn records(range: std::ops::Range<u64>, size: usize) -> Vec<(String, Vec<u8>)> {
    range.map(|i| (format!("s{i}"), record(i, size))).collect()
}
