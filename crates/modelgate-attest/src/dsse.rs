//! DSSE envelopes (Dead Simple Signing Envelope v1): the pre-authentication encoding that is
//! actually signed, and the JSON envelope `{payload, payloadType, signatures}`.

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde::{Deserialize, Serialize};

use crate::error::FormatError;
use crate::keys::PublicKey;
use crate::signer::{SignError, Signer};

/// Standard base64 with padding, as every producer we interoperate with writes it.
pub(crate) const B64: GeneralPurpose = base64::engine::general_purpose::STANDARD;
const B64_STD_ANY: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);
const B64_URL_ANY: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Decodes base64 in either alphabet, padded or not (the DSSE spec allows both). What is signed
/// is the decoded bytes, so accepting several spellings does not widen what verifies.
pub(crate) fn decode_b64(text: &str, field: &'static str) -> Result<Vec<u8>, FormatError> {
    B64_STD_ANY
        .decode(text)
        .or_else(|_| B64_URL_ANY.decode(text))
        .map_err(|_| FormatError::Base64(field))
}

/// The DSSE v1 pre-authentication encoding:
/// `"DSSEv1" SP len(type) SP type SP len(body) SP body`, lengths in ASCII decimal bytes.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let header = format!(
        "DSSEv1 {} {payload_type} {} ",
        payload_type.len(),
        payload.len()
    );
    let mut out = Vec::with_capacity(header.len() + payload.len());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(payload);
    out
}

/// One signature in an envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvelopeSignature {
    /// Optional key identifier (informative only; never trusted to pick a key).
    pub keyid: Option<String>,
    /// The signature bytes.
    pub sig: Vec<u8>,
}

/// A DSSE envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// Media type of the payload (`application/vnd.in-toto+json` for statements).
    pub payload_type: String,
    /// The signed bytes.
    pub payload: Vec<u8>,
    /// One or more signatures over `pae(payload_type, payload)`.
    pub signatures: Vec<EnvelopeSignature>,
}

/// The envelope as JSON.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawEnvelope {
    pub(crate) payload: String,
    #[serde(rename = "payloadType")]
    pub(crate) payload_type: String,
    pub(crate) signatures: Vec<RawSignature>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSignature {
    pub(crate) sig: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) keyid: Option<String>,
}

impl Envelope {
    /// Signs `payload` with `signer`.
    pub fn sign(
        payload_type: &str,
        payload: Vec<u8>,
        signer: &dyn Signer,
    ) -> Result<Self, SignError> {
        let sig = signer.sign(&pae(payload_type, &payload))?;
        Ok(Envelope {
            payload_type: payload_type.to_owned(),
            payload,
            signatures: vec![EnvelopeSignature {
                keyid: Some(signer.key_id()),
                sig,
            }],
        })
    }

    /// The bytes the signatures cover.
    pub fn pae(&self) -> Vec<u8> {
        pae(&self.payload_type, &self.payload)
    }

    /// Whether any signature verifies under `key`.
    pub fn verify(&self, key: &PublicKey) -> bool {
        let message = self.pae();
        self.signatures.iter().any(|s| key.verify(&message, &s.sig))
    }

    pub(crate) fn to_raw(&self) -> RawEnvelope {
        RawEnvelope {
            payload: B64.encode(&self.payload),
            payload_type: self.payload_type.clone(),
            signatures: self
                .signatures
                .iter()
                .map(|s| RawSignature {
                    sig: B64.encode(&s.sig),
                    keyid: s.keyid.clone(),
                })
                .collect(),
        }
    }

    pub(crate) fn from_raw(raw: RawEnvelope) -> Result<Self, FormatError> {
        if raw.signatures.is_empty() {
            return Err(FormatError::NoSignatures);
        }
        let signatures = raw
            .signatures
            .into_iter()
            .map(|s| {
                Ok(EnvelopeSignature {
                    keyid: s.keyid,
                    sig: decode_b64(&s.sig, "signatures[].sig")?,
                })
            })
            .collect::<Result<_, FormatError>>()?;
        Ok(Envelope {
            payload: decode_b64(&raw.payload, "payload")?,
            payload_type: raw.payload_type,
            signatures,
        })
    }

    /// The envelope as compact JSON.
    pub fn to_json(&self) -> String {
        // Serialising plain strings and vectors cannot fail.
        serde_json::to_string(&self.to_raw()).unwrap_or_default()
    }

    /// Parses an envelope from JSON (unknown fields are refused).
    pub fn from_json(bytes: &[u8]) -> Result<Self, FormatError> {
        Envelope::from_raw(serde_json::from_slice(bytes)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{KeyType, PrivateKey};
    use crate::signer::KeySigner;

    #[test]
    fn pae_matches_the_spec_example() {
        // From the DSSE protocol document.
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
        assert_eq!(pae("", b""), b"DSSEv1 0  0 ".to_vec());
    }

    #[test]
    fn sign_parse_verify() {
        let signer = KeySigner::new(PrivateKey::generate(KeyType::EcdsaP256));
        let env = Envelope::sign("application/x", b"{}".to_vec(), &signer).unwrap();
        let back = Envelope::from_json(env.to_json().as_bytes()).unwrap();
        assert_eq!(back, env);
        assert!(back.verify(signer.public_key()));
        let other = PrivateKey::generate(KeyType::EcdsaP256).public_key();
        assert!(!back.verify(&other));
        let mut tampered = back.clone();
        tampered.payload_type = "application/y".into();
        assert!(!tampered.verify(signer.public_key()));
    }

    #[test]
    fn strict_shape_and_base64() {
        assert!(matches!(
            Envelope::from_json(br#"{"payload":"","payloadType":"t","signatures":[]}"#),
            Err(FormatError::NoSignatures)
        ));
        let extra = br#"{"payload":"","payloadType":"t","signatures":[{"sig":""}],"x":1}"#;
        assert!(matches!(
            Envelope::from_json(extra),
            Err(FormatError::Json(_))
        ));
        let missing = br#"{"payloadType":"t","signatures":[{"sig":""}]}"#;
        let err = Envelope::from_json(missing).unwrap_err().to_string();
        assert!(err.contains("missing field `payload`"), "{err}");
        let bad = br#"{"payload":"!!","payloadType":"t","signatures":[{"sig":""}]}"#;
        assert!(matches!(
            Envelope::from_json(bad),
            Err(FormatError::Base64("payload"))
        ));
        // URL-safe, unpadded base64 is accepted.
        let url = br#"{"payload":"-_8","payloadType":"t","signatures":[{"sig":"AA"}]}"#;
        assert_eq!(Envelope::from_json(url).unwrap().payload, vec![0xfb, 0xff]);
    }
}
