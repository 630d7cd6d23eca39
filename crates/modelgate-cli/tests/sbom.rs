//! End-to-end tests of `modelgate sbom` (CycloneDX 1.6 ML-BOM) and `modelgate watch` (runtime
//! integrity): exit codes, what the output says, bad input, and validation of the BOMs with
//! cyclonedx-python-lib's strict 1.6 JSON validator from `.venv-interop`
//! (scripts/interop-env.sh). The validator tests FAIL when the venv cannot be set up while `CI`
//! is set, and skip loudly only outside CI.

// Set-up helpers outside #[test] fns: a failed set-up should panic with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

mod support;

use support::{expect, interop_venv_python, repo_root, stderr, stdout};

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&fs::read(path).unwrap()).unwrap()
}

/// `modelgate hash --format json` of `model`.
fn hash_json(model: &Path) -> Value {
    let out = expect(
        &["hash", "--format", "json", model.to_str().unwrap()],
        repo_root(),
        0,
    );
    serde_json::from_str(&stdout(&out)).unwrap()
}

/// Validates each BOM with `JsonStrictValidator(SchemaVersion.V1_6)`, and, as a control that the
/// validator is really checking, a copy of the first with a hash algorithm the schema does not
/// know, which must be refused.
fn validate_with_cyclonedx_python_lib(boms: &[&Path]) {
    let Some(python) = interop_venv_python() else {
        return;
    };
    let script = r#"
import json, sys
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
validator = JsonStrictValidator(SchemaVersion.V1_6)
failed = False
for path in sys.argv[1:]:
    error = validator.validate_str(open(path, encoding="utf-8").read())
    if error is not None:
        print(f"{path}: INVALID: {error}")
        failed = True
    else:
        print(f"{path}: valid")
bad = json.load(open(sys.argv[1], encoding="utf-8"))
bad["metadata"]["component"]["hashes"][0]["alg"] = "SHA256"
if validator.validate_str(json.dumps(bad)) is None:
    print("control: a BOM with an unknown hash algorithm passed validation")
    failed = True
sys.exit(1 if failed else 0)
"#;
    let out = Command::new(python)
        .arg("-c")
        .arg(script)
        .args(boms)
        .output()
        .expect("run the validator");
    assert!(
        out.status.success(),
        "cyclonedx-python-lib validation failed\nstdout:\n{}\nstderr:\n{}",
        stdout(&out),
        stderr(&out)
    );
}

/// A model directory with a config, a README with front matter and a weights file.
fn card_model(dir: &Path) -> PathBuf {
    let model = dir.join("card-model");
    fs::create_dir_all(model.join("tokenizer")).unwrap();
    fs::write(
        model.join("config.json"),
        r#"{"architectures": ["MistralForCausalLM"], "model_type": "mistral", "vocab_size": 32}"#,
    )
    .unwrap();
    fs::write(
        model.join("README.md"),
        "---\nlicense: apache-2.0\nlanguage:\n  - en\n  - de\ntags: [text-generation, chat]\n\
         pipeline_tag: text-generation\nbase_model: example/base\ndatasets: [example/corpus]\n\
         ---\n# Card model\n\nA test model.\n",
    )
    .unwrap();
    fs::write(model.join("model.safetensors"), b"not really tensors").unwrap();
    fs::write(model.join("tokenizer/vocab.txt"), b"a\nb\n").unwrap();
    model
}

fn write_evaluation(dir: &Path, name: &str, task: &str, dataset: &str, byte: &str) {
    let path = dir.join(name);
    let eval = serde_json::json!({
        "task": task,
        "dataset_name": dataset,
        "dataset_sha256": format!("sha256:{}", byte.repeat(32)),
        "metrics": [
            {"name": "accuracy", "value": 0.75, "stderr": 0.02},
            {"name": "refusal_rate", "value": 0.1, "ci": [0.05, 0.15]},
        ],
    });
    fs::write(&path, serde_json::to_vec_pretty(&eval).unwrap()).unwrap();
}

