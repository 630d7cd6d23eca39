//! safetensors header validation, modelled on the reference `safetensors` crate's
//! `Metadata::validate` but stricter where the reference is silently lenient (duplicate JSON keys).
//!
//! A safetensors file is an 8-byte little-endian header length `n`, `n` bytes of UTF-8 JSON
//! (starting with `{`, padded with trailing spaces), then the tensor data. The JSON maps tensor
//! names to `{"dtype", "shape", "data_offsets": [begin, end]}` (offsets relative to the data
//! section) plus an optional `"__metadata__"` map of string to string. A valid file's tensors,
//! sorted by offset, tile the data section exactly: no gap, no overlap, no trailing byte.
//!
//! Only the header is read from the [`ByteSource`]; the data section is never touched.
//!
//! ```
//! use modelgate_core::Limits;
//! use modelgate_formats::safetensors;
//!
//! let json = br#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#;
//! let mut file = (json.len() as u64).to_le_bytes().to_vec();
//! file.extend_from_slice(json);
//! file.extend_from_slice(&[0u8; 8]);
//! let parsed = safetensors::read(&file.as_slice(), &Limits::default()).unwrap();
//! assert!(parsed.problems.is_empty());
//! assert_eq!(parsed.header.tensors[0].name, "w");
//! ```

use std::collections::HashSet;
use std::fmt;

use modelgate_core::Limits;
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

use crate::{ByteSource, SourceError};

/// The reference implementation refuses headers larger than this (`MAX_HEADER_SIZE`).
pub const REFERENCE_MAX_HEADER: u64 = 100_000_000;

/// At most this many per-tensor problems are collected; a file with more is broken anyway.
const MAX_PROBLEMS: usize = 64;

/// Tensor element types known to the reference implementation (0.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(non_camel_case_types, missing_docs)]
pub enum Dtype {
    BOOL,
    F4,
    F6_E2M3,
    F6_E3M2,
    U8,
    I8,
    F8_E5M2,
    F8_E4M3,
    F8_E8M0,
    I16,
    U16,
    F16,
    BF16,
    I32,
    U32,
    F32,
    C64,
    F64,
    I64,
    U64,
}

impl Dtype {
    /// Parses the dtype name used in headers.
    pub fn from_name(name: &str) -> Option<Dtype> {
        use Dtype::{
            BF16, BOOL, C64, F4, F6_E2M3, F6_E3M2, F8_E4M3, F8_E5M2, F8_E8M0, F16, F32, F64, I8,
            I16, I32, I64, U8, U16, U32, U64,
        };
        Some(match name {
            "BOOL" => BOOL,
            "F4" => F4,
            "F6_E2M3" => F6_E2M3,
            "F6_E3M2" => F6_E3M2,
            "U8" => U8,
            "I8" => I8,
            "F8_E5M2" => F8_E5M2,
            "F8_E4M3" => F8_E4M3,
            "F8_E8M0" => F8_E8M0,
            "I16" => I16,
            "U16" => U16,
            "F16" => F16,
            "BF16" => BF16,
            "I32" => I32,
            "U32" => U32,
            "F32" => F32,
            "C64" => C64,
            "F64" => F64,
            "I64" => I64,
            "U64" => U64,
            _ => return None,
        })
    }

    /// Size of one element in bits (sub-byte types pack several elements per byte).
    pub fn bits(self) -> u64 {
        match self {
            Dtype::F4 => 4,
            Dtype::F6_E2M3 | Dtype::F6_E3M2 => 6,
            Dtype::BOOL
            | Dtype::U8
            | Dtype::I8
            | Dtype::F8_E5M2
            | Dtype::F8_E4M3
            | Dtype::F8_E8M0 => 8,
            Dtype::I16 | Dtype::U16 | Dtype::F16 | Dtype::BF16 => 16,
            Dtype::I32 | Dtype::U32 | Dtype::F32 => 32,
            Dtype::C64 | Dtype::F64 | Dtype::I64 | Dtype::U64 => 64,
        }
    }
}

