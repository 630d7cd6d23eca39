//! The evidence ledger and the artifact registry through the public API, and tampering through
//! raw SQL on the database file (what an attacker with write access to the store can do).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::cast_possible_wrap,
    clippy::cast_sign_loss,
    clippy::many_single_char_names
)]

use std::path::Path;
use std::sync::{Arc, Barrier};

use modelgate_attest::{KeySigner, KeyType, PrivateKey};
use modelgate_core::{Severity, to_hex};
use modelgate_store::{
    ArtifactState, BreakReason, ContentKind, CopyLimits, EntryKind, LEDGER_GENESIS, Ledger,
    NewArtifact, Quarantine, QuarantineErrorKind, SCHEMA_VERSION, ScanSummary, SqliteStore,
    StoreError, entry_hash,
};
use rusqlite::{Connection, params};

fn store(dir: &Path) -> SqliteStore {
    SqliteStore::open_dir(dir).unwrap()
}

/// Appends `n` entries about subjects `a`/`b` alternately.
fn fill(s: &mut SqliteStore, n: u64) {
    for i in 0..n {
        let subject = if i % 2 == 0 { "a" } else { "b" };
        s.append(
            EntryKind::Scan,
            subject,
            format!(r#"{{"i":{i}}}"#).as_bytes(),
        )
        .unwrap();
    }
}

/// A raw connection with the append-only triggers dropped, as an attacker would.
fn raw(dir: &Path) -> Connection {
    let c = Connection::open(dir.join(SqliteStore::FILE_NAME)).unwrap();
    c.execute_batch(
        "DROP TRIGGER IF EXISTS ledger_no_update; DROP TRIGGER IF EXISTS ledger_no_delete;",
    )
    .unwrap();
    c
}

/// Recomputes `prev`/`hash` of every entry from `from` on and the head, as an attacker who
/// knows the format would after editing.
fn rechain(c: &Connection, from: u64) {
    let mut prev: [u8; 32] = if from == 0 {
        LEDGER_GENESIS
    } else {
        let h: String = c
            .query_row("SELECT hash FROM ledger WHERE seq = ?1", [from - 1], |r| {
                r.get(0)
            })
            .unwrap();
        hex32(&h)
    };
    let rows: Vec<(i64, String, String, String, Vec<u8>)> = c
        .prepare(
            "SELECT seq, time, kind, subject, payload FROM ledger WHERE seq >= ?1 ORDER BY seq",
        )
        .unwrap()
        .query_map([from], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut n = from;
    for (seq, time, kind, subject, payload) in rows {
        let h = entry_hash(&prev, seq as u64, &kind, &subject, &time, &payload);
        c.execute(
            "UPDATE ledger SET prev = ?2, hash = ?3 WHERE seq = ?1",
            params![seq, to_hex(&prev), to_hex(&h)],
        )
        .unwrap();
        prev = h;
        n = seq as u64 + 1;
    }
    c.execute(
        "UPDATE ledger_head SET entries = ?1, hash = ?2",
        params![n as i64, to_hex(&prev)],
    )
    .unwrap();
}

fn hex32(h: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&h[2 * i..2 * i + 2], 16).unwrap();
    }
    out
}

fn first_break(s: &SqliteStore) -> (u64, BreakReason) {
    let b = s.verify(None).unwrap().first_break.expect("a break");
    (b.seq, b.reason)
}

