//! Fuzzes the GGUF header/metadata/tensor-info parser with small limits, so that the caps are
//! exercised as well as the structure.
#![no_main]

use libfuzzer_sys::fuzz_target;
use modelgate_core::Limits;
use modelgate_formats::gguf;

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_gguf_kv: 4096,
        max_gguf_tensors: 4096,
        max_gguf_string_bytes: 1 << 16,
        max_gguf_array_len: 1 << 16,
        ..Limits::default()
    };
    let _ = gguf::read(&data, &limits);
});
