//! (placeholder: these rules are being implemented)

use modelgate_formats::ByteSource;

use crate::Ctx;

/// Scans a zip archive (torch checkpoint, npz, keras, generic zip).
pub fn scan_zip(_ctx: &mut Ctx<'_>, _src: &dyn ByteSource) {}

/// Scans a tar archive (legacy torch checkpoint, generic tar).
pub fn scan_tar(_ctx: &mut Ctx<'_>, _src: &dyn ByteSource) {}

/// Checks a non-zip file for a zip central directory at its end (a polyglot that `zipfile` and
/// `torch.load` read differently), and scans it as a zip if so.
pub fn check_polyglot(
    _ctx: &mut Ctx<'_>,
    _format: modelgate_core::FileFormat,
    _src: &dyn ByteSource,
) {
}
