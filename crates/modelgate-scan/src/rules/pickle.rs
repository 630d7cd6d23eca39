//! (placeholder: these rules are being implemented)

use modelgate_formats::ByteSource;

use crate::Ctx;

/// Scans a pickle stream (raw pickle, joblib).
pub fn scan(_ctx: &mut Ctx<'_>, _src: &dyn ByteSource) {}
