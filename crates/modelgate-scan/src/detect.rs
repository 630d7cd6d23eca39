//! Format detection from content (magic bytes and structure), and what each file extension
//! promises, so that a lying extension becomes a finding.

use modelgate_core::FileFormat;
use modelgate_formats::{compress, onnx, pickle};

/// How many leading bytes detection looks at.
pub const SNIFF_LEN: usize = 64 * 1024;

/// Detects the format of a stream from its first bytes (`prefix`, up to [`SNIFF_LEN`]), its total
/// length, and its file name (used only to break ties between formats with weak magic, such as
/// zlib or protocol-0 pickles; never to skip a content check).
pub fn detect_format(prefix: &[u8], total_len: u64, name: &str) -> FileFormat {
    let ext = extension(name);
    let starts = |magic: &[u8]| prefix.starts_with(magic);
    if starts(b"PK\x03\x04") || starts(b"PK\x05\x06") || starts(b"PK\x07\x08") {
        return FileFormat::Zip;
    }
    if starts(b"\x93NUMPY") {
        return FileFormat::Npy;
    }
    if starts(b"GGUF") {
        return FileFormat::Gguf;
    }
    if starts(b"\x89HDF\r\n\x1a\n") {
        return FileFormat::Hdf5;
    }
    if starts(b"\x1f\x8b") {
        return FileFormat::Gzip;
    }
    if prefix.len() >= 4 && starts(b"BZh") && (b'1'..=b'9').contains(&prefix[3]) {
        return FileFormat::Bzip2;
    }
    if starts(b"\xfd7zXZ\x00") {
        return FileFormat::Xz;
    }
    if starts(b"\x28\xb5\x2f\xfd") {
        return FileFormat::Zstd;
    }
    if starts(b"\x04\x22\x4d\x18") {
        return FileFormat::Lz4;
    }
    if starts(b"ZF0x") && compress::sniff(prefix).is_some() {
        // joblib's pre-0.10 compressed format: `ZF0x<length>` then a zlib stream.
        return FileFormat::Zlib;
    }
    if pickle::sniff(prefix) {
        return FileFormat::Pickle;
    }
    if prefix.len() >= 262 && &prefix[257..262] == b"ustar" {
        return FileFormat::Tar;
    }
    if looks_like_safetensors(prefix, total_len) {
        return FileFormat::Safetensors;
    }
    if looks_like_zlib(prefix) {
        return FileFormat::Zlib;
    }
    if looks_like_lzma_alone(prefix) {
        return FileFormat::Lzma;
    }
    if onnx::sniff(prefix) {
        return FileFormat::Onnx;
    }
    if prefix.len() >= 8 && prefix.get(512..520) == Some(b"\x89HDF\r\n\x1a\n".as_slice()) {
        return FileFormat::Hdf5;
    }
    if ext == "tar" && is_old_tar_header(prefix) {
        return FileFormat::Tar;
    }
    match text_format(prefix, ext) {
        // Nothing in the content says what it is, but the name promises a binary format: parse it
        // as that format so that a corrupted or truncated file is reported by its parser instead
        // of passing as an unknown blob (fail closed).
        FileFormat::Unknown | FileFormat::Text => {
            promised_binary_format(name).unwrap_or_else(|| text_format(prefix, ext))
        }
        found => found,
    }
}

fn promised_binary_format(name: &str) -> Option<FileFormat> {
    let first = *expected_formats_for_extension(name)?.first()?;
    (!matches!(
        first,
        FileFormat::Text | FileFormat::Json | FileFormat::Python | FileFormat::Unknown
    ))
    .then_some(first)
}

/// The legacy `.lzma` ("LZMA alone") header joblib writes: properties byte `lc + lp*9 + pb*45`
/// (0x5D for the defaults), a 32-bit dictionary size of the form 2^n or 2^n + 2^(n-1), and an
/// uncompressed size that is either unknown (all ones) or below 2^48.
fn looks_like_lzma_alone(prefix: &[u8]) -> bool {
    let Some(header) = prefix.get(..13) else {
        return false;
    };
    let props = header[0];
    let mut dict = [0u8; 4];
    dict.copy_from_slice(&header[1..5]);
    let dict = u32::from_le_bytes(dict);
    let dict_ok = dict >= 4096 && {
        let top = dict.ilog2();
        dict == 1 << top || (top > 0 && dict == (1 << top) | (1 << (top - 1)))
    };
    let mut size = [0u8; 8];
    size.copy_from_slice(&header[5..13]);
    let size = u64::from_le_bytes(size);
    props == 0x5d && dict_ok && (size == u64::MAX || size < 1 << 48)
}

fn text_format(prefix: &[u8], ext: &str) -> FileFormat {
    if prefix.contains(&0) {
        return FileFormat::Unknown;
    }
    // A truncated prefix may cut a UTF-8 sequence: accept an error only in the last 3 bytes.
    let valid = match std::str::from_utf8(prefix) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none() && prefix.len() - e.valid_up_to() < 4,
    };
    if !valid {
        return FileFormat::Unknown;
    }
    if ext == "py" {
        return FileFormat::Python;
    }
    let body = prefix.strip_prefix(b"\xef\xbb\xbf").unwrap_or(prefix);
    let first = body.iter().copied().find(|b| !b.is_ascii_whitespace());
    if matches!(first, Some(b'{' | b'[')) && (ext == "json" || ext.is_empty()) {
        return FileFormat::Json;
    }
    FileFormat::Text
}

