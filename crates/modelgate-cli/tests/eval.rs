//! End-to-end tests of `modelgate eval run|view|verify` on the built-in mock models and on a
//! local OpenAI-compatible server started by the test (loopback only): exit codes, pinning,
//! results JSON, the log and its published schema, signing and tamper detection, sandboxed
//! tools, retries, and resume after SIGKILL.

// Test code: a failed unwrap is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::format_push_string,
    clippy::map_unwrap_or
)]

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{code, modelgate, repo_root, schema_violations, stderr, stdout};

fn example(name: &str) -> PathBuf {
    repo_root().join("examples/eval").join(name)
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&fs::read(path).unwrap()).unwrap()
}

/// Generates a key pair in `dir`; returns (private, public).
fn keys(dir: &Path) -> (PathBuf, PathBuf) {
    let prefix = dir.join("k");
    let out = modelgate(&["key", "generate", "--out", prefix.to_str().unwrap()], dir);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    (dir.join("k.priv.pem"), dir.join("k.pub.pem"))
}

/// Runs the arithmetic example into `dir`, signed with a fresh key.
fn signed_arithmetic(dir: &Path) -> (Value, PathBuf, PathBuf) {
    let (private, public) = keys(dir);
    let results = dir.join("results.json");
    let out = modelgate(
        &[
            "eval",
            "run",
            example("arithmetic.yaml").to_str().unwrap(),
            "--store",
            dir.join("store").to_str().unwrap(),
            "--results-json",
            results.to_str().unwrap(),
            "--sign-key",
            private.to_str().unwrap(),
        ],
        dir,
    );
    assert_eq!(code(&out), 0, "{}\n{}", stdout(&out), stderr(&out));
    let results = read_json(&results);
    let log = PathBuf::from(results["log"].as_str().unwrap());
    // The finished run is an `eval_run` entry in the store's evidence ledger.
    let out = modelgate(
        &[
            "ledger",
            "export",
            "--store",
            dir.join("store").to_str().unwrap(),
        ],
        dir,
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let entry = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|e| e["kind"] == "eval_run")
        .expect("an eval_run ledger entry");
    assert!(
        entry
            .to_string()
            .contains(results["run_id"].as_str().unwrap()),
        "{entry}"
    );
    (results, log, public)
}

#[test]
fn arithmetic_example_scores_exactly_the_wrong_answers_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let (results, log, _) = signed_arithmetic(dir.path());
    assert_eq!(results["status"], "completed");
    assert_eq!(results["total"], 200);
    assert_eq!(results["completed"], 200);
    // Every tenth question is written in words, which mock/calc cannot read: exactly 20 wrong.
    assert_eq!(results["accuracy"].as_f64(), Some(0.9));
    assert_eq!(results["dataset_pinned"], true);
    let log_json = read_json(&log);
    let wrong: Vec<&str> = log_json["samples"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["record"]["scores"][0]["value"].as_f64() == Some(0.0))
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(wrong.len(), 20);
    assert!(wrong.iter().all(|id| {
        let n: u32 = id.trim_start_matches("arith-").parse().unwrap();
        n % 10 == 9
    }));
    // The log follows its published schema.
    let schema = read_json(&repo_root().join("docs/schemas/eval-log-v1.json"));
    let violations = schema_violations(&schema, &log_json);
    assert!(violations.is_empty(), "{violations:#?}");
}