#[test]
fn append_read_stream_export_and_verify() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = store(dir.path());
    assert_eq!(s.head().unwrap().entries, 0);
    assert!(s.verify(None).unwrap().intact());
    fill(&mut s, 10);
    let head = s.head().unwrap();
    assert_eq!(head.entries, 10);
    let all = s.entries(0, 100).unwrap();
    assert_eq!(all.len(), 10);
    assert_eq!(all[9].hash, head.hash);
    assert_eq!(all[0].prev, "0".repeat(64));
    for w in all.windows(2) {
        assert_eq!(w[1].prev, w[0].hash);
        assert_eq!(w[1].seq, w[0].seq + 1);
    }
    assert_eq!(s.entries(8, 5).unwrap().len(), 2);
    let b: Vec<u64> = s
        .subject_entries("b", 3)
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(b, [5, 7, 9]);
    let mut streamed = 0;
    s.for_each_entry(3, &mut |e| {
        assert_eq!(e.seq, 3 + streamed);
        streamed += 1;
        Ok(())
    })
    .unwrap();
    assert_eq!(streamed, 7);
    let v = s.verify(None).unwrap();
    assert_eq!((v.entries, v.checkpoints, v.first_break), (10, 0, None));

    // The export carries every field; the hash recomputes from it alone.
    let mut out = Vec::new();
    assert_eq!(s.export_jsonl(&mut out).unwrap(), 10);
    let lines: Vec<serde_json::Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut prev = LEDGER_GENESIS;
    for l in &lines {
        let h = entry_hash(
            &prev,
            l["seq"].as_u64().unwrap(),
            l["kind"].as_str().unwrap(),
            l["subject"].as_str().unwrap(),
            l["time"].as_str().unwrap(),
            l["payload"].as_str().unwrap().as_bytes(),
        );
        assert_eq!(l["hash"].as_str().unwrap(), to_hex(&h));
        prev = h;
    }

    assert!(matches!(
        s.append(EntryKind::Scan, "a", b"not json"),
        Err(StoreError::InvalidPayload(_))
    ));
    assert_eq!(s.head().unwrap().entries, 10);
}

#[test]
fn the_api_cannot_rewrite_history() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = store(dir.path());
    fill(&mut s, 3);
    let c = Connection::open(dir.path().join(SqliteStore::FILE_NAME)).unwrap();
    for sql in [
        "UPDATE ledger SET payload = x'7b7d' WHERE seq = 1",
        "DELETE FROM ledger WHERE seq = 2",
    ] {
        let e = c.execute(sql, []).unwrap_err().to_string();
        assert!(e.contains("append-only"), "{e}");
    }
}

#[test]
fn edited_entry_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = store(dir.path());
    fill(&mut s, 6);
    raw(dir.path())
        .execute(
            "UPDATE ledger SET payload = ?1 WHERE seq = 3",
            [b"{\"i\":99}".to_vec()],
        )
        .unwrap();
    let (seq, reason) = first_break(&s);
    assert_eq!(seq, 3);
    assert!(
        matches!(reason, BreakReason::HashMismatch { .. }),
        "{reason:?}"
    );

    // Editing a field and recomputing that entry's hash breaks the link of the next one.
    let dir = tempfile::tempdir().unwrap();
    let mut s = store(dir.path());
    fill(&mut s, 6);
    let c = raw(dir.path());
    c.execute("UPDATE ledger SET subject = 'z' WHERE seq = 2", [])
        .unwrap();
    let (time, kind, payload, prev): (String, String, Vec<u8>, String) = c
        .query_row(
            "SELECT time, kind, payload, prev FROM ledger WHERE seq = 2",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    let h = entry_hash(&hex32(&prev), 2, &kind, "z", &time, &payload);
    c.execute("UPDATE ledger SET hash = ?1 WHERE seq = 2", [to_hex(&h)])
        .unwrap();
    let (seq, reason) = first_break(&s);
    assert_eq!(seq, 3);
    assert!(
        matches!(reason, BreakReason::PrevMismatch { .. }),
        "{reason:?}"
    );
}

