//! The registry in SQLite: reads on a [`SqliteStore`], writes inside a [`StoreTx`].

use std::path::Path;

use modelgate_core::Severity;
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde_json::json;

use super::{
    Artifact, ArtifactState, ContentKind, NewArtifact, RejectedDigest, ScanSummary, is_valid_digest,
};
use crate::ledger::{Entry, EntryKind, StoreTx, now_rfc3339};
use crate::sqlite::{db_err, is_unique_violation};
use crate::{SqliteStore, StoreError};

const ARTIFACT_COLUMNS: &str = "digest, name, state, content_kind, quarantine_path, source, \
     submitted_at, updated_at, files, bytes, scan_max_severity, scan_findings, scan_errors, \
     claimed_results";

fn corrupt(path: &Path, message: String) -> StoreError {
    StoreError::Corrupt {
        path: path.to_owned(),
        message,
    }
}

fn count(path: &Path, digest: &str, what: &str, v: i64) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| corrupt(path, format!("artifact {digest}: negative {what}")))
}

fn artifact_from_row(path: &Path, row: &Row<'_>) -> Result<Artifact, StoreError> {
    let bad = |e: rusqlite::Error| corrupt(path, format!("artifacts table: {e}"));
    let digest: String = row.get(0).map_err(bad)?;
    let state: String = row.get(2).map_err(bad)?;
    let state = state
        .parse::<ArtifactState>()
        .map_err(|e| corrupt(path, format!("artifact {digest}: {e}")))?;
    let kind: String = row.get(3).map_err(bad)?;
    let content_kind = match kind.as_str() {
        "file" => ContentKind::File,
        "directory" => ContentKind::Directory,
        _ => {
            return Err(corrupt(
                path,
                format!("artifact {digest}: unknown content kind"),
            ));
        }
    };
    let severity: Option<String> = row.get(10).map_err(bad)?;
    let max_severity = severity
        .map(|s| s.parse::<Severity>())
        .transpose()
        .map_err(|e| corrupt(path, format!("artifact {digest}: {e}")))?;
    Ok(Artifact {
        name: row.get(1).map_err(bad)?,
        state,
        content_kind,
        quarantine_path: row.get(4).map_err(bad)?,
        source: row.get(5).map_err(bad)?,
        submitted_at: row.get(6).map_err(bad)?,
        updated_at: row.get(7).map_err(bad)?,
        files: count(path, &digest, "file count", row.get(8).map_err(bad)?)?,
        bytes: count(path, &digest, "byte count", row.get(9).map_err(bad)?)?,
        scan: ScanSummary {
            max_severity,
            findings: count(path, &digest, "finding count", row.get(11).map_err(bad)?)?,
            errors: count(path, &digest, "error count", row.get(12).map_err(bad)?)?,
        },
        claimed_results: row.get(13).map_err(bad)?,
        digest,
    })
}

fn query_artifacts(
    conn: &Connection,
    path: &Path,
    where_: &str,
    args: impl rusqlite::Params,
) -> Result<Vec<Artifact>, StoreError> {
    let err = db_err(path, "reading the registry");
    let sql = format!("SELECT {ARTIFACT_COLUMNS} FROM artifacts {where_}");
    let mut stmt = conn.prepare_cached(&sql).map_err(&err)?;
    let mut rows = stmt.query(args).map_err(&err)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(&err)? {
        out.push(artifact_from_row(path, row)?);
    }
    Ok(out)
}

fn artifact(conn: &Connection, path: &Path, digest: &str) -> Result<Option<Artifact>, StoreError> {
    Ok(query_artifacts(conn, path, "WHERE digest = ?1", [digest])?
        .into_iter()
        .next())
}

fn rejected(
    conn: &Connection,
    path: &Path,
    digest: &str,
) -> Result<Option<RejectedDigest>, StoreError> {
    let row: Option<(String, String, String, String, i64)> = conn
        .prepare_cached(
            "SELECT digest, name, reason, rejected_at, ledger_seq FROM rejected_digests \
             WHERE digest = ?1",
        )
        .and_then(|mut stmt| {
            stmt.query_row([digest], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })
            .optional()
        })
        .map_err(db_err(path, "reading the rejected digests"))?;
    row.map(|(digest, name, reason, rejected_at, seq)| {
        Ok(RejectedDigest {
            ledger_seq: count(path, &digest, "ledger seq", seq)?,
            digest,
            name,
            reason,
            rejected_at,
        })
    })
    .transpose()
}

