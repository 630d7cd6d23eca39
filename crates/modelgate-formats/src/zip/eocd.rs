//! Finding the end-of-central-directory record (and the ZIP64 records it implies), and checking
//! that it points at a central directory.

use crate::ByteSource;

use super::{
    CENTRAL_SIG, EOCD_LEN, EOCD_SIG, EOCD64_LEN, EOCD64_SIG, Issue, IssueKind, LOCATOR_LEN,
    LOCATOR_SIG, MAX_COMMENT, ZipError, read, u16_at, u32_at, u64_at,
};

/// Where an end record says the central directory is.
#[derive(Debug, Clone)]
pub(super) struct Layout {
    pub(super) eocd: u64,
    pub(super) zip64_record: Option<u64>,
    pub(super) cd_offset: u64,
    pub(super) cd_size: u64,
    pub(super) declared_entries: u64,
    pub(super) shift: u64,
    pub(super) exact_comment: bool,
    pub(super) issues: Vec<Issue>,
}

/// Reads the end record at `pos` (and the ZIP64 records it implies) and checks that it points at
/// a central directory. `Err` says why not.
fn probe(src: &dyn ByteSource, pos: u64, tail: &[u8], tail_start: u64) -> Result<Layout, String> {
    let rel = (pos - tail_start) as usize;
    let rec = tail
        .get(rel..rel + EOCD_LEN as usize)
        .ok_or("truncated end record")?;
    let field16 = |at| u16_at(rec, at).unwrap_or(0);
    let field32 = |at| u32_at(rec, at).unwrap_or(0);
    let comment_len = u64::from(field16(20));
    let total = src.len();
    let comment_end = pos + EOCD_LEN + comment_len;
    if comment_end > total {
        return Err(format!(
            "its comment ({comment_len} bytes) runs past the end of the file"
        ));
    }
    let mut layout = Layout {
        eocd: pos,
        zip64_record: None,
        cd_offset: u64::from(field32(16)),
        cd_size: u64::from(field32(12)),
        declared_entries: u64::from(field16(10)),
        shift: 0,
        exact_comment: comment_end == total,
        issues: Vec::new(),
    };
    if field16(4) != 0 || field16(6) != 0 {
        return Err("multi-disk archives are not supported".to_owned());
    }
    if field16(8) != field16(10) {
        layout.issues.push(Issue {
            offset: pos,
            entry: None,
            kind: IssueKind::EntryCountMismatch {
                declared: u64::from(field16(10)),
                found: u64::from(field16(8)),
            },
        });
    }
    // ZIP64: a locator immediately before the end record.
    let mut record_end = pos;
    if pos >= LOCATOR_LEN {
        let loc_pos = pos - LOCATOR_LEN;
        let loc_rel = loc_pos.checked_sub(tail_start).map(|r| r as usize);
        let loc = match loc_rel.and_then(|r| tail.get(r..r + LOCATOR_LEN as usize)) {
            Some(l) => Some(l.to_vec()),
            None => src.read_vec(loc_pos, LOCATOR_LEN, LOCATOR_LEN).ok(),
        };
        if let Some(loc) = loc.filter(|l| l.starts_with(LOCATOR_SIG)) {
            match zip64_record(src, &loc, loc_pos) {
                Ok((rec_pos, rec)) => {
                    layout.zip64_record = Some(rec_pos);
                    layout.declared_entries = u64_at(&rec, 32).unwrap_or(0);
                    layout.cd_size = u64_at(&rec, 40).unwrap_or(0);
                    layout.cd_offset = u64_at(&rec, 48).unwrap_or(0);
                    record_end = rec_pos;
                    if u64_at(&rec, 24) != u64_at(&rec, 32) {
                        layout.issues.push(Issue {
                            offset: rec_pos,
                            entry: None,
                            kind: IssueKind::EntryCountMismatch {
                                declared: layout.declared_entries,
                                found: u64_at(&rec, 24).unwrap_or(0),
                            },
                        });
                    }
                }
                Err(reason) => layout.issues.push(Issue {
                    offset: loc_pos,
                    entry: None,
                    kind: IssueKind::Zip64Malformed { reason },
                }),
            }
        }
    }
    // The central directory ends where the end records begin; if it is not at its declared
    // offset but exactly before them, bytes were prepended (Python's zipfile applies the shift).
    let cd_end = layout
        .cd_offset
        .checked_add(layout.cd_size)
        .ok_or("central directory offset + size overflows")?;
    if cd_end > record_end {
        return Err(format!(
            "central directory [{}, {cd_end}) overlaps the end records at {record_end}",
            layout.cd_offset
        ));
    }
    let at_declared = has_central_sig(
        src,
        layout.cd_offset,
        layout.declared_entries,
        layout.cd_size,
    );
    let gap = record_end - cd_end;
    if !at_declared
        && gap > 0
        && has_central_sig(
            src,
            layout.cd_offset + gap,
            layout.declared_entries,
            layout.cd_size,
        )
    {
        layout.shift = gap;
        layout.cd_offset += gap;
        layout.issues.push(Issue {
            offset: layout.cd_offset,
            entry: None,
            kind: IssueKind::CentralDirectoryShifted { by: gap },
        });
    } else if !at_declared {
        return Err(format!(
            "no central directory entry at offset {}",
            layout.cd_offset
        ));
    } else if gap > 0 {
        layout.issues.push(Issue {
            offset: cd_end,
            entry: None,
            kind: IssueKind::CentralDirectorySize {
                reason: format!(
                    "{gap} bytes lie between the end of the central directory and the end records"
                ),
            },
        });
    }
    Ok(layout)
}

