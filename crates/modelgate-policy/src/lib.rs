//! The promotion gate: a strict YAML policy language for what an artifact needs before it is
//! promoted to staging or production, and a pure evaluation of those requirements over
//! evidence the caller has already gathered and verified.
//!
//! The crate does no I/O and reads no clock. The caller (the CLI, over `modelgate-store`):
//! 1. parses the policy with [`Policy::parse`] (errors name the field's path and line);
//! 2. loads each key of [`Policy::keys`] and records its hint (or why it failed) in [`KeyHints`];
//! 3. verifies signatures, eval logs, approvals and dataset pins, and puts the outcomes —
//!    failures included — into an [`Evidence`];
//! 4. calls [`evaluate`] with the time, and prints [`Verdict::lines`] or serializes the verdict.
//!
//! Requirements compose like sigstore-rs's `VerificationPolicy` with `AllOf`/`AnyOf`; the
//! language and the exact semantics of each requirement are in `docs/policy.md`. A submitted
//! results file is never evidence: eval results count only from signed modelgate eval logs
//! whose model digest is the artifact's manifest digest and whose dataset is registered and
//! pinned.
//!
//! ```
//! use modelgate_policy::{evaluate, ArtifactState, Evidence, KeyHints, Policy, ScanEvidence, Stage};
//! use modelgate_core::Severity;
//!
//! let policy = Policy::parse(
//!     "version: 1\nstages:\n  staging:\n    all_of:\n      - max_scan_severity: medium\n",
//!     "policy.yaml",
//! )?;
//! let digest = format!("sha256:{}", "ab".repeat(32));
//! let mut evidence = Evidence::new("demo", &digest, ArtifactState::Quarantined);
//! evidence.scan = Some(ScanEvidence {
//!     artifact_digest: digest.clone(),
//!     max_severity: Some(Severity::Low),
//!     findings: 1,
//!     errors: 0,
//!     report_digest: None,
//! });
//! let verdict = evaluate(&policy, &KeyHints::new(), Stage::Staging, &evidence, 1_795_312_800);
//! assert!(verdict.met);
//! assert_eq!(verdict.lines()[4], "[met] all of 1 — 1 of 1 met");
//! assert!(verdict.lines()[5].starts_with("  [met] scan: no finding above medium"));
//! # Ok::<(), modelgate_policy::PolicyError>(())
//! ```
#![forbid(unsafe_code)]

mod config;
mod error;
mod evaluate;
mod evidence;
mod matching;
mod time;
mod validate;
mod verdict;

pub use config::{
    Approvals, EvalRequirement, KeyEntry, MAX_AGE_DAYS, MAX_COUNT, MAX_DEPTH, MAX_KEYS,
    MAX_POLICY_BYTES, MAX_REQUIREMENTS, MAX_ROLES, Policy, Requirement, RequirementKind, SignedBy,
    Signers, Stage,
};
pub use error::{PolicyError, PolicyErrorKind};
pub use evaluate::{CLOCK_SKEW_SECS, evaluate};
pub use evidence::{
    ApprovalEvidence, ArtifactEvidence, ArtifactState, EvalResultEvidence, Evidence, KeyHints,
    KeyStatus, ScanEvidence, SignatureEvidence, StageEvent, SubmittedClaim,
};
pub use time::{format_rfc3339, parse_rfc3339};
pub use verdict::{MAX_DETAILS, Node, Verdict};
#[cfg(test)]
mod tests;
