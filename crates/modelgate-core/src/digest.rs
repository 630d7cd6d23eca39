//! Content digests: an algorithm plus the raw digest bytes, rendered as lowercase hex.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A digest algorithm modelgate computes or accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DigestAlgorithm {
    /// SHA-256, the default everywhere.
    Sha256,
    /// BLAKE2b-512, accepted for interoperability.
    Blake2b,
    /// BLAKE3-256, optional for speed.
    Blake3,
}

impl DigestAlgorithm {
    /// The name used in manifests and statements.
    pub fn as_str(self) -> &'static str {
        match self {
            DigestAlgorithm::Sha256 => "sha256",
            DigestAlgorithm::Blake2b => "blake2b",
            DigestAlgorithm::Blake3 => "blake3",
        }
    }
}

/// A digest: algorithm and bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Digest {
    /// Which algorithm produced `bytes`.
    pub algorithm: DigestAlgorithm,
    /// The raw digest.
    pub bytes: Vec<u8>,
}

impl Digest {
    /// A SHA-256 digest from its 32 raw bytes.
    pub fn sha256(bytes: [u8; 32]) -> Self {
        Digest {
            algorithm: DigestAlgorithm::Sha256,
            bytes: bytes.to_vec(),
        }
    }

    /// Lowercase hex of the digest bytes.
    pub fn hex(&self) -> String {
        to_hex(&self.bytes)
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm.as_str(), self.hex())
    }
}

/// Lowercase hexadecimal of `bytes`.
pub fn to_hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_and_display() {
        let mut raw = [0u8; 32];
        raw[0] = 0xab;
        raw[31] = 0x01;
        let d = Digest::sha256(raw);
        assert!(d.hex().starts_with("ab00"));
        assert!(d.to_string().starts_with("sha256:ab00"));
        assert!(d.hex().ends_with("01"));
    }
}
