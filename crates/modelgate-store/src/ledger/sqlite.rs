//! [`Ledger`] for [`SqliteStore`]: reads, streaming verification and export.

use std::io::Write;
use std::path::Path;

use modelgate_attest::PublicKey;
use modelgate_core::to_hex;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, Row};

use super::checkpoint;
use super::{
    BreakReason, Entry, EntryKind, LEDGER_GENESIS, Ledger, LedgerBreak, LedgerHead,
    LedgerVerification, entry_hash,
};
use crate::sqlite::db_err;
use crate::sqlite::samples::decode_chain;
use crate::{SqliteStore, StoreError};

const ENTRY_COLUMNS: &str = "seq, time, kind, subject, payload, prev, hash";

fn corrupt(path: &Path, message: String) -> StoreError {
    StoreError::Corrupt {
        path: path.to_owned(),
        message,
    }
}

/// A row's fields, borrowed from SQLite without copying.
struct RawEntry<'r> {
    seq: u64,
    time: &'r str,
    kind: &'r str,
    subject: &'r str,
    payload: &'r [u8],
    prev: &'r str,
    hash: &'r str,
}

fn text<'r>(path: &Path, row: &'r Row<'_>, i: usize, what: &str) -> Result<&'r str, StoreError> {
    match row.get_ref(i) {
        Ok(ValueRef::Text(b)) => std::str::from_utf8(b)
            .map_err(|_| corrupt(path, format!("ledger: {what} is not UTF-8"))),
        Ok(_) => Err(corrupt(path, format!("ledger: {what} is not text"))),
        Err(e) => Err(corrupt(path, format!("ledger: {what}: {e}"))),
    }
}

/// Reads a row selected with [`ENTRY_COLUMNS`]. The payload is taken as bytes whether stored
/// as a blob or (after tampering) as text, so verification hashes what is there.
fn raw<'r>(path: &Path, row: &'r Row<'_>) -> Result<RawEntry<'r>, StoreError> {
    let seq: i64 = row
        .get(0)
        .map_err(|e| corrupt(path, format!("ledger: seq: {e}")))?;
    let seq = u64::try_from(seq).map_err(|_| corrupt(path, "ledger: negative seq".into()))?;
    let Ok(ValueRef::Blob(payload) | ValueRef::Text(payload)) = row.get_ref(4) else {
        return Err(corrupt(
            path,
            format!("ledger: entry {seq}: payload is not a blob"),
        ));
    };
    Ok(RawEntry {
        seq,
        time: text(path, row, 1, "time")?,
        kind: text(path, row, 2, "kind")?,
        subject: text(path, row, 3, "subject")?,
        payload,
        prev: text(path, row, 5, "prev")?,
        hash: text(path, row, 6, "hash")?,
    })
}

fn entry(path: &Path, row: &Row<'_>) -> Result<Entry, StoreError> {
    let r = raw(path, row)?;
    let kind = r
        .kind
        .parse::<EntryKind>()
        .map_err(|e| corrupt(path, format!("ledger: entry {}: {e}", r.seq)))?;
    Ok(Entry {
        seq: r.seq,
        time: r.time.to_owned(),
        kind,
        subject: r.subject.to_owned(),
        payload: r.payload.to_vec(),
        prev: r.prev.to_owned(),
        hash: r.hash.to_owned(),
    })
}

/// Calls `f` with each row from seq `from`.
fn for_each_row(
    conn: &Connection,
    path: &Path,
    from: u64,
    f: &mut dyn FnMut(&Row<'_>) -> Result<bool, StoreError>,
) -> Result<(), StoreError> {
    let err = db_err(path, "reading the ledger");
    let sql = format!("SELECT {ENTRY_COLUMNS} FROM ledger WHERE seq >= ?1 ORDER BY seq");
    let mut stmt = conn.prepare_cached(&sql).map_err(&err)?;
    let from = i64::try_from(from).unwrap_or(i64::MAX);
    let mut rows = stmt.query([from]).map_err(&err)?;
    while let Some(row) = rows.next().map_err(&err)? {
        if !f(row)? {
            break;
        }
    }
    Ok(())
}

/// The streaming verifier: one row at a time, constant memory.
struct Verifier<'k> {
    key: Option<&'k PublicKey>,
    next_seq: u64,
    prev: [u8; 32],
    out: LedgerVerification,
}

