//! Evaluation results an ML-BOM reports: which task, on which pinned dataset, with which
//! metrics. A plain struct, so the caller decides where results come from; the builder only
//! checks that they are well formed.
//!
//! **Trust:** the builder copies these numbers into the BOM as they are. Pass only results you
//! verified (a signed eval log whose model digest you checked), never a file the artifact's
//! submitter supplied.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{SbomError, SbomInputError, SbomLimits};
use crate::algorithm::from_hex;
use crate::limits::read_capped;

/// One evaluation of the model: a task on a pinned dataset and the metrics it produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Evaluation {
    /// The task (benchmark) name, e.g. `mmlu` or `toxicity-refusal`.
    pub task: String,
    /// The dataset's registered name.
    pub dataset_name: String,
    /// The dataset's pinned SHA-256 (64 hex digits, optionally prefixed `sha256:`).
    pub dataset_sha256: String,
    /// The metrics measured (at least one).
    pub metrics: Vec<Metric>,
}

/// One metric of an evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metric {
    /// The metric's name, e.g. `accuracy`.
    pub name: String,
    /// Its value.
    pub value: f64,
    /// The standard error of `value`; gives a 95% normal interval (± 1.96 standard errors) when
    /// `ci` is absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stderr: Option<f64>,
    /// An explicit confidence interval `[lower, upper]`; preferred over `stderr`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ci: Option<[f64; 2]>,
}

impl Metric {
    /// The confidence interval written to the BOM: `ci` when given, else `value ± 1.96 stderr`.
    pub fn interval(&self) -> Option<(f64, f64)> {
        match (self.ci, self.stderr) {
            (Some([lower, upper]), _) => Some((lower, upper)),
            (None, Some(se)) => Some((self.value - 1.96 * se, self.value + 1.96 * se)),
            (None, None) => None,
        }
    }
}

/// Parses a SHA-256 digest written as 64 hex digits, optionally prefixed `sha256:` (the way
/// `modelgate hash` prints root digests). Upper-case hex is accepted.
pub fn parse_sha256(text: &str) -> Option<[u8; 32]> {
    let hex = text.strip_prefix("sha256:").unwrap_or(text);
    if hex.len() != 64 {
        return None;
    }
    from_hex(hex)?.try_into().ok()
}

impl Evaluation {
    /// Reads one evaluation from a JSON file (see `docs/sbom.md`), capped at
    /// [`SbomLimits::max_evaluation_bytes`], and checks it.
    pub fn from_file(path: &Path, limits: &SbomLimits) -> Result<Evaluation, SbomError> {
        let input = |kind| SbomError::input(path, kind);
        let bytes = read_capped(path, limits.max_evaluation_bytes)
            .map_err(|e| input(SbomInputError::Read(e)))?;
        let eval: Evaluation =
            serde_json::from_slice(&bytes).map_err(|e| input(SbomInputError::Json(e)))?;
        eval.check(limits)
            .map_err(|reason| input(SbomInputError::Invalid(reason)))?;
        Ok(eval)
    }

    /// Checks names, counts, the dataset digest and that every number is finite; the error says
    /// which field is wrong (never its content beyond the name).
    pub fn check(&self, limits: &SbomLimits) -> Result<(), String> {
        check_name("task", &self.task, limits)?;
        check_name("dataset_name", &self.dataset_name, limits)?;
        if parse_sha256(&self.dataset_sha256).is_none() {
            return Err("dataset_sha256 is not a SHA-256 digest (64 hex digits)".into());
        }
        if self.metrics.is_empty() {
            return Err("metrics is empty; an evaluation reports at least one metric".into());
        }
        if self.metrics.len() > limits.max_list_items {
            return Err(format!(
                "more than {} metrics in one evaluation",
                limits.max_list_items
            ));
        }
        for (i, m) in self.metrics.iter().enumerate() {
            check_name(&format!("metrics[{i}].name"), &m.name, limits)?;
            let finite = |what: &str, v: f64| {
                if v.is_finite() {
                    Ok(())
                } else {
                    Err(format!("metrics[{i}].{what} is not a finite number"))
                }
            };
            finite("value", m.value)?;
            if let Some(se) = m.stderr {
                finite("stderr", se)?;
                if se < 0.0 {
                    return Err(format!("metrics[{i}].stderr is negative"));
                }
            }
            if let Some([lower, upper]) = m.ci {
                finite("ci", lower)?;
                finite("ci", upper)?;
                if lower > upper {
                    return Err(format!(
                        "metrics[{i}].ci has its lower bound above its upper"
                    ));
                }
            }
        }
        Ok(())
    }

