//! Compressed streams (gzip, bzip2, xz, lzma, zlib, zstd, joblib's `ZF` zlib container):
//! expand within the caps, report what stopped the expansion, and scan what came out one level
//! deeper (usually a joblib pickle or a tar).
//!
//! ## compressed-stream-malformed (MG207)
//!
//! **What it does**: flags a compressed stream that is corrupt or truncated. The bytes
//! recovered before the error are still scanned.
//!
//! **Why is this bad**: the part after the error was not checked, and loaders may recover
//! differently.
//!
//! **Example**: a `model.pkl.gz` cut short in transfer.
//!
//! **References**: CWE-20; RFC 1952.
//!
//! ## archive-bomb (MG204), stream case
//!
//! **What it does**: flags a stream expanding past `max_decompressed_bytes`, or at a ratio above
//! `max_compression_ratio` once past `compression_ratio_floor` (64 MiB). Expansion stops there;
//! the prefix is scanned.
//!
//! **Why is this bad**: expanding it exhausts the loader's (or scanner's) memory.
//!
//! **Example**: 10 GB of zeros in a 10 MB gzip named `model.joblib`.
//!
//! **References**: CWE-409.
//!
//! ## limit-exceeded (MG002), stream case
//!
//! **What it does**: flags a legitimate-looking stream that expands past
//! `max_in_memory_bytes`; only that prefix was scanned.
//!
//! **Why is this bad**: the rest was not checked (fail closed).
//!
//! **Example**: a 3 GB joblib dump compressed with `compress=3`, default limits.
//!
//! **References**: CWE-400.
//!
//! ## archive-unsupported (MG208), stream case
//!
//! **What it does**: flags an LZ4 frame (joblib `compress='lz4'`), which is recognised but not
//! expanded.
//!
//! **Why is this bad**: its content, usually a pickle, was not scanned.
//!
//! **Example**: `joblib.dump(model, "m.joblib", compress="lz4")`.
//!
//! **References**: CWE-693.

use modelgate_core::{FileFormat, Finding, RuleId};
use modelgate_formats::ByteSource;
use modelgate_formats::compress::{Caps, Codec, Stop, decompress, sniff};

use crate::Ctx;
use crate::dispatch::read_prefix;

/// The codec for a detected format; content wins where it is more specific (joblib's `ZF`
/// header, LZ4).
fn codec_for(format: FileFormat, prefix: &[u8]) -> Option<Codec> {
    if let Some(c @ (Codec::JoblibZfile | Codec::Lz4Frame)) = sniff(prefix) {
        return Some(c);
    }
    Some(match format {
        FileFormat::Gzip => Codec::Gzip,
        FileFormat::Bzip2 => Codec::Bzip2,
        FileFormat::Xz => Codec::Xz,
        FileFormat::Lzma => Codec::Lzma,
        FileFormat::Zlib => Codec::Zlib,
        FileFormat::Zstd => Codec::Zstd,
        _ => return sniff(prefix),
    })
}

/// Decompresses (with caps) and scans the contents.
pub fn scan(ctx: &mut Ctx<'_>, format: FileFormat, src: &dyn ByteSource) {
    let prefix = read_prefix(src).unwrap_or_default();
    let Some(codec) = codec_for(format, &prefix) else {
        return;
    };
    let out = decompress(codec, src, &Caps::from_limits(ctx.limits));
    let name = codec.name();
    let kept = out.data.len();
    match &out.stop {
        None => {}
        Some(Stop::Corrupt { input_offset, .. }) => ctx.report(Finding::of(
            RuleId::CompressedStreamMalformed,
            ctx.at(*input_offset),
            format!(
                "the {name} stream is corrupt or truncated ({}); the {kept} bytes recovered were \
                 scanned, the rest was not; re-obtain the file",
                out.stop.as_ref().map(ToString::to_string).unwrap_or_default()
            ),
        )),
        Some(stop @ (Stop::TooLarge { .. } | Stop::Ratio { .. })) => ctx.report(
            Finding::of(
                RuleId::ArchiveBomb,
                ctx.at(0),
                format!(
                    "the {name} stream {stop}: a decompression bomb; only its first {kept} bytes \
                     were scanned; reject the file"
                ),
            )
            .with_subject(name),
        ),
        Some(Stop::OverMemory { limit }) => ctx.limit_exceeded(
            Some(0),
            format!("the {name} stream expands past the {limit}-byte in-memory limit (only its first {kept} bytes were scanned)"),
        ),
        Some(Stop::Unsupported { .. }) => {
            ctx.report(
                Finding::of(
                    RuleId::ArchiveUnsupported,
                    ctx.at(0),
                    format!(
                        "{name}-compressed stream (joblib compress='lz4'?): modelgate cannot expand \
                         {name}, so its content (usually a pickle) was not scanned; do not load it \
                         unverified"
                    ),
                )
                .with_subject(name),
            );
            return;
        }
    }
    if !out.data.is_empty() {
        crate::scan_bytes(ctx, &format!("<decompressed {name}>"), &out.data);
    }
}

