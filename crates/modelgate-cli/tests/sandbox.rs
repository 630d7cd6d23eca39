//! End-to-end tests of `modelgate sandbox exec` and `modelgate sandbox doctor`.
//!
//! They need a host that can run the native sandbox (root, user namespaces). Under `CI` a host
//! that cannot is a failure; elsewhere these tests skip loudly.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)] // test helpers; skips are announced

mod support;

use std::fs;
use std::path::Path;

use serde_json::Value;
use support::{code, modelgate, schema_violations, stderr, stdout};

/// Whether the native sandbox can run here (fails under CI when it cannot).
fn sandbox_host() -> bool {
    let dir = tempfile::tempdir().unwrap();
    let out = modelgate(&["sandbox", "doctor", "--json"], dir.path());
    let json: Value = serde_json::from_str(&stdout(&out)).expect("doctor --json prints JSON");
    if json["ready"] == Value::Bool(true) {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "the native sandbox cannot run on this CI host: {}",
        json["missing"]
    );
    eprintln!(
        "SKIPPED: the native sandbox cannot run here: {}",
        json["missing"]
    );
    false
}

fn json_of(out: &std::process::Output) -> Value {
    serde_json::from_str(&stdout(out))
        .unwrap_or_else(|e| panic!("invalid JSON ({e}): {}\n{}", stdout(out), stderr(out)))
}

#[test]
fn exec_prints_output_and_exits_with_the_command_status() {
    if !sandbox_host() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = modelgate(
        &[
            "sandbox",
            "exec",
            "--",
            "/bin/sh",
            "-c",
            "echo out; echo err >&2; id -u; exit 3",
        ],
        dir.path(),
    );
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert_eq!(stdout(&out), "out\n65534\n");
    assert_eq!(stderr(&out), "err\n");
    let out = modelgate(&["sandbox", "exec", "--", "true"], dir.path());
    assert_eq!(code(&out), 0);
}

