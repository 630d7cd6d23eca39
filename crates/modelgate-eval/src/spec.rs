//! Evaluation specs (YAML, strict).
//!
//! A spec names the task, the dataset and its pin, the model, the solver steps, the scorers,
//! the limits and the failure policy. Unknown fields are errors that name the field, line and
//! column. Nothing in a spec is executed: templates are plain substitutions, patterns are
//! linear-time regexes, and tool calls run in the sandbox.
//!
//! ```yaml
//! task: arithmetic
//! dataset:
//!   path: arithmetic.jsonl      # relative to the spec file
//!   sha256: 6f1c…               # or: registry: datasets.yaml + name: arithmetic-v1
//!   input_field: question
//!   target_field: answer
//! model: mock/calc
//! solver:
//!   - system_message: "Answer with the number only."
//!   - generate: {}
//! scorers:
//!   - match: {position: last}
//! limits: {max_items: 1000, max_messages: 20, sample_timeout_s: 120}
//! max_connections: 16
//! on_failure: skip
//! ```

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::scorer::ScorerSpec;
use crate::solver::SolverStep;

/// The largest spec file read.
pub const MAX_SPEC_BYTES: u64 = 1 << 20;

/// What to do when one sample fails (model error after retries, sandbox failure, malformed
/// dataset row).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnFailure {
    /// Record the failure in the sample's record and go on (the default).
    #[default]
    Skip,
    /// Stop the run; it ends with status `error`.
    Abort,
}

/// Where the dataset is and how it is pinned.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetSpec {
    /// The file (JSONL, CSV, TSV or Parquet), relative to the spec's directory.
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// The pinned SHA-256 of the file (lowercase hex).
    #[serde(default)]
    pub sha256: Option<String>,
    /// A dataset registry (`modelgate dataset vet`) that pins the dataset under `name`.
    #[serde(default)]
    pub registry: Option<PathBuf>,
    /// The dataset's name in the registry.
    #[serde(default)]
    pub name: Option<String>,
    /// Field holding the input (a string, or a list of `{role, content}` messages).
    #[serde(default)]
    pub input_field: Option<String>,
    /// Field holding the target (a string, number, or list of accepted answers).
    #[serde(default)]
    pub target_field: Option<String>,
    /// Field holding the choices of a multiple-choice item.
    #[serde(default)]
    pub choices_field: Option<String>,
    /// Field holding a unique sample id (the line number otherwise).
    #[serde(default)]
    pub id_field: Option<String>,
}

/// Bounds of a run and of each sample.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsSpec {
    /// Most dataset items evaluated (the first N).
    #[serde(default)]
    pub max_items: Option<u64>,
    /// Most messages in one sample's conversation (default 30).
    #[serde(default)]
    pub max_messages: Option<u32>,
    /// Wall-clock limit of one sample, in seconds (default 600).
    #[serde(default)]
    pub sample_timeout_s: Option<f64>,
    /// Most tokens per model call.
    #[serde(default)]
    pub max_tokens: Option<u32>,
    /// Most tokens (input + output) over one sample.
    #[serde(default)]
    pub max_total_tokens: Option<u64>,
}

/// Provider call settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetrySpec {
    /// Retries after the first attempt (default 5).
    #[serde(default)]
    pub max_retries: Option<u32>,
    /// Per-request timeout in seconds (default 120).
    #[serde(default)]
    pub request_timeout_s: Option<f64>,
    /// First backoff delay in milliseconds (default 250; doubles, full jitter).
    #[serde(default)]
    pub backoff_base_ms: Option<u64>,
    /// Longest backoff (and `Retry-After`) honoured, in milliseconds (default 30000).
    #[serde(default)]
    pub backoff_max_ms: Option<u64>,
}

/// Sandbox settings for tools.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SandboxSpec {
    /// A sandbox policy file (the built-in default policy otherwise).
    #[serde(default)]
    pub policy: Option<PathBuf>,
}

