//! Capped decompression of the compressed streams models arrive in: gzip (multi-member), bzip2,
//! xz, legacy `.lzma`, zlib, Zstandard, raw deflate and the zip variants of LZMA, plus joblib's
//! old `ZF` zlib container. LZ4 frames are recognised but not expanded.
//!
//! Every expansion is bounded twice: by bytes out (the smaller of
//! [`Limits::max_decompressed_bytes`] and [`Limits::max_in_memory_bytes`]) and by the ratio of
//! bytes out to bytes in ([`Limits::max_compression_ratio`], once past
//! [`Limits::compression_ratio_floor`] bytes out). Decoding stops as soon as either bound is
//! crossed; a size declared by the stream is never used to allocate.
//! What was recovered before a stop is returned with the reason, so the caller can still scan it.
//!
//! ```
//! use std::io::Write;
//! use modelgate_core::Limits;
//! use modelgate_formats::compress::{Caps, Codec, decompress};
//!
//! let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
//! enc.write_all(b"hello").unwrap();
//! let gz = enc.finish().unwrap();
//! let out = decompress(Codec::Gzip, &gz.as_slice(), &Caps::from_limits(&Limits::default()));
//! assert_eq!(out.data, b"hello");
//! assert!(out.stop.is_none());
//! ```

use std::cell::Cell;
use std::fmt;
use std::io::{self, BufReader, Read, Write};

use modelgate_core::Limits;

use crate::{ByteSource, SourceReader};

/// A compression format this module knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// gzip, one or more members back to back.
    Gzip,
    /// bzip2, one or more streams back to back.
    Bzip2,
    /// xz.
    Xz,
    /// Legacy `.lzma` ("LZMA alone": 5-byte properties, 8-byte size, data).
    Lzma,
    /// zlib (RFC 1950).
    Zlib,
    /// Zstandard, one or more frames (skippable frames are skipped).
    Zstd,
    /// Raw deflate (RFC 1951), zip method 8.
    Deflate,
    /// Zip method 14: a 4-byte version/size header, 5 LZMA property bytes, raw LZMA data.
    ZipLzma {
        /// The expanded size from the central directory, or `None` when the stream carries an
        /// end marker (general-purpose flag bit 1).
        unpacked_size: Option<u64>,
    },
    /// joblib < 0.10 compressed pickles: `ZF`, the length as 19 characters of hex, zlib data.
    JoblibZfile,
    /// An LZ4 frame (joblib `compress='lz4'`): recognised, not expanded (no pure-Rust decoder
    /// is a dependency yet), reported as [`Stop::Unsupported`].
    Lz4Frame,
}

impl Codec {
    /// A short lowercase name for messages (`gzip`, `zip lzma`).
    pub fn name(self) -> &'static str {
        match self {
            Codec::Gzip => "gzip",
            Codec::Bzip2 => "bzip2",
            Codec::Xz => "xz",
            Codec::Lzma => "lzma",
            Codec::Zlib => "zlib",
            Codec::Zstd => "zstd",
            Codec::Deflate => "deflate",
            Codec::ZipLzma { .. } => "zip lzma",
            Codec::JoblibZfile => "joblib zfile",
            Codec::Lz4Frame => "lz4",
        }
    }
}

/// Length of the joblib `ZF` header: `ZF` plus the hex length padded to 19 characters.
pub const JOBLIB_ZFILE_HEADER: usize = 2 + 19;

/// Recognises a compressed stream from its first bytes. Legacy `.lzma` has no magic and is
/// never returned here.
pub fn sniff(prefix: &[u8]) -> Option<Codec> {
    let starts = |magic: &[u8]| prefix.starts_with(magic);
    if starts(b"\x1f\x8b") {
        Some(Codec::Gzip)
    } else if starts(b"BZh") && prefix.get(3).is_some_and(|b| (b'1'..=b'9').contains(b)) {
        Some(Codec::Bzip2)
    } else if starts(b"\xfd7zXZ\x00") {
        Some(Codec::Xz)
    } else if starts(b"\x28\xb5\x2f\xfd") {
        Some(Codec::Zstd)
    } else if starts(b"\x04\x22\x4d\x18") {
        Some(Codec::Lz4Frame)
    } else if is_joblib_zfile(prefix) {
        Some(Codec::JoblibZfile)
    } else if is_zlib_header(prefix) {
        Some(Codec::Zlib)
    } else {
        None
    }
}

