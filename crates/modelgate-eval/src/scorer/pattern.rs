//! The `regex` scorer: Rust `regex` (linear time), with the pattern and its compiled size capped.

use regex::{Regex, RegexBuilder};

use super::{Score, ScoreError, Scorer, clip};
use crate::BoxFuture;
use crate::solver::TaskState;

/// Longest pattern accepted, in bytes.
pub const MAX_PATTERN_BYTES: usize = 4 * 1024;

/// Largest compiled program and lazy-DFA cache, in bytes.
pub const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// `regex`: without a capture group the pattern must match; with one, the first match's group 1
/// (trimmed) must equal a target (trimmed).
#[derive(Debug, Clone)]
pub struct Pattern {
    regex: Regex,
}

impl Pattern {
    /// Compiles `pattern`, refusing oversized patterns and programs.
    pub fn new(pattern: &str) -> Result<Pattern, ScoreError> {
        if pattern.len() > MAX_PATTERN_BYTES {
            return Err(ScoreError::Config(format!(
                "regex scorer: the pattern is {} bytes; the limit is {MAX_PATTERN_BYTES}",
                pattern.len()
            )));
        }
        let regex = RegexBuilder::new(pattern)
            .size_limit(REGEX_SIZE_LIMIT)
            .dfa_size_limit(REGEX_SIZE_LIMIT)
            .build()
            .map_err(|e| match e {
                regex::Error::CompiledTooBig(limit) => ScoreError::Config(format!(
                    "regex scorer: the pattern compiles to more than {limit} bytes; simplify it \
                     (fewer or smaller repetitions)"
                )),
                other => ScoreError::Config(format!("regex scorer: invalid pattern: {other}")),
            })?;
        Ok(Pattern { regex })
    }

    fn value(&self, state: &TaskState) -> Score {
        let output = state.output.as_str();
        let (hit, answer) = if self.regex.captures_len() > 1 {
            match self
                .regex
                .captures(output)
                .and_then(|c| c.get(1))
                .map(|g| g.as_str().trim())
            {
                Some(group) => (
                    state.sample.target.iter().any(|t| t.trim() == group),
                    Some(clip(group)),
                ),
                None => (false, None),
            }
        } else {
            match self.regex.find(output) {
                Some(m) => (true, Some(clip(m.as_str()))),
                None => (false, None),
            }
        };
        Score {
            scorer: "regex".into(),
            value: if hit { 1.0 } else { 0.0 },
            answer,
            explanation: None,
        }
    }
}

impl Scorer for Pattern {
    fn name(&self) -> &'static str {
        "regex"
    }

    fn score<'a>(&'a self, state: &'a TaskState) -> BoxFuture<'a, Result<Score, ScoreError>> {
        Box::pin(async move { Ok(self.value(state)) })
    }
}
