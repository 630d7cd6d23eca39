//! `openai/NAME`: OpenAI-compatible chat completions (`POST {base}/chat/completions`).
//!
//! This covers `OpenAI` itself and the servers that speak its dialect: vLLM, llama.cpp's server,
//! Ollama and most hosted APIs. The key comes from `OPENAI_API_KEY` and is sent as a bearer
//! token when set; local servers need none, so a missing key is an error only for the default
//! `api.openai.com` URL.
//!
//! The wire types here serve both directions: the provider encodes requests and decodes
//! answers, and the stub server ([`crate::stub_server`]) decodes requests and encodes answers,
//! so the two cannot drift apart.

use std::borrow::Cow;
use std::time::Instant;

use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use serde::{Deserialize, Serialize};

use super::http::HttpClient;
use super::{GenerateRequest, Generation, Provider, ProviderError, ProviderOptions, Usage};
use crate::BoxFuture;
use crate::message::{Message, Role, ToolCall, ToolDef};

/// The default base URL.
pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";

/// The environment variable holding the API key.
pub const API_KEY_VAR: &str = "OPENAI_API_KEY";

/// A chat-completions model.
#[derive(Debug)]
pub struct OpenAiProvider {
    id: String,
    model: String,
    url: String,
    http: HttpClient,
}

impl OpenAiProvider {
    /// A provider for `model` (the part after `openai/`). `api_key` is the value of
    /// [`API_KEY_VAR`], if set. Must be called inside a tokio runtime.
    pub fn new(
        model: &str,
        options: &ProviderOptions,
        api_key: Option<String>,
    ) -> Result<Self, ProviderError> {
        let api_key = api_key.filter(|k| !k.is_empty());
        let base = super::base_url(options.base_url.as_deref(), DEFAULT_BASE_URL)?;
        let mut headers = HeaderMap::new();
        match &api_key {
            Some(key) => {
                let mut value = HeaderValue::from_str(&format!("Bearer {key}")).map_err(|_| {
                    ProviderError::Config {
                        message: format!(
                            "{API_KEY_VAR} is not usable in an HTTP header (it contains control or non-ASCII characters)"
                        ),
                    }
                })?;
                value.set_sensitive(true);
                headers.insert(AUTHORIZATION, value);
            }
            None if base == DEFAULT_BASE_URL => {
                return Err(ProviderError::Config {
                    message: format!(
                        "openai/{model} needs an API key: set {API_KEY_VAR}, or pass --base-url for a local OpenAI-compatible server"
                    ),
                });
            }
            None => {}
        }
        Ok(OpenAiProvider {
            id: format!("openai/{model}"),
            model: model.to_owned(),
            url: format!("{base}/chat/completions"),
            http: HttpClient::new(options, headers, api_key)?,
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

impl Provider for OpenAiProvider {
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
    #[serde(borrow)]
    messages: Vec<WireMessage<'a>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty", borrow)]
    tools: Vec<WireTool<'a>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
}

#[derive(Serialize, Deserialize)]
struct WireMessage<'a> {
    #[serde(default = "assistant")]
    role: Role,
    #[serde(default, borrow)]
    content: Option<Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty", borrow)]
    tool_calls: Vec<WireToolCall<'a>>,
    #[serde(default, skip_serializing_if = "Option::is_none", borrow)]
    tool_call_id: Option<Cow<'a, str>>,
}

fn assistant() -> Role {
    Role::Assistant
}

#[derive(Serialize, Deserialize)]
struct WireToolCall<'a> {
    #[serde(default, borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(rename = "type", default = "function", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow)]
    function: WireFunction<'a>,
}

fn function() -> Cow<'static, str> {
    Cow::Borrowed("function")
}

#[derive(Serialize, Deserialize)]
struct WireFunction<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
    /// A JSON string on the wire; some servers send an object, which is accepted as is.
    #[serde(default)]
    arguments: serde_json::Value,
}

