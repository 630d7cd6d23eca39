//! NumPy `.npy` headers: magic, version (1.0, 2.0, 3.0), the header length (capped), and the
//! header itself, a Python dict literal read by a tiny literal parser (strings, ints, bools,
//! `None`, tuples, lists, dicts) that never evaluates anything.
//!
//! [`parse_header`] returns the `descr` (scalar or structured, nested), `fortran_order` and
//! `shape`, and where the array data starts. [`NpyHeader::data_len`] computes the expected data
//! length with checked arithmetic; it is `None` for object arrays, whose data is a pickle.
//!
//! ```
//! use modelgate_core::Limits;
//! use modelgate_formats::npy::parse_header;
//!
//! let mut file = b"\x93NUMPY\x01\x00".to_vec();
//! let dict = b"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }\n";
//! file.extend_from_slice(&(dict.len() as u16).to_le_bytes());
//! file.extend_from_slice(dict);
//! file.extend_from_slice(&[0u8; 24]);
//! let header = parse_header(&file.as_slice(), &Limits::default()).unwrap();
//! assert_eq!(header.shape, vec![2, 3]);
//! assert_eq!(header.data_len().unwrap(), Some(24));
//! assert!(!header.descr.has_object());
//! ```

use modelgate_core::Limits;

use crate::ByteSource;

/// The `.npy` magic: `\x93NUMPY`.
pub const MAGIC: &[u8; 6] = b"\x93NUMPY";

/// Why a `.npy` header could not be read. Every variant carries the byte offset.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NpyError {
    /// The file does not start with `\x93NUMPY` and a version.
    #[error("not a .npy file: bad magic at offset {offset}")]
    BadMagic {
        /// Always 0.
        offset: u64,
    },
    /// A format version other than 1.0, 2.0 or 3.0.
    #[error("unsupported .npy version {major}.{minor} at offset {offset}")]
    UnsupportedVersion {
        /// Offset of the version bytes.
        offset: u64,
        /// Major version.
        major: u8,
        /// Minor version.
        minor: u8,
    },
    /// The header length exceeds the limit or the file.
    #[error("header length {len} at offset {offset} exceeds {limit} bytes")]
    HeaderTooLong {
        /// Offset of the length field.
        offset: u64,
        /// Declared length.
        len: u64,
        /// The smaller of the limit and the bytes left in the file.
        limit: u64,
    },
    /// The file ends inside the preamble.
    #[error("file ends inside the .npy preamble at offset {offset}")]
    Truncated {
        /// Where the read failed.
        offset: u64,
    },
    /// The header is not a valid Python literal of the expected shape.
    #[error("malformed .npy header at offset {offset}: {reason}")]
    Header {
        /// Offset of the problem in the file.
        offset: u64,
        /// What was wrong.
        reason: String,
    },
}

impl NpyError {
    /// The byte offset the error refers to.
    pub fn offset(&self) -> u64 {
        match self {
            NpyError::BadMagic { offset }
            | NpyError::UnsupportedVersion { offset, .. }
            | NpyError::HeaderTooLong { offset, .. }
            | NpyError::Truncated { offset }
            | NpyError::Header { offset, .. } => *offset,
        }
    }
}

/// A Python literal, as far as `.npy` headers use them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Literal {
    /// `'…'` or `"…"`.
    Str(String),
    /// An integer (Python 2 `L` suffix accepted).
    Int(i128),
    /// `True` / `False`.
    Bool(bool),
    /// `None`.
    None,
    /// `( … )`.
    Tuple(Vec<Literal>),
    /// `[ … ]`.
    List(Vec<Literal>),
    /// `{ k: v, … }`, in source order.
    Dict(Vec<(Literal, Literal)>),
}

/// One scalar type, e.g. `<f4`, `|O`, `<U10`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scalar {
    /// The type string as written.
    pub text: String,
    /// The kind character (`f`, `i`, `u`, `b`, `c`, `O`, `S`, `U`, `V`, `M`, `m`, `?`).
    pub kind: char,
    /// Bytes per element.
    pub itemsize: u64,
}

