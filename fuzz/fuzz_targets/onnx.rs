//! Fuzzes the ONNX sniffer and the bounded protobuf walker behind the ONNX model reader.
#![no_main]

use libfuzzer_sys::fuzz_target;
use modelgate_core::Limits;
use modelgate_formats::onnx;

fuzz_target!(|data: &[u8]| {
    let _ = onnx::sniff(data);
    let limits = Limits { max_onnx_items: 4096, ..Limits::default() };
    let _ = onnx::read(&data, &limits);
});
