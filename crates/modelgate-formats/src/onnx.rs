//! (placeholder: the ONNX walker is being implemented)

/// True when `prefix` plausibly starts an ONNX `ModelProto`.
pub fn sniff(_prefix: &[u8]) -> bool {
    false
}