/// A field of a structured dtype.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// Field name (the name of a `(title, name)` pair).
    pub name: String,
    /// Its type.
    pub descr: Descr,
    /// Sub-array shape (empty for a scalar field).
    pub shape: Vec<u64>,
}

/// An array's `descr`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Descr {
    /// A scalar type string.
    Scalar(Scalar),
    /// A structured dtype: a list of fields, possibly nested.
    Structured(Vec<Field>),
}

impl Descr {
    /// True when the dtype is, or contains, Python objects (`O`): the data is then a pickle.
    pub fn has_object(&self) -> bool {
        match self {
            Descr::Scalar(s) => s.kind == 'O',
            Descr::Structured(fields) => fields.iter().any(|f| f.descr.has_object()),
        }
    }

    /// Bytes per element, `None` on overflow.
    pub fn itemsize(&self) -> Option<u64> {
        match self {
            Descr::Scalar(s) => Some(s.itemsize),
            Descr::Structured(fields) => fields.iter().try_fold(0u64, |acc, f| {
                let count = f.shape.iter().try_fold(1u64, |a, d| a.checked_mul(*d))?;
                acc.checked_add(f.descr.itemsize()?.checked_mul(count)?)
            }),
        }
    }
}

/// A parsed `.npy` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NpyHeader {
    /// Format version (major, minor).
    pub version: (u8, u8),
    /// Length of the header dict in bytes.
    pub header_len: u64,
    /// Offset of the first data byte.
    pub data_offset: u64,
    /// The element type.
    pub descr: Descr,
    /// Column-major order.
    pub fortran_order: bool,
    /// The array's shape.
    pub shape: Vec<u64>,
}

impl NpyHeader {
    /// The data length the header implies: `product(shape) × itemsize`, or `None` for object
    /// arrays (their data is a pickle of any length). Fails on overflow.
    pub fn data_len(&self) -> Result<Option<u64>, NpyError> {
        if self.descr.has_object() {
            return Ok(None);
        }
        let overflow = || NpyError::Header {
            offset: self.data_offset,
            reason: "shape × itemsize overflows".to_owned(),
        };
        let count = self
            .shape
            .iter()
            .try_fold(1u64, |a, d| a.checked_mul(*d))
            .ok_or_else(overflow)?;
        let itemsize = self.descr.itemsize().ok_or_else(overflow)?;
        count.checked_mul(itemsize).map(Some).ok_or_else(overflow)
    }
}

/// Reads and parses the header of the `.npy` stream in `src`.
pub fn parse_header(src: &dyn ByteSource, limits: &Limits) -> Result<NpyHeader, NpyError> {
    let mut pre = [0u8; 12];
    let avail = src.len().min(12) as usize;
    let pre = pre.get_mut(..avail).unwrap_or_default();
    src.read_at(0, pre)
        .map_err(|_| NpyError::Truncated { offset: 0 })?;
    if !pre.starts_with(MAGIC) {
        return Err(NpyError::BadMagic { offset: 0 });
    }
    let (Some(&major), Some(&minor)) = (pre.get(6), pre.get(7)) else {
        return Err(NpyError::Truncated { offset: 6 });
    };
    let (len_size, utf8) = match (major, minor) {
        (1, 0) => (2usize, false),
        (2, 0) => (4, false),
        (3, 0) => (4, true),
        _ => {
            return Err(NpyError::UnsupportedVersion {
                offset: 6,
                major,
                minor,
            });
        }
    };
    let len_field = pre
        .get(8..8 + len_size)
        .ok_or(NpyError::Truncated { offset: 8 })?;
    let header_len = len_field
        .iter()
        .rev()
        .fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
    let start = 8 + len_size as u64;
    let limit = limits
        .max_archive_metadata_bytes
        .min(src.len().saturating_sub(start));
    if header_len > limit {
        return Err(NpyError::HeaderTooLong {
            offset: 8,
            len: header_len,
            limit,
        });
    }
    let raw = src
        .read_vec(start, header_len, limit)
        .map_err(|_| NpyError::Truncated { offset: start })?;
    let text: String = if utf8 {
        String::from_utf8(raw).map_err(|e| NpyError::Header {
            offset: start + e.utf8_error().valid_up_to() as u64,
            reason: "header is not valid UTF-8".to_owned(),
        })?
    } else {
        raw.iter().map(|b| char::from(*b)).collect()
    };
    let mut parser = Parser {
        text: &text,
        pos: 0,
        base: start,
        max_depth: limits.max_json_depth,
    };
    let dict = parser.parse_document()?;
    let (descr, fortran_order, shape) = interpret(&dict, start)?;
    Ok(NpyHeader {
        version: (major, minor),
        header_len,
        data_offset: start + header_len,
        descr,
        fortran_order,
        shape,
    })
}

