//! The policy file: raw YAML (serde, strict) → validated [`Policy`].
//!
//! Parsing rejects unknown fields, wrong types and duplicate keys with the line and column
//! serde-saphyr reports. Validation then checks what the schema cannot express — references to
//! keys and stages that exist, thresholds in `[0, 1]`, non-empty compositions, satisfiable
//! counts, and that a stage only requires stages before it — and names the field's path (e.g.
//! `stages.production.all_of[2].eval.min`) and its line.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use modelgate_core::Severity;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use crate::error::{PolicyError, PolicyErrorKind};

/// Largest policy text accepted.
pub const MAX_POLICY_BYTES: usize = 1024 * 1024;
/// Most requirement nodes (compositions included) in one policy.
pub const MAX_REQUIREMENTS: usize = 1024;
/// Deepest nesting of `all_of`/`any_of`.
pub const MAX_DEPTH: usize = 16;
/// Most keys in the key table.
pub const MAX_KEYS: usize = 256;
/// Most roles one key holds, or one requirement names.
pub const MAX_ROLES: usize = 32;
/// Largest `count` of signatures or approvals.
pub const MAX_COUNT: u32 = 64;
/// Largest `max_age_days` (a century).
pub const MAX_AGE_DAYS: u32 = 36_500;

/// A promotion target. Artifacts move quarantined → staging → production (or are rejected).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// Pre-production.
    Staging,
    /// Serving.
    Production,
}

impl Stage {
    /// Both stages, in promotion order.
    pub const ALL: [Stage; 2] = [Stage::Staging, Stage::Production];

    /// The lowercase name used in policies and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Staging => "staging",
            Stage::Production => "production",
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Stage {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Stage::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| format!("unknown stage `{s}` (expected staging or production)"))
    }
}

// ---------------------------------------------------------------------------------------------
// Raw (as written)

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPolicy {
    pub(crate) version: Spanned<u32>,
    #[serde(default)]
    pub(crate) keys: BTreeMap<String, Spanned<RawKey>>,
    pub(crate) stages: Spanned<BTreeMap<Stage, Spanned<RawRequirement>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawKey {
    pub(crate) public_key: Spanned<String>,
    #[serde(default)]
    pub(crate) roles: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RawRequirement {
    AllOf(Vec<Spanned<RawRequirement>>),
    AnyOf(Vec<Spanned<RawRequirement>>),
    MaxScanSeverity(Severity),
    SignedBy(RawSignedBy),
    Eval(Box<RawEval>),
    Approvals(RawApprovals),
    StageReached(Stage),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSignedBy {
    #[serde(default)]
    pub(crate) keys: Vec<Spanned<String>>,
    #[serde(default)]
    pub(crate) roles: Vec<Spanned<String>>,
    pub(crate) count: Option<Spanned<u32>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSigners {
    #[serde(default)]
    pub(crate) keys: Vec<Spanned<String>>,
    #[serde(default)]
    pub(crate) roles: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawEval {
    pub(crate) task: Spanned<String>,
    pub(crate) scorer: Option<Spanned<String>>,
    pub(crate) dataset: Option<Spanned<String>>,
    pub(crate) min: Option<Spanned<f64>>,
    pub(crate) ci_lower_min: Option<Spanned<f64>>,
    pub(crate) min_samples: Option<Spanned<u64>>,
    pub(crate) max_age_days: Option<Spanned<u32>>,
    pub(crate) signers: Option<Spanned<RawSigners>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawApprovals {
    pub(crate) roles: Spanned<Vec<Spanned<String>>>,
    pub(crate) count: Option<Spanned<u32>>,
    pub(crate) max_age_days: Option<Spanned<u32>>,
}

// ---------------------------------------------------------------------------------------------
// Validated

/// A named public key from the policy's key table. Loading the PEM is the caller's job; the
/// evaluation receives the key's hint through [`crate::KeyHints`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyEntry {
    /// The name requirements use.
    pub name: String,
    /// What the policy says about where the key is: a PEM path (relative to the policy file) or
    /// a hint, exactly as written.
    pub public_key: String,
    /// The roles the key holds (sorted).
    pub roles: BTreeSet<String>,
    /// The line of the entry.
    pub line: Option<u64>,
}

/// A set of acceptable signers: keys by name, plus every key holding one of the roles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Signers {
    /// Keys named directly.
    pub keys: Vec<String>,
    /// Roles whose holders are accepted.
    pub roles: Vec<String>,
    /// The resulting key names (keys ∪ holders of roles).
    pub resolved: BTreeSet<String>,
}

/// `signed_by`: verified signatures over the artifact's manifest by `count` distinct keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignedBy {
    /// Who may sign.
    pub signers: Signers,
    /// Distinct keys needed (default 1).
    pub count: u32,
}

/// `eval`: a verified, signed modelgate eval log for the artifact meets thresholds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvalRequirement {
    /// The task name recorded in the log.
    pub task: String,
    /// The scorer whose metrics count; `None`: the log's primary (first) scorer.
    pub scorer: Option<String>,
    /// The registered dataset name the run must have used; `None`: any registered, pinned one.
    pub dataset: Option<String>,
    /// Lowest acceptable mean.
    pub min: Option<f64>,
    /// Lowest acceptable lower bound of the 95% confidence interval.
    pub ci_lower_min: Option<f64>,
    /// Fewest scored samples.
    pub min_samples: Option<u64>,
    /// Oldest acceptable log, in days before `now`.
    pub max_age_days: Option<u32>,
    /// Who may sign the log; `None`: any key in the key table.
    pub signers: Option<Signers>,
}

/// `approvals`: signed approval statements for the artifact by keys holding roles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Approvals {
    /// The roles (sorted, distinct).
    pub roles: Vec<String>,
    /// `None`: one approval per role, each by a different key. `Some(n)`: `n` distinct keys,
    /// each approving under one of the roles.
    pub count: Option<u32>,
    /// Oldest acceptable approval, in days before `now`.
    pub max_age_days: Option<u32>,
}

/// What a requirement asks.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RequirementKind {
    /// Every child is met.
    AllOf(Vec<Requirement>),
    /// At least one child is met.
    AnyOf(Vec<Requirement>),
    /// A complete scan of this artifact found nothing above this severity.
    MaxScanSeverity(Severity),
    /// Manifest signatures.
    SignedBy(SignedBy),
    /// Evaluation results from verified logs.
    Eval(EvalRequirement),
    /// Approvals by role.
    Approvals(Approvals),
    /// The artifact was promoted to this stage before.
    StageReached(Stage),
}