#[test]
fn signed_log_verifies_and_any_edit_fails() {
    let dir = tempfile::tempdir().unwrap();
    let (_, log, public) = signed_arithmetic(dir.path());
    let verify = |log: &Path| {
        modelgate(
            &[
                "eval",
                "verify",
                log.to_str().unwrap(),
                "--key",
                public.to_str().unwrap(),
            ],
            dir.path(),
        )
    };
    let out = verify(&log);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).starts_with("VERIFIED"), "{}", stdout(&out));

    // A wrong answer turned right after signing.
    let text = fs::read_to_string(&log).unwrap();
    let edited = text.replacen("\"value\":0.0", "\"value\":1.0", 1);
    assert_ne!(edited, text);
    fs::write(&log, &edited).unwrap();
    let out = verify(&log);
    assert_eq!(code(&out), 1, "{}", stdout(&out));
    let report = stdout(&out);
    assert!(report.contains("[FAIL] signature"), "{report}");
    assert!(report.contains("[FAIL] chain"), "{report}");

    // The summary inflated without touching any sample.
    fs::write(&log, &text).unwrap();
    let inflated = text.replace("\"accuracy\":0.9,", "\"accuracy\":0.999,");
    assert_ne!(inflated, text);
    fs::write(&log, &inflated).unwrap();
    let out = verify(&log);
    assert_eq!(code(&out), 1);
    let report = stdout(&out);
    assert!(report.contains("[FAIL] summary"), "{report}");
    assert!(report.contains("[ok] chain"), "{report}");

    // Unsigned: the signature file removed.
    fs::write(&log, &text).unwrap();
    let mut sig = log.clone().into_os_string();
    sig.push(".sigstore.json");
    fs::remove_file(&sig).unwrap();
    let out = verify(&log);
    assert_eq!(code(&out), 1);
    assert!(stdout(&out).contains("unsigned"), "{}", stdout(&out));
}

#[test]
fn view_summarises_and_lists_failing_samples() {
    let dir = tempfile::tempdir().unwrap();
    let (_, log, _) = signed_arithmetic(dir.path());
    let out = modelgate(
        &["eval", "view", log.to_str().unwrap(), "--failing", "3"],
        dir.path(),
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("match"), "{text}");
    assert!(text.contains("0.9000 ±"), "{text}");
    assert!(
        text.contains("failing samples: 20 (first 3 shown"),
        "{text}"
    );
    assert!(text.contains("arith-009"), "{text}");
    let out = modelgate(
        &["eval", "view", log.to_str().unwrap(), "--format", "json"],
        dir.path(),
    );
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["failing_total"], 20);
}

/// Copies the arithmetic dataset next to a spec in `dir` and returns the spec's path.
fn copied_example(dir: &Path) -> PathBuf {
    fs::copy(example("arithmetic.jsonl"), dir.join("arithmetic.jsonl")).unwrap();
    fs::copy(example("arithmetic.yaml"), dir.join("arithmetic.yaml")).unwrap();
    dir.join("arithmetic.yaml")
}

#[test]
fn a_dataset_that_is_not_what_was_pinned_refuses_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let spec = copied_example(dir.path());
    let data = dir.path().join("arithmetic.jsonl");
    let mut text = fs::read_to_string(&data).unwrap();
    text = text.replacen("\"target\":\"114\"", "\"target\":\"115\"", 1);
    fs::write(&data, text).unwrap();
    let out = modelgate(
        &["eval", "run", spec.to_str().unwrap(), "--store", "s"],
        dir.path(),
    );
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("digest mismatch"), "{}", stderr(&out));
    // Refused before the run was created: no log was written.
    assert!(!dir.path().join("s/logs").exists());
}

#[test]
fn unpinned_runs_need_the_flag_and_are_recorded_as_unpinned() {
    let dir = tempfile::tempdir().unwrap();
    let data = example("arithmetic.jsonl");
    let base = [
        "eval",
        "run",
        "--dataset",
        data.to_str().unwrap(),
        "--model",
        "mock/calc",
        "--scorer",
        "match",
        "--max-items",
        "5",
        "--store",
        "s",
    ];
    let out = modelgate(&base, dir.path());
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("not pinned"), "{}", stderr(&out));
    let mut args = base.to_vec();
    args.extend(["--allow-unpinned", "--results-json", "r.json"]);
    let out = modelgate(&args, dir.path());
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let r = read_json(&dir.path().join("r.json"));
    assert_eq!(r["dataset_pinned"], false);
    assert_eq!(r["total"], 5);
    assert!(stdout(&out).contains("UNPINNED"));
}

