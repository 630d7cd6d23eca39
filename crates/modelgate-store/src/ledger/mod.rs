//! The evidence ledger: an append-only, hash-chained log of every event that decides what
//! happens to an artifact (intake, scan, eval runs, approvals, promotions, rejections …), with
//! signed checkpoints over the chain head.
//!
//! # Entry hash
//!
//! Every field is length-prefixed (`lp(x) = u64_be(len(x)) ‖ x`) so no two different entries
//! encode alike:
//!
//! ```text
//! hash_n = SHA-256( lp("modelgate/ledger/v1") ‖ lp(prev_n) ‖ lp(u64_be(seq_n)) ‖ lp(kind_n)
//!                   ‖ lp(subject_n) ‖ lp(time_n) ‖ lp(SHA-256(payload_n)) )
//! ```
//!
//! `prev_0` is 32 zero bytes and `prev_n = hash_{n-1}` (raw bytes; stored as lowercase hex).
//! `kind` is the `snake_case` name ([`EntryKind::as_str`]), `time` RFC 3339 UTC, `subject` the
//! artifact digest (`sha256:…`) or another id, `payload` the exact JSON bytes.
//!
//! # Checkpoints
//!
//! With a signer configured ([`crate::SqliteStore::set_ledger_signer`]), every `N` entries
//! (default [`DEFAULT_CHECKPOINT_INTERVAL`]) and on demand ([`Ledger::checkpoint`]) a
//! [`EntryKind::Checkpoint`] entry is appended whose payload is a DSSE envelope
//! ([`CHECKPOINT_PAYLOAD_TYPE`]) over the JSON `{"_type", "seq", "head"}` naming the entry just
//! before it and that entry's hash. Verification with the public key checks every checkpoint's
//! signature and that it names the entry right before it with the hash the chain has there.
//! The chain alone detects any change made without recomputing hashes; checkpoints make a
//! rewrite of everything up to the last checkpoint detectable even by someone who recomputes
//! them, since they cannot sign.

mod checkpoint;
pub(crate) mod sqlite;
pub(crate) mod tx;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::StoreError;

pub use checkpoint::{CHECKPOINT_PAYLOAD_TYPE, CHECKPOINT_TYPE, CheckpointStatement};
pub use tx::StoreTx;

/// Domain separator of the entry hash.
pub const LEDGER_DOMAIN: &[u8] = b"modelgate/ledger/v1";

/// A checkpoint is written after this many entries when a signer is configured.
pub const DEFAULT_CHECKPOINT_INTERVAL: u64 = 1000;

/// The `prev` of entry 0.
pub const LEDGER_GENESIS: [u8; 32] = [0; 32];

/// What an entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum EntryKind {
    /// An artifact was copied into quarantine and registered.
    Intake,
    /// An artifact was scanned.
    Scan,
    /// An evaluation run finished.
    EvalRun,
    /// A dataset was vetted into the registry.
    DatasetVetting,
    /// A signed approval was recorded.
    Approval,
    /// An artifact moved to a later stage.
    Promotion,
    /// An artifact was rejected (permanently for its digest).
    Rejection,
    /// A signature, log or claim did not verify.
    VerificationFailure,
    /// A rejected digest was submitted again and refused.
    RejectedResubmission,
    /// A signed checkpoint over the chain head.
    Checkpoint,
}

impl EntryKind {
    /// Every kind.
    pub const ALL: [EntryKind; 10] = [
        EntryKind::Intake,
        EntryKind::Scan,
        EntryKind::EvalRun,
        EntryKind::DatasetVetting,
        EntryKind::Approval,
        EntryKind::Promotion,
        EntryKind::Rejection,
        EntryKind::VerificationFailure,
        EntryKind::RejectedResubmission,
        EntryKind::Checkpoint,
    ];

    /// The `snake_case` name stored, hashed and exported.
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Intake => "intake",
            EntryKind::Scan => "scan",
            EntryKind::EvalRun => "eval_run",
            EntryKind::DatasetVetting => "dataset_vetting",
            EntryKind::Approval => "approval",
            EntryKind::Promotion => "promotion",
            EntryKind::Rejection => "rejection",
            EntryKind::VerificationFailure => "verification_failure",
            EntryKind::RejectedResubmission => "rejected_resubmission",
            EntryKind::Checkpoint => "checkpoint",
        }
    }
}

impl fmt::Display for EntryKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EntryKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EntryKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown ledger entry kind {s:?}"))
    }
}

/// One ledger entry as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// 0-based position; dense.
    pub seq: u64,
    /// RFC 3339 UTC time of the append.
    pub time: String,
    /// What happened.
    pub kind: EntryKind,
    /// The artifact digest (`sha256:…`) or other id the entry is about.
    pub subject: String,
    /// JSON bytes, exactly as appended.
    pub payload: Vec<u8>,
    /// Hex hash of the previous entry (64 zeros for entry 0).
    pub prev: String,
    /// Hex hash of this entry.
    pub hash: String,
}

