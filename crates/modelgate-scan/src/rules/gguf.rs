//! (placeholder: these rules are being implemented)

use modelgate_formats::ByteSource;

use crate::Ctx;

/// Validates a GGUF file and inspects its chat template.
pub fn scan(_ctx: &mut Ctx<'_>, _src: &dyn ByteSource) {}