impl Verifier<'_> {
    /// Checks one entry; `Some` is the first break.
    fn check(&mut self, e: &RawEntry<'_>) -> Option<LedgerBreak> {
        let seq = self.next_seq;
        let brk = |reason| Some(LedgerBreak { seq, reason });
        if e.seq != seq {
            return brk(BreakReason::Missing { found: e.seq });
        }
        if decode_chain(e.prev) != Some(self.prev) {
            return brk(BreakReason::PrevMismatch {
                stored: e.prev.to_owned(),
                expected: to_hex(&self.prev),
            });
        }
        let computed = entry_hash(&self.prev, seq, e.kind, e.subject, e.time, e.payload);
        if decode_chain(e.hash) != Some(computed) {
            return brk(BreakReason::HashMismatch {
                stored: e.hash.to_owned(),
                computed: to_hex(&computed),
            });
        }
        let Ok(kind) = e.kind.parse::<EntryKind>() else {
            return brk(BreakReason::UnknownKind(e.kind.to_owned()));
        };
        if kind == EntryKind::Checkpoint
            && let Some(reason) = self.check_checkpoint(e.payload)
        {
            return brk(reason);
        }
        self.prev = computed;
        self.next_seq += 1;
        self.out.entries += 1;
        None
    }

    /// A checkpoint entry at `next_seq` must sign the entry right before it.
    fn check_checkpoint(&mut self, payload: &[u8]) -> Option<BreakReason> {
        self.out.checkpoints += 1;
        let (statement, verified) = match checkpoint::open(payload, self.key) {
            Ok(x) => x,
            Err(why) => return Some(BreakReason::MalformedCheckpoint(why)),
        };
        let chain_head = to_hex(&self.prev);
        if Some(statement.seq) != self.next_seq.checked_sub(1) || statement.head != chain_head {
            return Some(BreakReason::CheckpointMismatch {
                signed_seq: statement.seq,
                signed_head: statement.head,
                chain_head,
            });
        }
        match verified {
            Some(false) => Some(BreakReason::CheckpointSignature),
            Some(true) => {
                self.out.checkpoints_verified += 1;
                self.out.signed_through = Some(statement.seq);
                None
            }
            None => None,
        }
    }
}

impl Ledger for SqliteStore {
    fn append(
        &mut self,
        kind: EntryKind,
        subject: &str,
        payload: &[u8],
    ) -> Result<Entry, StoreError> {
        self.transaction(|tx| tx.append(kind, subject, payload))
    }

    fn entries(&self, from: u64, limit: usize) -> Result<Vec<Entry>, StoreError> {
        let mut out = Vec::new();
        if limit == 0 {
            return Ok(out);
        }
        for_each_row(&self.conn, &self.path, from, &mut |row| {
            out.push(entry(&self.path, row)?);
            Ok(out.len() < limit)
        })?;
        Ok(out)
    }

    fn for_each_entry(
        &self,
        from: u64,
        f: &mut dyn FnMut(Entry) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        for_each_row(&self.conn, &self.path, from, &mut |row| {
            f(entry(&self.path, row)?)?;
            Ok(true)
        })
    }

    fn subject_entries(&self, subject: &str, limit: usize) -> Result<Vec<Entry>, StoreError> {
        let err = db_err(&self.path, "reading the ledger");
        let sql = format!(
            "SELECT {ENTRY_COLUMNS} FROM ledger WHERE subject = ?1 ORDER BY seq DESC LIMIT ?2"
        );
        let mut stmt = self.conn.prepare_cached(&sql).map_err(&err)?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut rows = stmt
            .query(rusqlite::params![subject, limit])
            .map_err(&err)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(&err)? {
            out.push(entry(&self.path, row)?);
        }
        out.reverse();
        Ok(out)
    }

    fn head(&self) -> Result<LedgerHead, StoreError> {
        super::tx::head(&self.conn, &self.path)
    }

    /// See [`Ledger::verify`]. Runs in one read transaction, so a concurrent writer's appends
    /// are either wholly seen or not at all (the head is read in the same snapshot).
    fn verify(&self, key: Option<&PublicKey>) -> Result<LedgerVerification, StoreError> {
        let err = db_err(&self.path, "reading the ledger");
        self.conn.execute_batch("BEGIN DEFERRED").map_err(&err)?;
        let result = self.verify_in_snapshot(key);
        // Ending a read transaction cannot lose anything; report the verification's result.
        let _ = self.conn.execute_batch("COMMIT");
        result
    }

    fn export_jsonl(&self, out: &mut dyn Write) -> Result<u64, StoreError> {
        let mut n = 0;
        self.for_each_entry(0, &mut |e| {
            let mut line = e.to_json().to_string();
            line.push('\n');
            out.write_all(line.as_bytes()).map_err(StoreError::Export)?;
            n += 1;
            Ok(())
        })?;
        out.flush().map_err(StoreError::Export)?;
        Ok(n)
    }

    fn checkpoint(&mut self) -> Result<Option<Entry>, StoreError> {
        if self.ledger_signer.is_none() {
            return Err(StoreError::NoLedgerKey);
        }
        // A method path would fix StoreTx's lifetime; the closure stays generic over it.
        #[allow(clippy::redundant_closure_for_method_calls)]
        self.transaction(|tx| tx.checkpoint_now())
    }
}

impl SqliteStore {
    fn verify_in_snapshot(
        &self,
        key: Option<&PublicKey>,
    ) -> Result<LedgerVerification, StoreError> {
        let mut v = Verifier {
            key,
            next_seq: 0,
            prev: LEDGER_GENESIS,
            out: LedgerVerification::default(),
        };
        let mut first_break = None;
        for_each_row(&self.conn, &self.path, 0, &mut |row| {
            let e = raw(&self.path, row)?;
            first_break = v.check(&e);
            Ok(first_break.is_none())
        })?;
        if first_break.is_none() {
            let head = super::tx::head(&self.conn, &self.path)?;
            let found_hash = to_hex(&v.prev);
            if head.entries != v.next_seq || head.hash != found_hash {
                first_break = Some(LedgerBreak {
                    seq: head.entries.min(v.next_seq),
                    reason: BreakReason::HeadMismatch {
                        recorded_entries: head.entries,
                        recorded_hash: head.hash,
                        found_entries: v.next_seq,
                        found_hash,
                    },
                });
            }
        }
        v.out.first_break = first_break;
        Ok(v.out)
    }
}