impl SqliteStore {
    /// The artifact with `digest`, if registered.
    pub fn artifact(&self, digest: &str) -> Result<Option<Artifact>, StoreError> {
        artifact(&self.conn, &self.path, digest)
    }

    /// Artifacts matching `name_or_digest`: the one with that digest when it is a digest,
    /// else every artifact with that name, oldest first.
    pub fn find_artifacts(&self, name_or_digest: &str) -> Result<Vec<Artifact>, StoreError> {
        if is_valid_digest(name_or_digest) {
            return Ok(self.artifact(name_or_digest)?.into_iter().collect());
        }
        query_artifacts(
            &self.conn,
            &self.path,
            "WHERE name = ?1 ORDER BY submitted_at, digest",
            [name_or_digest],
        )
    }

    /// Artifacts, optionally only those in `state`, by name then intake time, at most `limit`.
    pub fn artifacts(
        &self,
        state: Option<ArtifactState>,
        limit: usize,
    ) -> Result<Vec<Artifact>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        match state {
            Some(s) => query_artifacts(
                &self.conn,
                &self.path,
                "WHERE state = ?1 ORDER BY name, submitted_at LIMIT ?2",
                params![s.as_str(), limit],
            ),
            None => query_artifacts(
                &self.conn,
                &self.path,
                "ORDER BY name, submitted_at LIMIT ?1",
                [limit],
            ),
        }
    }

    /// The stored scan report (JSON) of an artifact.
    pub fn scan_report(&self, digest: &str) -> Result<Option<String>, StoreError> {
        self.conn
            .prepare_cached("SELECT scan_report FROM artifacts WHERE digest = ?1")
            .and_then(|mut stmt| stmt.query_row([digest], |r| r.get(0)).optional())
            .map_err(db_err(&self.path, "reading the scan report"))
    }

    /// The rejection of `digest`, if it was ever rejected.
    pub fn rejected_digest(&self, digest: &str) -> Result<Option<RejectedDigest>, StoreError> {
        rejected(&self.conn, &self.path, digest)
    }
}

