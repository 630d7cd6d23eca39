//! A zip walker over a random-access [`ByteSource`], reading only the end records, the central
//! directory and each member's local header, so multi-GB checkpoints cost a few reads.
//!
//! [`ZipArchive::parse`] finds the end-of-central-directory record (ZIP64 too), lists the central
//! directory, validates every local header against its central entry and computes where each
//! member's data starts. The tricks hostile zips use to show a scanner one thing and a loader
//! another are described as [`Issue`]s, not errors: duplicate names, header mismatches,
//! encryption, unsupported methods, overlapping or out-of-range data, absurd declared ratios,
//! path tricks, prepended data, count mismatches, competing end records. A [`ZipError`] means
//! no central directory could be read at all. [`member_data`] opens a member: stored members are
//! a window on the source (no copy), compressed ones are expanded in memory within
//! [`crate::compress::Caps`].
//!
//! ```
//! use modelgate_core::Limits;
//! use modelgate_formats::zip::ZipArchive;
//!
//! // An empty archive: just an end-of-central-directory record.
//! let empty = b"PK\x05\x06\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0";
//! let zip = ZipArchive::parse(&empty.as_slice(), &Limits::default()).unwrap();
//! assert!(zip.entries.is_empty());
//! ```

mod eocd;
mod member;
mod names;

use std::collections::HashMap;

use modelgate_core::Limits;

use crate::{ByteSource, SourceError};

use eocd::{Layout, locate};

pub use member::{MemberData, MemberError, crc32, member_data};
pub use names::{PathIssue, case_fold, normalise, path_issues, top_folder};

const EOCD_SIG: &[u8; 4] = b"PK\x05\x06";
const EOCD_LEN: u64 = 22;
const LOCATOR_SIG: &[u8; 4] = b"PK\x06\x07";
const LOCATOR_LEN: u64 = 20;
const EOCD64_SIG: &[u8; 4] = b"PK\x06\x06";
const EOCD64_LEN: u64 = 56;
const CENTRAL_SIG: &[u8; 4] = b"PK\x01\x02";
const CENTRAL_LEN: usize = 46;
const LOCAL_SIG: &[u8; 4] = b"PK\x03\x04";
const LOCAL_LEN: u64 = 30;
const MAX_COMMENT: u64 = 0xffff;
const ZIP64_EXTRA: u16 = 0x0001;

/// General-purpose flag bit 0: the member is encrypted.
pub const FLAG_ENCRYPTED: u16 = 1;
/// Flag bit 3: sizes and CRC follow the data in a data descriptor.
pub const FLAG_DATA_DESCRIPTOR: u16 = 1 << 3;
/// Flag bit 6: strong encryption.
pub const FLAG_STRONG_ENCRYPTION: u16 = 1 << 6;
/// Flag bit 11: the name is UTF-8.
pub const FLAG_UTF8: u16 = 1 << 11;

/// Compression methods [`member_data`] can expand: stored, deflate, bzip2, LZMA, Zstandard.
pub const SUPPORTED_METHODS: [u16; 5] = [0, 8, 12, 14, 93];

/// The central directory could not be located or read.
#[derive(Debug, thiserror::Error)]
pub enum ZipError {
    /// No end-of-central-directory signature in the last 64 KiB + 22 bytes.
    #[error("no end-of-central-directory record in the {searched} bytes from offset {offset}")]
    NoEndRecord {
        /// Where the searched tail starts.
        offset: u64,
        /// How many trailing bytes were searched.
        searched: u64,
    },
    /// End records were found but none points at a readable central directory.
    #[error(
        "end-of-central-directory record at offset {offset} does not point at a central directory: {reason}"
    )]
    BadEndRecord {
        /// Offset of the last end record tried.
        offset: u64,
        /// What was wrong.
        reason: String,
    },
    /// A read of the source failed.
    #[error("cannot read the archive at offset {offset}: {source}")]
    Read {
        /// Where the read started.
        offset: u64,
        /// The underlying error.
        #[source]
        source: SourceError,
    },
}

