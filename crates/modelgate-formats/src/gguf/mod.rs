//! GGUF (llama.cpp / ggml) header, metadata and tensor-info parser.
//!
//! Layout: `GGUF`, `u32` version (1–3), tensor count, key/value count (both `u32` in v1, `u64`
//! since v2), the key/value pairs (`string` key, `u32` value type, value), then one tensor info per
//! tensor (`string` name, `u32` `n_dims`, `n_dims` dimensions (`u32` in v1, `u64` since v2),
//! `u32` ggml type, `u64` offset relative to the data section), padding to `general.alignment`
//! (default 32), and the tensor data. Strings are a length (`u32` in v1, `u64` since v2) and bytes.
//! Big-endian files exist (s390x builds); the version field, read both ways, tells which.
//!
//! The parser reads sequentially through a small buffer and never loads tensor data, so a 10 GB
//! file costs its header plus metadata (tens of MB for large vocabularies). Every count and
//! length is checked against [`Limits`] *and* against the bytes left in the file before anything
//! is allocated or looped over — the class of bug behind the llama.cpp GGUF heap overflows
//! (CVE-2024-21802, CVE-2025-53630, CVE-2026-27940).
//!
//! Structural errors that make the rest of the file unreadable are returned as `Err`; semantic
//! violations (duplicate keys, unknown tensor types, misaligned or overlapping tensors, vocabulary
//! arrays of the wrong type or length) are collected in [`Parsed::problems`].
//!
//! ```
//! use modelgate_core::Limits;
//! use modelgate_formats::gguf;
//!
//! let mut f = b"GGUF".to_vec();
//! f.extend_from_slice(&3u32.to_le_bytes());
//! f.extend_from_slice(&0u64.to_le_bytes()); // tensors
//! f.extend_from_slice(&1u64.to_le_bytes()); // key/values
//! f.extend_from_slice(&12u64.to_le_bytes());
//! f.extend_from_slice(b"general.name");
//! f.extend_from_slice(&8u32.to_le_bytes()); // string
//! f.extend_from_slice(&2u64.to_le_bytes());
//! f.extend_from_slice(b"hi");
//! let parsed = gguf::read(&f.as_slice(), &Limits::default()).unwrap();
//! assert_eq!(parsed.file.get("general.name").and_then(|v| v.as_str()), Some("hi"));
//! ```

use std::collections::HashSet;

use modelgate_core::Limits;

use crate::ByteSource;

/// Deepest nesting of arrays inside arrays accepted (real files use none).
pub const MAX_ARRAY_DEPTH: u32 = 4;
/// Most elements of one array kept in [`Array::items`]; the rest are validated and skipped.
pub const MAX_KEPT_ITEMS: usize = 16;
/// llama.cpp's `GGML_MAX_DIMS`.
pub const MAX_DIMS: u32 = 4;
/// llama.cpp's `GGML_MAX_NAME`: tensor names must be shorter.
pub const MAX_TENSOR_NAME: usize = 64;
/// At most this many semantic problems are collected.
const MAX_PROBLEMS: usize = 64;
const BUF: usize = 64 * 1024;

/// Byte order of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endian {
    /// Little-endian (almost every file).
    Little,
    /// Big-endian.
    Big,
}

/// A metadata value type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum ValueType {
    U8,
    I8,
    U16,
    I16,
    U32,
    I32,
    F32,
    Bool,
    String,
    Array,
    U64,
    I64,
    F64,
}

impl ValueType {
    fn from_u32(v: u32) -> Option<Self> {
        use ValueType::{Array, Bool, F32, F64, I8, I16, I32, I64, String, U8, U16, U32, U64};
        Some(match v {
            0 => U8,
            1 => I8,
            2 => U16,
            3 => I16,
            4 => U32,
            5 => I32,
            6 => F32,
            7 => Bool,
            8 => String,
            9 => Array,
            10 => U64,
            11 => I64,
            12 => F64,
            _ => return None,
        })
    }

    /// The fixed encoded size, or `None` for strings and arrays.
    fn fixed_size(self) -> Option<u64> {
        match self {
            ValueType::U8 | ValueType::I8 | ValueType::Bool => Some(1),
            ValueType::U16 | ValueType::I16 => Some(2),
            ValueType::U32 | ValueType::I32 | ValueType::F32 => Some(4),
            ValueType::U64 | ValueType::I64 | ValueType::F64 => Some(8),
            ValueType::String | ValueType::Array => None,
        }
    }

