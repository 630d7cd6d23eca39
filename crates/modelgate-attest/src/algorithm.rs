//! Hash algorithms: names as the formats spell them, relative strength, and streaming hashers.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::Digest as _;

/// A hash algorithm modelgate computes or accepts.
///
/// Names follow the in-toto `DigestSet` vocabulary, which is also what OpenSSF model signing
/// writes in its `hash_type` and resource `algorithm` fields (`sha256`, `blake2b`, `blake3`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HashAlgorithm {
    /// SHA-256: the default everywhere, and the only root-digest algorithm of model signing.
    Sha256,
    /// SHA-384 (accepted in in-toto subjects).
    Sha384,
    /// SHA-512 (accepted in in-toto subjects).
    Sha512,
    /// `BLAKE2b` with a 512-bit output (`hashlib.blake2b()` defaults).
    Blake2b,
    /// BLAKE3 with a 256-bit output.
    Blake3,
}

impl HashAlgorithm {
    /// Every algorithm, strongest collision resistance last.
    pub const ALL: [HashAlgorithm; 5] = [
        HashAlgorithm::Sha256,
        HashAlgorithm::Blake3,
        HashAlgorithm::Sha384,
        HashAlgorithm::Sha512,
        HashAlgorithm::Blake2b,
    ];

    /// The name used in manifests, statements and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            HashAlgorithm::Sha256 => "sha256",
            HashAlgorithm::Sha384 => "sha384",
            HashAlgorithm::Sha512 => "sha512",
            HashAlgorithm::Blake2b => "blake2b",
            HashAlgorithm::Blake3 => "blake3",
        }
    }

    /// Parses a name as written by model signing or in-toto. `blake2` is accepted as an alias of
    /// `blake2b` because model signing's configuration calls it that while its manifests write
    /// `blake2b`.
    pub fn from_name(name: &str) -> Option<HashAlgorithm> {
        Some(match name {
            "sha256" => HashAlgorithm::Sha256,
            "sha384" => HashAlgorithm::Sha384,
            "sha512" => HashAlgorithm::Sha512,
            "blake2b" | "blake2" => HashAlgorithm::Blake2b,
            "blake3" => HashAlgorithm::Blake3,
            _ => return None,
        })
    }

    /// Digest length in bytes.
    pub fn output_len(self) -> usize {
        match self {
            HashAlgorithm::Sha256 | HashAlgorithm::Blake3 => 32,
            HashAlgorithm::Sha384 => 48,
            HashAlgorithm::Sha512 | HashAlgorithm::Blake2b => 64,
        }
    }

    /// Collision resistance in bits (half the output length for these unbroken hashes). Policies
    /// compare algorithms by this number.
    pub fn collision_bits(self) -> u32 {
        // Lengths are 32..=64 bytes, so this never truncates.
        (self.output_len() * 4) as u32
    }

    /// Whether this algorithm is at least as strong as `minimum`.
    pub fn at_least(self, minimum: HashAlgorithm) -> bool {
        self.collision_bits() >= minimum.collision_bits()
    }

    /// A fresh streaming hasher.
    pub fn hasher(self) -> Hasher {
        Hasher(match self {
            HashAlgorithm::Sha256 => Inner::Sha256(sha2::Sha256::new()),
            HashAlgorithm::Sha384 => Inner::Sha384(sha2::Sha384::new()),
            HashAlgorithm::Sha512 => Inner::Sha512(sha2::Sha512::new()),
            HashAlgorithm::Blake2b => Inner::Blake2b(blake2::Blake2b512::new()),
            HashAlgorithm::Blake3 => Inner::Blake3(Box::new(blake3::Hasher::new())),
        })
    }

    /// The digest of `data` in one call.
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        let mut h = self.hasher();
        h.update(data);
        h.finalize()
    }
}

impl fmt::Display for HashAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of parsing an unknown algorithm name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown hash algorithm `{0}` (expected sha256, sha384, sha512, blake2b or blake3)")]
pub struct UnknownAlgorithm(pub String);

