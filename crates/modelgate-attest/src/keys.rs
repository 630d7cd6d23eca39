//! Signing keys: generation, PEM (PKCS#8 private, SPKI public), signing and verification for
//! ECDSA P-256 (SHA-256), ECDSA P-384 (SHA-384) and Ed25519, and the public-key hint that
//! Sigstore bundles and model signing use to name a key.

use std::fs::OpenOptions;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use p256::elliptic_curve::zeroize::Zeroizing;
use pkcs8::LineEnding;
use rand_core::OsRng;
use sha2::Digest as _;

use crate::algorithm::to_hex;
use crate::limits::read_capped;

/// Key files are small; anything bigger is not a key.
const MAX_KEY_FILE: u64 = 64 * 1024;

const OID_EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const OID_P256: &str = "1.2.840.10045.3.1.7";
const OID_P384: &str = "1.3.132.0.34";
const OID_P521: &str = "1.3.132.0.35";
const OID_ED25519: &str = "1.3.101.112";
const OID_RSA: &str = "1.2.840.113549.1.1.1";

/// The key types modelgate signs and verifies with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyType {
    /// ECDSA over NIST P-256 with SHA-256 (what model signing and Sigstore use by default).
    EcdsaP256,
    /// ECDSA over NIST P-384 with SHA-384.
    EcdsaP384,
    /// Ed25519 (pure, over the whole message). Model signing's key mode accepts only ECDSA keys.
    Ed25519,
}

impl KeyType {
    /// The command-line name.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyType::EcdsaP256 => "ecdsa-p256",
            KeyType::EcdsaP384 => "ecdsa-p384",
            KeyType::Ed25519 => "ed25519",
        }
    }
}

impl std::fmt::Display for KeyType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a key could not be read, parsed or written.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Not PEM at all, or broken PEM.
    #[error("not a PEM key file: {0}")]
    Pem(String),
    /// More than one key in the file.
    #[error("holds {0} PEM blocks; expected exactly one key")]
    SeveralBlocks(usize),
    /// A public key where a private one is needed, or the reverse.
    #[error("{0}")]
    WrongKind(String),
    /// An encrypted private key.
    #[error("is an encrypted private key; decrypt it first (openssl pkcs8 -in KEY -out PLAIN)")]
    Encrypted,
    /// A key algorithm or curve we do not support.
    #[error("{0} keys are not supported (use ecdsa-p256, ecdsa-p384 or ed25519)")]
    Unsupported(String),
    /// Well-formed PEM with bad DER or key bytes inside.
    #[error("malformed key: {0}")]
    Malformed(String),
    /// Reading or writing the file failed.
    #[error("{0}")]
    Io(#[from] crate::limits::ReadError),
    /// A file exists where a new key would be written.
    #[error("already exists; refusing to overwrite a key file")]
    Exists,
    /// Writing failed.
    #[error("cannot write: {0}")]
    Write(std::io::Error),
    /// The signer failed.
    #[error("signing failed: {0}")]
    Sign(String),
}

/// A key error about a named file.
#[derive(Debug, thiserror::Error)]
#[error("{}: {kind}", path.display())]
pub struct KeyFileError {
    /// The key file.
    pub path: PathBuf,
    /// What is wrong with it.
    pub kind: KeyError,
}

/// A private signing key.
pub enum PrivateKey {
    /// ECDSA P-256.
    P256(p256::ecdsa::SigningKey),
    /// ECDSA P-384.
    P384(p384::ecdsa::SigningKey),
    /// Ed25519.
    Ed25519(ed25519_dalek::SigningKey),
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        write!(f, "PrivateKey({})", self.key_type())
    }
}

/// A public verification key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKey {
    /// ECDSA P-256.
    P256(p256::ecdsa::VerifyingKey),
    /// ECDSA P-384.
    P384(p384::ecdsa::VerifyingKey),
    /// Ed25519.
    Ed25519(ed25519_dalek::VerifyingKey),
}

fn malformed(e: impl std::fmt::Display) -> KeyError {
    KeyError::Malformed(e.to_string())
}

