//! (placeholder: these rules are being implemented)

use modelgate_formats::ByteSource;

use crate::Ctx;

/// Scans a `.npy` array.
pub fn scan_npy(_ctx: &mut Ctx<'_>, _src: &dyn ByteSource) {}
