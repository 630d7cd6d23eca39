use proptest::prelude::*;

use super::testkit::{Member, ZipWriter};
use super::*;
use crate::compress::Caps;

fn parse(bytes: &[u8]) -> ZipArchive {
    ZipArchive::parse(&bytes, &Limits::default()).unwrap()
}

fn kinds(zip: &ZipArchive) -> Vec<IssueKind> {
    zip.issues.iter().map(|i| i.kind.clone()).collect()
}

fn torch_like() -> Vec<Member> {
    vec![
        Member::stored("archive/data.pkl", b"\x80\x02}q\x00."),
        Member::stored("archive/data/0", &[0x80, 0x02, 1, 2, 3, 4, 5, 6]),
        Member::stored("archive/version", b"3\n"),
    ]
}

fn read_member(src: &[u8], entry: &Entry) -> Vec<u8> {
    match member_data(&src, entry, &Caps::from_limits(&Limits::default())).unwrap() {
        MemberData::Stored(window) => window.read_vec(0, window.len(), u64::MAX).unwrap(),
        MemberData::Expanded(out) => {
            assert_eq!(out.stop, None);
            out.data
        }
    }
}

#[test]
fn benign_torch_like_archive_has_no_issues() {
    let bytes = ZipWriter::new(torch_like()).build();
    let zip = parse(&bytes);
    assert_eq!(kinds(&zip), vec![]);
    let names: Vec<&str> = zip.entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(
        names,
        ["archive/data.pkl", "archive/data/0", "archive/version"]
    );
    assert_eq!(read_member(&bytes, &zip.entries[0]), b"\x80\x02}q\x00.");
    assert_eq!(read_member(&bytes, &zip.entries[2]), b"3\n");
    assert_eq!(zip.zip64_record_offset, None);
}

#[test]
fn benign_zip64_archive_has_no_issues() {
    let writer = ZipWriter {
        zip64: true,
        ..ZipWriter::new(torch_like())
    };
    let bytes = writer.build();
    let zip = parse(&bytes);
    assert_eq!(kinds(&zip), vec![]);
    assert!(zip.zip64_record_offset.is_some());
    assert_eq!(zip.entries.len(), 3);
    assert_eq!(
        read_member(&bytes, &zip.entries[1]),
        [0x80, 0x02, 1, 2, 3, 4, 5, 6]
    );
}

#[test]
fn deflated_members_expand_and_match_their_crc() {
    let data = b"hello hello hello hello".repeat(100);
    let bytes = ZipWriter::new(vec![Member::deflated("x.npy", &data)]).build();
    let zip = parse(&bytes);
    assert_eq!(kinds(&zip), vec![]);
    let out = read_member(&bytes, &zip.entries[0]);
    assert_eq!(out, data);
    assert_eq!(crc32(&out), zip.entries[0].crc32);
}

#[test]
fn duplicate_names_exact_normalised_and_case_folded() {
    let bytes = ZipWriter::new(vec![
        Member::stored("a/b.pkl", b"1"),
        Member::stored("a/b.pkl", b"2"),
        Member::stored("a/./b.pkl", b"3"),
        Member::stored("A/B.pkl", b"4"),
    ])
    .build();
    let zip = parse(&bytes);
    let dups: Vec<(Option<usize>, IssueKind)> = zip
        .issues
        .iter()
        .filter(|i| matches!(i.kind, IssueKind::DuplicateName { .. }))
        .map(|i| (i.entry, i.kind.clone()))
        .collect();
    assert_eq!(
        dups,
        vec![
            (
                Some(1),
                IssueKind::DuplicateName {
                    first: 0,
                    kind: DuplicateKind::Exact
                }
            ),
            (
                Some(2),
                IssueKind::DuplicateName {
                    first: 0,
                    kind: DuplicateKind::Normalised
                }
            ),
            (
                Some(3),
                IssueKind::DuplicateName {
                    first: 0,
                    kind: DuplicateKind::CaseFolded
                }
            ),
        ]
    );
}

