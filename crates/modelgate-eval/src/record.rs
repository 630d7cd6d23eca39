//! One sample's record: what the store chains and the log carries.

use serde::{Deserialize, Serialize};

use crate::message::Message;
use crate::provider::{Retry, Usage};
use crate::scorer::Score;
use crate::solver::ToolRecord;

/// How a sample ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SampleStatus {
    /// Solved and scored.
    Ok,
    /// The solver or a scorer failed (recorded error); not scored.
    Error,
    /// The dataset row was malformed; never sent to the model.
    Invalid,
}

/// A recorded error (never item content, never a key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SampleError {
    /// `provider`, `sandbox`, `solver`, `scorer`, `timeout`, `dataset`.
    pub kind: String,
    /// What failed.
    pub message: String,
}

/// One sample's record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleRecord {
    /// Sample id.
    pub id: String,
    /// 1-based dataset line (row for Parquet).
    pub line: u64,
    /// How it ended.
    pub status: SampleStatus,
    /// Accepted targets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub target: Vec<String>,
    /// Choices (multiple choice).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<String>,
    /// The whole conversation, input included.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<Message>,
    /// The final answer.
    #[serde(default)]
    pub output: String,
    /// Scores, one per scorer, in spec order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scores: Vec<Score>,
    /// The error, when `status` is not `ok`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<SampleError>,
    /// A limit that ended the sample early.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit_hit: Option<String>,
    /// Model calls made.
    #[serde(default)]
    pub model_calls: u32,
    /// Token counts.
    #[serde(default)]
    pub usage: Usage,
    /// Failed attempts that were retried.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retries: Vec<Retry>,
    /// Tool calls.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolRecord>,
    /// Sandbox policy events.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sandbox_events: Vec<serde_json::Value>,
    /// Wall time of the sample, in milliseconds.
    pub wall_ms: f64,
    /// RFC 3339 time the sample finished.
    pub finished_at: String,
}
