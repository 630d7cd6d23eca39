//! Verification policies as data, and the rules every verification failure names.
//!
//! ```json
//! {
//!   "version": 1,
//!   "allowed_keys": ["33c5a27ece967072fc696a4e5ccb1962e0bfacec123f63ce6ee4f577fbe2d63c"],
//!   "required_predicate_types": ["https://slsa.dev/provenance/v1"],
//!   "allow_unsigned_files": false,
//!   "min_hash_algorithm": "sha256"
//! }
//! ```
//!
//! Keys are named by their hint (hex SHA-256 of the SPKI PEM; `modelgate key generate` prints
//! it). Unknown fields are errors, so a misspelt rule never silently allows everything.

use std::fmt;

use serde::Deserialize;

use crate::algorithm::{HashAlgorithm, from_hex};
use crate::error::FormatError;

/// Every rule a verification can fail, with a stable name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rule {
    /// The bundle names a different key than the one given.
    KeyHint,
    /// No signature verifies under the given key.
    Signature,
    /// The signed root digest disagrees with the signed resource digests.
    RootDigest,
    /// A signed file's content changed.
    ChangedFile,
    /// A signed file is missing.
    MissingFile,
    /// A file that is not signed is present (policy `allow_unsigned_files`).
    UnsignedFiles,
    /// The key is not in the policy's `allowed_keys`.
    AllowedKeys,
    /// The predicate type is not one of `required_predicate_types`.
    PredicateType,
    /// A digest algorithm weaker than `min_hash_algorithm`.
    MinHashAlgorithm,
    /// A subject file's digest is not in the statement.
    SubjectDigest,
    /// A file in the model is a symbolic link that the signature did not allow.
    Symlink,
}

impl Rule {
    /// The stable name printed with every failure.
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::KeyHint => "key-hint",
            Rule::Signature => "signature",
            Rule::RootDigest => "root-digest",
            Rule::ChangedFile => "changed-file",
            Rule::MissingFile => "missing-file",
            Rule::UnsignedFiles => "unsigned-files",
            Rule::AllowedKeys => "allowed-keys",
            Rule::PredicateType => "predicate-type",
            Rule::MinHashAlgorithm => "min-hash-algorithm",
            Rule::SubjectDigest => "subject-digest",
            Rule::Symlink => "symlink",
        }
    }

    /// Whether the rule comes from the policy (as opposed to the evidence itself).
    pub fn is_policy(self) -> bool {
        matches!(
            self,
            Rule::UnsignedFiles | Rule::AllowedKeys | Rule::PredicateType | Rule::MinHashAlgorithm
        )
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a verification requires beyond a valid signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Hints of the keys allowed to sign; empty allows any key the verifier is given.
    pub allowed_keys: Vec<String>,
    /// Predicate types a statement may have; empty allows any.
    pub required_predicate_types: Vec<String>,
    /// Whether files present but not signed are tolerated (they are still reported).
    pub allow_unsigned_files: bool,
    /// Weakest digest algorithm accepted (by collision resistance).
    pub min_hash_algorithm: HashAlgorithm,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            allowed_keys: Vec::new(),
            required_predicate_types: Vec::new(),
            allow_unsigned_files: false,
            min_hash_algorithm: HashAlgorithm::Sha256,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    #[serde(default)]
    version: Option<u32>,
    #[serde(default)]
    allowed_keys: Vec<String>,
    #[serde(default)]
    required_predicate_types: Vec<String>,
    #[serde(default)]
    allow_unsigned_files: bool,
    #[serde(default)]
    min_hash_algorithm: Option<String>,
}

impl Policy {
    /// Parses a policy document (see the module docs).
    pub fn from_json(bytes: &[u8]) -> Result<Self, FormatError> {
        let raw: RawPolicy = serde_json::from_slice(bytes)?;
        if let Some(v) = raw.version.filter(|v| *v != 1) {
            return Err(FormatError::Policy(format!(
                "version {v} is not supported (this modelgate reads version 1)"
            )));
        }
        let mut allowed_keys = Vec::with_capacity(raw.allowed_keys.len());
        for k in raw.allowed_keys {
            let hex = k.strip_prefix("sha256:").unwrap_or(&k).to_ascii_lowercase();
            if hex.len() != 64 || from_hex(&hex).is_none() {
                return Err(FormatError::Policy(format!(
                    "allowed_keys entry `{k}` is not a key hint (64 hex characters, as printed by \
                     `modelgate key generate`)"
                )));
            }
            allowed_keys.push(hex);
        }
        let min_hash_algorithm = match raw.min_hash_algorithm {
            None => HashAlgorithm::Sha256,
            Some(name) => name
                .parse()
                .map_err(|e: crate::algorithm::UnknownAlgorithm| {
                    FormatError::Policy(e.to_string())
                })?,
        };
        Ok(Policy {
            allowed_keys,
            required_predicate_types: raw.required_predicate_types,
            allow_unsigned_files: raw.allow_unsigned_files,
            min_hash_algorithm,
        })
    }

    /// Whether a key (by hint) may sign.
    pub fn key_allowed(&self, hint: &str) -> bool {
        self.allowed_keys.is_empty() || self.allowed_keys.iter().any(|k| k == hint)
    }

    /// Whether a predicate type is acceptable.
    pub fn predicate_allowed(&self, predicate_type: &str) -> bool {
        self.required_predicate_types.is_empty()
            || self
                .required_predicate_types
                .iter()
                .any(|t| t == predicate_type)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_validates() {
        let p = Policy::from_json(
            br#"{"version":1,"allowed_keys":["sha256:33C5A27ECE967072FC696A4E5CCB1962E0BFACEC123F63CE6EE4F577FBE2D63C"],
                "required_predicate_types":["p"],"allow_unsigned_files":true,"min_hash_algorithm":"blake2b"}"#,
        )
        .unwrap();
        assert!(p.key_allowed("33c5a27ece967072fc696a4e5ccb1962e0bfacec123f63ce6ee4f577fbe2d63c"));
        assert!(!p.key_allowed(&"0".repeat(64)));
        assert!(p.predicate_allowed("p") && !p.predicate_allowed("q"));
        assert_eq!(p.min_hash_algorithm, HashAlgorithm::Blake2b);
        assert_eq!(Policy::from_json(b"{}").unwrap(), Policy::default());
        assert!(Policy::from_json(br#"{"allow_unsigned":true}"#).is_err());
        assert!(Policy::from_json(br#"{"version":2}"#).is_err());
        assert!(Policy::from_json(br#"{"allowed_keys":["nope"]}"#).is_err());
        assert!(Policy::from_json(br#"{"min_hash_algorithm":"md5"}"#).is_err());
    }
}
