//! Sample records: the hot-path append, streaming reads and chain verification.

use std::path::Path;

use modelgate_core::to_hex;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, Row, TransactionBehavior, params};

use super::{SqliteStore, db_err, is_unique_violation};
use crate::chain::{genesis, link};
use crate::{ChainBreak, SampleRow, StoreError};

const SELECT_SAMPLES: &str =
    "SELECT seq, sample_id, record, chain FROM samples WHERE run_id = ?1 ORDER BY seq";

fn corrupt(path: &Path, message: String) -> StoreError {
    StoreError::Corrupt {
        path: path.to_owned(),
        message,
    }
}

/// Decodes a stored 64-digit hex chain value.
pub(crate) fn decode_chain(hex: &str) -> Option<[u8; 32]> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        }
    }
    let bytes = hex.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (o, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
        *o = nibble(pair[0])? << 4 | nibble(pair[1])?;
    }
    Some(out)
}

/// One `samples` row selected with [`SELECT_SAMPLES`]. The record is read as bytes whether it
/// is stored as a blob or (after tampering) as text, so verification hashes what is there.
fn sample_from_row(path: &Path, run_id: &str, row: &Row<'_>) -> Result<SampleRow, StoreError> {
    let bad = |e: rusqlite::Error| corrupt(path, format!("run {run_id:?}: samples table: {e}"));
    let seq: i64 = row.get(0).map_err(bad)?;
    let seq = u64::try_from(seq)
        .map_err(|_| corrupt(path, format!("run {run_id:?}: negative sample seq")))?;
    let record = match row.get_ref(2).map_err(bad)? {
        ValueRef::Blob(b) | ValueRef::Text(b) => b.to_vec(),
        _ => {
            return Err(corrupt(
                path,
                format!("run {run_id:?}: sample record {seq} is not a blob"),
            ));
        }
    };
    Ok(SampleRow {
        seq,
        sample_id: row.get(1).map_err(bad)?,
        record,
        chain: row.get(3).map_err(bad)?,
    })
}