fn file_components(bom: &Value) -> Vec<&Value> {
    bom["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["type"] == "file")
        .collect()
}

/// The SBOM's model hash is `modelgate hash`'s root digest, and there is one file component per
/// manifest resource, with its SHA-256.
fn assert_matches_manifest(bom: &Value, model: &Path) {
    let manifest = hash_json(model);
    let model_component = &bom["metadata"]["component"];
    assert_eq!(model_component["type"], "machine-learning-model");
    assert_eq!(model_component["hashes"][0]["alg"], "SHA-256");
    assert_eq!(
        model_component["hashes"][0]["content"],
        manifest["root_digest"]["sha256"]
    );
    let files = file_components(bom);
    let resources = manifest["resources"].as_array().unwrap();
    assert_eq!(files.len(), resources.len());
    for (file, resource) in files.iter().zip(resources) {
        assert_eq!(file["name"], resource["name"]);
        assert_eq!(file["hashes"][0]["alg"], "SHA-256");
        assert_eq!(file["hashes"][0]["content"], resource["digest"]);
    }
}

#[test]
fn example_repo_bom_matches_the_manifest_and_validates() {
    let dir = tempfile::tempdir().unwrap();
    let model = repo_root().join("examples/model-repo");
    let bom_path = dir.path().join("bom.json");
    let out = expect(
        &[
            "sbom",
            model.to_str().unwrap(),
            "--output",
            bom_path.to_str().unwrap(),
        ],
        repo_root(),
        0,
    );
    assert!(stderr(&out).contains("6 files"), "{}", stderr(&out));
    let bom = read_json(&bom_path);
    assert_eq!(bom["bomFormat"], "CycloneDX");
    assert_eq!(bom["specVersion"], "1.6");
    assert!(
        bom["serialNumber"]
            .as_str()
            .unwrap()
            .starts_with("urn:uuid:")
    );
    assert_eq!(
        bom["metadata"]["tools"]["components"][0]["name"],
        "modelgate"
    );
    assert_eq!(bom["metadata"]["component"]["name"], "model-repo");
    let params = &bom["metadata"]["component"]["modelCard"]["modelParameters"];
    assert_eq!(params["architectureFamily"], "llama");
    assert_eq!(params["modelArchitecture"], "LlamaForCausalLM");
    assert_matches_manifest(&bom, &model);
    // Known digest of a committed file, independent of modelgate's own hashing.
    let config = file_components(&bom)
        .into_iter()
        .find(|c| c["name"] == "config.json")
        .unwrap();
    let want = sha256sum(&model.join("config.json"));
    assert_eq!(config["hashes"][0]["content"], want.as_str());
    validate_with_cyclonedx_python_lib(&[&bom_path]);
}

/// The SHA-256 of a file as coreutils' `sha256sum` computes it, so file digests are checked
/// against a tool other than modelgate.
fn sha256sum(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    assert!(out.status.success());
    stdout(&out).split_whitespace().next().unwrap().to_owned()
}

#[test]
fn card_fields_and_evaluations_are_reported_and_validate() {
    let dir = tempfile::tempdir().unwrap();
    let model = card_model(dir.path());
    write_evaluation(dir.path(), "e1.json", "mmlu", "mmlu-test", "ab");
    write_evaluation(dir.path(), "e2.json", "refusals", "harmful-prompts", "cd");
    let bom_path = dir.path().join("card.bom.json");
    expect(
        &[
            "sbom",
            "card-model",
            "-o",
            "card.bom.json",
            "--name",
            "card",
            "--version",
            "2.1",
            "--evaluation",
            "e1.json",
            "--evaluation",
            "e2.json",
        ],
        dir.path(),
        0,
    );
    let bom = read_json(&bom_path);
    let m = &bom["metadata"]["component"];
    assert_eq!(m["name"], "card");
    assert_eq!(m["version"], "2.1");
    assert_eq!(m["licenses"][0]["license"]["name"], "apache-2.0");
    assert_eq!(m["tags"], serde_json::json!(["text-generation", "chat"]));
    let card = &m["modelCard"];
    let params = &card["modelParameters"];
    assert_eq!(params["task"], "text-generation");
    assert_eq!(params["architectureFamily"], "mistral");
    assert_eq!(params["modelArchitecture"], "MistralForCausalLM");
    let dataset_refs: Vec<&str> = params["datasets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["ref"].as_str().unwrap())
        .collect();
    assert_eq!(dataset_refs.len(), 2);
    let metrics = card["quantitativeAnalysis"]["performanceMetrics"]
        .as_array()
        .unwrap();
    assert_eq!(metrics.len(), 4);
    assert_eq!(metrics[0]["type"], "accuracy");
    assert_eq!(metrics[0]["value"], "0.75");
    assert_eq!(metrics[0]["slice"], "task:mmlu dataset:mmlu-test");
    assert_eq!(metrics[0]["confidenceInterval"]["lowerBound"], "0.7108");
    assert_eq!(metrics[0]["confidenceInterval"]["upperBound"], "0.7892");
    assert_eq!(metrics[1]["confidenceInterval"]["lowerBound"], "0.05");
    let languages: Vec<&str> = card["properties"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["name"] == "modelgate:card:language")
        .map(|p| p["value"].as_str().unwrap())
        .collect();
    assert_eq!(languages, ["en", "de"]);

    // Data components carry the pinned digests, and the refs resolve to them.
    let data: Vec<&Value> = bom["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["type"] == "data")
        .collect();
    assert_eq!(data.len(), 2);
    for d in &data {
        assert!(dataset_refs.contains(&d["bom-ref"].as_str().unwrap()));
        let content = d["hashes"][0]["content"].as_str().unwrap();
        assert!(content == "ab".repeat(32) || content == "cd".repeat(32));
    }
    // The graph: model → every file and dataset; each of those a leaf.
    let deps = bom["dependencies"].as_array().unwrap();
    assert_eq!(deps[0]["ref"], m["bom-ref"]);
    let children = deps[0]["dependsOn"].as_array().unwrap();
    assert_eq!(children.len(), 4 + 2);
    assert_eq!(deps.len(), 1 + children.len());
    // The BOM was written into the parent directory; the model's own files are all listed.
    assert_matches_manifest(&bom, &model);
    validate_with_cyclonedx_python_lib(&[&bom_path]);
}

#[test]
fn bom_inside_the_model_is_left_out_and_stdout_works() {
    let dir = tempfile::tempdir().unwrap();
    let model = card_model(dir.path());
    for _ in 0..2 {
        expect(
            &["sbom", "card-model", "-o", "card-model/bom.json"],
            dir.path(),
            0,
        );
    }
    let bom = read_json(&model.join("bom.json"));
    assert!(
        file_components(&bom)
            .iter()
            .all(|c| c["name"] != "bom.json")
    );
    let hashes = |args: &[&str]| {
        let out = expect(args, dir.path(), 0);
        let bom: Value = serde_json::from_str(&stdout(&out)).unwrap();
        (bom["metadata"]["component"]["hashes"].clone(), bom)
    };
    // On stdout nothing is left out by itself: bom.json is now part of the model...
    let (with_bom, _) = hashes(&["sbom", "card-model", "--output", "-"]);
    assert_ne!(with_bom, bom["metadata"]["component"]["hashes"]);
    // ...unless left out explicitly, which gives the root digest of the written BOM.
    let (from_stdout, from_stdout_bom) = hashes(&[
        "sbom",
        "card-model",
        "--output",
        "-",
        "--ignore-paths",
        "card-model/bom.json",
    ]);
    assert_eq!(from_stdout, bom["metadata"]["component"]["hashes"]);
    assert_ne!(from_stdout_bom["serialNumber"], bom["serialNumber"]);
}

#[test]
fn unreadable_or_malformed_input_exits_2_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let model = card_model(dir.path());
    let out = expect(&["sbom", "missing-model", "-o", "-"], dir.path(), 2);
    assert!(stderr(&out).contains("missing-model"), "{}", stderr(&out));

    let out = expect(
        &["sbom", "card-model", "-o", "-", "--evaluation", "nope.json"],
        dir.path(),
        2,
    );
    assert!(stderr(&out).contains("nope.json"), "{}", stderr(&out));

    fs::write(dir.path().join("bad.json"), r#"{"task": "t"}"#).unwrap();
    let out = expect(
        &["sbom", "card-model", "-o", "-", "--evaluation", "bad.json"],
        dir.path(),
        2,
    );
    assert!(stderr(&out).contains("bad.json"), "{}", stderr(&out));
    assert!(stderr(&out).contains("dataset_name"), "{}", stderr(&out));

    write_evaluation(dir.path(), "e.json", "t", "d", "zz");
    let out = expect(
        &["sbom", "card-model", "-o", "-", "--evaluation", "e.json"],
        dir.path(),
        2,
    );
    assert!(stderr(&out).contains("dataset_sha256"), "{}", stderr(&out));

    fs::write(model.join("README.md"), "---\nlicense: [unclosed\n---\n").unwrap();
    let out = expect(&["sbom", "card-model", "-o", "-"], dir.path(), 2);
    assert!(stderr(&out).contains("README.md"), "{}", stderr(&out));
    assert!(stdout(&out).is_empty());

    fs::write(model.join("README.md"), "# no front matter\n").unwrap();
    fs::write(model.join("config.json"), "{").unwrap();
    let out = expect(&["sbom", "card-model", "-o", "out.json"], dir.path(), 2);
    assert!(stderr(&out).contains("config.json"), "{}", stderr(&out));
    assert!(!dir.path().join("out.json").exists());
}

// --- watch ------------------------------------------------------------------------------------

fn root_digest(model: &Path) -> String {
    format!(
        "sha256:{}",
        hash_json(model)["root_digest"]["sha256"].as_str().unwrap()
    )
}

#[test]
fn watch_once_matches_and_detects_a_modified_file() {
    let dir = tempfile::tempdir().unwrap();
    let model = card_model(dir.path());
    let digest = root_digest(&model);
    let out = expect(
        &["watch", "card-model", "--expect", &digest, "--once"],
        dir.path(),
        0,
    );
    let err = stderr(&out);
    assert!(err.contains(" ok card-model "), "{err}");
    assert!(err.contains(&digest), "{err}");
    // Bare hex, upper case, is the same digest.
    let bare = digest.trim_start_matches("sha256:").to_uppercase();
    expect(
        &["watch", "card-model", "--expect", &bare, "--once"],
        dir.path(),
        0,
    );

    fs::write(model.join("model.safetensors"), b"tampered tensors").unwrap();
    let metrics = dir.path().join("watch.prom");
    let out = expect(
        &[
            "watch",
            "card-model",
            "--expect",
            &digest,
            "--once",
            "--metrics-file",
            metrics.to_str().unwrap(),
        ],
        dir.path(),
        1,
    );
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "MISMATCH card-model expected {digest} got sha256:"
        )),
        "{err}"
    );
    let text = fs::read_to_string(&metrics).unwrap();
    assert!(
        text.contains("modelgate_watch_mismatch{path=\"card-model\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("modelgate_watch_checks_total{path=\"card-model\"} 1\n"),
        "{text}"
    );
    assert!(text.contains("# TYPE modelgate_watch_checks_total counter\n"));
    // Removing a file is a mismatch too.
    fs::remove_file(model.join("tokenizer/vocab.txt")).unwrap();
    expect(
        &["watch", "card-model", "--expect", &digest, "--once"],
        dir.path(),
        1,
    );
}

#[test]
fn watch_metrics_file_reports_a_passing_check() {
    let dir = tempfile::tempdir().unwrap();
    let model = card_model(dir.path());
    let digest = root_digest(&model);
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    expect(
        &[
            "watch",
            "card-model",
            "--expect",
            &digest,
            "--once",
            "--metrics-file",
            "m.prom",
        ],
        dir.path(),
        0,
    );
    let text = fs::read_to_string(dir.path().join("m.prom")).unwrap();
    let value = |name: &str| -> f64 {
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("{name}{{")))
            .unwrap_or_else(|| panic!("{name} missing:\n{text}"));
        line.rsplit(' ').next().unwrap().parse().unwrap()
    };
    assert!((value("modelgate_watch_checks_total") - 1.0).abs() < f64::EPSILON);
    assert!(value("modelgate_watch_mismatch").abs() < f64::EPSILON);
    assert!(value("modelgate_watch_check_errors_total").abs() < f64::EPSILON);
    let ts = value("modelgate_watch_last_check_timestamp_seconds");
    assert!(
        ts >= before.floor() && ts < before + 60.0,
        "{ts} vs {before}"
    );
    // Every sample has HELP and TYPE lines.
    assert_eq!(text.lines().filter(|l| l.starts_with("# HELP")).count(), 4);
    assert_eq!(text.lines().filter(|l| l.starts_with("# TYPE")).count(), 4);
}

