//! `modelgate registry list|show`.

use std::fmt::Write as _;

use modelgate_core::Report;
use modelgate_store::{Artifact, Entry, Ledger as _, SqliteStore};
use serde_json::{Value, json};

use crate::Outcome;
use crate::cli::{RegistryCommand, RegistryListArgs, RegistryShowArgs, ViewFormat};

/// Findings listed per artifact by `registry show`.
const TOP_FINDINGS: usize = 10;

pub(crate) fn run(cmd: &RegistryCommand) -> anyhow::Result<Outcome> {
    match cmd {
        RegistryCommand::List(args) => list(args),
        RegistryCommand::Show(args) => show(args),
    }
}

fn scan_text(a: &Artifact) -> String {
    match a.scan.max_severity {
        None if a.scan.errors == 0 => "clean".to_owned(),
        None => format!("{} unreadable", a.scan.errors),
        Some(s) => format!("{s} ({} findings)", a.scan.findings),
    }
}

fn artifact_json(a: &Artifact) -> Value {
    json!({
        "name": a.name,
        "digest": a.digest,
        "state": a.state,
        "content_kind": a.content_kind,
        "quarantine_path": a.quarantine_path,
        "source": a.source,
        "submitted_at": a.submitted_at,
        "updated_at": a.updated_at,
        "files": a.files,
        "bytes": a.bytes,
        "scan": a.scan,
        "has_claimed_results": a.claimed_results.is_some(),
    })
}

fn list(args: &RegistryListArgs) -> anyhow::Result<Outcome> {
    let store = super::ledger::open_existing(&args.store)?;
    let artifacts = store.artifacts(args.state, args.limit)?;
    let text = match args.format {
        ViewFormat::Json => {
            let v: Vec<Value> = artifacts.iter().map(artifact_json).collect();
            serde_json::to_string_pretty(&v)? + "\n"
        }
        ViewFormat::Human => {
            let mut t = String::new();
            if artifacts.is_empty() {
                t.push_str("no artifacts\n");
            }
            for a in &artifacts {
                let short = a.digest.get(..19).unwrap_or(&a.digest);
                let _ = writeln!(
                    t,
                    "{:<11}  {:<24}  {short}…  scan {:<22}  {}",
                    a.state.as_str(),
                    a.name,
                    scan_text(a),
                    a.submitted_at
                );
            }
            t
        }
    };
    crate::render::emit(&text, None)?;
    Ok(Outcome::Pass)
}

/// The payload of an entry as JSON (tampered, non-JSON payloads shown as text).
fn payload(e: &Entry) -> Value {
    serde_json::from_slice(&e.payload)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&e.payload).into_owned()))
}

/// One line about a ledger entry.
fn history_line(e: &Entry) -> String {
    let p = payload(e);
    let detail = match e.kind.as_str() {
        "promotion" | "rejection" => {
            let mut d = format!(
                "{} → {}",
                p["from"].as_str().unwrap_or("?"),
                p["to"].as_str().unwrap_or("?")
            );
            if let Some(r) = p["reason"].as_str() {
                let _ = write!(d, " ({r})");
            }
            d
        }
        "scan" => format!(
            "max severity {}",
            p["max_severity"].as_str().unwrap_or("none")
        ),
        "intake" => format!("as {}", p["name"]),
        _ => String::new(),
    };
    format!("#{:<7} {}  {:<22} {detail}", e.seq, e.time, e.kind.as_str())
}

/// The most severe findings of the stored report, as `severity code path: message` lines.
fn top_findings(store: &SqliteStore, digest: &str) -> anyhow::Result<Vec<Value>> {
    let Some(text) = store.scan_report(digest)? else {
        return Ok(Vec::new());
    };
    let Ok(mut report) = serde_json::from_str::<Report>(&text) else {
        return Ok(vec![json!({"error": "stored scan report does not parse"})]);
    };
    report
        .findings
        .sort_by_key(|f| std::cmp::Reverse(f.severity));
    Ok(report
        .findings
        .iter()
        .take(TOP_FINDINGS)
        .map(|f| {
            json!({
                "severity": f.severity,
                "rule": f.rule.code(),
                "path": f.location.path,
                "message": f.message,
            })
        })
        .collect())
}