#[test]
fn malformed_rows_are_skipped_and_recorded_or_abort_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d.jsonl");
    fs::write(
        &data,
        "{\"input\":\"What is 1 + 1?\",\"target\":\"2\"}\n{\"input\": oops}\n{\"input\":\"What is 2 + 2?\",\"target\":\"4\"}\n",
    )
    .unwrap();
    let run = |policy: &str| {
        modelgate(
            &[
                "eval",
                "run",
                "--dataset",
                "d.jsonl",
                "--allow-unpinned",
                "--model",
                "mock/calc",
                "--on-failure",
                policy,
                "--store",
                "s",
                "--results-json",
                "r.json",
            ],
            dir.path(),
        )
    };
    let out = run("skip");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let r = read_json(&dir.path().join("r.json"));
    assert_eq!(
        (
            r["total"].as_u64(),
            r["completed"].as_u64(),
            r["invalid"].as_u64()
        ),
        (Some(3), Some(2), Some(1))
    );
    assert_eq!(r["accuracy"].as_f64(), Some(1.0));
    let out = run("abort");
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("d.jsonl:2"), "{}", stderr(&out));
}

#[test]
fn spec_errors_name_the_field_and_line() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("s.yaml"),
        "task: t\nmodel: mock/calc\nlimits:\n  max_itmes: 3\n",
    )
    .unwrap();
    let out = modelgate(&["eval", "run", "s.yaml"], dir.path());
    assert_eq!(code(&out), 2);
    let err = stderr(&out);
    assert!(err.contains("max_itmes") && err.contains("line 4"), "{err}");
}

#[test]
fn fail_under_exits_one_when_accuracy_is_below() {
    let dir = tempfile::tempdir().unwrap();
    let out = modelgate(
        &[
            "eval",
            "run",
            example("arithmetic.yaml").to_str().unwrap(),
            "--store",
            "s",
            "--fail-under",
            "0.95",
        ],
        dir.path(),
    );
    assert_eq!(code(&out), 1, "{}", stderr(&out));
}

#[test]
fn agent_tool_calls_run_in_the_sandbox() {
    let dir = tempfile::tempdir().unwrap();
    let out = modelgate(
        &[
            "eval",
            "run",
            example("agent.yaml").to_str().unwrap(),
            "--store",
            "s",
            "--results-json",
            "r.json",
        ],
        dir.path(),
    );
    assert_eq!(code(&out), 0, "{}\n{}", stdout(&out), stderr(&out));
    let r = read_json(&dir.path().join("r.json"));
    assert_eq!(r["accuracy"].as_f64(), Some(1.0), "{r}");
    let log = read_json(Path::new(r["log"].as_str().unwrap()));
    assert!(log["run"]["sandbox_policy_sha256"].is_string());
    let first = &log["samples"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "agent-0")
        .unwrap()["record"];
    assert_eq!(first["tool_calls"][0]["tool"], "bash");
    assert_eq!(first["tool_calls"][0]["exit_code"], 0);
    assert!(
        first["output"].as_str().unwrap().contains("65534"),
        "{first}"
    );
}

#[test]
fn resume_after_sigkill_loses_and_duplicates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d.jsonl");
    let mut text = String::new();
    for i in 0..400 {
        text.push_str(&format!(
            "{{\"id\":\"q{i}\",\"input\":\"What is {i} + 1?\",\"target\":\"{}\"}}\n",
            i + 1
        ));
    }
    fs::write(&data, text).unwrap();
    let args = [
        "eval",
        "run",
        "--dataset",
        "d.jsonl",
        "--allow-unpinned",
        "--model",
        "mock/calc@latency=20ms",
        "--max-connections",
        "4",
        "--store",
        "s",
    ];
    let mut child = Command::new(env!("CARGO_BIN_EXE_modelgate"))
        .args(args)
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // 400 samples at 4 × 50/s take ~2 s; kill part-way.
    std::thread::sleep(Duration::from_millis(700));
    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    let run_id = err
        .split_whitespace()
        .nth(1)
        .map(|s| s.trim_end_matches(':').to_owned())
        .unwrap_or_else(|| panic!("no run id in {err:?}"));
    let start = Instant::now();
    let out = modelgate(
        &[
            "eval",
            "run",
            "--store",
            "s",
            "--resume",
            &run_id,
            "--results-json",
            "r.json",
        ],
        dir.path(),
    );
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    assert!(stderr(&out).contains("recorded before"), "{}", stderr(&out));
    assert!(start.elapsed() < Duration::from_secs(30));
    let r = read_json(&dir.path().join("r.json"));
    assert_eq!(r["total"], 400);
    assert_eq!(r["completed"], 400);
    assert_eq!(r["accuracy"].as_f64(), Some(1.0));
    let log = read_json(Path::new(r["log"].as_str().unwrap()));
    let mut ids: Vec<&str> = log["samples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 400);
    assert_eq!(log["run"]["resumed"], true);
}

