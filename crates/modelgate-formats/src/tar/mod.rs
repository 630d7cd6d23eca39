//! A tar walker over a random-access [`ByteSource`]: 512-byte headers with checksum validation,
//! octal and base-256 numbers, the ustar prefix, GNU long names and link names (`L`, `K`), pax
//! extended and global headers (`x`, `g`), padding, and the end-of-archive marker. Member data
//! is never read; each [`TarEntry`] says where it lies.
//!
//! Like Python's `tarfile` (which `torch.load` uses for legacy checkpoints), the walk stops at
//! the first zero block or the first invalid header; what a scanner must know about that is an
//! [`Issue`]: bad checksums, bad numbers, truncation, a missing end marker, bytes after the end,
//! path tricks, links, duplicate names, limits. [`legacy_torch`] delimits the pickles inside the
//! `storages` and `tensors` members of a legacy PyTorch tar checkpoint.
//!
//! ```
//! use modelgate_core::Limits;
//! use modelgate_formats::tar::TarArchive;
//!
//! let empty = [0u8; 1024];
//! let tar = TarArchive::parse(&empty.as_slice(), &Limits::default());
//! assert!(tar.entries.is_empty() && tar.issues.is_empty());
//! ```

pub mod legacy_torch;

use std::collections::HashMap;

use modelgate_core::Limits;

use crate::ByteSource;
use crate::zip::{DuplicateKind, PathIssue, case_fold, normalise, path_issues};

const BLOCK: u64 = 512;
/// Trailing bytes after the end marker that are checked for non-zero content.
const TRAILER_CHECK: u64 = 64 * 1024;

/// What a tar header describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file (`0`, NUL, `7`, and unknown type flags, as `tarfile` treats them).
    Regular,
    /// A hard link (`1`).
    HardLink,
    /// A symbolic link (`2`).
    Symlink,
    /// A character or block device (`3`, `4`).
    Device,
    /// A directory (`5`).
    Directory,
    /// A FIFO (`6`).
    Fifo,
    /// A GNU sparse file (`S`).
    Sparse,
}

/// One member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TarEntry {
    /// Position in the archive (0-based, metadata headers not counted).
    pub index: usize,
    /// Offset of the member's own header (after any long-name or pax headers).
    pub header_offset: u64,
    /// The effective name: pax `path`, else GNU long name, else ustar prefix + name.
    pub name: String,
    /// The raw bytes of the effective name.
    pub raw_name: Vec<u8>,
    /// What the header describes.
    pub kind: EntryKind,
    /// The type flag byte.
    pub type_flag: u8,
    /// Link target for hard and symbolic links.
    pub link_name: Option<String>,
    /// Data size in bytes (pax `size` applied).
    pub size: u64,
    /// Offset of the first data byte.
    pub data_offset: u64,
}

/// Something a scanner must know about the archive.
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
    /// A header's checksum does not match; the walk stopped there (as `tarfile` does).
    BadChecksum,
    /// A numeric header field is not valid octal or base-256; the walk stopped.
    BadNumber {
        /// The field name.
        field: &'static str,
    },
    /// The file ends inside a header or a member's data.
    Truncated {
        /// Where the header or data would end.
        needed: u64,
        /// The file's length.
        available: u64,
    },
    /// A pax or GNU long-name header is malformed.
    ExtendedHeaderMalformed {
        /// What was wrong.
        reason: String,
    },
    /// The archive ends without a zero block.
    NoEndMarker,
    /// Non-zero bytes follow the end-of-archive marker (data readers never see).
    DataAfterEnd {
        /// How many bytes follow the marker.
        len: u64,
    },
    /// A directory, link or device header with a non-zero size, whose data `tarfile` does not
    /// skip but other readers do.
    SizedSpecialEntry {
        /// The declared size.
        size: u64,
    },
    /// The member's name has a path trick.
    Path(PathIssue),
    /// A hard or symbolic link member.
    Link {
        /// The link target.
        target: String,
        /// The target is absolute or climbs out with `..`.
        escapes: bool,
    },
    /// The name collides with entry `first`'s.
    DuplicateName {
        /// The earlier entry.
        first: usize,
        /// How they collide.
        kind: DuplicateKind,
    },
    /// A limit stopped the walk.
    LimitReached {
        /// Which limit.
        what: String,
    },
}

