//! End-to-end tests of `modelgate hash`, `key generate`, `sign model`, `verify model`, `attest`
//! and `verify attestation`: exit codes, what the output names, bad input — and interop, both
//! directions, with the reference implementations (model-signing's CLI and API,
//! securesystemslib, sigstore-python) from `.venv-interop` (scripts/interop-env.sh).
//!
//! The interop tests FAIL when the venv cannot be set up while `CI` is set, and skip with a loud
//! message only outside CI.

// Set-up helpers outside #[test] fns: a failed set-up should panic with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

mod support;

use support::{code, modelgate, repo_root, stderr, stdout};

/// Runs modelgate and asserts its exit code, showing both streams on failure.
#[track_caller]
fn expect(args: &[&str], cwd: &Path, want: i32) -> Output {
    let out = modelgate(args, cwd);
    assert_eq!(
        code(&out),
        want,
        "modelgate {args:?}\nstdout:\n{}\nstderr:\n{}",
        stdout(&out),
        stderr(&out)
    );
    out
}

/// `modelgate verify model` of `d/model` with `d/k.pub.pem` and `d/model/model.sig`.
#[track_caller]
fn verify_default(d: &Path, want: i32) -> Output {
    expect(
        &[
            "verify",
            "model",
            "--key",
            "k.pub.pem",
            "--signature",
            "model/model.sig",
            "model",
        ],
        d,
        want,
    )
}

/// `modelgate sign model` of `d/model` with `d/k.priv.pem` into `d/model/model.sig`.
#[track_caller]
fn sign_default(d: &Path, want: i32) -> Output {
    expect(
        &[
            "sign",
            "model",
            "--key",
            "k.priv.pem",
            "--signature",
            "model/model.sig",
            "model",
        ],
        d,
        want,
    )
}

fn keygen(dir: &Path, key_type: &str, prefix: &str) {
    expect(
        &["key", "generate", "--type", key_type, "--out", prefix],
        dir,
        0,
    );
}

/// A small model: nested files, a name that sorts differently by component than by string,
/// an empty file, and git metadata (ignored by default).
fn make_model(root: &Path, with_empty: bool) {
    fs::create_dir_all(root.join("a")).unwrap();
    fs::create_dir_all(root.join("a-b")).unwrap();
    fs::create_dir_all(root.join(".git")).unwrap();
    fs::write(root.join("a/x.txt"), "hello\n").unwrap();
    fs::write(root.join("a-b/x.txt"), "world\n").unwrap();
    fs::write(root.join("config.json"), r#"{"model_type": "bert"}"#).unwrap();
    fs::write(root.join("weights.bin"), vec![7u8; 100_000]).unwrap();
    fs::write(root.join(".gitignore"), "*.tmp\n").unwrap();
    fs::write(root.join(".git/HEAD"), "ref: refs/heads/main\n").unwrap();
    if with_empty {
        fs::write(root.join("empty.txt"), "").unwrap();
    }
}

// --- key generate ----------------------------------------------------------------------------

#[test]
fn key_generate_writes_a_private_0600_and_public_pair_and_never_overwrites() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let out = expect(
        &["key", "generate", "--type", "ecdsa-p384", "--out", "k"],
        dir.path(),
        0,
    );
    assert!(stdout(&out).contains("hint "), "{}", stdout(&out));
    let private = dir.path().join("k.priv.pem");
    let public = dir.path().join("k.pub.pem");
    let mode = fs::metadata(&private).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert!(
        fs::read_to_string(&private)
            .unwrap()
            .starts_with("-----BEGIN PRIVATE KEY-----\n")
    );
    assert!(
        fs::read_to_string(&public)
            .unwrap()
            .starts_with("-----BEGIN PUBLIC KEY-----\n")
    );
    let before = fs::read(&private).unwrap();
    let again = expect(&["key", "generate", "--out", "k"], dir.path(), 2);
    assert!(stderr(&again).contains("k.priv.pem"), "{}", stderr(&again));
    assert!(stderr(&again).contains("refusing to overwrite"));
    assert_eq!(fs::read(&private).unwrap(), before);
    expect(
        &["key", "generate", "--type", "rsa", "--out", "r"],
        dir.path(),
        2,
    );
}