#[test]
fn deleted_entries_are_named() {
    // In the middle.
    let dir = tempfile::tempdir().unwrap();
    let mut s = store(dir.path());
    fill(&mut s, 6);
    raw(dir.path())
        .execute("DELETE FROM ledger WHERE seq = 2", [])
        .unwrap();
    assert_eq!(first_break(&s), (2, BreakReason::Missing { found: 3 }));

    // In the middle, renumbering the rest to hide the gap.
    let dir = tempfile::tempdir().unwrap();
    let mut s = store(dir.path());
    fill(&mut s, 6);
    let c = raw(dir.path());
    c.execute("DELETE FROM ledger WHERE seq = 2", []).unwrap();
    c.execute("UPDATE ledger SET seq = seq - 1 WHERE seq > 2", [])
        .unwrap();
    let (seq, reason) = first_break(&s);
    assert_eq!(seq, 2);
    assert!(
        matches!(reason, BreakReason::PrevMismatch { .. }),
        "{reason:?}"
    );

    // At the end: every entry links, the head disagrees.
    let dir = tempfile::tempdir().unwrap();
    let mut s = store(dir.path());
    fill(&mut s, 6);
    raw(dir.path())
        .execute("DELETE FROM ledger WHERE seq = 5", [])
        .unwrap();
    let (seq, reason) = first_break(&s);
    assert_eq!(seq, 5);
    assert!(
        matches!(
            reason,
            BreakReason::HeadMismatch {
                recorded_entries: 6,
                found_entries: 5,
                ..
            }
        ),
        "{reason:?}"
    );
}

#[test]
fn inserted_entry_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = store(dir.path());
    fill(&mut s, 6);
    let c = raw(dir.path());
    // Make room at 3 (in two steps: seq is the primary key), then insert a forged entry that
    // links to entry 2 correctly but cannot know its own place in the chain.
    c.execute("UPDATE ledger SET seq = seq + 100 WHERE seq >= 3", [])
        .unwrap();
    c.execute("UPDATE ledger SET seq = seq - 99 WHERE seq >= 100", [])
        .unwrap();
    let prev: String = c
        .query_row("SELECT hash FROM ledger WHERE seq = 2", [], |r| r.get(0))
        .unwrap();
    c.execute(
        "INSERT INTO ledger (seq, time, kind, subject, payload, prev, hash) \
         VALUES (3, '2030-01-01T00:00:00Z', 'approval', 'a', x'7b7d', ?1, ?2)",
        params![prev, "ab".repeat(32)],
    )
    .unwrap();
    let (seq, reason) = first_break(&s);
    assert_eq!(seq, 3);
    assert!(
        matches!(reason, BreakReason::HashMismatch { .. }),
        "{reason:?}"
    );

    // With its own hash computed correctly, the next (moved) entry is the first bad one.
    let h = entry_hash(
        &hex32(&prev),
        3,
        "approval",
        "a",
        "2030-01-01T00:00:00Z",
        b"{}",
    );
    c.execute("UPDATE ledger SET hash = ?1 WHERE seq = 3", [to_hex(&h)])
        .unwrap();
    let (seq, reason) = first_break(&s);
    assert_eq!(seq, 4);
    assert!(
        matches!(reason, BreakReason::PrevMismatch { .. }),
        "{reason:?}"
    );
}

#[test]
fn reordered_entries_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = store(dir.path());
    fill(&mut s, 6);
    let c = raw(dir.path());
    c.execute("UPDATE ledger SET seq = 100 WHERE seq = 1", [])
        .unwrap();
    c.execute("UPDATE ledger SET seq = 1 WHERE seq = 4", [])
        .unwrap();
    c.execute("UPDATE ledger SET seq = 4 WHERE seq = 100", [])
        .unwrap();
    let (seq, reason) = first_break(&s);
    assert_eq!(seq, 1);
    assert!(
        matches!(reason, BreakReason::PrevMismatch { .. }),
        "{reason:?}"
    );

    // Swapping the contents in place (seq kept) is an edit of both.
    let dir = tempfile::tempdir().unwrap();
    let mut s = store(dir.path());
    fill(&mut s, 6);
    let c = raw(dir.path());
    c.execute_batch(
        "UPDATE ledger SET payload = (SELECT payload FROM ledger WHERE seq = 4) WHERE seq = 1;
         UPDATE ledger SET payload = x'7b2269223a317d' WHERE seq = 4;",
    )
    .unwrap();
    let (seq, reason) = first_break(&s);
    assert_eq!(seq, 1);
    assert!(
        matches!(reason, BreakReason::HashMismatch { .. }),
        "{reason:?}"
    );
}