impl Entry {
    /// The entry as one JSON object: every field, the payload as a string holding its exact
    /// bytes (so the hash can be recomputed from an export).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "seq": self.seq,
            "time": self.time,
            "kind": self.kind.as_str(),
            "subject": self.subject,
            "payload": String::from_utf8_lossy(&self.payload),
            "prev": self.prev,
            "hash": self.hash,
        })
    }
}

/// The chain head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerHead {
    /// Number of entries (the next seq).
    pub entries: u64,
    /// Hex hash of the last entry (64 zeros when empty).
    pub hash: String,
}

/// Appends `x` with its length prefix.
fn lp(h: &mut Sha256, x: &[u8]) {
    h.update((x.len() as u64).to_be_bytes());
    h.update(x);
}

/// The hash of an entry (see the module docs for the encoding).
pub fn entry_hash(
    prev: &[u8; 32],
    seq: u64,
    kind: &str,
    subject: &str,
    time: &str,
    payload: &[u8],
) -> [u8; 32] {
    let payload_digest: [u8; 32] = Sha256::digest(payload).into();
    let mut h = Sha256::new();
    lp(&mut h, LEDGER_DOMAIN);
    lp(&mut h, prev);
    lp(&mut h, &seq.to_be_bytes());
    lp(&mut h, kind.as_bytes());
    lp(&mut h, subject.as_bytes());
    lp(&mut h, time.as_bytes());
    lp(&mut h, &payload_digest);
    h.finalize().into()
}

/// Why verification stopped at an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BreakReason {
    /// The stored hash is not the hash of the entry's fields: the entry was edited (or its seq
    /// changed, as a reorder does).
    HashMismatch {
        /// Hash stored.
        stored: String,
        /// Hash recomputed from the fields.
        computed: String,
    },
    /// The entry's `prev` is not the previous entry's hash: an entry before it was deleted,
    /// inserted or rewritten with a recomputed hash.
    PrevMismatch {
        /// `prev` stored.
        stored: String,
        /// The previous entry's hash.
        expected: String,
    },
    /// Entries are missing: the next stored seq is `found` (deleted entries).
    Missing {
        /// The seq found where this one was expected.
        found: u64,
    },
    /// The stored kind is not one this build knows.
    UnknownKind(String),
    /// A checkpoint entry's payload is not a well-formed checkpoint.
    MalformedCheckpoint(String),
    /// A checkpoint's signature does not verify under the given key.
    CheckpointSignature,
    /// A checkpoint signs another seq or head than the chain has right before it.
    CheckpointMismatch {
        /// The seq the checkpoint signs.
        signed_seq: u64,
        /// The head it signs.
        signed_head: String,
        /// The chain's hash of the entry before the checkpoint.
        chain_head: String,
    },
    /// Every entry links, but the recorded head disagrees: entries were removed from or added
    /// to the end without going through the store.
    HeadMismatch {
        /// Entry count recorded in the head.
        recorded_entries: u64,
        /// Head hash recorded.
        recorded_hash: String,
        /// Entries found.
        found_entries: u64,
        /// Hash of the last entry found.
        found_hash: String,
    },
}

/// The first bad entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerBreak {
    /// Its seq (for [`BreakReason::HeadMismatch`], the lower of the two entry counts).
    pub seq: u64,
    /// What is wrong.
    pub reason: BreakReason,
}

impl fmt::Display for LedgerBreak {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seq = self.seq;
        match &self.reason {
            BreakReason::HashMismatch { stored, computed } => write!(
                f,
                "entry {seq}: content does not match its hash (edited or moved): stored \
                 {stored}, recomputed {computed}"
            ),
            BreakReason::PrevMismatch { stored, expected } => write!(
                f,
                "entry {seq}: does not link to entry {} (an entry was deleted, inserted or \
                 rewritten): prev {stored}, expected {expected}",
                seq.wrapping_sub(1)
            ),
            BreakReason::Missing { found } => write!(
                f,
                "entry {seq}: missing (next entry found is {found}): entries were deleted"
            ),
            BreakReason::UnknownKind(kind) => write!(f, "entry {seq}: unknown kind {kind:?}"),
            BreakReason::MalformedCheckpoint(why) => {
                write!(f, "entry {seq}: malformed checkpoint: {why}")
            }
            BreakReason::CheckpointSignature => write!(
                f,
                "entry {seq}: checkpoint signature does not verify under the given key (forged \
                 or signed by another key)"
            ),
            BreakReason::CheckpointMismatch {
                signed_seq,
                signed_head,
                chain_head,
            } => write!(
                f,
                "entry {seq}: checkpoint signs entry {signed_seq} with head {signed_head}, but \
                 the chain has {chain_head} at entry {}",
                seq.wrapping_sub(1)
            ),
            BreakReason::HeadMismatch {
                recorded_entries,
                recorded_hash,
                found_entries,
                found_hash,
            } => write!(
                f,
                "ledger head records {recorded_entries} entries ending in {recorded_hash}, but \
                 {found_entries} entries ending in {found_hash} were found (entries removed \
                 from or added to the end)"
            ),
        }
    }
}