// --- hash ------------------------------------------------------------------------------------

#[test]
fn hash_lists_files_in_canonical_order_with_default_ignores() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("model");
    make_model(&model, true);
    let out = expect(&["hash", "model"], dir.path(), 0);
    let text = stdout(&out);
    let names: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split_once("  ").unwrap().1)
        .collect();
    assert_eq!(
        names,
        [
            "a/x.txt",
            "a-b/x.txt",
            "config.json",
            "empty.txt",
            "weights.bin"
        ]
    );
    // printf 'hello\n' | sha256sum
    assert!(text.starts_with(
        "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03  a/x.txt\n"
    ));
    assert!(text.contains("# root sha256:"), "{text}");

    let json: Value = serde_json::from_str(&stdout(&expect(
        &["hash", "--format", "json", "model"],
        dir.path(),
        0,
    )))
    .unwrap();
    assert_eq!(json["resources"].as_array().unwrap().len(), 5);
    assert_eq!(json["serialization"]["method"], "files");
    assert_eq!(
        json["serialization"]["ignore_paths"],
        serde_json::json!([".git", ".gitattributes", ".github", ".gitignore"])
    );

    let all = expect(&["hash", "--no-ignore-git-paths", "model"], dir.path(), 0);
    assert!(stdout(&all).contains("  .git/HEAD\n") && stdout(&all).contains("  .gitignore\n"));
    let ignored = expect(
        &["hash", "--ignore-paths", "model/a", "model"],
        dir.path(),
        0,
    );
    assert!(!stdout(&ignored).contains("a/x.txt") && stdout(&ignored).contains("a-b/x.txt"));
    let outside = expect(&["hash", "--ignore-paths", "/etc", "model"], dir.path(), 2);
    assert!(stderr(&outside).contains("not inside the model directory"));
}

#[test]
fn hash_blake3_and_sharded_modes() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("big"), vec![1u8; 10]).unwrap();
    fs::write(dir.path().join("nothing"), "").unwrap();
    let b3 = expect(&["hash", "--algorithm", "blake3", "."], dir.path(), 0);
    assert!(stdout(&b3).contains("blake3 per file"));
    let sharded = expect(&["hash", "--shard-size", "4", "."], dir.path(), 0);
    let text = stdout(&sharded);
    assert!(
        text.contains("  big:0:4\n") && text.contains("  big:8:10\n"),
        "{text}"
    );
    assert!(text.contains("# nothing: empty"), "{text}");
    let refused = expect(
        &["hash", "--algorithm", "blake3", "--sharded", "."],
        dir.path(),
        2,
    );
    assert!(stderr(&refused).contains("blake3"));
}

#[test]
fn hash_refuses_symlinks_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("target.bin"), "weights").unwrap();
    std::os::unix::fs::symlink("target.bin", dir.path().join("link.bin")).unwrap();
    let out = expect(&["hash", "."], dir.path(), 2);
    assert!(stderr(&out).contains("link.bin"), "{}", stderr(&out));
    assert!(stderr(&out).contains("--allow-symlinks"));
    expect(&["hash", "--allow-symlinks", "."], dir.path(), 0);
    expect(&["hash", "missing-dir"], dir.path(), 2);
}

// --- sign model / verify model ---------------------------------------------------------------

#[test]
fn sign_then_verify_then_tamper_names_every_difference() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    make_model(&d.join("model"), true);
    keygen(d, "ecdsa-p256", "k");
    let signed = sign_default(d, 0);
    assert!(stdout(&signed).contains("5 files"), "{}", stdout(&signed));
    let ok = verify_default(d, 0);
    assert!(stdout(&ok).starts_with("VERIFIED"), "{}", stdout(&ok));

    fs::write(d.join("model/a/x.txt"), "hellO\n").unwrap();
    fs::remove_file(d.join("model/empty.txt")).unwrap();
    fs::write(d.join("model/extra.py"), "import os\n").unwrap();
    let bad = verify_default(d, 1);
    let text = stdout(&bad);
    assert!(text.starts_with("FAILED"), "{text}");
    assert!(
        text.contains("[changed-file] a/x.txt: content changed"),
        "{text}"
    );
    assert!(text.contains("[missing-file] empty.txt"), "{text}");
    assert!(text.contains("[unsigned-files] extra.py"), "{text}");

    let json: Value = serde_json::from_str(&stdout(&expect(
        &[
            "verify",
            "model",
            "--key",
            "k.pub.pem",
            "--signature",
            "model/model.sig",
            "--format",
            "json",
            "--allow-unsigned-files",
            "model",
        ],
        d,
        1,
    )))
    .unwrap();
    assert_eq!(json["verified"], false);
    let rules: Vec<&str> = json["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    assert_eq!(rules, ["changed-file", "missing-file"]);
    assert_eq!(json["allowed_unsigned"][0]["path"], "extra.py");
    assert_eq!(json["failures"][0]["path"], "a/x.txt");
}