#[test]
fn watch_bad_input_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let model = card_model(dir.path());
    let digest = root_digest(&model);
    let out = expect(
        &["watch", "card-model", "--expect", "sha256:1234", "--once"],
        dir.path(),
        2,
    );
    assert!(
        stderr(&out).contains("not a root digest"),
        "{}",
        stderr(&out)
    );
    let out = expect(
        &["watch", "gone", "--expect", &digest, "--once"],
        dir.path(),
        2,
    );
    assert!(stderr(&out).contains("gone"), "{}", stderr(&out));
    assert!(stderr(&out).contains("ERROR"), "{}", stderr(&out));
    expect(
        &[
            "watch",
            "card-model",
            "--expect",
            &digest,
            "--interval",
            "0",
        ],
        dir.path(),
        2,
    );
}

#[test]
fn watch_interval_mode_detects_a_change_made_while_running() {
    let dir = tempfile::tempdir().unwrap();
    let model = card_model(dir.path());
    let digest = root_digest(&model);
    let mut child = Command::new(env!("CARGO_BIN_EXE_modelgate"))
        .args([
            "watch",
            "card-model",
            "--expect",
            &digest,
            "--interval",
            "0.2",
            "--metrics-file",
            "w.prom",
        ])
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let reader = BufReader::new(child.stderr.take().unwrap());
    std::thread::spawn(move || {
        for line in reader.lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut lines = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    // Two passing checks first: the watcher is looping, not exiting after one.
    while lines
        .iter()
        .filter(|l: &&String| l.contains(" ok "))
        .count()
        < 2
    {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(line) = rx.recv_timeout(left) else {
            let _ = child.kill();
            panic!("no two ok lines in time: {lines:?}");
        };
        lines.push(line);
    }
    assert!(
        child.try_wait().unwrap().is_none(),
        "exited early: {lines:?}"
    );
    fs::write(model.join("config.json"), b"{\"model_type\": \"swapped\"}").unwrap();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("watch did not exit after the change: {lines:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    lines.extend(rx.iter());
    assert_eq!(status.code(), Some(1), "{lines:?}");
    let last = lines.last().unwrap();
    assert!(last.contains("MISMATCH card-model expected"), "{lines:?}");
    let text = fs::read_to_string(dir.path().join("w.prom")).unwrap();
    assert!(text.contains("modelgate_watch_mismatch{path=\"card-model\"} 1\n"));
    let checks = lines
        .iter()
        .filter(|l| l.contains("modelgate watch:"))
        .count();
    assert!(
        text.contains(&format!(
            "modelgate_watch_checks_total{{path=\"card-model\"}} {checks}\n"
        )),
        "{text}"
    );
}
