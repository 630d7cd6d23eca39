//! SARIF 2.1.0: one run, the rule catalogue as `tool.driver.rules`, one result per finding.
//!
//! GitHub code scanning needs `locations[].physicalLocation.artifactLocation.uri` to be a
//! relative path with forward slashes, and reads severity from `level` plus the rule's
//! `properties.security-severity`.

use std::fmt::Write as _;

use modelgate_core::{Finding, Report, RuleId, Severity};
use serde_json::{Value, json};

const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

/// The CVSS-like score GitHub uses to bucket security results.
fn security_severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
        Severity::Info => "0.0",
    }
}

fn rule_descriptor(rule: RuleId) -> Value {
    json!({
        "id": rule.code(),
        "name": rule.name(),
        "shortDescription": { "text": rule.summary() },
        "fullDescription": { "text": format!("{} {}", rule.summary(), rule.help()) },
        "help": { "text": rule.help() },
        "defaultConfiguration": { "level": level(rule.default_severity()) },
        "properties": {
            "tags": ["security", rule.cwe()],
            "security-severity": security_severity(rule.default_severity()),
            "precision": "high",
        },
    })
}

fn uri(path: &str) -> String {
    let forward = path.replace('\\', "/");
    let trimmed = forward.trim_start_matches("./");
    // Percent-encode the few characters that are not valid in a URI reference.
    let mut out = String::with_capacity(trimmed.len());
    for ch in trimmed.chars() {
        match ch {
            ' ' => out.push_str("%20"),
            '#' => out.push_str("%23"),
            '%' => out.push_str("%25"),
            '?' => out.push_str("%3F"),
            c => out.push(c),
        }
    }
    out
}

fn result(finding: &Finding, rule_index: usize) -> Value {
    let loc = &finding.location;
    let text = match &loc.member {
        Some(member) => format!("{} (archive member `{member}`)", finding.message),
        None => finding.message.clone(),
    };
    let mut physical = json!({
        "artifactLocation": { "uri": uri(&loc.path) },
    });
    let mut region = serde_json::Map::new();
    if let Some(line) = loc.line {
        region.insert("startLine".into(), json!(line));
        if let Some(column) = loc.column {
            region.insert("startColumn".into(), json!(column));
        }
    } else if let (Some(offset), None) = (loc.offset, &loc.member) {
        region.insert("byteOffset".into(), json!(offset));
    }
    if !region.is_empty() {
        physical["region"] = Value::Object(region);
    }
    let mut properties = json!({
        "severity": finding.severity.as_str(),
        "security-severity": security_severity(finding.severity),
    });
    if let Some(member) = &loc.member {
        properties["member"] = json!(member);
    }
    if let Some(offset) = loc.offset {
        properties["offset"] = json!(offset);
    }
    if let Some(subject) = &finding.subject {
        properties["subject"] = json!(subject);
    }
    if let Some(evidence) = &finding.evidence {
        properties["evidence"] = json!(evidence);
    }
    let mut fingerprint = format!(
        "{}:{}:{}:{}",
        finding.rule.code(),
        loc.path,
        loc.member.as_deref().unwrap_or(""),
        finding.subject.as_deref().unwrap_or("")
    );
    // Text formats (datasets) report many findings per file: the line and column keep their
    // fingerprints distinct. Binary findings carry no line, so their fingerprints are unchanged.
    if let Some(line) = loc.line {
        let _ = write!(fingerprint, ":{line}:{}", loc.column.unwrap_or(0));
    }
    json!({
        "ruleId": finding.rule.code(),
        "ruleIndex": rule_index,
        "level": level(finding.severity),
        "message": { "text": text },
        "locations": [{ "physicalLocation": physical }],
        "partialFingerprints": { "modelgateFinding/v1": fingerprint },
        "properties": properties,
    })
}

/// The report as a SARIF 2.1.0 log.
pub fn to_sarif(report: &Report) -> Value {
    let rules: Vec<Value> = RuleId::ALL.iter().copied().map(rule_descriptor).collect();
    let results: Vec<Value> = report
        .findings
        .iter()
        .map(|f| {
            let index = RuleId::ALL.iter().position(|r| *r == f.rule).unwrap_or(0);
            result(f, index)
        })
        .collect();
    let notifications: Vec<Value> = report
        .errors
        .iter()
        .map(|e| {
            json!({
                "level": "error",
                "message": { "text": e.message },
                "locations": [{ "physicalLocation": { "artifactLocation": { "uri": uri(&e.path) } } }],
            })
        })
        .collect();
    json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "modelgate",
                    "semanticVersion": report.tool.version,
                    "rules": rules,
                }
            },
            "invocations": [{
                "executionSuccessful": report.errors.is_empty(),
                "toolExecutionNotifications": notifications,
            }],
            "results": results,
            "columnKind": "unicodeCodePoints",
        }]
    })
}