/// A walked tar archive.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TarArchive {
    /// Members in archive order.
    pub entries: Vec<TarEntry>,
    /// What is suspicious, in discovery order.
    pub issues: Vec<Issue>,
}

/// Pending extended-header values for the next member.
#[derive(Default)]
struct Pending {
    long_name: Option<Vec<u8>>,
    long_link: Option<Vec<u8>>,
    pax: HashMap<String, Vec<u8>>,
}

/// Trims a header field at its first NUL.
fn nts(field: &[u8]) -> &[u8] {
    let end = field.iter().position(|b| *b == 0).unwrap_or(field.len());
    field.get(..end).unwrap_or_default()
}

/// Parses a numeric header field: base-256 (first byte 0x80 or 0xff) or octal.
pub fn parse_number(field: &[u8]) -> Option<u64> {
    match field.first() {
        Some(0x80) => field.get(1..)?.iter().try_fold(0u64, |acc, b| {
            acc.checked_mul(256)?.checked_add(u64::from(*b))
        }),
        Some(0xff) => None,
        _ => {
            let text = std::str::from_utf8(nts(field))
                .ok()?
                .trim_matches([' ', '\0']);
            if text.is_empty() {
                Some(0)
            } else {
                u64::from_str_radix(text, 8).ok()
            }
        }
    }
}

/// Whether the header's checksum matches (unsigned or signed sum, as `tarfile` accepts).
fn checksum_ok(header: &[u8]) -> bool {
    let Some(stored) = header.get(148..156).and_then(parse_number) else {
        return false;
    };
    let mut unsigned = 0u64;
    let mut signed = 0i64;
    for (i, b) in header.iter().enumerate() {
        let b = if (148..156).contains(&i) { b' ' } else { *b };
        unsigned += u64::from(b);
        signed += i64::from(i8::from_le_bytes([b]));
    }
    stored == unsigned || i64::try_from(stored).is_ok_and(|s| s == signed)
}

/// Parses pax records `"<len> <key>=<value>\n"`.
fn parse_pax(data: &[u8]) -> Result<Vec<(String, Vec<u8>)>, String> {
    let mut out = Vec::new();
    let mut at = 0usize;
    while at < data.len() {
        let rest = data.get(at..).unwrap_or_default();
        if rest.iter().all(|b| *b == 0) {
            break;
        }
        let space = rest
            .iter()
            .position(|b| *b == b' ')
            .ok_or("pax record without a length")?;
        let len: usize = std::str::from_utf8(rest.get(..space).unwrap_or_default())
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or("pax record length is not a number")?;
        let record = rest
            .get(..len)
            .filter(|r| len > space + 1 && r.last() == Some(&b'\n'))
            .ok_or("pax record length runs past the header or lacks its newline")?;
        let body = record.get(space + 1..len - 1).unwrap_or_default();
        let eq = body
            .iter()
            .position(|b| *b == b'=')
            .ok_or("pax record without `=`")?;
        let key = String::from_utf8_lossy(body.get(..eq).unwrap_or_default()).into_owned();
        out.push((key, body.get(eq + 1..).unwrap_or_default().to_vec()));
        at += len;
    }
    Ok(out)
}

impl TarArchive {
    fn issue(&mut self, offset: u64, entry: Option<usize>, kind: IssueKind) {
        self.issues.push(Issue {
            offset,
            entry,
            kind,
        });
    }

