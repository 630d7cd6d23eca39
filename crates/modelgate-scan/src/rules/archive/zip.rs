//! Zip archives: report what [`ZipArchive`] found, refine the format from the member layout,
//! then scan every member a loader could deserialise.

use modelgate_core::{FileFormat, Finding, RuleId, Severity};
use modelgate_formats::ByteSource;
use modelgate_formats::compress::{Caps, Stop};
use modelgate_formats::zip::{
    Bound, Entry, IssueKind, MemberData, MemberError, ZipArchive, crc32, member_data, normalise,
    top_folder,
};

use super::{duplicate_severity, path_finding, with_member};
use crate::Ctx;

/// What the member layout says the archive is.
struct Layout {
    format: FileFormat,
    /// The folder holding `data.pkl` in a PyTorch archive.
    torch_folder: Option<String>,
}

impl Layout {
    fn of(zip: &ZipArchive) -> Self {
        let files: Vec<&Entry> = zip.entries.iter().filter(|e| !e.is_dir()).collect();
        let torch_folder = files.iter().find_map(|e| {
            let name = normalise(&e.name);
            let (folder, file) = name.split_once('/')?;
            (file == "data.pkl").then(|| folder.to_owned())
        });
        let has = |name: &str| files.iter().any(|e| e.name == name);
        let format = if torch_folder.is_some() {
            FileFormat::TorchZip
        } else if !files.is_empty()
            && files
                .iter()
                .all(|e| e.name.to_ascii_lowercase().ends_with(".npy"))
        {
            FileFormat::Npz
        } else if has("config.json") && has("metadata.json") {
            FileFormat::Keras
        } else {
            FileFormat::Zip
        };
        Layout {
            format,
            torch_folder,
        }
    }

    /// PyTorch never unpickles the raw tensor storages (`<folder>/data/<key>`, and `TorchScript`'s
    /// `<folder>/constants/<key>`) or its `.data/` bookkeeping; their random bytes can look like
    /// a pickle header by chance.
    fn is_raw_storage(&self, entry: &Entry) -> bool {
        self.torch_folder.as_ref().is_some_and(|folder| {
            let name = normalise(&entry.name);
            name.strip_prefix(folder.as_str())
                .and_then(|rest| rest.strip_prefix('/'))
                .is_some_and(|rest| {
                    ["data/", ".data/", "constants/"]
                        .iter()
                        .any(|dir| rest.starts_with(dir))
                })
        })
    }
}

/// Reports the archive's issues, then scans its members. `polyglot`: the file was detected as
/// another format and this zip sits at its end (its prepended data is that other format).
pub(super) fn scan(ctx: &mut Ctx<'_>, src: &dyn ByteSource, zip: &ZipArchive, polyglot: bool) {
    report_issues(ctx, zip, polyglot);
    let layout = Layout::of(zip);
    if !polyglot && layout.format != FileFormat::Zip {
        ctx.refine_format(layout.format);
    }
    if let Some(folder) = &layout.torch_folder {
        report_compressed_torch_members(ctx, zip);
        for entry in &zip.entries {
            let name = normalise(&entry.name);
            if top_folder(&name) != Some(folder.as_str()) {
                ctx.report(
                    Finding::of(
                        RuleId::ArchiveMemberPath,
                        ctx.at(entry.central_offset),
                        format!(
                            "member `{}` lies outside the checkpoint folder `{folder}/`: torch.load \
                             ignores it but other tools may load it; reject the archive",
                            entry.name
                        ),
                    )
                    .with_subject(entry.name.clone()),
                );
            }
        }
    }
    scan_members(ctx, src, zip, &layout);
}

/// Below this many expanded bytes no ratio says anything (tiny members compress oddly).
const TORCH_RATIO_FLOOR: u64 = 1024 * 1024;

