//! Sniffing: does a prefix decode as the start of a pickle worth scanning?

use modelgate_core::Limits;

use super::{Mode, Vm};
use crate::pickle::ErrorKind;
use crate::pickle::disasm::Decoder;

/// A dotted path of Python identifiers (what `import` and `getattr` can resolve).
pub(super) fn importable(s: &str) -> bool {
    !s.is_empty()
        && s.split('.').all(|seg| {
            seg.chars()
                .next()
                .is_some_and(|c| c == '_' || c.is_alphabetic())
                && seg.chars().all(|c| c == '_' || c.is_alphanumeric())
        })
}

/// How many leading bytes the scanner's format detection passes (`modelgate_scan::detect`):
/// a prefix this long may end inside a value that continues in the file.
const DETECT_PREFIX: usize = 64 * 1024;

/// Sniffs a prefix: the opcodes decode cleanly with a consistent stack up to STOP or the end
/// of the prefix. `proto` is set when the prefix starts with `PROTO` (a strong signal on its
/// own: only clear errors reject it, so raw tensor data that happens to begin `\x80\x02` is
/// not taken for a pickle, while every real pickle is).
///
/// Any pickle that can *do* something must be accepted (a stream detected as text is never
/// scanned), so truncation counts for it: a long value running past the detection prefix, or a
/// stream cut after ops that import. Text fails within a few bytes on an unknown opcode, a
/// stack underflow or a name no module can have.
pub(crate) fn sniff_ops(prefix: &[u8], proto: bool) -> bool {
    let limits = Limits {
        max_pickle_ops: 64,
        max_pickle_value_bytes: prefix.len().max(256),
        max_pickle_values: 10_000,
        ..Limits::default()
    };
    let mut vm = Vm::new(&limits, Mode::Sniff, None);
    let mut dec = Decoder::with_buffer(prefix, &limits, prefix.len().min(4096));
    let r = vm.run_one(&mut dec);
    let ops = vm.out.ops;
    // Persistent ids do not count: a plain unpickler rejects them, and `P` + a line is how
    // plenty of text starts (`PKGVERSION = …`).
    let acts = !vm.out.calls.is_empty();
    match r {
        // `G` + 8 bytes + `.` is a valid pickle of one float, and also how "Git v2.23.4
        // Release Notes" starts. A pickle that imports and calls nothing is harmless data, so
        // without PROTO a short one counts only when STOP ends the data exactly.
        Ok(_) => proto || acts || dec.offset() == prefix.len() as u64,
        Err(e) => match e.kind {
            ErrorKind::Truncated(_) => {
                // A quoted protocol-0 string longer than the prefix: `S'…` cannot be text that
                // fails later, so it counts. Binary lengths past the prefix do not (cursor
                // files and LLVM bitcode start `X…`/`B…` with huge "lengths").
                let long_string = prefix.len() >= DETECT_PREFIX
                    && matches!(prefix, [b'S', b'\'' | b'"', ..])
                    && ops == 1;
                proto || acts || ops >= 5 || long_string
            }
            ErrorKind::Limit(_) => true,
            _ => false,
        },
    }
}
