//! Solvers: the steps that turn a sample into a model answer.
//!
//! A spec's `solver` is a list of steps run in order over one [`TaskState`]: `system_message`,
//! `prompt_template`, `generate`, `multiple_choice`, and `agent` (a loop in which the model calls
//! `bash` and `python` tools that execute in the modelgate sandbox, one sandbox per sample, torn
//! down after). Templates are plain `{name}` substitutions; nothing is evaluated.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::BoxFuture;
use crate::message::Message;
use crate::provider::{Provider, Retry, Usage};
use crate::sample::Sample;

/// One solver step as written in a spec.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum SolverStep {
    /// Prepends (or replaces) the system message. `{name}` placeholders take sample fields.
    SystemMessage(String),
    /// Rewrites the last user message with a template; `{input}` is the original text.
    PromptTemplate(String),
    /// One model call; its answer becomes the output.
    Generate(#[serde(default)] GenerateStep),
    /// Formats the sample's choices as lettered options, calls the model, and reads the letter.
    MultipleChoice(#[serde(default)] MultipleChoiceStep),
    /// A tool-using loop with sandboxed `bash` and `python`.
    Agent(AgentStep),
}

/// Options of a `generate` step.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenerateStep {
    /// Most tokens for this call (the spec's `limits.max_tokens` otherwise).
    #[serde(default)]
    pub max_tokens: Option<u32>,
    /// Sampling temperature.
    #[serde(default)]
    pub temperature: Option<f64>,
}

/// Options of a `multiple_choice` step.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MultipleChoiceStep {
    /// Template with `{question}` and `{choices}`; a standard one otherwise.
    #[serde(default)]
    pub template: Option<String>,
}

/// A tool the agent may call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolKind {
    /// `bash -c CMD` in the sandbox.
    Bash,
    /// `python3 -c CODE` in the sandbox.
    Python,
}

/// Options of an `agent` step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentStep {
    /// Tools offered.
    pub tools: Vec<ToolKind>,
    /// Most messages in the conversation (the spec's `limits.max_messages` otherwise).
    #[serde(default)]
    pub max_messages: Option<u32>,
    /// Wall-clock limit of one tool call, in seconds (the sandbox policy's otherwise).
    #[serde(default)]
    pub tool_timeout_s: Option<f64>,
}

/// A tool call as recorded in a sample's log entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolRecord {
    /// Tool name.
    pub tool: String,
    /// Exit code, when the command exited.
    pub exit_code: Option<i32>,
    /// Terminating signal name, when killed.
    pub signal: Option<String>,
    /// Wall time in milliseconds.
    pub wall_time_ms: f64,
    /// Whether the wall-clock limit killed it.
    pub timed_out: bool,
    /// Refused before running (no sandbox available, unknown tool, bad arguments): why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
}

/// The evolving state of one sample.
#[derive(Debug, Clone)]
pub struct TaskState {
    /// The sample.
    pub sample: Arc<Sample>,
    /// The conversation.
    pub messages: Vec<Message>,
    /// The final answer text (set by `generate`, `multiple_choice`, `agent`).
    pub output: String,
    /// For multiple choice: the letter the model chose, when one was read.
    pub choice: Option<char>,
    /// Set when a limit ended the sample early (`max_messages`, `max_tokens`, time).
    pub limit_hit: Option<String>,
    /// Token counts over all calls.
    pub usage: Usage,
    /// Model calls made.
    pub model_calls: u32,
    /// Retries over all calls.
    pub retries: Vec<Retry>,
    /// Tool calls made.
    pub tool_calls: Vec<ToolRecord>,
    /// Sandbox policy events (denied syscalls, refused egress, limits hit), as the sandbox
    /// reports them.
    pub sandbox_events: Vec<serde_json::Value>,
}

impl TaskState {
    /// The state before the first step.
    pub fn new(sample: Arc<Sample>) -> TaskState {
        let messages = sample.messages();
        TaskState {
            sample,
            messages,
            output: String::new(),
            choice: None,
            limit_hit: None,
            usage: Usage::default(),
            model_calls: 0,
            retries: Vec::new(),
            tool_calls: Vec::new(),
            sandbox_events: Vec::new(),
        }
    }
}

/// Per-sample bounds the solver enforces.
#[derive(Debug, Clone, PartialEq)]
pub struct SolveLimits {
    /// Most messages in a conversation.
    pub max_messages: u32,
    /// Most tokens per model call.
    pub max_tokens: Option<u32>,
    /// Most tokens over the sample (input + output); `None` for no limit.
    pub max_total_tokens: Option<u64>,
}

/// Why a sample's solver failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SolveError {
    /// The model call failed (after retries).
    #[error("model call failed: {0}")]
    Provider(#[from] crate::provider::ProviderError),
    /// The sandbox could not be created or failed.
    #[error("sandbox: {0}")]
    Sandbox(String),
    /// The step cannot run on this sample (no choices for multiple choice …).
    #[error("{0}")]
    Invalid(String),
}

/// What the steps need besides the state.
pub struct SolveContext<'a> {
    /// The model.
    pub provider: &'a dyn Provider,
    /// Bounds.
    pub limits: &'a SolveLimits,
    /// The sandbox policy for tools; `None` refuses every tool call (recorded).
    pub sandbox_policy: Option<&'a modelgate_sandbox::Policy>,
    /// Default tool timeout.
    pub tool_timeout: Option<Duration>,
}

impl SolverStep {
    /// Runs this step on `state`.
    pub fn run<'a>(
        &'a self,
        state: &'a mut TaskState,
        ctx: &'a SolveContext<'a>,
    ) -> BoxFuture<'a, Result<(), SolveError>> {
        let _ = (state, ctx);
        Box::pin(async { Err(SolveError::Invalid("solver not implemented yet".into())) })
    }
}
