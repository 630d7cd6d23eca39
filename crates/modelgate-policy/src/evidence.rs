//! What the gate decides over: plain data the caller gathered from the store and *verified*
//! (signatures checked, logs re-hashed, datasets looked up in the registry) before calling
//! [`crate::evaluate`]. A piece that failed verification is still passed in, with its failure,
//! so the verdict can say why it did not count; it is never counted.
//!
//! Times are Unix seconds (UTC); [`crate::parse_rfc3339`] converts the RFC 3339 text modelgate
//! writes. Digests are `algorithm:hex` (`sha256:…`); a bare 64-digit hex is read as SHA-256, and
//! anything else never matches.

use std::collections::BTreeMap;

use modelgate_core::Severity;
use serde::{Deserialize, Serialize};

use crate::config::Stage;

/// Where an artifact is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ArtifactState {
    /// Taken in, not yet promoted.
    Quarantined,
    /// Promoted to staging.
    Staging,
    /// Promoted to production.
    Production,
    /// Rejected; permanent for its digest.
    Rejected,
}

impl ArtifactState {
    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            ArtifactState::Quarantined => "quarantined",
            ArtifactState::Staging => "staging",
            ArtifactState::Production => "production",
            ArtifactState::Rejected => "rejected",
        }
    }
}

/// The artifact under decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactEvidence {
    /// Its registry name.
    pub name: String,
    /// The root digest of its manifest, recomputed at intake.
    pub manifest_digest: String,
    /// Its current state.
    pub state: ArtifactState,
}

/// The latest scan of the artifact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanEvidence {
    /// The manifest digest of what was scanned.
    pub artifact_digest: String,
    /// The highest finding severity; `None` when there were no findings.
    pub max_severity: Option<Severity>,
    /// Findings in total.
    pub findings: u64,
    /// Files the scanner could not analyse (an incomplete scan proves nothing about them).
    pub errors: u64,
    /// The digest of the stored scan report, when there is one.
    pub report_digest: Option<String>,
}

/// A signature over the artifact's manifest, after verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignatureEvidence {
    /// Hex SHA-256 of the signing key's SPKI PEM (`PublicKey::hint`).
    pub key_hint: String,
    /// The manifest digest the signature covers.
    pub manifest_digest: String,
    /// Whether the signature verified against that key.
    pub verified: bool,
    /// Why verification failed, when it did.
    pub reason: Option<String>,
}

/// One scorer's result from one modelgate eval log, after the log was verified.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalResultEvidence {
    /// The task the log records.
    pub task: String,
    /// The scorer.
    pub scorer: String,
    /// Whether this is the log's primary (first) scorer.
    pub primary: bool,
    /// Mean score.
    pub mean: f64,
    /// 95% confidence interval.
    pub ci95: [f64; 2],
    /// Samples scored.
    pub n: u64,
    /// Digest of the log file.
    pub log_digest: String,
    /// Hint of the key whose signature over the log verified; `None` when unsigned.
    pub signer_hint: Option<String>,
    /// The model digest the log records; `None` when it records none.
    pub model_digest: Option<String>,
    /// The dataset digest the log records.
    pub dataset_digest: String,
    /// Whether the run checked the dataset against a pin.
    pub dataset_pinned: bool,
    /// The registry name whose pin equals `dataset_digest`, if any.
    pub dataset_registered: Option<String>,
    /// When the run finished (Unix seconds).
    pub finished_at: Option<i64>,
    /// Why the log failed verification (signature, chain, summary recomputation), if it did.
    pub verification_failure: Option<String>,
}

/// A signed approval statement, after verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalEvidence {
    /// The role the statement claims.
    pub role: String,
    /// Hint of the signing key.
    pub key_hint: String,
    /// The artifact digest the statement approves.
    pub artifact_digest: String,
    /// Whether the signature verified.
    pub verified: bool,
    /// Why verification failed, when it did.
    pub reason: Option<String>,
    /// When it was signed (Unix seconds).
    pub time: i64,
}

