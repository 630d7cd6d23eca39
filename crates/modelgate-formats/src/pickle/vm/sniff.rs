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

/// Sniffs a prefix: the opcodes decode cleanly with a consistent stack up to STOP or the end
/// of the prefix.
pub(crate) fn sniff_ops(prefix: &[u8]) -> bool {
    let limits = Limits {
        max_pickle_ops: 64,
        max_pickle_value_bytes: 256,
        max_pickle_values: 10_000,
        ..Limits::default()
    };
    let mut vm = Vm::new(&limits, Mode::Sniff, None);
    let mut dec = Decoder::with_buffer(prefix, &limits, prefix.len().min(4096));
    let r = vm.run_one(&mut dec);
    let ops = vm.out.ops;
    match r {
        // `G` + 8 bytes + `.` is a valid pickle of one float, and also how "Git v2.23.4
        // Release Notes" starts. A pickle that imports and calls nothing is harmless data, so
        // a short one counts only when STOP ends the data exactly.
        Ok(_) => {
            !vm.out.calls.is_empty()
                || vm.out.persistent_id_count > 0
                || dec.offset() == prefix.len() as u64
        }
        Err(e) => match e.kind {
            ErrorKind::Truncated(_) => ops >= 5,
            ErrorKind::Limit(_) => true,
            _ => false,
        },
    }
}