#[test]
fn unknown_kind_with_a_valid_hash_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = store(dir.path());
    fill(&mut s, 3);
    let c = raw(dir.path());
    c.execute("UPDATE ledger SET kind = 'mystery' WHERE seq = 1", [])
        .unwrap();
    rechain(&c, 1);
    assert_eq!(
        first_break(&s),
        (1, BreakReason::UnknownKind("mystery".into()))
    );
    assert!(matches!(s.entries(0, 10), Err(StoreError::Corrupt { .. })));
}

fn signer() -> Arc<KeySigner> {
    Arc::new(KeySigner::new(PrivateKey::generate(KeyType::EcdsaP256)))
}

#[test]
fn checkpoints_are_signed_every_n_entries_and_on_demand() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = store(dir.path());
    assert!(matches!(s.checkpoint(), Err(StoreError::NoLedgerKey)));
    let key = signer();
    s.set_ledger_signer(key.clone(), 3);
    assert_eq!(
        s.checkpoint().unwrap(),
        None,
        "nothing to sign in an empty ledger"
    );
    fill(&mut s, 7);
    // 0 1 2 [3] 4 5 6 [7] 8: a checkpoint after each run of three entries.
    let kinds: Vec<EntryKind> = s.entries(0, 100).unwrap().iter().map(|e| e.kind).collect();
    assert_eq!(kinds.len(), 9);
    assert_eq!(kinds[3], EntryKind::Checkpoint);
    assert_eq!(kinds[7], EntryKind::Checkpoint);
    let on_demand = s.checkpoint().unwrap().unwrap();
    assert_eq!(on_demand.seq, 9);
    assert_eq!(
        s.checkpoint().unwrap(),
        None,
        "ends in a checkpoint already"
    );

    let v = s.verify(Some(key.public_key())).unwrap();
    assert!(v.intact(), "{:?}", v.first_break);
    assert_eq!(
        (v.checkpoints, v.checkpoints_verified, v.signed_through),
        (3, 3, Some(8))
    );
    let unkeyed = s.verify(None).unwrap();
    assert_eq!((unkeyed.checkpoints, unkeyed.checkpoints_verified), (3, 0));
    let other = PrivateKey::generate(KeyType::EcdsaP256).public_key();
    let wrong = s.verify(Some(&other)).unwrap().first_break.unwrap();
    assert_eq!(
        (wrong.seq, wrong.reason),
        (3, BreakReason::CheckpointSignature)
    );
}