impl StoreTx<'_> {
    /// The artifact with `digest`, as of this transaction.
    pub fn artifact(&self, digest: &str) -> Result<Option<Artifact>, StoreError> {
        artifact(&self.tx, self.path, digest)
    }

    /// The rejection of `digest`, as of this transaction.
    pub fn rejected_digest(&self, digest: &str) -> Result<Option<RejectedDigest>, StoreError> {
        rejected(&self.tx, self.path, digest)
    }

    /// Registers an artifact in state quarantined. Refuses a rejected digest
    /// ([`StoreError::RejectedDigest`]) and a registered one ([`StoreError::DuplicateArtifact`]).
    /// The caller appends the intake and scan entries in the same transaction.
    pub fn insert_artifact(&mut self, a: &NewArtifact) -> Result<(), StoreError> {
        if !is_valid_digest(&a.digest) {
            return Err(StoreError::Database {
                path: self.path.to_owned(),
                message: format!("registering {:?}: not a sha256: digest", a.digest),
            });
        }
        if let Some(r) = self.rejected_digest(&a.digest)? {
            return Err(StoreError::RejectedDigest {
                digest: r.digest,
                reason: r.reason,
            });
        }
        if let Some(existing) = self.artifact(&a.digest)? {
            return Err(StoreError::DuplicateArtifact {
                digest: existing.digest,
                name: existing.name,
            });
        }
        let to_i64 = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        self.tx
            .prepare_cached(
                "INSERT INTO artifacts (digest, name, state, content_kind, quarantine_path, \
                 source, submitted_at, updated_at, files, bytes, scan_max_severity, \
                 scan_findings, scan_errors, scan_report, claimed_results) \
                 VALUES (?1, ?2, 'quarantined', ?3, ?4, ?5, ?6, ?6, ?7, ?8, ?9, ?10, ?11, ?12, \
                 ?13)",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![
                    a.digest,
                    a.name,
                    a.content_kind.as_str(),
                    a.quarantine_path,
                    a.source,
                    a.submitted_at,
                    to_i64(a.files),
                    to_i64(a.bytes),
                    a.scan.max_severity.map(Severity::as_str),
                    to_i64(a.scan.findings),
                    to_i64(a.scan.errors),
                    a.scan_report,
                    a.claimed_results,
                ])
            })
            .map_err(|e| {
                if is_unique_violation(&e) {
                    StoreError::DuplicateArtifact {
                        digest: a.digest.clone(),
                        name: a.name.clone(),
                    }
                } else {
                    db_err(self.path, "registering the artifact")(e)
                }
            })?;
        Ok(())
    }

    /// Moves an artifact one stage forward (`from` → `to`) and appends a
    /// [`EntryKind::Promotion`] entry `{"from", "to", "evidence"}`. Fails with
    /// [`StoreError::StateConflict`] when the artifact is no longer in `from` — the state the
    /// caller decided from — so concurrent decisions cannot both take effect.
    pub fn promote(
        &mut self,
        digest: &str,
        from: ArtifactState,
        to: ArtifactState,
        evidence: &serde_json::Value,
    ) -> Result<Entry, StoreError> {
        if to == ArtifactState::Rejected {
            return Err(StoreError::InvalidTransition {
                digest: digest.to_owned(),
                from,
                to,
            });
        }
        let payload = json!({ "from": from, "to": to, "evidence": evidence });
        self.change_state(digest, from, to, EntryKind::Promotion, &payload)
    }

    /// Rejects an artifact that is in state `from`: sets it to rejected, appends a
    /// [`EntryKind::Rejection`] entry `{"from", "to", "reason", "evidence"}` and records the
    /// digest as rejected for good.
    pub fn reject(
        &mut self,
        digest: &str,
        from: ArtifactState,
        reason: &str,
        evidence: &serde_json::Value,
    ) -> Result<Entry, StoreError> {
        let to = ArtifactState::Rejected;
        let payload = json!({ "from": from, "to": to, "reason": reason, "evidence": evidence });
        let entry = self.change_state(digest, from, to, EntryKind::Rejection, &payload)?;
        let name = self
            .artifact(digest)?
            .map(|a| a.name)
            .ok_or_else(|| StoreError::UnknownArtifact(digest.to_owned()))?;
        let seq = i64::try_from(entry.seq).unwrap_or(i64::MAX);
        self.tx
            .prepare_cached(
                "INSERT INTO rejected_digests (digest, name, reason, rejected_at, ledger_seq) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .and_then(|mut stmt| stmt.execute(params![digest, name, reason, entry.time, seq]))
            .map_err(db_err(self.path, "recording the rejection"))?;
        Ok(entry)
    }

    fn change_state(
        &mut self,
        digest: &str,
        expected: ArtifactState,
        to: ArtifactState,
        kind: EntryKind,
        payload: &serde_json::Value,
    ) -> Result<Entry, StoreError> {
        let current = self
            .artifact(digest)?
            .ok_or_else(|| StoreError::UnknownArtifact(digest.to_owned()))?;
        if current.state != expected {
            return Err(StoreError::StateConflict {
                digest: digest.to_owned(),
                expected,
                found: current.state,
            });
        }
        if !current.state.can_move_to(to) {
            return Err(StoreError::InvalidTransition {
                digest: digest.to_owned(),
                from: current.state,
                to,
            });
        }
        self.tx
            .prepare_cached("UPDATE artifacts SET state = ?2, updated_at = ?3 WHERE digest = ?1")
            .and_then(|mut stmt| stmt.execute(params![digest, to.as_str(), now_rfc3339()]))
            .map_err(db_err(self.path, "changing the artifact state"))?;
        let bytes = serde_json::to_vec(payload).map_err(|e| self.corrupt(e.to_string()))?;
        self.append(kind, digest, &bytes)
    }
}