#[test]
fn verify_with_another_key_fails_on_key_and_signature() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    make_model(&d.join("model"), false);
    keygen(d, "ecdsa-p256", "k");
    keygen(d, "ed25519", "other");
    expect(
        &[
            "sign",
            "model",
            "--key",
            "k.priv.pem",
            "--signature",
            "m.sig",
            "model",
        ],
        d,
        0,
    );
    let out = expect(
        &[
            "verify",
            "model",
            "--key",
            "other.pub.pem",
            "--signature",
            "m.sig",
            "model",
        ],
        d,
        1,
    );
    let text = stdout(&out);
    assert!(
        text.contains("[key-hint]") && text.contains("[signature]"),
        "{text}"
    );
}

#[test]
fn policies_are_data_and_refusals_name_the_rule() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    make_model(&d.join("model"), false);
    keygen(d, "ecdsa-p256", "k");
    expect(
        &[
            "sign",
            "model",
            "--key",
            "k.priv.pem",
            "--signature",
            "m.sig",
            "model",
        ],
        d,
        0,
    );
    let verify = |policy: &str, want: i32| {
        fs::write(d.join("policy.json"), policy).unwrap();
        expect(
            &[
                "verify",
                "model",
                "--key",
                "k.pub.pem",
                "--signature",
                "m.sig",
                "--policy",
                "policy.json",
                "model",
            ],
            d,
            want,
        )
    };
    let out = verify(
        &format!(r#"{{"allowed_keys": ["{}"]}}"#, "ab".repeat(32)),
        1,
    );
    assert!(stdout(&out).contains("[allowed-keys]"), "{}", stdout(&out));
    let out = verify(r#"{"min_hash_algorithm": "sha512"}"#, 1);
    assert!(
        stdout(&out).contains("[min-hash-algorithm]"),
        "{}",
        stdout(&out)
    );
    fs::write(d.join("model/new.txt"), "x").unwrap();
    let out = verify(r#"{"version": 1, "allow_unsigned_files": true}"#, 0);
    assert!(stdout(&out).contains("unsigned (allowed by policy): new.txt"));
    let out = verify(r#"{"allow_unsigned": true}"#, 2);
    assert!(stderr(&out).contains("policy.json") && stderr(&out).contains("allow_unsigned"));
}

/// A 512-bit RSA public key (`openssl genpkey -algorithm RSA | openssl pkey -pubout`).
const RSA_PUBLIC: &str = "-----BEGIN PUBLIC KEY-----
MFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBANUGTvYYkjMHIX6hdlIfuzz76AgA/wEn
0SCd+ZhIp7C+44MGHk2d6f9bjic97fQ2pvA9TSHAWpfomPrxmMcC3akCAwEAAQ==
-----END PUBLIC KEY-----
";

#[test]
fn bad_keys_and_signature_files_exit_2_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    make_model(&d.join("model"), false);
    keygen(d, "ecdsa-p256", "k");
    expect(
        &[
            "sign",
            "model",
            "--key",
            "k.priv.pem",
            "--signature",
            "m.sig",
            "model",
        ],
        d,
        0,
    );
    let verify = |key: &str, sig: &str| {
        expect(
            &["verify", "model", "--key", key, "--signature", sig, "model"],
            d,
            2,
        )
    };
    let has = |out: &Output, needles: &[&str]| {
        let e = stderr(out);
        for n in needles {
            assert!(e.contains(n), "missing {n:?} in: {e}");
        }
        assert!(!e.contains("panicked"), "{e}");
    };

    fs::write(d.join("garbage.pem"), "not a key").unwrap();
    has(
        &verify("garbage.pem", "m.sig"),
        &["garbage.pem", "not a PEM key file"],
    );
    has(
        &verify("k.priv.pem", "m.sig"),
        &["k.priv.pem", "is a private key"],
    );
    fs::write(d.join("rsa.pem"), RSA_PUBLIC).unwrap();
    has(
        &verify("rsa.pem", "m.sig"),
        &["rsa.pem", "RSA keys are not supported"],
    );
    has(&verify("nope.pem", "m.sig"), &["nope.pem"]);
    let sign_with_public = expect(
        &[
            "sign",
            "model",
            "--key",
            "k.pub.pem",
            "--signature",
            "x.sig",
            "model",
        ],
        d,
        2,
    );
    has(&sign_with_public, &["k.pub.pem", "is a public key"]);

    let original = fs::read_to_string(d.join("m.sig")).unwrap();
    let mut v: Value = serde_json::from_str(&original).unwrap();
    v["verificationMaterial"]["extra"] = Value::Bool(true);
    fs::write(d.join("extra.sig"), v.to_string()).unwrap();
    has(
        &verify("k.pub.pem", "extra.sig"),
        &["extra.sig", "unknown field `extra`"],
    );
    let mut v: Value = serde_json::from_str(&original).unwrap();
    v.as_object_mut().unwrap().remove("dsseEnvelope");
    fs::write(d.join("missing.sig"), v.to_string()).unwrap();
    has(
        &verify("k.pub.pem", "missing.sig"),
        &["missing.sig", "dsseEnvelope"],
    );
    fs::write(d.join("trunc.sig"), &original[..original.len() / 2]).unwrap();
    has(&verify("k.pub.pem", "trunc.sig"), &["trunc.sig", "EOF"]);
    // A sparse file past the size cap: refused before anything is read.
    let big = fs::File::create(d.join("big.sig")).unwrap();
    big.set_len(300 * 1024 * 1024).unwrap();
    has(&verify("k.pub.pem", "big.sig"), &["big.sig", "larger than"]);
    fs::write(d.join("array.sig"), "[1, 2]").unwrap();
    has(
        &verify("k.pub.pem", "array.sig"),
        &["array.sig", "neither a Sigstore bundle"],
    );
    has(
        &expect(
            &[
                "verify",
                "model",
                "--key",
                "k.pub.pem",
                "--signature",
                "m.sig",
                "gone",
            ],
            d,
            2,
        ),
        &["gone", "no such file"],
    );
}

#[test]
fn every_key_type_signs_and_verifies_models() {
    for key_type in ["ecdsa-p256", "ecdsa-p384", "ed25519"] {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        make_model(&d.join("model"), true);
        keygen(d, key_type, "k");
        expect(
            &[
                "sign",
                "model",
                "--key",
                "k.priv.pem",
                "--signature",
                "model/model.sig",
                "--shard-size",
                "4096",
                "model",
            ],
            d,
            0,
        );
        // The empty file is unrepresentable in sharded manifests and so reported, not hidden.
        let out = verify_default(d, 1);
        assert!(
            stdout(&out).contains("[unsigned-files] empty.txt"),
            "{}",
            stdout(&out)
        );
        fs::remove_file(d.join("model/empty.txt")).unwrap();
        verify_default(d, 0);
    }
}

// --- attest / verify attestation -------------------------------------------------------------

#[test]
fn attest_and_verify_attestation_as_envelope_and_bundle() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    keygen(d, "ecdsa-p256", "k");
    fs::write(d.join("eval.log"), "score: 0.93\n").unwrap();
    fs::write(d.join("report.json"), "{}").unwrap();
    fs::write(
        d.join("predicate.json"),
        r#"{"buildDefinition": {}, "runDetails": {}}"#,
    )
    .unwrap();
    let slsa = "https://slsa.dev/provenance/v1";
    for (flag, container) in [(None, "envelope"), (Some("--bundle"), "bundle")] {
        let mut args = vec![
            "attest",
            "--key",
            "k.priv.pem",
            "--predicate-type",
            slsa,
            "--predicate",
            "predicate.json",
            "--output",
            "att.json",
        ];
        args.extend(flag);
        args.extend(["eval.log", "report.json"]);
        expect(&args, d, 0);
        let out = expect(
            &[
                "verify",
                "attestation",
                "--key",
                "k.pub.pem",
                "att.json",
                "eval.log",
                "report.json",
            ],
            d,
            0,
        );
        assert!(
            stdout(&out).contains(&format!("({container})")),
            "{}",
            stdout(&out)
        );
        let out = expect(
            &[
                "verify",
                "attestation",
                "--key",
                "k.pub.pem",
                "--predicate-type",
                "https://example/other",
                "att.json",
                "eval.log",
            ],
            d,
            1,
        );
        assert!(
            stdout(&out).contains("[predicate-type]"),
            "{}",
            stdout(&out)
        );
    }
    fs::write(d.join("forged.log"), "score: 0.99\n").unwrap();
    let out = expect(
        &[
            "verify",
            "attestation",
            "--key",
            "k.pub.pem",
            "--format",
            "json",
            "att.json",
            "forged.log",
        ],
        d,
        1,
    );
    let json: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(json["failures"][0]["rule"], "subject-digest");
    assert_eq!(json["failures"][0]["path"], "forged.log");
    assert_eq!(json["predicate_type"], slsa);

    fs::write(d.join("list.json"), "[1]").unwrap();
    let out = expect(
        &[
            "attest",
            "--key",
            "k.priv.pem",
            "--predicate-type",
            slsa,
            "--predicate",
            "list.json",
            "--output",
            "x.json",
            "eval.log",
        ],
        d,
        2,
    );
    assert!(stderr(&out).contains("list.json") && stderr(&out).contains("JSON object"));
    expect(
        &["verify", "attestation", "--key", "k.pub.pem", "att.json"],
        d,
        2,
    );
    fs::create_dir(d.join("adir")).unwrap();
    let out = expect(
        &[
            "verify",
            "attestation",
            "--key",
            "k.pub.pem",
            "att.json",
            "adir",
        ],
        d,
        2,
    );
    assert!(stderr(&out).contains("is a directory"), "{}", stderr(&out));
}

// --- interop with the reference implementations ----------------------------------------------

fn helper() -> PathBuf {
    repo_root().join("crates/modelgate-cli/tests/interop/helper.py")
}

/// Runs the venv's `model_signing` CLI.
fn model_signing(python: &Path, args: &[&str], cwd: &Path) -> Output {
    Command::new(python.with_file_name("model_signing"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run model_signing")
}

/// Runs tests/interop/helper.py with the venv's Python.
fn py(python: &Path, args: &[&str], cwd: &Path) -> Output {
    Command::new(python)
        .arg(helper())
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run interop helper")
}

#[track_caller]
fn ok(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed\nstdout:\n{}\nstderr:\n{}",
        stdout(out),
        stderr(out)
    );
}

#[test]
fn interop_model_signing_cli_signatures_verify_with_modelgate() {
    let Some(python) = support::interop_venv_python() else {
        return;
    };
    for key_type in ["ecdsa-p256", "ecdsa-p384"] {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        make_model(&d.join("model"), true);
        keygen(d, key_type, "k");
        let out = model_signing(
            &python,
            &[
                "sign",
                "key",
                "--private_key",
                "k.priv.pem",
                "--signature",
                "model/model.sig",
                "model",
            ],
            d,
        );
        ok(&out, "model_signing sign key");
        verify_default(d, 0);
        fs::write(d.join("model/weights.bin"), vec![8u8; 100_000]).unwrap();
        let out = verify_default(d, 1);
        assert!(
            stdout(&out).contains("[changed-file] weights.bin"),
            "{}",
            stdout(&out)
        );
    }
}

#[test]
fn interop_modelgate_signatures_verify_with_model_signing_cli() {
    let Some(python) = support::interop_venv_python() else {
        return;
    };
    for key_type in ["ecdsa-p256", "ecdsa-p384"] {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        make_model(&d.join("model"), true);
        keygen(d, key_type, "k");
        sign_default(d, 0);
        let out = model_signing(
            &python,
            &[
                "verify",
                "key",
                "--public_key",
                "k.pub.pem",
                "--signature",
                "model/model.sig",
                "model",
            ],
            d,
        );
        ok(&out, "model_signing verify key");
        assert!(stdout(&out).contains("Verification succeeded"));
        // And the reference agrees that a tampered model fails.
        fs::write(d.join("model/a/x.txt"), "tampered\n").unwrap();
        let out = model_signing(
            &python,
            &[
                "verify",
                "key",
                "--public_key",
                "k.pub.pem",
                "--signature",
                "model/model.sig",
                "model",
            ],
            d,
        );
        assert!(!out.status.success());
    }
}

#[test]
fn interop_single_file_and_symlink_models_both_ways() {
    let Some(python) = support::interop_venv_python() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    keygen(d, "ecdsa-p256", "k");
    fs::write(d.join("model.gguf"), "GGUF weights").unwrap();
    ok(
        &model_signing(
            &python,
            &[
                "sign",
                "key",
                "--private_key",
                "k.priv.pem",
                "--signature",
                "ref.sig",
                "model.gguf",
            ],
            d,
        ),
        "model_signing sign key (file)",
    );
    expect(
        &[
            "verify",
            "model",
            "--key",
            "k.pub.pem",
            "--signature",
            "ref.sig",
            "model.gguf",
        ],
        d,
        0,
    );
    expect(
        &[
            "sign",
            "model",
            "--key",
            "k.priv.pem",
            "--signature",
            "mg.sig",
            "model.gguf",
        ],
        d,
        0,
    );
    ok(
        &model_signing(
            &python,
            &[
                "verify",
                "key",
                "--public_key",
                "k.pub.pem",
                "--signature",
                "mg.sig",
                "model.gguf",
            ],
            d,
        ),
        "model_signing verify key (file)",
    );

    fs::create_dir(d.join("linked")).unwrap();
    fs::write(d.join("linked/real.bin"), "bytes").unwrap();
    std::os::unix::fs::symlink("real.bin", d.join("linked/alias.bin")).unwrap();
    ok(
        &model_signing(
            &python,
            &[
                "sign",
                "key",
                "--allow_symlinks",
                "--private_key",
                "k.priv.pem",
                "--signature",
                "ref-l.sig",
                "linked",
            ],
            d,
        ),
        "model_signing sign key --allow_symlinks",
    );
    expect(
        &[
            "verify",
            "model",
            "--key",
            "k.pub.pem",
            "--signature",
            "ref-l.sig",
            "linked",
        ],
        d,
        0,
    );
    expect(
        &[
            "sign",
            "model",
            "--allow-symlinks",
            "--key",
            "k.priv.pem",
            "--signature",
            "mg-l.sig",
            "linked",
        ],
        d,
        0,
    );
    ok(
        &model_signing(
            &python,
            &[
                "verify",
                "key",
                "--allow_symlinks",
                "--public_key",
                "k.pub.pem",
                "--signature",
                "mg-l.sig",
                "linked",
            ],
            d,
        ),
        "model_signing verify key --allow_symlinks",
    );
}

#[test]
fn interop_sharded_and_blake2_signatures_both_ways() {
    let Some(python) = support::interop_venv_python() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // No empty file: sharded manifests cannot list one (see the sharded tests above).
    make_model(&d.join("model"), false);
    keygen(d, "ecdsa-p256", "k");
    // model_signing (API) writes shard_size as a float and cannot verify its own sharded or
    // BLAKE2 signatures by guessing; modelgate accepts both.
    for (sig, shard, alg) in [
        ("ref-shard.sig", "4096", "sha256"),
        ("ref-b2.sig", "", "blake2"),
    ] {
        ok(
            &py(
                &python,
                &["ms-sign", "model", sig, "k.priv.pem", shard, alg],
                d,
            ),
            "model_signing API sign",
        );
        let out = expect(
            &[
                "verify",
                "model",
                "--key",
                "k.pub.pem",
                "--signature",
                sig,
                "model",
            ],
            d,
            0,
        );
        let notes = stdout(&out);
        assert!(notes.contains("note: "), "{notes}");
    }
    // modelgate's sharded and BLAKE2 signatures verify with model_signing's API.
    expect(
        &[
            "sign",
            "model",
            "--key",
            "k.priv.pem",
            "--signature",
            "mg-shard.sig",
            "--shard-size",
            "4096",
            "model",
        ],
        d,
        0,
    );
    ok(
        &py(
            &python,
            &[
                "ms-verify",
                "model",
                "mg-shard.sig",
                "k.pub.pem",
                "4096",
                "sha256",
            ],
            d,
        ),
        "model_signing API verify (sharded)",
    );
    expect(
        &[
            "sign",
            "model",
            "--key",
            "k.priv.pem",
            "--signature",
            "mg-b2.sig",
            "--algorithm",
            "blake2b",
            "model",
        ],
        d,
        0,
    );
    ok(
        &py(
            &python,
            &["ms-verify", "model", "mg-b2.sig", "k.pub.pem", "", "blake2"],
            d,
        ),
        "model_signing API verify (blake2)",
    );
}

#[test]
fn interop_dsse_envelopes_with_securesystemslib_both_ways() {
    let Some(python) = support::interop_venv_python() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::write(d.join("eval.log"), "accuracy 0.91\n").unwrap();
    fs::write(d.join("pred.json"), r#"{"k": "v"}"#).unwrap();
    for key_type in ["ecdsa-p256", "ecdsa-p384", "ed25519"] {
        keygen(d, key_type, key_type);
        let private = format!("{key_type}.priv.pem");
        let public = format!("{key_type}.pub.pem");
        ok(
            &py(
                &python,
                &[
                    "sslib-sign",
                    &private,
                    "sslib.json",
                    "https://example/p",
                    "eval.log",
                ],
                d,
            ),
            "securesystemslib sign",
        );
        expect(
            &[
                "verify",
                "attestation",
                "--key",
                &public,
                "sslib.json",
                "eval.log",
            ],
            d,
            0,
        );
        for bundle in [false, true] {
            let mut args = vec![
                "attest",
                "--key",
                &private,
                "--predicate-type",
                "https://example/p",
                "--predicate",
                "pred.json",
                "--output",
                "mg.json",
            ];
            if bundle {
                args.push("--bundle");
            }
            args.push("eval.log");
            expect(&args, d, 0);
            ok(
                &py(&python, &["sslib-verify", &public, "mg.json"], d),
                "securesystemslib verify",
            );
        }
    }
}

#[test]
fn interop_dsse_envelopes_with_sigstore_python_both_ways() {
    let Some(python) = support::interop_venv_python() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::write(d.join("report.sarif"), "{\"version\": \"2.1.0\"}").unwrap();
    fs::write(d.join("pred.json"), "{}").unwrap();
    // sigstore-python's DSSE signer hashes with SHA-256 on every curve; modelgate accepts that
    // for P-384 as well as the curve's own SHA-384.
    for key_type in ["ecdsa-p256", "ecdsa-p384"] {
        keygen(d, key_type, key_type);
        let private = format!("{key_type}.priv.pem");
        let public = format!("{key_type}.pub.pem");
        ok(
            &py(
                &python,
                &[
                    "sigstore-sign",
                    &private,
                    "sg.json",
                    "https://example/p",
                    "report.sarif",
                ],
                d,
            ),
            "sigstore-python sign",
        );
        expect(
            &[
                "verify",
                "attestation",
                "--key",
                &public,
                "sg.json",
                "report.sarif",
            ],
            d,
            0,
        );
    }
    // sigstore-python verifies with SHA-256 only, so only P-256 goes the other way.
    expect(
        &[
            "attest",
            "--key",
            "ecdsa-p256.priv.pem",
            "--predicate-type",
            "https://example/p",
            "--predicate",
            "pred.json",
            "--output",
            "mg.json",
            "report.sarif",
        ],
        d,
        0,
    );
    ok(
        &py(
            &python,
            &["sigstore-verify", "ecdsa-p256.pub.pem", "mg.json"],
            d,
        ),
        "sigstore-python verify",
    );
}