/// One tensor entry of the header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorInfo {
    /// The tensor's name (the JSON key).
    pub name: String,
    /// The dtype as written; [`Dtype::from_name`] recognises the known ones.
    pub dtype: String,
    /// The shape.
    pub shape: Vec<u64>,
    /// `[begin, end)` relative to the start of the data section.
    pub data_offsets: (u64, u64),
    /// Byte offset in the file of the tensor's key in the header (best effort: the first place
    /// the JSON-encoded name appears as a key; 8, the header start, when it cannot be located).
    pub header_offset: u64,
}

/// A parsed header.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Header {
    /// Header length `n` from the first 8 bytes.
    pub header_len: u64,
    /// `__metadata__` entries, in file order.
    pub metadata: Vec<(String, String)>,
    /// Tensors, sorted by `data_offsets`.
    pub tensors: Vec<TensorInfo>,
    /// Length of the data section (file length − 8 − `n`).
    pub data_len: u64,
}

/// A header that parsed, plus the violations found while validating its tensors.
#[derive(Debug, Default)]
pub struct Parsed {
    /// The header.
    pub header: Header,
    /// Per-tensor violations (unknown dtype, size mismatch, gap, overlap, trailing data), at most
    /// 64 of them.
    pub problems: Vec<SafetensorsError>,
}

/// What is wrong with a safetensors file. Every variant names the byte offset in the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SafetensorsError {
    /// Fewer than 8 bytes: no header length.
    #[error("file is {len} bytes long, too short for the 8-byte header length")]
    TooShort {
        /// File length.
        len: u64,
    },
    /// The header length is above the cap.
    #[error("header length {len} at offset 0 exceeds the {max}-byte cap")]
    HeaderTooLarge {
        /// Declared length.
        len: u64,
        /// The cap applied.
        max: u64,
    },
    /// The header length points past the end of the file.
    #[error("header length {len} at offset 0 runs past the end of the {file_len}-byte file")]
    HeaderPastEnd {
        /// Declared length.
        len: u64,
        /// File length.
        file_len: u64,
    },
    /// The header is not UTF-8.
    #[error("header is not valid UTF-8 at offset {offset}")]
    NotUtf8 {
        /// Offset of the first invalid byte.
        offset: u64,
    },
    /// The header does not start with `{`.
    #[error("header does not start with `{{` at offset 8")]
    BadStart,
    /// The JSON does not parse, has duplicate keys, or has values of the wrong type.
    #[error("header JSON is invalid at offset {offset}: {message}")]
    Json {
        /// Offset of the error (from the JSON parser's line and column).
        offset: u64,
        /// The parser's message.
        message: String,
    },
    /// A tensor's dtype is not one the reference implementation knows.
    #[error("tensor `{tensor}` at offset {offset} has unknown dtype `{dtype}`")]
    UnknownDtype {
        /// Where the tensor's entry is.
        offset: u64,
        /// Tensor name.
        tensor: String,
        /// The dtype string.
        dtype: String,
    },
    /// Element count × dtype size overflows.
    #[error("tensor `{tensor}` at offset {offset}: shape × dtype size overflows")]
    Overflow {
        /// Where the tensor's entry is.
        offset: u64,
        /// Tensor name.
        tensor: String,
    },
    /// The element count × bit size is not a whole number of bytes.
    #[error("tensor `{tensor}` at offset {offset}: {bits} bits is not a whole number of bytes")]
    PartialByte {
        /// Where the tensor's entry is.
        offset: u64,
        /// Tensor name.
        tensor: String,
        /// Total bits.
        bits: u64,
    },
    /// `data_offsets` has begin > end.
    #[error("tensor `{tensor}` at offset {offset}: data_offsets [{begin}, {end}] has begin > end")]
    Reversed {
        /// Where the tensor's entry is.
        offset: u64,
        /// Tensor name.
        tensor: String,
        /// Begin.
        begin: u64,
        /// End.
        end: u64,
    },
    /// dtype size × shape does not equal the byte range.
    #[error(
        "tensor `{tensor}` at offset {offset}: dtype and shape need {expected} bytes but data_offsets span {actual}"
    )]
    SizeMismatch {
        /// Where the tensor's entry is.
        offset: u64,
        /// Tensor name.
        tensor: String,
        /// Bytes implied by dtype × shape.
        expected: u64,
        /// `end − begin`.
        actual: u64,
    },
    /// Sorted by offset, this tensor does not start where the previous one ended.
    #[error(
        "tensor `{tensor}` at offset {offset} starts at data offset {begin}, expected {expected} ({kind})"
    )]
    NotContiguous {
        /// Where the tensor's entry is.
        offset: u64,
        /// Tensor name.
        tensor: String,
        /// Its begin offset.
        begin: u64,
        /// Where the previous tensor ended.
        expected: u64,
        /// `gap` or `overlap`.
        kind: &'static str,
    },
    /// The tensors do not end exactly at the end of the file.
    #[error(
        "tensors end at data offset {covered} but the data section is {data_len} bytes (file offset {offset}): {kind}"
    )]
    DataLength {
        /// File offset where the tensors end.
        offset: u64,
        /// Bytes the tensors cover.
        covered: u64,
        /// Bytes in the data section.
        data_len: u64,
        /// `trailing bytes` or `tensor data past end of file`.
        kind: &'static str,
    },
    /// The source could not be read.
    #[error("cannot read the header: {0}")]
    Read(String),
}