/// `torch.save` writes every record uncompressed (so storages can be memory-mapped at their
/// alignment). A compressed member that expands at a bomb's ratio was therefore put there by
/// another tool; it is reported from a much lower size than in general archives, where
/// `np.savez_compressed` of zero-filled arrays legitimately reaches deflate's ~1000:1 ceiling.
fn report_compressed_torch_members(ctx: &mut Ctx<'_>, zip: &ZipArchive) {
    let max_ratio = ctx.limits.max_compression_ratio;
    let general_floor = ctx.limits.compression_ratio_floor;
    for entry in &zip.entries {
        let ratio = entry.uncompressed_size / entry.compressed_size.max(1);
        let already_reported = entry.uncompressed_size > general_floor;
        if entry.method != 0
            && !already_reported
            && entry.uncompressed_size > TORCH_RATIO_FLOOR
            && ratio > max_ratio
        {
            let finding = Finding::of(
                RuleId::ArchiveBomb,
                ctx.at(entry.central_offset),
                format!(
                    "member `{}` of a PyTorch archive is compressed and declares {} bytes from {} \
                     (ratio {ratio}:1, above {max_ratio}); torch.save never compresses members, \
                     so another tool built this expansion; reject the archive",
                    entry.name, entry.uncompressed_size, entry.compressed_size
                ),
            );
            ctx.report(with_member(finding, entry.name.clone()));
        }
    }
}

fn entry_name(zip: &ZipArchive, index: Option<usize>) -> String {
    index
        .and_then(|i| zip.entries.get(i))
        .map(|e| e.name.clone())
        .unwrap_or_default()
}

