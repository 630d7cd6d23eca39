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

/// The README's main job: the bundled example repository reports exactly its two hostile files.
#[test]
fn bundled_example_reports_its_two_hostile_files() {
    let root = repo_root();
    let out = modelgate(&["scan", "--format", "json", "examples/model-repo"], root);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let json: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let serious: Vec<(String, String, String)> = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] == "critical" || f["severity"] == "high")
        .map(|f| {
            (
                f["location"]["path"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                f["rule"].as_str().unwrap_or_default().to_owned(),
                f["subject"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        serious,
        [
            (
                "examples/model-repo/pytorch_model.bin".to_owned(),
                "MG101".to_owned(),
                "os.system".to_owned()
            ),
            (
                "examples/model-repo/training_args.bin".to_owned(),
                "MG101".to_owned(),
                "builtins.exec".to_owned()
            ),
        ]
    );
    assert_eq!(json["summary"]["files"], 6);
}

/// The human report, as a user sees it (timing normalised).
#[test]
fn human_report_snapshot() {
    let out = modelgate(&["scan", "examples/model-repo"], repo_root());
    assert_eq!(code(&out), 1);
    let text = stdout(&out);
    let normalised: String = text
        .lines()
        .map(|line| match line.find(") in ") {
            Some(i) if line.starts_with("scanned ") => {
                let rest = &line[i + 5..];
                let after = rest.find(':').map_or("", |j| &rest[j..]);
                format!("{} in [duration]{after}", &line[..=i])
            }
            _ => line.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    insta::assert_snapshot!(normalised);
}

#[test]
fn standalone_chat_template_file_is_checked() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("chat_template.jinja"),
        "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    )
    .unwrap();
    let (status, json) = scan_json(dir.path(), &[]);
    assert_eq!(status, 1);
    assert!(
        json["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["rule"] == "MG403" && f["severity"] == "critical")
    );
}

#[test]
fn pickle_disasm_shows_listing_pseudo_python_and_classification() {
    let root = repo_root();
    let out = modelgate(
        &["pickle", "disasm", "examples/model-repo/training_args.bin"],
        root,
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("### examples/model-repo/training_args.bin!archive/data.pkl"));
    assert!(
        text.contains("GLOBAL") && text.contains("'builtins' 'exec'"),
        "{text}"
    );
    assert!(text.contains("from builtins import exec"), "{text}");
    assert!(text.contains("MG101 critical"), "{text}");
    // `scan --explain` is the same view.
    let same = modelgate(
        &["scan", "--explain", "examples/model-repo/training_args.bin"],
        root,
    );
    assert_eq!(stdout(&same), text);
    // A file with no pickle is an input error naming the file.
    let none = modelgate(
        &["pickle", "disasm", "examples/model-repo/config.json"],
        root,
    );
    assert_eq!(code(&none), 2);
    assert!(stderr(&none).contains("config.json"), "{}", stderr(&none));
}