impl SafetensorsError {
    /// The byte offset in the file the error refers to.
    pub fn offset(&self) -> u64 {
        match self {
            SafetensorsError::TooShort { .. }
            | SafetensorsError::HeaderTooLarge { .. }
            | SafetensorsError::HeaderPastEnd { .. }
            | SafetensorsError::Read(_) => 0,
            SafetensorsError::BadStart => 8,
            SafetensorsError::NotUtf8 { offset }
            | SafetensorsError::Json { offset, .. }
            | SafetensorsError::UnknownDtype { offset, .. }
            | SafetensorsError::Overflow { offset, .. }
            | SafetensorsError::PartialByte { offset, .. }
            | SafetensorsError::Reversed { offset, .. }
            | SafetensorsError::SizeMismatch { offset, .. }
            | SafetensorsError::NotContiguous { offset, .. }
            | SafetensorsError::DataLength { offset, .. } => *offset,
        }
    }

    /// The tensor the error is about, if any.
    pub fn tensor(&self) -> Option<&str> {
        match self {
            SafetensorsError::UnknownDtype { tensor, .. }
            | SafetensorsError::Overflow { tensor, .. }
            | SafetensorsError::PartialByte { tensor, .. }
            | SafetensorsError::Reversed { tensor, .. }
            | SafetensorsError::SizeMismatch { tensor, .. }
            | SafetensorsError::NotContiguous { tensor, .. } => Some(tensor),
            _ => None,
        }
    }
}

impl From<SourceError> for SafetensorsError {
    fn from(e: SourceError) -> Self {
        SafetensorsError::Read(e.to_string())
    }
}

/// Reads and validates the header of the safetensors file in `src`. Structural errors (length,
/// UTF-8, JSON, duplicate keys) are returned as `Err`; per-tensor violations are collected in
/// [`Parsed::problems`].
pub fn read(src: &dyn ByteSource, limits: &Limits) -> Result<Parsed, SafetensorsError> {
    let file_len = src.len();
    if file_len < 8 {
        return Err(SafetensorsError::TooShort { len: file_len });
    }
    let mut len_bytes = [0u8; 8];
    src.read_at(0, &mut len_bytes)?;
    let n = u64::from_le_bytes(len_bytes);
    let max = limits.max_json_bytes.min(REFERENCE_MAX_HEADER);
    if n > max {
        return Err(SafetensorsError::HeaderTooLarge { len: n, max });
    }
    let data_len = file_len
        .checked_sub(8)
        .and_then(|rest| rest.checked_sub(n))
        .ok_or(SafetensorsError::HeaderPastEnd { len: n, file_len })?;
    let header = src.read_vec(8, n, max)?;
    parse_header(&header, data_len)
}

