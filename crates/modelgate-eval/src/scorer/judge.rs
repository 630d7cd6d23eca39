//! The `model_graded` scorer: a pinned judge model grades each answer with a signed prompt.
//!
//! At build time the judge prompt file is read once (capped), and the attestation over it is
//! verified with the configured public key (`modelgate attest` / `modelgate verify
//! attestation`). The verified bytes are kept in memory and never re-read: the digest
//! `verify_attestation` computed from the file must equal the digest of the bytes kept, so a
//! prompt swapped between the read and the check is refused too. An unsigned, re-signed or
//! modified prompt refuses the run ([`ScoreError::UnverifiedJudge`]).

use std::fmt::Write as _;
use std::sync::Arc;

use modelgate_attest::limits::read_capped;
use modelgate_attest::{AttestLimits, Policy, PublicKey, verify_attestation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{JudgeResolver, JudgeSpec, Score, ScoreError, Scorer, clip};
use crate::BoxFuture;
use crate::message::Message;
use crate::provider::{GenerateRequest, Provider};
use crate::solver::TaskState;
use crate::solver::template;

/// Largest judge prompt file accepted, in bytes.
pub const MAX_JUDGE_PROMPT_BYTES: u64 = 256 * 1024;

/// What a log records about the judge: which model, which prompt (by digest), which key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JudgeProvenance {
    /// `PROVIDER/NAME` of the judge.
    pub model: String,
    /// The prompt file as configured.
    pub prompt: String,
    /// SHA-256 (hex) of the verified prompt bytes in use.
    pub prompt_sha256: String,
    /// Hint (fingerprint) of the key that signed the prompt.
    pub key_hint: String,
}

/// A judge whose prompt verified.
pub struct ModelGraded {
    provider: Arc<dyn Provider>,
    prompt: String,
    provenance: JudgeProvenance,
}

impl std::fmt::Debug for ModelGraded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelGraded")
            .field("provenance", &self.provenance)
            .finish_non_exhaustive()
    }
}

/// Reads and verifies the judge prompt of `spec`, then resolves the judge model.
pub fn build_model_graded(
    spec: &JudgeSpec,
    judge: &JudgeResolver<'_>,
) -> Result<ModelGraded, ScoreError> {
    let (prompt, sha256, key_hint) = verified_prompt(spec)?;
    let provider = judge(&spec.model)
        .map_err(|e| ScoreError::Config(format!("judge model {}: {e}", spec.model)))?;
    Ok(ModelGraded {
        provider,
        prompt,
        provenance: JudgeProvenance {
            model: spec.model.clone(),
            prompt: spec.prompt.display().to_string(),
            prompt_sha256: sha256,
            key_hint,
        },
    })
}