/// `ZF0x<hex digits><spaces>` followed by a zlib header.
fn is_joblib_zfile(prefix: &[u8]) -> bool {
    let Some(len_field) = prefix.get(2..JOBLIB_ZFILE_HEADER) else {
        return false;
    };
    prefix.starts_with(b"ZF0x")
        && parse_zfile_length(len_field).is_some()
        && prefix
            .get(JOBLIB_ZFILE_HEADER..)
            .is_some_and(is_zlib_header)
}

/// Parses the `0x…` hex length of a joblib zfile header (space padded).
fn parse_zfile_length(field: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(field)
        .ok()?
        .trim_end_matches([' ', '\0']);
    let hex = text.strip_prefix("0x")?.trim_end_matches('L');
    u64::from_str_radix(hex, 16).ok()
}

fn is_zlib_header(prefix: &[u8]) -> bool {
    match prefix {
        [cmf, flg, ..] => {
            cmf & 0x0f == 8 && cmf >> 4 <= 7 && (u16::from(*cmf) * 256 + u16::from(*flg)) % 31 == 0
        }
        _ => false,
    }
}

/// Bounds on one expansion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    /// Most bytes a stream may expand to before it counts as a bomb.
    pub max_expanded: u64,
    /// Most expanded bytes kept in memory.
    pub max_in_memory: u64,
    /// Largest ratio of bytes out to bytes in.
    pub max_ratio: u64,
    /// The ratio is only checked once this many bytes are out.
    pub ratio_floor: u64,
}

impl Caps {
    /// The caps from `limits`.
    pub fn from_limits(limits: &Limits) -> Self {
        Caps {
            max_expanded: limits.max_decompressed_bytes,
            max_in_memory: limits.max_in_memory_bytes,
            max_ratio: limits.max_compression_ratio,
            ratio_floor: limits.compression_ratio_floor,
        }
    }
}

/// Why decoding stopped before the end of the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// The stream is corrupt or truncated at about `input_offset` (compressed bytes read).
    Corrupt {
        /// Compressed bytes consumed when the decoder failed (an upper bound of where).
        input_offset: u64,
        /// The decoder's explanation.
        reason: String,
    },
    /// The stream expands past `limit` bytes: a decompression bomb.
    TooLarge {
        /// [`Caps::max_expanded`].
        limit: u64,
    },
    /// The stream expands past what may be held in memory (`limit` bytes).
    OverMemory {
        /// [`Caps::max_in_memory`].
        limit: u64,
    },
    /// The stream expanded `expanded` bytes from `consumed` compressed bytes, above the ratio
    /// limit.
    Ratio {
        /// Bytes out when stopped.
        expanded: u64,
        /// Bytes in when stopped.
        consumed: u64,
        /// [`Caps::max_ratio`].
        limit: u64,
    },
    /// The codec is recognised but not supported.
    Unsupported {
        /// The codec.
        codec: Codec,
    },
}

impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stop::Corrupt {
                input_offset,
                reason,
            } => write!(
                f,
                "corrupt or truncated stream near compressed byte {input_offset}: {reason}"
            ),
            Stop::TooLarge { limit } => write!(f, "expands past {limit} bytes"),
            Stop::OverMemory { limit } => {
                write!(f, "expands past the {limit}-byte in-memory limit")
            }
            Stop::Ratio {
                expanded,
                consumed,
                limit,
            } => write!(
                f,
                "expands {expanded} bytes from {consumed} compressed bytes (ratio above {limit})"
            ),
            Stop::Unsupported { codec } => write!(f, "{} streams are not supported", codec.name()),
        }
    }
}

/// The result of [`decompress`]: the bytes recovered, and why decoding stopped early, if it did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decompressed {
    /// Expanded bytes (everything recovered before a stop).
    pub data: Vec<u8>,
    /// Compressed bytes read (including decoder read-ahead).
    pub consumed: u64,
    /// `None` when the whole stream decoded cleanly.
    pub stop: Option<Stop>,
}

/// Counts bytes read through it into a shared cell.
struct Counting<'c, R> {
    inner: R,
    count: &'c Cell<u64>,
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.set(self.count.get().saturating_add(n as u64));
        Ok(n)
    }
}