impl FromStr for HashAlgorithm {
    type Err = UnknownAlgorithm;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        HashAlgorithm::from_name(s).ok_or_else(|| UnknownAlgorithm(s.to_owned()))
    }
}

/// A streaming hasher for any [`HashAlgorithm`]: feed it with [`Hasher::update`], read the digest
/// with [`Hasher::finalize`]. State is a few hundred bytes, whatever the input size.
pub struct Hasher(Inner);

enum Inner {
    Sha256(sha2::Sha256),
    Sha384(sha2::Sha384),
    Sha512(sha2::Sha512),
    Blake2b(blake2::Blake2b512),
    Blake3(Box<blake3::Hasher>),
}

/// Input length from which BLAKE3 splits one update across the rayon pool.
const BLAKE3_RAYON_MIN: usize = 512 * 1024;

impl Hasher {
    /// Feeds more input.
    pub fn update(&mut self, data: &[u8]) {
        match &mut self.0 {
            Inner::Sha256(h) => h.update(data),
            Inner::Sha384(h) => h.update(data),
            Inner::Sha512(h) => h.update(data),
            Inner::Blake2b(h) => h.update(data),
            Inner::Blake3(h) => {
                if data.len() >= BLAKE3_RAYON_MIN {
                    h.update_rayon(data);
                } else {
                    h.update(data);
                }
            }
        }
    }

    /// The digest of everything fed so far.
    pub fn finalize(self) -> Vec<u8> {
        match self.0 {
            Inner::Sha256(h) => h.finalize().to_vec(),
            Inner::Sha384(h) => h.finalize().to_vec(),
            Inner::Sha512(h) => h.finalize().to_vec(),
            Inner::Blake2b(h) => h.finalize().to_vec(),
            Inner::Blake3(h) => h.finalize().as_bytes().to_vec(),
        }
    }
}

/// Lowercase hex of `bytes`.
pub fn to_hex(bytes: &[u8]) -> String {
    modelgate_core::to_hex(bytes)
}

/// Decodes lowercase or uppercase hex; `None` when the text is not an even-length hex string.
pub fn from_hex(text: &str) -> Option<Vec<u8>> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    bytes
        .chunks_exact(2)
        .map(|pair| Some(nibble(pair[0])? << 4 | nibble(pair[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors() {
        assert_eq!(
            to_hex(&HashAlgorithm::Sha256.digest(b"abcd")),
            "88d4266fd4e6338d13b845fcf289579d209c897823b9217da3e161936f031589"
        );
        assert_eq!(
            to_hex(&HashAlgorithm::Blake3.digest(b"")),
            "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
        );
        assert_eq!(
            &to_hex(&HashAlgorithm::Blake2b.digest(b""))[..16],
            "786a02f742015903"
        );
    }

    #[test]
    fn blake3_rayon_matches_serial() {
        let data = vec![7u8; 3 * BLAKE3_RAYON_MIN + 5];
        let mut h = HashAlgorithm::Blake3.hasher();
        h.update(&data);
        assert_eq!(h.finalize(), blake3::hash(&data).as_bytes().to_vec());
    }

    #[test]
    fn names_and_strength() {
        for alg in HashAlgorithm::ALL {
            assert_eq!(HashAlgorithm::from_name(alg.as_str()), Some(alg));
            assert_eq!(alg.digest(b"x").len(), alg.output_len());
        }
        assert_eq!(
            HashAlgorithm::from_name("blake2"),
            Some(HashAlgorithm::Blake2b)
        );
        assert!(HashAlgorithm::Blake3.at_least(HashAlgorithm::Sha256));
        assert!(!HashAlgorithm::Sha256.at_least(HashAlgorithm::Sha512));
        assert!("md5".parse::<HashAlgorithm>().is_err());
    }

    #[test]
    fn hex_round_trip() {
        assert_eq!(from_hex("00ff10"), Some(vec![0, 255, 16]));
        assert_eq!(from_hex("0g"), None);
        assert_eq!(from_hex("abc"), None);
        assert_eq!(from_hex("AB"), Some(vec![0xab]));
    }
}
