//! Store transactions: several ledger appends and registry changes that commit together, and
//! the append itself (head read, entry insert, head update, checkpoint when due).

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use modelgate_attest::Signer;
use modelgate_core::to_hex;
use rusqlite::{OptionalExtension, Transaction, TransactionBehavior, params};

use super::{Entry, EntryKind, LedgerHead, checkpoint, entry_hash, now_rfc3339};
use crate::sqlite::db_err;
use crate::sqlite::samples::decode_chain;
use crate::{SqliteStore, StoreError};

/// A checkpoint signer and how often it signs.
#[derive(Clone)]
pub(crate) struct CheckpointConfig {
    pub(crate) signer: Arc<dyn Signer>,
    pub(crate) every: u64,
}

impl fmt::Debug for CheckpointConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CheckpointConfig")
            .field("key_id", &self.signer.key_id())
            .field("every", &self.every)
            .finish()
    }
}

impl SqliteStore {
    /// Signs a checkpoint entry with `signer` after every `every` entries appended through this
    /// handle (at least 1; [`super::DEFAULT_CHECKPOINT_INTERVAL`] is the usual choice), and
    /// enables [`super::Ledger::checkpoint`].
    pub fn set_ledger_signer(&mut self, signer: Arc<dyn Signer>, every: u64) {
        self.ledger_signer = Some(CheckpointConfig {
            signer,
            every: every.max(1),
        });
    }

    /// Runs `f` in one `BEGIN IMMEDIATE` transaction: it holds the write lock from the start,
    /// so what `f` reads cannot change before it writes (check-state-then-write is atomic
    /// across processes). Commits when `f` returns `Ok`, rolls everything back when it returns
    /// `Err`.
    ///
    /// ```
    /// use modelgate_store::{EntryKind, Ledger, SqliteStore};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// let mut store = SqliteStore::open_dir(dir.path())?;
    /// store.transaction(|tx| {
    ///     tx.append(EntryKind::Intake, "sha256:ab", br#"{"name":"m"}"#)?;
    ///     tx.append(EntryKind::Scan, "sha256:ab", br#"{"max_severity":null}"#)?;
    ///     Ok::<_, modelgate_store::StoreError>(())
    /// })?;
    /// assert_eq!(store.head()?.entries, 2);
    /// assert!(store.verify(None)?.intact());
    /// # Ok(())
    /// # }
    /// ```
    pub fn transaction<T, E: From<StoreError>>(
        &mut self,
        f: impl FnOnce(&mut StoreTx<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db_err(&self.path, "starting a transaction"))
            .map_err(E::from)?;
        let mut stx = StoreTx {
            tx,
            path: &self.path,
            checkpoints: self.ledger_signer.as_ref(),
        };
        let out = f(&mut stx)?;
        stx.tx
            .commit()
            .map_err(db_err(&self.path, "committing"))
            .map_err(E::from)?;
        Ok(out)
    }
}

/// An open write transaction on a [`SqliteStore`] ([`SqliteStore::transaction`]).
pub struct StoreTx<'s> {
    pub(crate) tx: Transaction<'s>,
    pub(crate) path: &'s Path,
    checkpoints: Option<&'s CheckpointConfig>,
}

impl fmt::Debug for StoreTx<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreTx").field("path", &self.path).finish()
    }
}

/// The head row: entry count, last hash, seq of the last checkpoint entry.
struct HeadRow {
    entries: u64,
    hash: [u8; 32],
    last_checkpoint: Option<u64>,
}