impl ZipError {
    /// The byte offset the error refers to.
    pub fn offset(&self) -> u64 {
        match self {
            ZipError::NoEndRecord { offset, .. }
            | ZipError::BadEndRecord { offset, .. }
            | ZipError::Read { offset, .. } => *offset,
        }
    }
}

/// One central directory entry, with what its local header told us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Position in the central directory (0-based).
    pub index: usize,
    /// The name as stored.
    pub raw_name: Vec<u8>,
    /// The name decoded as UTF-8 (invalid bytes replaced), for display and matching.
    pub name: String,
    /// Offset of the central directory record.
    pub central_offset: u64,
    /// "Version made by" (high byte: host system, 3 = Unix).
    pub version_made_by: u16,
    /// General-purpose flags.
    pub flags: u16,
    /// Compression method.
    pub method: u16,
    /// CRC-32 of the expanded data.
    pub crc32: u32,
    /// Compressed size (ZIP64 resolved).
    pub compressed_size: u64,
    /// Expanded size (ZIP64 resolved).
    pub uncompressed_size: u64,
    /// Absolute offset of the local header in the source (ZIP64 and any prepended-data shift
    /// resolved).
    pub local_header_offset: u64,
    /// External attributes (Unix mode in the high 16 bits when made on Unix).
    pub external_attributes: u32,
    /// Where the member's data starts, once its local header was read; `None` when the local
    /// header is missing or unreadable.
    pub data_offset: Option<u64>,
}

impl Entry {
    /// A directory entry (name ends with `/`).
    pub fn is_dir(&self) -> bool {
        self.raw_name.last() == Some(&b'/')
    }

    /// Flagged as encrypted (traditional or strong), or using the AES method (99).
    pub fn is_encrypted(&self) -> bool {
        self.flags & (FLAG_ENCRYPTED | FLAG_STRONG_ENCRYPTION) != 0 || self.method == 99
    }

    /// A Unix symbolic link (made on Unix with mode `S_IFLNK`).
    pub fn is_symlink(&self) -> bool {
        self.version_made_by >> 8 == 3 && (self.external_attributes >> 16) & 0o170_000 == 0o120_000
    }

    /// The end of the member's compressed data, when its start is known.
    pub fn data_end(&self) -> Option<u64> {
        self.data_offset?.checked_add(self.compressed_size)
    }
}

/// How two member names collide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DuplicateKind {
    /// Byte-identical names.
    Exact,
    /// Different bytes, same path once `.`/`..`/`\`/`//` are normalised (`a/./b` vs `a/b`).
    Normalised,
    /// Different only in letter case: the same file on a case-insensitive file system.
    CaseFolded,
}

/// Which bound a member's data runs past.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    /// The start of the central directory.
    CentralDirectory,
    /// The end of the source.
    EndOfFile,
}

/// Something about the archive a scanner must not ignore. `entry` is the index of the member
/// concerned, if any; `offset` is where in the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    /// Byte offset in the source.
    pub offset: u64,
    /// The member concerned.
    pub entry: Option<usize>,
    /// What was seen.
    pub kind: IssueKind,
}

