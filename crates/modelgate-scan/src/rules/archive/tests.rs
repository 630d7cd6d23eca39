//! Test helpers shared by the archive, compressed and numpy rule tests (hand-built containers:
//! no encoder is a dependency of this crate), and the archive rule tests.

use modelgate_core::{FileFormat, Finding, Limits, Location, RuleId, Severity};
use modelgate_formats::zip::crc32;

use crate::context::{Ctx, FindingSink};
use crate::detect::detect_format;
use crate::dispatch::{check_extension, read_prefix, scan_as};

/// Runs the scanner's per-file pipeline over `bytes` named `name`; returns the findings and
/// the refined format.
pub(crate) fn run_with(
    bytes: &[u8],
    name: &str,
    limits: &Limits,
) -> (Vec<Finding>, Option<FileFormat>) {
    let mut sink = FindingSink::default();
    {
        let mut ctx = Ctx::new(
            limits,
            Location::file(name),
            name.to_owned(),
            None,
            &mut sink,
        );
        let src: &[u8] = bytes;
        let prefix = read_prefix(&src).unwrap();
        let format = detect_format(&prefix, bytes.len() as u64, name);
        check_extension(&mut ctx, format);
        scan_as(&mut ctx, format, &src);
        if !matches!(
            format,
            FileFormat::Zip | FileFormat::TorchZip | FileFormat::Npz | FileFormat::Keras
        ) {
            super::check_polyglot(&mut ctx, format, &src);
        }
    }
    (sink.findings, sink.refined_format)
}

/// [`run_with`] at default limits, findings only.
pub(crate) fn run(bytes: &[u8], name: &str) -> Vec<Finding> {
    run_with(bytes, name, &Limits::default()).0
}