/// [`crate::Store::append_samples`]: one IMMEDIATE transaction per call, so the head read and
/// the head written cannot interleave with another writer's batch.
pub(super) fn append(
    conn: &mut Connection,
    path: &Path,
    run_id: &str,
    records: &[(String, Vec<u8>)],
) -> Result<Vec<String>, StoreError> {
    let err = db_err(path, "appending samples");
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(&err)?;
    let (count, head) = SqliteStore::head(&tx, path, run_id)?;
    let mut prev = decode_chain(&head).ok_or_else(|| {
        corrupt(
            path,
            format!("run {run_id:?}: chain head is not hex SHA-256"),
        )
    })?;
    let mut seq = count;
    let mut out = Vec::with_capacity(records.len());
    {
        let mut insert = tx
            .prepare_cached(
                "INSERT INTO samples (run_id, seq, sample_id, record, chain) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .map_err(&err)?;
        for (sample_id, record) in records {
            let next = link(&prev, record);
            let chain = to_hex(&next);
            if let Err(e) = insert.execute(params![run_id, seq, sample_id, record, chain]) {
                // Dropping `tx` rolls the whole batch back.
                return Err(
                    if is_unique_violation(&e) && recorded(&tx, path, run_id, sample_id)? {
                        StoreError::DuplicateSample {
                            run: run_id.to_owned(),
                            sample: sample_id.clone(),
                        }
                    } else {
                        err(e)
                    },
                );
            }
            prev = next;
            seq += 1;
            out.push(chain);
        }
    }
    let head = out.last().map_or(head, Clone::clone);
    tx.prepare_cached("UPDATE runs SET samples = ?2, chain_head = ?3 WHERE id = ?1")
        .and_then(|mut stmt| stmt.execute(params![run_id, seq, head]))
        .map_err(&err)?;
    tx.commit().map_err(&err)?;
    Ok(out)
}

/// Whether `sample_id` is recorded for the run (in this transaction's view). Asked only after
/// a UNIQUE failure, so the common insert pays for no extra lookup.
fn recorded(
    conn: &Connection,
    path: &Path,
    run_id: &str,
    sample_id: &str,
) -> Result<bool, StoreError> {
    conn.prepare_cached("SELECT 1 FROM samples WHERE run_id = ?1 AND sample_id = ?2")
        .and_then(|mut stmt| stmt.exists(params![run_id, sample_id]))
        .map_err(db_err(path, "appending samples"))
}

/// [`crate::Store::sample_ids`], in chain order.
pub(super) fn ids(conn: &Connection, path: &Path, run_id: &str) -> Result<Vec<String>, StoreError> {
    SqliteStore::head(conn, path, run_id)?;
    let err = db_err(path, "reading sample ids");
    let mut stmt = conn
        .prepare_cached("SELECT sample_id FROM samples WHERE run_id = ?1 ORDER BY seq")
        .map_err(&err)?;
    let mut rows = stmt.query([run_id]).map_err(&err)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(&err)? {
        out.push(
            row.get(0)
                .map_err(|e| corrupt(path, format!("run {run_id:?}: sample id: {e}")))?,
        );
    }
    Ok(out)
}

/// [`crate::Store::for_each_sample`]: one row in memory at a time.
pub(super) fn for_each(
    conn: &Connection,
    path: &Path,
    run_id: &str,
    f: &mut dyn FnMut(SampleRow) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    SqliteStore::head(conn, path, run_id)?;
    let err = db_err(path, "reading samples");
    let mut stmt = conn.prepare_cached(SELECT_SAMPLES).map_err(&err)?;
    let mut rows = stmt.query([run_id]).map_err(&err)?;
    while let Some(row) = rows.next().map_err(&err)? {
        f(sample_from_row(path, run_id, row)?)?;
    }
    Ok(())
}

/// [`crate::Store::verify_chain`], streaming: recomputes from genesis in `seq` order.
pub(super) fn verify(
    conn: &Connection,
    path: &Path,
    run_id: &str,
) -> Result<Option<ChainBreak>, StoreError> {
    // One read transaction, so the head and the rows are the same snapshot even while a
    // writer appends.
    let tx = conn
        .unchecked_transaction()
        .map_err(db_err(path, "verifying the chain"))?;
    // Read-only: dropping the transaction (a rollback) ends the snapshot.
    verify_in_snapshot(&tx, path, run_id)
}

fn verify_in_snapshot(
    conn: &Connection,
    path: &Path,
    run_id: &str,
) -> Result<Option<ChainBreak>, StoreError> {
    let (count, head) = SqliteStore::head(conn, path, run_id)?;
    let err = db_err(path, "verifying the chain");
    let mut stmt = conn.prepare_cached(SELECT_SAMPLES).map_err(&err)?;
    let mut rows = stmt.query([run_id]).map_err(&err)?;
    let mut prev = genesis(run_id);
    let mut position: u64 = 0;
    let mut first_gap: Option<(u64, u64)> = None;
    while let Some(row) = rows.next().map_err(&err)? {
        let sample = sample_from_row(path, run_id, row)?;
        prev = link(&prev, &sample.record);
        let expected = to_hex(&prev);
        if sample.chain != expected {
            return Ok(Some(ChainBreak {
                seq: position,
                sample_id: sample.sample_id,
                stored: sample.chain,
                expected,
            }));
        }
        if sample.seq != position && first_gap.is_none() {
            first_gap = Some((position, sample.seq));
        }
        position += 1;
    }
    let expected = to_hex(&prev);
    if head != expected {
        return Ok(Some(ChainBreak {
            seq: position,
            sample_id: String::new(),
            stored: head,
            expected,
        }));
    }
    if let Some((position, seq)) = first_gap {
        return Err(corrupt(
            path,
            format!("run {run_id:?}: record {position} is numbered {seq} (rows renumbered)"),
        ));
    }
    if u64::try_from(count).ok() != Some(position) {
        return Err(corrupt(
            path,
            format!("run {run_id:?}: sample count says {count} but {position} records are stored"),
        ));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_chain_round_trips_and_rejects_bad_hex() {
        let value = genesis("r");
        assert_eq!(decode_chain(&to_hex(&value)), Some(value));
        assert_eq!(decode_chain("00"), None);
        assert_eq!(decode_chain(&"g".repeat(64)), None);
        assert_eq!(decode_chain(&"A".repeat(64)), None);
    }
}
