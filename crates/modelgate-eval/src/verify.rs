//! `eval verify`: is this log exactly what a modelgate run signed, and does its summary follow
//! from its samples?
//!
//! Checks, each reported with its verdict:
//! 1. `signature` — the bundle verifies with the given key and names the log file's digest as
//!    its subject (any byte of the log changed after signing fails here);
//! 2. `provenance` — the predicate is SLSA Provenance v1 and its parameters (task, model,
//!    dataset digest, spec digest, sandbox policy digest, run id, chain head, times) equal the
//!    log's;
//! 3. `spec-digest` — the log's spec hashes to the recorded digest;
//! 4. `chain` — the sample chain recomputed from the records reaches the recorded head, with
//!    every intermediate value matching (the first bad record is named);
//! 5. `summary` — the summary recomputed from the records equals the recorded one (an inflated
//!    accuracy fails even when no sample was touched).

use std::path::{Path, PathBuf};

use modelgate_attest::{AttestLimits, Policy, PublicKey, verify_attestation};
use sha2::{Digest, Sha256};

use crate::log::{EvalLog, LogError, read_log};
use crate::provenance::{BUILD_TYPE, provenance, signature_path};
use crate::summary::{Summarizer, Summary};

/// One check's verdict.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Check {
    /// `signature`, `provenance`, `spec-digest`, `chain`, `summary`.
    pub name: &'static str,
    /// Passed?
    pub ok: bool,
    /// What was found.
    pub detail: String,
}

/// The verdict on a log.
#[derive(Debug, Clone, serde::Serialize)]
pub struct VerifyReport {
    /// The log.
    pub log: PathBuf,
    /// The signature bundle used.
    pub signature: PathBuf,
    /// The log's SHA-256 (hex).
    pub log_sha256: String,
    /// Run id.
    pub run_id: String,
    /// Every check.
    pub checks: Vec<Check>,
    /// The summary recomputed from the samples.
    pub recomputed: Summary,
}

impl VerifyReport {
    /// Every check passed.
    pub fn verified(&self) -> bool {
        self.checks.iter().all(|c| c.ok)
    }
}