    /// Walks the archive. Never fails: an unreadable header ends the walk with an [`Issue`].
    pub fn parse(src: &dyn ByteSource, limits: &Limits) -> Self {
        let mut tar = TarArchive::default();
        let total = src.len();
        let mut pos = 0u64;
        let mut pending = Pending::default();
        let mut globals: HashMap<String, Vec<u8>> = HashMap::new();
        let mut metadata = 0u64;
        loop {
            if pos >= total {
                if pos > 0 || !tar.entries.is_empty() {
                    tar.issue(pos, None, IssueKind::NoEndMarker);
                }
                break;
            }
            let mut header = [0u8; BLOCK as usize];
            if pos + BLOCK > total || src.read_at(pos, &mut header).is_err() {
                tar.issue(
                    pos,
                    None,
                    IssueKind::Truncated {
                        needed: pos + BLOCK,
                        available: total,
                    },
                );
                break;
            }
            if header.iter().all(|b| *b == 0) {
                tar.check_trailer(src, pos + BLOCK);
                break;
            }
            if !checksum_ok(&header) {
                tar.issue(pos, None, IssueKind::BadChecksum);
                break;
            }
            let Some(mut size) = header.get(124..136).and_then(parse_number) else {
                tar.issue(pos, None, IssueKind::BadNumber { field: "size" });
                break;
            };
            let type_flag = header.get(156).copied().unwrap_or(0);
            let data_offset = pos + BLOCK;
            // Extended headers: read their data (capped) and apply it to the next member.
            if matches!(type_flag, b'L' | b'K' | b'x' | b'g') {
                metadata = metadata.saturating_add(size);
                if metadata > limits.max_archive_metadata_bytes {
                    tar.issue(
                        pos,
                        None,
                        IssueKind::LimitReached {
                            what: format!(
                                "extended headers exceed {} bytes",
                                limits.max_archive_metadata_bytes
                            ),
                        },
                    );
                    break;
                }
                let Ok(data) = src.read_vec(data_offset, size, limits.max_archive_metadata_bytes)
                else {
                    tar.issue(
                        pos,
                        None,
                        IssueKind::Truncated {
                            needed: data_offset.saturating_add(size),
                            available: total,
                        },
                    );
                    break;
                };
                match type_flag {
                    b'L' => pending.long_name = Some(nts(&data).to_vec()),
                    b'K' => pending.long_link = Some(nts(&data).to_vec()),
                    _ => match parse_pax(&data) {
                        Ok(records) => {
                            let target = if type_flag == b'g' {
                                &mut globals
                            } else {
                                &mut pending.pax
                            };
                            target.extend(records);
                        }
                        Err(reason) => {
                            tar.issue(pos, None, IssueKind::ExtendedHeaderMalformed { reason });
                            break;
                        }
                    },
                }
                pos = data_offset.saturating_add(size.div_ceil(BLOCK) * BLOCK);
                continue;
            }
            if tar.entries.len() >= limits.max_archive_members {
                tar.issue(
                    pos,
                    None,
                    IssueKind::LimitReached {
                        what: format!(
                            "more than {} members; the rest were not listed",
                            limits.max_archive_members
                        ),
                    },
                );
                break;
            }
            let pax = |key: &str| pending.pax.get(key).or_else(|| globals.get(key));
            if let Some(pax_size) = pax("size") {
                let parsed = std::str::from_utf8(pax_size)
                    .ok()
                    .and_then(|s| s.parse().ok());
                let Some(pax_size) = parsed else {
                    tar.issue(pos, None, IssueKind::BadNumber { field: "pax size" });
                    break;
                };
                size = pax_size;
            }
            let ustar = header.get(257..263) == Some(b"ustar\0".as_slice());
            let raw_name = if let Some(path) = pax("path") {
                path.clone()
            } else if let Some(long) = pending.long_name.take() {
                long
            } else {
                let name = nts(header.get(0..100).unwrap_or_default());
                let prefix = nts(header.get(345..500).unwrap_or_default());
                if ustar && !prefix.is_empty() {
                    [prefix, b"/", name].concat()
                } else {
                    name.to_vec()
                }
            };
            let raw_link = if let Some(link) = pax("linkpath") {
                link.clone()
            } else if let Some(long) = pending.long_link.take() {
                long
            } else {
                nts(header.get(157..257).unwrap_or_default()).to_vec()
            };
            pending = Pending::default();
            let kind = match type_flag {
                b'1' => EntryKind::HardLink,
                b'2' => EntryKind::Symlink,
                b'3' | b'4' => EntryKind::Device,
                b'5' => EntryKind::Directory,
                b'6' => EntryKind::Fifo,
                b'S' => EntryKind::Sparse,
                _ => EntryKind::Regular,
            };
            let index = tar.entries.len();
            let links = matches!(kind, EntryKind::HardLink | EntryKind::Symlink);
            let entry = TarEntry {
                index,
                header_offset: pos,
                name: String::from_utf8_lossy(&raw_name).into_owned(),
                raw_name,
                kind,
                type_flag,
                link_name: links.then(|| String::from_utf8_lossy(&raw_link).into_owned()),
                size,
                data_offset,
            };
            // `tarfile` skips data only for regular (and unknown) members.
            let skips_data = matches!(kind, EntryKind::Regular | EntryKind::Sparse);
            if !skips_data && size > 0 {
                tar.issue(pos, Some(index), IssueKind::SizedSpecialEntry { size });
            }
            tar.check_entry(&entry);
            tar.entries.push(entry);
            if skips_data {
                let end = data_offset.checked_add(size);
                if end.is_none_or(|end| end > total) {
                    tar.issue(
                        pos,
                        Some(index),
                        IssueKind::Truncated {
                            needed: end.unwrap_or(u64::MAX),
                            available: total,
                        },
                    );
                    break;
                }
                pos = data_offset.saturating_add(size.div_ceil(BLOCK) * BLOCK);
            } else {
                pos = data_offset;
            }
        }
        tar.check_duplicates();
        tar
    }