/// The kinds of [`Issue`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IssueKind {
    /// More than one end record whose comment reaches the end of the file points at a valid
    /// central directory; readers that pick differently see different archives.
    MultipleEndRecords {
        /// How many such records.
        count: usize,
    },
    /// The ZIP64 locator or record is missing or invalid.
    Zip64Malformed {
        /// What was wrong.
        reason: String,
    },
    /// The central directory is not where the end record says but `by` bytes later: data was
    /// prepended and offsets were not adjusted (self-extracting archives, polyglots).
    CentralDirectoryShifted {
        /// The shift applied to every offset.
        by: u64,
    },
    /// `len` bytes precede the first local header.
    PrependedData {
        /// How many bytes.
        len: u64,
    },
    /// The end record's entry count differs from the entries in the central directory.
    EntryCountMismatch {
        /// What the end record says.
        declared: u64,
        /// How many entries were parsed.
        found: u64,
    },
    /// The central directory's declared size does not match its entries or its position.
    CentralDirectorySize {
        /// What was wrong.
        reason: String,
    },
    /// A central directory entry is truncated or malformed; listing stopped there.
    CentralEntryMalformed {
        /// What was wrong.
        reason: String,
    },
    /// A limit stopped the listing.
    LimitReached {
        /// Which limit and where.
        what: String,
    },
    /// This entry's name collides with entry `first`'s.
    DuplicateName {
        /// The earlier entry.
        first: usize,
        /// How they collide.
        kind: DuplicateKind,
    },
    /// The local header is missing, unreadable or has a bad signature.
    LocalHeaderMissing {
        /// What was wrong.
        reason: String,
    },
    /// The local header disagrees with the central entry on `field`.
    LocalHeaderMismatch {
        /// `name`, `method`, `flags`, `crc32`, `compressed size` or `uncompressed size`.
        field: &'static str,
        /// The central directory's value.
        central: String,
        /// The local header's value.
        local: String,
    },
    /// The member is encrypted.
    Encrypted {
        /// Strong encryption (flag bit 6) or AES (method 99).
        strong: bool,
    },
    /// The compression method is not one [`member_data`] can expand.
    UnsupportedMethod {
        /// The method number.
        method: u16,
    },
    /// A stored member whose compressed and expanded sizes differ.
    StoredSizeMismatch,
    /// The member's bytes (local header and data) overlap member `other`'s.
    OverlappingData {
        /// The other member.
        other: usize,
    },
    /// The member's data ends at `end`, past `bound` (at `limit`).
    DataOutOfBounds {
        /// End of the member's data.
        end: u64,
        /// What it runs past.
        bound: Bound,
        /// Where that bound is.
        limit: u64,
    },
    /// The declared sizes give an expansion ratio above the limit.
    DeclaredRatio {
        /// Declared compressed size.
        compressed: u64,
        /// Declared expanded size.
        uncompressed: u64,
    },
    /// The member's name has a path trick.
    Path(PathIssue),
    /// The member is a Unix symbolic link.
    Symlink,
    /// `len` bytes after this member's data are listed by no entry (beyond a data descriptor).
    UnlistedData {
        /// Length of the gap.
        len: u64,
        /// The gap holds a local header signature: a member hidden from central-directory
        /// readers but seen by streaming ones.
        hidden_header: bool,
    },
}

/// A parsed zip archive: its entries and everything suspicious about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZipArchive {
    /// Offset of the end-of-central-directory record used.
    pub end_record_offset: u64,
    /// The end record's comment ends exactly at the end of the source, as the format requires
    /// (false for a zip followed by other data, e.g. stored inside another container).
    pub end_record_exact: bool,
    /// Offset of the ZIP64 end record, when one was used.
    pub zip64_record_offset: Option<u64>,
    /// Absolute offset of the central directory.
    pub central_directory_offset: u64,
    /// Declared size of the central directory.
    pub central_directory_size: u64,
    /// Bytes prepended before the archive that offsets do not account for (usually 0).
    pub shift: u64,
    /// Entries in central directory order.
    pub entries: Vec<Entry>,
    /// What is suspicious, in discovery order.
    pub issues: Vec<Issue>,
}

fn u16_at(buf: &[u8], at: usize) -> Option<u16> {
    let b = buf.get(at..at.checked_add(2)?)?;
    b.try_into().ok().map(u16::from_le_bytes)
}

fn u32_at(buf: &[u8], at: usize) -> Option<u32> {
    let b = buf.get(at..at.checked_add(4)?)?;
    b.try_into().ok().map(u32::from_le_bytes)
}

fn u64_at(buf: &[u8], at: usize) -> Option<u64> {
    let b = buf.get(at..at.checked_add(8)?)?;
    b.try_into().ok().map(u64::from_le_bytes)
}