/// safetensors: an 8-byte little-endian header length `n` with `2 <= n <= len - 8`, then `{`.
fn looks_like_safetensors(prefix: &[u8], total_len: u64) -> bool {
    let Some(len_bytes) = prefix.get(..8) else {
        return false;
    };
    let mut raw = [0u8; 8];
    raw.copy_from_slice(len_bytes);
    let n = u64::from_le_bytes(raw);
    n >= 2 && n <= total_len.saturating_sub(8) && prefix.get(8) == Some(&b'{')
}

/// zlib: CMF = deflate with a window of at most 32 KiB, and the header checksum holds.
fn looks_like_zlib(prefix: &[u8]) -> bool {
    match prefix {
        [cmf, flg, ..] => {
            cmf & 0x0f == 8
                && cmf >> 4 <= 7
                && (u16::from(*cmf) * 256 + u16::from(*flg)) % 31 == 0
                && flg & 0x20 == 0
                && *cmf == 0x78
        }
        _ => false,
    }
}

/// A pre-POSIX tar header: checksum field of octal digits at 148..156.
fn is_old_tar_header(prefix: &[u8]) -> bool {
    prefix.get(148..156).is_some_and(|f| {
        f.iter()
            .all(|b| b.is_ascii_digit() || *b == b' ' || *b == 0)
    })
}

/// The lowercase extension of a file name (without the dot), or `""`.
pub(crate) fn extension(name: &str) -> &str {
    let base = name.rsplit('/').next().unwrap_or(name);
    match base.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => ext,
        _ => "",
    }
}

/// What an extension promises the content is. `None` means the extension promises nothing (for
/// example `.bin`, used for every kind of payload).
pub fn expected_formats_for_extension(name: &str) -> Option<&'static [FileFormat]> {
    use FileFormat::{
        Bzip2, Gguf, Gzip, Hdf5, Joblib, Json, Keras, Lz4, Lzma, Npy, Npz, Onnx, Pickle, Python,
        Safetensors, Tar, Text, TorchTar, TorchZip, Unknown, Xz, Zip, Zlib, Zstd,
    };
    let ext = extension(name).to_ascii_lowercase();
    let expected: &'static [FileFormat] = match ext.as_str() {
        "safetensors" => &[Safetensors],
        "gguf" => &[Gguf],
        "onnx" => &[Onnx],
        "npy" => &[Npy],
        "npz" => &[Npz, Zip],
        "pt" | "pth" | "ckpt" | "tar" => &[Pickle, TorchZip, TorchTar, Zip, Tar],
        "pkl" | "pickle" | "p" | "joblib" => {
            &[Pickle, Joblib, Gzip, Bzip2, Xz, Lzma, Zlib, Zstd, Lz4]
        }
        "h5" | "hdf5" => &[Hdf5],
        "keras" => &[Keras, Zip],
        "zip" => &[Zip, TorchZip, Npz, Keras],
        "json" => &[Json, Text],
        "txt" | "md" | "jinja" | "j2" | "yaml" | "yml" => &[Text, Json],
        "py" => &[Python, Text],
        "gz" => &[Gzip],
        "bz2" => &[Bzip2],
        "xz" => &[Xz],
        "lzma" => &[Lzma, Xz],
        "zst" | "zstd" => &[Zstd],
        "png" | "jpg" | "jpeg" | "gif" | "webp" => &[Unknown],
        _ => return None,
    };
    Some(expected)
}

/// Formats that run code when loaded with their usual loader.
pub(crate) fn executes_on_load(format: FileFormat) -> bool {
    matches!(
        format,
        FileFormat::Pickle
            | FileFormat::TorchZip
            | FileFormat::TorchTar
            | FileFormat::Joblib
            | FileFormat::Keras
            | FileFormat::Hdf5
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_by_magic_not_name() {
        assert_eq!(
            detect_format(b"PK\x03\x04rest", 10, "x.safetensors"),
            FileFormat::Zip
        );
        assert_eq!(
            detect_format(b"\x80\x04K\x01.", 5, "weights.json"),
            FileFormat::Pickle
        );
        assert_eq!(
            detect_format(b"GGUF\x03\x00\x00\x00", 8, "a.bin"),
            FileFormat::Gguf
        );
        assert_eq!(detect_format(b"\x1f\x8b\x08", 3, "a"), FileFormat::Gzip);
        assert_eq!(
            detect_format(b"{\"a\": 1}", 8, "config.json"),
            FileFormat::Json
        );
        assert_eq!(
            detect_format(b"import os\n", 10, "m.py"),
            FileFormat::Python
        );
        assert_eq!(detect_format(b"hello", 5, "README"), FileFormat::Text);
        assert_eq!(
            detect_format(b"\x00\x01\x02", 3, "blob"),
            FileFormat::Unknown
        );
        assert_eq!(
            detect_format(b"x\x9c\x01\x02", 4, "w.bin"),
            FileFormat::Zlib
        );
    }

    #[test]
    fn safetensors_needs_a_plausible_header_length() {
        let mut f = 20u64.to_le_bytes().to_vec();
        f.extend_from_slice(b"{\"__metadata__\":{}} ");
        assert_eq!(
            detect_format(&f, f.len() as u64, "m"),
            FileFormat::Safetensors
        );
        let mut bad = 4000u64.to_le_bytes().to_vec();
        bad.extend_from_slice(b"{}");
        assert_ne!(
            detect_format(&bad, bad.len() as u64, "m"),
            FileFormat::Safetensors
        );
    }

    #[test]
    fn extensions() {
        assert_eq!(extension("a/b/model.SafeTensors"), "SafeTensors");
        assert_eq!(extension(".gitignore"), "");
        assert!(expected_formats_for_extension("x.bin").is_none());
        assert_eq!(
            expected_formats_for_extension("m.safetensors"),
            Some([FileFormat::Safetensors].as_slice())
        );
    }
}
