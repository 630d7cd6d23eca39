use proptest::prelude::*;

use super::testkit::{finish, header, member, seal, tar};
use super::*;

fn parse(bytes: &[u8]) -> TarArchive {
    TarArchive::parse(&bytes, &Limits::default())
}

fn kinds(t: &TarArchive) -> Vec<IssueKind> {
    t.issues.iter().map(|i| i.kind.clone()).collect()
}

fn pax_record(key: &str, value: &str) -> String {
    let body = format!(" {key}={value}\n");
    let mut len = body.len() + 1;
    while format!("{len}{body}").len() != len {
        len += 1;
    }
    format!("{len}{body}")
}

#[test]
fn benign_archive() {
    let bytes = tar(&[("pickle", b"\x80\x02K\x01."), ("storages", &[1u8; 700])]);
    let t = parse(&bytes);
    assert_eq!(kinds(&t), vec![]);
    let names: Vec<&str> = t.entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["pickle", "storages"]);
    assert_eq!(t.entries[0].data_offset, 512);
    assert_eq!(t.entries[0].size, 5);
    assert_eq!(t.entries[1].data_offset, 1536);
    assert_eq!(t.entries[1].size, 700);
}

#[test]
fn long_names_prefix_pax_and_base256() {
    let mut out = Vec::new();
    let long = format!("{}/data.pkl", "d".repeat(150));
    member(
        &mut out,
        b"././@LongLink",
        format!("{long}\0").as_bytes(),
        b'L',
        b"",
    );
    member(&mut out, b"truncated-name", b"abc", b'0', b"");
    let pax = pax_record("path", "pax/name.pkl") + &pax_record("size", "4");
    member(&mut out, b"PaxHeaders/x", pax.as_bytes(), b'x', b"");
    out.extend_from_slice(&header(b"ignored", 0, b'0', b""));
    out.extend_from_slice(b"WXYZ");
    out.resize(out.len().div_ceil(512) * 512, 0);
    let mut prefixed = header(b"file.bin", 0, b'0', b"");
    prefixed[345..351].copy_from_slice(b"folder");
    prefixed[124..136].copy_from_slice(&[0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
    seal(&mut prefixed);
    out.extend_from_slice(&prefixed);
    out.extend_from_slice(b"hi");
    out.resize(out.len().div_ceil(512) * 512, 0);
    finish(&mut out);
    let t = parse(&out);
    assert_eq!(kinds(&t), vec![]);
    let got: Vec<(&str, u64)> = t
        .entries
        .iter()
        .map(|e| (e.name.as_str(), e.size))
        .collect();
    assert_eq!(
        got,
        [
            (long.as_str(), 3),
            ("pax/name.pkl", 4),
            ("folder/file.bin", 2)
        ]
    );
    let third = &t.entries[2];
    assert_eq!(&out[third.data_offset as usize..][..2], b"hi");
}

#[test]
fn bad_checksum_and_numbers_stop_the_walk() {
    let mut bytes = tar(&[("a", b"1"), ("b", b"2")]);
    bytes[1024 + 10] ^= 0xff;
    let t = parse(&bytes);
    assert_eq!(t.entries.len(), 1);
    assert_eq!(kinds(&t), vec![IssueKind::BadChecksum]);
    assert_eq!(t.issues[0].offset, 1024);

    let mut h = header(b"a", 0, b'0', b"");
    h[124..136].copy_from_slice(b"9999999999z\0");
    seal(&mut h);
    let t = parse(&h);
    assert_eq!(kinds(&t), vec![IssueKind::BadNumber { field: "size" }]);
}

#[test]
fn truncation_missing_marker_and_trailing_data() {
    let bytes = tar(&[("a", &[7u8; 1000])]);
    let t = parse(&bytes[..900]);
    assert!(matches!(kinds(&t)[..], [IssueKind::Truncated { .. }]));
    let t = parse(&bytes[..1536]);
    assert_eq!(kinds(&t), vec![IssueKind::NoEndMarker]);
    let mut hidden = bytes.clone();
    hidden.extend_from_slice(b"\x80\x04hidden pickle");
    let t = parse(&hidden);
    assert!(matches!(kinds(&t)[..], [IssueKind::DataAfterEnd { .. }]));
    let t = parse(&bytes[..300]);
    assert!(matches!(kinds(&t)[..], [IssueKind::Truncated { .. }]));
}

#[test]
fn links_paths_and_duplicates() {
    let mut out = Vec::new();
    member(&mut out, b"a/evil", b"", b'2', b"../../etc/passwd");
    member(&mut out, b"a/ok", b"", b'2', b"sibling");
    member(&mut out, b"hard", b"", b'1', b"/etc/shadow");
    member(&mut out, b"../up.pkl", b"x", b'0', b"");
    member(&mut out, b"dup", b"1", b'0', b"");
    member(&mut out, b"./dup", b"2", b'0', b"");
    member(&mut out, b"dup", b"3", b'0', b"");
    finish(&mut out);
    let t = parse(&out);
    let k = kinds(&t);
    assert!(k.contains(&IssueKind::Link {
        target: "../../etc/passwd".into(),
        escapes: true
    }));
    assert!(k.contains(&IssueKind::Link {
        target: "sibling".into(),
        escapes: false
    }));
    assert!(k.contains(&IssueKind::Link {
        target: "/etc/shadow".into(),
        escapes: true
    }));
    assert!(k.contains(&IssueKind::Path(PathIssue::DotDot)));
    assert!(k.contains(&IssueKind::DuplicateName {
        first: 4,
        kind: DuplicateKind::Normalised
    }));
    assert!(k.contains(&IssueKind::DuplicateName {
        first: 4,
        kind: DuplicateKind::Exact
    }));
}

#[test]
fn limits_and_malformed_pax() {
    let bytes = tar(&[("a", b"1"), ("b", b"2"), ("c", b"3")]);
    let limits = Limits {
        max_archive_members: 2,
        ..Limits::default()
    };
    let t = TarArchive::parse(&bytes.as_slice(), &limits);
    assert_eq!(t.entries.len(), 2);
    assert!(matches!(kinds(&t)[..], [IssueKind::LimitReached { .. }]));

    let mut out = Vec::new();
    member(&mut out, b"PaxHeaders/x", b"999 path=x\n", b'x', b"");
    member(&mut out, b"x", b"", b'0', b"");
    finish(&mut out);
    assert!(matches!(
        kinds(&parse(&out))[..],
        [IssueKind::ExtendedHeaderMalformed { .. }]
    ));

    let mut out = Vec::new();
    member(&mut out, b"././@LongLink", &[b'n'; 3000], b'L', b"");
    let small = Limits {
        max_archive_metadata_bytes: 1000,
        ..Limits::default()
    };
    let t = TarArchive::parse(&out.as_slice(), &small);
    assert!(matches!(kinds(&t)[..], [IssueKind::LimitReached { .. }]));
}

#[test]
fn numbers() {
    assert_eq!(parse_number(b"0000644\0"), Some(0o644));
    assert_eq!(parse_number(b"   12 \0"), Some(0o12));
    assert_eq!(parse_number(b"\0\0\0"), Some(0));
    assert_eq!(parse_number(&[0x80, 0, 1, 0]), Some(256));
    assert_eq!(parse_number(&[0xff, 0xff]), None);
    assert_eq!(
        parse_number(&[0x80, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
        None
    );
    assert_eq!(parse_number(b"89"), None);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = parse(&bytes);
    }

    #[test]
    fn never_panics_on_mutated_archives(flips in proptest::collection::vec((0usize..3072, any::<u8>()), 1..8), reseal in any::<bool>()) {
        let mut bytes = tar(&[("a", b"12345"), ("bb", &[3u8; 600])]);
        for (at, v) in flips {
            let at = at % bytes.len();
            bytes[at] = v;
        }
        if reseal {
            let mut h = [0u8; 512];
            h.copy_from_slice(&bytes[..512]);
            seal(&mut h);
            bytes[..512].copy_from_slice(&h);
        }
        let _ = parse(&bytes);
    }
}