fn read(src: &dyn ByteSource, offset: u64, len: u64) -> Result<Vec<u8>, ZipError> {
    src.read_vec(offset, len, len)
        .map_err(|source| ZipError::Read { offset, source })
}

impl ZipArchive {
    /// Locates and lists the archive, validating each local header. Fails only when no central
    /// directory can be read; everything else is an [`Issue`].
    pub fn parse(src: &dyn ByteSource, limits: &Limits) -> Result<Self, ZipError> {
        let layout = locate(src)?;
        let mut zip = ZipArchive {
            end_record_offset: layout.eocd,
            end_record_exact: layout.exact_comment,
            zip64_record_offset: layout.zip64_record,
            central_directory_offset: layout.cd_offset,
            central_directory_size: layout.cd_size,
            shift: layout.shift,
            entries: Vec::new(),
            issues: layout.issues.clone(),
        };
        zip.read_central_directory(src, &layout, limits)?;
        zip.check_entries(src, limits);
        Ok(zip)
    }

    fn issue(&mut self, offset: u64, entry: Option<usize>, kind: IssueKind) {
        self.issues.push(Issue {
            offset,
            entry,
            kind,
        });
    }

    fn read_central_directory(
        &mut self,
        src: &dyn ByteSource,
        layout: &Layout,
        limits: &Limits,
    ) -> Result<(), ZipError> {
        let cap = limits.max_archive_metadata_bytes;
        let read_len = layout.cd_size.min(cap);
        if layout.cd_size > cap {
            self.issue(
                layout.cd_offset,
                None,
                IssueKind::LimitReached {
                    what: format!(
                        "the central directory is {} bytes; only the first {cap} were read",
                        layout.cd_size
                    ),
                },
            );
        }
        let cd = read(src, layout.cd_offset, read_len)?;
        let mut at = 0usize;
        while at < cd.len() {
            let offset = layout.cd_offset + at as u64;
            if self.entries.len() >= limits.max_archive_members {
                self.issue(
                    offset,
                    None,
                    IssueKind::LimitReached {
                        what: format!(
                            "more than {} members; the rest were not listed",
                            limits.max_archive_members
                        ),
                    },
                );
                return Ok(());
            }
            match parse_central_entry(&cd, at, offset, self.entries.len(), layout.shift) {
                Ok((entry, len, zip64_problem)) => {
                    if let Some(reason) = zip64_problem {
                        self.issue(
                            offset,
                            Some(entry.index),
                            IssueKind::Zip64Malformed { reason },
                        );
                    }
                    self.entries.push(entry);
                    at += len;
                }
                Err(reason) => {
                    if read_len == layout.cd_size {
                        self.issue(offset, None, IssueKind::CentralEntryMalformed { reason });
                    }
                    break;
                }
            }
        }
        let found = self.entries.len() as u64;
        if found != layout.declared_entries && read_len == layout.cd_size {
            self.issue(
                layout.eocd,
                None,
                IssueKind::EntryCountMismatch {
                    declared: layout.declared_entries,
                    found,
                },
            );
        }
        Ok(())
    }

