//! Model providers: `openai/NAME`, `anthropic/NAME` and the built-in `mock/NAME`.
//!
//! Every provider call is bounded: a per-request timeout, a response-size cap, and a retry
//! limit that counts retries (so `max_retries: 0` means one attempt). Retries use jittered
//! exponential backoff and honour `Retry-After` on 429 and 5xx answers. API keys come from
//! environment variables and never appear in errors, logs or the store.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::BoxFuture;
use crate::message::{Message, ToolDef};

pub mod anthropic;
mod http;
pub mod mock;
pub mod openai;

pub use anthropic::AnthropicProvider;
pub use mock::{MockKind, MockProvider};
pub use openai::OpenAiProvider;

/// What to send to the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerateRequest {
    /// The conversation so far.
    pub messages: Vec<Message>,
    /// Tools the model may call.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<ToolDef>,
    /// Most tokens to generate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Sampling temperature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
}

/// Token counts reported by the provider.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Completion tokens.
    pub output_tokens: u64,
}

/// One failed attempt that was retried.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Retry {
    /// Why the attempt failed (status code or error class; never a key or item content).
    pub reason: String,
    /// How long the runner waited before the next attempt, in milliseconds.
    pub waited_ms: u64,
}

/// A successful completion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Generation {
    /// The assistant message (text and tool calls).
    pub message: Message,
    /// Why generation stopped (`stop`, `length`, `tool_calls`, …) as the provider said.
    pub stop_reason: String,
    /// Token counts.
    pub usage: Usage,
    /// Attempts that failed before this one succeeded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retries: Vec<Retry>,
    /// Wall time of the whole call including retries, in milliseconds.
    pub latency_ms: f64,
}

/// Why a provider call failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ProviderError {
    /// The model name or options are unusable (unknown provider, missing API key variable).
    #[error("{message}")]
    Config {
        /// What is wrong.
        message: String,
    },
    /// The server answered with a non-success status that is not retried (or retries ran out).
    #[error("HTTP {status}: {detail}")]
    Status {
        /// HTTP status.
        status: u16,
        /// A short, sanitised excerpt of the error body.
        detail: String,
    },
    /// No answer within the per-request timeout.
    #[error("no answer within {timeout_ms} ms")]
    Timeout {
        /// The timeout.
        timeout_ms: u64,
    },
    /// The answer exceeded the response-size cap.
    #[error("response larger than {limit} bytes")]
    TooLarge {
        /// The cap.
        limit: usize,
    },
    /// The answer is not what the API promises.
    #[error("malformed response: {message}")]
    Malformed {
        /// What is wrong.
        message: String,
    },
    /// Connecting or sending failed.
    #[error("transport: {message}")]
    Transport {
        /// What failed.
        message: String,
    },
    /// Retries ran out; `last` is the final attempt's error.
    #[error("gave up after {attempts} attempts: {last}")]
    RetriesExhausted {
        /// Attempts made.
        attempts: u32,
        /// The last error.
        last: Box<ProviderError>,
        /// The failed attempts that were retried.
        retries: Vec<Retry>,
    },
}

/// Settings for every provider.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderOptions {
    /// Base URL of the API (`openai` defaults to `https://api.openai.com/v1`, `anthropic` to
    /// `https://api.anthropic.com/v1`).
    pub base_url: Option<String>,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// First backoff delay; doubles each retry, with full jitter.
    pub backoff_base: Duration,
    /// Longest single backoff (also caps `Retry-After`).
    pub backoff_max: Duration,
    /// Largest response body accepted.
    pub max_response_bytes: usize,
    /// Most requests in flight at once (the HTTP connection pool is sized to match).
    pub max_connections: usize,
}

impl Default for ProviderOptions {
    fn default() -> Self {
        ProviderOptions {
            base_url: None,
            timeout: Duration::from_secs(120),
            max_retries: 5,
            backoff_base: Duration::from_millis(250),
            backoff_max: Duration::from_secs(30),
            max_response_bytes: 4 << 20,
            max_connections: 16,
        }
    }
}

/// A model behind an API.
pub trait Provider: Send + Sync {
    /// `PROVIDER/NAME` as given.
    fn id(&self) -> &str;

    /// One completion, with retries.
    fn generate<'a>(
        &'a self,
        request: &'a GenerateRequest,
    ) -> BoxFuture<'a, Result<Generation, ProviderError>>;
}

/// Resolves `PROVIDER/NAME` to a provider, reading API keys from the environment
/// (`OPENAI_API_KEY`, `ANTHROPIC_API_KEY`). Must be called inside a tokio runtime.
///
/// The name after the first slash may itself contain slashes (`openai/meta-llama/Llama-3-8B`).
pub fn resolve(model: &str, options: &ProviderOptions) -> Result<Arc<dyn Provider>, ProviderError> {
    resolve_with(model, options, &|name| std::env::var(name).ok())
}

/// [`resolve`] with API keys looked up through `env` (the variable name in, its value out), so
/// callers and tests can supply keys without touching the process environment.
pub fn resolve_with(
    model: &str,
    options: &ProviderOptions,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Arc<dyn Provider>, ProviderError> {
    let (provider, name) = model.split_once('/').unwrap_or((model, ""));
    if name.is_empty() {
        return Err(ProviderError::Config {
            message: format!(
                "model {model:?} has no name: expected openai/NAME, anthropic/NAME or mock/NAME"
            ),
        });
    }
    Ok(match provider {
        "openai" => Arc::new(OpenAiProvider::new(
            name,
            options,
            env(openai::API_KEY_VAR),
        )?),
        "anthropic" => Arc::new(AnthropicProvider::new(
            name,
            options,
            env(anthropic::API_KEY_VAR),
        )?),
        "mock" => Arc::new(MockProvider::new(name)?),
        _ => {
            return Err(ProviderError::Config {
                message: format!(
                    "unknown model provider {provider:?} in {model:?}: expected openai/NAME, anthropic/NAME or mock/NAME"
                ),
            });
        }
    })
}

/// The base URL to use: `given` (validated, trailing `/` removed) or `default`.
fn base_url(given: Option<&str>, default: &str) -> Result<String, ProviderError> {
    let Some(given) = given else {
        return Ok(default.to_owned());
    };
    let trimmed = given.trim().trim_end_matches('/');
    match reqwest::Url::parse(trimmed) {
        Ok(url)
            if matches!(url.scheme(), "http" | "https")
                && url.host().is_some()
                && url.query().is_none()
                && url.fragment().is_none() =>
        {
            Ok(trimmed.to_owned())
        }
        _ => Err(ProviderError::Config {
            message: "the base URL must be an http:// or https:// URL with a host and no query, e.g. http://127.0.0.1:8000/v1".to_owned(),
        }),
    }
}