fn has_central_sig(src: &dyn ByteSource, offset: u64, entries: u64, size: u64) -> bool {
    // An empty archive has an empty central directory, wherever it claims to be.
    if entries == 0 && size == 0 {
        return true;
    }
    let mut sig = [0u8; 4];
    src.read_at(offset, &mut sig).is_ok() && &sig == CENTRAL_SIG
}

/// Reads the ZIP64 end record the locator names (or, as Python does, the one just before the
/// locator).
fn zip64_record(src: &dyn ByteSource, loc: &[u8], loc_pos: u64) -> Result<(u64, Vec<u8>), String> {
    if u32_at(loc, 16) != Some(1) || u32_at(loc, 4) != Some(0) {
        return Err("multi-disk ZIP64 locator".to_owned());
    }
    let named = u64_at(loc, 8).unwrap_or(u64::MAX);
    let before = loc_pos.checked_sub(EOCD64_LEN);
    let mut tried = Vec::new();
    for pos in std::iter::once(named).chain(before) {
        if tried.contains(&pos) {
            continue;
        }
        tried.push(pos);
        let fits = pos
            .checked_add(EOCD64_LEN)
            .is_some_and(|end| end <= loc_pos);
        let rec = src
            .read_vec(pos, EOCD64_LEN, EOCD64_LEN)
            .ok()
            .filter(|rec| fits && rec.starts_with(EOCD64_SIG));
        if let Some(rec) = rec {
            if u32_at(&rec, 16) != Some(0) || u32_at(&rec, 20) != Some(0) {
                return Err("multi-disk ZIP64 end record".to_owned());
            }
            return Ok((pos, rec));
        }
    }
    Err(format!(
        "no ZIP64 end record at offset {named} named by the locator"
    ))
}

/// Finds the end record: the last one whose comment reaches the end of the file and that points
/// at a central directory, else the last that points at one at all.
pub(super) fn locate(src: &dyn ByteSource) -> Result<Layout, ZipError> {
    let total = src.len();
    let tail_len = total.min(MAX_COMMENT + EOCD_LEN);
    let tail_start = total - tail_len;
    let tail = read(src, tail_start, tail_len)?;
    let mut valid: Vec<Layout> = Vec::new();
    let mut last_error: Option<(u64, String)> = None;
    let positions = tail
        .windows(4)
        .enumerate()
        .filter(|(_, w)| *w == EOCD_SIG)
        .map(|(i, _)| tail_start + i as u64)
        .filter(|pos| pos + EOCD_LEN <= total);
    for pos in positions.rev() {
        match probe(src, pos, &tail, tail_start) {
            Ok(layout) => valid.push(layout),
            Err(reason) => {
                if last_error.is_none() {
                    last_error = Some((pos, reason));
                }
            }
        }
    }
    let exact: Vec<&Layout> = valid.iter().filter(|l| l.exact_comment).collect();
    let mut chosen = match exact.first() {
        Some(l) => (*l).clone(),
        None => match valid.first() {
            Some(l) => l.clone(),
            None => {
                return Err(match last_error {
                    Some((offset, reason)) => ZipError::BadEndRecord { offset, reason },
                    None => ZipError::NoEndRecord {
                        offset: tail_start,
                        searched: tail_len,
                    },
                });
            }
        },
    };
    // Competing records matter only when they describe different central directories.
    let disagree = exact
        .iter()
        .any(|l| l.cd_offset != chosen.cd_offset || l.declared_entries != chosen.declared_entries);
    if disagree {
        chosen.issues.push(Issue {
            offset: chosen.eocd,
            entry: None,
            kind: IssueKind::MultipleEndRecords { count: exact.len() },
        });
    }
    Ok(chosen)
}