    /// The name used in the GGUF specification.
    pub fn name(self) -> &'static str {
        match self {
            ValueType::U8 => "uint8",
            ValueType::I8 => "int8",
            ValueType::U16 => "uint16",
            ValueType::I16 => "int16",
            ValueType::U32 => "uint32",
            ValueType::I32 => "int32",
            ValueType::F32 => "float32",
            ValueType::Bool => "bool",
            ValueType::String => "string",
            ValueType::Array => "array",
            ValueType::U64 => "uint64",
            ValueType::I64 => "int64",
            ValueType::F64 => "float64",
        }
    }
}

/// A metadata value.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)]
pub enum Value {
    U8(u8),
    I8(i8),
    U16(u16),
    I16(i16),
    U32(u32),
    I32(i32),
    F32(f32),
    Bool(bool),
    /// A string (invalid UTF-8 replaced; values are not required to be UTF-8 here).
    String(String),
    Array(Array),
    U64(u64),
    I64(i64),
    F64(f64),
}

impl Value {
    /// The value's type.
    pub fn value_type(&self) -> ValueType {
        match self {
            Value::U8(_) => ValueType::U8,
            Value::I8(_) => ValueType::I8,
            Value::U16(_) => ValueType::U16,
            Value::I16(_) => ValueType::I16,
            Value::U32(_) => ValueType::U32,
            Value::I32(_) => ValueType::I32,
            Value::F32(_) => ValueType::F32,
            Value::Bool(_) => ValueType::Bool,
            Value::String(_) => ValueType::String,
            Value::Array(_) => ValueType::Array,
            Value::U64(_) => ValueType::U64,
            Value::I64(_) => ValueType::I64,
            Value::F64(_) => ValueType::F64,
        }
    }

    /// The string, if this is a string value.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// An unsigned integer value widened to `u64` (negative signed values give `None`).
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Value::U8(v) => Some(v.into()),
            Value::U16(v) => Some(v.into()),
            Value::U32(v) => Some(v.into()),
            Value::U64(v) => Some(v),
            Value::I8(v) => u64::try_from(v).ok(),
            Value::I16(v) => u64::try_from(v).ok(),
            Value::I32(v) => u64::try_from(v).ok(),
            Value::I64(v) => u64::try_from(v).ok(),
            _ => None,
        }
    }
}

/// An array value: its element type, its full length, and the first [`MAX_KEPT_ITEMS`] items
/// (the rest were validated and skipped).
#[derive(Debug, Clone, PartialEq)]
pub struct Array {
    /// Element type.
    pub item_type: ValueType,
    /// Number of elements in the file.
    pub len: u64,
    /// The first elements.
    pub items: Vec<Value>,
}

/// One metadata key/value pair.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyValue {
    /// The key.
    pub key: String,
    /// The value.
    pub value: Value,
    /// Offset of the key's length field.
    pub offset: u64,
    /// Offset of the value (after its type field; for strings, the length field).
    pub value_offset: u64,
}

/// One tensor info.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorInfo {
    /// Tensor name.
    pub name: String,
    /// Dimensions (`ne[0]` first).
    pub dims: Vec<u64>,
    /// ggml type id.
    pub ggml_type: u32,
    /// Offset relative to the data section.
    pub offset: u64,
    /// Size in bytes, when the type is known and the size does not overflow.
    pub size: Option<u64>,
    /// Offset of this tensor info in the file.
    pub info_offset: u64,
}

/// A parsed GGUF file (everything but the tensor data).
#[derive(Debug, Clone, PartialEq)]
pub struct GgufFile {
    /// Format version (1–3).
    pub version: u32,
    /// Byte order.
    pub endian: Endian,
    /// Metadata, in file order.
    pub kv: Vec<KeyValue>,
    /// Tensor infos, in file order.
    pub tensors: Vec<TensorInfo>,
    /// `general.alignment` or 32.
    pub alignment: u64,
    /// File offset of the data section.
    pub data_offset: u64,
}

impl GgufFile {
    /// The first value stored under `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.kv.iter().find(|kv| kv.key == key).map(|kv| &kv.value)
    }
}

/// A file that parsed, plus its semantic violations.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    /// The file.
    pub file: GgufFile,
    /// Violations found (at most 64).
    pub problems: Vec<GgufError>,
}

