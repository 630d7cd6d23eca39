//! The [`Signer`] trait: what produces signatures and tells verifiers how to find the key.
//!
//! Key signing ([`KeySigner`]) is the only implementation today. Keyless Sigstore signing (a
//! short-lived Fulcio certificate for an OIDC identity, logged in Rekor) needs network access
//! that this project's machines do not have; it will be another implementation of this trait,
//! returning [`VerificationMaterial`] with a certificate instead of a key hint, without changes
//! to the callers that build envelopes and bundles.

use crate::keys::{KeyType, PrivateKey, PublicKey};

/// Signing failed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SignError(pub String);

/// What a verifier needs, besides the signature, to know which key signed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum VerificationMaterial {
    /// A public key named by its hint (hex SHA-256 of its SPKI PEM); the verifier supplies the
    /// key itself.
    PublicKeyHint(String),
}

/// Something that signs DSSE pre-authentication encodings.
pub trait Signer: Send + Sync {
    /// Signs `message` and returns the signature bytes as a DSSE envelope carries them.
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError>;

    /// The material written next to the signature in a Sigstore bundle.
    fn verification_material(&self) -> VerificationMaterial;

    /// The `keyid` written in DSSE signatures (informative: verifiers never pick keys by it).
    fn key_id(&self) -> String {
        String::new()
    }
}

/// Signs with a private key held in memory.
#[derive(Debug)]
pub struct KeySigner {
    key: PrivateKey,
    public: PublicKey,
}

impl KeySigner {
    /// Wraps a private key.
    pub fn new(key: PrivateKey) -> Self {
        let public = key.public_key();
        KeySigner { key, public }
    }

    /// The public half.
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// The key type.
    pub fn key_type(&self) -> KeyType {
        self.key.key_type()
    }
}

impl Signer for KeySigner {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        self.key.sign(message).map_err(|e| SignError(e.to_string()))
    }

    fn verification_material(&self) -> VerificationMaterial {
        VerificationMaterial::PublicKeyHint(self.public.hint())
    }

    /// The key hint: securesystemslib only checks signatures whose `keyid` matches its key's,
    /// and cannot match an empty one.
    fn key_id(&self) -> String {
        self.public.hint()
    }
}