fn header_error(offset: u64, reason: impl Into<String>) -> NpyError {
    NpyError::Header {
        offset,
        reason: reason.into(),
    }
}

/// Checks the dict has exactly `descr`, `fortran_order` and `shape`, as `numpy.load` requires.
fn interpret(dict: &Literal, at: u64) -> Result<(Descr, bool, Vec<u64>), NpyError> {
    let Literal::Dict(items) = dict else {
        return Err(header_error(at, "header is not a dict"));
    };
    let mut descr = None;
    let mut fortran = None;
    let mut shape = None;
    for (key, value) in items {
        match key {
            Literal::Str(k) if k == "descr" && descr.is_none() => descr = Some(value),
            Literal::Str(k) if k == "fortran_order" && fortran.is_none() => fortran = Some(value),
            Literal::Str(k) if k == "shape" && shape.is_none() => shape = Some(value),
            other => return Err(header_error(at, format!("unexpected header key {other:?}"))),
        }
    }
    let (Some(descr), Some(fortran), Some(shape)) = (descr, fortran, shape) else {
        return Err(header_error(
            at,
            "header lacks one of `descr`, `fortran_order`, `shape`",
        ));
    };
    let Literal::Bool(fortran) = fortran else {
        return Err(header_error(at, "`fortran_order` is not a bool"));
    };
    let shape = dims(shape, false)
        .ok_or_else(|| header_error(at, "`shape` is not a tuple of non-negative integers"))?;
    let descr = parse_descr(descr, 0).map_err(|reason| header_error(at, reason))?;
    Ok((descr, *fortran, shape))
}

/// A shape: a tuple of non-negative ints, as `numpy.load` requires of `shape`. Sub-array
/// shapes in a structured dtype may also be a bare int (`allow_int`), as `numpy.dtype` accepts.
fn dims(value: &Literal, allow_int: bool) -> Option<Vec<u64>> {
    let items = match value {
        Literal::Tuple(items) => items,
        Literal::Int(n) if allow_int => return u64::try_from(*n).ok().map(|n| vec![n]),
        _ => return None,
    };
    items
        .iter()
        .map(|d| match d {
            Literal::Int(n) => u64::try_from(*n).ok(),
            _ => None,
        })
        .collect()
}

const MAX_DESCR_DEPTH: u32 = 32;

fn parse_descr(value: &Literal, depth: u32) -> Result<Descr, String> {
    if depth > MAX_DESCR_DEPTH {
        return Err("structured dtype nested too deeply".to_owned());
    }
    match value {
        Literal::Str(s) => parse_scalar(s).map(Descr::Scalar),
        Literal::List(fields) => fields
            .iter()
            .map(|f| parse_field(f, depth))
            .collect::<Result<Vec<_>, _>>()
            .map(Descr::Structured),
        other => Err(format!(
            "`descr` is neither a type string nor a field list: {other:?}"
        )),
    }
}

fn parse_field(value: &Literal, depth: u32) -> Result<Field, String> {
    let Literal::Tuple(parts) = value else {
        return Err("a structured field is not a tuple".to_owned());
    };
    let name = match parts.first() {
        Some(Literal::Str(n)) => n.clone(),
        Some(Literal::Tuple(pair)) => match pair.get(1) {
            Some(Literal::Str(n)) => n.clone(),
            _ => return Err("a field's (title, name) pair has no name".to_owned()),
        },
        _ => return Err("a structured field has no name".to_owned()),
    };
    let descr = parse_descr(
        parts.get(1).ok_or("a structured field has no type")?,
        depth + 1,
    )?;
    let shape = match parts.get(2) {
        None => Vec::new(),
        Some(s) => dims(s, true).ok_or("a field's sub-array shape is invalid")?,
    };
    if parts.len() > 3 {
        return Err("a structured field has more than three parts".to_owned());
    }
    Ok(Field { name, descr, shape })
}

