//! The rules, one module per format family. Each module's entry points take a [`crate::Ctx`]
//! and the stream, and report findings through the context; none of them returns an error —
//! a stream that cannot be parsed is itself a finding naming the offset.

pub mod archive;
pub mod chat_template;
pub mod compressed;
pub mod gguf;
pub mod keras;
pub mod numpy;
pub mod onnx;
pub mod pickle;
pub mod repo;
pub mod safetensors;