#[test]
fn exec_json_reports_status_output_usage_and_events() {
    if !sandbox_host() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.yaml");
    fs::write(&policy, "limits:\n  wall_time: 1s\n  output: 16\n").unwrap();
    let out = modelgate(
        &[
            "sandbox",
            "exec",
            "--json",
            "--policy",
            policy.to_str().unwrap(),
            "--",
            "/bin/sh",
            "-c",
            "echo 0123456789abcdefXYZ; exec sleep 30",
        ],
        dir.path(),
    );
    assert_eq!(code(&out), 137, "{}", stderr(&out));
    let j = json_of(&out);
    assert_eq!(j["exit_code"], Value::Null);
    assert_eq!(j["signal"], "SIGKILL");
    assert_eq!(j["timed_out"], true);
    assert_eq!(j["stdout_truncated"], true);
    assert_eq!(j["stdout_bytes"], 20);
    assert!(
        j["stdout"]
            .as_str()
            .unwrap()
            .starts_with("0123456789abcdef\n[modelgate: output truncated"),
        "{j}"
    );
    assert!(j["wall_time_ms"].as_f64().unwrap() >= 1000.0);
    assert!(j["cpu_time_ms"].as_f64().is_some());
    assert!(j["peak_memory_bytes"].as_u64().unwrap() > 0);
    let kinds: Vec<&str> = j["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["timeout", "output_truncated"]);
    assert_eq!(j["backend"], "native");
}

#[test]
fn exec_timeout_flag_shortens_the_wall_clock() {
    if !sandbox_host() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = modelgate(
        &["sandbox", "exec", "--timeout", "300ms", "--", "sleep", "10"],
        dir.path(),
    );
    assert_eq!(code(&out), 137);
    assert!(
        stderr(&out).contains("killed at the wall-clock limit (300 ms)"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn workspace_directory_goes_in_and_results_come_back() {
    if !sandbox_host() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws");
    fs::create_dir_all(ws.join("src")).unwrap();
    fs::write(ws.join("src/input.txt"), "six times seven\n").unwrap();
    let out = modelgate(
        &[
            "sandbox",
            "exec",
            "--workspace",
            ws.to_str().unwrap(),
            "--",
            "/bin/sh",
            "-c",
            "cat src/input.txt; echo 42 > answer.txt; ln -s /etc/passwd leak",
        ],
        dir.path(),
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "six times seven\n");
    assert_eq!(fs::read_to_string(ws.join("answer.txt")).unwrap(), "42\n");
    assert!(
        fs::symlink_metadata(ws.join("leak")).is_err(),
        "links are never copied out"
    );
}

#[test]
fn malformed_policy_is_an_error_naming_field_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("p.yaml");
    fs::write(
        &policy,
        "version: 1\nlimits:\n  memory: 64MiB\n  wall_tme: 5s\n",
    )
    .unwrap();
    let out = modelgate(
        &[
            "sandbox",
            "exec",
            "--policy",
            policy.to_str().unwrap(),
            "--",
            "true",
        ],
        dir.path(),
    );
    assert_eq!(code(&out), 2);
    let err = stderr(&out);
    assert!(
        err.contains("p.yaml:4") && err.contains("wall_tme"),
        "{err}"
    );
    fs::write(&policy, "limits:\n  processes: 0\n").unwrap();
    let out = modelgate(
        &["sandbox", "doctor", "--policy", policy.to_str().unwrap()],
        dir.path(),
    );
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("p.yaml:2: field `limits.processes`"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn sandbox_errors_exit_2_and_usage_is_checked() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(code(&modelgate(&["sandbox", "exec"], dir.path())), 2);
    assert_eq!(
        code(&modelgate(&["sandbox", "exec", "true"], dir.path())),
        2,
        "CMD must follow --"
    );
    assert_eq!(
        code(&modelgate(
            &["sandbox", "exec", "--backend", "oci", "--", "true"],
            dir.path()
        )),
        2,
        "oci needs --image"
    );
    if !sandbox_host() {
        return;
    }
    let out = modelgate(
        &["sandbox", "exec", "--", "no-such-program-here"],
        dir.path(),
    );
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("cannot start `no-such-program-here`"),
        "{}",
        stderr(&out)
    );
    let out = modelgate(
        &["sandbox", "exec", "--json", "--", "no-such-program-here"],
        dir.path(),
    );
    assert_eq!(code(&out), 2);
    assert!(
        json_of(&out)["error"]
            .as_str()
            .unwrap()
            .contains("cannot start")
    );
}

#[test]
fn oci_backend_refuses_clearly_when_no_engine_runs() {
    let dir = tempfile::tempdir().unwrap();
    let doctor = json_of(&modelgate(&["sandbox", "doctor", "--json"], dir.path()));
    let running = doctor["host"]["oci"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["running"] == true && e["name"] != "runsc");
    if running {
        eprintln!("an OCI engine runs here; the refusal path is not exercised");
        return;
    }
    let out = modelgate(
        &[
            "sandbox",
            "exec",
            "--backend",
            "oci",
            "--image",
            "debian:12",
            "--",
            "true",
        ],
        dir.path(),
    );
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("OCI backend: no OCI engine"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn doctor_lists_host_features_and_the_plan() {
    let dir = tempfile::tempdir().unwrap();
    let out = modelgate(&["sandbox", "doctor", "--json"], dir.path());
    let j = json_of(&out);
    let names: Vec<&str> = j["host"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["user", "mount", "pid", "network", "ipc", "uts", "cgroup"]
    );
    assert!(j["host"]["seccomp_actions"].is_array());
    assert!(
        j["uses"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u.as_str().unwrap().contains("never 0"))
    );
    if j["ready"] == true {
        assert_eq!(code(&out), 0);
        let human = stdout(&modelgate(&["sandbox", "doctor"], dir.path()));
        assert!(human.contains("the default policy: ready"), "{human}");
        assert!(human.contains("namespaces  user yes"), "{human}");
    } else {
        assert_eq!(code(&out), 1);
    }
}

#[test]
fn json_results_match_the_published_schema() {
    if !sandbox_host() {
        return;
    }
    let schema_path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../docs/schemas/sandbox-exec-result-v1.json");
    let schema: Value = serde_json::from_str(&fs::read_to_string(schema_path).unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("p.yaml");
    fs::write(
        &policy,
        "limits:\n  wall_time: 2s\n  output: 8\n  processes: 16\n",
    )
    .unwrap();
    // Several kinds of event in one run: truncation, refused system calls, a process limit.
    let script = "echo 0123456789; unshare -U true; mount -t tmpfs x /tmp; (for i in $(seq 40); do sleep 5 & done) 2>/dev/null; exit 4";
    let out = modelgate(
        &[
            "sandbox",
            "exec",
            "--json",
            "--policy",
            policy.to_str().unwrap(),
            "--",
            "/bin/sh",
            "-c",
            script,
        ],
        dir.path(),
    );
    let j = json_of(&out);
    let errors = schema_violations(&schema, &j);
    assert!(errors.is_empty(), "{errors:#?}\n{j}");
    let kinds: Vec<&str> = j["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    for k in ["process_limit", "output_truncated", "syscall_denied"] {
        assert!(kinds.contains(&k), "{kinds:?}");
    }
    assert_eq!(j["schema_version"], 1);
    assert_eq!(j["exit_code"], 4);
    // A schema that drifts from the output is caught: an unknown field is a violation.
    let mut drifted = j.clone();
    drifted["surprise"] = Value::Bool(true);
    assert_eq!(
        schema_violations(&schema, &drifted),
        [": unexpected property `surprise`"]
    );
}