/// Splits PEM text into its blocks, skipping `EC PARAMETERS` (which `openssl ecparam -genkey`
/// writes before the key), and returns the one remaining block's label and DER bytes.
fn single_pem_block(text: &[u8]) -> Result<(String, Zeroizing<Vec<u8>>), KeyError> {
    let text = std::str::from_utf8(text).map_err(|_| KeyError::Pem("not text".into()))?;
    let mut blocks = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let after = &rest[start..];
        let Some(label_end) = after["-----BEGIN ".len()..].find("-----") else {
            return Err(KeyError::Pem("unterminated BEGIN line".into()));
        };
        let label = &after["-----BEGIN ".len().."-----BEGIN ".len() + label_end];
        let end_marker = format!("-----END {label}-----");
        let Some(end) = after.find(&end_marker) else {
            return Err(KeyError::Pem(format!("no END line for {label}")));
        };
        let block_end = end + end_marker.len();
        if label != "EC PARAMETERS" {
            blocks.push(&after[..block_end]);
        }
        rest = &after[block_end..];
    }
    match blocks.as_slice() {
        [] => Err(KeyError::Pem("no -----BEGIN ...----- block found".into())),
        [one] => {
            let (label, der) = pkcs8::der::pem::decode_vec(one.as_bytes())
                .map_err(|e| KeyError::Pem(e.to_string()))?;
            Ok((label.to_owned(), Zeroizing::new(der)))
        }
        many => Err(KeyError::SeveralBlocks(many.len())),
    }
}

/// The key algorithms modelgate signs and verifies with.
enum KeyKind {
    P256,
    P384,
    Ed25519,
}

/// Which supported algorithm an `AlgorithmIdentifier` (of a PKCS#8 or SPKI key) names.
fn key_kind(algorithm: &spki::AlgorithmIdentifierRef<'_>) -> Result<KeyKind, KeyError> {
    match algorithm.oid.to_string().as_str() {
        OID_EC_PUBLIC_KEY => {
            let curve = algorithm.parameters_oid().map_err(malformed)?.to_string();
            match curve.as_str() {
                OID_P256 => Ok(KeyKind::P256),
                OID_P384 => Ok(KeyKind::P384),
                other => Err(KeyError::Unsupported(curve_name(other))),
            }
        }
        OID_ED25519 => Ok(KeyKind::Ed25519),
        other => Err(KeyError::Unsupported(algorithm_name(other))),
    }
}

fn curve_name(oid: &str) -> String {
    match oid {
        OID_P521 => "ECDSA P-521".to_owned(),
        other => format!("elliptic-curve (curve OID {other})"),
    }
}

fn algorithm_name(oid: &str) -> String {
    match oid {
        OID_RSA => "RSA".to_owned(),
        other => format!("algorithm OID {other}"),
    }
}

impl PrivateKey {
    /// A new random key from the operating system's generator.
    pub fn generate(key_type: KeyType) -> Self {
        match key_type {
            KeyType::EcdsaP256 => PrivateKey::P256(p256::ecdsa::SigningKey::random(&mut OsRng)),
            KeyType::EcdsaP384 => PrivateKey::P384(p384::ecdsa::SigningKey::random(&mut OsRng)),
            KeyType::Ed25519 => {
                PrivateKey::Ed25519(ed25519_dalek::SigningKey::generate(&mut OsRng))
            }
        }
    }

    /// Its type.
    pub fn key_type(&self) -> KeyType {
        match self {
            PrivateKey::P256(_) => KeyType::EcdsaP256,
            PrivateKey::P384(_) => KeyType::EcdsaP384,
            PrivateKey::Ed25519(_) => KeyType::Ed25519,
        }
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        match self {
            PrivateKey::P256(k) => PublicKey::P256(*k.verifying_key()),
            PrivateKey::P384(k) => PublicKey::P384(*k.verifying_key()),
            PrivateKey::Ed25519(k) => PublicKey::Ed25519(k.verifying_key()),
        }
    }

