//! (placeholder: these rules are being implemented)

use modelgate_formats::ByteSource;

use crate::Ctx;

/// Scans repository JSON (`config.json` `auto_map`, `tokenizer_config.json` `chat_template`).
pub fn scan_json(_ctx: &mut Ctx<'_>, _src: &dyn ByteSource) {}

/// Reports Python source shipped in a model repository.
pub fn scan_python(_ctx: &mut Ctx<'_>, _src: &dyn ByteSource) {}