/// Why verification could not reach a verdict.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The log cannot be read.
    #[error(transparent)]
    Log(#[from] LogError),
    /// The signature file cannot be read or parsed.
    #[error(transparent)]
    Attest(#[from] modelgate_attest::AttestError),
}

/// Verifies `log` with `key`, using `signature` (default `LOG.sigstore.json`).
pub fn verify_log(
    log_path: &Path,
    signature: Option<&Path>,
    key: &PublicKey,
) -> Result<VerifyReport, VerifyError> {
    let (log, digest) = read_log(log_path)?;
    let log_sha256 = modelgate_core::to_hex(&digest);
    let sig_path = signature.map_or_else(|| signature_path(log_path), Path::to_path_buf);
    let mut checks = Vec::new();

    // 1 + 2: signature over the log's digest, then the provenance it carries.
    if sig_path.is_file() {
        let report = verify_attestation(
            &sig_path,
            &[log_path.to_path_buf()],
            key,
            &Policy::default(),
            &AttestLimits::default(),
        )?;
        let failures: Vec<String> = report.failures.iter().map(ToString::to_string).collect();
        checks.push(Check {
            name: "signature",
            ok: failures.is_empty(),
            detail: if failures.is_empty() {
                format!(
                    "{} signed by {} key {}; subject sha256:{log_sha256}",
                    report.container,
                    report.key.key_type.as_str(),
                    report.key.hint
                )
            } else {
                failures.join("; ")
            },
        });
        checks.push(match &report.statement {
            Some(statement) if failures.is_empty() => check_provenance(&log, statement),
            _ => Check {
                name: "provenance",
                ok: false,
                detail: "not read: the signature did not verify".into(),
            },
        });
    } else {
        checks.push(Check {
            name: "signature",
            ok: false,
            detail: format!(
                "no signature at {} — the log is unsigned (run with --sign-key) or the signature was removed",
                sig_path.display()
            ),
        });
    }

    // 3: spec digest.
    let spec_json = serde_json::to_string(&log.run.spec).unwrap_or_default();
    let spec_sha = modelgate_core::to_hex(&Sha256::digest(spec_json.as_bytes()));
    checks.push(Check {
        name: "spec-digest",
        ok: spec_sha == log.run.spec_sha256,
        detail: if spec_sha == log.run.spec_sha256 {
            format!("spec sha256:{spec_sha}")
        } else {
            format!(
                "the spec in the log hashes to {spec_sha}, the log records {}",
                log.run.spec_sha256
            )
        },
    });

    // 4 + 5: chain and summary, in one pass over the records.
    let scorer_names: Vec<String> = log
        .run
        .spec
        .get("scorers")
        .and_then(serde_json::Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| match s {
                    serde_json::Value::String(name) => Some(name.clone()),
                    serde_json::Value::Object(m) => m.keys().next().cloned(),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    let mut summarizer = Summarizer::new(&scorer_names);
    let mut head = modelgate_store::genesis(&log.run.run_id);
    let genesis_hex = modelgate_core::to_hex(&head);
    let mut chain_problem = None;
    let mut record_problem = None;
    if genesis_hex != log.run.chain.genesis {
        chain_problem = Some(format!(
            "genesis {} does not belong to run {}",
            log.run.chain.genesis, log.run.run_id
        ));
    }
    for (i, s) in log.samples.iter().enumerate() {
        let bytes = s.record.get().as_bytes();
        head = modelgate_store::link(&head, bytes);
        if chain_problem.is_none() {
            let expected = modelgate_core::to_hex(&head);
            if s.seq != i as u64 {
                chain_problem = Some(format!(
                    "record {i} (sample {:?}) carries seq {}: records were deleted, inserted or reordered",
                    s.id, s.seq
                ));
            } else if expected != s.chain {
                chain_problem = Some(format!(
                    "record {i} (sample {:?}): chain value {} recomputes to {expected}: the record or an earlier one was edited",
                    s.id, s.chain
                ));
            }
        }
        if record_problem.is_none()
            && let Err(e) = summarizer.add(bytes)
        {
            record_problem = Some(format!("record {i} (sample {:?}): {e}", s.id));
        }
    }
    let head_hex = modelgate_core::to_hex(&head);
    if chain_problem.is_none() && head_hex != log.run.chain.head {
        chain_problem = Some(format!(
            "the records end at chain value {head_hex}, the log records head {}",
            log.run.chain.head
        ));
    }
    if chain_problem.is_none() && log.samples.len() as u64 != log.run.chain.records {
        chain_problem = Some(format!(
            "{} records, the log says {}",
            log.samples.len(),
            log.run.chain.records
        ));
    }
    checks.push(Check {
        name: "chain",
        ok: chain_problem.is_none(),
        detail: chain_problem
            .unwrap_or_else(|| format!("{} records chain to head {head_hex}", log.samples.len())),
    });
    let recomputed = summarizer.summary();
    let summary_detail = match record_problem {
        Some(p) => Some(p),
        None if recomputed != log.summary => Some(summary_difference(&log.summary, &recomputed)),
        None => None,
    };
    checks.push(Check {
        name: "summary",
        ok: summary_detail.is_none(),
        detail: summary_detail.unwrap_or_else(|| {
            format!(
                "recomputed from {} samples: accuracy {}",
                recomputed.total,
                recomputed
                    .accuracy
                    .map_or_else(|| "n/a".to_owned(), |a| format!("{a:.4}"))
            )
        }),
    });
    Ok(VerifyReport {
        log: log_path.to_path_buf(),
        signature: sig_path,
        log_sha256,
        run_id: log.run.run_id.clone(),
        checks,
        recomputed,
    })
}

/// Compares the signed provenance with the log's run information.
fn check_provenance(log: &EvalLog, statement: &modelgate_attest::Statement) -> Check {
    let fail = |detail: String| Check {
        name: "provenance",
        ok: false,
        detail,
    };
    if statement.predicate_type != modelgate_attest::slsa::SLSA_PROVENANCE_V1 {
        return fail(format!(
            "predicate type {} is not SLSA Provenance v1",
            statement.predicate_type
        ));
    }
    let expected = provenance(&log.run).to_value();
    let signed = statement.predicate.clone().unwrap_or_default();
    if signed == expected {
        return Check {
            name: "provenance",
            ok: true,
            detail: format!(
                "SLSA v1 ({BUILD_TYPE}): task {}, model {}, dataset sha256:{}, spec sha256:{}",
                log.run.task, log.run.model, log.run.dataset.sha256, log.run.spec_sha256
            ),
        };
    }
    // Name the first differing parameter.
    let mut diffs = Vec::new();
    diff_values("", &expected, &signed, &mut diffs);
    fail(format!(
        "the signed provenance does not match the log: {}",
        diffs.into_iter().take(3).collect::<Vec<_>>().join("; ")
    ))
}

fn diff_values(
    path: &str,
    log: &serde_json::Value,
    signed: &serde_json::Value,
    out: &mut Vec<String>,
) {
    use serde_json::Value;
    match (log, signed) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, va) in a {
                let p = format!("{path}.{k}");
                match b.get(k) {
                    Some(vb) => diff_values(&p, va, vb, out),
                    None => out.push(format!("{p} missing from the signature")),
                }
            }
            for k in b.keys().filter(|k| !a.contains_key(*k)) {
                out.push(format!("{path}.{k} signed but absent from the log"));
            }
        }
        (a, b) if a != b => out.push(format!("{path}: log {a}, signed {b}")),
        _ => {}
    }
}

fn summary_difference(recorded: &Summary, recomputed: &Summary) -> String {
    let a = serde_json::to_value(recorded).unwrap_or_default();
    let b = serde_json::to_value(recomputed).unwrap_or_default();
    let mut diffs = Vec::new();
    diff_values("summary", &b, &a, &mut diffs);
    format!(
        "the recorded summary does not follow from the samples: {}",
        diffs
            .into_iter()
            .take(3)
            .map(|d| d
                .replace("log ", "recomputed ")
                .replace("signed ", "recorded "))
            .collect::<Vec<_>>()
            .join("; ")
    )
}