    fn check_entry(&mut self, entry: &TarEntry) {
        for p in path_issues(&entry.raw_name) {
            self.issue(entry.header_offset, Some(entry.index), IssueKind::Path(p));
        }
        if let Some(target) = &entry.link_name {
            // A hard link names another member; a symlink resolves from the link's folder.
            let absolute = path_issues(target.as_bytes()).contains(&PathIssue::Absolute);
            let base = match (entry.kind, entry.name.rsplit_once('/')) {
                (EntryKind::Symlink, Some((dir, _))) => format!("{dir}/{target}"),
                _ => target.clone(),
            };
            let resolved = normalise(&base);
            let escapes = absolute || resolved == ".." || resolved.starts_with("../");
            self.issue(
                entry.header_offset,
                Some(entry.index),
                IssueKind::Link {
                    target: target.clone(),
                    escapes,
                },
            );
        }
    }

    fn check_duplicates(&mut self) {
        let mut exact: HashMap<&[u8], usize> = HashMap::new();
        let mut normal: HashMap<String, usize> = HashMap::new();
        let mut folded: HashMap<String, usize> = HashMap::new();
        let mut found = Vec::new();
        for e in &self.entries {
            if e.kind == EntryKind::Directory {
                continue;
            }
            let dup = if let Some(&first) = exact.get(e.raw_name.as_slice()) {
                Some((first, DuplicateKind::Exact))
            } else if let Some(&first) = normal.get(&normalise(&e.name)) {
                Some((first, DuplicateKind::Normalised))
            } else {
                folded
                    .get(&case_fold(&e.name))
                    .map(|&first| (first, DuplicateKind::CaseFolded))
            };
            if let Some((first, kind)) = dup {
                found.push((
                    e.header_offset,
                    e.index,
                    IssueKind::DuplicateName { first, kind },
                ));
            }
            exact.entry(e.raw_name.as_slice()).or_insert(e.index);
            normal.entry(normalise(&e.name)).or_insert(e.index);
            folded.entry(case_fold(&e.name)).or_insert(e.index);
        }
        for (offset, index, kind) in found {
            self.issue(offset, Some(index), kind);
        }
    }

    /// After the first zero block: anything but zeros is data no reader shows.
    fn check_trailer(&mut self, src: &dyn ByteSource, from: u64) {
        let total = src.len();
        let len = total.saturating_sub(from);
        let checked = len.min(TRAILER_CHECK);
        let nonzero = match src.read_vec(from, checked, TRAILER_CHECK) {
            Ok(bytes) => bytes.iter().any(|b| *b != 0),
            Err(_) => true,
        };
        if nonzero || len > TRAILER_CHECK + 10_240 {
            self.issue(from, None, IssueKind::DataAfterEnd { len });
        }
    }
}

#[cfg(test)]
pub(crate) mod testkit;
#[cfg(test)]
mod tests;
