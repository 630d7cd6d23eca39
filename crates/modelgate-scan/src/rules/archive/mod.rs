//! Rules over zip and tar archives (PyTorch checkpoints, `.npz`, `.keras`, legacy torch tars,
//! generic archives): the hostile-archive tricks, then every member that a loader could
//! deserialise, scanned one level deeper with [`crate::scan_nested`].
//!
//! ## zip-duplicate-member (MG201)
//!
//! **What it does**: flags two members with the same name, byte-identical or equal once
//! `./`, `//`, `\` and `..` are normalised (high), or equal ignoring letter case (medium).
//!
//! **Why is this bad**: `zipfile` returns the last member of a name, other readers the first;
//! a scanner that checks one copy and a loader that reads the other see different files. Every
//! copy is scanned.
//!
//! **Example**: a zip listing `archive/data.pkl` twice, a benign pickle first and a payload
//! second.
//!
//! **References**: CWE-436; "Zip Slip"-style name confusion; picklescan/modelscan duplicate
//! member bypasses.
//!
//! ## zip-header-mismatch (MG202)
//!
//! **What it does**: flags a local header that disagrees with its central directory entry
//! (name, method, encryption flags, CRC, sizes), a stored member whose two sizes differ, and
//! a CRC or size mismatch found when expanding a member.
//!
//! **Why is this bad**: streaming readers use the local header, `zipfile` and `torch.load`
//! the central directory; a mismatch shows each a different member.
//!
//! **Example**: central entry `archive/data.pkl`, local header `archive/evil.pkl`.
//!
//! **References**: CWE-436; APPNOTE.TXT 4.3.7 and 4.3.12.
//!
//! ## zip-encrypted-member (MG203)
//!
//! **What it does**: flags members with the encryption flag, strong encryption or AES.
//!
//! **Why is this bad**: an encrypted member cannot be scanned.
//!
//! **Example**: `zip -e model.zip data.pkl`.
//!
//! **References**: CWE-693.
//!
//! ## archive-bomb (MG204)
//!
//! **What it does**: flags members declaring or reaching an expansion ratio above
//! `max_compression_ratio`, members expanding past `max_decompressed_bytes` (alone or all
//! together), and members whose bytes overlap another's (the overlapping-member bomb).
//!
//! **Why is this bad**: expanding it exhausts memory or disk in the loader, or the scanner.
//!
//! **Example**: 42.zip; David Fifield's "A better zip bomb" (overlapping members).
//!
//! **References**: CWE-409; <https://www.bamsoftware.com/hacks/zipbomb/>.
//!
//! ## archive-member-path (MG205)
//!
//! **What it does**: flags member names that are absolute, contain `..` or NUL (high), a
//! backslash or nothing (medium), members outside the single top-level folder of a PyTorch
//! archive (high), and link members (high when the target leaves the archive, medium
//! otherwise).
//!
//! **Why is this bad**: extracting such members writes outside the target folder; members
//! outside a checkpoint's folder are invisible to `torch.load` but not to other tools.
//!
//! **Example**: a tar member `../../home/user/.bashrc`; a zip with `archive/data.pkl` and
//! `evil.pkl`.
//!
//! **References**: CWE-22; Zip Slip (Snyk, 2018); CVE-2007-4559 (Python `tarfile`).
//!
//! ## archive-malformed (MG206)
//!
//! **What it does**: flags structural problems: competing end records, bad ZIP64 records, a
//! shifted central directory or data before the first member, entry count mismatches,
//! truncated central entries, missing local headers, unlisted bytes or hidden local headers
//! between members, member data past the central directory
//! or the end, corrupt member streams; tar checksum, number, truncation and pax errors, data
//! after the end marker, sized special entries, legacy torch members that cannot be delimited.
//!
//! **Why is this bad**: readers disagree on malformed archives, and what cannot be parsed
//! cannot be scanned.
//!
//! **Example**: a pickle file with a zip appended whose offsets were not adjusted.
//!
//! **References**: CWE-20.
//!
//! ## archive-unsupported (MG208)
//!
//! **What it does**: flags members compressed with a method modelgate cannot expand.
//!
//! **Why is this bad**: their content was not scanned (fail closed).
//!
//! **Example**: a zip member using method 9 (deflate64).
//!
//! **References**: CWE-693.
//!
//! ## extension-mismatch (MG001), polyglot case
//!
//! **What it does**: flags a non-zip file (pickle, npy, …) whose tail is a valid zip archive,
//! and scans the zip side too.
//!
//! **Why is this bad**: `torch.load` and `zipfile` read the zip; other tools read the prefix.
//!
//! **Example**: `cat benign.pkl payload.zip > model.pt`.
//!
//! **References**: CWE-434; Trail of Bits, "Polyglot files" (fickling).