    /// PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`), wiped from memory when dropped.
    pub fn to_pkcs8_pem(&self) -> Result<Zeroizing<String>, KeyError> {
        match self {
            PrivateKey::P256(k) => k.to_pkcs8_pem(LineEnding::LF),
            PrivateKey::P384(k) => k.to_pkcs8_pem(LineEnding::LF),
            // PKCS#8 v1 (no embedded public key), as OpenSSL writes it: ed25519-dalek's default
            // v2 encoding is refused by OpenSSL 3 and Python `cryptography`.
            PrivateKey::Ed25519(k) => ed25519_dalek::pkcs8::KeypairBytes {
                secret_key: k.to_bytes(),
                public_key: None,
            }
            .to_pkcs8_pem(LineEnding::LF),
        }
        .map_err(malformed)
    }

    /// Parses a PEM private key: PKCS#8 (`PRIVATE KEY`) or SEC1 (`EC PRIVATE KEY`).
    pub fn from_pem(text: &[u8]) -> Result<Self, KeyError> {
        let (label, der) = single_pem_block(text)?;
        match label.as_str() {
            "PRIVATE KEY" => {
                let info = pkcs8::PrivateKeyInfo::try_from(der.as_slice()).map_err(malformed)?;
                match key_kind(&info.algorithm)? {
                    KeyKind::P256 => p256::ecdsa::SigningKey::from_pkcs8_der(&der)
                        .map(PrivateKey::P256)
                        .map_err(malformed),
                    KeyKind::P384 => p384::ecdsa::SigningKey::from_pkcs8_der(&der)
                        .map(PrivateKey::P384)
                        .map_err(malformed),
                    KeyKind::Ed25519 => ed25519_dalek::SigningKey::from_pkcs8_der(&der)
                        .map(PrivateKey::Ed25519)
                        .map_err(malformed),
                }
            }
            "EC PRIVATE KEY" => {
                if let Ok(k) = p256::SecretKey::from_sec1_der(&der) {
                    return Ok(PrivateKey::P256(k.into()));
                }
                p384::SecretKey::from_sec1_der(&der)
                    .map(|k| PrivateKey::P384(k.into()))
                    .map_err(|_| {
                        KeyError::Unsupported(
                            "this EC private key's curve (only P-256/P-384)".into(),
                        )
                    })
            }
            "ENCRYPTED PRIVATE KEY" => Err(KeyError::Encrypted),
            "PUBLIC KEY" => Err(KeyError::WrongKind(
                "is a public key; signing needs the private key (PREFIX.priv.pem)".into(),
            )),
            "RSA PRIVATE KEY" => Err(KeyError::Unsupported("RSA".into())),
            other => Err(KeyError::Pem(format!(
                "a `{other}` block is not a private key (expected `PRIVATE KEY`)"
            ))),
        }
    }

    /// Reads a PEM private key file.
    pub fn from_pem_file(path: &Path) -> Result<Self, KeyFileError> {
        let with_path = |kind| KeyFileError {
            path: path.to_owned(),
            kind,
        };
        let bytes =
            Zeroizing::new(read_capped(path, MAX_KEY_FILE).map_err(|e| with_path(e.into()))?);
        PrivateKey::from_pem(&bytes).map_err(with_path)
    }

    /// Signs `message`: ECDSA signatures are DER-encoded (as OpenSSL, Python `cryptography` and
    /// Sigstore write them), Ed25519 signatures are the raw 64 bytes.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        use p256::ecdsa::signature::Signer as _;
        Ok(match self {
            PrivateKey::P256(k) => {
                let sig: p256::ecdsa::Signature = k
                    .try_sign(message)
                    .map_err(|e| KeyError::Sign(e.to_string()))?;
                sig.to_der().as_bytes().to_vec()
            }
            PrivateKey::P384(k) => {
                let sig: p384::ecdsa::Signature = k
                    .try_sign(message)
                    .map_err(|e| KeyError::Sign(e.to_string()))?;
                sig.to_der().as_bytes().to_vec()
            }
            PrivateKey::Ed25519(k) => k.sign(message).to_bytes().to_vec(),
        })
    }
}