/// A spec as written.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// Task name.
    #[serde(default)]
    pub task: Option<String>,
    /// The dataset.
    #[serde(default)]
    pub dataset: DatasetSpec,
    /// `PROVIDER/NAME`.
    #[serde(default)]
    pub model: Option<String>,
    /// API base URL for the provider.
    #[serde(default)]
    pub base_url: Option<String>,
    /// The model artifact (file or directory) being evaluated: the runner hashes it (OpenSSF
    /// model-signing manifest, SHA-256) and records the root digest in the log and the signed
    /// provenance, so a promotion gate can tie the results to exactly that artifact.
    #[serde(default)]
    pub model_artifact: Option<PathBuf>,
    /// Solver steps, in order (default: one `generate`).
    #[serde(default)]
    pub solver: Vec<SolverStep>,
    /// Scorers (default: `match`).
    #[serde(default)]
    pub scorers: Vec<ScorerSpec>,
    /// Bounds.
    #[serde(default)]
    pub limits: LimitsSpec,
    /// Most model calls in flight (default 16).
    #[serde(default)]
    pub max_connections: Option<usize>,
    /// Retry settings.
    #[serde(default)]
    pub retries: RetrySpec,
    /// What a failed sample does to the run.
    #[serde(default)]
    pub on_failure: Option<OnFailure>,
    /// Sandbox for tools.
    #[serde(default)]
    pub sandbox: SandboxSpec,
    /// Exit 1 when the primary scorer's accuracy is below this.
    #[serde(default)]
    pub fail_under: Option<f64>,
}