/// The outcome of [`Ledger::verify`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LedgerVerification {
    /// Entries read (up to the break, if any).
    pub entries: u64,
    /// Checkpoint entries found.
    pub checkpoints: u64,
    /// Checkpoints whose signature was checked and verified (0 without a key).
    pub checkpoints_verified: u64,
    /// Seq of the entry the last good checkpoint signs, if any: everything up to it is
    /// vouched for by the key.
    pub signed_through: Option<u64>,
    /// The first bad entry; `None` when the ledger is intact.
    pub first_break: Option<LedgerBreak>,
}

impl LedgerVerification {
    /// Whether no break was found.
    pub fn intact(&self) -> bool {
        self.first_break.is_none()
    }
}

/// The evidence ledger of a store.
///
/// Kept apart from [`crate::Store`] (eval runs): [`crate::SqliteStore`] implements both in one
/// database, so an artifact row and its ledger entries can commit in one transaction
/// ([`crate::SqliteStore::transaction`]).
pub trait Ledger {
    /// Appends one entry in its own transaction (plus a checkpoint when one is due) and returns
    /// it. `payload` must be JSON.
    fn append(
        &mut self,
        kind: EntryKind,
        subject: &str,
        payload: &[u8],
    ) -> Result<Entry, StoreError>;

    /// Up to `limit` entries from seq `from`, in order.
    fn entries(&self, from: u64, limit: usize) -> Result<Vec<Entry>, StoreError>;

    /// Calls `f` with every entry from seq `from`, in order, streaming. Stops at the first
    /// error.
    fn for_each_entry(
        &self,
        from: u64,
        f: &mut dyn FnMut(Entry) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>;

    /// Entries about `subject`, oldest first, at most `limit` (the newest are kept).
    fn subject_entries(&self, subject: &str, limit: usize) -> Result<Vec<Entry>, StoreError>;

    /// The recorded chain head.
    fn head(&self) -> Result<LedgerHead, StoreError>;

    /// Recomputes the chain and names the first bad entry. With `key`, also checks every
    /// checkpoint's signature. Fails only when the store cannot be read; tampering is a
    /// [`LedgerBreak`] in the result.
    fn verify(
        &self,
        key: Option<&modelgate_attest::PublicKey>,
    ) -> Result<LedgerVerification, StoreError>;

    /// Writes every entry as one JSON line ([`Entry::to_json`]); returns the count.
    fn export_jsonl(&self, out: &mut dyn std::io::Write) -> Result<u64, StoreError>;

    /// Appends a signed checkpoint over the current head now. `Ok(None)` when the ledger is
    /// empty or already ends in a checkpoint; [`StoreError::NoLedgerKey`] without a signer.
    fn checkpoint(&mut self) -> Result<Option<Entry>, StoreError>;
}

/// Now as RFC 3339 UTC with seconds (`2026-11-22T02:00:00Z`).
pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_and_match_serde() {
        for k in EntryKind::ALL {
            assert_eq!(k.as_str().parse::<EntryKind>(), Ok(k));
            assert_eq!(
                serde_json::to_value(k).unwrap(),
                serde_json::Value::String(k.as_str().into())
            );
        }
        assert!("nope".parse::<EntryKind>().is_err());
    }

    #[test]
    fn every_field_changes_the_hash() {
        let base = entry_hash(&LEDGER_GENESIS, 0, "intake", "s", "t", b"{}");
        assert_ne!(base, entry_hash(&[1; 32], 0, "intake", "s", "t", b"{}"));
        assert_ne!(
            base,
            entry_hash(&LEDGER_GENESIS, 1, "intake", "s", "t", b"{}")
        );
        assert_ne!(
            base,
            entry_hash(&LEDGER_GENESIS, 0, "scan", "s", "t", b"{}")
        );
        assert_ne!(
            base,
            entry_hash(&LEDGER_GENESIS, 0, "intake", "x", "t", b"{}")
        );
        assert_ne!(
            base,
            entry_hash(&LEDGER_GENESIS, 0, "intake", "s", "u", b"{}")
        );
        assert_ne!(
            base,
            entry_hash(&LEDGER_GENESIS, 0, "intake", "s", "t", b"[]")
        );
        // Length prefixes: moving a byte between adjacent fields changes the hash.
        assert_ne!(
            entry_hash(&LEDGER_GENESIS, 0, "intake", "ab", "c", b"{}"),
            entry_hash(&LEDGER_GENESIS, 0, "intake", "a", "bc", b"{}")
        );
    }

    #[test]
    fn time_format() {
        let t = now_rfc3339();
        assert_eq!(t.len(), 20);
        assert!(t.starts_with("20") && t.ends_with('Z'));
    }
}