impl PublicKey {
    /// Its type.
    pub fn key_type(&self) -> KeyType {
        match self {
            PublicKey::P256(_) => KeyType::EcdsaP256,
            PublicKey::P384(_) => KeyType::EcdsaP384,
            PublicKey::Ed25519(_) => KeyType::Ed25519,
        }
    }

    /// `SubjectPublicKeyInfo` PEM (`-----BEGIN PUBLIC KEY-----`), with LF line ends and 64-column
    /// lines: byte for byte what OpenSSL and Python `cryptography` write.
    pub fn to_spki_pem(&self) -> Result<String, KeyError> {
        match self {
            PublicKey::P256(k) => k.to_public_key_pem(LineEnding::LF),
            PublicKey::P384(k) => k.to_public_key_pem(LineEnding::LF),
            PublicKey::Ed25519(k) => k.to_public_key_pem(LineEnding::LF),
        }
        .map_err(malformed)
    }

    /// `SubjectPublicKeyInfo` DER.
    pub fn to_spki_der(&self) -> Result<Vec<u8>, KeyError> {
        match self {
            PublicKey::P256(k) => k.to_public_key_der(),
            PublicKey::P384(k) => k.to_public_key_der(),
            PublicKey::Ed25519(k) => k.to_public_key_der(),
        }
        .map(|d| d.as_bytes().to_vec())
        .map_err(malformed)
    }

    /// The public-key hint of Sigstore bundles written by model signing: lowercase hex SHA-256 of
    /// the key's SPKI PEM text. Computed from the parsed key, so a key file with CRLF line ends
    /// still yields the canonical hint.
    pub fn hint(&self) -> String {
        let pem = self.to_spki_pem().unwrap_or_default();
        to_hex(&sha2::Sha256::digest(pem.as_bytes()))
    }

    /// Parses a PEM public key (`PUBLIC KEY`, `SubjectPublicKeyInfo`).
    pub fn from_pem(text: &[u8]) -> Result<Self, KeyError> {
        let (label, der) = single_pem_block(text)?;
        match label.as_str() {
            "PUBLIC KEY" => {}
            "PRIVATE KEY" | "EC PRIVATE KEY" | "ENCRYPTED PRIVATE KEY" | "RSA PRIVATE KEY" => {
                return Err(KeyError::WrongKind(
                    "is a private key; verification takes the public key (PREFIX.pub.pem) — \
                     never hand a private key to a verifier"
                        .into(),
                ));
            }
            "CERTIFICATE" => {
                return Err(KeyError::Unsupported(
                    "X.509 certificate (keyless/certificate verification is not available yet)"
                        .into(),
                ));
            }
            other => {
                return Err(KeyError::Pem(format!(
                    "a `{other}` block is not a public key (expected `PUBLIC KEY`)"
                )));
            }
        }
        let info = spki::SubjectPublicKeyInfoRef::try_from(der.as_slice()).map_err(malformed)?;
        match key_kind(&info.algorithm)? {
            KeyKind::P256 => p256::ecdsa::VerifyingKey::from_public_key_der(&der)
                .map(PublicKey::P256)
                .map_err(malformed),
            KeyKind::P384 => p384::ecdsa::VerifyingKey::from_public_key_der(&der)
                .map(PublicKey::P384)
                .map_err(malformed),
            KeyKind::Ed25519 => ed25519_dalek::VerifyingKey::from_public_key_der(&der)
                .map(PublicKey::Ed25519)
                .map_err(malformed),
        }
    }

    /// Reads a PEM public key file.
    pub fn from_pem_file(path: &Path) -> Result<Self, KeyFileError> {
        let with_path = |kind| KeyFileError {
            path: path.to_owned(),
            kind,
        };
        let bytes = read_capped(path, MAX_KEY_FILE).map_err(|e| with_path(e.into()))?;
        PublicKey::from_pem(&bytes).map_err(with_path)
    }