#[test]
fn a_store_from_another_schema_version_fails_fast() {
    let dir = tempfile::tempdir().unwrap();
    let spec = example("arithmetic.yaml");
    let out = modelgate(
        &[
            "eval",
            "run",
            spec.to_str().unwrap(),
            "--store",
            "s",
            "--max-items",
            "2",
        ],
        dir.path(),
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let db = dir.path().join("s/modelgate.db");
    let conn = rusqlite_free_bump(&db);
    assert!(conn, "could not bump the schema version");
    let out = modelgate(
        &["eval", "run", spec.to_str().unwrap(), "--store", "s"],
        dir.path(),
    );
    assert_eq!(code(&out), 2);
    let err = stderr(&out);
    assert!(
        err.contains("schema version 99") && err.contains("version 2"),
        "{err}"
    );
}

/// Sets the store's schema version to 99 with the sqlite3 command-line shell when available,
/// else through Python's sqlite3 module (both are on this kind of machine).
fn rusqlite_free_bump(db: &Path) -> bool {
    Command::new("python3")
        .args([
            "-c",
            "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); \
             t=[r[0] for r in c.execute(\"select name from sqlite_master where type='table'\")]; \
             c.execute('update schema_version set version=99') if 'schema_version' in t else c.execute('pragma user_version=99'); \
             c.commit()",
            db.to_str().unwrap(),
        ])
        .status()
        .is_ok_and(|s| s.success())
}

// ---- against a local OpenAI-compatible server (loopback only) -------------------------------

use modelgate_eval::stub_server::{Fault, FaultRule, StubConfig, StubServer, When};

/// A stub server on its own runtime, alive as long as the returned runtime is.
fn stub(config: StubConfig) -> (tokio::runtime::Runtime, StubServer) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let server = rt.block_on(StubServer::start(config)).unwrap();
    (rt, server)
}

/// A pinned arithmetic dataset of `n` items in `dir`; returns (file name, sha256).
fn pinned_dataset(dir: &Path, n: usize) -> (String, String) {
    let mut text = String::new();
    for i in 0..n {
        text.push_str(&format!(
            "{{\"id\":\"q{i}\",\"input\":\"What is {i} * 2?\",\"target\":\"{}\"}}\n",
            i * 2
        ));
    }
    fs::write(dir.join("d.jsonl"), &text).unwrap();
    let out = modelgate(&["hash", "d.jsonl"], dir);
    let sha = stdout(&out).split_whitespace().next().unwrap().to_owned();
    ("d.jsonl".to_owned(), sha)
}

fn run_against(dir: &Path, url: &str, sha: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "eval",
        "run",
        "--dataset",
        "d.jsonl",
        "--dataset-sha256",
        sha,
        "--model",
        "openai/stub",
        "--base-url",
        url,
        "--store",
        "s",
        "--results-json",
        "r.json",
    ];
    args.extend_from_slice(extra);
    modelgate(&args, dir)
}

