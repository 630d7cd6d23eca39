//! Seeds a store for the ledger benchmark: ARTIFACTS registered artifacts and ENTRIES ledger
//! entries in all (the first two per artifact are its intake and scan; the rest are spread
//! over the artifacts as scan, eval-run and approval events), with a signed checkpoint every
//! 1000 entries when a key is given. Prints the seeding time.
//!
//! `cargo run --release -p modelgate-store --example seed_ledger -- DIR [ARTIFACTS [ENTRIES
//! [PRIVATE_KEY.pem]]]` (defaults: 10000 artifacts, 1000000 entries, no key).

// An example program reports on stdout.
#![allow(clippy::print_stdout)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use modelgate_attest::{KeySigner, PrivateKey};
use modelgate_core::{Severity, to_hex};
use modelgate_store::{
    ContentKind, DEFAULT_CHECKPOINT_INTERVAL, EntryKind, Ledger, NewArtifact, ScanSummary,
    SqliteStore, StoreError,
};
use sha2::{Digest, Sha256};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let Some(dir) = args.get(1).map(PathBuf::from) else {
        return Err("usage: seed_ledger DIR [ARTIFACTS [ENTRIES [PRIVATE_KEY.pem]]]".into());
    };
    let artifacts: u64 = args.get(2).map_or(Ok(10_000), |a| a.parse())?;
    let entries: u64 = args.get(3).map_or(Ok(1_000_000), |a| a.parse())?;
    let mut store = SqliteStore::open_dir(&dir)?;
    if let Some(key) = args.get(4) {
        let key = PrivateKey::from_pem_file(std::path::Path::new(key))?;
        store.set_ledger_signer(Arc::new(KeySigner::new(key)), DEFAULT_CHECKPOINT_INTERVAL);
    }
    let digest = |i: u64| format!("sha256:{}", to_hex(&Sha256::digest(i.to_be_bytes())));
    let start = Instant::now();
    let report = r#"{"schema_version":1,"findings":[],"errors":[]}"#;
    for chunk in (0..artifacts).collect::<Vec<_>>().chunks(1000) {
        store.transaction(|tx| {
            for &i in chunk {
                let d = digest(i);
                tx.insert_artifact(&NewArtifact {
                    digest: d.clone(),
                    name: format!("model-{}", i % (artifacts / 3).max(1)),
                    content_kind: ContentKind::Directory,
                    quarantine_path: format!("quarantine/sha256/{}", &d[7..]),
                    source: Some(format!("https://example.invalid/models/{i}")),
                    submitted_at: "2026-01-01T00:00:00Z".into(),
                    files: 6,
                    bytes: 1 << 30,
                    scan: ScanSummary {
                        max_severity: (i % 7 == 0).then_some(Severity::High),
                        findings: u64::from(i % 7 == 0),
                        errors: 0,
                    },
                    scan_report: report.into(),
                    claimed_results: None,
                })?;
                tx.append(
                    EntryKind::Intake,
                    &d,
                    format!(r#"{{"name":"model-{i}","files":6}}"#).as_bytes(),
                )?;
                tx.append(
                    EntryKind::Scan,
                    &d,
                    br#"{"max_severity":null,"findings":0}"#,
                )?;
            }
            Ok::<_, StoreError>(())
        })?;
    }
    let kinds = [EntryKind::Scan, EntryKind::EvalRun, EntryKind::Approval];
    let mut written = store.head()?.entries;
    let mut n = 0u64;
    while written < entries {
        let batch = (entries - written).min(10_000);
        store.transaction(|tx| {
            for _ in 0..batch {
                let d = digest(n % artifacts.max(1));
                let payload = format!(
                    r#"{{"run":"{n:016x}","task":"arith","accuracy":0.{:03},"log_sha256":"{}"}}"#,
                    n % 1000,
                    "ab".repeat(32)
                );
                tx.append(kinds[(n % 3) as usize], &d, payload.as_bytes())?;
                n += 1;
            }
            Ok::<_, StoreError>(())
        })?;
        written = store.head()?.entries;
    }
    let head = store.head()?;
    println!(
        "seeded {artifacts} artifacts and {} ledger entries in {:.1} s (head {})",
        head.entries,
        start.elapsed().as_secs_f64(),
        head.hash
    );
    Ok(())
}
