//! End-to-end tests of the `modelgate` binary: exit codes, output formats, and the published
//! JSON schema. Fixtures are built in each test from plain bytes.

mod support;

use std::fs;

use serde_json::Value;
use support::{code, modelgate, repo_root, schema_violations, stderr, stdout};

/// Protocol-0 pickle: `os.system('echo modelgate-test')` — never executed, only scanned.
const EVIL_P0: &[u8] = b"cos\nsystem\n(S'echo modelgate-test'\ntR.";
/// Protocol-4 pickle of `{'a': 1}`.
const PLAIN_P4: &[u8] = b"\x80\x04\x95\x0a\x00\x00\x00\x00\x00\x00\x00}\x94\x8c\x01a\x94K\x01s.";

fn scan_json(dir: &std::path::Path, extra: &[&str]) -> (i32, Value) {
    let mut args = vec!["scan", "--format", "json"];
    args.extend_from_slice(extra);
    args.push(".");
    let out = modelgate(&args, dir);
    let json: Value = serde_json::from_str(&stdout(&out))
        .unwrap_or_else(|e| panic!("invalid JSON ({e}): {}\n{}", stdout(&out), stderr(&out)));
    (code(&out), json)
}

#[test]
fn missing_path_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = modelgate(&["scan", "does-not-exist"], dir.path());
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("does-not-exist"), "{}", stderr(&out));
}

#[test]
fn bad_flags_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(code(&modelgate(&["scan"], dir.path())), 2);
    assert_eq!(
        code(&modelgate(
            &["scan", "--fail-on", "severe", "."],
            dir.path()
        )),
        2
    );
    assert_eq!(
        code(&modelgate(&["scan", "--format", "xml", "."], dir.path())),
        2
    );
    assert_eq!(code(&modelgate(&["--version"], dir.path())), 0);
}

#[test]
fn clean_directory_passes_and_lists_hashes() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("README.md"), "# a model\n").unwrap();
    fs::write(dir.path().join("config.json"), r#"{"model_type": "bert"}"#).unwrap();
    let (status, json) = scan_json(dir.path(), &[]);
    assert_eq!(status, 0, "{json}");
    let files = json["files"].as_array().unwrap();
    assert_eq!(files.len(), 2);
    assert_eq!(files[0]["path"], "./README.md");
    // printf '# a model\n' | sha256sum
    assert_eq!(
        files[0]["sha256"],
        "47d7ea50eef1ddae2b1fe8d39b8c3a022a7bebd99494c92055043735cdbd7256"
    );
    assert_eq!(files[1]["format"], "json");
}

#[test]
fn lying_extension_fails_at_high_and_respects_fail_on() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("model.safetensors"), EVIL_P0).unwrap();
    let (status, json) = scan_json(dir.path(), &[]);
    assert_eq!(status, 1, "{json}");
    let mismatch = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "MG001")
        .expect("extension mismatch reported");
    assert_eq!(mismatch["severity"], "high");
    assert_eq!(mismatch["location"]["path"], "./model.safetensors");
    assert_eq!(json["files"][0]["format"], "pickle");
}

#[test]
fn json_report_matches_published_schema() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("weights.json"), PLAIN_P4).unwrap();
    fs::write(dir.path().join("evil.pkl"), EVIL_P0).unwrap();
    fs::write(dir.path().join("notes.txt"), "hello").unwrap();
    let (_, json) = scan_json(dir.path(), &["--fail-on", "critical"]);
    let schema: Value = serde_json::from_str(
        &fs::read_to_string(repo_root().join("docs/schemas/scan-report-v1.json")).unwrap(),
    )
    .unwrap();
    let violations = schema_violations(&schema, &json);
    assert!(violations.is_empty(), "{violations:#?}\n{json:#}");
    assert!(!json["findings"].as_array().unwrap().is_empty());
}

#[test]
fn sarif_is_2_1_0_with_rules_and_results() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("model.safetensors"), EVIL_P0).unwrap();
    let out = modelgate(
        &["scan", "--format", "sarif", "model.safetensors"],
        dir.path(),
    );
    assert_eq!(code(&out), 1);
    let sarif: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    let run = &sarif["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    assert!(rules.iter().any(|r| r["id"] == "MG101"));
    let result = &run["results"][0];
    let index = usize::try_from(result["ruleIndex"].as_u64().unwrap()).unwrap();
    assert_eq!(rules[index]["id"], result["ruleId"]);
    assert_eq!(
        result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "model.safetensors"
    );
    assert_eq!(result["level"], "error");
}

#[test]
fn output_file_and_unreadable_file() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("ok.txt"), "fine").unwrap();
    let out = modelgate(
        &["scan", "--format", "json", "-o", "r.json", "."],
        dir.path(),
    );
    assert_eq!(code(&out), 0);
    assert!(stdout(&out).is_empty());
    let written: Value =
        serde_json::from_str(&fs::read_to_string(dir.path().join("r.json")).unwrap()).unwrap();
    assert_eq!(written["schema_version"], 1);
}

#[test]
fn rules_command_lists_catalogue() {
    let dir = tempfile::tempdir().unwrap();
    let out = modelgate(&["rules", "--format", "json"], dir.path());
    assert_eq!(code(&out), 0);
    let rules: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert!(
        rules
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["name"] == "pickle-dangerous-callable")
    );
    let human = stdout(&modelgate(&["rules"], dir.path()));
    assert!(human.contains("MG101  pickle-dangerous-callable"));
}