    /// Checks `signature` over `message`. ECDSA signatures must be DER; P-256 uses SHA-256 and
    /// P-384 uses SHA-384, or SHA-256 as sigstore-python's DSSE signer uses for every curve
    /// (both are approved pairings). Ed25519 is checked strictly (no malleable encodings).
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        use p256::ecdsa::signature::Verifier as _;
        use p256::ecdsa::signature::hazmat::PrehashVerifier as _;
        match self {
            PublicKey::P256(k) => p256::ecdsa::Signature::from_der(signature)
                .is_ok_and(|sig| k.verify(message, &sig).is_ok()),
            PublicKey::P384(k) => p384::ecdsa::Signature::from_der(signature).is_ok_and(|sig| {
                k.verify(message, &sig).is_ok()
                    || k.verify_prehash(&sha2::Sha256::digest(message), &sig)
                        .is_ok()
            }),
            PublicKey::Ed25519(k) => ed25519_dalek::Signature::from_slice(signature)
                .is_ok_and(|sig| k.verify_strict(message, &sig).is_ok()),
        }
    }
}

/// The two files of a key pair written by [`write_key_pair`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPairPaths {
    /// `PREFIX.priv.pem`, mode 0600.
    pub private: PathBuf,
    /// `PREFIX.pub.pem`.
    pub public: PathBuf,
}

fn with_suffix(prefix: &Path, suffix: &str) -> PathBuf {
    let mut s = prefix.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

fn create_new(path: &Path, mode: u32, contents: &[u8]) -> Result<(), KeyFileError> {
    let err = |kind| KeyFileError {
        path: path.to_owned(),
        kind,
    };
    // `create_new` fails if anything (even a dangling symlink) is there, so no race can make us
    // write through someone else's file; the mode is set at creation, never widened later.
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                err(KeyError::Exists)
            } else {
                err(KeyError::Write(e))
            }
        })?;
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .map_err(|e| err(KeyError::Write(e)))
}