/// What is wrong with a GGUF file; every variant carries the file offset.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GgufError {
    /// Not a GGUF file.
    #[error("missing `GGUF` magic at offset 0")]
    BadMagic,
    /// Unsupported version.
    #[error("unsupported GGUF version {version:#x} at offset 4 (1, 2 and 3 exist)")]
    BadVersion {
        /// The raw little-endian version field.
        version: u32,
    },
    /// The file ends inside a structure.
    #[error(
        "truncated at offset {offset}: {what} needs {needed} bytes but the file has {available} left"
    )]
    Truncated {
        /// Where the read started.
        offset: u64,
        /// What was being read.
        what: &'static str,
        /// Bytes needed.
        needed: u64,
        /// Bytes left.
        available: u64,
    },
    /// A count or length exceeds a limit.
    #[error("{what} of {value} at offset {offset} exceeds the limit of {max}")]
    TooLarge {
        /// Where the field is.
        offset: u64,
        /// Which field.
        what: &'static str,
        /// Its value.
        value: u64,
        /// The limit.
        max: u64,
    },
    /// An unknown value type id.
    #[error("unknown metadata value type {type_id} at offset {offset}")]
    BadValueType {
        /// Where the type field is.
        offset: u64,
        /// The id.
        type_id: u32,
    },
    /// Arrays nested deeper than [`MAX_ARRAY_DEPTH`].
    #[error("arrays nested deeper than {MAX_ARRAY_DEPTH} levels at offset {offset}")]
    ArrayTooDeep {
        /// Where the innermost array starts.
        offset: u64,
    },
    /// A key is not valid UTF-8.
    #[error("metadata key at offset {offset} is not valid UTF-8")]
    KeyNotUtf8 {
        /// Offset of the key.
        offset: u64,
    },
    /// A key appears twice.
    #[error("duplicate metadata key `{key}` at offset {offset}")]
    DuplicateKey {
        /// Offset of the second occurrence.
        offset: u64,
        /// The key.
        key: String,
    },
    /// A bool value that is neither 0 nor 1.
    #[error("bool value {value} at offset {offset} is neither 0 nor 1")]
    BadBool {
        /// Offset.
        offset: u64,
        /// The byte.
        value: u8,
    },
    /// `general.alignment` is not a power-of-two `uint32`.
    #[error(
        "general.alignment at offset {offset} is {detail}; it must be a non-zero power of two stored as uint32"
    )]
    BadAlignment {
        /// Offset of the value.
        offset: u64,
        /// What is wrong.
        detail: String,
    },
    /// A well-known vocabulary array has the wrong element type or length.
    #[error("`{key}` at offset {offset}: {detail}")]
    BadVocabulary {
        /// Offset of the value.
        offset: u64,
        /// The key.
        key: String,
        /// What is wrong.
        detail: String,
    },
    /// `n_dims` above [`MAX_DIMS`].
    #[error("tensor `{tensor}` at offset {offset} has {n_dims} dimensions (at most {MAX_DIMS})")]
    TooManyDims {
        /// Offset of the tensor info.
        offset: u64,
        /// Tensor name.
        tensor: String,
        /// The value.
        n_dims: u32,
    },
    /// Tensor name too long, not UTF-8, or repeated.
    #[error("tensor name at offset {offset}: {detail}")]
    BadTensorName {
        /// Offset of the tensor info.
        offset: u64,
        /// What is wrong.
        detail: String,
    },
    /// A dimension is negative as int64, or the element count overflows.
    #[error("tensor `{tensor}` at offset {offset}: {detail}")]
    BadShape {
        /// Offset of the tensor info.
        offset: u64,
        /// Tensor name.
        tensor: String,
        /// What is wrong.
        detail: String,
    },
    /// Unknown ggml type.
    #[error("tensor `{tensor}` at offset {offset} has unknown ggml type {ggml_type}")]
    UnknownTensorType {
        /// Offset of the tensor info.
        offset: u64,
        /// Tensor name.
        tensor: String,
        /// The type id.
        ggml_type: u32,
    },
    /// Tensor data misplaced: misaligned, out of the file, or not where the previous tensor ended.
    #[error("tensor `{tensor}` at offset {offset}: {detail}")]
    BadTensorData {
        /// Offset of the tensor info.
        offset: u64,
        /// Tensor name.
        tensor: String,
        /// What is wrong.
        detail: String,
    },
    /// The source could not be read.
    #[error("cannot read at offset {offset}: {reason}")]
    Read {
        /// Offset.
        offset: u64,
        /// Why.
        reason: String,
    },
}