impl StoreTx<'_> {
    pub(crate) fn corrupt(&self, message: impl Into<String>) -> StoreError {
        StoreError::Corrupt {
            path: self.path.to_owned(),
            message: message.into(),
        }
    }

    fn head_row(&self) -> Result<HeadRow, StoreError> {
        read_head(&self.tx, self.path)
    }

    /// The chain head as of this transaction.
    pub fn head(&self) -> Result<LedgerHead, StoreError> {
        let h = self.head_row()?;
        Ok(LedgerHead {
            entries: h.entries,
            hash: to_hex(&h.hash),
        })
    }

    /// Appends an entry (and a signed checkpoint after it when one is due). `payload` must be
    /// JSON; it is stored and hashed byte for byte.
    pub fn append(
        &mut self,
        kind: EntryKind,
        subject: &str,
        payload: &[u8],
    ) -> Result<Entry, StoreError> {
        serde_json::from_slice::<serde::de::IgnoredAny>(payload)
            .map_err(|e| StoreError::InvalidPayload(e.to_string()))?;
        let head = self.head_row()?;
        let entry = self.insert(&head, kind, subject, payload)?;
        if let Some(cfg) = self.checkpoints {
            let since = match head.last_checkpoint {
                Some(cp) => entry.seq - cp,
                None => entry.seq + 1,
            };
            if kind != EntryKind::Checkpoint && since >= cfg.every {
                self.checkpoint_now()?;
            }
        }
        Ok(entry)
    }

    /// Appends a checkpoint over the current head. `Ok(None)` when the ledger is empty or ends
    /// in a checkpoint already.
    pub fn checkpoint_now(&mut self) -> Result<Option<Entry>, StoreError> {
        let cfg = self.checkpoints.ok_or(StoreError::NoLedgerKey)?;
        let head = self.head_row()?;
        let Some(last) = head.entries.checked_sub(1) else {
            return Ok(None);
        };
        if head.last_checkpoint == Some(last) {
            return Ok(None);
        }
        let payload = checkpoint::sign(last, &to_hex(&head.hash), cfg.signer.as_ref())?;
        let subject = format!("ledger:{last}");
        self.insert(&head, EntryKind::Checkpoint, &subject, &payload)
            .map(Some)
    }

    fn insert(
        &mut self,
        head: &HeadRow,
        kind: EntryKind,
        subject: &str,
        payload: &[u8],
    ) -> Result<Entry, StoreError> {
        let seq = head.entries;
        let time = now_rfc3339();
        let hash = to_hex(&entry_hash(
            &head.hash,
            seq,
            kind.as_str(),
            subject,
            &time,
            payload,
        ));
        let prev = to_hex(&head.hash);
        let seq_sql =
            i64::try_from(seq).map_err(|_| self.corrupt("ledger head: entry count too large"))?;
        let err = db_err(self.path, "appending to the ledger");
        self.tx
            .prepare_cached(
                "INSERT INTO ledger (seq, time, kind, subject, payload, prev, hash) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![
                    seq_sql,
                    time,
                    kind.as_str(),
                    subject,
                    payload,
                    prev,
                    hash
                ])
            })
            .map_err(&err)?;
        let last_checkpoint = if kind == EntryKind::Checkpoint {
            Some(seq_sql)
        } else {
            head.last_checkpoint.and_then(|c| i64::try_from(c).ok())
        };
        self.tx
            .prepare_cached(
                "UPDATE ledger_head SET entries = ?1, hash = ?2, last_checkpoint = ?3 \
                 WHERE one = 1",
            )
            .and_then(|mut stmt| stmt.execute(params![seq_sql + 1, hash, last_checkpoint]))
            .map_err(&err)?;
        Ok(Entry {
            seq,
            time,
            kind,
            subject: subject.to_owned(),
            payload: payload.to_vec(),
            prev,
            hash,
        })
    }
}

/// Reads the one-row `ledger_head` table.
fn read_head(conn: &rusqlite::Connection, path: &Path) -> Result<HeadRow, StoreError> {
    let corrupt = |message: &str| StoreError::Corrupt {
        path: path.to_owned(),
        message: format!("ledger_head table: {message}"),
    };
    let row: Option<(i64, String, Option<i64>)> = conn
        .prepare_cached("SELECT entries, hash, last_checkpoint FROM ledger_head WHERE one = 1")
        .and_then(|mut stmt| {
            stmt.query_row([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .optional()
        })
        .map_err(db_err(path, "reading the ledger head"))?;
    let (entries, hash, last) = row.ok_or_else(|| corrupt("missing row"))?;
    let entries = u64::try_from(entries).map_err(|_| corrupt("negative entry count"))?;
    let hash = decode_chain(&hash).ok_or_else(|| corrupt("head is not 64 hex digits"))?;
    let last_checkpoint = last
        .map(u64::try_from)
        .transpose()
        .map_err(|_| corrupt("negative checkpoint seq"))?;
    Ok(HeadRow {
        entries,
        hash,
        last_checkpoint,
    })
}

/// The recorded head, for readers outside a transaction.
pub(crate) fn head(conn: &rusqlite::Connection, path: &Path) -> Result<LedgerHead, StoreError> {
    let h = read_head(conn, path)?;
    Ok(LedgerHead {
        entries: h.entries,
        hash: to_hex(&h.hash),
    })
}
