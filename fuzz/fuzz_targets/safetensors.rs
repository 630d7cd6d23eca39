//! Fuzzes the safetensors header validator: it must never panic, whatever the bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use modelgate_core::Limits;
use modelgate_formats::safetensors;

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    let _ = safetensors::read(&data, &limits);
});
