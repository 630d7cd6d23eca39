//! `modelgate intake`, `registry list|show` and `ledger verify|export|checkpoint` end to end:
//! clean and hostile artifacts, untrusted claims, refused re-submission of a rejected digest,
//! tampering caught by `ledger verify`, forged checkpoints, and a kill during intake.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use modelgate_store::{ArtifactState, SqliteStore};
use serde_json::Value;
use support::{expect, repo_root, stderr, stdout};

fn store_arg(dir: &Path) -> String {
    dir.join("store").to_string_lossy().into_owned()
}

/// A small clean model directory that carries a forged results file.
fn clean_model(dir: &Path) -> PathBuf {
    let m = dir.join("clean-model");
    std::fs::create_dir_all(&m).unwrap();
    std::fs::write(m.join("config.json"), br#"{"model_type":"bert"}"#).unwrap();
    std::fs::write(
        m.join("evaluation_results.json"),
        br#"{"safety":{"accuracy":0.999}}"#,
    )
    .unwrap();
    m
}

fn json(out: &std::process::Output) -> Value {
    serde_json::from_str(&stdout(out)).unwrap()
}

#[test]
fn intake_clean_and_hostile_then_list_and_show() {
    let tmp = tempfile::tempdir().unwrap();
    let store = store_arg(tmp.path());
    let model = clean_model(tmp.path());
    let m = model.to_str().unwrap();
    let out = expect(
        &[
            "intake",
            m,
            "--name",
            "bert",
            "--source",
            "https://example.invalid/bert",
            "--store",
            &store,
            "--format",
            "json",
        ],
        tmp.path(),
        0,
    );
    let clean = json(&out);
    assert_eq!(clean["state"], "quarantined");
    assert_eq!(clean["scan"]["max_severity"], Value::Null);
    assert_eq!(clean["claimed_results"], true);
    let digest = clean["digest"].as_str().unwrap().to_owned();
    // The digest is the manifest root digest of the artifact, as `modelgate hash` prints it.
    let hash = expect(&["hash", m, "--format", "json"], tmp.path(), 0);
    assert_eq!(
        format!(
            "sha256:{}",
            json(&hash)["root_digest"]["sha256"].as_str().unwrap()
        ),
        digest
    );
    // The copy is in the content-addressed quarantine; the source was never touched.
    let copy = tmp
        .path()
        .join("store")
        .join(clean["quarantine_path"].as_str().unwrap());
    assert!(copy.join("config.json").is_file());
    assert!(copy.ends_with(digest.trim_start_matches("sha256:")));

    let hostile = repo_root().join("examples/model-repo");
    let out = expect(
        &[
            "intake",
            hostile.to_str().unwrap(),
            "--name",
            "hostile",
            "--store",
            &store,
        ],
        tmp.path(),
        0,
    );
    let text = stdout(&out);
    assert!(text.contains("max severity critical"), "{text}");

    let out = expect(
        &["registry", "list", "--store", &store, "--format", "json"],
        tmp.path(),
        0,
    );
    let list = json(&out);
    assert_eq!(list.as_array().unwrap().len(), 2);
    let out = expect(
        &["registry", "list", "--store", &store, "--state", "staging"],
        tmp.path(),
        0,
    );
    assert_eq!(stdout(&out), "no artifacts\n");

    let out = expect(
        &[
            "registry", "show", "bert", "--store", &store, "--format", "json",
        ],
        tmp.path(),
        0,
    );
    let shown = json(&out);
    let a = &shown[0];
    assert_eq!(a["digest"], digest.as_str());
    assert_eq!(a["claimed_results"]["untrusted"], true);
    let claim = &a["claimed_results"]["claim"]["claims"][0];
    assert_eq!(claim["origin"], "artifact:evaluation_results.json");
    assert_eq!(claim["content"]["safety"]["accuracy"], 0.999);
    let kinds: Vec<&str> = a["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["intake", "scan"]);

    let out = expect(
        &["registry", "show", "hostile", "--store", &store],
        tmp.path(),
        0,
    );
    let text = stdout(&out);
    assert!(text.contains("scan:       critical"), "{text}");
    assert!(text.contains("MG101"), "{text}");
    let out = expect(
        &["registry", "show", &digest, "--store", &store],
        tmp.path(),
        0,
    );
    assert!(stdout(&out).contains("UNTRUSTED"));

    // The same bytes again: already registered, nothing new recorded.
    let out = expect(
        &["intake", m, "--name", "again", "--store", &store],
        tmp.path(),
        2,
    );
    assert!(
        stderr(&out).contains("registered already"),
        "{}",
        stderr(&out)
    );

    let out = expect(&["ledger", "verify", "--store", &store], tmp.path(), 0);
    let text = stdout(&out);
    assert!(text.contains("ledger intact: 4 entries"), "{text}");
    assert!(text.contains("no checkpoints"), "{text}");

    let export = tmp.path().join("ledger.jsonl");
    expect(
        &[
            "ledger",
            "export",
            "--store",
            &store,
            "--output",
            export.to_str().unwrap(),
        ],
        tmp.path(),
        0,
    );
    let lines: Vec<Value> = std::fs::read_to_string(&export)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    for (i, l) in lines.iter().enumerate() {
        assert_eq!(l["seq"], i);
        for field in ["time", "kind", "subject", "payload", "prev", "hash"] {
            assert!(l[field].is_string(), "{field} in {l}");
        }
    }
    expect(
        &["registry", "show", "nope", "--store", &store],
        tmp.path(),
        2,
    );
}

#[test]
fn a_rejected_digest_is_refused_and_the_attempt_logged() {
    let tmp = tempfile::tempdir().unwrap();
    let store = store_arg(tmp.path());
    let model = clean_model(tmp.path());
    let out = expect(
        &[
            "intake",
            model.to_str().unwrap(),
            "--name",
            "m",
            "--store",
            &store,
            "--format",
            "json",
        ],
        tmp.path(),
        0,
    );
    let digest = json(&out)["digest"].as_str().unwrap().to_owned();
    {
        // Reject through the library, as `modelgate reject` does.
        let mut s = SqliteStore::open_dir(&tmp.path().join("store")).unwrap();
        s.transaction(|tx| {
            tx.reject(
                &digest,
                ArtifactState::Quarantined,
                "forged results",
                &serde_json::json!({}),
            )
        })
        .unwrap();
    }
    // A copy of the same bytes elsewhere, under another name.
    let copy = tmp.path().join("resubmitted");
    std::fs::create_dir(&copy).unwrap();
    for f in ["config.json", "evaluation_results.json"] {
        std::fs::copy(model.join(f), copy.join(f)).unwrap();
    }
    let out = expect(
        &[
            "intake",
            copy.to_str().unwrap(),
            "--name",
            "innocent",
            "--store",
            &store,
        ],
        tmp.path(),
        1,
    );
    assert!(stderr(&out).contains("refused"), "{}", stderr(&out));
    assert!(stderr(&out).contains("forged results"), "{}", stderr(&out));
    let out = expect(
        &[
            "registry", "show", &digest, "--store", &store, "--format", "json",
        ],
        tmp.path(),
        0,
    );
    let a = &json(&out)[0];
    assert_eq!(a["state"], "rejected");
    assert_eq!(a["name"], "m");
    let kinds: Vec<&str> = a["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["intake", "scan", "rejection", "rejected_resubmission"]
    );
    assert_eq!(a["history"][3]["payload"]["name"], "innocent");
    // Nothing of the refused copy stays in the quarantine's staging area.
    let tmpdir = tmp.path().join("store/quarantine/tmp");
    assert_eq!(std::fs::read_dir(tmpdir).unwrap().count(), 0);
    expect(&["ledger", "verify", "--store", &store], tmp.path(), 0);
}

#[test]
fn ledger_verify_names_tampering_and_checks_checkpoint_keys() {
    let tmp = tempfile::tempdir().unwrap();
    let store = store_arg(tmp.path());
    let t = tmp.path();
    expect(
        &[
            "key",
            "generate",
            "--out",
            t.join("ledger").to_str().unwrap(),
        ],
        t,
        0,
    );
    expect(
        &[
            "key",
            "generate",
            "--out",
            t.join("other").to_str().unwrap(),
        ],
        t,
        0,
    );
    let (private, public) = (t.join("ledger.priv.pem"), t.join("ledger.pub.pem"));
    let other = t.join("other.pub.pem");
    let model = clean_model(t);

    // Without a key: no checkpoints, and verifying with a key says nothing is vouched for.
    let unsigned = store_arg(&t.join("u"));
    expect(
        &[
            "intake",
            model.to_str().unwrap(),
            "--name",
            "m",
            "--store",
            &unsigned,
        ],
        t,
        0,
    );
    let out = expect(
        &[
            "ledger",
            "verify",
            "--store",
            &unsigned,
            "--key",
            public.to_str().unwrap(),
        ],
        t,
        1,
    );
    assert!(stdout(&out).contains("NOT VOUCHED FOR"), "{}", stdout(&out));

    let out = Command::new(env!("CARGO_BIN_EXE_modelgate"))
        .args([
            "intake",
            model.to_str().unwrap(),
            "--name",
            "m",
            "--store",
            &store,
        ])
        .args(["--checkpoint-every", "2"])
        .env("MODELGATE_LEDGER_KEY", &private)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = expect(
        &[
            "ledger",
            "checkpoint",
            "--store",
            &store,
            "--ledger-key",
            private.to_str().unwrap(),
        ],
        t,
        0,
    );
    assert!(stdout(&out).contains("nothing to sign"), "{}", stdout(&out));
    let out = expect(
        &[
            "ledger",
            "verify",
            "--store",
            &store,
            "--key",
            public.to_str().unwrap(),
            "--format",
            "json",
        ],
        t,
        0,
    );
    let v = json(&out);
    assert_eq!(
        (v["entries"].as_u64(), v["checkpoints_verified"].as_u64()),
        (Some(3), Some(1))
    );
    let out = expect(
        &[
            "ledger",
            "verify",
            "--store",
            &store,
            "--key",
            other.to_str().unwrap(),
        ],
        t,
        1,
    );
    assert!(
        stdout(&out).contains("entry 2: checkpoint signature"),
        "{}",
        stdout(&out)
    );

    // Edit the scan entry's payload by hand.
    let db = rusqlite::Connection::open(t.join("store").join(SqliteStore::FILE_NAME)).unwrap();
    db.execute_batch(
        "DROP TRIGGER ledger_no_update;
         UPDATE ledger SET payload = '{\"max_severity\":null}' WHERE seq = 1;",
    )
    .unwrap();
    let out = expect(&["ledger", "verify", "--store", &store], t, 1);
    let text = stdout(&out);
    assert!(text.contains("ledger BROKEN: entry 1"), "{text}");
    assert!(text.contains("edited"), "{text}");
    let out = expect(
        &["ledger", "verify", "--store", &store, "--format", "json"],
        t,
        1,
    );
    assert_eq!(json(&out)["first_break"]["seq"], 1);

    // Not a store at all: an error, not a verdict.
    expect(
        &[
            "ledger",
            "verify",
            "--store",
            t.join("none").to_str().unwrap(),
        ],
        t,
        2,
    );
    let bad_key = t.join("bad.pem");
    std::fs::write(&bad_key, b"not a key").unwrap();
    expect(
        &[
            "ledger",
            "verify",
            "--store",
            &store,
            "--key",
            bad_key.to_str().unwrap(),
        ],
        t,
        2,
    );
}

#[test]
fn a_kill_during_intake_leaves_no_half_registered_artifact() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let store = store_arg(t);
    let big = t.join("big-model");
    std::fs::create_dir(&big).unwrap();
    std::fs::write(big.join("config.json"), b"{}").unwrap();
    // Big enough that copying it takes a while; written with data, not sparse, so the copy
    // cannot be faster than the poll below.
    let chunk = vec![7u8; 1 << 20];
    let mut f = std::fs::File::create(big.join("weights.bin")).unwrap();
    for _ in 0..96 {
        std::io::Write::write_all(&mut f, &chunk).unwrap();
    }
    drop(f);
    let staging = t.join("store/quarantine/tmp");
    let mut killed_mid_copy = false;
    for _ in 0..5 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_modelgate"))
            .args([
                "intake",
                big.to_str().unwrap(),
                "--name",
                "big",
                "--store",
                &store,
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(30) {
            if std::fs::read_dir(&staging).is_ok_and(|mut d| d.next().is_some()) {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        child.kill().unwrap();
        let status = child.wait().unwrap();
        if status.success() {
            // Finished before the kill: registered completely. Start over from a fresh store.
            std::fs::remove_dir_all(t.join("store")).unwrap();
            continue;
        }
        killed_mid_copy = true;
        break;
    }
    assert!(killed_mid_copy, "intake always finished before the kill");
    let s = SqliteStore::open_dir(&t.join("store")).unwrap();
    assert!(
        s.find_artifacts("big").unwrap().is_empty(),
        "a killed intake registered nothing"
    );
    assert_eq!(modelgate_store::Ledger::head(&s).unwrap().entries, 0);
    drop(s);
    assert!(
        std::fs::read_dir(&staging).unwrap().next().is_some(),
        "the leftover is there"
    );
    // The next intake cleans the leftover and registers its own artifact.
    let small = clean_model(t);
    expect(
        &[
            "intake",
            small.to_str().unwrap(),
            "--name",
            "small",
            "--store",
            &store,
        ],
        t,
        0,
    );
    assert_eq!(std::fs::read_dir(&staging).unwrap().count(), 0);
    expect(&["ledger", "verify", "--store", &store], t, 0);
    let out = expect(
        &["registry", "list", "--store", &store, "--format", "json"],
        t,
        0,
    );
    assert_eq!(json(&out).as_array().unwrap().len(), 1);
}