#[test]
fn local_header_mismatches() {
    let mut renamed = Member::stored("archive/data.pkl", b"x");
    renamed.local_name = Some(b"archive/other.pkl".to_vec());
    let mut remethod = Member::stored("b", b"y");
    remethod.local_method = Some(8);
    let zip = parse(&ZipWriter::new(vec![renamed, remethod]).build());
    let fields: Vec<&str> = zip
        .issues
        .iter()
        .filter_map(|i| match &i.kind {
            IssueKind::LocalHeaderMismatch { field, .. } => Some(*field),
            _ => None,
        })
        .collect();
    assert_eq!(fields, ["name", "method"]);
}

#[test]
fn encrypted_and_unsupported_members() {
    let mut enc = Member::stored("secret.pkl", b"zz");
    enc.flags = FLAG_ENCRYPTED;
    let mut strong = Member::stored("strong.pkl", b"zz");
    strong.flags = FLAG_ENCRYPTED | FLAG_STRONG_ENCRYPTION;
    let mut odd = Member::stored("odd.pkl", b"zz");
    odd.method = 9;
    let bytes = ZipWriter::new(vec![enc, strong, odd]).build();
    let zip = parse(&bytes);
    let k = kinds(&zip);
    assert!(k.contains(&IssueKind::Encrypted { strong: false }));
    assert!(k.contains(&IssueKind::Encrypted { strong: true }));
    assert!(k.contains(&IssueKind::UnsupportedMethod { method: 9 }));
    let caps = Caps::from_limits(&Limits::default());
    assert_eq!(
        member_data(&bytes.as_slice(), &zip.entries[0], &caps).err(),
        Some(MemberError::Encrypted)
    );
    assert_eq!(
        member_data(&bytes.as_slice(), &zip.entries[2], &caps).err(),
        Some(MemberError::UnsupportedMethod { method: 9 })
    );
}

#[test]
fn overlapping_members_are_detected() {
    // Two central entries share one local header: the "better zip bomb" construction.
    let first = Member::stored("a.pkl", b"payload");
    let mut second = Member::stored("a.pkl", b"payload");
    second.name = b"b.pkl".to_vec();
    second.local_name = Some(b"unused".to_vec());
    second.point_at = Some(0);
    let zip = parse(&ZipWriter::new(vec![first, second]).build());
    assert!(
        zip.issues
            .iter()
            .any(|i| i.kind == IssueKind::OverlappingData { other: 0 } && i.entry == Some(1))
    );
}

#[test]
fn data_past_the_central_directory_or_the_end() {
    let mut long = Member::stored("a", b"abc");
    long.central_compressed = Some(40);
    let mut huge = Member::stored("b", b"abc");
    huge.central_compressed = Some(1 << 30);
    let zip = parse(&ZipWriter::new(vec![long, huge]).build());
    let bounds: Vec<Bound> = zip
        .issues
        .iter()
        .filter_map(|i| match i.kind {
            IssueKind::DataOutOfBounds { bound, .. } => Some(bound),
            _ => None,
        })
        .collect();
    assert_eq!(bounds, [Bound::CentralDirectory, Bound::EndOfFile]);
}

#[test]
fn absurd_declared_ratio() {
    let mut bomb = Member::deflated("bomb.bin", &[0u8; 4096]);
    bomb.uncompressed = 3 << 30;
    let zip = parse(&ZipWriter::new(vec![bomb]).build());
    assert!(
        kinds(&zip)
            .iter()
            .any(|k| matches!(k, IssueKind::DeclaredRatio { .. }))
    );
}

#[test]
fn path_tricks_and_symlinks() {
    let mut link = Member::stored("link", b"/etc/passwd");
    link.made_by = 0x0314;
    link.external = 0o120_777 << 16;
    let zip = parse(
        &ZipWriter::new(vec![
            Member::stored("../evil.pkl", b"a"),
            Member::stored("/abs.pkl", b"a"),
            Member::stored("a\\b.pkl", b"a"),
            Member::stored("a\0.pkl", b"a"),
            link,
        ])
        .build(),
    );
    let k = kinds(&zip);
    for p in [
        PathIssue::DotDot,
        PathIssue::Absolute,
        PathIssue::Backslash,
        PathIssue::Nul,
    ] {
        assert!(k.contains(&IssueKind::Path(p)), "{p:?}");
    }
    assert!(k.contains(&IssueKind::Symlink));
}