/// Results the submitter shipped with the artifact. Never trusted; kept only to say so.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubmittedClaim {
    /// The task claimed.
    pub task: String,
    /// The claimed value, if one could be read.
    pub value: Option<f64>,
    /// Where the claim came from (file name in the artifact).
    pub source: String,
}

/// A promotion recorded in the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageEvent {
    /// The stage reached.
    pub stage: Stage,
    /// When (Unix seconds).
    pub at: i64,
    /// The ledger entry that records it, if the caller has one.
    pub ledger_entry: Option<String>,
}

/// Everything the gate looks at for one artifact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// The artifact.
    pub artifact: ArtifactEvidence,
    /// Its scan, if it was scanned.
    pub scan: Option<ScanEvidence>,
    /// Signatures over its manifest.
    pub signatures: Vec<SignatureEvidence>,
    /// Eval results from modelgate eval logs.
    pub eval_results: Vec<EvalResultEvidence>,
    /// Approvals.
    pub approvals: Vec<ApprovalEvidence>,
    /// Submitted (untrusted) results.
    pub claims: Vec<SubmittedClaim>,
    /// Promotions so far.
    pub stage_history: Vec<StageEvent>,
}

impl Evidence {
    /// Evidence with nothing but the artifact.
    pub fn new(
        name: impl Into<String>,
        manifest_digest: impl Into<String>,
        state: ArtifactState,
    ) -> Evidence {
        Evidence {
            artifact: ArtifactEvidence {
                name: name.into(),
                manifest_digest: manifest_digest.into(),
                state,
            },
            scan: None,
            signatures: Vec::new(),
            eval_results: Vec::new(),
            approvals: Vec::new(),
            claims: Vec::new(),
            stage_history: Vec::new(),
        }
    }
}

/// The outcome of loading one key of the policy's key table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyStatus {
    /// Loaded; its hint (hex SHA-256 of the SPKI PEM).
    Loaded(String),
    /// Could not be loaded (missing file, not a public key, …): requirements that need it say so.
    Unavailable(String),
}

/// The caller's result of loading the policy's keys, by key name. A key of the policy missing
/// here is treated as unavailable.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyHints {
    keys: BTreeMap<String, KeyStatus>,
}

impl KeyHints {
    /// No keys.
    pub fn new() -> KeyHints {
        KeyHints::default()
    }

    /// Records that key `name` loaded with `hint`.
    pub fn loaded(&mut self, name: impl Into<String>, hint: impl Into<String>) -> &mut Self {
        self.keys.insert(
            name.into(),
            KeyStatus::Loaded(hint.into().to_ascii_lowercase()),
        );
        self
    }

    /// Records that key `name` could not be loaded, and why.
    pub fn unavailable(&mut self, name: impl Into<String>, reason: impl Into<String>) -> &mut Self {
        self.keys
            .insert(name.into(), KeyStatus::Unavailable(reason.into()));
        self
    }

    /// The status of key `name`.
    pub fn get(&self, name: &str) -> Option<&KeyStatus> {
        self.keys.get(name)
    }

    /// The hint of key `name`, when it loaded.
    pub fn hint(&self, name: &str) -> Option<&str> {
        match self.keys.get(name) {
            Some(KeyStatus::Loaded(h)) => Some(h),
            _ => None,
        }
    }
}

/// `algorithm:hex` in lowercase, or `None` when `d` is not a well-formed digest (such a digest
/// never matches anything).
pub(crate) fn normalize_digest(d: &str) -> Option<String> {
    let d = d.to_ascii_lowercase();
    let (alg, hex) = match d.split_once(':') {
        Some((alg, hex)) => (alg, hex),
        None => ("sha256", d.as_str()),
    };
    let len = match alg {
        "sha256" | "blake3" => 64,
        "blake2b" => 128,
        _ => return None,
    };
    (hex.len() == len && hex.bytes().all(|b| b.is_ascii_hexdigit())).then(|| format!("{alg}:{hex}"))
}

/// Whether two digests are well-formed and equal.
pub(crate) fn same_digest(a: &str, b: &str) -> bool {
    matches!((normalize_digest(a), normalize_digest(b)), (Some(x), Some(y)) if x == y)
}