    fn check_entries(&mut self, src: &dyn ByteSource, limits: &Limits) {
        let mut exact: HashMap<Vec<u8>, usize> = HashMap::new();
        let mut normal: HashMap<String, usize> = HashMap::new();
        let mut folded: HashMap<String, usize> = HashMap::new();
        for i in 0..self.entries.len() {
            let Some(entry) = self.entries.get(i).cloned() else {
                continue;
            };
            let at = entry.central_offset;
            let dup = if let Some(&first) = exact.get(&entry.raw_name) {
                Some((first, DuplicateKind::Exact))
            } else if let Some(&first) = normal.get(&normalise(&entry.name)) {
                Some((first, DuplicateKind::Normalised))
            } else {
                folded
                    .get(&case_fold(&entry.name))
                    .map(|&first| (first, DuplicateKind::CaseFolded))
            };
            if let Some((first, kind)) = dup {
                self.issue(at, Some(i), IssueKind::DuplicateName { first, kind });
            }
            exact.entry(entry.raw_name.clone()).or_insert(i);
            normal.entry(normalise(&entry.name)).or_insert(i);
            folded.entry(case_fold(&entry.name)).or_insert(i);
            for path in path_issues(&entry.raw_name) {
                self.issue(at, Some(i), IssueKind::Path(path));
            }
            if entry.is_symlink() {
                self.issue(at, Some(i), IssueKind::Symlink);
            }
            if entry.is_encrypted() {
                let strong = entry.flags & FLAG_STRONG_ENCRYPTION != 0 || entry.method == 99;
                self.issue(at, Some(i), IssueKind::Encrypted { strong });
            } else if !SUPPORTED_METHODS.contains(&entry.method) {
                self.issue(
                    at,
                    Some(i),
                    IssueKind::UnsupportedMethod {
                        method: entry.method,
                    },
                );
            }
            if entry.method == 0 && entry.compressed_size != entry.uncompressed_size {
                self.issue(at, Some(i), IssueKind::StoredSizeMismatch);
            }
            if entry.method != 0
                && entry.uncompressed_size > limits.compression_ratio_floor
                && entry.uncompressed_size / entry.compressed_size.max(1)
                    > limits.max_compression_ratio
            {
                self.issue(
                    at,
                    Some(i),
                    IssueKind::DeclaredRatio {
                        compressed: entry.compressed_size,
                        uncompressed: entry.uncompressed_size,
                    },
                );
            }
            self.check_local_header(src, i);
        }
        self.check_ranges(src);
    }

