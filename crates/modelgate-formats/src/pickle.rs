//! (placeholder: the pickle parser is being implemented)

/// True when `prefix` plausibly starts a pickle stream.
pub fn sniff(prefix: &[u8]) -> bool {
    prefix.len() >= 2 && prefix[0] == 0x80 && (1..=5).contains(&prefix[1])
}