/// A spec that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// The file cannot be read.
    #[error("{path}: {source}")]
    Io {
        /// The spec file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is larger than [`MAX_SPEC_BYTES`].
    #[error("{path}: spec is {size} bytes, more than the {limit}-byte limit")]
    TooLarge {
        /// The spec file.
        path: PathBuf,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The YAML does not parse or has unknown or mistyped fields.
    #[error("{path}: {message}")]
    Parse {
        /// The spec file.
        path: String,
        /// The parser's message (with line and column).
        message: String,
    },
    /// A required setting is missing or a value is out of range.
    #[error("{origin}: {message}")]
    Invalid {
        /// The spec file, or `command line`.
        origin: String,
        /// What is wrong.
        message: String,
    },
}

impl Spec {
    /// Reads and parses a spec file, resolving relative paths against its directory.
    pub fn from_file(path: &Path) -> Result<Spec, SpecError> {
        let io = |source| SpecError::Io {
            path: path.to_owned(),
            source,
        };
        let meta = std::fs::metadata(path).map_err(io)?;
        if meta.len() > MAX_SPEC_BYTES {
            return Err(SpecError::TooLarge {
                path: path.to_owned(),
                size: meta.len(),
                limit: MAX_SPEC_BYTES,
            });
        }
        let text = std::fs::read_to_string(path).map_err(io)?;
        let mut spec = Spec::parse(&text, &path.display().to_string())?;
        let base = path.parent().unwrap_or(Path::new("."));
        spec.resolve_paths(base);
        Ok(spec)
    }

    /// Parses spec text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Spec, SpecError> {
        serde_saphyr::from_str(text).map_err(|e| SpecError::Parse {
            path: origin.to_owned(),
            message: e.to_string(),
        })
    }

    /// Makes relative paths relative to `base` (the spec's directory).
    pub fn resolve_paths(&mut self, base: &Path) {
        let fix = |p: &mut Option<PathBuf>| {
            if let Some(path) = p
                && path.is_relative()
            {
                *path = base.join(&*path);
            }
        };
        fix(&mut self.dataset.path);
        fix(&mut self.dataset.registry);
        fix(&mut self.sandbox.policy);
        fix(&mut self.model_artifact);
        for s in &mut self.scorers {
            if let ScorerSpec::ModelGraded(j) = s {
                for p in [&mut j.prompt, &mut j.signature, &mut j.key] {
                    if p.is_relative() {
                        *p = base.join(&*p);
                    }
                }
            }
        }
    }

    /// Lays `over` on top of `self`: every setting present in `over` wins.
    pub fn overlay(&mut self, over: Spec) {
        macro_rules! take {
            ($($f:ident).+) => {
                if over.$($f).+.is_some() {
                    self.$($f).+ = over.$($f).+;
                }
            };
        }
        take!(task);
        take!(dataset.path);
        take!(dataset.sha256);
        take!(dataset.registry);
        take!(dataset.name);
        take!(dataset.input_field);
        take!(dataset.target_field);
        take!(dataset.choices_field);
        take!(dataset.id_field);
        take!(model);
        take!(base_url);
        take!(model_artifact);
        take!(limits.max_items);
        take!(limits.max_messages);
        take!(limits.sample_timeout_s);
        take!(limits.max_tokens);
        take!(limits.max_total_tokens);
        take!(max_connections);
        take!(retries.max_retries);
        take!(retries.request_timeout_s);
        take!(retries.backoff_base_ms);
        take!(retries.backoff_max_ms);
        take!(on_failure);
        take!(sandbox.policy);
        take!(fail_under);
        if !over.solver.is_empty() {
            self.solver = over.solver;
        }
        if !over.scorers.is_empty() {
            self.scorers = over.scorers;
        }
    }

    /// Fills defaults and checks ranges; `origin` names the spec in errors.
    pub fn finalize(mut self, origin: &str) -> Result<Spec, SpecError> {
        let invalid = |message: String| SpecError::Invalid {
            origin: origin.to_owned(),
            message,
        };
        if self.dataset.path.is_none() {
            return Err(invalid(
                "no dataset: set `dataset.path` in the spec or pass --dataset FILE".into(),
            ));
        }
        if self.model.is_none() {
            return Err(invalid(
                "no model: set `model` in the spec or pass --model PROVIDER/NAME".into(),
            ));
        }
        if self.task.is_none() {
            let stem = self
                .dataset
                .path
                .as_deref()
                .and_then(Path::file_stem)
                .map_or_else(|| "eval".to_owned(), |s| s.to_string_lossy().into_owned());
            self.task = Some(stem);
        }
        if let Some(h) = &self.dataset.sha256 {
            let h = h.trim().trim_start_matches("sha256:").to_ascii_lowercase();
            if h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(invalid(format!(
                    "dataset.sha256 must be 64 hex digits, got {:?}",
                    self.dataset.sha256.as_deref().unwrap_or_default()
                )));
            }
            self.dataset.sha256 = Some(h);
        }
        if self.dataset.registry.is_some() != self.dataset.name.is_some() {
            return Err(invalid(
                "dataset.registry and dataset.name go together (the registry pins the dataset under that name)".into(),
            ));
        }
        if self.solver.is_empty() {
            self.solver
                .push(SolverStep::Generate(crate::solver::GenerateStep::default()));
        }
        if self.scorers.is_empty() {
            self.scorers
                .push(ScorerSpec::Match(crate::scorer::MatchOptions::default()));
        }
        let conns = self.max_connections.get_or_insert(16);
        if *conns == 0 || *conns > 4096 {
            return Err(invalid(format!(
                "max_connections must be between 1 and 4096, got {conns}"
            )));
        }
        for (name, v) in [
            ("limits.sample_timeout_s", self.limits.sample_timeout_s),
            ("retries.request_timeout_s", self.retries.request_timeout_s),
        ] {
            if let Some(v) = v
                && !(v > 0.0 && v <= 86_400.0)
            {
                return Err(invalid(format!(
                    "{name} must be in (0, 86400] seconds, got {v}"
                )));
            }
        }
        if let Some(f) = self.fail_under
            && !(0.0..=1.0).contains(&f)
        {
            return Err(invalid(format!("fail_under must be in [0, 1], got {f}")));
        }
        if self.retries.max_retries.is_some_and(|r| r > 100) {
            return Err(invalid("retries.max_retries must be at most 100".into()));
        }
        Ok(self)
    }

    /// The spec as canonical JSON (sorted keys, no whitespace): what the log records and the
    /// provenance digests.
    pub fn canonical_json(&self) -> String {
        let v = serde_json::to_value(self).unwrap_or(serde_json::Value::Null);
        // serde_json's default map is ordered (BTreeMap), so keys come out sorted.
        serde_json::to_string(&v).unwrap_or_default()
    }

    /// SHA-256 (hex) of [`Spec::canonical_json`].
    pub fn digest(&self) -> String {
        modelgate_core::to_hex(&Sha256::digest(self.canonical_json().as_bytes()))
    }

    /// Whether any solver step calls tools.
    pub fn uses_tools(&self) -> bool {
        self.solver
            .iter()
            .any(|s| matches!(s, SolverStep::Agent(_)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_are_errors_with_a_line() {
        let err = Spec::parse(
            "task: t\nmodel: mock/echo\nlimits:\n  max_itmes: 3\n",
            "s.yaml",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("max_itmes"), "{err}");
        assert!(err.contains("line 4"), "{err}");
    }

    #[test]
    fn overlay_and_finalize() {
        let mut spec = Spec::parse(
            "task: t\ndataset: {path: d.jsonl, sha256: 'AB'}\nmodel: mock/echo\nsolver: [generate: {}]\nscorers: [exact: {}]\n",
            "s",
        )
        .unwrap();
        let over = Spec {
            model: Some("mock/calc".into()),
            ..Spec::default()
        };
        spec.overlay(over);
        assert_eq!(spec.model.as_deref(), Some("mock/calc"));
        assert!(spec.clone().finalize("s").is_err(), "short sha256 refused");
        spec.dataset.sha256 = Some(format!("sha256:{}", "A".repeat(64)));
        let spec = spec.finalize("s").unwrap();
        assert_eq!(
            spec.dataset.sha256.as_deref(),
            Some("a".repeat(64).as_str())
        );
        assert_eq!(spec.max_connections, Some(16));
        assert_eq!(spec.digest().len(), 64);
    }
}