#[test]
fn prepended_data_with_and_without_adjusted_offsets() {
    let prefix = b"\x80\x04\x95not a zip, a pickle first".to_vec();
    let shifted = ZipWriter {
        prefix: prefix.clone(),
        ..ZipWriter::new(torch_like())
    }
    .build();
    let zip = parse(&shifted);
    let k = kinds(&zip);
    assert!(k.contains(&IssueKind::CentralDirectoryShifted {
        by: prefix.len() as u64
    }));
    assert!(k.contains(&IssueKind::PrependedData {
        len: prefix.len() as u64
    }));
    assert_eq!(read_member(&shifted, &zip.entries[2]), b"3\n");

    let adjusted = ZipWriter {
        prefix: prefix.clone(),
        absolute_offsets: true,
        ..ZipWriter::new(torch_like())
    }
    .build();
    let zip = parse(&adjusted);
    assert_eq!(
        kinds(&zip),
        vec![IssueKind::PrependedData {
            len: prefix.len() as u64
        }]
    );
}

#[test]
fn spanning_marker_is_not_prepended_data() {
    let writer = ZipWriter {
        prefix: b"PK\x07\x08".to_vec(),
        absolute_offsets: true,
        ..ZipWriter::new(torch_like())
    };
    assert_eq!(kinds(&parse(&writer.build())), vec![]);
}

#[test]
fn entry_count_mismatch() {
    let writer = ZipWriter {
        declared_entries: Some(5),
        ..ZipWriter::new(torch_like())
    };
    let zip = parse(&writer.build());
    assert!(kinds(&zip).contains(&IssueKind::EntryCountMismatch {
        declared: 5,
        found: 3
    }));
}

#[test]
fn competing_end_records() {
    let real = ZipWriter::new(torch_like()).build();
    let zip = parse(&real);
    // A second end record in the comment, describing only the first entry.
    let first_len = zip.entries[1].central_offset - zip.entries[0].central_offset;
    let mut fake = b"PK\x05\x06\0\0\0\0\x01\0\x01\0".to_vec();
    fake.extend_from_slice(&(first_len as u32).to_le_bytes());
    fake.extend_from_slice(&(zip.central_directory_offset as u32).to_le_bytes());
    fake.extend_from_slice(&[0, 0]);
    let writer = ZipWriter {
        comment: fake,
        ..ZipWriter::new(torch_like())
    };
    let zip = parse(&writer.build());
    assert!(kinds(&zip).contains(&IssueKind::MultipleEndRecords { count: 2 }));
    // A comment that merely mentions the signature changes nothing.
    let harmless = ZipWriter {
        comment: b"see PK\x05\x06 in the spec".to_vec(),
        ..ZipWriter::new(torch_like())
    };
    assert_eq!(kinds(&parse(&harmless.build())), vec![]);
}

#[test]
fn member_limit_and_errors() {
    let limits = Limits {
        max_archive_members: 2,
        ..Limits::default()
    };
    let bytes = ZipWriter::new(torch_like()).build();
    let zip = ZipArchive::parse(&bytes.as_slice(), &limits).unwrap();
    assert_eq!(zip.entries.len(), 2);
    assert!(
        kinds(&zip)
            .iter()
            .any(|k| matches!(k, IssueKind::LimitReached { .. }))
    );

    let none = ZipArchive::parse(&b"just some bytes".as_slice(), &Limits::default());
    assert!(matches!(none, Err(ZipError::NoEndRecord { .. })));
    let mut random = vec![7u8; 300];
    random.extend_from_slice(b"PK\x05\x06\0\0\0\0\x01\0\x01\0\x10\0\0\0\x20\0\0\0\0\0");
    let bad = ZipArchive::parse(&random.as_slice(), &Limits::default());
    assert!(matches!(bad, Err(ZipError::BadEndRecord { .. })), "{bad:?}");
    let truncated = &bytes[..bytes.len() - 30];
    assert!(ZipArchive::parse(&truncated, &Limits::default()).is_err());
}