mod tar;
mod zip;

use modelgate_core::{FileFormat, Finding, Location, RuleId, Severity};
use modelgate_formats::ByteSource;
use modelgate_formats::zip::{DuplicateKind, PathIssue, ZipArchive};

use crate::Ctx;

/// Scans a zip archive (torch checkpoint, npz, keras, generic zip).
pub fn scan_zip(ctx: &mut Ctx<'_>, src: &dyn ByteSource) {
    match ZipArchive::parse(src, ctx.limits) {
        Ok(archive) => zip::scan(ctx, src, &archive, false),
        Err(e) => {
            let offset = e.offset();
            ctx.report(Finding::of(
                RuleId::ArchiveMalformed,
                ctx.at(offset),
                format!("the zip archive cannot be read: {e}; do not load it"),
            ));
        }
    }
}

/// Scans a tar archive (legacy torch checkpoint, generic tar).
pub fn scan_tar(ctx: &mut Ctx<'_>, src: &dyn ByteSource) {
    tar::scan(ctx, src);
}

/// Checks a non-zip file for a zip central directory at its end (a polyglot that `zipfile` and
/// `torch.load` read differently), and scans it as a zip if so.
pub fn check_polyglot(ctx: &mut Ctx<'_>, format: FileFormat, src: &dyn ByteSource) {
    let Ok(archive) = ZipArchive::parse(src, ctx.limits) else {
        return;
    };
    // Only a real archive counts: its end record's comment reaches the end of the file (so it
    // is not a zip stored inside another container), and it lists members whose local headers
    // were found.
    let members = archive
        .entries
        .iter()
        .filter(|e| e.data_offset.is_some())
        .count();
    if !archive.end_record_exact || members == 0 {
        return;
    }
    let name = ctx.name().to_owned();
    ctx.report(
        Finding::new(
            RuleId::ExtensionMismatch,
            Severity::High,
            ctx.at(archive.central_directory_offset),
            format!(
                "`{name}` is {format} but also a valid zip archive (central directory at offset {} \
                 lists {} members): zip readers such as torch.load see different content than {format} \
                 readers; reject the file",
                archive.central_directory_offset,
                archive.entries.len()
            ),
        )
        .with_subject("zip"),
    );
    zip::scan(ctx, src, &archive, true);
}

/// Severity, and wording, of a duplicate name by how the names collide.
fn duplicate_severity(kind: DuplicateKind) -> (Severity, &'static str, &'static str) {
    match kind {
        DuplicateKind::Exact => (
            Severity::High,
            "the same name as",
            "loaders may read a different copy than scanners; reject the archive",
        ),
        DuplicateKind::Normalised => (
            Severity::High,
            "a name that normalises to the same path as",
            "extraction and loaders may pick different copies; reject the archive",
        ),
        // `x.npy` and `X.npy` are legitimate in an npz; they only collide when extracted on a
        // case-insensitive file system.
        DuplicateKind::CaseFolded => (
            Severity::Medium,
            "a name differing only in case from",
            "they overwrite each other when extracted on a case-insensitive file system",
        ),
    }
}

/// Severity of a path trick.
/// `MG205` for a member name with a path trick (`..`, absolute, NUL, backslash, empty).
fn path_finding(path: PathIssue, name: &str, at: Location) -> Finding {
    Finding::new(
        RuleId::ArchiveMemberPath,
        path_severity(path),
        at,
        format!(
            "member name `{}` contains {}; extracting it can write outside the target folder",
            name.escape_debug(),
            path.describe()
        ),
    )
}

fn path_severity(issue: PathIssue) -> Severity {
    match issue {
        PathIssue::Absolute | PathIssue::DotDot | PathIssue::Nul => Severity::High,
        PathIssue::Backslash | PathIssue::Empty => Severity::Medium,
    }
}

/// Names the member a finding is about, if any.
fn with_member(finding: Finding, name: String) -> Finding {
    if name.is_empty() {
        finding
    } else {
        finding.with_subject(name)
    }
}

#[cfg(test)]
pub(crate) mod tests;
