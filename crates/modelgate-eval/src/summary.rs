//! The run summary, always computed from the sample records.
//!
//! The runner, `eval verify` and `eval view` all call [`Summarizer`] over the same records, so a
//! summary that does not follow from the samples (an inflated accuracy) is caught by
//! recomputing it.

use serde::{Deserialize, Serialize};

use crate::record::SampleStatus;

/// Metrics of one scorer over the scored samples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScorerMetrics {
    /// Scorer name.
    pub scorer: String,
    /// Samples scored.
    pub n: u64,
    /// Mean score (accuracy for 0/1 scorers).
    pub mean: f64,
    /// Standard error of the mean (sample standard deviation / √n).
    pub stderr: f64,
    /// 95% confidence interval (normal approximation, clamped to [0, 1]).
    pub ci95: [f64; 2],
}

/// The summary of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Samples recorded (every status).
    pub total: u64,
    /// Samples solved and scored.
    pub completed: u64,
    /// Samples whose solver or scorer failed.
    pub errors: u64,
    /// Dataset rows that were malformed and skipped.
    pub invalid: u64,
    /// The first scorer's mean over completed samples (`null` when none completed).
    pub accuracy: Option<f64>,
    /// Every scorer's metrics.
    pub scorers: Vec<ScorerMetrics>,
    /// Samples that hit a limit.
    pub limits_hit: u64,
    /// Provider retries over all samples.
    pub retries: u64,
    /// Tool calls over all samples.
    pub tool_calls: u64,
    /// Tool calls refused (no sandbox, bad arguments).
    pub tool_calls_refused: u64,
    /// Sandbox policy events over all samples.
    pub sandbox_events: u64,
    /// Input tokens over all samples.
    pub input_tokens: u64,
    /// Output tokens over all samples.
    pub output_tokens: u64,
}

/// The parts of a record the summary reads.
#[derive(Debug, Deserialize)]
struct RecordView {
    status: SampleStatus,
    #[serde(default)]
    scores: Vec<ScoreView>,
    #[serde(default)]
    limit_hit: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    retries: Vec<serde::de::IgnoredAny>,
    #[serde(default)]
    tool_calls: Vec<ToolView>,
    #[serde(default)]
    sandbox_events: Vec<serde::de::IgnoredAny>,
    #[serde(default)]
    usage: UsageView,
}

#[derive(Debug, Deserialize)]
struct ScoreView {
    scorer: String,
    value: f64,
}

#[derive(Debug, Deserialize)]
struct ToolView {
    #[serde(default)]
    refused: Option<serde::de::IgnoredAny>,
}

#[derive(Debug, Default, Deserialize)]
struct UsageView {
    #[serde(default)]
    input_tokens: u64,
    #[serde(default)]
    output_tokens: u64,
}

/// Running sums per scorer (Welford's algorithm: stable for 100k+ samples).
#[derive(Debug, Clone)]
struct Moments {
    name: String,
    n: u64,
    mean: f64,
    m2: f64,
}

/// Accumulates records into a [`Summary`].
#[derive(Debug, Clone)]
pub struct Summarizer {
    scorers: Vec<Moments>,
    total: u64,
    completed: u64,
    errors: u64,
    invalid: u64,
    limits_hit: u64,
    retries: u64,
    tool_calls: u64,
    tool_calls_refused: u64,
    sandbox_events: u64,
    input_tokens: u64,
    output_tokens: u64,
}

impl Summarizer {
    /// A summarizer for scorers named `scorers`, in spec order.
    pub fn new(scorers: &[String]) -> Summarizer {
        Summarizer {
            scorers: scorers
                .iter()
                .map(|s| Moments {
                    name: s.clone(),
                    n: 0,
                    mean: 0.0,
                    m2: 0.0,
                })
                .collect(),
            total: 0,
            completed: 0,
            errors: 0,
            invalid: 0,
            limits_hit: 0,
            retries: 0,
            tool_calls: 0,
            tool_calls_refused: 0,
            sandbox_events: 0,
            input_tokens: 0,
            output_tokens: 0,
        }
    }