/// Validates header bytes (`n` bytes after the length prefix) against a data section of
/// `data_len` bytes.
pub fn parse_header(header: &[u8], data_len: u64) -> Result<Parsed, SafetensorsError> {
    let text = std::str::from_utf8(header).map_err(|e| SafetensorsError::NotUtf8 {
        offset: 8 + e.valid_up_to() as u64,
    })?;
    if !text.starts_with('{') {
        return Err(SafetensorsError::BadStart);
    }
    let raw: RawHeader = serde_json::from_str(text).map_err(|e| SafetensorsError::Json {
        offset: 8 + json_error_offset(text, &e),
        message: e.to_string(),
    })?;

    let mut problems = Vec::new();
    let push = |p: SafetensorsError, problems: &mut Vec<SafetensorsError>| {
        if problems.len() < MAX_PROBLEMS {
            problems.push(p);
        }
    };
    let mut tensors: Vec<TensorInfo> = raw
        .tensors
        .into_iter()
        .map(|(name, t)| {
            let header_offset = 8 + key_offset(text, &name);
            TensorInfo {
                name,
                dtype: t.dtype,
                shape: t.shape,
                data_offsets: t.data_offsets,
                header_offset,
            }
        })
        .collect();
    tensors.sort_by_key(|t| t.data_offsets);

    let mut expected_begin = 0u64;
    for t in &tensors {
        let (begin, end) = t.data_offsets;
        let offset = t.header_offset;
        let tensor = || t.name.clone();
        if begin != expected_begin {
            let kind = if begin > expected_begin {
                "gap"
            } else {
                "overlap"
            };
            push(
                SafetensorsError::NotContiguous {
                    offset,
                    tensor: tensor(),
                    begin,
                    expected: expected_begin,
                    kind,
                },
                &mut problems,
            );
        }
        if begin > end {
            push(
                SafetensorsError::Reversed {
                    offset,
                    tensor: tensor(),
                    begin,
                    end,
                },
                &mut problems,
            );
        }
        expected_begin = expected_begin.max(end);
        let Some(dtype) = Dtype::from_name(&t.dtype) else {
            push(
                SafetensorsError::UnknownDtype {
                    offset,
                    tensor: tensor(),
                    dtype: t.dtype.clone(),
                },
                &mut problems,
            );
            continue;
        };
        let bits = t
            .shape
            .iter()
            .try_fold(1u64, |acc, &d| acc.checked_mul(d))
            .and_then(|n| n.checked_mul(dtype.bits()));
        let Some(bits) = bits else {
            push(
                SafetensorsError::Overflow {
                    offset,
                    tensor: tensor(),
                },
                &mut problems,
            );
            continue;
        };
        if bits % 8 != 0 {
            push(
                SafetensorsError::PartialByte {
                    offset,
                    tensor: tensor(),
                    bits,
                },
                &mut problems,
            );
            continue;
        }
        let expected = bits / 8;
        if begin <= end && end - begin != expected {
            push(
                SafetensorsError::SizeMismatch {
                    offset,
                    tensor: tensor(),
                    expected,
                    actual: end - begin,
                },
                &mut problems,
            );
        }
    }
    let header_len = header.len() as u64;
    if expected_begin != data_len {
        let kind = if expected_begin < data_len {
            "trailing bytes"
        } else {
            "tensor data past end of file"
        };
        push(
            SafetensorsError::DataLength {
                offset: 8u64
                    .saturating_add(header_len)
                    .saturating_add(expected_begin.min(data_len)),
                covered: expected_begin,
                data_len,
                kind,
            },
            &mut problems,
        );
    }
    Ok(Parsed {
        header: Header {
            header_len,
            metadata: raw.metadata,
            tensors,
            data_len,
        },
        problems,
    })
}

/// Byte offset within `text` of a `serde_json` error (its line and column are 1-based; the column
/// counts bytes).
fn json_error_offset(text: &str, e: &serde_json::Error) -> u64 {
    let line = e.line();
    let column = e.column();
    if line == 0 {
        return 0;
    }
    let mut offset = 0usize;
    for (i, l) in text.split_inclusive('\n').enumerate() {
        if i + 1 == line {
            return (offset + column.saturating_sub(1).min(l.len())) as u64;
        }
        offset += l.len();
    }
    offset as u64
}

/// Best-effort offset of `"name":` as a key in `text`; 0 when not found.
fn key_offset(text: &str, name: &str) -> u64 {
    let Ok(encoded) = serde_json::to_string(name) else {
        return 0;
    };
    let bytes = text.as_bytes();
    let mut from = 0usize;
    while let Some(pos) = text.get(from..).and_then(|rest| rest.find(&encoded)) {
        let at = from + pos;
        let after = at + encoded.len();
        let next = bytes
            .get(after..)
            .and_then(|rest| rest.iter().find(|b| !b.is_ascii_whitespace()));
        if next == Some(&b':') {
            return at as u64;
        }
        from = after;
    }
    0
}