#[test]
fn rewritten_history_with_forged_checkpoints_is_detected_by_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let key = signer();
    {
        let mut s = store(dir.path());
        s.set_ledger_signer(key.clone(), 3);
        fill(&mut s, 6);
    }
    // The attacker edits entry 1, recomputes the whole chain and re-signs every checkpoint
    // with a key of their own: the chain verifies, the signatures do not.
    let c = raw(dir.path());
    c.execute("UPDATE ledger SET payload = x'7b7d' WHERE seq = 1", [])
        .unwrap();
    rechain(&c, 1);
    let forger = KeySigner::new(PrivateKey::generate(KeyType::EcdsaP256));
    let cps: Vec<i64> = c
        .prepare("SELECT seq FROM ledger WHERE kind = 'checkpoint' ORDER BY seq")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for cp in cps {
        let head: String = c
            .query_row("SELECT hash FROM ledger WHERE seq = ?1", [cp - 1], |r| {
                r.get(0)
            })
            .unwrap();
        let statement = format!(
            r#"{{"_type":"https://modelgate.dev/ledger-checkpoint/v1","seq":{},"head":"{head}"}}"#,
            cp - 1
        );
        let env = modelgate_attest::Envelope::sign(
            modelgate_store::CHECKPOINT_PAYLOAD_TYPE,
            statement.into_bytes(),
            &forger,
        )
        .unwrap();
        c.execute(
            "UPDATE ledger SET payload = ?2 WHERE seq = ?1",
            params![cp, env.to_json().into_bytes()],
        )
        .unwrap();
        rechain(&c, cp as u64);
    }
    let s = store(dir.path());
    assert!(
        s.verify(None).unwrap().intact(),
        "the chain itself was recomputed"
    );
    let b = s
        .verify(Some(key.public_key()))
        .unwrap()
        .first_break
        .unwrap();
    assert_eq!((b.seq, b.reason), (3, BreakReason::CheckpointSignature));

    // A checkpoint that signs another head than the chain has is named as such.
    let c = raw(dir.path());
    c.execute("UPDATE ledger SET payload = x'7b7d' WHERE seq = 0", [])
        .unwrap();
    rechain(&c, 0);
    let b = s.verify(None).unwrap().first_break.unwrap();
    assert_eq!(b.seq, 3);
    assert!(matches!(
        b.reason,
        BreakReason::CheckpointMismatch { signed_seq: 2, .. }
    ));
}

fn new_artifact(hex: char, name: &str) -> NewArtifact {
    NewArtifact {
        digest: format!("sha256:{}", hex.to_string().repeat(64)),
        name: name.into(),
        content_kind: ContentKind::Directory,
        quarantine_path: format!("quarantine/sha256/{}", hex.to_string().repeat(64)),
        source: Some("https://example.invalid/m".into()),
        submitted_at: "2026-01-01T00:00:00Z".into(),
        files: 2,
        bytes: 10,
        scan: ScanSummary {
            max_severity: Some(Severity::Low),
            findings: 1,
            errors: 0,
        },
        scan_report: "{}".into(),
        claimed_results: Some(r#"{"accuracy":0.999}"#.into()),
    }
}

#[test]
fn registry_transitions_append_ledger_entries_and_rejections_are_permanent() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = store(dir.path());
    let a = new_artifact('a', "bert");
    s.transaction(|tx| {
        tx.insert_artifact(&a)?;
        tx.append(EntryKind::Intake, &a.digest, b"{}")
    })
    .unwrap();
    let got = s.artifact(&a.digest).unwrap().unwrap();
    assert_eq!(
        (got.state, got.scan.max_severity),
        (ArtifactState::Quarantined, Some(Severity::Low))
    );
    assert_eq!(s.find_artifacts("bert").unwrap().len(), 1);
    assert_eq!(s.find_artifacts(&a.digest).unwrap().len(), 1);
    assert_eq!(s.scan_report(&a.digest).unwrap().as_deref(), Some("{}"));

    // A failing transaction leaves nothing behind.
    let dup: Result<(), StoreError> = s.transaction(|tx| {
        tx.append(EntryKind::Intake, &a.digest, b"{}")?;
        tx.insert_artifact(&a)
    });
    assert!(matches!(dup, Err(StoreError::DuplicateArtifact { .. })));
    assert_eq!(s.head().unwrap().entries, 1);

    let ev = serde_json::json!({"gate": "passed"});
    let skip = s.transaction(|tx| {
        tx.promote(
            &a.digest,
            ArtifactState::Quarantined,
            ArtifactState::Production,
            &ev,
        )
    });
    assert!(matches!(skip, Err(StoreError::InvalidTransition { .. })));
    let e = s
        .transaction(|tx| {
            tx.promote(
                &a.digest,
                ArtifactState::Quarantined,
                ArtifactState::Staging,
                &ev,
            )
        })
        .unwrap();
    assert_eq!(e.kind, EntryKind::Promotion);
    let stale = s.transaction(|tx| {
        tx.promote(
            &a.digest,
            ArtifactState::Quarantined,
            ArtifactState::Staging,
            &ev,
        )
    });
    assert!(matches!(stale, Err(StoreError::StateConflict { .. })));
    let r = s
        .transaction(|tx| tx.reject(&a.digest, ArtifactState::Staging, "backdoor", &ev))
        .unwrap();
    let rej = s.rejected_digest(&a.digest).unwrap().unwrap();
    assert_eq!((rej.reason.as_str(), rej.ledger_seq), ("backdoor", r.seq));
    let history: Vec<EntryKind> = s
        .subject_entries(&a.digest, 10)
        .unwrap()
        .iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        history,
        [
            EntryKind::Intake,
            EntryKind::Promotion,
            EntryKind::Rejection
        ]
    );
    let payload: serde_json::Value = serde_json::from_slice(&r.payload).unwrap();
    assert_eq!(payload["from"], "staging");
    assert_eq!(payload["to"], "rejected");

    // Re-registering a rejected digest is refused, even after the row is gone.
    let c = Connection::open(dir.path().join(SqliteStore::FILE_NAME)).unwrap();
    c.execute("DELETE FROM artifacts", []).unwrap();
    let again = s.transaction(|tx| tx.insert_artifact(&a));
    assert!(matches!(again, Err(StoreError::RejectedDigest { .. })));
    let e = c
        .execute("DELETE FROM rejected_digests", [])
        .unwrap_err()
        .to_string();
    assert!(e.contains("permanent"), "{e}");
    assert!(s.verify(None).unwrap().intact());
}