#[cfg(test)]
mod tests {
    use modelgate_core::{Limits, Location, Severity};
    use proptest::prelude::*;

    use super::*;
    use crate::context::FindingSink;
    use crate::rules::archive::tests::{
        BAD_NPY_BZIP2, BAD_NPY_LZMA, BAD_NPY_XZ, bad_npy, gzip_stored, rules, run, zstd_raw,
    };

    fn scan_as(format: FileFormat, bytes: &[u8], limits: &Limits) -> Vec<modelgate_core::Finding> {
        let mut sink = FindingSink::default();
        let mut ctx = Ctx::new(limits, Location::file("f"), "f".into(), None, &mut sink);
        scan(&mut ctx, format, &bytes);
        sink.findings
    }

    #[test]
    fn every_codec_reaches_a_nested_scan() {
        // A malformed .npy inside proves the expanded bytes reached the dispatcher.
        let cases: [(FileFormat, Vec<u8>, &str); 5] = [
            (
                FileFormat::Gzip,
                gzip_stored(&bad_npy()),
                "<decompressed gzip>",
            ),
            (
                FileFormat::Bzip2,
                BAD_NPY_BZIP2.to_vec(),
                "<decompressed bzip2>",
            ),
            (FileFormat::Xz, BAD_NPY_XZ.to_vec(), "<decompressed xz>"),
            (
                FileFormat::Lzma,
                BAD_NPY_LZMA.to_vec(),
                "<decompressed lzma>",
            ),
            (
                FileFormat::Zstd,
                zstd_raw(&bad_npy()),
                "<decompressed zstd>",
            ),
        ];
        for (format, bytes, member) in cases {
            let f = scan_as(format, &bytes, &Limits::default());
            assert_eq!(rules(&f), [RuleId::NumpyMalformed], "{format}: {f:?}");
            assert_eq!(f[0].location.member.as_deref(), Some(member));
        }
        assert!(run(&gzip_stored(b"plain text"), "notes.gz").is_empty());
        let f = run(&gzip_stored(&bad_npy()), "x.npy.gz");
        assert_eq!(rules(&f), [RuleId::NumpyMalformed]);
    }

    #[test]
    fn corrupt_bomb_memory_and_lz4() {
        let limits = Limits::default();
        let gz = gzip_stored(&[7u8; 2000]);
        let f = scan_as(FileFormat::Gzip, &gz[..gz.len() - 100], &limits);
        assert_eq!(rules(&f), [RuleId::CompressedStreamMalformed], "{f:?}");

        let bomb = Limits {
            max_decompressed_bytes: 1000,
            ..Limits::default()
        };
        let f = scan_as(FileFormat::Gzip, &gz, &bomb);
        assert_eq!(rules(&f), [RuleId::ArchiveBomb]);
        assert!(f[0].severity >= Severity::High);

        let memory = Limits {
            max_in_memory_bytes: 1000,
            ..Limits::default()
        };
        let f = scan_as(FileFormat::Gzip, &gz, &memory);
        assert_eq!(rules(&f), [RuleId::LimitExceeded]);

        let f = scan_as(
            FileFormat::Unknown,
            b"\x04\x22\x4d\x18\x64\x40\xa7",
            &limits,
        );
        assert_eq!(rules(&f), [RuleId::ArchiveUnsupported]);
    }

    #[test]
    fn joblib_zfile_is_recognised_inside_zlib() {
        let inner = bad_npy();
        // zlib: header, stored deflate blocks, Adler-32 of the data.
        let mut z = vec![0x78, 0x01];
        z.extend(crate::rules::archive::tests::deflate_stored(&inner));
        let (mut a, mut b) = (1u32, 0u32);
        for byte in &inner {
            a = (a + u32::from(*byte)) % 65_521;
            b = (b + a) % 65_521;
        }
        z.extend_from_slice(&((b << 16) | a).to_be_bytes());
        let mut zfile = format!("ZF{:<19}", format!("{:#x}", inner.len())).into_bytes();
        zfile.extend(z);
        let f = scan_as(FileFormat::Zlib, &zfile, &Limits::default());
        assert_eq!(rules(&f), [RuleId::NumpyMalformed], "{f:?}");
        assert_eq!(
            f[0].location.member.as_deref(),
            Some("<decompressed joblib zfile>")
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300), which in 0usize..6) {
            let format = [FileFormat::Gzip, FileFormat::Bzip2, FileFormat::Xz, FileFormat::Lzma,
                FileFormat::Zlib, FileFormat::Zstd][which];
            let _ = scan_as(format, &bytes, &Limits::default());
        }
    }
}