/// A version 1.0 `.npy` file with header dict `dict` (padded as numpy pads it) and `data`.
pub(crate) fn npy_file(dict: &str, data: &[u8]) -> Vec<u8> {
    let mut header = dict.to_owned();
    while !(10 + header.len() + 1).is_multiple_of(64) {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

/// An `.npy` whose header promises 16 data bytes but holds 3: scanning it reports
/// `NumpyMalformed`, which proves a member was dispatched (and under which name).
pub(crate) fn bad_npy() -> Vec<u8> {
    npy_file(
        "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }",
        &[0; 3],
    )
}

/// Raw deflate made of stored blocks (valid zip method 8 data, no encoder needed).
pub(crate) fn deflate_stored(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut chunks = data.chunks(65_535).peekable();
    if chunks.peek().is_none() {
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    while let Some(chunk) = chunks.next() {
        out.push(u8::from(chunks.peek().is_none()));
        let len = chunk.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(chunk);
    }
    out
}

/// A gzip member of stored deflate blocks.
pub(crate) fn gzip_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    out.extend(deflate_stored(data));
    out.extend_from_slice(&crc32(data).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

/// A Zstandard frame with one raw block (`data` shorter than 256 bytes).
pub(crate) fn zstd_raw(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x28, 0xb5, 0x2f, 0xfd, 0x20, data.len() as u8];
    let header = ((data.len() as u32) << 3) | 1;
    out.extend_from_slice(&header.to_le_bytes()[..3]);
    out.extend_from_slice(data);
    out
}

/// [`bad_npy`] compressed by `CPython` 3.11's `bz2.compress(x, 1)`, `lzma.compress(x,
/// format=FORMAT_XZ)` and `lzma.compress(x, format=FORMAT_ALONE)`.
pub(crate) const BAD_NPY_BZIP2: &[u8] =
    b"\x42\x5a\x68\x31\x31\x41\x59\x26\x53\x59\x58\xc1\x3c\xaf\x00\x00\x25\xdf\xa0\x60\
    \x10\x40\xe4\x04\x54\x01\x03\x42\x20\xaf\x45\xdd\x0a\x08\x00\x20\x00\x54\x44\x02\
    \x64\xd0\x30\x80\x19\xa8\xf4\x22\x9e\xd5\x1e\xa6\x86\x9a\x34\x06\x9a\x06\x8f\x50\
    \x0c\x78\x31\x6a\xb0\x9d\x69\x18\x30\xe9\x44\xd1\x4e\x64\xb9\x1e\xce\x30\x65\x24\
    \x47\x0f\xb5\x86\xd2\x8b\xfb\x50\xd5\x48\x87\xaa\x4d\x42\xb1\x40\xec\x44\x08\x27\
    \x62\x21\xb9\xec\x2e\xe4\x8a\x70\xa1\x20\xb1\x82\x79\x5e";
pub(crate) const BAD_NPY_XZ: &[u8] =
    b"\xfd\x37\x7a\x58\x5a\x00\x00\x04\xe6\xd6\xb4\x46\x02\x00\x21\x01\x16\x00\x00\x00\
    \x74\x2f\xe5\xa3\xe0\x00\x82\x00\x49\x5d\x00\x49\x93\x86\xa4\xde\xd3\x82\x79\x6a\
    \x5b\x0d\x23\x38\x36\xab\x9d\x9d\x4c\x4d\xee\xe3\x6d\xc3\x1d\xeb\x67\x22\x66\xee\
    \x1c\xa4\x40\xba\xf8\x99\xd7\x49\x27\x26\xe2\x17\x2d\x79\x69\x33\x39\x6e\x47\x25\
    \x36\xbc\xfc\xfc\x95\x08\x97\xf8\x15\xee\xad\x5c\xd2\x10\xc1\x61\xba\x56\xa2\x12\
    \x1a\xe5\xa0\x00\x00\x00\x00\x00\x45\xf8\x04\xfa\x6b\x52\xa7\xda\x00\x01\x65\x83\
    \x01\x00\x00\x00\x13\xe7\x96\xd5\xb1\xc4\x67\xfb\x02\x00\x00\x00\x00\x04\x59\x5a";
pub(crate) const BAD_NPY_LZMA: &[u8] =
    b"\x5d\x00\x00\x80\x00\xff\xff\xff\xff\xff\xff\xff\xff\x00\x49\x93\x86\xa4\xde\xd3\
    \x82\x79\x6a\x5b\x0d\x23\x38\x36\xab\x9d\x9d\x4c\x4d\xee\xe3\x6d\xc3\x1d\xeb\x67\
    \x22\x66\xee\x1c\xa4\x40\xba\xf8\x99\xd7\x49\x27\x26\xe2\x17\x2d\x79\x69\x33\x39\
    \x6e\x47\x25\x36\xbc\xfc\xfc\x95\x08\x97\xf8\x15\xee\xad\x5c\xd2\x10\xc1\x61\xba\
    \x56\xa2\x12\x31\xc3\x67\xff\xff\xf4\x7f\xc8\x00";

/// One zip member for [`zip`].
#[derive(Clone)]
pub(crate) struct Member {
    pub(crate) name: String,
    pub(crate) data: Vec<u8>,
    pub(crate) deflate: bool,
    pub(crate) flags: u16,
    pub(crate) method: Option<u16>,
    pub(crate) local_name: Option<String>,
    /// Written locally, left out of the central directory.
    pub(crate) unlisted: bool,
}

pub(crate) fn stored(name: &str, data: &[u8]) -> Member {
    Member {
        name: name.to_owned(),
        data: data.to_vec(),
        deflate: false,
        flags: 0,
        method: None,
        local_name: None,
        unlisted: false,
    }
}

pub(crate) fn deflated(name: &str, data: &[u8]) -> Member {
    Member {
        deflate: true,
        ..stored(name, data)
    }
}

/// A zip of `members` after `prefix` (offsets relative to the zip part, as `cat` leaves them).
pub(crate) fn zip_with_prefix(prefix: &[u8], members: &[Member]) -> Vec<u8> {
    let mut out = prefix.to_vec();
    let base = prefix.len();
    let mut central = Vec::new();
    for m in members {
        let lho = (out.len() - base) as u32;
        let body = if m.deflate {
            deflate_stored(&m.data)
        } else {
            m.data.clone()
        };
        let method = m.method.unwrap_or(if m.deflate { 8 } else { 0 });
        let crc = crc32(&m.data);
        let fixed = |out: &mut Vec<u8>, name_len: usize| {
            out.extend_from_slice(&m.flags.to_le_bytes());
            out.extend_from_slice(&method.to_le_bytes());
            out.extend_from_slice(&[0, 0, 0x21, 0]);
            out.extend_from_slice(&crc.to_le_bytes());
            out.extend_from_slice(&(body.len() as u32).to_le_bytes());
            out.extend_from_slice(&(m.data.len() as u32).to_le_bytes());
            out.extend_from_slice(&(name_len as u16).to_le_bytes());
            out.extend_from_slice(&[0, 0]);
        };
        let local_name = m.local_name.as_deref().unwrap_or(&m.name);
        out.extend_from_slice(b"PK\x03\x04\x14\x00");
        fixed(&mut out, local_name.len());
        out.extend_from_slice(local_name.as_bytes());
        out.extend_from_slice(&body);
        if m.unlisted {
            continue;
        }
        central.extend_from_slice(b"PK\x01\x02\x14\x00\x14\x00");
        fixed(&mut central, m.name.len());
        central.extend_from_slice(&[0; 10]);
        central.extend_from_slice(&lho.to_le_bytes());
        central.extend_from_slice(m.name.as_bytes());
    }
    let cd_offset = (out.len() - base) as u32;
    out.extend_from_slice(&central);
    out.extend_from_slice(b"PK\x05\x06\0\0\0\0");
    let n = members.iter().filter(|m| !m.unlisted).count() as u16;
    out.extend_from_slice(&n.to_le_bytes());
    out.extend_from_slice(&n.to_le_bytes());
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&[0, 0]);
    out
}

pub(crate) fn zip(members: &[Member]) -> Vec<u8> {
    zip_with_prefix(&[], members)
}

/// A ustar header block for `name`.
pub(crate) fn tar_header(name: &str, size: usize, type_flag: u8, link: &str) -> Vec<u8> {
    let mut h = vec![0u8; 512];
    h[..name.len()].copy_from_slice(name.as_bytes());
    h[100..107].copy_from_slice(b"0000644");
    h[124..135].copy_from_slice(format!("{size:011o}").as_bytes());
    h[136..147].copy_from_slice(b"00000000000");
    h[156] = type_flag;
    h[157..157 + link.len()].copy_from_slice(link.as_bytes());
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|b| u32::from(*b)).sum();
    h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
    h
}

/// A tar of `(name, data, type flag, link)` members with its end marker.
pub(crate) fn tar(members: &[(&str, &[u8], u8, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, data, flag, link) in members {
        out.extend(tar_header(name, data.len(), *flag, link));
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.extend_from_slice(&[0; 1024]);
    out
}

pub(crate) fn rules(findings: &[Finding]) -> Vec<RuleId> {
    findings.iter().map(|f| f.rule).collect()
}

fn high(findings: &[Finding]) -> Vec<&Finding> {
    findings
        .iter()
        .filter(|f| f.severity >= Severity::High)
        .collect()
}

fn torch_members() -> Vec<Member> {
    vec![
        stored("archive/data.pkl", b"\x80\x02}q\x00."),
        stored("archive/byteorder", b"little"),
        // Raw tensor bytes that happen to look like a broken .npy: never scanned.
        stored("archive/data/0", &bad_npy()),
        stored("archive/.data/serialization_id", b"1234567890"),
        stored("archive/constants/0", &bad_npy()),
        stored("archive/constants.pkl", b"\x80\x02)."),
        stored("archive/version", b"3\n"),
    ]
}

#[test]
fn benign_torch_zip_is_clean_and_storages_are_not_scanned() {
    let (findings, format) = run_with(&zip(&torch_members()), "model.pt", &Limits::default());
    assert!(findings.is_empty(), "{findings:?}");
    assert_eq!(format, Some(FileFormat::TorchZip));
}

#[test]
fn members_are_scanned_with_their_names() {
    let mut members = torch_members();
    members.push(stored("archive/extra.npy", &bad_npy()));
    members.push(deflated("archive/deflated.npy", &bad_npy()));
    let findings = run(&zip(&members), "model.pt");
    let located: Vec<(RuleId, Option<&str>)> = findings
        .iter()
        .map(|f| (f.rule, f.location.member.as_deref()))
        .collect();
    assert_eq!(
        located,
        [
            (RuleId::NumpyMalformed, Some("archive/extra.npy")),
            (RuleId::NumpyMalformed, Some("archive/deflated.npy")),
        ]
    );
}

#[test]
fn npz_and_keras_layouts_refine_the_format() {
    let ok = npy_file(
        "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }",
        &[0; 4],
    );
    let (findings, format) = run_with(
        &zip(&[stored("a.npy", &ok), deflated("b.npy", &ok)]),
        "w.npz",
        &Limits::default(),
    );
    assert!(findings.is_empty(), "{findings:?}");
    assert_eq!(format, Some(FileFormat::Npz));
    let keras = zip(&[
        stored("metadata.json", b"{\"keras_version\": \"3.0.0\"}"),
        deflated("config.json", b"{\"class_name\": \"Sequential\"}"),
        stored("model.weights.h5", b"\x89HDF\r\n\x1a\n"),
    ]);
    let (_, format) = run_with(&keras, "m.keras", &Limits::default());
    assert_eq!(format, Some(FileFormat::Keras));
    // config.json goes to the Keras config checks, read within the JSON limit.
    let small = Limits {
        max_json_bytes: 8,
        ..Limits::default()
    };
    let (findings, _) = run_with(&keras, "m.keras", &small);
    // The truncated HDF5 weights member is reached too (its superblock is missing).
    assert_eq!(
        rules(&findings),
        [RuleId::LimitExceeded, RuleId::KerasMalformed],
        "{findings:?}"
    );
    assert!(findings[0].message.contains("config.json"));
}

#[test]
fn duplicates_are_reported_and_every_copy_scanned() {
    let findings = run(
        &zip(&[stored("a.npy", &bad_npy()), stored("a.npy", &bad_npy())]),
        "x.npz",
    );
    assert_eq!(
        rules(&findings),
        [
            RuleId::ZipDuplicateMember,
            RuleId::NumpyMalformed,
            RuleId::NumpyMalformed
        ]
    );
    assert_eq!(findings[0].severity, Severity::High);
    assert_eq!(findings[0].subject.as_deref(), Some("a.npy"));
    // Case-only collisions are legitimate in an npz (np.savez(x=…, X=…)): medium.
    let ok = npy_file(
        "{'descr': '|u1', 'fortran_order': False, 'shape': (1,), }",
        &[0],
    );
    let findings = run(&zip(&[stored("x.npy", &ok), stored("X.npy", &ok)]), "x.npz");
    assert_eq!(rules(&findings), [RuleId::ZipDuplicateMember]);
    assert_eq!(findings[0].severity, Severity::Medium);
}

#[test]
fn header_mismatch_encryption_method_and_paths() {
    let mut renamed = stored("archive/data.pkl", b"\x80\x02N.");
    renamed.local_name = Some("archive/other.pkl".into());
    let mut encrypted = stored("archive/secret.pkl", b"xx");
    encrypted.flags = 1;
    let mut deflate64 = stored("archive/odd.pkl", b"xx");
    deflate64.method = Some(9);
    let findings = run(
        &zip(&[
            renamed,
            encrypted,
            deflate64,
            stored("archive/../../evil.pkl", b"x"),
            stored("stray.pkl", b"x"),
        ]),
        "model.pt",
    );
    let got = rules(&findings);
    for rule in [
        RuleId::ZipHeaderMismatch,
        RuleId::ZipEncryptedMember,
        RuleId::ArchiveUnsupported,
        RuleId::ArchiveMemberPath,
    ] {
        assert!(got.contains(&rule), "{rule:?} missing from {got:?}");
    }
    let outside = findings
        .iter()
        .filter(|f| f.rule == RuleId::ArchiveMemberPath && f.message.contains("checkpoint folder"))
        .count();
    assert_eq!(outside, 2, "{findings:?}");
    assert!(findings.iter().all(|f| f.severity >= Severity::High));
}

#[test]
fn hidden_members_are_reported() {
    let mut hidden = stored("archive/evil.pkl", b"\x80\x02N.");
    hidden.unlisted = true;
    let mut members = torch_members();
    members.insert(1, hidden);
    let findings = run(&zip(&members), "model.pt");
    assert_eq!(rules(&findings), [RuleId::ArchiveMalformed], "{findings:?}");
    assert_eq!(findings[0].severity, Severity::High);
    assert_eq!(findings[0].subject.as_deref(), Some("archive/data.pkl"));
}

#[test]
fn unreadable_zip_is_malformed() {
    let mut bytes = zip(&torch_members());
    let cd = bytes.len() - 22;
    bytes[cd + 18] ^= 0x01; // central directory offset now points 64 KiB past the end
    let findings = run(&bytes, "model.pt");
    assert_eq!(rules(&findings), [RuleId::ArchiveMalformed]);
}

#[test]
fn polyglot_pickle_with_a_zip_tail() {
    let bytes = zip_with_prefix(b"\x80\x02N.", &[stored("archive/data.npy", &bad_npy())]);
    let findings = run(&bytes, "model.pkl");
    // The pickle side sees the zip as trailing data; the zip side is scanned too.
    assert_eq!(
        rules(&findings),
        [
            RuleId::PickleTrailingData,
            RuleId::ExtensionMismatch,
            RuleId::NumpyMalformed
        ],
        "{findings:?}"
    );
    assert_eq!(findings[1].severity, Severity::High);
    assert_eq!(
        findings[2].location.member.as_deref(),
        Some("archive/data.npy")
    );
}

#[test]
fn stray_end_record_signatures_are_not_polyglots() {
    let mut bytes = b"\x80\x02N.".to_vec();
    bytes.extend_from_slice(b"PK\x05\x06\0\0\0\0\x01\0\x01\0\x2e\0\0\0\0\0\0\0\0\0");
    // Only the pickle side's own note about the bytes after STOP; no polyglot finding.
    assert_eq!(
        rules(&run(&bytes, "model.pkl")),
        [RuleId::PickleTrailingData]
    );
    let mut blob = vec![0x42u8; 5000];
    blob[4000..4004].copy_from_slice(b"PK\x05\x06");
    assert!(run(&blob, "weights.bin").is_empty());
    // A zip stored as the last member of a tar is not a polyglot (tar padding follows it).
    let inner = zip(&[stored("a.txt", b"hello")]);
    let outer = tar(&[("inner.zip", &inner, b'0', "")]);
    assert!(run(&outer, "x.tar").is_empty());
}

#[test]
fn tar_members_are_scanned_and_tricks_reported() {
    let bytes = tar(&[
        ("dir/x.npy", &bad_npy(), b'0', ""),
        ("../escape.pkl", b"x", b'0', ""),
        ("link", b"", b'2', "../../etc/passwd"),
        ("inner", b"", b'2', "dir/x.npy"),
    ]);
    let findings = run(&bytes, "x.tar");
    let located: Vec<(RuleId, Severity, Option<&str>)> = findings
        .iter()
        .map(|f| (f.rule, f.severity, f.location.member.as_deref()))
        .collect();
    assert_eq!(
        located,
        [
            (RuleId::ArchiveMemberPath, Severity::High, None),
            (RuleId::ArchiveMemberPath, Severity::High, None),
            (RuleId::ArchiveMemberPath, Severity::Medium, None),
            (RuleId::NumpyMalformed, Severity::High, Some("dir/x.npy")),
            // `x` is not a pickle, but the `.pkl` name promises one: parsed as such, it fails.
            (
                RuleId::PickleMalformed,
                Severity::High,
                Some("../escape.pkl")
            ),
        ]
    );
}

/// A legacy `storages` member: two storages whose raw bytes look like pickle opcodes.
fn legacy_storages() -> Vec<u8> {
    let mut m = b"\x80\x02K\x02.".to_vec();
    for (key, ty, numel, size) in [("1", "FloatStorage", 4u64, 4), ("2", "HalfStorage", 3, 2)] {
        m.extend_from_slice(b"\x80\x02(X\x01\x00\x00\x00");
        m.extend_from_slice(key.as_bytes());
        m.extend_from_slice(b"X\x03\x00\x00\x00cpuctorch\n");
        m.extend_from_slice(ty.as_bytes());
        m.extend_from_slice(b"\nt.");
        m.extend_from_slice(&numel.to_le_bytes());
        m.extend(std::iter::repeat_n(0x80u8, numel as usize * size));
    }
    m.extend_from_slice(b"\x80\x02].");
    m
}

#[test]
fn legacy_torch_tar() {
    let tensors = b"\x80\x02K\x00.";
    let storages = legacy_storages();
    let good = tar(&[
        ("sys_info_p", b"\x80\x02}.", b'0', ""),
        ("pickle", b"\x80\x02N.", b'0', ""),
        ("storages", &storages, b'0', ""),
        ("tensors", tensors, b'0', ""),
    ]);
    let (findings, format) = run_with(&good, "old.pt", &Limits::default());
    assert!(findings.is_empty(), "{findings:?}");
    assert_eq!(format, Some(FileFormat::TorchTar));
    // Storages that do not follow the layout are reported, not scanned as one pickle.
    let broken = tar(&[
        ("pickle", b"\x80\x02N.", b'0', ""),
        ("storages", &storages[..storages.len() - 5], b'0', ""),
        ("tensors", tensors, b'0', ""),
    ]);
    let findings = run(&broken, "old.pt");
    assert_eq!(rules(&findings), [RuleId::ArchiveMalformed]);
    assert_eq!(findings[0].subject.as_deref(), Some("storages"));
}

#[test]
fn nested_containers_chain_member_names() {
    let inner = tar(&[("w/x.npy", &bad_npy(), b'0', "")]);
    let findings = run(&gzip_stored(&inner), "model.tar.gz");
    assert_eq!(rules(&findings), [RuleId::NumpyMalformed]);
    assert_eq!(
        findings[0].location.member.as_deref(),
        Some("<decompressed gzip>!w/x.npy")
    );
    let zipped = zip(&[stored("t.tar", &inner)]);
    let findings = run(&zipped, "bundle.zip");
    assert_eq!(
        findings[0].location.member.as_deref(),
        Some("t.tar!w/x.npy")
    );
}

#[test]
fn limits_fail_closed() {
    let limits = Limits {
        max_archive_members: 2,
        ..Limits::default()
    };
    let (findings, _) = run_with(&zip(&torch_members()), "model.pt", &limits);
    assert!(
        high(&findings)
            .iter()
            .any(|f| f.rule == RuleId::LimitExceeded)
    );
    // Members expanding past the in-memory cap: reported, prefix still scanned.
    let limits = Limits {
        max_in_memory_bytes: 100,
        ..Limits::default()
    };
    let (findings, _) = run_with(&zip(&[deflated("big.npy", &bad_npy())]), "x.zip", &limits);
    assert!(
        rules(&findings).contains(&RuleId::LimitExceeded),
        "{findings:?}"
    );
}

mod never_panics {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]
        #[test]
        fn on_mutated_zips(flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6)) {
            let mut bytes = zip(&torch_members());
            let len = bytes.len();
            for (at, v) in flips {
                bytes[at % len] = v;
            }
            let _ = run(&bytes, "model.pt");
        }

        #[test]
        fn on_mutated_tars(flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6)) {
            let mut bytes = tar(&[("pickle", b"\x80\x02N.", b'0', ""), ("storages", &legacy_storages(), b'0', ""), ("tensors", b"\x80\x02K\x00.", b'0', "")]);
            let len = bytes.len();
            for (at, v) in flips {
                bytes[at % len] = v;
            }
            let _ = run(&bytes, "old.pt");
        }
    }
}
