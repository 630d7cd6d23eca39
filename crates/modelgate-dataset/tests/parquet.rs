//! Parquet: files written by pyarrow (tests/fixtures/parquet/generate.py) read through the
//! records API and the scanner; truncated, corrupt and over-limit files are clear errors and
//! never panics.
#![cfg(feature = "parquet")]

use std::path::{Path, PathBuf};

use modelgate_dataset::{DatasetLimits, DatasetReader, LoadError, ScanOptions, scan_file};
use serde_json::Value;
use sha2::{Digest as _, Sha256};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/parquet")
        .join(name)
}

fn records(path: &Path, limits: &DatasetLimits) -> Result<(Vec<Value>, DatasetReader), LoadError> {
    let mut reader = DatasetReader::open(path, limits)?;
    let mut out = Vec::new();
    let mut line = 0;
    while let Some(next) = reader.next_record() {
        let record = next.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        line += 1;
        assert_eq!(record.line, line, "records are numbered by row");
        out.push(Value::Object(record.values));
    }
    assert!(reader.fatal_error().is_none());
    Ok((out, reader))
}

#[test]
fn every_codec_gives_the_same_records_and_the_file_digest() {
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("rows.expected.json")).unwrap())
            .unwrap();
    for name in [
        "rows-snappy.parquet",
        "rows-gzip.parquet",
        "rows-zstd.parquet",
        "rows-lz4.parquet",
        "rows-none.parquet",
        "rows-zstd-v2.parquet",
    ] {
        let path = fixture(name);
        let (got, reader) = records(&path, &DatasetLimits::default()).unwrap();
        assert_eq!(Value::Array(got), expected, "{name}");
        let digest: [u8; 32] = Sha256::digest(std::fs::read(&path).unwrap()).into();
        assert_eq!(reader.sha256(), digest, "{name}");
        assert_eq!(reader.format().as_str(), "parquet");
    }
}

#[test]
fn the_scanner_reads_parquet_rows_and_names_row_field_and_column() {
    let scan = scan_file(&fixture("rows-zstd.parquet"), &ScanOptions::default()).unwrap();
    assert_eq!(scan.entry.rows, 5);
    assert_eq!(scan.entry.malformed_rows, 0);
    assert_eq!(scan.entry.target_field.as_deref(), Some("output"));
    let zw = scan
        .findings
        .iter()
        .find(|f| f.kind == "invisible-character")
        .expect("zero-width space found");
    assert_eq!(
        (zw.line, zw.column, zw.field.as_str()),
        (4, Some(4), "instruction")
    );
    assert!(
        scan.findings
            .iter()
            .any(|f| f.kind == "bidi-control" && f.line == 4 && f.column == Some(12)),
        "{:#?}",
        scan.findings
    );
    assert!(
        scan.findings
            .iter()
            .any(|f| f.kind == "prompt-injection" && f.line == 5),
        "{:#?}",
        scan.findings
    );
    // Nothing is reported in the rows without hidden text.
    assert!(
        scan.findings.iter().all(|f| f.line >= 4),
        "{:#?}",
        scan.findings
    );
}

fn load_err(path: &Path, limits: &DatasetLimits) -> String {
    match DatasetReader::open(path, limits) {
        Err(e) => e.to_string(),
        Ok(mut r) => {
            while let Some(next) = r.next_record() {
                if let Err(e) = next {
                    assert!(
                        r.fatal_error().is_some(),
                        "a row error in a valid file: {e}"
                    );
                }
            }
            r.fatal_error().map(ToString::to_string).unwrap_or_default()
        }
    }
}

#[test]
fn truncated_and_over_limit_files_are_errors_naming_the_file() {
    let path = fixture("truncated.parquet");
    let e = load_err(&path, &DatasetLimits::default());
    assert!(e.starts_with(&path.display().to_string()), "{e}");
    assert!(e.contains("truncated"), "{e}");

    let big = fixture("big-page-gzip.parquet");
    assert!(records(&big, &DatasetLimits::default()).is_ok());
    let small = DatasetLimits {
        max_parquet_page_bytes: 64 * 1024,
        ..DatasetLimits::default()
    };
    let e = load_err(&big, &small);
    assert!(e.contains("over the limit of 65536"), "{e}");
    assert!(e.contains("column `text`"), "{e}");

    let narrow = DatasetLimits {
        max_fields: 3,
        ..DatasetLimits::default()
    };
    let e = load_err(&fixture("rows-snappy.parquet"), &narrow);
    assert!(e.contains("more than the limit of 3"), "{e}");

    let few = DatasetLimits {
        max_rows: 4,
        ..DatasetLimits::default()
    };
    let e = load_err(&fixture("rows-snappy.parquet"), &few);
    assert!(e.contains("5 rows"), "{e}");

    let line = DatasetLimits {
        max_line_bytes: 120,
        ..DatasetLimits::default()
    };
    let mut r = DatasetReader::open(&fixture("rows-snappy.parquet"), &line).unwrap();
    let mut too_long = Vec::new();
    while let Some(next) = r.next_record() {
        if let Err(e) = next {
            assert!(e.limit);
            too_long.push(e.line);
        }
    }
    assert!(!too_long.is_empty() && too_long.len() < 5, "{too_long:?}");
}

/// A deterministic xorshift, so failures reproduce.
fn rng(seed: u64) -> impl FnMut() -> u64 {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    }
}

#[test]
fn corrupted_files_never_panic_and_never_pass_silently() {
    let dir = tempfile::tempdir().unwrap();
    let mut errors = 0;
    for name in [
        "rows-snappy.parquet",
        "rows-gzip.parquet",
        "rows-zstd-v2.parquet",
    ] {
        let original = std::fs::read(fixture(name)).unwrap();
        for seed in 0..150u64 {
            let mut next = rng(seed + 1);
            let mut data = original.clone();
            for _ in 0..=(next() % 4) {
                let i = (next() % data.len() as u64) as usize;
                match next() % 3 {
                    0 => data[i] ^= 1 << (next() % 8),
                    1 => data[i] = (next() & 0xff) as u8,
                    _ => data[i] = 0xff,
                }
            }
            let path = dir.path().join("x.parquet");
            std::fs::write(&path, &data).unwrap();
            let e = load_err(&path, &DatasetLimits::default());
            if !e.is_empty() {
                errors += 1;
                assert!(e.contains("x.parquet"), "{e}");
            }
            // The scanner goes through the same reader.
            let _ = scan_file(&path, &ScanOptions::default());
        }
    }
    assert!(errors > 0);
}
