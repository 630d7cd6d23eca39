//! Scorers: exact, includes, match, regex, choice and model-graded.
//!
//! Every scorer returns a value in `[0, 1]` per sample; the run reports its mean (accuracy)
//! with a standard error. Regexes use the `regex` crate (linear time) with a compiled-size cap.
//! The model-graded scorer refuses to start unless its judge prompt file carries a valid
//! signature by the configured key.
//!
//! ```
//! use modelgate_eval::scorer::{ScorerSpec, build};
//!
//! let spec = ScorerSpec::from_flag("match").unwrap();
//! let no_judge = |_: &str| -> Result<_, modelgate_eval::ProviderError> { unreachable!() };
//! let scorer = build(&spec, &no_judge).unwrap();
//! assert_eq!(scorer.name(), "match");
//! ```

mod judge;
mod matching;
pub mod metrics;
mod numbers;
mod pattern;

pub use judge::{
    JudgeProvenance, MAX_JUDGE_PROMPT_BYTES, ModelGraded, build_model_graded, parse_grade,
};
pub use matching::{Choice, Exact, Includes, Match, normalize_whitespace, target_letter};
pub use numbers::{Number, numbers_in, parse_number};
pub use pattern::{MAX_PATTERN_BYTES, Pattern, REGEX_SIZE_LIMIT};

use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::BoxFuture;
use crate::provider::{Provider, ProviderError};
use crate::solver::{FlagError, TaskState};

/// Resolves a judge's `PROVIDER/NAME` to a provider.
pub type JudgeResolver<'a> = dyn Fn(&str) -> Result<Arc<dyn Provider>, ProviderError> + 'a;

/// Longest `answer` or `explanation` kept in a score, in bytes.
pub const MAX_SCORE_TEXT: usize = 4096;

/// `s` cut to at most [`MAX_SCORE_TEXT`] bytes on a character boundary (with `…` when cut).
pub(crate) fn clip(s: &str) -> String {
    let kept = crate::solver::tools::prefix(s, MAX_SCORE_TEXT);
    if kept.len() == s.len() {
        return s.to_owned();
    }
    format!("{kept}…")
}

/// Where a `match` scorer looks for the target.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchPosition {
    /// At the start of the answer.
    First,
    /// At the end of the answer (the default: models put the answer last).
    #[default]
    Last,
    /// Anywhere, as a whole word or number.
    Any,
}

/// A scorer as written in a spec.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ScorerSpec {
    /// The trimmed answer equals a target (case-sensitive unless `ignore_case`).
    Exact(#[serde(default)] TextOptions),
    /// The answer contains a target.
    Includes(#[serde(default)] TextOptions),
    /// A target appears at the chosen position, numbers compared as numbers (`1,000` = `1000.0`).
    Match(#[serde(default)] MatchOptions),
    /// The pattern matches; with a capture group, the group must equal a target.
    Regex(RegexOptions),
    /// The multiple-choice letter equals the target letter.
    Choice,
    /// A pinned judge model grades the answer with a signed prompt.
    ModelGraded(JudgeSpec),
}

/// Options of `exact` and `includes`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TextOptions {
    /// Compare case-insensitively.
    #[serde(default)]
    pub ignore_case: bool,
}

/// Options of `match`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatchOptions {
    /// Where to look.
    #[serde(default)]
    pub position: MatchPosition,
}

/// Options of `regex`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegexOptions {
    /// The pattern (Rust `regex` syntax).
    pub pattern: String,
}

/// The judge of a model-graded scorer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JudgeSpec {
    /// `PROVIDER/NAME` of the judge (pinned: recorded in the log and provenance).
    pub model: String,
    /// The judge prompt template file (`{question}`, `{answer}`, `{criterion}` placeholders).
    pub prompt: PathBuf,
    /// Sigstore bundle or DSSE envelope over the prompt file (`modelgate attest`).
    pub signature: PathBuf,
    /// Public key the signature must verify with.
    pub key: PathBuf,
}

/// One scorer's verdict on one sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Score {
    /// Scorer name (`exact`, `match`, …).
    pub scorer: String,
    /// In `[0, 1]`.
    pub value: f64,
    /// The part of the output that was compared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<String>,
    /// Why (for judges: the judge's grade line).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub explanation: Option<String>,
}

/// Why scoring failed or a scorer could not be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScoreError {
    /// The scorer's configuration is unusable (bad regex, oversized pattern).
    #[error("{0}")]
    Config(String),
    /// The judge prompt's signature does not verify; the run must refuse.
    #[error("judge prompt {path}: {reason}")]
    UnverifiedJudge {
        /// The prompt file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The judge call failed.
    #[error("judge: {0}")]
    Judge(String),
}

/// A built scorer.
pub trait Scorer: Send + Sync {
    /// The name recorded with each score.
    fn name(&self) -> &str;

    /// Scores one finished sample.
    fn score<'a>(&'a self, state: &'a TaskState) -> BoxFuture<'a, Result<Score, ScoreError>>;

    /// For judges: the model, the verified prompt's digest and the key, to record in the log
    /// and provenance.
    fn judge(&self) -> Option<&JudgeProvenance> {
        None
    }
}

impl ScorerSpec {
    /// The values [`ScorerSpec::from_flag`] accepts.
    pub const FLAG_VALUES: &'static str =
        "exact, includes, match (or match:first, match:last, match:any), regex:PATTERN, choice";

    /// Reads a `--scorer` value: `exact`, `includes`, `match` (optionally `match:first`,
    /// `match:last`, `match:any`), `regex:PATTERN` or `choice`. Model-graded scoring needs a
    /// spec file (judge model, prompt, signature and key).
    pub fn from_flag(value: &str) -> Result<ScorerSpec, FlagError> {
        if let Some(pattern) = value.strip_prefix("regex:") {
            return Ok(ScorerSpec::Regex(RegexOptions {
                pattern: pattern.to_owned(),
            }));
        }
        let position = |position| Ok(ScorerSpec::Match(MatchOptions { position }));
        match value {
            "exact" => Ok(ScorerSpec::Exact(TextOptions::default())),
            "includes" => Ok(ScorerSpec::Includes(TextOptions::default())),
            "match" | "match:last" => position(MatchPosition::Last),
            "match:first" => position(MatchPosition::First),
            "match:any" => position(MatchPosition::Any),
            "choice" => Ok(ScorerSpec::Choice),
            _ => Err(FlagError {
                what: "scorer",
                given: value.to_owned(),
                expected: Self::FLAG_VALUES,
            }),
        }
    }
}

/// Builds the scorer for `spec`. `judge` resolves a judge's model name to a provider; it is
/// called only after the judge prompt's signature verified.
pub fn build(spec: &ScorerSpec, judge: &JudgeResolver<'_>) -> Result<Arc<dyn Scorer>, ScoreError> {
    Ok(match spec {
        ScorerSpec::Exact(o) => Arc::new(Exact {
            ignore_case: o.ignore_case,
        }),
        ScorerSpec::Includes(o) => Arc::new(Includes {
            ignore_case: o.ignore_case,
        }),
        ScorerSpec::Match(o) => Arc::new(Match {
            position: o.position,
        }),
        ScorerSpec::Regex(o) => Arc::new(Pattern::new(&o.pattern)?),
        ScorerSpec::Choice => Arc::new(Choice),
        ScorerSpec::ModelGraded(j) => Arc::new(build_model_graded(j, judge)?),
    })
}