fn report_issues(ctx: &mut Ctx<'_>, zip: &ZipArchive, polyglot: bool) {
    for issue in &zip.issues {
        let name = entry_name(zip, issue.entry);
        let at = ctx.at(issue.offset);
        let finding = match &issue.kind {
            IssueKind::MultipleEndRecords { count } => Finding::of(
                RuleId::ArchiveMalformed,
                at,
                format!(
                    "{count} end-of-central-directory records describe different archives; zip \
                     readers pick different ones, so reject the file"
                ),
            ),
            IssueKind::Zip64Malformed { reason } => Finding::of(
                RuleId::ArchiveMalformed,
                at,
                format!("invalid ZIP64 record: {reason}; readers may disagree on the archive's layout"),
            ),
            IssueKind::CentralDirectoryShifted { by } | IssueKind::PrependedData { len: by } => {
                if polyglot {
                    continue;
                }
                Finding::of(
                    RuleId::ArchiveMalformed,
                    at,
                    format!(
                        "{by} bytes precede the archive's first listed member (a self-extracting \
                         stub, a polyglot or a hidden member); reject the file"
                    ),
                )
            }
            IssueKind::EntryCountMismatch { declared, found } => Finding::of(
                RuleId::ArchiveMalformed,
                at,
                format!(
                    "the end record declares {declared} members but the central directory lists \
                     {found}; readers may see different members"
                ),
            ),
            IssueKind::CentralDirectorySize { reason } => Finding::new(
                RuleId::ArchiveMalformed,
                Severity::Medium,
                at,
                format!("the central directory's size is inconsistent: {reason}"),
            ),
            IssueKind::CentralEntryMalformed { reason } => Finding::of(
                RuleId::ArchiveMalformed,
                at,
                format!("central directory entry is malformed ({reason}); later members were not listed"),
            ),
            IssueKind::LimitReached { what } => {
                ctx.limit_exceeded(Some(issue.offset), what);
                continue;
            }
            IssueKind::DuplicateName { first, kind } => {
                let (severity, how, consequence) = duplicate_severity(*kind);
                let other = entry_name(zip, Some(*first));
                Finding::new(
                    RuleId::ZipDuplicateMember,
                    severity,
                    at,
                    format!(
                        "member `{name}` has {how} `{other}` (every copy was scanned); {consequence}"
                    ),
                )
            }
            IssueKind::LocalHeaderMissing { reason } => Finding::of(
                RuleId::ArchiveMalformed,
                at,
                format!("member `{name}` has no valid local header ({reason}); it was not scanned"),
            ),
            IssueKind::LocalHeaderMismatch {
                field,
                central,
                local,
            } => Finding::of(
                RuleId::ZipHeaderMismatch,
                at,
                format!(
                    "member `{name}`: local header {field} `{local}` differs from the central \
                     directory's `{central}`; streaming and central-directory readers see different \
                     members"
                ),
            )
            .with_evidence(format!("central {central} / local {local}")),
            IssueKind::Encrypted { strong } => Finding::of(
                RuleId::ZipEncryptedMember,
                at,
                format!(
                    "member `{name}` is {}encrypted and cannot be scanned; obtain an unencrypted copy",
                    if *strong { "strongly " } else { "" }
                ),
            ),
            IssueKind::UnsupportedMethod { method } => Finding::of(
                RuleId::ArchiveUnsupported,
                at,
                format!(
                    "member `{name}` uses compression method {method}, which modelgate cannot expand; \
                     its content was not scanned"
                ),
            ),
            IssueKind::StoredSizeMismatch => Finding::of(
                RuleId::ZipHeaderMismatch,
                at,
                format!("stored member `{name}` declares different compressed and expanded sizes"),
            ),
            IssueKind::OverlappingData { other } => {
                let other = entry_name(zip, Some(*other));
                Finding::of(
                    RuleId::ArchiveBomb,
                    at,
                    format!(
                        "member `{name}` shares bytes with member `{other}` (the overlapping-member \
                         zip bomb, or two names for one content); reject the archive"
                    ),
                )
            }
            IssueKind::DataOutOfBounds { end, bound, limit } => {
                let what = match bound {
                    Bound::CentralDirectory => "the central directory",
                    Bound::EndOfFile => "the end of the file",
                };
                Finding::of(
                    RuleId::ArchiveMalformed,
                    at,
                    format!(
                        "member `{name}`'s data ends at offset {end}, past {what} at {limit}; \
                         readers disagree on its content"
                    ),
                )
            }
            IssueKind::DeclaredRatio {
                compressed,
                uncompressed,
            } => Finding::of(
                RuleId::ArchiveBomb,
                at,
                format!(
                    "member `{name}` declares {uncompressed} bytes from {compressed} compressed \
                     (ratio above {}); a decompression bomb",
                    ctx.limits.max_compression_ratio
                ),
            ),
            IssueKind::Path(path) => path_finding(*path, &name, at),
            IssueKind::UnlistedData { len, hidden_header } => {
                if *hidden_header {
                    Finding::of(
                        RuleId::ArchiveMalformed,
                        at,
                        format!(
                            "{len} bytes after member `{name}` hold a local header that the central \
                             directory does not list: a member hidden from zipfile and torch.load but \
                             read by streaming tools; reject the archive"
                        ),
                    )
                } else {
                    Finding::new(
                        RuleId::ArchiveMalformed,
                        Severity::Medium,
                        at,
                        format!(
                            "{len} bytes after member `{name}` belong to no listed member; inspect \
                             what they hold"
                        ),
                    )
                }
            }
            IssueKind::Symlink => Finding::new(
                RuleId::ArchiveMemberPath,
                Severity::Medium,
                at,
                format!("member `{name}` is a symbolic link; extracting tools may follow it"),
            ),
        };
        ctx.report(with_member(finding, name));
    }
}

