//! (placeholder: these rules are being implemented)

use crate::Ctx;

/// Inspects a Jinja chat template (from GGUF metadata or `tokenizer_config.json`).
pub fn check(_ctx: &mut Ctx<'_>, _template: &str, _offset: Option<u64>) {}
