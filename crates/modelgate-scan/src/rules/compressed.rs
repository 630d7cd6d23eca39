//! (placeholder: these rules are being implemented)

use modelgate_formats::ByteSource;

use crate::Ctx;

/// Decompresses (with caps) and scans the contents.
pub fn scan(_ctx: &mut Ctx<'_>, _format: modelgate_core::FileFormat, _src: &dyn ByteSource) {}
