//! The one error of this crate: a policy that cannot be used, with where and why.
//!
//! Evaluation has no error type on purpose: missing or unverifiable evidence is an unmet
//! requirement with its reason (see [`crate::evaluate`]), never an error that skips a check.

use std::fmt;

/// A policy file that is too large, is not valid YAML for the policy schema, or names
/// something that does not exist (an unknown key, an impossible threshold, a cycle).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct PolicyError {
    /// The policy file (as the caller named it).
    pub origin: String,
    /// 1-based line, when known.
    pub line: Option<u64>,
    /// 1-based column, when known.
    pub column: Option<u64>,
    /// The field's path in the document, e.g. `stages.production.all_of[2].eval.min`, when known.
    pub field: Option<String>,
    /// What is wrong.
    pub kind: PolicyErrorKind,
}

/// What is wrong with a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyErrorKind {
    /// The text is larger than [`crate::MAX_POLICY_BYTES`].
    TooLarge {
        /// Bytes given.
        size: usize,
        /// The cap.
        limit: usize,
    },
    /// Not YAML, or YAML that does not fit the schema (unknown field, wrong type, duplicate key).
    Parse(String),
    /// Well-formed, but inconsistent or unsatisfiable.
    Invalid(String),
}

impl fmt::Display for PolicyErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolicyErrorKind::TooLarge { size, limit } => {
                write!(
                    f,
                    "the policy is {size} bytes, larger than the {limit}-byte limit"
                )
            }
            PolicyErrorKind::Parse(m) | PolicyErrorKind::Invalid(m) => f.write_str(m),
        }
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.origin)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        f.write_str(": ")?;
        if let Some(field) = &self.field {
            write!(f, "{field}: ")?;
        }
        write!(f, "{}", self.kind)
    }
}