/// Collects output, enforcing the caps.
struct Sink<'c> {
    data: Vec<u8>,
    consumed: &'c Cell<u64>,
    caps: Caps,
    stop: Option<Stop>,
}

impl Sink<'_> {
    /// Appends `chunk`; returns false (and records why) once a cap is crossed.
    fn push(&mut self, chunk: &[u8]) -> bool {
        if self.stop.is_some() {
            return false;
        }
        let cap = self.caps.max_expanded.min(self.caps.max_in_memory);
        let have = self.data.len() as u64;
        let room = cap.saturating_sub(have);
        if chunk.len() as u64 > room {
            let keep = chunk.get(..room as usize).unwrap_or_default();
            self.data.extend_from_slice(keep);
            self.stop = Some(if self.caps.max_expanded <= self.caps.max_in_memory {
                Stop::TooLarge {
                    limit: self.caps.max_expanded,
                }
            } else {
                Stop::OverMemory {
                    limit: self.caps.max_in_memory,
                }
            });
            return false;
        }
        self.data.extend_from_slice(chunk);
        let expanded = self.data.len() as u64;
        let consumed = self.consumed.get().max(1);
        if expanded > self.caps.ratio_floor && expanded / consumed > self.caps.max_ratio {
            self.stop = Some(Stop::Ratio {
                expanded,
                consumed,
                limit: self.caps.max_ratio,
            });
            return false;
        }
        true
    }

    fn corrupt(&mut self, reason: impl fmt::Display) {
        if self.stop.is_none() {
            self.stop = Some(Stop::Corrupt {
                input_offset: self.consumed.get(),
                reason: reason.to_string(),
            });
        }
    }
}

impl Write for Sink<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.push(buf) {
            Ok(buf.len())
        } else {
            Err(io::Error::other("decompression limit reached"))
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Reads `reader` to its end into `sink`, recording a decoder error as corruption.
fn pump(mut reader: impl Read, sink: &mut Sink<'_>) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                if !sink.push(buf.get(..n).unwrap_or_default()) {
                    return;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                sink.corrupt(e);
                return;
            }
        }
    }
}

/// Expands `input` as `codec`, within `caps`. Never panics and never fails: problems are
/// reported in [`Decompressed::stop`] alongside whatever was recovered.
pub fn decompress(codec: Codec, input: &dyn ByteSource, caps: &Caps) -> Decompressed {
    let consumed = Cell::new(0u64);
    let mut sink = Sink {
        data: Vec::new(),
        consumed: &consumed,
        caps: *caps,
        stop: None,
    };
    let reader = Counting {
        inner: SourceReader::new(input),
        count: &consumed,
    };
    match codec {
        Codec::Gzip => pump(flate2::read::MultiGzDecoder::new(reader), &mut sink),
        Codec::Zlib => pump(flate2::read::ZlibDecoder::new(reader), &mut sink),
        Codec::Deflate => pump(flate2::read::DeflateDecoder::new(reader), &mut sink),
        Codec::Bzip2 => pump(bzip2::read::MultiBzDecoder::new(reader), &mut sink),
        Codec::Zstd => zstd(reader, input.len(), &mut sink),
        Codec::Xz => {
            let mut buffered = BufReader::new(reader);
            if let Err(e) = lzma_rs::xz_decompress(&mut buffered, &mut sink) {
                sink.corrupt(e);
            }
        }
        Codec::Lzma => {
            let options = lzma_rs::decompress::Options {
                memlimit: Some(lzma_memlimit(caps)),
                ..lzma_rs::decompress::Options::default()
            };
            let mut buffered = BufReader::new(reader);
            if let Err(e) =
                lzma_rs::lzma_decompress_with_options(&mut buffered, &mut sink, &options)
            {
                sink.corrupt(e);
            }
        }
        Codec::ZipLzma { unpacked_size } => zip_lzma(reader, unpacked_size, caps, &mut sink),
        Codec::JoblibZfile => {
            let mut reader = reader;
            let mut header = [0u8; JOBLIB_ZFILE_HEADER];
            match reader.read_exact(&mut header) {
                Ok(()) if header.starts_with(b"ZF") => {
                    pump(flate2::read::ZlibDecoder::new(reader), &mut sink);
                }
                Ok(()) => sink.corrupt("missing the `ZF` joblib header"),
                Err(e) => sink.corrupt(e),
            }
        }
        Codec::Lz4Frame => sink.stop = Some(Stop::Unsupported { codec }),
    }
    let Sink { data, stop, .. } = sink;
    Decompressed {
        data,
        consumed: consumed.get(),
        stop,
    }
}