impl GgufError {
    /// The file offset the error refers to.
    pub fn offset(&self) -> u64 {
        match self {
            GgufError::BadMagic => 0,
            GgufError::BadVersion { .. } => 4,
            GgufError::Truncated { offset, .. }
            | GgufError::TooLarge { offset, .. }
            | GgufError::BadValueType { offset, .. }
            | GgufError::ArrayTooDeep { offset }
            | GgufError::KeyNotUtf8 { offset }
            | GgufError::DuplicateKey { offset, .. }
            | GgufError::BadBool { offset, .. }
            | GgufError::BadAlignment { offset, .. }
            | GgufError::BadVocabulary { offset, .. }
            | GgufError::TooManyDims { offset, .. }
            | GgufError::BadTensorName { offset, .. }
            | GgufError::BadShape { offset, .. }
            | GgufError::UnknownTensorType { offset, .. }
            | GgufError::BadTensorData { offset, .. }
            | GgufError::Read { offset, .. } => *offset,
        }
    }

    /// The tensor or key the error is about, if any.
    pub fn subject(&self) -> Option<&str> {
        match self {
            GgufError::DuplicateKey { key, .. } | GgufError::BadVocabulary { key, .. } => Some(key),
            GgufError::TooManyDims { tensor, .. }
            | GgufError::BadShape { tensor, .. }
            | GgufError::UnknownTensorType { tensor, .. }
            | GgufError::BadTensorData { tensor, .. } => Some(tensor),
            _ => None,
        }
    }
}

/// `(block size in elements, bytes per block)` of a ggml type, or `None` if unknown.
// One arm per type id, in id order, mirrors ggml's type-traits table.
#[allow(clippy::match_same_arms)]
pub fn ggml_type_layout(ggml_type: u32) -> Option<(u64, u64)> {
    Some(match ggml_type {
        0 => (1, 4),      // F32
        1 => (1, 2),      // F16
        2 => (32, 18),    // Q4_0
        3 => (32, 20),    // Q4_1
        6 => (32, 22),    // Q5_0
        7 => (32, 24),    // Q5_1
        8 => (32, 34),    // Q8_0
        9 => (32, 36),    // Q8_1
        10 => (256, 84),  // Q2_K
        11 => (256, 110), // Q3_K
        12 => (256, 144), // Q4_K
        13 => (256, 176), // Q5_K
        14 => (256, 210), // Q6_K
        15 => (256, 292), // Q8_K
        16 => (256, 66),  // IQ2_XXS
        17 => (256, 74),  // IQ2_XS
        18 => (256, 98),  // IQ3_XXS
        19 => (256, 50),  // IQ1_S
        20 => (32, 18),   // IQ4_NL
        21 => (256, 110), // IQ3_S
        22 => (256, 82),  // IQ2_S
        23 => (256, 136), // IQ4_XS
        24 => (1, 1),     // I8
        25 => (1, 2),     // I16
        26 => (1, 4),     // I32
        27 => (1, 8),     // I64
        28 => (1, 8),     // F64
        29 => (256, 56),  // IQ1_M
        30 => (1, 2),     // BF16
        // Q4_0_4_4/4_8/8_8 and IQ4_NL_4_4/4_8/8_8: removed from current ggml but written in
        // 2024; they are laid out as Q4_0 / IQ4_NL blocks.
        31..=33 | 36..=38 => (32, 18),
        34 => (256, 54), // TQ1_0
        35 => (256, 66), // TQ2_0
        39 => (32, 17),  // MXFP4
        40 => (64, 36),  // NVFP4
        41 => (128, 18), // Q1_0
        42 => (64, 18),  // Q2_0
        _ => return None,
    })
}

