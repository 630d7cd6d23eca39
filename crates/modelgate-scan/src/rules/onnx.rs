//! (placeholder: these rules are being implemented)

use modelgate_formats::ByteSource;

use crate::Ctx;

/// Scans an ONNX model.
pub fn scan(_ctx: &mut Ctx<'_>, _src: &dyn ByteSource) {}