#[test]
fn truncated_central_directory_is_an_issue() {
    let bytes = ZipWriter::new(torch_like()).build();
    let zip = parse(&bytes);
    let mut cut = bytes.clone();
    // Break the second central entry's signature.
    let at = zip.entries[1].central_offset as usize;
    cut[at] = b'X';
    let zip = parse(&cut);
    assert_eq!(zip.entries.len(), 1);
    assert!(
        kinds(&zip)
            .iter()
            .any(|k| matches!(k, IssueKind::CentralEntryMalformed { .. }))
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn never_panics_on_random_bytes(mut bytes in proptest::collection::vec(any::<u8>(), 0..600), eocd_at in 0usize..600) {
        // Plant an end-record signature so the interesting paths run.
        if eocd_at + 4 <= bytes.len() {
            bytes[eocd_at..eocd_at + 4].copy_from_slice(b"PK\x05\x06");
        }
        if let Ok(zip) = ZipArchive::parse(&bytes.as_slice(), &Limits::default()) {
            for e in &zip.entries {
                let _ = member_data(&bytes.as_slice(), e, &Caps::from_limits(&Limits::default()));
            }
        }
    }

    #[test]
    fn never_panics_on_mutated_archives(flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8), zip64 in any::<bool>()) {
        let mut bytes = ZipWriter { zip64, ..ZipWriter::new(torch_like()) }.build();
        let len = bytes.len();
        for (at, v) in flips {
            bytes[at % len] = v;
        }
        if let Ok(zip) = ZipArchive::parse(&bytes.as_slice(), &Limits::default()) {
            for e in &zip.entries {
                let _ = member_data(&bytes.as_slice(), e, &Caps::from_limits(&Limits::default()));
            }
        }
    }
}

// Archives written by CPython 3 `zipfile` (stdlib only), pasted as literals:
// a: deflate, `z.open(name, "w", force_zip64=True)` (ZIP64 extra in the local header), a directory;
// b: stored, written to an unseekable stream (flag bit 3, data descriptors);
// c: `ZIP_BZIP2`; d: `ZIP_LZMA` (end-marker flag bit 1) with an archive comment.
// Recipe (Python 3.12):
//   with zipfile.ZipFile("a.zip", "w", compression=zipfile.ZIP_DEFLATED) as z:
//       with z.open("archive/data.pkl", "w", force_zip64=True) as f: f.write(b"\x80\x02}q\x00.")
//       z.writestr("archive/data/0", b"\x00" * 1000); z.writestr("dir/", b"")
//   (b) the same with ZIP_STORED into an io.RawIOBase that only implements write():
//       z.writestr("x/data.pkl", b"\x80\x02K\x01."); z.writestr("x/y", b"abc" * 10)
//   (c, d) z.writestr("p.pkl", b"\x80\x02K\x01." * 100) with ZIP_BZIP2 / ZIP_LZMA (+ comment b"hello")
const CPYTHON_A: &[u8] =
    b"PK\x03\x04-\x00\x00\x00\x08\x00\x00\x00!\x00\xf2\x91\x02\xc5\xff\xff\xff\xff\xff\xff\xff\xff\
    \x10\x00\x14\x00archive/data.pkl\x01\x00\x10\x00\x06\x00\x00\x00\x00\x00\x00\x00\x08\x00\x00\
    \x00\x00\x00\x00\x00k`\xaa-d\xd0\x03\x00PK\x03\x04\x14\x00\x00\x00\x08\x00\x17\x10v]\x80\x17\
    \x0b\x06\x0b\x00\x00\x00\xe8\x03\x00\x00\x0e\x00\x00\x00archive/data/0c`\x18\x05\xa3`\x14\
    \x0cw\x00\x00PK\x03\x04\x14\x00\x00\x00\x08\x00\x17\x10v]\x00\x00\x00\x00\x02\x00\x00\x00\
    \x00\x00\x00\x00\x04\x00\x00\x00dir/\x03\x00PK\x01\x02-\x03-\x00\x00\x00\x08\x00\x00\x00!\
    \x00\xf2\x91\x02\xc5\x08\x00\x00\x00\x06\x00\x00\x00\x10\x00\x00\x00\x00\x00\x00\x00\x00\x00\
    \x00\x00\x80\x01\x00\x00\x00\x00archive/data.pklPK\x01\x02\x14\x03\x14\x00\x00\x00\x08\x00\
    \x17\x10v]\x80\x17\x0b\x06\x0b\x00\x00\x00\xe8\x03\x00\x00\x0e\x00\x00\x00\x00\x00\x00\x00\
    \x00\x00\x00\x00\x80\x01J\x00\x00\x00archive/data/0PK\x01\x02\x14\x03\x14\x00\x00\x00\x08\
    \x00\x17\x10v]\x00\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x04\x00\x00\x00\x00\x00\x00\
    \x00\x00\x00\x10\x00\xfdA\x81\x00\x00\x00dir/PK\x05\x06\x00\x00\x00\x00\x03\x00\x03\x00\xac\
    \x00\x00\x00\xa5\x00\x00\x00\x00\x00";
