//! Signed checkpoints: a DSSE envelope over `{"_type", "seq", "head"}`.
//!
//! The payload is plain JSON rather than an in-toto statement: a checkpoint has no subject
//! file, only a position and a hash in one ledger, and a verifier that knows the ledger needs
//! nothing more. The DSSE payload type keeps a checkpoint signature from verifying as anything
//! else (an attestation, a model signature) under the same key.

use modelgate_attest::{Envelope, PublicKey, Signer};
use serde::{Deserialize, Serialize};

use crate::StoreError;

/// The DSSE payload type of a checkpoint envelope.
pub const CHECKPOINT_PAYLOAD_TYPE: &str = "application/vnd.modelgate.ledger-checkpoint+json";

/// The `_type` of the signed statement.
pub const CHECKPOINT_TYPE: &str = "https://modelgate.dev/ledger-checkpoint/v1";

/// Largest checkpoint envelope read during verification, in bytes.
const MAX_ENVELOPE_BYTES: usize = 64 * 1024;

/// What a checkpoint signs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointStatement {
    /// Always [`CHECKPOINT_TYPE`].
    #[serde(rename = "_type")]
    pub type_: String,
    /// The seq of the entry signed (the one right before the checkpoint entry).
    pub seq: u64,
    /// That entry's hash (hex).
    pub head: String,
}

/// The checkpoint entry payload (a DSSE envelope as JSON) for the entry at `seq` with `head`.
pub(crate) fn sign(seq: u64, head: &str, signer: &dyn Signer) -> Result<Vec<u8>, StoreError> {
    let statement = CheckpointStatement {
        type_: CHECKPOINT_TYPE.to_owned(),
        seq,
        head: head.to_owned(),
    };
    let payload = serde_json::to_vec(&statement).map_err(|e| StoreError::Sign(e.to_string()))?;
    let envelope = Envelope::sign(CHECKPOINT_PAYLOAD_TYPE, payload, signer)
        .map_err(|e| StoreError::Sign(e.to_string()))?;
    Ok(envelope.to_json().into_bytes())
}

/// A parsed checkpoint: the statement and whether it verifies under `key` (`None` without a
/// key). `Err` names what is malformed.
pub(crate) fn open(
    payload: &[u8],
    key: Option<&PublicKey>,
) -> Result<(CheckpointStatement, Option<bool>), String> {
    if payload.len() > MAX_ENVELOPE_BYTES {
        return Err(format!(
            "envelope of {} bytes (at most {MAX_ENVELOPE_BYTES})",
            payload.len()
        ));
    }
    let envelope = Envelope::from_json(payload).map_err(|e| format!("not a DSSE envelope: {e}"))?;
    if envelope.payload_type != CHECKPOINT_PAYLOAD_TYPE {
        return Err(format!(
            "payload type {:?}, expected {CHECKPOINT_PAYLOAD_TYPE}",
            envelope.payload_type
        ));
    }
    let statement: CheckpointStatement =
        serde_json::from_slice(&envelope.payload).map_err(|e| format!("signed statement: {e}"))?;
    if statement.type_ != CHECKPOINT_TYPE {
        return Err(format!(
            "statement _type {:?}, expected {CHECKPOINT_TYPE}",
            statement.type_
        ));
    }
    let verified = key.map(|k| envelope.verify(k));
    Ok((statement, verified))
}

#[cfg(test)]
mod tests {
    use modelgate_attest::{KeySigner, KeyType, PrivateKey};

    use super::*;

    #[test]
    fn sign_open_and_reject_other_keys() {
        let signer = KeySigner::new(PrivateKey::generate(KeyType::Ed25519));
        let payload = sign(7, &"ab".repeat(32), &signer).unwrap();
        let (st, ok) = open(&payload, Some(signer.public_key())).unwrap();
        assert_eq!(
            (st.seq, st.head.as_str(), ok),
            (7, "ab".repeat(32).as_str(), Some(true))
        );
        let other = PrivateKey::generate(KeyType::Ed25519).public_key();
        assert_eq!(open(&payload, Some(&other)).unwrap().1, Some(false));
        assert_eq!(open(&payload, None).unwrap().1, None);
        assert!(open(b"{}", None).is_err());
        assert!(open(&vec![b' '; MAX_ENVELOPE_BYTES + 1], None).is_err());
    }
}