#[derive(Serialize, Deserialize)]
struct WireTool<'a> {
    #[serde(rename = "type", default = "function", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow)]
    function: WireToolDef<'a>,
}

#[derive(Serialize, Deserialize)]
struct WireToolDef<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
    #[serde(default, borrow)]
    description: Cow<'a, str>,
    #[serde(default)]
    parameters: serde_json::Value,
}

#[derive(Serialize, Deserialize)]
struct WireResponse<'a> {
    #[serde(borrow)]
    choices: Vec<WireChoice<'a>>,
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Serialize, Deserialize)]
struct WireChoice<'a> {
    #[serde(borrow)]
    message: WireMessage<'a>,
    #[serde(default, borrow)]
    finish_reason: Option<Cow<'a, str>>,
}

#[derive(Serialize, Deserialize)]
struct WireUsage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
}

/// Serializes a chat-completions request.
fn encode_request(model: &str, request: &GenerateRequest) -> Result<Vec<u8>, ProviderError> {
    let wire = WireRequest {
        model: Cow::Borrowed(model),
        messages: request.messages.iter().map(wire_message).collect(),
        tools: request
            .tools
            .iter()
            .map(|t| WireTool {
                kind: function(),
                function: WireToolDef {
                    name: Cow::Borrowed(&t.name),
                    description: Cow::Borrowed(&t.description),
                    parameters: t.parameters.clone(),
                },
            })
            .collect(),
        max_tokens: request.max_tokens,
        temperature: request.temperature,
    };
    serde_json::to_vec(&wire).map_err(|e| ProviderError::Config {
        message: format!("cannot encode the request: {e}"),
    })
}

fn wire_message(m: &Message) -> WireMessage<'_> {
    // An assistant turn that only calls tools carries `content: null`, as OpenAI sends it.
    let content = if m.content.is_empty() && !m.tool_calls.is_empty() {
        None
    } else {
        Some(Cow::Borrowed(m.content.as_str()))
    };
    WireMessage {
        role: m.role,
        content,
        tool_calls: m
            .tool_calls
            .iter()
            .map(|c| WireToolCall {
                id: Some(Cow::Borrowed(&c.id)),
                kind: function(),
                function: WireFunction {
                    name: Cow::Borrowed(&c.name),
                    arguments: serde_json::Value::String(match &c.arguments {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    }),
                },
            })
            .collect(),
        tool_call_id: m.tool_call_id.as_deref().map(Cow::Borrowed),
    }
}

/// Parses a chat-completions answer into the assistant message, stop reason and usage.
/// The error text may quote the body: callers pass it through the client's excerpt.
fn decode_response(body: &[u8]) -> Result<(Message, String, Usage), String> {
    let wire: WireResponse<'_> = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let Some(choice) = wire.choices.into_iter().next() else {
        return Err("the answer has no choices".to_owned());
    };
    let stop_reason = choice
        .finish_reason
        .map_or_else(|| "unknown".to_owned(), Cow::into_owned);
    let usage = wire.usage.map_or_else(Usage::default, |u| Usage {
        input_tokens: u.prompt_tokens,
        output_tokens: u.completion_tokens,
    });
    let mut message = message_from_wire(choice.message);
    message.role = Role::Assistant;
    Ok((message, stop_reason, usage))
}

fn message_from_wire(m: WireMessage<'_>) -> Message {
    Message {
        role: m.role,
        content: m.content.map(Cow::into_owned).unwrap_or_default(),
        tool_calls: m
            .tool_calls
            .into_iter()
            .enumerate()
            .map(|(i, c)| ToolCall {
                id: c.id.map_or_else(|| format!("call_{i}"), Cow::into_owned),
                name: c.function.name.into_owned(),
                arguments: parse_arguments(c.function.arguments),
            })
            .collect(),
        tool_call_id: m.tool_call_id.map(Cow::into_owned),
    }
}