/// The prompt text, its SHA-256 and the signing key's hint, once the signature verifies.
fn verified_prompt(spec: &JudgeSpec) -> Result<(String, String, String), ScoreError> {
    let refuse = |reason: String| ScoreError::UnverifiedJudge {
        path: spec.prompt.clone(),
        reason,
    };
    let key = PublicKey::from_pem_file(&spec.key)
        .map_err(|e| refuse(format!("cannot load the public key: {e}")))?;
    let bytes = read_capped(&spec.prompt, MAX_JUDGE_PROMPT_BYTES)
        .map_err(|e| refuse(format!("cannot read the prompt: {e}")))?;
    let sha256 = hex(&Sha256::digest(&bytes));
    if !spec.signature.exists() {
        return Err(refuse(format!(
            "no signature at {}: sign the prompt with `modelgate attest` and give the bundle or \
             envelope",
            spec.signature.display()
        )));
    }
    let report = verify_attestation(
        &spec.signature,
        std::slice::from_ref(&spec.prompt),
        &key,
        &Policy::default(),
        &AttestLimits::default(),
    )
    .map_err(|e| {
        refuse(format!(
            "the signature {} cannot be checked: {e}",
            spec.signature.display()
        ))
    })?;
    if !report.verified() {
        let reasons: Vec<String> = report.failures.iter().map(ToString::to_string).collect();
        return Err(refuse(format!(
            "the signature {} does not verify: {}",
            spec.signature.display(),
            reasons.join("; ")
        )));
    }
    // The report's digest was computed from the file again; it must be of the bytes we keep.
    if report.subjects.first().map(|s| s.sha256.as_str()) != Some(sha256.as_str()) {
        return Err(refuse(
            "the prompt file changed while it was being verified".to_owned(),
        ));
    }
    let text = String::from_utf8(bytes).map_err(|_| {
        ScoreError::Config(format!(
            "judge prompt {}: not UTF-8 text",
            spec.prompt.display()
        ))
    })?;
    Ok((text, sha256, report.key.hint))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

impl ModelGraded {
    /// SHA-256 (hex) of the verified prompt in use, for provenance.
    pub fn prompt_sha256(&self) -> &str {
        &self.provenance.prompt_sha256
    }

    /// The judge's model, prompt digest and key.
    pub fn judge_provenance(&self) -> &JudgeProvenance {
        &self.provenance
    }

    /// The judge prompt for `state`: `{question}` (the sample's input), `{answer}` (the
    /// output) and `{criterion}` (the targets, one per line), substituted once — an answer
    /// that contains `{criterion}` stays literal.
    pub fn prompt_for(&self, state: &TaskState) -> String {
        let criterion = state.sample.target.join("\n");
        template::substitute(&self.prompt, |name| match name {
            "question" => Some(state.sample.input_text().into()),
            "answer" => Some(state.output.as_str().into()),
            "criterion" => Some(criterion.as_str().into()),
            _ => None,
        })
    }

    async fn grade(&self, state: &TaskState) -> Result<Score, ScoreError> {
        let request = GenerateRequest {
            messages: vec![Message::user(self.prompt_for(state))],
            tools: Vec::new(),
            max_tokens: None,
            temperature: Some(0.0),
        };
        let generation = self
            .provider
            .generate(&request)
            .await
            .map_err(|e| ScoreError::Judge(e.to_string()))?;
        let reply = generation.message.content;
        Ok(match parse_grade(&reply) {
            Some((value, line)) => Score {
                scorer: "model_graded".into(),
                value,
                answer: None,
                explanation: Some(clip(line)),
            },
            None => Score {
                scorer: "model_graded".into(),
                value: 0.0,
                answer: None,
                explanation: Some(
                    "unparseable judge answer: no `GRADE: C`, `GRADE: P` or `GRADE: I` line; \
                     scored 0"
                        .into(),
                ),
            },
        })
    }
}

/// Reads the last `GRADE: C|P|I` in a judge's answer: C = 1, P = 0.5, I = 0. Returns the value
/// and the line it was on.
pub fn parse_grade(reply: &str) -> Option<(f64, &str)> {
    reply.lines().rev().find_map(|line| {
        let lower = line.to_ascii_lowercase();
        let at = lower.rfind("grade")?;
        let rest = line[at + "grade".len()..]
            .trim_start_matches(['*', ' '])
            .strip_prefix(':')?
            .trim_start_matches([' ', '*', '(', '"', '\'', '[']);
        let mut chars = rest.chars();
        let grade = chars.next()?;
        if chars.next().is_some_and(char::is_alphanumeric) {
            return None;
        }
        let value = match grade.to_ascii_uppercase() {
            'C' => 1.0,
            'P' => 0.5,
            'I' => 0.0,
            _ => return None,
        };
        Some((value, line.trim()))
    })
}

impl Scorer for ModelGraded {
    fn name(&self) -> &'static str {
        "model_graded"
    }

    fn score<'a>(&'a self, state: &'a TaskState) -> BoxFuture<'a, Result<Score, ScoreError>> {
        Box::pin(self.grade(state))
    }

    fn judge(&self) -> Option<&JudgeProvenance> {
        Some(&self.provenance)
    }
}

#[cfg(test)]
mod tests {
    use super::parse_grade;

    #[test]
    fn grades() {
        assert_eq!(parse_grade("Fine.\nGRADE: C").map(|g| g.0), Some(1.0));
        assert_eq!(parse_grade("grade: p").map(|g| g.0), Some(0.5));
        assert_eq!(parse_grade("**GRADE:** I\n").map(|g| g.0), Some(0.0));
        assert_eq!(
            parse_grade("GRADE: C\nOn reflection GRADE: I").map(|g| g.0),
            Some(0.0)
        );
        assert_eq!(parse_grade("GRADE: Correct"), None);
        assert_eq!(parse_grade("GRADE: X"), None);
        assert_eq!(parse_grade("graded C"), None);
        assert_eq!(parse_grade(""), None);
    }
}