fn show(args: &RegistryShowArgs) -> anyhow::Result<Outcome> {
    let store = super::ledger::open_existing(&args.store)?;
    let found = store.find_artifacts(&args.artifact)?;
    if found.is_empty() {
        if let Some(r) = store.rejected_digest(&args.artifact)? {
            anyhow::bail!(
                "{} is not registered; it was rejected at {} ({})",
                r.digest,
                r.rejected_at,
                r.reason
            );
        }
        anyhow::bail!(
            "no artifact named or with digest {:?} in {}",
            args.artifact,
            args.store.display()
        );
    }
    let mut shown = Vec::new();
    for a in &found {
        let history = store.subject_entries(&a.digest, args.history)?;
        let findings = top_findings(&store, &a.digest)?;
        let claims: Option<Value> = a
            .claimed_results
            .as_deref()
            .map(|c| serde_json::from_str(c).unwrap_or(Value::String(c.to_owned())));
        shown.push((a, history, findings, claims));
    }
    let text = match args.format {
        ViewFormat::Json => {
            let v: Vec<Value> = shown
                .iter()
                .map(|(a, history, findings, claims)| {
                    let mut j = artifact_json(a);
                    j["top_findings"] = json!(findings);
                    j["claimed_results"] = json!({ "untrusted": true, "claim": claims });
                    j["history"] = history
                        .iter()
                        .map(|e| {
                            json!({
                                "seq": e.seq,
                                "time": e.time,
                                "kind": e.kind.as_str(),
                                "payload": payload(e),
                                "hash": e.hash,
                            })
                        })
                        .collect();
                    j
                })
                .collect();
            serde_json::to_string_pretty(&v)? + "\n"
        }
        ViewFormat::Human => {
            let mut t = String::new();
            for (a, history, findings, claims) in &shown {
                let _ = writeln!(t, "{}  {}", a.name, a.digest);
                let _ = writeln!(t, "  state:      {} (since {})", a.state, a.updated_at);
                let _ = writeln!(
                    t,
                    "  submitted:  {} from {}",
                    a.submitted_at,
                    a.source.as_deref().unwrap_or("(no source given)")
                );
                let _ = writeln!(
                    t,
                    "  copy:       {} ({}, {} file(s), {} bytes)",
                    a.quarantine_path,
                    a.content_kind.as_str(),
                    a.files,
                    a.bytes
                );
                let _ = writeln!(t, "  scan:       {}", scan_text(a));
                for f in findings {
                    let _ = writeln!(
                        t,
                        "    {} {} {}: {}",
                        f["severity"].as_str().unwrap_or("?"),
                        f["rule"].as_str().unwrap_or("?"),
                        f["path"].as_str().unwrap_or("?"),
                        f["message"].as_str().unwrap_or("")
                    );
                }
                match claims {
                    None => t.push_str("  claims:     none submitted\n"),
                    Some(c) => {
                        let n = c["claims"].as_array().map_or(0, Vec::len);
                        let _ = writeln!(
                            t,
                            "  claims:     UNTRUSTED: {n} claimed result file(s), kept as \
                             claims and never used as evidence"
                        );
                        for claim in c["claims"].as_array().into_iter().flatten() {
                            let _ = writeln!(
                                t,
                                "    {} (sha256 {})",
                                claim["origin"].as_str().unwrap_or("?"),
                                claim["sha256"].as_str().unwrap_or("-")
                            );
                        }
                    }
                }
                let _ = writeln!(t, "  history:");
                for e in history {
                    let _ = writeln!(t, "    {}", history_line(e));
                }
            }
            t
        }
    };
    crate::render::emit(&text, None)?;
    Ok(Outcome::Pass)
}
