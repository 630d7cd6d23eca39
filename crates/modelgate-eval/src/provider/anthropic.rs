//! `anthropic/NAME`: the Anthropic Messages API (`POST {base}/messages`).
//!
//! System messages go to the top-level `system` field; assistant tool calls become `tool_use`
//! blocks and tool results become `tool_result` blocks in a user turn; consecutive turns of the
//! same role are merged, as the API expects alternating roles. `max_tokens` is required by the
//! API and defaults to 1024. The key comes from `ANTHROPIC_API_KEY` and is sent as `x-api-key`.

use std::borrow::Cow;
use std::time::Instant;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde::{Deserialize, Serialize};

use super::http::HttpClient;
use super::{GenerateRequest, Generation, Provider, ProviderError, ProviderOptions, Usage};
use crate::BoxFuture;
use crate::message::{Message, Role, ToolCall, ToolDef};

/// The default base URL.
pub const DEFAULT_BASE_URL: &str = "https://api.anthropic.com/v1";

/// The environment variable holding the API key.
pub const API_KEY_VAR: &str = "ANTHROPIC_API_KEY";

/// The API version sent in `anthropic-version`.
pub const API_VERSION: &str = "2023-06-01";

/// `max_tokens` when the request sets none (the API requires one).
pub const DEFAULT_MAX_TOKENS: u32 = 1024;

/// A Messages API model.
#[derive(Debug)]
pub struct AnthropicProvider {
    id: String,
    model: String,
    url: String,
    http: HttpClient,
}

impl AnthropicProvider {
    /// A provider for `model` (the part after `anthropic/`). `api_key` is the value of
    /// [`API_KEY_VAR`]; it is required. Must be called inside a tokio runtime.
    pub fn new(
        model: &str,
        options: &ProviderOptions,
        api_key: Option<String>,
    ) -> Result<Self, ProviderError> {
        let Some(api_key) = api_key.filter(|k| !k.is_empty()) else {
            return Err(ProviderError::Config {
                message: format!("anthropic/{model} needs an API key: set {API_KEY_VAR}"),
            });
        };
        let base = super::base_url(options.base_url.as_deref(), DEFAULT_BASE_URL)?;
        let mut key = HeaderValue::from_str(&api_key).map_err(|_| ProviderError::Config {
            message: format!(
                "{API_KEY_VAR} is not usable in an HTTP header (it contains control or non-ASCII characters)"
            ),
        })?;
        key.set_sensitive(true);
        let mut headers = HeaderMap::new();
        headers.insert(HeaderName::from_static("x-api-key"), key);
        headers.insert(
            HeaderName::from_static("anthropic-version"),
            HeaderValue::from_static(API_VERSION),
        );
        Ok(AnthropicProvider {
            id: format!("anthropic/{model}"),
            model: model.to_owned(),
            url: format!("{base}/messages"),
            http: HttpClient::new(options, headers, Some(api_key))?,
        })
    }

    async fn call(&self, request: &GenerateRequest) -> Result<Generation, ProviderError> {
        let started = Instant::now();
        let body = encode_request(&self.model, request)?;
        let response = self.http.post_json(&self.url, &body).await?;
        let (message, stop_reason, usage) =
            decode_response(&response.body).map_err(|message| ProviderError::Malformed {
                message: self.http.excerpt(&message),
            })?;
        Ok(Generation {
            message,
            stop_reason,
            usage,
            retries: response.retries,
            latency_ms: started.elapsed().as_secs_f64() * 1000.0,
        })
    }
}

impl Provider for AnthropicProvider {
    fn id(&self) -> &str {
        &self.id
    }

    fn generate<'a>(
        &'a self,
        request: &'a GenerateRequest,
    ) -> BoxFuture<'a, Result<Generation, ProviderError>> {
        Box::pin(self.call(request))
    }
}

#[derive(Serialize, Deserialize)]
struct WireRequest<'a> {
    #[serde(borrow)]
    model: Cow<'a, str>,
    max_tokens: u32,
    #[serde(default, skip_serializing_if = "Option::is_none", borrow)]
    system: Option<Cow<'a, str>>,
    #[serde(borrow)]
    messages: Vec<WireMessage<'a>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty", borrow)]
    tools: Vec<WireTool<'a>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
}

#[derive(Serialize, Deserialize)]
struct WireMessage<'a> {
    role: WireRole,
    #[serde(borrow)]
    content: Vec<Block<'a>>,
}

#[derive(Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum WireRole {
    User,
    Assistant,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Block<'a> {
    Text {
        #[serde(borrow)]
        text: Cow<'a, str>,
    },
    ToolUse {
        #[serde(borrow)]
        id: Cow<'a, str>,
        #[serde(borrow)]
        name: Cow<'a, str>,
        #[serde(default)]
        input: serde_json::Value,
    },
    ToolResult {
        #[serde(borrow)]
        tool_use_id: Cow<'a, str>,
        #[serde(default, borrow)]
        content: Cow<'a, str>,
    },
    /// Block kinds this runner does not use (thinking, images, …) are skipped.
    #[serde(other)]
    Other,
}