/// Reads and validates the header, metadata and tensor infos of the GGUF file in `src`.
pub fn read(src: &dyn ByteSource, limits: &Limits) -> Result<Parsed, GgufError> {
    let mut r = Reader::new(src);
    let mut magic = [0u8; 4];
    r.fill(&mut magic, "magic")?;
    if &magic != b"GGUF" {
        return Err(GgufError::BadMagic);
    }
    let mut v = [0u8; 4];
    r.fill(&mut v, "version")?;
    let (version, endian) = match (u32::from_le_bytes(v), u32::from_be_bytes(v)) {
        (le @ 1..=3, _) => (le, Endian::Little),
        (_, be @ 1..=3) => (be, Endian::Big),
        (le, _) => return Err(GgufError::BadVersion { version: le }),
    };
    r.endian = endian;
    r.v1 = version == 1;

    let at = r.pos;
    let n_tensors = r.count("tensor count")?;
    if n_tensors > limits.max_gguf_tensors {
        return Err(GgufError::TooLarge {
            offset: at,
            what: "tensor count",
            value: n_tensors,
            max: limits.max_gguf_tensors,
        });
    }
    let at = r.pos;
    let n_kv = r.count("key/value count")?;
    if n_kv > limits.max_gguf_kv {
        return Err(GgufError::TooLarge {
            offset: at,
            what: "key/value count",
            value: n_kv,
            max: limits.max_gguf_kv,
        });
    }
    // Each pair needs at least a key length, a type and one byte; each tensor info a name length,
    // n_dims, type and offset. Refuse counts the file cannot hold before looping over them.
    let len_size = if r.v1 { 4 } else { 8 };
    r.ensure_room(at, n_kv.saturating_mul(len_size + 5), "key/value pairs")?;

    let mut problems = Vec::new();
    let mut keys = HashSet::new();
    let mut kv = Vec::new();
    for _ in 0..n_kv {
        let offset = r.pos;
        let raw = r.string_bytes(limits, "key")?;
        let key = match String::from_utf8(raw) {
            Ok(k) => k,
            Err(e) => {
                push(&mut problems, GgufError::KeyNotUtf8 { offset });
                String::from_utf8_lossy(e.as_bytes()).into_owned()
            }
        };
        let type_at = r.pos;
        let type_id = r.u32("value type")?;
        let value_type = ValueType::from_u32(type_id).ok_or(GgufError::BadValueType {
            offset: type_at,
            type_id,
        })?;
        let value_offset = r.pos;
        let value = r.value(value_type, limits, 0, &mut problems)?;
        if !keys.insert(key.clone()) {
            push(
                &mut problems,
                GgufError::DuplicateKey {
                    offset,
                    key: key.clone(),
                },
            );
        }
        kv.push(KeyValue {
            key,
            value,
            offset,
            value_offset,
        });
    }

    let alignment = alignment(&kv, &mut problems);
    check_vocabulary(&kv, &mut problems);

    r.ensure_room(
        r.pos,
        n_tensors.saturating_mul(len_size + 4 + 4 + 8),
        "tensor infos",
    )?;
    let mut tensors = Vec::new();
    let mut names = HashSet::new();
    for _ in 0..n_tensors {
        let info = r.tensor_info(limits, &mut problems)?;
        if !names.insert(info.name.clone()) {
            push(
                &mut problems,
                GgufError::BadTensorName {
                    offset: info.info_offset,
                    detail: format!("`{}` is used by two tensors", info.name),
                },
            );
        }
        tensors.push(info);
    }
    let data_offset = r
        .pos
        .checked_next_multiple_of(alignment)
        .unwrap_or(u64::MAX);
    check_tensor_data(&tensors, alignment, data_offset, src.len(), &mut problems);
    Ok(Parsed {
        file: GgufFile {
            version,
            endian,
            kv,
            tensors,
            alignment,
            data_offset,
        },
        problems,
    })
}

fn push(problems: &mut Vec<GgufError>, e: GgufError) {
    if problems.len() < MAX_PROBLEMS {
        problems.push(e);
    }
}

fn alignment(kv: &[KeyValue], problems: &mut Vec<GgufError>) -> u64 {
    let Some(entry) = kv.iter().find(|kv| kv.key == "general.alignment") else {
        return 32;
    };
    let offset = entry.value_offset;
    match entry.value {
        Value::U32(a) if a.is_power_of_two() => u64::from(a),
        Value::U32(a) => {
            push(
                problems,
                GgufError::BadAlignment {
                    offset,
                    detail: format!("{a}"),
                },
            );
            32
        }
        ref other => {
            push(
                problems,
                GgufError::BadAlignment {
                    offset,
                    detail: format!("of type {}", other.value_type().name()),
                },
            );
            32
        }
    }
}

