//! `modelgate intake`: copy into quarantine, hash the copy, scan it, register it.
//!
//! Order matters for crash safety: copy (temporary directory) → hash the copy → refuse a
//! rejected or registered digest → rename into `quarantine/sha256/HEX/` → scan → one
//! transaction with the artifact row and the `intake` and `scan` ledger entries. A crash
//! before the commit leaves no registered artifact.

use std::fmt::Write as _;
use std::io::Read as _;
use std::path::Path;

use anyhow::Context as _;
use modelgate_attest::algorithm::to_hex;
use modelgate_core::Report;
use modelgate_scan::{ScanOptions, scan_paths};
use modelgate_store::chain::record_digest as sha256;
use modelgate_store::{
    ArtifactState, ContentKind, CopyLimits, EntryKind, Ledger as _, NewArtifact, Quarantine,
    ScanSummary, SqliteStore, Staged, StoreError, now_rfc3339,
};
use serde_json::{Value, json};

use crate::Outcome;
use crate::cli::{IntakeArgs, ViewFormat};

/// Largest claimed-results file kept.
const MAX_CLAIM_BYTES: u64 = 1 << 20;

/// Reads one claimed-results file (capped) into a claim record.
fn read_claim(path: &Path, origin: &str) -> anyhow::Result<Value> {
    let file = std::fs::File::open(path).with_context(|| format!("{}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(MAX_CLAIM_BYTES + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("{}", path.display()))?;
    if bytes.len() as u64 > MAX_CLAIM_BYTES {
        return Ok(json!({
            "origin": origin,
            "error": format!("larger than {MAX_CLAIM_BYTES} bytes; not kept"),
        }));
    }
    let digest = to_hex(&sha256(&bytes));
    Ok(match serde_json::from_slice::<Value>(&bytes) {
        Ok(content) => json!({ "origin": origin, "sha256": digest, "content": content }),
        Err(e) => json!({
            "origin": origin,
            "sha256": digest,
            "error": format!("not JSON: {e}"),
        }),
    })
}

/// Every claim: the `--claimed-results` file and `evaluation_results.json` files inside the
/// artifact. `None` when there are none.
fn claims(args: &IntakeArgs, staged: &Staged) -> anyhow::Result<Option<Value>> {
    let mut list = Vec::new();
    if let Some(path) = &args.claimed_results {
        list.push(read_claim(
            path,
            &format!("--claimed-results {}", path.display()),
        )?);
    }
    for rel in staged.claim_files() {
        let path = match staged.content_kind() {
            ContentKind::Directory => staged.content_path().join(rel),
            ContentKind::File => staged.content_path(),
        };
        list.push(read_claim(&path, &format!("artifact:{rel}"))?);
    }
    Ok((!list.is_empty()).then(|| {
        json!({
            "trust": "untrusted: submitted by the artifact's source, never used as evidence",
            "claims": list,
        })
    }))
}

fn verdict(s: &ScanSummary) -> String {
    match (s.max_severity, s.errors) {
        (None, 0) => "clean: no findings".to_owned(),
        (None, e) => format!("no findings, but {e} file(s) could not be read"),
        (Some(sev), e) => {
            let mut t = format!("max severity {sev}: {} finding(s)", s.findings);
            if e > 0 {
                let _ = write!(t, ", {e} file(s) could not be read");
            }
            t
        }
    }
}

/// Records a refused re-submission of a rejected digest and says so.
fn refuse_rejected(
    store: &mut SqliteStore,
    args: &IntakeArgs,
    digest: &str,
) -> anyhow::Result<Outcome> {
    let rejection = store.rejected_digest(digest)?;
    let (reason, rejected_at, seq) = rejection
        .as_ref()
        .map(|r| (r.reason.clone(), r.rejected_at.clone(), r.ledger_seq))
        .unwrap_or_default();
    let payload = json!({
        "name": args.name,
        "source": args.source,
        "rejected_at": rejected_at,
        "rejection_seq": seq,
        "reason": reason,
    });
    let entry = store.append(
        EntryKind::RejectedResubmission,
        digest,
        &serde_json::to_vec(&payload)?,
    )?;
    let mut err = std::io::stderr().lock();
    let _ = std::io::Write::write_fmt(
        &mut err,
        format_args!(
            "refused: {digest} was rejected at {rejected_at} ({reason}); rejections are \
             permanent. Logged as ledger entry {}.\n",
            entry.seq
        ),
    );
    Ok(Outcome::Fail)
}

pub(crate) fn run(args: &IntakeArgs) -> anyhow::Result<Outcome> {
    if args.name.trim().is_empty() || args.name.len() > 256 {
        anyhow::bail!("--name must be 1 to 256 characters");
    }
    let mut store = super::ledger::open_for_append(&args.ledger)?;
    let (quarantine, _cleaned) = Quarantine::open(&args.ledger.store)?;
    let limits = CopyLimits {
        max_bytes: args.max_bytes,
        max_files: args.max_files,
        ..CopyLimits::default()
    };
    let staged = quarantine.stage(&args.path, &limits)?;
    let manifest = staged.manifest()?;
    let hex = to_hex(&manifest.root_digest());
    let digest = format!("sha256:{hex}");

    if store.rejected_digest(&digest)?.is_some() {
        return refuse_rejected(&mut store, args, &digest);
    }
    if let Some(existing) = store.artifact(&digest)? {
        anyhow::bail!(
            "{digest} is registered already as {:?} (state {}); nothing taken in",
            existing.name,
            existing.state
        );
    }
    let claims = claims(args, &staged)?;
    let (files, bytes, kind) = (staged.files(), staged.bytes(), staged.content_kind());
    let skipped = serde_json::to_value(staged.skipped())?;
    let committed = staged.commit(&quarantine, &hex)?;

    let report: Report = scan_paths(
        std::slice::from_ref(&committed.path),
        &ScanOptions::default(),
    );
    let scan = ScanSummary {
        max_severity: report.summary.max_severity,
        findings: report.findings.len() as u64,
        errors: report.errors.len() as u64,
    };
    let report_json = modelgate_report::to_json(&report);
    let submitted_at = now_rfc3339();
    let artifact = NewArtifact {
        digest: digest.clone(),
        name: args.name.clone(),
        content_kind: kind,
        quarantine_path: committed.relative.clone(),
        source: args.source.clone(),
        submitted_at: submitted_at.clone(),
        files,
        bytes,
        scan,
        scan_report: report_json.clone(),
        claimed_results: claims.as_ref().map(Value::to_string),
    };
    let intake_payload = json!({
        "name": args.name,
        "source": args.source,
        "content_kind": kind,
        "quarantine_path": committed.relative,
        "files": files,
        "bytes": bytes,
        "manifest": {
            "root_digest": digest,
            "hash": "sha256",
            "files": manifest.file_count(),
        },
        "skipped": skipped,
        "claimed_results": claims.as_ref().map(|c| json!({
            "untrusted": true,
            "sha256": to_hex(&sha256(c.to_string().as_bytes())),
        })),
    });
    let scan_payload = json!({
        "max_severity": scan.max_severity,
        "findings": scan.findings,
        "errors": scan.errors,
        "counts": report.summary.findings,
        "report_sha256": to_hex(&sha256(report_json.as_bytes())),
    });
    let recorded = store.transaction(|tx| {
        tx.insert_artifact(&artifact)?;
        let intake = tx.append(
            EntryKind::Intake,
            &digest,
            &serde_json::to_vec(&intake_payload)
                .map_err(|e| StoreError::InvalidPayload(e.to_string()))?,
        )?;
        let scan = tx.append(
            EntryKind::Scan,
            &digest,
            &serde_json::to_vec(&scan_payload)
                .map_err(|e| StoreError::InvalidPayload(e.to_string()))?,
        )?;
        Ok::<_, StoreError>((intake.seq, scan.seq))
    });
    let (seq, scan_seq) = match recorded {
        Ok(seqs) => seqs,
        // Rejected between the check above and the transaction (another process).
        Err(StoreError::RejectedDigest { .. }) => {
            return refuse_rejected(&mut store, args, &digest);
        }
        Err(e) => return Err(e.into()),
    };

    let text = match args.format {
        ViewFormat::Json => {
            serde_json::to_string_pretty(&json!({
                "name": args.name,
                "digest": digest,
                "state": ArtifactState::Quarantined,
                "quarantine_path": committed.relative,
                "files": files,
                "bytes": bytes,
                "scan": scan,
                "verdict": verdict(&scan),
                "claimed_results": claims.is_some(),
                "ledger_seq": seq,
            }))? + "\n"
        }
        ViewFormat::Human => {
            let mut t = format!(
                "{}  {digest}\n  state: {}\n  copy:  {} ({files} file(s), {bytes} bytes)\n  \
                 scan:  {}\n",
                args.name,
                ArtifactState::Quarantined,
                committed.relative,
                verdict(&scan)
            );
            if claims.is_some() {
                t.push_str(
                    "  claimed results: stored as an UNTRUSTED claim (never used as evidence)\n",
                );
            }
            let _ = writeln!(t, "  ledger: entries {seq} (intake) and {scan_seq} (scan)");
            t
        }
    };
    crate::render::emit(&text, None)?;
    Ok(Outcome::Pass)
}