#[derive(Serialize, Deserialize)]
struct WireTool<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
    #[serde(default, borrow)]
    description: Cow<'a, str>,
    #[serde(default)]
    input_schema: serde_json::Value,
}

#[derive(Serialize, Deserialize)]
struct WireResponse<'a> {
    #[serde(
        default,
        rename = "type",
        skip_serializing_if = "Option::is_none",
        borrow
    )]
    kind: Option<Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none", borrow)]
    role: Option<Cow<'a, str>>,
    #[serde(borrow)]
    content: Vec<Block<'a>>,
    #[serde(default, borrow)]
    stop_reason: Option<Cow<'a, str>>,
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Serialize, Deserialize)]
struct WireUsage {
    #[serde(default)]
    input_tokens: u64,
    #[serde(default)]
    output_tokens: u64,
}

fn encode_request(model: &str, request: &GenerateRequest) -> Result<Vec<u8>, ProviderError> {
    let mut system: Option<Cow<'_, str>> = None;
    let mut messages: Vec<WireMessage<'_>> = Vec::with_capacity(request.messages.len());
    for m in &request.messages {
        let (role, blocks) = match m.role {
            Role::System => {
                system = Some(match system.take() {
                    None => Cow::Borrowed(m.content.as_str()),
                    Some(prev) => Cow::Owned(format!("{prev}\n\n{}", m.content)),
                });
                continue;
            }
            Role::User => (WireRole::User, vec![text_block(&m.content)]),
            Role::Tool => (
                WireRole::User,
                vec![Block::ToolResult {
                    tool_use_id: Cow::Borrowed(m.tool_call_id.as_deref().unwrap_or_default()),
                    content: Cow::Borrowed(&m.content),
                }],
            ),
            Role::Assistant => {
                let mut blocks = Vec::with_capacity(1 + m.tool_calls.len());
                if !m.content.is_empty() || m.tool_calls.is_empty() {
                    blocks.push(text_block(&m.content));
                }
                blocks.extend(m.tool_calls.iter().map(|c| Block::ToolUse {
                    id: Cow::Borrowed(&c.id),
                    name: Cow::Borrowed(&c.name),
                    input: tool_input(&c.arguments),
                }));
                (WireRole::Assistant, blocks)
            }
        };
        match messages.last_mut() {
            Some(last) if last.role == role => last.content.extend(blocks),
            _ => messages.push(WireMessage {
                role,
                content: blocks,
            }),
        }
    }
    let wire = WireRequest {
        model: Cow::Borrowed(model),
        max_tokens: request.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS),
        system,
        messages,
        tools: request
            .tools
            .iter()
            .map(|t| WireTool {
                name: Cow::Borrowed(&t.name),
                description: Cow::Borrowed(&t.description),
                input_schema: t.parameters.clone(),
            })
            .collect(),
        temperature: request.temperature,
    };
    serde_json::to_vec(&wire).map_err(|e| ProviderError::Config {
        message: format!("cannot encode the request: {e}"),
    })
}

fn text_block(text: &str) -> Block<'_> {
    Block::Text {
        text: Cow::Borrowed(text),
    }
}

/// `tool_use.input` must be an object: JSON text is parsed, anything else is wrapped.
fn tool_input(arguments: &serde_json::Value) -> serde_json::Value {
    match arguments {
        serde_json::Value::Object(_) => arguments.clone(),
        serde_json::Value::String(text) => match serde_json::from_str(text) {
            Ok(v @ serde_json::Value::Object(_)) => v,
            _ => serde_json::json!({ "input": text }),
        },
        other => serde_json::json!({ "input": other }),
    }
}

/// Parses a Messages answer: text blocks concatenated, `tool_use` blocks as tool calls.
fn decode_response(body: &[u8]) -> Result<(Message, String, Usage), String> {
    let wire: WireResponse<'_> = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let mut message = Message::assistant(String::new());
    for block in wire.content {
        match block {
            Block::Text { text } => message.content.push_str(&text),
            Block::ToolUse { id, name, input } => message.tool_calls.push(ToolCall {
                id: id.into_owned(),
                name: name.into_owned(),
                arguments: input,
            }),
            Block::ToolResult { .. } | Block::Other => {}
        }
    }
    let stop_reason = wire
        .stop_reason
        .map_or_else(|| "unknown".to_owned(), Cow::into_owned);
    let usage = wire.usage.map_or_else(Usage::default, |u| Usage {
        input_tokens: u.input_tokens,
        output_tokens: u.output_tokens,
    });
    Ok((message, stop_reason, usage))
}