/// Writes `PREFIX.priv.pem` (PKCS#8, mode 0600) and `PREFIX.pub.pem` (SPKI, mode 0644),
/// refusing to overwrite either.
pub fn write_key_pair(prefix: &Path, key: &PrivateKey) -> Result<KeyPairPaths, KeyFileError> {
    let paths = KeyPairPaths {
        private: with_suffix(prefix, ".priv.pem"),
        public: with_suffix(prefix, ".pub.pem"),
    };
    for p in [&paths.private, &paths.public] {
        if p.symlink_metadata().is_ok() {
            return Err(KeyFileError {
                path: p.clone(),
                kind: KeyError::Exists,
            });
        }
    }
    let key_err = |path: &PathBuf| {
        let path = path.clone();
        move |kind| KeyFileError { path, kind }
    };
    let private_pem = key.to_pkcs8_pem().map_err(key_err(&paths.private))?;
    let public_pem = key
        .public_key()
        .to_spki_pem()
        .map_err(key_err(&paths.public))?;
    create_new(&paths.private, 0o600, private_pem.as_bytes())?;
    if let Err(e) = create_new(&paths.public, 0o644, public_pem.as_bytes()) {
        // Leave no half-written pair behind (we created the private key file just now).
        let _ = std::fs::remove_file(&paths.private);
        return Err(e);
    }
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    const TYPES: [KeyType; 3] = [KeyType::EcdsaP256, KeyType::EcdsaP384, KeyType::Ed25519];

    #[test]
    fn sign_verify_round_trip_through_pem() {
        for t in TYPES {
            let key = PrivateKey::generate(t);
            let again = PrivateKey::from_pem(key.to_pkcs8_pem().unwrap().as_bytes()).unwrap();
            let public =
                PublicKey::from_pem(key.public_key().to_spki_pem().unwrap().as_bytes()).unwrap();
            assert_eq!(public, key.public_key());
            let sig = again.sign(b"message").unwrap();
            assert!(public.verify(b"message", &sig), "{t}");
            assert!(!public.verify(b"messagf", &sig), "{t}");
            assert!(!public.verify(b"message", &sig[1..]), "{t}");
            assert_eq!(public.hint().len(), 64);
        }
    }

    #[test]
    fn hint_is_sha256_of_openssl_style_pem() {
        // Written by `openssl ec -pubout`; model_signing 1.1.1 put this hint in its bundle.
        let pem = "-----BEGIN PUBLIC KEY-----\n\
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEJ1DQp+BTWlNC7fSJQre9fK0cj+xQ\n\
6V6pLuIZ+XP92uXgw11UM7X3MiF+P34faRsyJHhvyuYTJsNjmYaswrPqng==\n\
-----END PUBLIC KEY-----\n";
        let key = PublicKey::from_pem(pem.as_bytes()).unwrap();
        assert_eq!(
            key.hint(),
            "33c5a27ece967072fc696a4e5ccb1962e0bfacec123f63ce6ee4f577fbe2d63c"
        );
        let crlf = pem.replace('\n', "\r\n");
        assert_eq!(
            PublicKey::from_pem(crlf.as_bytes()).unwrap().hint(),
            key.hint()
        );
    }

    #[test]
    fn wrong_kinds_and_garbage_are_named() {
        let key = PrivateKey::generate(KeyType::EcdsaP256);
        let private = key.to_pkcs8_pem().unwrap();
        let public = key.public_key().to_spki_pem().unwrap();
        assert!(matches!(
            PublicKey::from_pem(private.as_bytes()),
            Err(KeyError::WrongKind(_))
        ));
        assert!(matches!(
            PrivateKey::from_pem(public.as_bytes()),
            Err(KeyError::WrongKind(_))
        ));
        assert!(matches!(
            PublicKey::from_pem(b"hello"),
            Err(KeyError::Pem(_))
        ));
        let truncated = &public[..public.len() / 2];
        assert!(PublicKey::from_pem(truncated.as_bytes()).is_err());
        let two = format!("{public}{public}");
        assert!(matches!(
            PublicKey::from_pem(two.as_bytes()),
            Err(KeyError::SeveralBlocks(2))
        ));
        let enc =
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n";
        assert!(matches!(
            PrivateKey::from_pem(enc.as_bytes()),
            Err(KeyError::Encrypted)
        ));
        // Valid base64 but not DER.
        let junk = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n";
        assert!(matches!(
            PublicKey::from_pem(junk.as_bytes()),
            Err(KeyError::Malformed(_))
        ));
    }

    #[test]
    fn sec1_with_parameters_block_is_read() {
        let key = PrivateKey::generate(KeyType::EcdsaP256);
        let PrivateKey::P256(k) = &key else {
            unreachable!()
        };
        let sec1 = p256::SecretKey::from(k)
            .to_sec1_pem(LineEnding::LF)
            .unwrap();
        let text = format!(
            "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n{}",
            sec1.as_str()
        );
        let back = PrivateKey::from_pem(text.as_bytes()).unwrap();
        assert_eq!(back.public_key(), key.public_key());
    }

    #[test]
    fn key_pair_files_have_modes_and_never_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let prefix = dir.path().join("k");
        let paths = write_key_pair(&prefix, &PrivateKey::generate(KeyType::Ed25519)).unwrap();
        let mode = std::fs::metadata(&paths.private)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(PrivateKey::from_pem_file(&paths.private).is_ok());
        assert!(PublicKey::from_pem_file(&paths.public).is_ok());
        let before = std::fs::read(&paths.private).unwrap();
        let err = write_key_pair(&prefix, &PrivateKey::generate(KeyType::Ed25519)).unwrap_err();
        assert!(matches!(err.kind, KeyError::Exists));
        assert_eq!(std::fs::read(&paths.private).unwrap(), before);
        // A pre-existing public file alone also blocks, and leaves no private key behind.
        let other = dir.path().join("o");
        std::fs::write(with_suffix(&other, ".pub.pem"), "x").unwrap();
        assert!(write_key_pair(&other, &PrivateKey::generate(KeyType::Ed25519)).is_err());
        assert!(!with_suffix(&other, ".priv.pem").exists());
    }
}
