//! `verify_log` against an insider who holds the signing key: re-signing an edited log makes the
//! signature and provenance checks pass, so the chain and summary checks must catch the edit.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::format_push_string,
    clippy::map_unwrap_or
)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use modelgate_attest::{KeySigner, KeyType, PrivateKey};
use modelgate_eval::log::{EvalLog, read_log, write_log};
use modelgate_eval::provenance::{sign_log, signature_path};
use modelgate_eval::runner::{Quiet, RunRequest, run};
use modelgate_eval::spec::Spec;
use modelgate_eval::verify::verify_log;

fn dataset(dir: &Path) -> PathBuf {
    let path = dir.join("d.jsonl");
    let mut text = String::new();
    for i in 0..20 {
        // Every fifth question is in words: mock/calc gets those wrong.
        let input = if i % 5 == 4 {
            format!("What is {i} plus one?")
        } else {
            format!("What is {i} + 1?")
        };
        text.push_str(&format!(
            "{{\"id\":\"q{i}\",\"input\":\"{input}\",\"target\":\"{}\"}}\n",
            i + 1
        ));
    }
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs a signed eval and returns (log path, signer).
fn signed_run(dir: &Path) -> (PathBuf, KeySigner) {
    let key = PrivateKey::generate(KeyType::EcdsaP256);
    let key_path = dir.join("k.pem");
    std::fs::write(&key_path, key.to_pkcs8_pem().unwrap().as_bytes()).unwrap();
    let spec = Spec::parse(
        &format!(
            "model: mock/calc\ndataset: {{path: {}}}\nscorers: [match: {{}}]\n",
            dataset(dir).display()
        ),
        "test",
    )
    .unwrap()
    .finalize("test")
    .unwrap();
    let outcome = run(
        &RunRequest {
            spec,
            allow_unpinned: true,
            store_dir: dir.join("store"),
            log_path: Some(dir.join("log.json")),
            sign_key: Some(key_path),
            resume: None,
        },
        &(Arc::new(Quiet) as Arc<dyn modelgate_eval::runner::Observer>),
    )
    .unwrap();
    assert_eq!(outcome.summary.accuracy, Some(0.8));
    (outcome.log_path, KeySigner::new(key))
}

/// Rewrites `log` with `edit` applied to its parsed form and re-signs it with `signer`.
fn rewrite_and_resign(
    log: &Path,
    signer: &KeySigner,
    edit: impl FnOnce(&mut EvalLog, &mut Vec<(u64, String, String, Vec<u8>)>),
) {
    let (mut parsed, _) = read_log(log).unwrap();
    let mut samples: Vec<(u64, String, String, Vec<u8>)> = parsed
        .samples
        .drain(..)
        .map(|s| (s.seq, s.id, s.chain, s.record.get().as_bytes().to_vec()))
        .collect();
    edit(&mut parsed, &mut samples);
    write_log(log, &parsed.run, &parsed.summary, &mut |emit| {
        for (seq, id, chain, record) in &samples {
            emit(*seq, id, chain, record)?;
        }
        Ok(())
    })
    .unwrap();
    let (digest, _) = modelgate_dataset::registry::hash_file(log).unwrap();
    let bundle = sign_log(log, &modelgate_core::to_hex(&digest), &parsed.run, signer).unwrap();
    std::fs::write(signature_path(log), bundle).unwrap();
}

fn failed_checks(log: &Path, signer: &KeySigner) -> Vec<&'static str> {
    let report = verify_log(log, None, signer.public_key()).unwrap();
    report
        .checks
        .iter()
        .filter(|c| !c.ok)
        .map(|c| c.name)
        .collect()
}

#[test]
fn untouched_log_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let (log, signer) = signed_run(dir.path());
    assert!(failed_checks(&log, &signer).is_empty());
}

#[test]
fn resigned_inflated_summary_fails_the_summary_check() {
    let dir = tempfile::tempdir().unwrap();
    let (log, signer) = signed_run(dir.path());
    rewrite_and_resign(&log, &signer, |l, _| {
        l.summary.accuracy = Some(0.999);
        l.summary.scorers[0].mean = 0.999;
    });
    assert_eq!(failed_checks(&log, &signer), vec!["summary"]);
}

#[test]
fn resigned_edited_record_fails_the_chain_check() {
    let dir = tempfile::tempdir().unwrap();
    let (log, signer) = signed_run(dir.path());
    rewrite_and_resign(&log, &signer, |_, samples| {
        let rec = String::from_utf8(samples[4].3.clone()).unwrap();
        let edited = rec.replace("\"value\":0.0", "\"value\":1.0");
        assert_ne!(edited, rec, "sample 4 was scored wrong");
        samples[4].3 = edited.into_bytes();
    });
    let failed = failed_checks(&log, &signer);
    assert!(failed.contains(&"chain"), "{failed:?}");
}

#[test]
fn resigned_deleted_and_reordered_records_fail_the_chain_check() {
    let dir = tempfile::tempdir().unwrap();
    let (log, signer) = signed_run(dir.path());
    rewrite_and_resign(&log, &signer, |_, samples| {
        samples.remove(4);
    });
    assert!(failed_checks(&log, &signer).contains(&"chain"));
    let (log2, signer2) = {
        let d = dir.path().join("two");
        std::fs::create_dir_all(&d).unwrap();
        signed_run(&d)
    };
    rewrite_and_resign(&log2, &signer2, |_, samples| {
        samples.swap(1, 2);
    });
    assert!(failed_checks(&log2, &signer2).contains(&"chain"));
}

#[test]
fn another_key_fails_the_signature_check() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = signed_run(dir.path());
    let other = KeySigner::new(PrivateKey::generate(KeyType::EcdsaP256));
    let failed = failed_checks(&log, &other);
    assert!(failed.contains(&"signature"), "{failed:?}");
}
