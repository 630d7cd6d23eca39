//! The artifact registry: every artifact taken in, by manifest digest, with its state
//! (quarantined → staging → production, or rejected), where its quarantined copy lives, its
//! scan summary and the results its submitter claimed (kept as an untrusted claim).
//!
//! Every state change is a transaction that checks the state the caller decided from, writes
//! the new state and appends a ledger entry, so two processes deciding from the same state
//! cannot both succeed. A rejection also records the digest in the permanent rejected table,
//! which intake consults before registering anything.

pub mod quarantine;
mod sqlite;

use std::fmt;
use std::str::FromStr;

use modelgate_core::Severity;
use serde::{Deserialize, Serialize};

/// Where an artifact is in the pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArtifactState {
    /// Taken in; nothing trusts it yet.
    Quarantined,
    /// Promoted once: for staging use.
    Staging,
    /// Promoted to production.
    Production,
    /// Rejected, permanently for its digest.
    Rejected,
}

impl ArtifactState {
    /// Every state, in pipeline order.
    pub const ALL: [ArtifactState; 4] = [
        ArtifactState::Quarantined,
        ArtifactState::Staging,
        ArtifactState::Production,
        ArtifactState::Rejected,
    ];

    /// The name stored and printed.
    pub fn as_str(self) -> &'static str {
        match self {
            ArtifactState::Quarantined => "quarantined",
            ArtifactState::Staging => "staging",
            ArtifactState::Production => "production",
            ArtifactState::Rejected => "rejected",
        }
    }

    /// The state a promotion from `self` leads to (`None` from production or rejected).
    pub fn next(self) -> Option<ArtifactState> {
        match self {
            ArtifactState::Quarantined => Some(ArtifactState::Staging),
            ArtifactState::Staging => Some(ArtifactState::Production),
            ArtifactState::Production | ArtifactState::Rejected => None,
        }
    }

    /// Whether the registry allows `self → to`: one stage forward, or to rejected from any
    /// state but rejected.
    pub fn can_move_to(self, to: ArtifactState) -> bool {
        match to {
            ArtifactState::Rejected => self != ArtifactState::Rejected,
            _ => self.next() == Some(to),
        }
    }
}

impl fmt::Display for ArtifactState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ArtifactState {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ArtifactState::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown artifact state {s:?} (expected quarantined, staging, production or \
                     rejected)"
                )
            })
    }
}

/// Whether the artifact is one file or a directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContentKind {
    /// A single file (kept as `quarantine/sha256/HEX/NAME`).
    File,
    /// A directory (kept as `quarantine/sha256/HEX/`).
    Directory,
}

impl ContentKind {
    /// The name stored.
    pub fn as_str(self) -> &'static str {
        match self {
            ContentKind::File => "file",
            ContentKind::Directory => "directory",
        }
    }
}

/// What the scan of the quarantined copy found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanSummary {
    /// Highest finding severity, `None` without findings.
    pub max_severity: Option<Severity>,
    /// Number of findings.
    pub findings: u64,
    /// Files or members that could not be read.
    pub errors: u64,
}

/// An artifact to register.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewArtifact {
    /// Manifest root digest, `sha256:` and 64 lowercase hex digits.
    pub digest: String,
    /// Name given at intake (not unique: versions of a model share it).
    pub name: String,
    /// File or directory.
    pub content_kind: ContentKind,
    /// The quarantined copy, relative to the store directory.
    pub quarantine_path: String,
    /// Where it came from (URL or free text), as the submitter said.
    pub source: Option<String>,
    /// RFC 3339 intake time.
    pub submitted_at: String,
    /// Files in the manifest.
    pub files: u64,
    /// Bytes copied.
    pub bytes: u64,
    /// Scan summary.
    pub scan: ScanSummary,
    /// The scan report (JSON).
    pub scan_report: String,
    /// The submitter's claimed results (JSON), untrusted.
    pub claimed_results: Option<String>,
}

/// A registered artifact (without its scan report: [`crate::SqliteStore::scan_report`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    /// Manifest root digest (`sha256:…`).
    pub digest: String,
    /// Name given at intake.
    pub name: String,
    /// Current state.
    pub state: ArtifactState,
    /// File or directory.
    pub content_kind: ContentKind,
    /// The quarantined copy, relative to the store directory.
    pub quarantine_path: String,
    /// Where it came from, as the submitter said.
    pub source: Option<String>,
    /// RFC 3339 intake time.
    pub submitted_at: String,
    /// RFC 3339 time of the last state change.
    pub updated_at: String,
    /// Files in the manifest.
    pub files: u64,
    /// Bytes copied.
    pub bytes: u64,
    /// Scan summary.
    pub scan: ScanSummary,
    /// The submitter's claimed results (JSON), untrusted.
    pub claimed_results: Option<String>,
}

/// A permanently rejected digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RejectedDigest {
    /// Manifest root digest.
    pub digest: String,
    /// Name at rejection.
    pub name: String,
    /// Why.
    pub reason: String,
    /// RFC 3339 time.
    pub rejected_at: String,
    /// The ledger entry recording the rejection.
    pub ledger_seq: u64,
}

/// Whether `digest` is `sha256:` followed by 64 lowercase hex digits.
pub fn is_valid_digest(digest: &str) -> bool {
    digest.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transitions() {
        use ArtifactState::{Production, Quarantined, Rejected, Staging};
        assert!(Quarantined.can_move_to(Staging));
        assert!(Staging.can_move_to(Production));
        assert!(!Quarantined.can_move_to(Production));
        assert!(!Production.can_move_to(Staging));
        for s in [Quarantined, Staging, Production] {
            assert!(s.can_move_to(Rejected));
        }
        for s in ArtifactState::ALL {
            assert!(!Rejected.can_move_to(s));
            assert_eq!(s.as_str().parse::<ArtifactState>(), Ok(s));
        }
    }

    #[test]
    fn digests() {
        assert!(is_valid_digest(&format!("sha256:{}", "a1".repeat(32))));
        assert!(!is_valid_digest(&format!("sha256:{}", "A1".repeat(32))));
        assert!(!is_valid_digest(&"a1".repeat(32)));
        assert!(!is_valid_digest("sha256:ab"));
    }
}