#[derive(Deserialize)]
struct RawTensor {
    dtype: String,
    shape: Vec<u64>,
    data_offsets: (u64, u64),
}

struct RawHeader {
    metadata: Vec<(String, String)>,
    tensors: Vec<(String, RawTensor)>,
}

impl<'de> Deserialize<'de> for RawHeader {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(HeaderVisitor)
    }
}

struct HeaderVisitor;

impl<'de> Visitor<'de> for HeaderVisitor {
    type Value = RawHeader;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map of tensor names to tensor info")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawHeader, A::Error> {
        let mut seen = HashSet::new();
        let mut metadata = None;
        let mut tensors = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(de::Error::custom(format_args!(
                    "duplicate key `{}` (JSON parsers keep different copies)",
                    key.escape_debug()
                )));
            }
            if key == "__metadata__" {
                metadata = Some(map.next_value::<StringMap>()?.0);
            } else {
                let tensor = map.next_value::<RawTensor>()?;
                tensors.push((key, tensor));
            }
        }
        Ok(RawHeader {
            metadata: metadata.unwrap_or_default(),
            tensors,
        })
    }
}

/// `__metadata__`: string → string, duplicates rejected.
struct StringMap(Vec<(String, String)>);

impl<'de> Deserialize<'de> for StringMap {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StringMap;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("`__metadata__` as a map of strings to strings")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<StringMap, A::Error> {
                let mut seen = HashSet::new();
                let mut out = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    if !seen.insert(key.clone()) {
                        return Err(de::Error::custom(format_args!(
                            "duplicate `__metadata__` key `{}`",
                            key.escape_debug()
                        )));
                    }
                    let value = map.next_value::<String>()?;
                    out.push((key, value));
                }
                Ok(StringMap(out))
            }
        }
        deserializer.deserialize_map(V)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn file(json: &str, data: usize) -> Vec<u8> {
        let mut f = (json.len() as u64).to_le_bytes().to_vec();
        f.extend_from_slice(json.as_bytes());
        f.extend(std::iter::repeat_n(0u8, data));
        f
    }

    fn parse(f: &[u8]) -> Result<Parsed, SafetensorsError> {
        read(&f, &Limits::default())
    }

    #[test]
    fn valid_file_with_metadata_and_padding() {
        let json = r#"{"__metadata__":{"format":"pt"},"b":{"dtype":"F16","shape":[2,2],"data_offsets":[4,12]},"a":{"dtype":"I32","shape":[1],"data_offsets":[0,4]}}   "#;
        let p = parse(&file(json, 12)).unwrap();
        assert!(p.problems.is_empty(), "{:?}", p.problems);
        assert_eq!(p.header.tensors[0].name, "a");
        assert_eq!(p.header.metadata, vec![("format".into(), "pt".into())]);
        assert_eq!(
            p.header.tensors[1].header_offset,
            8 + json.find("\"b\"").unwrap() as u64
        );
    }

    #[test]
    fn empty_and_sub_byte() {
        assert!(parse(&file("{}", 0)).unwrap().problems.is_empty());
        let json = r#"{"q":{"dtype":"F4","shape":[3,2],"data_offsets":[0,3]}}"#;
        assert!(parse(&file(json, 3)).unwrap().problems.is_empty());
        let odd = r#"{"q":{"dtype":"F4","shape":[3],"data_offsets":[0,2]}}"#;
        let p = parse(&file(odd, 2)).unwrap();
        assert!(matches!(
            p.problems[0],
            SafetensorsError::PartialByte { .. }
        ));
    }

    #[test]
    fn header_length_errors() {
        assert!(matches!(
            parse(b"\x01\x00"),
            Err(SafetensorsError::TooShort { .. })
        ));
        let mut f = u64::MAX.to_le_bytes().to_vec();
        f.extend_from_slice(b"{}");
        assert!(matches!(
            parse(&f),
            Err(SafetensorsError::HeaderTooLarge { .. })
        ));
        let mut f = 100u64.to_le_bytes().to_vec();
        f.extend_from_slice(b"{}");
        assert!(matches!(
            parse(&f),
            Err(SafetensorsError::HeaderPastEnd { .. })
        ));
    }

    #[test]
    fn bad_start_utf8_and_json() {
        assert_eq!(
            parse(&file(" {}", 0)).unwrap_err(),
            SafetensorsError::BadStart
        );
        let mut f = 3u64.to_le_bytes().to_vec();
        f.extend_from_slice(b"{\xff}");
        assert_eq!(
            parse(&f).unwrap_err(),
            SafetensorsError::NotUtf8 { offset: 9 }
        );
        let err = parse(&file("{\"a\":", 0)).unwrap_err();
        assert!(matches!(err, SafetensorsError::Json { .. }));
        let err = parse(&file(r#"{"__metadata__":{"k":1}}"#, 0)).unwrap_err();
        assert!(matches!(err, SafetensorsError::Json { .. }), "{err}");
    }

    #[test]
    fn duplicate_keys_are_rejected_with_offset() {
        let json = r#"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#;
        let err = parse(&file(json, 1)).unwrap_err();
        let SafetensorsError::Json { offset, message } = &err else {
            panic!("{err:?}")
        };
        assert!(message.contains("duplicate key"), "{message}");
        assert!(*offset > 8 + 40, "{offset}");
        let meta = r#"{"__metadata__":{"k":"1","k":"2"}}"#;
        assert!(matches!(
            parse(&file(meta, 0)),
            Err(SafetensorsError::Json { .. })
        ));
        let field = r#"{"a":{"dtype":"U8","dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#;
        assert!(matches!(
            parse(&file(field, 1)),
            Err(SafetensorsError::Json { .. })
        ));
    }

    #[test]
    fn per_tensor_problems() {
        let json = r#"{"a":{"dtype":"X9","shape":[1],"data_offsets":[0,1]},"b":{"dtype":"F32","shape":[4611686018427387904,8],"data_offsets":[1,2]},"c":{"dtype":"F32","shape":[1],"data_offsets":[2,3]},"d":{"dtype":"U8","shape":[1],"data_offsets":[9,8]}}"#;
        let p = parse(&file(json, 8)).unwrap();
        let kinds: Vec<String> = p.problems.iter().map(ToString::to_string).collect();
        assert!(
            matches!(p.problems[0], SafetensorsError::UnknownDtype { .. }),
            "{kinds:?}"
        );
        assert!(
            p.problems
                .iter()
                .any(|e| matches!(e, SafetensorsError::Overflow { .. }))
        );
        assert!(
            p.problems
                .iter()
                .any(|e| matches!(e, SafetensorsError::SizeMismatch { .. }))
        );
        assert!(
            p.problems
                .iter()
                .any(|e| matches!(e, SafetensorsError::Reversed { .. }))
        );
        assert!(p.problems.iter().all(|e| e.offset() >= 8));
    }

    #[test]
    fn gaps_overlaps_and_trailing_bytes() {
        let gap = r#"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"b":{"dtype":"U8","shape":[1],"data_offsets":[2,3]}}"#;
        let p = parse(&file(gap, 3)).unwrap();
        assert!(matches!(
            p.problems[0],
            SafetensorsError::NotContiguous { kind: "gap", .. }
        ));
        let overlap = r#"{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}}"#;
        let p = parse(&file(overlap, 3)).unwrap();
        assert_eq!(p.problems[0].tensor(), Some("b"));
        let ok = r#"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#;
        let p = parse(&file(ok, 5)).unwrap();
        assert!(matches!(
            p.problems[0],
            SafetensorsError::DataLength {
                kind: "trailing bytes",
                ..
            }
        ));
        let p = parse(&file(ok, 0)).unwrap();
        assert!(matches!(p.problems[0], SafetensorsError::DataLength { .. }));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = read(&bytes.as_slice(), &Limits::default());
        }

        #[test]
        fn never_panics_on_json_like(body in "[{}\\[\\]\":,a-z0-9_ ]{0,120}", data in 0usize..64) {
            let _ = read(&file(&body, data).as_slice(), &Limits::default());
        }
    }
}