const CPYTHON_B: &[u8] =
    b"PK\x03\x04\x14\x00\x08\x00\x00\x00\x17\x10v]\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\
    \x0a\x00\x00\x00x/data.pkl\x80\x02K\x01.PK\x07\x08\xab\xd1\xcfd\x05\x00\x00\x00\x05\x00\x00\
    \x00PK\x03\x04\x14\x00\x08\x00\x00\x00\x17\x10v]\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\
    \x00\x03\x00\x00\x00x/yabcabcabcabcabcabcabcabcabcabcPK\x07\x08\x81\xfc\xb1H\x1e\x00\x00\x00\
    \x1e\x00\x00\x00PK\x01\x02\x14\x03\x14\x00\x08\x00\x00\x00\x17\x10v]\xab\xd1\xcfd\x05\x00\
    \x00\x00\x05\x00\x00\x00\x0a\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x01\x00\x00\x00\
    \x00x/data.pklPK\x01\x02\x14\x03\x14\x00\x08\x00\x00\x00\x17\x10v]\x81\xfc\xb1H\x1e\x00\x00\
    \x00\x1e\x00\x00\x00\x03\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x01=\x00\x00\x00x/y\
    PK\x05\x06\x00\x00\x00\x00\x02\x00\x02\x00i\x00\x00\x00\x8c\x00\x00\x00\x00\x00";
const CPYTHON_C: &[u8] =
    b"PK\x03\x04.\x00\x00\x00\x0c\x00\x17\x10v]\x13\x92f\xfa5\x00\x00\x00\xf4\x01\x00\x00\x05\x00\
    \x00\x00p.pklBZh91AY&SYp\x20\x0f\x16\x00\x00\xf9\xd4@0\x00\x00\x01\x00\x08@\x00\x20\x000\xcd\
    \x00R\xa3\x18E\xa4_\x22\xc2-\x22\xe1w$S\x85\x09\x07\x02\x00\xf1`PK\x01\x02.\x03.\x00\x00\x00\
    \x0c\x00\x17\x10v]\x13\x92f\xfa5\x00\x00\x00\xf4\x01\x00\x00\x05\x00\x00\x00\x00\x00\x00\x00\
    \x00\x00\x00\x00\x80\x01\x00\x00\x00\x00p.pklPK\x05\x06\x00\x00\x00\x00\x01\x00\x01\x003\x00\
    \x00\x00X\x00\x00\x00\x00\x00";
