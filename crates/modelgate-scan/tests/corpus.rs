//! The detection corpus (`tests/corpus/`, made by `tests/corpus/generate.py`): every malicious
//! file must get a finding at `high` or above (or at its `min_severity`) located in that file
//! (and, where the expectations name rules, one of those rules); no benign file may get any
//! finding at `high` or above.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use modelgate_core::{Finding, Severity};
use modelgate_scan::{ScanOptions, scan_paths};
use serde_json::Value;

fn corpus_dir() -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/corpus")).to_path_buf()
}

#[test]
fn corpus_detections_and_false_positives() {
    let dir = corpus_dir();
    let expectations: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("expectations.json"))
            .expect("tests/corpus/expectations.json"),
    )
    .expect("valid expectations.json");
    let entries = expectations["files"].as_array().expect("files array");
    assert!(
        entries.len() > 50,
        "the corpus should hold well over 50 files"
    );

    let report = scan_paths(std::slice::from_ref(&dir), &ScanOptions::default());
    assert!(
        report.errors.is_empty(),
        "scan errors: {:#?}",
        report.errors
    );
    let prefix = format!("{}/", dir.to_string_lossy());
    let mut by_file: BTreeMap<String, Vec<&Finding>> = BTreeMap::new();
    for finding in &report.findings {
        let rel = finding
            .location
            .path
            .strip_prefix(&prefix)
            .unwrap_or(&finding.location.path);
        by_file.entry(rel.to_owned()).or_default().push(finding);
    }

    let mut missed = Vec::new();
    let mut wrong_rule = Vec::new();
    let mut false_positives = Vec::new();
    let (mut malicious, mut benign) = (0, 0);
    for entry in entries {
        let path = entry["path"].as_str().expect("path");
        let found: Vec<&Finding> = by_file.get(path).cloned().unwrap_or_default();
        let high: Vec<&&Finding> = found
            .iter()
            .filter(|f| f.severity >= Severity::High)
            .collect();
        match entry["kind"].as_str() {
            Some("malicious") => {
                malicious += 1;
                // A few techniques are medium by design (a custom ONNX domain, shipped Python).
                let min: Severity = entry["min_severity"]
                    .as_str()
                    .unwrap_or("high")
                    .parse()
                    .expect("min_severity is a severity");
                if !found.iter().any(|f| f.severity >= min) {
                    missed.push(format!("{path} ({})", entry["technique"]));
                    continue;
                }
                if let Some(rules) = entry["expect_rules"].as_array() {
                    let want: Vec<&str> = rules.iter().filter_map(Value::as_str).collect();
                    if !found.iter().any(|f| want.contains(&f.rule.code())) {
                        let got: Vec<&str> = found.iter().map(|f| f.rule.code()).collect();
                        wrong_rule.push(format!("{path}: wanted one of {want:?}, got {got:?}"));
                    }
                }
            }
            Some("benign") => {
                benign += 1;
                for f in high {
                    false_positives.push(format!(
                        "{path}: {} {} {} {}",
                        f.severity,
                        f.rule.code(),
                        f.subject.as_deref().unwrap_or(""),
                        f.message
                    ));
                }
            }
            other => panic!("{path}: unknown kind {other:?}"),
        }
    }
    assert!(malicious > 0 && benign > 0);
    assert!(
        missed.is_empty() && wrong_rule.is_empty() && false_positives.is_empty(),
        "missed {} of {malicious} malicious:\n{}\nwrong rule:\n{}\nfalse positives on {benign} benign:\n{}",
        missed.len(),
        missed.join("\n"),
        wrong_rule.join("\n"),
        false_positives.join("\n")
    );
}
