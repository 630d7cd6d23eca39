//! Sigstore bundles v0.3 carrying a DSSE envelope and a public-key hint — the format
//! `model_signing sign key` writes — and detection of bare DSSE envelopes.
//!
//! Parsing is strict: unknown fields, a missing envelope or missing verification material are
//! errors naming the field. Certificate (keyless) material and message signatures are
//! recognised and refused as not supported yet.

use serde::{Deserialize, Serialize};

use crate::dsse::{Envelope, RawEnvelope};
use crate::error::FormatError;
use crate::signer::VerificationMaterial;

/// Media type of Sigstore bundles v0.3.
pub const BUNDLE_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
/// The other spelling the Sigstore spec allows for v0.3.
const BUNDLE_MEDIA_TYPE_ALT: &str = "application/vnd.dev.sigstore.bundle+json;version=0.3";

/// A parsed bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    /// The public-key hint, when the bundle names one (older model-signing bundles do not).
    pub key_hint: Option<String>,
    /// Base64 DER public key (`rawBytes`) when an older writer embedded one.
    pub raw_key: Option<Vec<u8>>,
    /// Number of transparency-log entries carried (never checked offline).
    pub tlog_entries: usize,
    /// The signed envelope.
    pub envelope: Envelope,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBundle {
    #[serde(rename = "mediaType")]
    media_type: String,
    #[serde(rename = "verificationMaterial")]
    verification_material: RawMaterial,
    #[serde(
        rename = "dsseEnvelope",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    dsse_envelope: Option<RawEnvelope>,
    #[serde(
        rename = "messageSignature",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    message_signature: Option<serde_json::Value>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMaterial {
    #[serde(rename = "publicKey", default, skip_serializing_if = "Option::is_none")]
    public_key: Option<RawPublicKey>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    certificate: Option<serde_json::Value>,
    #[serde(
        rename = "x509CertificateChain",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    x509_certificate_chain: Option<serde_json::Value>,
    #[serde(rename = "tlogEntries", default)]
    tlog_entries: Vec<serde_json::Value>,
    #[serde(
        rename = "timestampVerificationData",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    timestamp_verification_data: Option<serde_json::Value>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPublicKey {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    hint: Option<String>,
    #[serde(rename = "rawBytes", default, skip_serializing_if = "Option::is_none")]
    raw_bytes: Option<String>,
    #[serde(
        rename = "keyDetails",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    key_details: Option<String>,
}

impl Bundle {
    /// A bundle for `envelope` signed by a key described by `material`.
    pub fn new(envelope: Envelope, material: &VerificationMaterial) -> Self {
        let VerificationMaterial::PublicKeyHint(hint) = material;
        Bundle {
            key_hint: Some(hint.clone()),
            raw_key: None,
            tlog_entries: 0,
            envelope,
        }
    }

    /// The bundle as compact JSON, field for field what model signing writes.
    pub fn to_json(&self) -> String {
        let raw = RawBundle {
            media_type: BUNDLE_MEDIA_TYPE.to_owned(),
            verification_material: RawMaterial {
                public_key: Some(RawPublicKey {
                    hint: self.key_hint.clone(),
                    raw_bytes: None,
                    key_details: None,
                }),
                certificate: None,
                x509_certificate_chain: None,
                tlog_entries: Vec::new(),
                timestamp_verification_data: None,
            },
            dsse_envelope: Some(self.envelope.to_raw()),
            message_signature: None,
        };
        serde_json::to_string(&raw).unwrap_or_default()
    }

    /// Parses a bundle.
    pub fn from_json(bytes: &[u8]) -> Result<Self, FormatError> {
        let raw: RawBundle = serde_json::from_slice(bytes)?;
        Bundle::from_raw(raw)
    }

    fn from_raw(raw: RawBundle) -> Result<Self, FormatError> {
        if raw.media_type != BUNDLE_MEDIA_TYPE && raw.media_type != BUNDLE_MEDIA_TYPE_ALT {
            return Err(FormatError::MediaType(raw.media_type));
        }
        let envelope = match (raw.dsse_envelope, raw.message_signature) {
            (Some(env), None) => Envelope::from_raw(env)?,
            (None, Some(_)) => {
                return Err(FormatError::Unsupported(
                    "a bundle with `messageSignature` (a signed blob, not a DSSE envelope)".into(),
                ));
            }
            (Some(_), Some(_)) => {
                return Err(FormatError::Missing(
                    "the bundle has both `dsseEnvelope` and `messageSignature`".into(),
                ));
            }
            (None, None) => {
                return Err(FormatError::Missing(
                    "the bundle has no `dsseEnvelope`".into(),
                ));
            }
        };
        let material = raw.verification_material;
        if material.certificate.is_some() || material.x509_certificate_chain.is_some() {
            return Err(FormatError::Unsupported(
                "certificate (keyless Sigstore) verification material; modelgate verifies key \
                 signatures only for now"
                    .into(),
            ));
        }
        let Some(public_key) = material.public_key else {
            return Err(FormatError::Missing(
                "`verificationMaterial` has no `publicKey`".into(),
            ));
        };
        if let Some(hint) = &public_key.hint
            && (hint.len() != 64 || crate::algorithm::from_hex(hint).is_none())
        {
            return Err(FormatError::Missing(format!(
                "`publicKey.hint` `{hint}` is not a hex SHA-256"
            )));
        }
        let raw_key = public_key
            .raw_bytes
            .as_deref()
            .map(|b| crate::dsse::decode_b64(b, "publicKey.rawBytes"))
            .transpose()?;
        Ok(Bundle {
            // Compared byte for byte, as model signing does: the hint is lowercase hex.
            key_hint: public_key.hint,
            raw_key,
            tlog_entries: material.tlog_entries.len(),
            envelope,
        })
    }
}

/// A signed document: a bundle, or a bare DSSE envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignedDocument {
    /// A Sigstore bundle.
    Bundle(Bundle),
    /// A bare envelope (as securesystemslib and sigstore-python's DSSE signer write).
    Envelope(Envelope),
}

impl SignedDocument {
    /// Detects and parses either form.
    pub fn from_json(bytes: &[u8]) -> Result<Self, FormatError> {
        let value: serde_json::Value = serde_json::from_slice(bytes)?;
        let Some(obj) = value.as_object() else {
            return Err(FormatError::UnknownDocument);
        };
        if obj.contains_key("mediaType") {
            let raw: RawBundle = serde_json::from_value(value)?;
            Ok(SignedDocument::Bundle(Bundle::from_raw(raw)?))
        } else if obj.contains_key("payloadType") {
            let raw: RawEnvelope = serde_json::from_value(value)?;
            Ok(SignedDocument::Envelope(Envelope::from_raw(raw)?))
        } else {
            Err(FormatError::UnknownDocument)
        }
    }

    /// The envelope inside.
    pub fn envelope(&self) -> &Envelope {
        match self {
            SignedDocument::Bundle(b) => &b.envelope,
            SignedDocument::Envelope(e) => e,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Written by `model_signing` 1.1.1 (`model_signing sign key`), payload shortened.
    const REFERENCE: &str = r#"{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{"publicKey":{"hint":"33c5a27ece967072fc696a4e5ccb1962e0bfacec123f63ce6ee4f577fbe2d63c"},"tlogEntries":[]},"dsseEnvelope":{"payload":"e30=","payloadType":"application/vnd.in-toto+json","signatures":[{"sig":"MEQCIClp7ONEnCrsg/ZeYaypeOjGCQXTfV/l3OpXws7FVSJ6AiBO7wVZd7+4yERnjjHhZcM8CatnWj6gUfaM/KuBAS7bOA==","keyid":""}]}}"#;

    #[test]
    fn reads_and_writes_the_reference_shape() {
        let b = Bundle::from_json(REFERENCE.as_bytes()).unwrap();
        assert_eq!(
            b.key_hint.as_deref(),
            Some("33c5a27ece967072fc696a4e5ccb1962e0bfacec123f63ce6ee4f577fbe2d63c")
        );
        assert_eq!(b.envelope.payload, b"{}");
        assert_eq!(b.to_json(), REFERENCE);
        assert!(matches!(
            SignedDocument::from_json(REFERENCE.as_bytes()).unwrap(),
            SignedDocument::Bundle(_)
        ));
    }

    #[test]
    fn refuses_extra_missing_and_unsupported() {
        let extra = REFERENCE.replace("\"tlogEntries\":[]", "\"tlogEntries\":[],\"bogus\":1");
        let err = Bundle::from_json(extra.as_bytes()).unwrap_err().to_string();
        assert!(err.contains("unknown field `bogus`"), "{err}");
        let no_env = r#"{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{"publicKey":{"hint":"33c5a27ece967072fc696a4e5ccb1962e0bfacec123f63ce6ee4f577fbe2d63c"}}}"#;
        assert!(matches!(
            Bundle::from_json(no_env.as_bytes()),
            Err(FormatError::Missing(_))
        ));
        let no_key = REFERENCE.replace(
            r#""publicKey":{"hint":"33c5a27ece967072fc696a4e5ccb1962e0bfacec123f63ce6ee4f577fbe2d63c"},"#,
            "",
        );
        assert!(matches!(
            Bundle::from_json(no_key.as_bytes()),
            Err(FormatError::Missing(_))
        ));
        let old = REFERENCE.replace("v0.3+json", "v0.2+json");
        assert!(matches!(
            Bundle::from_json(old.as_bytes()),
            Err(FormatError::MediaType(_))
        ));
        let cert = REFERENCE.replace(
            "\"tlogEntries\"",
            "\"certificate\":{\"rawBytes\":\"AA==\"},\"tlogEntries\"",
        );
        assert!(matches!(
            Bundle::from_json(cert.as_bytes()),
            Err(FormatError::Unsupported(_))
        ));
        let bad_hint = REFERENCE.replace("33c5a27e", "zzzz");
        assert!(Bundle::from_json(bad_hint.as_bytes()).is_err());
        assert!(matches!(
            SignedDocument::from_json(b"[]"),
            Err(FormatError::UnknownDocument)
        ));
        assert!(matches!(
            SignedDocument::from_json(b"{\"a\":1}"),
            Err(FormatError::UnknownDocument)
        ));
    }
}