const CPYTHON_D: &[u8] =
    b"PK\x03\x04?\x00\x02\x00\x0e\x00\x17\x10v]\x13\x92f\xfa\x1d\x00\x00\x00\xf4\x01\x00\x00\x05\
    \x00\x00\x00p.pkl\x09\x04\x05\x00]\x00\x00\x80\x00\x00@\x00\x85\x15\x10\xea[\x1c3v\xbb\x0b\
    \xdf\xff\xff\x17@\x00\x00PK\x01\x02?\x03?\x00\x02\x00\x0e\x00\x17\x10v]\x13\x92f\xfa\x1d\x00\
    \x00\x00\xf4\x01\x00\x00\x05\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x01\x00\x00\x00\
    \x00p.pklPK\x05\x06\x00\x00\x00\x00\x01\x00\x01\x003\x00\x00\x00@\x00\x00\x00\x05\x00hello";

#[test]
fn archives_written_by_cpython_parse_cleanly() {
    for (bytes, sizes) in [
        (CPYTHON_A, &[6usize, 1000, 0][..]),
        (CPYTHON_B, &[5, 30][..]),
        (CPYTHON_C, &[500][..]),
        (CPYTHON_D, &[500][..]),
    ] {
        let zip = parse(bytes);
        assert_eq!(kinds(&zip), vec![]);
        let got: Vec<usize> = zip
            .entries
            .iter()
            .map(|e| {
                let data = read_member(bytes, e);
                assert_eq!(crc32(&data), e.crc32, "{}", e.name);
                data.len()
            })
            .collect();
        assert_eq!(got, sizes);
    }
}

#[test]
fn unlisted_bytes_and_hidden_members() {
    let mut hidden = Member::stored("archive/hidden.pkl", b"\x80\x02N.");
    hidden.unlisted = true;
    let members = vec![
        Member::stored("archive/data.pkl", b"x"),
        hidden,
        Member::stored("archive/version", b"3"),
    ];
    let zip = parse(&ZipWriter::new(members).build());
    assert!(
        matches!(
            kinds(&zip)[..],
            [IssueKind::UnlistedData {
                hidden_header: true,
                ..
            }]
        ),
        "{:?}",
        kinds(&zip)
    );
    assert_eq!(zip.issues[0].entry, Some(0));
    // Data descriptors after a member's data are expected, not unlisted.
    assert_eq!(kinds(&parse(CPYTHON_B)), vec![]);
}

#[test]
fn zstd_and_bzip2_members_expand() {
    let data = b"zstd member payload ".repeat(50);
    let mut zst = Member::stored("z.bin", &data);
    zst.data = ruzstd::encoding::compress_to_vec(
        data.as_slice(),
        ruzstd::encoding::CompressionLevel::Fastest,
    );
    zst.method = 93;
    let mut bz = Member::stored("b.bin", &data);
    let mut enc = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
    std::io::Write::write_all(&mut enc, &data).unwrap();
    bz.data = enc.finish().unwrap();
    bz.method = 12;
    let bytes = ZipWriter::new(vec![zst, bz]).build();
    let zip = parse(&bytes);
    assert_eq!(kinds(&zip), vec![]);
    for e in &zip.entries {
        assert_eq!(read_member(&bytes, e), data, "{}", e.name);
    }
}

#[test]
fn zero_filled_deflated_arrays_are_not_bombs() {
    // np.savez_compressed of an 8 MiB zero array deflates at ~1000:1: harmless at this size.
    let zeros = vec![0u8; 8 << 20];
    let mut member = Member::deflated("zeros.npy", &zeros);
    let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    std::io::Write::write_all(&mut enc, &zeros).unwrap();
    member.data = enc.finish().unwrap();
    assert!(zeros.len() / member.data.len() > 1000);
    let bytes = ZipWriter::new(vec![member]).build();
    let zip = parse(&bytes);
    assert_eq!(kinds(&zip), vec![]);
    assert_eq!(read_member(&bytes, &zip.entries[0]).len(), zeros.len());
}
