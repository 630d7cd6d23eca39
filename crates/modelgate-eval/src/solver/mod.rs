//! Solvers: the steps that turn a sample into a model answer.
//!
//! A spec's `solver` is a list of steps run in order over one [`TaskState`]: `system_message`,
//! `prompt_template`, `generate`, `multiple_choice`, and `agent` (a loop in which the model calls
//! `bash` and `python` tools that execute in the modelgate sandbox, one sandbox per sample, torn
//! down after). Templates are plain `{name}` substitutions; nothing is evaluated.
//!
//! ```no_run
//! # async fn demo(provider: &dyn modelgate_eval::Provider) -> Result<(), modelgate_eval::solver::SolveError> {
//! use std::sync::Arc;
//! use modelgate_eval::solver::{SolveContext, SolveLimits, SolverStep, TaskState};
//! use modelgate_eval::{Input, Sample};
//!
//! let sample = Sample {
//!     id: "1".into(), line: 1, input: Input::Text("What is 6 x 7?".into()),
//!     target: vec!["42".into()], choices: vec![], metadata: Default::default(),
//! };
//! let limits = SolveLimits { max_messages: 20, max_tokens: Some(512), max_total_tokens: None };
//! let ctx = SolveContext { provider, limits: &limits, sandbox_policy: None, tool_timeout: None };
//! let mut state = TaskState::new(Arc::new(sample));
//! for step in [SolverStep::from_flag("system:Answer with a number.")?, SolverStep::from_flag("generate")?] {
//!     step.run(&mut state, &ctx).await?;
//! }
//! println!("{}", state.output);
//! # Ok(()) }
//! ```

mod agent;
mod generate;
pub mod template;
pub mod tools;

pub use generate::{MAX_CHOICES, MULTIPLE_CHOICE_TEMPLATE, parse_choice};
pub use tools::ToolSandbox;

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::BoxFuture;
use crate::message::{Message, Role};
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
    /// A `--solver` or `--scorer` value is not one of the known ones.
    #[error(transparent)]
    Flag(#[from] FlagError),
}

/// A command-line value that names no known solver or scorer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {given:?}: expected one of {expected}")]
pub struct FlagError {
    /// `solver` or `scorer`.
    pub what: &'static str,
    /// The value given.
    pub given: String,
    /// The valid values.
    pub expected: &'static str,
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
    /// The values [`SolverStep::from_flag`] accepts.
    pub const FLAG_VALUES: &'static str =
        "generate, multiple_choice (or choice), agent (bash and python tools), system:TEXT";

    /// Reads a `--solver` value: `generate`, `multiple_choice` (alias `choice`), `agent` (bash
    /// and python tools) or `system:TEXT` (a system message).
    pub fn from_flag(value: &str) -> Result<SolverStep, FlagError> {
        if let Some(text) = value.strip_prefix("system:") {
            return Ok(SolverStep::SystemMessage(text.to_owned()));
        }
        match value {
            "generate" => Ok(SolverStep::Generate(GenerateStep::default())),
            "multiple_choice" | "choice" => {
                Ok(SolverStep::MultipleChoice(MultipleChoiceStep::default()))
            }
            "agent" => Ok(SolverStep::Agent(AgentStep {
                tools: vec![ToolKind::Bash, ToolKind::Python],
                max_messages: None,
                tool_timeout_s: None,
            })),
            _ => Err(FlagError {
                what: "solver",
                given: value.to_owned(),
                expected: Self::FLAG_VALUES,
            }),
        }
    }

    /// Runs this step on `state`. Steps that call the model do nothing once a limit has ended
    /// the sample (`state.limit_hit`).
    pub fn run<'a>(
        &'a self,
        state: &'a mut TaskState,
        ctx: &'a SolveContext<'a>,
    ) -> BoxFuture<'a, Result<(), SolveError>> {
        Box::pin(async move {
            match self {
                SolverStep::SystemMessage(tpl) => {
                    system_message(tpl, state);
                    Ok(())
                }
                SolverStep::PromptTemplate(tpl) => {
                    prompt_template(tpl, state);
                    Ok(())
                }
                _ if state.limit_hit.is_some() => Ok(()),
                SolverStep::Generate(step) => generate::generate(step, state, ctx).await,
                SolverStep::MultipleChoice(step) => {
                    generate::multiple_choice(step, state, ctx).await
                }
                SolverStep::Agent(step) => agent::run(step, state, ctx).await,
            }
        })
    }
}

/// Inserts or replaces the leading system message.
fn system_message(tpl: &str, state: &mut TaskState) {
    let sample = state.sample.clone();
    let text = template::substitute(tpl, |name| template::sample_field(&sample, name));
    match state.messages.first_mut() {
        Some(first) if first.role == Role::System => first.content = text,
        _ => state.messages.insert(0, Message::system(text)),
    }
}

/// Rewrites the last user message (`{input}` is its current text), or adds one.
fn prompt_template(tpl: &str, state: &mut TaskState) {
    let sample = state.sample.clone();
    let last_user = state.messages.iter().rposition(|m| m.role == Role::User);
    let original = last_user.map_or_else(String::new, |i| state.messages[i].content.clone());
    let text = template::substitute(tpl, |name| match name {
        "input" => Some(original.as_str().into()),
        other => template::sample_field(&sample, other),
    });
    match last_user {
        Some(i) => state.messages[i].content = text,
        None => state.messages.push(Message::user(text)),
    }
}