#[test]
fn concurrent_promote_and_reject_cannot_both_succeed() {
    for round in 0..8 {
        let dir = tempfile::tempdir().unwrap();
        let a = new_artifact('c', "m");
        store(dir.path())
            .transaction(|tx| tx.insert_artifact(&a))
            .unwrap();
        let barrier = Arc::new(Barrier::new(2));
        let run = |promote: bool| {
            let (dir, barrier, digest) = (dir.path().to_owned(), barrier.clone(), a.digest.clone());
            std::thread::spawn(move || {
                let mut s = store(&dir);
                barrier.wait();
                let ev = serde_json::json!({});
                s.transaction(|tx| {
                    // Check-then-write under the write lock, as promote and reject do.
                    let state = tx.artifact(&digest)?.map(|x| x.state);
                    let from = state.unwrap_or(ArtifactState::Quarantined);
                    if promote {
                        tx.promote(&digest, from, ArtifactState::Staging, &ev)
                            .map(|_| ())
                    } else {
                        tx.reject(&digest, ArtifactState::Quarantined, "race", &ev)
                            .map(|_| ())
                    }
                })
            })
        };
        let (p, r) = (run(true), run(false));
        let (p, r) = (p.join().unwrap(), r.join().unwrap());
        assert!(
            p.is_ok() != r.is_ok(),
            "round {round}: promote {p:?}, reject {r:?}"
        );
        let loser = if p.is_ok() { r } else { p };
        assert!(
            matches!(
                loser,
                Err(StoreError::StateConflict { .. } | StoreError::InvalidTransition { .. })
            ),
            "{loser:?}"
        );
        let s = store(dir.path());
        assert_eq!(s.head().unwrap().entries, 1);
        assert!(s.verify(None).unwrap().intact());
    }
}

#[test]
fn schema_version_two_is_checked() {
    let dir = tempfile::tempdir().unwrap();
    drop(store(dir.path()));
    let c = Connection::open(dir.path().join(SqliteStore::FILE_NAME)).unwrap();
    c.execute("UPDATE schema_version SET version = 1", [])
        .unwrap();
    let e = SqliteStore::open_dir(dir.path()).unwrap_err();
    assert!(
        matches!(e, StoreError::SchemaVersion { found: 1, expected, .. } if expected == SCHEMA_VERSION)
    );
    assert_eq!(SCHEMA_VERSION, 2);
}