    /// The dataset digest as lowercase hex (call after [`Evaluation::check`]).
    pub(crate) fn dataset_hex(&self) -> String {
        parse_sha256(&self.dataset_sha256)
            .map(|d| crate::algorithm::to_hex(&d))
            .unwrap_or_default()
    }
}

fn check_name(field: &str, value: &str, limits: &SbomLimits) -> Result<(), String> {
    if value.trim().is_empty() {
        return Err(format!("{field} is empty"));
    }
    if value.len() > limits.max_string_bytes {
        return Err(format!(
            "{field} is longer than {} bytes",
            limits.max_string_bytes
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(format!("{field} contains control characters"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval() -> Evaluation {
        Evaluation {
            task: "mmlu".into(),
            dataset_name: "mmlu-test".into(),
            dataset_sha256: format!("sha256:{}", "ab".repeat(32)),
            metrics: vec![Metric {
                name: "accuracy".into(),
                value: 0.7,
                stderr: Some(0.01),
                ci: None,
            }],
        }
    }

    #[test]
    fn digests_parse_with_or_without_prefix() {
        assert_eq!(parse_sha256(&"AB".repeat(32)), Some([0xab; 32]));
        assert_eq!(
            parse_sha256(&format!("sha256:{}", "00".repeat(32))),
            Some([0; 32])
        );
        assert_eq!(parse_sha256("sha256:abcd"), None);
        assert_eq!(parse_sha256(&"zz".repeat(32)), None);
        assert_eq!(parse_sha256(&format!("sha512:{}", "00".repeat(32))), None);
    }

    #[test]
    fn checks_every_field() {
        let limits = SbomLimits::default();
        assert_eq!(eval().check(&limits), Ok(()));
        let mut e = eval();
        e.dataset_sha256 = "abc".into();
        assert!(e.check(&limits).unwrap_err().contains("dataset_sha256"));
        let mut e = eval();
        e.metrics.clear();
        assert!(e.check(&limits).unwrap_err().contains("empty"));
        let mut e = eval();
        e.metrics[0].value = f64::NAN;
        assert!(e.check(&limits).unwrap_err().contains("metrics[0].value"));
        let mut e = eval();
        e.metrics[0].ci = Some([0.8, 0.6]);
        assert!(e.check(&limits).unwrap_err().contains("lower bound"));
        let mut e = eval();
        e.task = "x".repeat(limits.max_string_bytes + 1);
        assert!(e.check(&limits).unwrap_err().contains("task is longer"));
        let mut e = eval();
        e.dataset_name = "a\nb".into();
        assert!(e.check(&limits).unwrap_err().contains("control"));
    }

    #[test]
    fn interval_prefers_explicit_ci() {
        let mut m = eval().metrics.remove(0);
        let (lo, hi) = m.interval().unwrap();
        assert!((lo - 0.6804).abs() < 1e-9 && (hi - 0.7196).abs() < 1e-9);
        m.ci = Some([0.6, 0.8]);
        assert_eq!(m.interval(), Some((0.6, 0.8)));
        m.ci = None;
        m.stderr = None;
        assert_eq!(m.interval(), None);
    }

    #[test]
    fn unknown_fields_are_refused() {
        let text = r#"{"task":"t","dataset_name":"d","dataset_sha256":"00","metrics":[],"x":1}"#;
        assert!(serde_json::from_str::<Evaluation>(text).is_err());
    }
}