    fn check_local_header(&mut self, src: &dyn ByteSource, i: usize) {
        let Some(entry) = self.entries.get(i).cloned() else {
            return;
        };
        let lho = entry.local_header_offset;
        let fixed = match src.read_vec(lho, LOCAL_LEN, LOCAL_LEN) {
            Ok(b) if b.starts_with(LOCAL_SIG) => b,
            Ok(_) => {
                let reason = "no local header signature at the offset the central entry names";
                self.issue(
                    lho,
                    Some(i),
                    IssueKind::LocalHeaderMissing {
                        reason: reason.into(),
                    },
                );
                return;
            }
            Err(e) => {
                self.issue(
                    lho,
                    Some(i),
                    IssueKind::LocalHeaderMissing {
                        reason: e.to_string(),
                    },
                );
                return;
            }
        };
        let f16 = |at| u16_at(&fixed, at).unwrap_or(0);
        let f32 = |at| u32_at(&fixed, at).unwrap_or(0);
        let (name_len, extra_len) = (u64::from(f16(26)), u64::from(f16(28)));
        let var = match src.read_vec(lho + LOCAL_LEN, name_len + extra_len, 2 * 0xffff) {
            Ok(v) => v,
            Err(e) => {
                self.issue(
                    lho,
                    Some(i),
                    IssueKind::LocalHeaderMissing {
                        reason: e.to_string(),
                    },
                );
                return;
            }
        };
        let (name, extra) = var.split_at(name_len as usize);
        let mut mismatches: Vec<(&'static str, String, String)> = Vec::new();
        if name != entry.raw_name.as_slice() {
            mismatches.push((
                "name",
                entry.name.clone(),
                String::from_utf8_lossy(name).into_owned(),
            ));
        }
        let local_flags = f16(6);
        if f16(8) != entry.method {
            mismatches.push(("method", entry.method.to_string(), f16(8).to_string()));
        }
        let sensitive = FLAG_ENCRYPTED | FLAG_STRONG_ENCRYPTION;
        if local_flags & sensitive != entry.flags & sensitive {
            mismatches.push((
                "encryption flags",
                format!("{:#06x}", entry.flags),
                format!("{local_flags:#06x}"),
            ));
        }
        if local_flags & FLAG_DATA_DESCRIPTOR == 0 {
            let (mut usize_, mut csize) = (u64::from(f32(22)), u64::from(f32(18)));
            let zip64 = (usize_ == 0xffff_ffff || csize == 0xffff_ffff)
                .then(|| find_extra(extra, ZIP64_EXTRA))
                .flatten();
            if let Some(z) = zip64 {
                let mut at = 0;
                if usize_ == 0xffff_ffff || z.len() >= 16 {
                    usize_ = u64_at(z, 0).unwrap_or(usize_);
                    at = 8;
                }
                if csize == 0xffff_ffff || z.len() >= 16 {
                    csize = u64_at(z, at).unwrap_or(csize);
                }
            }
            if f32(14) != entry.crc32 {
                mismatches.push((
                    "crc32",
                    format!("{:#010x}", entry.crc32),
                    format!("{:#010x}", f32(14)),
                ));
            }
            if csize != entry.compressed_size {
                mismatches.push((
                    "compressed size",
                    entry.compressed_size.to_string(),
                    csize.to_string(),
                ));
            }
            if usize_ != entry.uncompressed_size {
                mismatches.push((
                    "uncompressed size",
                    entry.uncompressed_size.to_string(),
                    usize_.to_string(),
                ));
            }
        }
        for (field, central, local) in mismatches {
            self.issue(
                lho,
                Some(i),
                IssueKind::LocalHeaderMismatch {
                    field,
                    central,
                    local,
                },
            );
        }
        if let Some(e) = self.entries.get_mut(i) {
            e.data_offset = Some(lho + LOCAL_LEN + name_len + extra_len);
        }
    }

    /// Member data past the central directory or the end, and members sharing bytes.
    fn check_ranges(&mut self, src: &dyn ByteSource) {
        let total = src.len();
        let mut ranges: Vec<(u64, u64, usize)> = Vec::new();
        let mut found = Vec::new();
        for e in &self.entries {
            let Some(end) = e.data_end() else { continue };
            let (bound, limit) = if end > total {
                (Bound::EndOfFile, total)
            } else {
                (Bound::CentralDirectory, self.central_directory_offset)
            };
            if end > limit {
                found.push((
                    e.local_header_offset,
                    e.index,
                    IssueKind::DataOutOfBounds { end, bound, limit },
                ));
            }
            ranges.push((e.local_header_offset, end, e.index));
        }
        ranges.sort_unstable();
        let all_located = ranges.len() == self.entries.len();
        // (end of the furthest-reaching member so far, its index)
        let mut furthest: Option<(u64, usize)> = None;
        for &(start, end, index) in &ranges {
            if let Some((far_end, owner)) = furthest {
                if start < far_end {
                    found.push((start, index, IssueKind::OverlappingData { other: owner }));
                } else if all_located && let Some(gap) = self.gap(src, far_end, start, owner) {
                    found.push((far_end, owner, gap));
                }
            }
            if furthest.is_none_or(|(far_end, _)| end > far_end) {
                furthest = Some((end, index));
            }
        }
        if let (Some((far_end, owner)), true) = (furthest, all_located)
            && let Some(gap) = self.gap(src, far_end, self.central_directory_offset, owner)
        {
            found.push((far_end, owner, gap));
        }
        let first_local = self
            .entries
            .iter()
            .map(|e| e.local_header_offset)
            .min()
            .unwrap_or(self.central_directory_offset);
        // A single-segment archive may start with a 4-byte spanning marker (APPNOTE 8.5.4).
        let spanning_marker = first_local == 4
            && src
                .read_vec(0, 4, 4)
                .is_ok_and(|m| m == b"PK\x07\x08" || m == b"PK00");
        if first_local > 0 && !spanning_marker {
            self.issue(0, None, IssueKind::PrependedData { len: first_local });
        }
        for (offset, index, kind) in found {
            self.issue(offset, Some(index), kind);
        }
    }

    /// Bytes between the end of member `before`'s data and `next` that no entry lists, beyond
    /// the data descriptor `before` may carry.
    fn gap(&self, src: &dyn ByteSource, from: u64, next: u64, before: usize) -> Option<IssueKind> {
        let descriptor = self
            .entries
            .get(before)
            .is_some_and(|e| e.flags & FLAG_DATA_DESCRIPTOR != 0);
        let slack = if descriptor { MAX_DESCRIPTOR_LEN } else { 0 };
        let len = next.checked_sub(from)?;
        if len <= slack {
            return None;
        }
        let probe = len.min(GAP_PROBE);
        let hidden_header = src
            .read_vec(from, probe, GAP_PROBE)
            .is_ok_and(|bytes| bytes.windows(4).any(|w| w == LOCAL_SIG));
        Some(IssueKind::UnlistedData { len, hidden_header })
    }
}

/// Longest data descriptor: signature, CRC, two 8-byte ZIP64 sizes.
const MAX_DESCRIPTOR_LEN: u64 = 24;
/// How much of an unlisted gap is searched for a hidden local header.
const GAP_PROBE: u64 = 64 * 1024;

/// Parses the central entry at `cd[at..]`; returns it, its length, and a ZIP64 problem if any.
fn parse_central_entry(
    cd: &[u8],
    at: usize,
    offset: u64,
    index: usize,
    shift: u64,
) -> Result<(Entry, usize, Option<String>), String> {
    let fixed = cd
        .get(at..at + CENTRAL_LEN)
        .ok_or("central directory ends inside an entry")?;
    if !fixed.starts_with(CENTRAL_SIG) {
        return Err("bad central directory entry signature".to_owned());
    }
    let f16 = |o| u16_at(fixed, o).unwrap_or(0);
    let f32 = |o| u32_at(fixed, o).unwrap_or(0);
    let name_len = usize::from(f16(28));
    let extra_len = usize::from(f16(30));
    let len = CENTRAL_LEN + name_len + extra_len + usize::from(f16(32));
    let var = cd
        .get(at + CENTRAL_LEN..at + len)
        .ok_or("central directory ends inside an entry's name, extra field or comment")?;
    let raw_name = var.get(..name_len).unwrap_or_default().to_vec();
    let extra = var.get(name_len..name_len + extra_len).unwrap_or_default();
    let mut uncompressed = u64::from(f32(24));
    let mut compressed = u64::from(f32(20));
    let mut lho = u64::from(f32(42));
    let mut problem = None;
    let needs64 = [uncompressed, compressed, lho].contains(&0xffff_ffff);
    if needs64 {
        match find_extra(extra, ZIP64_EXTRA) {
            Some(z) => {
                let mut pos = 0;
                for field in [&mut uncompressed, &mut compressed, &mut lho] {
                    if *field == 0xffff_ffff {
                        match u64_at(z, pos) {
                            Some(v) => *field = v,
                            None => {
                                problem = Some("ZIP64 extra field too short".to_owned());
                            }
                        }
                        pos += 8;
                    }
                }
            }
            None => {
                problem =
                    Some("sizes or offset need a ZIP64 extra field, which is missing".to_owned());
            }
        }
    }
    let name = String::from_utf8_lossy(&raw_name).into_owned();
    let entry = Entry {
        index,
        raw_name,
        name,
        central_offset: offset,
        version_made_by: f16(4),
        flags: f16(8),
        method: f16(10),
        crc32: f32(16),
        compressed_size: compressed,
        uncompressed_size: uncompressed,
        local_header_offset: lho.saturating_add(shift),
        external_attributes: f32(38),
        data_offset: None,
    };
    Ok((entry, len, problem))
}

/// The data of the extra field `id` in an extra-field block.
fn find_extra(extra: &[u8], id: u16) -> Option<&[u8]> {
    let mut at = 0usize;
    while let (Some(tag), Some(size)) = (u16_at(extra, at), u16_at(extra, at + 2)) {
        let start = at + 4;
        let end = start + usize::from(size);
        let data = extra.get(start..end)?;
        if tag == id {
            return Some(data);
        }
        at = end;
    }
    None
}

#[cfg(test)]
mod testkit;
#[cfg(test)]
mod tests;