#[test]
fn quarantine_copies_without_links_and_cleans_leftovers() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("model");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    std::fs::create_dir_all(src.join(".git")).unwrap();
    std::fs::write(src.join("config.json"), b"{}").unwrap();
    std::fs::write(src.join("sub/weights.bin"), b"0123456789").unwrap();
    std::fs::write(src.join("sub/evaluation_results.json"), b"{\"acc\":1}").unwrap();
    std::fs::write(src.join(".git/HEAD"), b"ref").unwrap();
    std::os::unix::fs::symlink("/etc/passwd", src.join("passwd")).unwrap();
    let fifo = src.join("pipe");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );

    let store_dir = dir.path().join("store");
    let (q, cleaned) = Quarantine::open(&store_dir).unwrap();
    assert_eq!(cleaned, 0);
    let staged = q.stage(&src, &CopyLimits::default()).unwrap();
    assert_eq!((staged.files(), staged.bytes()), (3, 21));
    let mut skipped: Vec<&str> = staged.skipped().iter().map(|s| s.path.as_str()).collect();
    skipped.sort_unstable();
    assert_eq!(skipped, [".git", "passwd", "pipe"]);
    assert_eq!(staged.claim_files(), ["sub/evaluation_results.json"]);
    let manifest = staged.manifest().unwrap();
    assert_eq!(manifest.file_count(), 3);
    let hex = to_hex(&manifest.root_digest());

    // A second intake's staging is live (locked): a concurrent open must not remove it.
    let live = q.stage(&src, &CopyLimits::default()).unwrap();
    assert_eq!(Quarantine::open(&store_dir).unwrap().1, 0);
    assert!(live.content_path().exists());
    drop(live);

    let done = staged.commit(&q, &hex).unwrap();
    assert_eq!(done.relative, format!("quarantine/sha256/{hex}"));
    assert_eq!(
        std::fs::read(done.path.join("sub/weights.bin")).unwrap(),
        b"0123456789"
    );
    assert!(
        std::fs::read_dir(store_dir.join("quarantine/tmp"))
            .unwrap()
            .next()
            .is_none()
    );

    // A leftover from a dead intake (nobody holds its lock) goes on the next open.
    std::fs::create_dir_all(store_dir.join("quarantine/tmp/999-dead/x")).unwrap();
    assert_eq!(Quarantine::open(&store_dir).unwrap().1, 1);

    // An orphan copy under the digest (registered never) is replaced by the next commit.
    let again = q.stage(&src, &CopyLimits::default()).unwrap();
    std::fs::write(done.path.join("stray"), b"x").unwrap();
    let done2 = again.commit(&q, &hex).unwrap();
    assert!(!done2.path.join("stray").exists());

    // Caps and refusals.
    let tight = CopyLimits {
        max_bytes: 20,
        ..CopyLimits::default()
    };
    let e = q.stage(&src, &tight).unwrap_err();
    assert!(matches!(e.kind, QuarantineErrorKind::TooLarge(20)), "{e}");
    let e = q
        .stage(&src.join("passwd"), &CopyLimits::default())
        .unwrap_err();
    assert!(matches!(e.kind, QuarantineErrorKind::Unsupported(_)), "{e}");
    let single = q
        .stage(&src.join("config.json"), &CopyLimits::default())
        .unwrap();
    assert_eq!(single.content_kind(), ContentKind::File);
    assert!(single.content_path().ends_with("config.json"));
    assert!(
        std::fs::read_dir(store_dir.join("quarantine/tmp"))
            .unwrap()
            .count()
            == 1
    );
    drop(single);
    assert!(
        std::fs::read_dir(store_dir.join("quarantine/tmp"))
            .unwrap()
            .next()
            .is_none()
    );
}