/// llama.cpp casts these arrays' data to fixed element types and indexes them by token id:
/// a wrong element type or a length that differs from the token list reads out of bounds.
fn check_vocabulary(kv: &[KeyValue], problems: &mut Vec<GgufError>) {
    let find = |key: &str| kv.iter().find(|e| e.key == key);
    let tokens_len = find("tokenizer.ggml.tokens").and_then(|e| match &e.value {
        Value::Array(a) => Some(a.len),
        _ => None,
    });
    let expected = [
        ("tokenizer.ggml.tokens", ValueType::String, false),
        ("tokenizer.ggml.merges", ValueType::String, false),
        ("tokenizer.ggml.scores", ValueType::F32, true),
        ("tokenizer.ggml.token_type", ValueType::I32, true),
    ];
    for (key, item_type, per_token) in expected {
        let Some(entry) = find(key) else { continue };
        let detail = match &entry.value {
            Value::Array(a) if a.item_type != item_type => Some(format!(
                "array of {} where {} is required",
                a.item_type.name(),
                item_type.name()
            )),
            Value::Array(a) => match tokens_len {
                Some(n) if per_token && a.len != n => Some(format!(
                    "{} entries but tokenizer.ggml.tokens has {n}",
                    a.len
                )),
                _ => None,
            },
            other => Some(format!(
                "a {} where an array is required",
                other.value_type().name()
            )),
        };
        if let Some(detail) = detail {
            push(
                problems,
                GgufError::BadVocabulary {
                    offset: entry.value_offset,
                    key: key.to_owned(),
                    detail,
                },
            );
        }
    }
}

fn check_tensor_data(
    tensors: &[TensorInfo],
    alignment: u64,
    data_offset: u64,
    file_len: u64,
    problems: &mut Vec<GgufError>,
) {
    // llama.cpp requires each tensor to start where the previous one (padded to the alignment)
    // ended; anything else leaves gaps that can hide data or overlaps that alias weights.
    let mut expected = 0u64;
    for t in tensors {
        let bad = |detail: String| GgufError::BadTensorData {
            offset: t.info_offset,
            tensor: t.name.clone(),
            detail,
        };
        if t.offset % alignment != 0 {
            push(
                problems,
                bad(format!(
                    "data offset {} is not a multiple of the alignment {alignment}",
                    t.offset
                )),
            );
        }
        let Some(size) = t.size else { continue };
        let end = data_offset
            .checked_add(t.offset)
            .and_then(|s| s.checked_add(size));
        match end {
            Some(end) if end <= file_len => {}
            _ => push(
                problems,
                bad(format!(
                    "data [{}, +{size}) lies past the end of the {file_len}-byte file",
                    data_offset.saturating_add(t.offset)
                )),
            ),
        }
        if t.offset != expected {
            let kind = if t.offset < expected {
                "overlaps the previous tensor"
            } else {
                "leaves a gap after the previous tensor"
            };
            push(
                problems,
                bad(format!(
                    "data offset {} {kind} (expected {expected})",
                    t.offset
                )),
            );
        }
        expected = t
            .offset
            .max(expected)
            .checked_add(size)
            .and_then(|e| e.checked_next_multiple_of(alignment))
            .unwrap_or(u64::MAX);
    }
}

/// Sequential reader over a [`ByteSource`] with a small buffer.
struct Reader<'a> {
    src: &'a dyn ByteSource,
    len: u64,
    pos: u64,
    buf: Vec<u8>,
    buf_start: u64,
    endian: Endian,
    v1: bool,
}

impl<'a> Reader<'a> {
    fn new(src: &'a dyn ByteSource) -> Self {
        Reader {
            src,
            len: src.len(),
            pos: 0,
            buf: Vec::new(),
            buf_start: 0,
            endian: Endian::Little,
            v1: false,
        }
    }

    fn remaining(&self) -> u64 {
        self.len.saturating_sub(self.pos)
    }

    fn ensure_room(&self, offset: u64, needed: u64, what: &'static str) -> Result<(), GgufError> {
        let available = self.len.saturating_sub(offset);
        if needed > available {
            return Err(GgufError::Truncated {
                offset,
                what,
                needed,
                available,
            });
        }
        Ok(())
    }

