//! Tar archives: report what [`TarArchive`] found, recognise legacy PyTorch checkpoints, then
//! scan the members (for legacy torch, only the pickles `torch.load` unpickles).

use modelgate_core::{FileFormat, Finding, RuleId, Severity};
use modelgate_formats::tar::legacy_torch::{self, LegacyError, Span};
use modelgate_formats::tar::{EntryKind, IssueKind, TarArchive, TarEntry};
use modelgate_formats::{ByteSource, SubSource};

use super::{duplicate_severity, path_finding, with_member};
use crate::Ctx;

pub(super) fn scan(ctx: &mut Ctx<'_>, src: &dyn ByteSource) {
    let tar = TarArchive::parse(src, ctx.limits);
    report_issues(ctx, &tar);
    let files: Vec<&TarEntry> = tar
        .entries
        .iter()
        .filter(|e| matches!(e.kind, EntryKind::Regular | EntryKind::Sparse))
        .collect();
    // Legacy `torch.save` (before 0.4) wrote `sys_info_p`, `pickle`, `storages`, `tensors`.
    let torch = ["pickle", "storages", "tensors"]
        .iter()
        .all(|n| files.iter().any(|e| e.name == *n));
    if torch {
        ctx.refine_format(FileFormat::TorchTar);
    }
    for entry in files {
        if ctx.out_of_time() {
            ctx.limit_exceeded(
                Some(entry.header_offset),
                "the time budget ran out before every member was scanned",
            );
            return;
        }
        let Ok(window) = SubSource::new(src, entry.data_offset, entry.size) else {
            continue; // reported as truncated
        };
        match entry.name.as_str() {
            "storages" if torch => scan_spans(
                ctx,
                entry,
                &window,
                legacy_torch::storages_pickles(&window, ctx.limits),
            ),
            "tensors" if torch => scan_spans(
                ctx,
                entry,
                &window,
                legacy_torch::tensors_pickles(&window, ctx.limits),
            ),
            _ => crate::scan_nested(ctx, &entry.name, &window),
        }
    }
}

/// Scans each delimited pickle of a legacy torch member as `<member>@<offset>`; a member that
/// cannot be delimited is reported rather than scanned whole (its raw tensor bytes would be
/// misread as pickle opcodes).
fn scan_spans(
    ctx: &mut Ctx<'_>,
    entry: &TarEntry,
    window: &SubSource<'_>,
    spans: Result<Vec<Span>, LegacyError>,
) {
    match spans {
        Ok(spans) => {
            for span in spans {
                if let Ok(pickle) = SubSource::new(window, span.offset, span.len) {
                    let name = format!("{}@{:#x}", entry.name, span.offset);
                    crate::scan_nested(ctx, &name, &pickle);
                }
            }
        }
        Err(e) => ctx.report(
            Finding::of(
                RuleId::ArchiveMalformed,
                ctx.at(entry.data_offset.saturating_add(e.offset)),
                format!(
                    "legacy torch member `{}` does not have the layout torch.load reads ({}); its \
                     pickles could not be delimited and were not scanned; do not load the file",
                    entry.name, e.reason
                ),
            )
            .with_subject(entry.name.clone()),
        ),
    }
}

fn report_issues(ctx: &mut Ctx<'_>, tar: &TarArchive) {
    for issue in &tar.issues {
        let name = issue
            .entry
            .and_then(|i| tar.entries.get(i))
            .map(|e| e.name.clone())
            .unwrap_or_default();
        let at = ctx.at(issue.offset);
        let finding = match &issue.kind {
            IssueKind::BadChecksum => Finding::of(
                RuleId::ArchiveMalformed,
                at,
                "tar header checksum mismatch: Python's tarfile stops here, other tools may read \
                 further members; reject the archive",
            ),
            IssueKind::BadNumber { field } => Finding::of(
                RuleId::ArchiveMalformed,
                at,
                format!("tar header field `{field}` is not a valid number; the walk stopped here"),
            ),
            IssueKind::Truncated { needed, available } => Finding::of(
                RuleId::ArchiveMalformed,
                at,
                format!(
                    "the tar archive is truncated: {needed} bytes needed, {available} present; \
                     re-obtain the file"
                ),
            ),
            IssueKind::ExtendedHeaderMalformed { reason } => Finding::of(
                RuleId::ArchiveMalformed,
                at,
                format!("malformed pax or long-name header ({reason}); the walk stopped here"),
            ),
            IssueKind::NoEndMarker => Finding::new(
                RuleId::ArchiveMalformed,
                Severity::Low,
                at,
                "the tar archive has no end-of-archive marker (it may be truncated)",
            ),
            IssueKind::DataAfterEnd { len } => Finding::new(
                RuleId::ArchiveMalformed,
                Severity::Medium,
                at,
                format!(
                    "{len} bytes follow the end-of-archive marker and hold non-zero data that tar \
                     readers never show; inspect them"
                ),
            ),
            IssueKind::SizedSpecialEntry { size } => Finding::of(
                RuleId::ArchiveMalformed,
                at,
                format!(
                    "`{name}` is a directory, link or device with a {size}-byte size; tar readers \
                     disagree on whether data follows it"
                ),
            ),
            IssueKind::Path(path) => path_finding(*path, &name, at),
            IssueKind::Link { target, escapes } => {
                let (severity, what) = if *escapes {
                    (Severity::High, "pointing outside the archive")
                } else {
                    (Severity::Medium, "inside the archive")
                };
                Finding::new(
                    RuleId::ArchiveMemberPath,
                    severity,
                    at,
                    format!(
                        "member `{name}` is a link to `{}` ({what}); extraction may follow it",
                        target.escape_debug()
                    ),
                )
                .with_evidence(target)
            }
            IssueKind::DuplicateName { first, kind } => {
                let (severity, how, consequence) = duplicate_severity(*kind);
                let other = tar
                    .entries
                    .get(*first)
                    .map(|e| e.name.clone())
                    .unwrap_or_default();
                Finding::new(
                    RuleId::ZipDuplicateMember,
                    severity,
                    at,
                    format!(
                        "member `{name}` has {how} `{other}` (every copy was scanned; tarfile \
                         reads the last); {consequence}"
                    ),
                )
            }
            IssueKind::LimitReached { what } => {
                ctx.limit_exceeded(Some(issue.offset), what);
                continue;
            }
        };
        ctx.report(with_member(finding, name));
    }
}