#[test]
fn openai_server_run_scores_every_sample() {
    let dir = tempfile::tempdir().unwrap();
    let (_rt, server) = stub(StubConfig::default());
    let (_, sha) = pinned_dataset(dir.path(), 50);
    let out = run_against(
        dir.path(),
        &server.base_url(),
        &sha,
        &["--max-connections", "8"],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let r = read_json(&dir.path().join("r.json"));
    assert_eq!(
        (r["total"].as_u64(), r["completed"].as_u64()),
        (Some(50), Some(50))
    );
    assert_eq!(r["accuracy"].as_f64(), Some(1.0));
    assert_eq!(server.request_count(), 50);
    assert!(server.max_in_flight() <= 8);
}

#[test]
fn a_mismatched_pin_makes_no_model_call() {
    let dir = tempfile::tempdir().unwrap();
    let (_rt, server) = stub(StubConfig::default());
    pinned_dataset(dir.path(), 5);
    let out = run_against(dir.path(), &server.base_url(), &"0".repeat(64), &[]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("digest mismatch"));
    assert_eq!(server.request_count(), 0);
}

#[test]
fn retries_under_injected_429_and_500_are_recorded_and_the_run_completes() {
    let dir = tempfile::tempdir().unwrap();
    let (_rt, server) = stub(StubConfig {
        faults: vec![
            FaultRule {
                when: When::FirstN(3),
                fault: Fault::Status {
                    status: 429,
                    retry_after: Some("0".into()),
                },
            },
            FaultRule {
                when: When::EveryKth(7),
                fault: Fault::Status {
                    status: 500,
                    retry_after: None,
                },
            },
        ],
        ..StubConfig::default()
    });
    let (_, sha) = pinned_dataset(dir.path(), 30);
    let out = run_against(
        dir.path(),
        &server.base_url(),
        &sha,
        &["--max-connections", "1", "--max-retries", "5"],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let r = read_json(&dir.path().join("r.json"));
    assert_eq!(r["completed"], 30);
    assert_eq!(r["accuracy"].as_f64(), Some(1.0));
    let log = read_json(Path::new(r["log"].as_str().unwrap()));
    let retries = log["summary"]["retries"].as_u64().unwrap();
    // Every request beyond one per sample was a failed attempt that was retried.
    assert_eq!(retries, server.request_count() - 30);
    assert!(retries >= 3, "{retries}");
}

#[test]
fn garbage_and_hanging_answers_are_bounded_recorded_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (_rt, server) = stub(StubConfig {
        faults: vec![
            FaultRule {
                when: When::EveryKth(5),
                fault: Fault::Garbage,
            },
            FaultRule {
                when: When::EveryKth(7),
                fault: Fault::Hang,
            },
        ],
        ..StubConfig::default()
    });
    let (_, sha) = pinned_dataset(dir.path(), 20);
    let out = run_against(
        dir.path(),
        &server.base_url(),
        &sha,
        &[
            "--max-connections",
            "1",
            "--max-retries",
            "0",
            "--request-timeout",
            "0.5",
        ],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let r = read_json(&dir.path().join("r.json"));
    assert_eq!(r["total"], 20);
    let errors = r["errors"].as_u64().unwrap();
    assert!(errors >= 4, "{r}");
    assert_eq!(r["completed"].as_u64().unwrap() + errors, 20);
    let log = read_json(Path::new(r["log"].as_str().unwrap()));
    let kinds: Vec<String> = log["samples"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["record"]["error"]["message"].as_str().map(str::to_owned))
        .collect();
    assert!(kinds.iter().any(|m| m.contains("malformed")), "{kinds:?}");
    assert!(kinds.iter().any(|m| m.contains("within")), "{kinds:?}");
    // on_failure abort: the first failure stops the run with exit 2.
    let out = run_against(
        dir.path(),
        &server.base_url(),
        &sha,
        &[
            "--max-retries",
            "0",
            "--request-timeout",
            "0.5",
            "--on-failure",
            "abort",
        ],
    );
    assert_eq!(code(&out), 2, "{}", stdout(&out));
}

#[test]
fn a_server_that_is_down_fails_the_run_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let (_, sha) = pinned_dataset(dir.path(), 3);
    // A port nothing listens on: bind, read the port, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/v1");
    let out = run_against(dir.path(), &url, &sha, &["--max-retries", "1"]);
    assert_eq!(code(&out), 2, "{}", stdout(&out));
    let r = read_json(&dir.path().join("r.json"));
    assert_eq!(r["status"], "error");
    assert_eq!(r["completed"], 0);
}