/// `[<>|=]?kind[digits][\[unit\]]`.
fn parse_scalar(text: &str) -> Result<Scalar, String> {
    let bad = || format!("unknown type string `{text}`");
    let body = text.strip_prefix(['<', '>', '|', '=']).unwrap_or(text);
    let mut chars = body.chars();
    let kind = chars.next().ok_or_else(bad)?;
    let rest = chars.as_str();
    let (digits, unit) = match rest.find('[') {
        Some(i) => (
            rest.get(..i).unwrap_or_default(),
            rest.get(i..).unwrap_or_default(),
        ),
        None => (rest, ""),
    };
    let unit_ok = unit.is_empty() || (matches!(kind, 'M' | 'm') && unit.ends_with(']'));
    if !unit_ok {
        return Err(bad());
    }
    let size: Option<u64> = if digits.is_empty() {
        None
    } else {
        Some(digits.parse().map_err(|_| bad())?)
    };
    let itemsize = match (kind, size) {
        ('O', None | Some(4 | 8)) | ('M' | 'm', Some(8)) => 8,
        ('?', None) => 1,
        ('b' | 'i' | 'u', Some(n @ (1 | 2 | 4 | 8)))
        | ('f', Some(n @ (2 | 4 | 8 | 12 | 16)))
        | ('c', Some(n @ (8 | 16 | 24 | 32)))
        | ('S' | 'a' | 'V', Some(n)) => n,
        ('U', Some(n)) => n.checked_mul(4).ok_or_else(bad)?,
        _ => return Err(bad()),
    };
    Ok(Scalar {
        text: text.to_owned(),
        kind,
        itemsize,
    })
}

/// A recursive-descent parser for the Python literals in `.npy` headers.
struct Parser<'t> {
    text: &'t str,
    pos: usize,
    base: u64,
    max_depth: u32,
}