fn scan_members(ctx: &mut Ctx<'_>, src: &dyn ByteSource, zip: &ZipArchive, layout: &Layout) {
    let caps = Caps::from_limits(ctx.limits);
    let mut expanded_total = 0u64;
    let mut budget_spent = false;
    for entry in &zip.entries {
        if ctx.out_of_time() {
            ctx.limit_exceeded(
                Some(entry.central_offset),
                "the time budget ran out before every member was scanned",
            );
            return;
        }
        if entry.is_dir() || entry.is_symlink() || layout.is_raw_storage(entry) {
            continue;
        }
        let keras_config = layout.format == FileFormat::Keras && entry.name == "config.json";
        let data = match member_data(src, entry, &caps) {
            Ok(data) => data,
            // Each of these was reported from the archive's issues.
            Err(
                MemberError::Encrypted
                | MemberError::NoLocalHeader
                | MemberError::UnsupportedMethod { .. }
                | MemberError::OutOfBounds { .. },
            ) => continue,
        };
        match data {
            MemberData::Stored(window) => {
                if keras_config {
                    let cap = ctx.limits.max_json_bytes;
                    match window.read_vec(0, window.len(), cap) {
                        Ok(bytes) => check_keras_config(ctx, &entry.name, &bytes),
                        Err(_) => ctx.limit_exceeded(
                            entry.data_offset,
                            format!("`{}` is larger than {cap} bytes", entry.name),
                        ),
                    }
                } else {
                    crate::scan_nested(ctx, &entry.name, &window);
                }
            }
            MemberData::Expanded(out) => {
                if budget_spent {
                    continue;
                }
                report_expansion(ctx, entry, out.stop.as_ref(), &out.data);
                expanded_total = expanded_total.saturating_add(out.data.len() as u64);
                if expanded_total > ctx.limits.max_decompressed_bytes {
                    budget_spent = true;
                    ctx.report(
                        Finding::of(
                            RuleId::ArchiveBomb,
                            ctx.at(entry.central_offset),
                            format!(
                                "the archive's members together expand past {} bytes; the \
                                 remaining compressed members were not scanned",
                                ctx.limits.max_decompressed_bytes
                            ),
                        )
                        .with_subject(entry.name.clone()),
                    );
                }
                if keras_config {
                    let cap = ctx.limits.max_json_bytes;
                    if out.data.len() as u64 > cap {
                        ctx.limit_exceeded(
                            entry.data_offset,
                            format!("`{}` is larger than {cap} bytes", entry.name),
                        );
                    } else {
                        check_keras_config(ctx, &entry.name, &out.data);
                    }
                } else {
                    crate::scan_bytes(ctx, &entry.name, &out.data);
                }
            }
        }
    }
}

fn check_keras_config(ctx: &mut Ctx<'_>, name: &str, bytes: &[u8]) {
    if let Some(mut child) = ctx.child(name) {
        crate::rules::keras::check_config_json(&mut child, bytes);
    }
}

/// Reports why an expansion stopped early, or a CRC / size mismatch after a clean one.
fn report_expansion(ctx: &mut Ctx<'_>, entry: &Entry, stop: Option<&Stop>, data: &[u8]) {
    let name = &entry.name;
    let at = ctx.at(entry.data_offset.unwrap_or(entry.central_offset));
    let finding = match stop {
        None => {
            let crc = crc32(data);
            if data.len() as u64 != entry.uncompressed_size {
                Finding::of(
                    RuleId::ZipHeaderMismatch,
                    at,
                    format!(
                        "member `{name}` expands to {} bytes but declares {}",
                        data.len(),
                        entry.uncompressed_size
                    ),
                )
            } else if crc != entry.crc32 {
                Finding::of(
                    RuleId::ZipHeaderMismatch,
                    at,
                    format!(
                        "member `{name}`'s CRC-32 is {crc:#010x} but the archive declares {:#010x}",
                        entry.crc32
                    ),
                )
            } else {
                return;
            }
        }
        Some(Stop::Corrupt { .. }) => Finding::of(
            RuleId::ArchiveMalformed,
            at,
            format!(
                "member `{name}`'s compressed data is corrupt ({}); the {} bytes recovered were scanned",
                stop.map(ToString::to_string).unwrap_or_default(),
                data.len()
            ),
        ),
        Some(Stop::TooLarge { .. } | Stop::Ratio { .. }) => Finding::of(
            RuleId::ArchiveBomb,
            at,
            format!(
                "member `{name}` {}: a decompression bomb; only its first {} bytes were scanned",
                stop.map(ToString::to_string).unwrap_or_default(),
                data.len()
            ),
        ),
        Some(Stop::OverMemory { limit }) => {
            ctx.limit_exceeded(
                entry.data_offset,
                format!("member `{name}` expands past the {limit}-byte in-memory limit; only its first {} bytes were scanned", data.len()),
            );
            return;
        }
        Some(Stop::Unsupported { codec }) => Finding::of(
            RuleId::ArchiveUnsupported,
            at,
            format!(
                "member `{name}` uses {} compression, which modelgate cannot expand",
                codec.name()
            ),
        ),
    };
    ctx.report(finding.with_subject(name.clone()));
}