impl RequirementKind {
    /// The policy keyword.
    pub fn keyword(&self) -> &'static str {
        match self {
            RequirementKind::AllOf(_) => "all_of",
            RequirementKind::AnyOf(_) => "any_of",
            RequirementKind::MaxScanSeverity(_) => "max_scan_severity",
            RequirementKind::SignedBy(_) => "signed_by",
            RequirementKind::Eval(_) => "eval",
            RequirementKind::Approvals(_) => "approvals",
            RequirementKind::StageReached(_) => "stage_reached",
        }
    }
}

/// One node of a stage's requirement tree, with where it was written.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Requirement {
    /// Its path in the document, e.g. `stages.production.all_of[1]`.
    pub path: String,
    /// Its line, when known.
    pub line: Option<u64>,
    /// What it asks.
    pub kind: RequirementKind,
}

/// A validated policy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Policy {
    pub(crate) keys: BTreeMap<String, KeyEntry>,
    pub(crate) stages: BTreeMap<Stage, Requirement>,
}

impl Policy {
    /// Parses and validates policy YAML; `origin` names the file in errors. Does no I/O.
    pub fn parse(text: &str, origin: &str) -> Result<Policy, PolicyError> {
        if text.len() > MAX_POLICY_BYTES {
            return Err(PolicyError {
                origin: origin.to_owned(),
                line: None,
                column: None,
                field: None,
                kind: PolicyErrorKind::TooLarge {
                    size: text.len(),
                    limit: MAX_POLICY_BYTES,
                },
            });
        }
        let raw: RawPolicy = serde_saphyr::from_str(text).map_err(|e| {
            let loc = e.location();
            let message = e.to_string();
            let first = parse_message(&message);
            PolicyError {
                origin: origin.to_owned(),
                line: loc.map(|l| l.line()).filter(|&l| l > 0),
                column: loc.map(|l| l.column()).filter(|&c| c > 0),
                field: None,
                kind: PolicyErrorKind::Parse(first),
            }
        })?;
        crate::validate::Validator::new(origin).run(raw)
    }

    /// The key table, by name: the caller loads each `public_key` and passes the hints to
    /// [`crate::evaluate`] in a [`crate::KeyHints`].
    pub fn keys(&self) -> &BTreeMap<String, KeyEntry> {
        &self.keys
    }

    /// The stages the policy defines, in promotion order.
    pub fn stages(&self) -> impl Iterator<Item = Stage> + '_ {
        self.stages.keys().copied()
    }

    /// The requirement tree for `stage`.
    pub fn requirement(&self, stage: Stage) -> Option<&Requirement> {
        self.stages.get(&stage)
    }
}

/// The first line of a serde-saphyr message without its `error: line L column C: ` prefix
/// (the location is kept in its own fields) or its advice to the programmer.
fn parse_message(message: &str) -> String {
    let first = message.lines().next().unwrap_or_default().trim();
    let first = first.strip_prefix("error: ").unwrap_or(first);
    let first = match first.strip_prefix("line ") {
        Some(rest) => rest.split_once(": ").map_or(first, |(_, m)| m),
        None => first,
    };
    let first = first
        .split_once(", set DuplicateKeyPolicy")
        .map_or(first, |(m, _)| m);
    first.to_owned()
}