fn lzma_memlimit(caps: &Caps) -> usize {
    usize::try_from(caps.max_in_memory.min(caps.max_expanded)).unwrap_or(usize::MAX)
}

fn zip_lzma<R: Read>(mut reader: R, unpacked_size: Option<u64>, caps: &Caps, sink: &mut Sink<'_>) {
    // APPNOTE 5.8.8: LZMA version (2 bytes), properties size (2 bytes, 5), properties, data.
    let mut header = [0u8; 4];
    if let Err(e) = reader.read_exact(&mut header) {
        sink.corrupt(e);
        return;
    }
    if header.get(2..4) != Some(&[5, 0][..]) {
        sink.corrupt("zip LZMA properties size is not 5");
        return;
    }
    let options = lzma_rs::decompress::Options {
        unpacked_size: lzma_rs::decompress::UnpackedSize::UseProvided(unpacked_size),
        memlimit: Some(lzma_memlimit(caps)),
        allow_incomplete: false,
    };
    let mut buffered = BufReader::new(reader);
    if let Err(e) = lzma_rs::lzma_decompress_with_options(&mut buffered, sink, &options) {
        sink.corrupt(e);
    }
}

fn zstd<R: Read>(mut reader: Counting<'_, R>, total: u64, sink: &mut Sink<'_>) {
    use ruzstd::decoding::errors::{FrameDecoderError, ReadFrameHeaderError};
    // Frames follow each other until the input ends.
    while reader.count.get() < total && sink.stop.is_none() {
        match ruzstd::decoding::StreamingDecoder::new(&mut reader) {
            Ok(decoder) => pump(decoder, sink),
            Err(FrameDecoderError::ReadFrameHeaderError(ReadFrameHeaderError::SkipFrame {
                length,
                ..
            })) => {
                let skipped = io::copy(&mut (&mut reader).take(u64::from(length)), &mut io::sink());
                if !matches!(skipped, Ok(n) if n == u64::from(length)) {
                    sink.corrupt("truncated skippable frame");
                }
            }
            Err(e) => sink.corrupt(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn caps() -> Caps {
        Caps::from_limits(&Limits::default())
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    fn payload() -> Vec<u8> {
        (0..50_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect()
    }

    #[test]
    fn round_trips_every_codec() {
        let data = payload();
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        z.write_all(&data).unwrap();
        let zlib = z.finish().unwrap();
        let mut d = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
        d.write_all(&data).unwrap();
        let deflate = d.finish().unwrap();
        let mut b = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
        b.write_all(&data).unwrap();
        let bz = b.finish().unwrap();
        let mut xz = Vec::new();
        lzma_rs::xz_compress(&mut data.as_slice(), &mut xz).unwrap();
        let mut lzma = Vec::new();
        lzma_rs::lzma_compress(&mut data.as_slice(), &mut lzma).unwrap();
        let zst = ruzstd::encoding::compress_to_vec(
            data.as_slice(),
            ruzstd::encoding::CompressionLevel::Fastest,
        );
        let mut zfile = format!("ZF{:<19}", format!("{:#x}", data.len())).into_bytes();
        zfile.extend_from_slice(&zlib);
        let cases: Vec<(Codec, Vec<u8>)> = vec![
            (Codec::Gzip, gzip(&data)),
            (Codec::Zlib, zlib),
            (Codec::Deflate, deflate),
            (Codec::Bzip2, bz),
            (Codec::Xz, xz),
            (Codec::Lzma, lzma),
            (Codec::Zstd, zst),
            (Codec::JoblibZfile, zfile),
        ];
        for (codec, stream) in cases {
            if codec != Codec::Deflate && codec != Codec::Lzma {
                assert_eq!(sniff(&stream), Some(codec), "{codec:?}");
            }
            let out = decompress(codec, &stream.as_slice(), &caps());
            assert_eq!(out.stop, None, "{codec:?}");
            assert_eq!(out.data, data, "{codec:?}");
        }
    }

    #[test]
    fn multi_member_gzip_and_zstd_skippable_frames() {
        let mut two = gzip(b"first,");
        two.extend(gzip(b"second"));
        let out = decompress(Codec::Gzip, &two.as_slice(), &caps());
        assert_eq!(out.data, b"first,second");
        assert_eq!(out.stop, None);

        // A skippable frame (magic 0x184D2A50, 3 bytes) between two frames.
        let mut zst = ruzstd::encoding::compress_to_vec(
            b"ab".as_slice(),
            ruzstd::encoding::CompressionLevel::Fastest,
        );
        zst.extend_from_slice(&[0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 1, 2, 3]);
        zst.extend(ruzstd::encoding::compress_to_vec(
            b"cd".as_slice(),
            ruzstd::encoding::CompressionLevel::Fastest,
        ));
        let out = decompress(Codec::Zstd, &zst.as_slice(), &caps());
        assert_eq!(out.data, b"abcd");
        assert_eq!(out.stop, None);
    }

    #[test]
    fn truncated_streams_are_corrupt_and_keep_what_was_recovered() {
        let data = payload();
        let gz = gzip(&data);
        let cut = &gz[..gz.len() / 2];
        let out = decompress(Codec::Gzip, &cut, &caps());
        assert!(
            matches!(out.stop, Some(Stop::Corrupt { .. })),
            "{:?}",
            out.stop
        );
        assert!(!out.data.is_empty());
        assert!(data.starts_with(&out.data));

        let mut xz = Vec::new();
        lzma_rs::xz_compress(&mut data.as_slice(), &mut xz).unwrap();
        let out = decompress(Codec::Xz, &&xz[..xz.len() - 10], &caps());
        assert!(matches!(out.stop, Some(Stop::Corrupt { .. })));

        let out = decompress(Codec::Bzip2, &b"BZh9garbage".as_slice(), &caps());
        assert!(matches!(out.stop, Some(Stop::Corrupt { .. })));
        let out = decompress(Codec::Zstd, &b"\x28\xb5\x2f\xfd\xff".as_slice(), &caps());
        assert!(matches!(out.stop, Some(Stop::Corrupt { .. })));
    }

    #[test]
    fn bombs_stop_at_the_ratio_or_size_cap() {
        let zeros = vec![0u8; 16 * 1024 * 1024];
        let gz = gzip(&zeros);
        let ratio = Caps {
            ratio_floor: 1 << 20,
            ..caps()
        };
        let out = decompress(Codec::Gzip, &gz.as_slice(), &ratio);
        assert!(
            matches!(out.stop, Some(Stop::Ratio { .. })),
            "{:?}",
            out.stop
        );
        assert!(out.data.len() < zeros.len());

        let small = Caps {
            max_expanded: 1000,
            max_in_memory: 5000,
            max_ratio: u64::MAX,
            ratio_floor: 0,
        };
        let out = decompress(Codec::Gzip, &gz.as_slice(), &small);
        assert_eq!(out.stop, Some(Stop::TooLarge { limit: 1000 }));
        assert_eq!(out.data.len(), 1000);
        let memory = Caps {
            max_expanded: 1 << 40,
            max_in_memory: 4096,
            ..small
        };
        let out = decompress(Codec::Gzip, &gz.as_slice(), &memory);
        assert_eq!(out.stop, Some(Stop::OverMemory { limit: 4096 }));
    }

    #[test]
    fn lz4_is_recognised_not_expanded() {
        let frame = b"\x04\x22\x4d\x18\x64\x40\xa7";
        assert_eq!(sniff(frame), Some(Codec::Lz4Frame));
        let out = decompress(Codec::Lz4Frame, &frame.as_slice(), &caps());
        assert_eq!(
            out.stop,
            Some(Stop::Unsupported {
                codec: Codec::Lz4Frame
            })
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512), which in 0usize..9) {
            let codec = [
                Codec::Gzip, Codec::Bzip2, Codec::Xz, Codec::Lzma, Codec::Zlib, Codec::Zstd,
                Codec::Deflate, Codec::ZipLzma { unpacked_size: None }, Codec::JoblibZfile,
            ][which];
            let small = Caps { max_expanded: 1 << 20, max_in_memory: 1 << 20, max_ratio: 1000, ratio_floor: 1024 };
            let out = decompress(codec, &bytes.as_slice(), &small);
            prop_assert!(out.data.len() <= 1 << 20);
            let _ = sniff(&bytes);
        }
    }
}