    fn fill(&mut self, out: &mut [u8], what: &'static str) -> Result<(), GgufError> {
        let n = out.len() as u64;
        self.ensure_room(self.pos, n, what)?;
        let buf_end = self.buf_start + self.buf.len() as u64;
        if self.pos < self.buf_start || self.pos + n > buf_end {
            if out.len() >= BUF {
                self.src
                    .read_at(self.pos, out)
                    .map_err(|e| GgufError::Read {
                        offset: self.pos,
                        reason: e.to_string(),
                    })?;
                self.pos += n;
                return Ok(());
            }
            let want = (BUF as u64).min(self.remaining()) as usize;
            self.buf.resize(want, 0);
            self.src
                .read_at(self.pos, &mut self.buf)
                .map_err(|e| GgufError::Read {
                    offset: self.pos,
                    reason: e.to_string(),
                })?;
            self.buf_start = self.pos;
        }
        let start = (self.pos - self.buf_start) as usize;
        let src = self
            .buf
            .get(start..start + out.len())
            .ok_or(GgufError::Read {
                offset: self.pos,
                reason: "buffer underrun".into(),
            })?;
        out.copy_from_slice(src);
        self.pos += n;
        Ok(())
    }

    fn skip(&mut self, n: u64, what: &'static str) -> Result<(), GgufError> {
        self.ensure_room(self.pos, n, what)?;
        self.pos += n;
        Ok(())
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], GgufError> {
        let mut b = [0u8; N];
        self.fill(&mut b, what)?;
        if self.endian == Endian::Big {
            b.reverse();
        }
        Ok(b)
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, GgufError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    fn u64(&mut self, what: &'static str) -> Result<u64, GgufError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    /// A count or length: `u32` in v1, `u64` since v2.
    fn count(&mut self, what: &'static str) -> Result<u64, GgufError> {
        if self.v1 {
            self.u32(what).map(u64::from)
        } else {
            self.u64(what)
        }
    }

    fn string_len(&mut self, limits: &Limits, what: &'static str) -> Result<u64, GgufError> {
        let at = self.pos;
        let n = self.count(what)?;
        if n > limits.max_gguf_string_bytes {
            return Err(GgufError::TooLarge {
                offset: at,
                what: "string length",
                value: n,
                max: limits.max_gguf_string_bytes,
            });
        }
        self.ensure_room(self.pos, n, what)?;
        Ok(n)
    }

    fn string_bytes(&mut self, limits: &Limits, what: &'static str) -> Result<Vec<u8>, GgufError> {
        let n = self.string_len(limits, what)?;
        // `n` is capped and known to fit in the file: safe to allocate.
        let mut out = vec![0u8; n as usize];
        self.fill(&mut out, what)?;
        Ok(out)
    }

    fn value(
        &mut self,
        t: ValueType,
        limits: &Limits,
        depth: u32,
        problems: &mut Vec<GgufError>,
    ) -> Result<Value, GgufError> {
        let at = self.pos;
        Ok(match t {
            ValueType::U8 => Value::U8(u8::from_le_bytes(self.array("uint8")?)),
            ValueType::I8 => Value::I8(i8::from_le_bytes(self.array("int8")?)),
            ValueType::U16 => Value::U16(u16::from_le_bytes(self.array("uint16")?)),
            ValueType::I16 => Value::I16(i16::from_le_bytes(self.array("int16")?)),
            ValueType::U32 => Value::U32(self.u32("uint32")?),
            ValueType::I32 => Value::I32(i32::from_le_bytes(self.array("int32")?)),
            ValueType::F32 => Value::F32(f32::from_le_bytes(self.array("float32")?)),
            ValueType::U64 => Value::U64(self.u64("uint64")?),
            ValueType::I64 => Value::I64(i64::from_le_bytes(self.array("int64")?)),
            ValueType::F64 => Value::F64(f64::from_le_bytes(self.array("float64")?)),
            ValueType::Bool => {
                let [b] = self.array::<1>("bool")?;
                if b > 1 {
                    push(
                        problems,
                        GgufError::BadBool {
                            offset: at,
                            value: b,
                        },
                    );
                }
                Value::Bool(b != 0)
            }
            ValueType::String => {
                let raw = self.string_bytes(limits, "string")?;
                Value::String(
                    String::from_utf8(raw)
                        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
                )
            }
            ValueType::Array => {
                if depth >= MAX_ARRAY_DEPTH {
                    return Err(GgufError::ArrayTooDeep { offset: at });
                }
                let type_id = self.u32("array type")?;
                let item_type = ValueType::from_u32(type_id).ok_or(GgufError::BadValueType {
                    offset: at,
                    type_id,
                })?;
                let len_at = self.pos;
                let len = self.count("array length")?;
                if len > limits.max_gguf_array_len {
                    return Err(GgufError::TooLarge {
                        offset: len_at,
                        what: "array length",
                        value: len,
                        max: limits.max_gguf_array_len,
                    });
                }
                let len_size = if self.v1 { 4 } else { 8 };
                let min_item =
                    item_type
                        .fixed_size()
                        .unwrap_or(if item_type == ValueType::String {
                            len_size
                        } else {
                            4 + len_size
                        });
                self.ensure_room(self.pos, len.saturating_mul(min_item), "array elements")?;
                let mut items = Vec::new();
                if let (Some(size), false) = (item_type.fixed_size(), item_type == ValueType::Bool)
                {
                    let kept = len.min(MAX_KEPT_ITEMS as u64);
                    for _ in 0..kept {
                        items.push(self.value(item_type, limits, depth + 1, problems)?);
                    }
                    self.skip((len - kept) * size, "array elements")?;
                } else {
                    for i in 0..len {
                        if item_type == ValueType::String && i >= MAX_KEPT_ITEMS as u64 {
                            let n = self.string_len(limits, "string")?;
                            self.skip(n, "string")?;
                            continue;
                        }
                        let v = self.value(item_type, limits, depth + 1, problems)?;
                        if items.len() < MAX_KEPT_ITEMS {
                            items.push(v);
                        }
                    }
                }
                Value::Array(Array {
                    item_type,
                    len,
                    items,
                })
            }
        })
    }

    fn tensor_info(
        &mut self,
        limits: &Limits,
        problems: &mut Vec<GgufError>,
    ) -> Result<TensorInfo, GgufError> {
        let info_offset = self.pos;
        let raw = self.string_bytes(limits, "tensor name")?;
        let name = match String::from_utf8(raw) {
            Ok(n) => n,
            Err(e) => {
                push(
                    problems,
                    GgufError::BadTensorName {
                        offset: info_offset,
                        detail: "not valid UTF-8".into(),
                    },
                );
                String::from_utf8_lossy(e.as_bytes()).into_owned()
            }
        };
        if name.len() >= MAX_TENSOR_NAME {
            push(
                problems,
                GgufError::BadTensorName {
                    offset: info_offset,
                    detail: format!(
                        "{} bytes long; llama.cpp copies names into a {MAX_TENSOR_NAME}-byte buffer",
                        name.len()
                    ),
                },
            );
        }
        let n_dims = self.u32("n_dims")?;
        if n_dims > MAX_DIMS {
            return Err(GgufError::TooManyDims {
                offset: info_offset,
                tensor: name,
                n_dims,
            });
        }
        let mut dims = Vec::with_capacity(n_dims as usize);
        for _ in 0..n_dims {
            dims.push(if self.v1 {
                u64::from(self.u32("dimension")?)
            } else {
                self.u64("dimension")?
            });
        }
        let ggml_type = self.u32("ggml type")?;
        let offset = self.u64("tensor data offset")?;
        let size = Self::tensor_size(&name, &dims, ggml_type, info_offset, problems);
        Ok(TensorInfo {
            name,
            dims,
            ggml_type,
            offset,
            size,
            info_offset,
        })
    }

    fn tensor_size(
        name: &str,
        dims: &[u64],
        ggml_type: u32,
        offset: u64,
        problems: &mut Vec<GgufError>,
    ) -> Option<u64> {
        let shape_error = |detail: String| GgufError::BadShape {
            offset,
            tensor: name.to_owned(),
            detail,
        };
        if let Some(d) = dims.iter().find(|&&d| i64::try_from(d).is_err()) {
            push(
                problems,
                shape_error(format!("dimension {d} is negative as int64")),
            );
            return None;
        }
        let Some(elements) = dims
            .iter()
            .try_fold(1u64, |acc, &d| acc.checked_mul(d))
            .filter(|&n| i64::try_from(n).is_ok())
        else {
            push(
                problems,
                shape_error(format!("element count of {dims:?} overflows int64")),
            );
            return None;
        };
        let Some((block, type_size)) = ggml_type_layout(ggml_type) else {
            push(
                problems,
                GgufError::UnknownTensorType {
                    offset,
                    tensor: name.to_owned(),
                    ggml_type,
                },
            );
            return None;
        };
        let row = dims.first().copied().unwrap_or(1);
        if row % block != 0 {
            push(
                problems,
                shape_error(format!(
                    "first dimension {row} is not a multiple of the type's block size {block}"
                )),
            );
            return None;
        }
        let size = (elements / block).checked_mul(type_size);
        if size.is_none() {
            push(problems, shape_error("byte size overflows".into()));
        }
        size
    }
}

#[cfg(test)]
pub(crate) mod tests;
