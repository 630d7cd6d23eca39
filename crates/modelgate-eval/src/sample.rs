//! Dataset samples as the runner sees them.

use serde::{Deserialize, Serialize};

use crate::message::Message;

/// A sample's input: a prompt, or a conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Input {
    /// One user prompt.
    Text(String),
    /// A list of messages.
    Messages(Vec<Message>),
}

/// One item of the dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Unique id: the dataset's id field, or the 1-based line number.
    pub id: String,
    /// 1-based line (JSONL/CSV) or row (Parquet) where the item starts.
    pub line: u64,
    /// The input.
    pub input: Input,
    /// Accepted targets (one or more; empty when the task has none).
    #[serde(default)]
    pub target: Vec<String>,
    /// Answer options for multiple-choice tasks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<String>,
    /// Other fields the spec asked to keep.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub metadata: serde_json::Map<String, serde_json::Value>,
}

impl Sample {
    /// The messages the conversation starts from.
    pub fn messages(&self) -> Vec<Message> {
        match &self.input {
            Input::Text(t) => vec![Message::user(t.clone())],
            Input::Messages(m) => m.clone(),
        }
    }

    /// The input as one text (the last user message for conversations).
    pub fn input_text(&self) -> &str {
        match &self.input {
            Input::Text(t) => t,
            Input::Messages(m) => m
                .iter()
                .rev()
                .find(|m| m.role == crate::Role::User)
                .map_or("", |m| m.content.as_str()),
        }
    }
}