impl Parser<'_> {
    fn err(&self, reason: impl Into<String>) -> NpyError {
        header_error(self.base + self.pos as u64, reason)
    }

    fn rest(&self) -> &str {
        self.text.get(self.pos..).unwrap_or_default()
    }

    fn skip_ws(&mut self) {
        let rest = self.rest();
        self.pos += rest.len() - rest.trim_start().len();
    }

    fn eat(&mut self, c: char) -> bool {
        self.skip_ws();
        if self.rest().starts_with(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    fn parse_document(&mut self) -> Result<Literal, NpyError> {
        let value = self.value(0)?;
        self.skip_ws();
        if !self.rest().is_empty() {
            return Err(self.err("unexpected text after the header dict"));
        }
        Ok(value)
    }

    fn value(&mut self, depth: u32) -> Result<Literal, NpyError> {
        if depth > self.max_depth {
            return Err(self.err("header nested too deeply"));
        }
        self.skip_ws();
        let rest = self.rest();
        let Some(first) = rest.chars().next() else {
            return Err(self.err("header ends where a value was expected"));
        };
        match first {
            '{' => {
                self.pos += 1;
                let mut items = Vec::new();
                while !self.eat('}') {
                    let key = self.value(depth + 1)?;
                    if !self.eat(':') {
                        return Err(self.err("expected `:` in dict"));
                    }
                    let value = self.value(depth + 1)?;
                    items.push((key, value));
                    if !self.eat(',') {
                        if self.eat('}') {
                            break;
                        }
                        return Err(self.err("expected `,` or `}` in dict"));
                    }
                }
                Ok(Literal::Dict(items))
            }
            '(' | '[' => {
                let close = if first == '(' { ')' } else { ']' };
                self.pos += 1;
                let mut items = Vec::new();
                let mut trailing_comma = false;
                while !self.eat(close) {
                    items.push(self.value(depth + 1)?);
                    trailing_comma = self.eat(',');
                    if !trailing_comma {
                        if self.eat(close) {
                            break;
                        }
                        return Err(self.err(format!("expected `,` or `{close}`")));
                    }
                }
                if first == '(' {
                    // `(x)` is just x in Python; `(x,)` is a tuple.
                    if items.len() == 1 && !trailing_comma {
                        return Ok(items.pop().unwrap_or(Literal::None));
                    }
                    Ok(Literal::Tuple(items))
                } else {
                    Ok(Literal::List(items))
                }
            }
            '\'' | '"' => self.string(first),
            c if c.is_ascii_digit() || c == '-' || c == '+' => {
                let len = rest
                    .char_indices()
                    .skip(1)
                    .find(|(_, c)| !c.is_ascii_digit())
                    .map_or(rest.len(), |(i, _)| i);
                let digits = rest.get(..len).unwrap_or_default();
                let n: i128 = digits
                    .parse()
                    .map_err(|_| self.err(format!("bad integer `{digits}`")))?;
                self.pos += len;
                if self.rest().starts_with(['L', 'l']) {
                    self.pos += 1;
                }
                Ok(Literal::Int(n))
            }
            _ => {
                for (word, lit) in [
                    ("True", Literal::Bool(true)),
                    ("False", Literal::Bool(false)),
                    ("None", Literal::None),
                ] {
                    if rest.starts_with(word)
                        && !rest
                            .get(word.len()..)
                            .and_then(|r| r.chars().next())
                            .is_some_and(|c| c.is_alphanumeric() || c == '_')
                    {
                        self.pos += word.len();
                        return Ok(lit);
                    }
                }
                Err(self.err(format!("unexpected character `{}`", first.escape_default())))
            }
        }
    }

    fn string(&mut self, quote: char) -> Result<Literal, NpyError> {
        // Optional u/b prefixes are not produced by numpy; plain quotes only.
        self.pos += 1;
        let mut out = String::new();
        let mut chars = self.rest().char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                c if c == quote => {
                    self.pos += i + 1;
                    return Ok(Literal::Str(out));
                }
                '\\' => match chars.next() {
                    Some((_, e)) => out.push(match e {
                        'n' => '\n',
                        't' => '\t',
                        'r' => '\r',
                        '0' => '\0',
                        other => other,
                    }),
                    None => break,
                },
                '\n' => break,
                c => out.push(c),
            }
        }
        Err(self.err("unterminated string"))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// A `.npy` file with the given header text and data.
    pub(crate) fn npy(version: u8, dict: &str, data: &[u8]) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&[version, 0]);
        let mut header = dict.to_owned();
        let pre = if version == 1 { 10 } else { 12 };
        while !(pre + header.len() + 1).is_multiple_of(64) {
            header.push(' ');
        }
        header.push('\n');
        if version == 1 {
            out.extend_from_slice(&(header.len() as u16).to_le_bytes());
        } else {
            out.extend_from_slice(&(header.len() as u32).to_le_bytes());
        }
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(data);
        out
    }

    fn parse(bytes: &[u8]) -> Result<NpyHeader, NpyError> {
        parse_header(&bytes, &Limits::default())
    }

    #[test]
    fn simple_arrays_every_version() {
        for v in [1, 2, 3] {
            let f = npy(
                v,
                "{'descr': '<f8', 'fortran_order': True, 'shape': (3,), }",
                &[0; 24],
            );
            let h = parse(&f).unwrap();
            assert_eq!(h.version, (v, 0));
            assert!(h.fortran_order);
            assert_eq!(h.shape, vec![3]);
            assert_eq!(h.data_len().unwrap(), Some(24));
            assert_eq!(h.data_offset + 24, f.len() as u64);
        }
        let scalar = npy(
            1,
            "{'descr': '|b1', 'fortran_order': False, 'shape': (), }",
            &[1],
        );
        assert_eq!(parse(&scalar).unwrap().data_len().unwrap(), Some(1));
        let text = npy(
            1,
            "{'descr': '<U3', 'fortran_order': False, 'shape': (2,), }",
            &[],
        );
        assert_eq!(parse(&text).unwrap().data_len().unwrap(), Some(24));
        let dt = npy(
            1,
            "{'descr': '<M8[ns]', 'fortran_order': False, 'shape': (1,), }",
            &[],
        );
        assert_eq!(parse(&dt).unwrap().data_len().unwrap(), Some(8));
    }

    #[test]
    fn object_and_structured_dtypes() {
        let obj = npy(
            1,
            "{'descr': '|O', 'fortran_order': False, 'shape': (2,), }",
            b"\x80\x02",
        );
        let h = parse(&obj).unwrap();
        assert!(h.descr.has_object());
        assert_eq!(h.data_len().unwrap(), None);
        let structured = npy(
            1,
            "{'descr': [('x', '<i4'), (('title', 'y'), '<f8', (2, 2)), ('z', [('a', '|O')])], 'fortran_order': False, 'shape': (1,), }",
            &[],
        );
        let h = parse(&structured).unwrap();
        assert!(h.descr.has_object());
        let Descr::Structured(fields) = &h.descr else {
            panic!()
        };
        assert_eq!(fields[1].name, "y");
        assert_eq!(fields[1].shape, vec![2, 2]);
        let plain = npy(
            1,
            "{'descr': [('x', '<i4'), ('y', '<f8', (2,))], 'fortran_order': False, 'shape': (3,), }",
            &[],
        );
        assert_eq!(parse(&plain).unwrap().data_len().unwrap(), Some(3 * 20));
    }

    #[test]
    fn malformed_headers() {
        let cases = [
            "{'descr': '<f4', 'fortran_order': False}",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'evil': 1}",
            "{'descr': '<q9', 'fortran_order': False, 'shape': (1,)}",
            "{'descr': '<f4', 'fortran_order': 0, 'shape': (1,)}",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}",
            "{'descr': '<f4', 'fortran_order': False, 'shape': 3}",
            "{'descr': '<f4', 'fortran_order': False, 'shape': [3]}",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1,)",
            "{'descr': __import__('os').system('x'), 'fortran_order': False, 'shape': (1,)}",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1,)} trailing",
            "{'descr': 'unterminated, 'fortran_order': False, 'shape': (1,)}",
        ];
        for dict in cases {
            let err = parse(&npy(1, dict, &[])).unwrap_err();
            assert!(matches!(err, NpyError::Header { .. }), "{dict}: {err:?}");
            assert!(err.offset() >= 10, "{dict}");
        }
        assert_eq!(
            parse(b"\x93NUMPX\x01\x00").unwrap_err(),
            NpyError::BadMagic { offset: 0 }
        );
        assert!(matches!(
            parse(b"\x93NUMPY\x04\x00\x10\x00").unwrap_err(),
            NpyError::UnsupportedVersion { major: 4, .. }
        ));
        assert!(matches!(
            parse(b"\x93NUMPY\x02\x00\xff\xff\xff\xff{").unwrap_err(),
            NpyError::HeaderTooLong { .. }
        ));
        assert!(matches!(
            parse(b"\x93NUMPY\x01").unwrap_err(),
            NpyError::Truncated { .. }
        ));
        let huge = npy(
            1,
            "{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4294967296), }",
            &[],
        );
        assert!(parse(&huge).unwrap().data_len().is_err());
        let deep = format!("{}{}", "[".repeat(500), "]".repeat(500));
        assert!(parse(&npy(1, &deep, &[])).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn never_panics(tail in proptest::collection::vec(any::<u8>(), 0..300), version in 0u8..5) {
            let mut bytes = MAGIC.to_vec();
            bytes.extend_from_slice(&[version, 0]);
            bytes.extend_from_slice(&tail);
            if let Ok(h) = parse(&bytes) {
                let _ = h.data_len();
            }
        }

        #[test]
        fn never_panics_on_dict_like_text(text in "[{}()\\[\\]'\",: a-z0-9<|OfTrueFalse]{0,120}") {
            if let Ok(h) = parse(&npy(1, &text, &[])) {
                let _ = h.data_len();
            }
        }
    }
}