/// Server side (the stub): a request body as the model name and our request type.
pub(crate) fn decode_request(body: &[u8]) -> Result<(String, GenerateRequest), String> {
    let wire: WireRequest<'_> = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let mut messages = Vec::with_capacity(wire.messages.len() + 1);
    if let Some(system) = wire.system {
        messages.push(Message::system(system.into_owned()));
    }
    for m in wire.messages {
        let mut assistant = Message::assistant(String::new());
        for block in m.content {
            match (m.role, block) {
                (WireRole::User, Block::Text { text }) => messages.push(Message::user(text)),
                (
                    WireRole::User,
                    Block::ToolResult {
                        tool_use_id,
                        content,
                    },
                ) => messages.push(Message::tool(tool_use_id, content)),
                (WireRole::Assistant, Block::Text { text }) => assistant.content.push_str(&text),
                (WireRole::Assistant, Block::ToolUse { id, name, input }) => {
                    assistant.tool_calls.push(ToolCall {
                        id: id.into_owned(),
                        name: name.into_owned(),
                        arguments: input,
                    });
                }
                _ => {}
            }
        }
        if m.role == WireRole::Assistant {
            messages.push(assistant);
        }
    }
    let request = GenerateRequest {
        messages,
        tools: wire
            .tools
            .into_iter()
            .map(|t| ToolDef {
                name: t.name.into_owned(),
                description: t.description.into_owned(),
                parameters: t.input_schema,
            })
            .collect(),
        max_tokens: Some(wire.max_tokens),
        temperature: wire.temperature,
    };
    Ok((wire.model.into_owned(), request))
}

/// Server side (the stub): an answer body.
pub(crate) fn encode_response(message: &Message, stop_reason: &str, usage: Usage) -> Vec<u8> {
    let mut content = Vec::with_capacity(1 + message.tool_calls.len());
    if !message.content.is_empty() {
        content.push(text_block(&message.content));
    }
    content.extend(message.tool_calls.iter().map(|c| Block::ToolUse {
        id: Cow::Borrowed(&c.id),
        name: Cow::Borrowed(&c.name),
        input: tool_input(&c.arguments),
    }));
    let stop_reason = match stop_reason {
        "stop" => "end_turn",
        "tool_calls" => "tool_use",
        "length" => "max_tokens",
        other => other,
    };
    let wire = WireResponse {
        kind: Some(Cow::Borrowed("message")),
        role: Some(Cow::Borrowed("assistant")),
        content,
        stop_reason: Some(Cow::Borrowed(stop_reason)),
        usage: Some(WireUsage {
            input_tokens: usage.input_tokens,
            output_tokens: usage.output_tokens,
        }),
    };
    serde_json::to_vec(&wire).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn request_maps_system_tools_and_merges_turns() {
        let mut assistant = Message::assistant("let me look");
        assistant.tool_calls.push(ToolCall {
            id: "tu_1".into(),
            name: "bash".into(),
            arguments: json!({"cmd": "ls"}),
        });
        let request = GenerateRequest {
            messages: vec![
                Message::system("be brief"),
                Message::user("list"),
                assistant,
                Message::tool("tu_1", "a"),
                Message::user("and?"),
            ],
            tools: vec![ToolDef {
                name: "bash".into(),
                description: "run".into(),
                parameters: json!({"type": "object"}),
            }],
            max_tokens: None,
            temperature: None,
        };
        let v: serde_json::Value =
            serde_json::from_slice(&encode_request("claude", &request).unwrap()).unwrap();
        assert_eq!(
            v,
            json!({
                "model": "claude",
                "max_tokens": 1024,
                "system": "be brief",
                "messages": [
                    {"role": "user", "content": [{"type": "text", "text": "list"}]},
                    {"role": "assistant", "content": [
                        {"type": "text", "text": "let me look"},
                        {"type": "tool_use", "id": "tu_1", "name": "bash", "input": {"cmd": "ls"}}]},
                    {"role": "user", "content": [
                        {"type": "tool_result", "tool_use_id": "tu_1", "content": "a"},
                        {"type": "text", "text": "and?"}]}
                ],
                "tools": [{"name": "bash", "description": "run", "input_schema": {"type": "object"}}]
            })
        );
    }

    #[test]
    fn response_concatenates_text_and_reads_tool_use() {
        let body = br#"{"type":"message","content":[{"type":"thinking","thinking":"hm"},
            {"type":"text","text":"The answer "},{"type":"text","text":"is 4."},
            {"type":"tool_use","id":"tu","name":"bash","input":{"cmd":"ls"}}],
            "stop_reason":"tool_use","usage":{"input_tokens":9,"output_tokens":2}}"#;
        let (m, stop, usage) = decode_response(body).unwrap();
        assert_eq!(m.content, "The answer is 4.");
        assert_eq!(m.tool_calls[0].arguments, json!({"cmd": "ls"}));
        assert_eq!(stop, "tool_use");
        assert_eq!(
            usage,
            Usage {
                input_tokens: 9,
                output_tokens: 2
            }
        );
        assert!(decode_response(br#"{"content":"x"}"#).is_err());
    }

    #[test]
    fn non_object_arguments_are_wrapped() {
        assert_eq!(tool_input(&json!("{\"a\":1}")), json!({"a": 1}));
        assert_eq!(tool_input(&json!("ls -l")), json!({"input": "ls -l"}));
        assert_eq!(tool_input(&json!([1])), json!({"input": [1]}));
    }
}
