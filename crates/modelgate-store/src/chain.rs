//! The per-run hash chain over sample records.
//!
//! `c₀ = SHA-256(CHAIN_GENESIS_DOMAIN ‖ 0x00 ‖ run_id)` and
//! `cᵢ = SHA-256(cᵢ₋₁ ‖ SHA-256(recordᵢ))`, where `recordᵢ` is the record's exact JSON bytes.
//! Editing, deleting, inserting or reordering a record changes every chain value from that
//! point on; the chain head is what a signed log commits to.

use sha2::{Digest, Sha256};

/// Domain separator of the genesis value.
pub const CHAIN_GENESIS_DOMAIN: &[u8] = b"modelgate/eval-sample-chain/v1";

/// The chain value before the first record of `run_id`.
pub fn genesis(run_id: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(CHAIN_GENESIS_DOMAIN);
    h.update([0u8]);
    h.update(run_id.as_bytes());
    h.finalize().into()
}

/// SHA-256 of one record's bytes.
pub fn record_digest(record: &[u8]) -> [u8; 32] {
    Sha256::digest(record).into()
}

/// The chain value after appending `record` to a chain at `prev`.
pub fn link(prev: &[u8; 32], record: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(prev);
    h.update(record_digest(record));
    h.finalize().into()
}

/// Where a chain stopped matching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainBreak {
    /// 0-based position of the first record whose stored chain value is wrong.
    pub seq: u64,
    /// Its sample id.
    pub sample_id: String,
    /// The chain value stored.
    pub stored: String,
    /// The chain value recomputed from the records.
    pub expected: String,
}

impl std::fmt::Display for ChainBreak {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "sample chain broken at record {} (sample {:?}): stored {}, recomputed {}",
            self.seq, self.sample_id, self.stored, self.expected
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_depends_on_order_and_content() {
        let g = genesis("run");
        let a = link(&link(&g, b"a"), b"b");
        let b = link(&link(&g, b"b"), b"a");
        assert_ne!(a, b);
        assert_ne!(link(&g, b"a"), link(&g, b"a "));
        assert_ne!(genesis("run"), genesis("run2"));
    }
}