    /// Adds one record (JSON bytes). A record that does not parse is an error naming why.
    pub fn add(&mut self, record: &[u8]) -> Result<(), String> {
        let r: RecordView = serde_json::from_slice(record).map_err(|e| e.to_string())?;
        self.total += 1;
        match r.status {
            SampleStatus::Ok => self.completed += 1,
            SampleStatus::Error => self.errors += 1,
            SampleStatus::Invalid => self.invalid += 1,
        }
        self.limits_hit += u64::from(r.limit_hit.is_some());
        self.retries += r.retries.len() as u64;
        self.tool_calls += r.tool_calls.len() as u64;
        self.tool_calls_refused +=
            r.tool_calls.iter().filter(|t| t.refused.is_some()).count() as u64;
        self.sandbox_events += r.sandbox_events.len() as u64;
        self.input_tokens += r.usage.input_tokens;
        self.output_tokens += r.usage.output_tokens;
        if r.status != SampleStatus::Ok {
            return Ok(());
        }
        for s in r.scores {
            if !(0.0..=1.0).contains(&s.value) {
                return Err(format!(
                    "score {} of scorer {:?} is outside [0, 1]",
                    s.value, s.scorer
                ));
            }
            let Some(m) = self.scorers.iter_mut().find(|m| m.name == s.scorer) else {
                return Err(format!("score from unknown scorer {:?}", s.scorer));
            };
            m.n += 1;
            let delta = s.value - m.mean;
            m.mean += delta / count(m.n);
            m.m2 += delta * (s.value - m.mean);
        }
        Ok(())
    }

    /// The summary so far.
    pub fn summary(&self) -> Summary {
        let scorers: Vec<ScorerMetrics> = self
            .scorers
            .iter()
            .map(|m| {
                let n = count(m.n);
                let stderr = if m.n < 2 {
                    0.0
                } else {
                    (m.m2 / (n - 1.0)).sqrt() / n.sqrt()
                };
                ScorerMetrics {
                    scorer: m.name.clone(),
                    n: m.n,
                    mean: round(m.mean),
                    stderr: round(stderr),
                    ci95: [
                        round((m.mean - 1.96 * stderr).max(0.0)),
                        round((m.mean + 1.96 * stderr).min(1.0)),
                    ],
                }
            })
            .collect();
        Summary {
            total: self.total,
            completed: self.completed,
            errors: self.errors,
            invalid: self.invalid,
            accuracy: scorers.first().filter(|m| m.n > 0).map(|m| m.mean),
            scorers,
            limits_hit: self.limits_hit,
            retries: self.retries,
            tool_calls: self.tool_calls,
            tool_calls_refused: self.tool_calls_refused,
            sandbox_events: self.sandbox_events,
            input_tokens: self.input_tokens,
            output_tokens: self.output_tokens,
        }
    }
}

/// A count as a float (sample counts are far below 2^52, where the conversion is exact).
#[allow(clippy::cast_precision_loss)]
fn count(n: u64) -> f64 {
    n as f64
}

/// Rounds to 6 decimals so summaries compare exactly after a JSON round trip.
fn round(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(status: &str, value: f64) -> Vec<u8> {
        format!(r#"{{"status":"{status}","scores":[{{"scorer":"match","value":{value}}}]}}"#)
            .into_bytes()
    }

    #[test]
    fn mean_stderr_and_counts() {
        let mut s = Summarizer::new(&["match".to_owned()]);
        for i in 0..100 {
            s.add(&rec("ok", if i < 63 { 1.0 } else { 0.0 })).unwrap();
        }
        s.add(&rec("error", 0.0)).unwrap();
        let sum = s.summary();
        assert_eq!((sum.total, sum.completed, sum.errors), (101, 100, 1));
        assert_eq!(sum.accuracy, Some(0.63));
        // sqrt(0.63*0.37/99)/... : sample std of Bernoulli(0.63) over 100 items / 10
        let expected = ((0.63f64 * 0.37 * 100.0 / 99.0).sqrt() / 10.0 * 1e6).round() / 1e6;
        assert!((sum.scorers[0].stderr - expected).abs() < 1e-6);
    }

    #[test]
    fn rejects_out_of_range_and_unknown_scores() {
        let mut s = Summarizer::new(&["match".to_owned()]);
        assert!(s.add(&rec("ok", 1.5)).is_err());
        assert!(
            s.add(br#"{"status":"ok","scores":[{"scorer":"x","value":1}]}"#)
                .is_err()
        );
        assert!(s.add(b"not json").is_err());
    }
}