/// Tool-call arguments: a JSON string is parsed; text that is not JSON stays a string.
fn parse_arguments(value: serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::String(text) => {
            serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text))
        }
        other => other,
    }
}

/// Server side (the stub): a request body as the model name and our request type.
pub(crate) fn decode_request(body: &[u8]) -> Result<(String, GenerateRequest), String> {
    let wire: WireRequest<'_> = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let request = GenerateRequest {
        messages: wire.messages.into_iter().map(message_from_wire).collect(),
        tools: wire
            .tools
            .into_iter()
            .map(|t| ToolDef {
                name: t.function.name.into_owned(),
                description: t.function.description.into_owned(),
                parameters: t.function.parameters,
            })
            .collect(),
        max_tokens: wire.max_tokens,
        temperature: wire.temperature,
    };
    Ok((wire.model.into_owned(), request))
}

/// Server side (the stub): an answer body.
pub(crate) fn encode_response(message: &Message, stop_reason: &str, usage: Usage) -> Vec<u8> {
    let wire = WireResponse {
        choices: vec![WireChoice {
            message: wire_message(message),
            finish_reason: Some(Cow::Borrowed(stop_reason)),
        }],
        usage: Some(WireUsage {
            prompt_tokens: usage.input_tokens,
            completion_tokens: usage.output_tokens,
        }),
    };
    serde_json::to_vec(&wire).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn request_uses_openai_function_format() {
        let mut assistant = Message::assistant("");
        assistant.tool_calls.push(ToolCall {
            id: "call_1".into(),
            name: "bash".into(),
            arguments: json!({"cmd": "ls"}),
        });
        let request = GenerateRequest {
            messages: vec![
                Message::system("be brief"),
                Message::user("list"),
                assistant,
                Message::tool("call_1", "a\nb"),
            ],
            tools: vec![ToolDef {
                name: "bash".into(),
                description: "run".into(),
                parameters: json!({"type": "object"}),
            }],
            max_tokens: Some(5),
            temperature: Some(0.0),
        };
        let body = encode_request("m", &request).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            v,
            json!({
                "model": "m",
                "messages": [
                    {"role": "system", "content": "be brief"},
                    {"role": "user", "content": "list"},
                    {"role": "assistant", "content": null, "tool_calls": [
                        {"id": "call_1", "type": "function",
                         "function": {"name": "bash", "arguments": "{\"cmd\":\"ls\"}"}}]},
                    {"role": "tool", "content": "a\nb", "tool_call_id": "call_1"}
                ],
                "tools": [{"type": "function", "function": {
                    "name": "bash", "description": "run", "parameters": {"type": "object"}}}],
                "max_tokens": 5,
                "temperature": 0.0
            })
        );
        let (model, back) = decode_request(&body).unwrap();
        assert_eq!(model, "m");
        assert_eq!(back, request);
    }

    #[test]
    fn response_arguments_parse_or_stay_text() {
        let body = br#"{"choices":[{"message":{"role":"assistant","content":null,
            "tool_calls":[{"id":"a","type":"function","function":{"name":"bash","arguments":"{\"cmd\":\"ls\"}"}},
                          {"type":"function","function":{"name":"python","arguments":"print(1"}}]},
            "finish_reason":"tool_calls"}],"usage":{"prompt_tokens":3,"completion_tokens":4}}"#;
        let (m, stop, usage) = decode_response(body).unwrap();
        assert_eq!(stop, "tool_calls");
        assert_eq!(
            usage,
            Usage {
                input_tokens: 3,
                output_tokens: 4
            }
        );
        assert_eq!(m.content, "");
        assert_eq!(m.tool_calls[0].arguments, json!({"cmd": "ls"}));
        assert_eq!(m.tool_calls[1].id, "call_1");
        assert_eq!(m.tool_calls[1].arguments, json!("print(1"));
        assert!(decode_response(br#"{"choices":[]}"#).is_err());
        assert!(decode_response(br#"{"choices":"x"}"#).is_err());
    }
}
