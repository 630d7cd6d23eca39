//! Decoding one opcode and its argument at a time, with protocol 0's text-argument quirks
//! (`S'...'` escapes, `I01`/`I00` booleans, `L` longs, `V` raw-unicode-escape), and the
//! [`Disassembler`] that lists `(offset, opcode, argument)` for `pickletools.dis`-style output.

use std::fmt::{self, Write as _};
use std::io::Read;

use modelgate_core::Limits;

use super::input::{Input, InputError, Source, Streaming};
use super::opcodes::{ArgKind, Opcode};
use super::{ErrorKind, PickleError};

/// How many bytes of a skipped value are kept for display.
pub(crate) const PREVIEW: usize = 64;
/// How many leading bytes decide whether a value might itself be a pickle.
const PROBE: usize = 64;

/// An integer too wide for `i64` (`LONG`, `LONG1`, `LONG4`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LongValue {
    /// The value, when it fits in 128 bits.
    pub value: Option<i128>,
    /// How many bytes (binary) or digits (text) encoded it.
    pub width: u64,
}

/// A string or bytes value: its full length and the bytes kept (all of them, or a prefix).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    /// Declared length in bytes.
    pub len: u64,
    /// The bytes kept; equal to the value when `data.len() as u64 == len`.
    pub data: Vec<u8>,
}

impl Blob {
    /// True when every byte of the value was kept.
    pub fn complete(&self) -> bool {
        self.data.len() as u64 == self.len
    }
}

/// A decoded opcode argument.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    /// The opcode takes no argument.
    None,
    /// An integer (`INT`, `BININT*`, `LONG*` when it fits).
    Int(i64),
    /// `I01\n` / `I00\n`.
    Bool(bool),
    /// An integer that does not fit in `i64` (boxed: rare, and it would double the size of
    /// every decoded opcode).
    Long(Box<LongValue>),
    /// A float.
    Float(f64),
    /// Text (`UNICODE`, `BINUNICODE*`), decoded; possibly only a prefix (see `Blob`).
    Text(Blob),
    /// Bytes: Python 2 `str` (`STRING`, `BINSTRING`, `SHORT_BINSTRING`).
    Str8(Blob),
    /// Bytes (`BINBYTES*`, `BYTEARRAY8`).
    Bytes(Blob),
    /// Module and name (`GLOBAL`, `INST`), boxed to keep [`Arg`] small.
    Pair(Box<(String, String)>),
    /// A persistent id string (`PERSID`).
    PersId(String),
    /// A memo index (`GET`, `PUT` and their binary forms).
    Memo(u64),
    /// The protocol number (`PROTO`).
    Proto(u8),
    /// The frame length (`FRAME`).
    Frame(u64),
    /// An extension code (`EXT1/2/4`).
    Ext(i64),
}

impl fmt::Display for Arg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Arg::None => Ok(()),
            Arg::Int(v) | Arg::Ext(v) => write!(f, "{v}"),
            Arg::Bool(v) => f.write_str(if *v { "True" } else { "False" }),
            Arg::Long(l) => match l.value {
                Some(v) => write!(f, "{v}"),
                None => write!(f, "<{}-byte integer>", l.width),
            },
            Arg::Float(v) => write!(f, "{v:?}"),
            Arg::Text(b) => write_blob(f, b, ""),
            Arg::Str8(b) | Arg::Bytes(b) => write_blob(f, b, "b"),
            Arg::Pair(p) => write!(f, "{} {}", quote(&p.0), quote(&p.1)),
            Arg::PersId(p) => f.write_str(&quote(p)),
            Arg::Memo(i) => write!(f, "{i}"),
            Arg::Proto(p) => write!(f, "{p}"),
            Arg::Frame(n) => write!(f, "{n}"),
        }
    }
}

fn write_blob(f: &mut fmt::Formatter<'_>, b: &Blob, prefix: &str) -> fmt::Result {
    let shown = &b.data[..b.data.len().min(PREVIEW)];
    let body = if prefix.is_empty() {
        quote(&String::from_utf8_lossy(shown))
    } else {
        quote_bytes(shown)
    };
    write!(f, "{prefix}{body}")?;
    if (shown.len() as u64) < b.len {
        write!(f, "… ({} bytes)", b.len)?;
    }
    Ok(())
}

/// A Python-like single-quoted repr with every control and non-ASCII character escaped, so that
/// listings cannot rewrite a terminal.
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for ch in s.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_ascii_graphic() || c == ' ' => out.push(c),
            c if (c as u32) < 0x100 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if (c as u32) < 0x10000 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => {
                let _ = write!(out, "\\U{:08x}", c as u32);
            }
        }
    }
    out.push('\'');
    out
}

pub(crate) fn quote_bytes(b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len() + 2);
    out.push('\'');
    for &c in b {
        match c {
            b'\\' => out.push_str("\\\\"),
            b'\'' => out.push_str("\\'"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            c if c.is_ascii_graphic() || c == b' ' => out.push(c as char),
            c => {
                let _ = write!(out, "\\x{c:02x}");
            }
        }
    }
    out.push('\'');
    out
}

/// Decodes opcodes from a buffered input; shared by the disassembler and the stack machine.
pub(crate) struct Decoder<R> {
    pub(crate) input: Input<R>,
    line: Vec<u8>,
    line2: Vec<u8>,
    value_cap: usize,
    /// Absolute end of the current frame, if one is open.
    frame_end: Option<u64>,
}

fn input_err(offset: u64, e: InputError, what: &str) -> PickleError {
    match e {
        InputError::Eof => PickleError::new(
            offset,
            ErrorKind::Truncated(format!("the stream ends inside {what}")),
        ),
        InputError::Budget => PickleError::new(offset, ErrorKind::TooLarge),
        InputError::Io(e) => PickleError::new(offset, ErrorKind::Io(e.to_string())),
    }
}

impl<R: Source> Decoder<R> {
    pub(crate) fn new(reader: R, limits: &Limits) -> Self {
        Self::with_buffer(reader, limits, usize::MAX)
    }

    /// A decoder whose read buffer is at most `buffer` bytes (see [`Input::with_buffer`]).
    pub(crate) fn with_buffer(reader: R, limits: &Limits, buffer: usize) -> Self {
        Decoder {
            input: Input::with_buffer(reader, limits.max_pickle_bytes, buffer),
            line: Vec::new(),
            line2: Vec::new(),
            value_cap: limits.max_pickle_value_bytes.max(PROBE),
            frame_end: None,
        }
    }

    pub(crate) fn offset(&self) -> u64 {
        self.input.offset()
    }

    /// True while inside a frame that has bytes left.
    pub(crate) fn frame_open(&self) -> bool {
        self.frame_end.is_some_and(|end| end > self.input.offset())
    }

    /// Forgets the current frame (a new pickle starts, or joblib raw data follows a frame).
    pub(crate) fn end_frame(&mut self) {
        self.frame_end = None;
    }

    /// The next opcode, `Ok(None)` at a clean end of stream.
    pub(crate) fn next(&mut self) -> Result<Option<(u64, Opcode, Arg)>, PickleError> {
        let at = self.input.offset();
        let byte = match self.input.byte() {
            Ok(b) => b,
            Err(InputError::Eof) => return Ok(None),
            Err(e) => return Err(input_err(at, e, "an opcode")),
        };
        let op = Opcode::from_byte(byte)
            .ok_or_else(|| PickleError::new(at, ErrorKind::UnknownOpcode(byte)))?;
        let arg = self.arg(at, op)?;
        if let Some(end) = self.frame_end {
            if self.input.offset() > end {
                return Err(PickleError::new(
                    at,
                    ErrorKind::BadArgument(format!(
                        "{} crosses the end of the frame at offset {end}",
                        op.name()
                    )),
                ));
            }
            if self.input.offset() == end {
                self.frame_end = None;
            }
        }
        if let Arg::Frame(len) = arg {
            if self.frame_end.is_some() {
                return Err(PickleError::new(
                    at,
                    ErrorKind::BadArgument("a new frame starts before the current one ends".into()),
                ));
            }
            if len > 0 {
                self.frame_end = Some(self.input.offset().saturating_add(len));
            }
        }
        Ok(Some((at, op, arg)))
    }

    fn bad(at: u64, op: Opcode, why: impl fmt::Display) -> PickleError {
        PickleError::new(at, ErrorKind::BadArgument(format!("{}: {why}", op.name())))
    }

    fn arg(&mut self, at: u64, op: Opcode) -> Result<Arg, PickleError> {
        let what = op.name();
        let e = |e| input_err(at, e, what);
        Ok(match op.arg_kind() {
            ArgKind::None => Arg::None,
            ArgKind::U1 => {
                let b = self.input.byte().map_err(e)?;
                match op {
                    Opcode::Proto => Arg::Proto(b),
                    Opcode::Ext1 => Arg::Ext(i64::from(b)),
                    Opcode::BinGet | Opcode::BinPut => Arg::Memo(u64::from(b)),
                    _ => Arg::Int(i64::from(b)),
                }
            }
            ArgKind::U2 => {
                let v = i64::from(u16::from_le_bytes(self.input.array().map_err(e)?));
                if op == Opcode::Ext2 {
                    Arg::Ext(v)
                } else {
                    Arg::Int(v)
                }
            }
            ArgKind::I4 => {
                let v = i64::from(i32::from_le_bytes(self.input.array().map_err(e)?));
                if op == Opcode::Ext4 {
                    Arg::Ext(v)
                } else {
                    Arg::Int(v)
                }
            }
            ArgKind::U4 => Arg::Memo(u64::from(u32::from_le_bytes(
                self.input.array().map_err(e)?,
            ))),
            ArgKind::U8 => Arg::Frame(u64::from_le_bytes(self.input.array().map_err(e)?)),
            ArgKind::F8 => Arg::Float(f64::from_be_bytes(self.input.array().map_err(e)?)),
            ArgKind::DecimalNl => {
                self.read_line(at, op)?;
                let text = String::from_utf8_lossy(&self.line);
                let t = text.trim();
                if op == Opcode::Int {
                    if self.line.as_slice() == b"01" {
                        return Ok(Arg::Bool(true));
                    }
                    if self.line.as_slice() == b"00" {
                        return Ok(Arg::Bool(false));
                    }
                    match parse_int_text(t) {
                        Some(v) => match i64::try_from(v) {
                            Ok(v) => Arg::Int(v),
                            Err(_) => Arg::Long(Box::new(LongValue {
                                value: Some(v),
                                width: t.len() as u64,
                            })),
                        },
                        None if is_decimal(t) => Arg::Long(Box::new(LongValue {
                            value: None,
                            width: t.len() as u64,
                        })),
                        None => {
                            return Err(Self::bad(at, op, format!("not an integer: {}", quote(t))));
                        }
                    }
                } else {
                    match t.parse::<u64>() {
                        Ok(v) => Arg::Memo(v),
                        Err(_) => {
                            return Err(Self::bad(
                                at,
                                op,
                                format!("not a memo index: {}", quote(t)),
                            ));
                        }
                    }
                }
            }
            ArgKind::LongNl => {
                self.read_line(at, op)?;
                let text = String::from_utf8_lossy(&self.line);
                let t = text.trim();
                let t = t.strip_suffix('L').unwrap_or(t);
                match parse_int_text(t) {
                    Some(v) => match i64::try_from(v) {
                        Ok(v) => Arg::Int(v),
                        Err(_) => Arg::Long(Box::new(LongValue {
                            value: Some(v),
                            width: t.len() as u64,
                        })),
                    },
                    None if is_decimal(t) => Arg::Long(Box::new(LongValue {
                        value: None,
                        width: t.len() as u64,
                    })),
                    None => return Err(Self::bad(at, op, format!("not an integer: {}", quote(t)))),
                }
            }
            ArgKind::FloatNl => {
                self.read_line(at, op)?;
                let text = String::from_utf8_lossy(&self.line);
                match text.trim().parse::<f64>() {
                    Ok(v) => Arg::Float(v),
                    Err(_) => {
                        return Err(Self::bad(
                            at,
                            op,
                            format!("not a float: {}", quote(text.trim())),
                        ));
                    }
                }
            }
            ArgKind::StringNl => {
                self.read_line(at, op)?;
                let line = &self.line;
                let quoted = line.len() >= 2
                    && line.first() == line.last()
                    && matches!(line.first(), Some(b'\'' | b'"'));
                if !quoted {
                    return Err(Self::bad(at, op, "the argument must be quoted"));
                }
                let inner = &line[1..line.len() - 1];
                let data = escape_decode(inner).map_err(|why| Self::bad(at, op, why))?;
                Arg::Str8(Blob {
                    len: data.len() as u64,
                    data,
                })
            }
            ArgKind::UnicodeNl => {
                self.read_line(at, op)?;
                let text =
                    raw_unicode_escape_decode(&self.line).map_err(|why| Self::bad(at, op, why))?;
                Arg::Text(Blob {
                    len: text.len() as u64,
                    data: text.into_bytes(),
                })
            }
            ArgKind::StringNlNoEscape => {
                self.read_line(at, op)?;
                if !self.line.is_ascii() {
                    return Err(Self::bad(at, op, "persistent id must be ASCII"));
                }
                Arg::PersId(String::from_utf8_lossy(&self.line).into_owned())
            }
            ArgKind::StringNlPair => {
                self.read_line(at, op)?;
                std::mem::swap(&mut self.line, &mut self.line2);
                self.read_line(at, op)?;
                let module = std::str::from_utf8(&self.line2)
                    .map_err(|_| Self::bad(at, op, "module name is not UTF-8"))?;
                let name = std::str::from_utf8(&self.line)
                    .map_err(|_| Self::bad(at, op, "name is not UTF-8"))?;
                Arg::Pair(Box::new((module.to_owned(), name.to_owned())))
            }
            ArgKind::Long1 => {
                let n = u64::from(self.input.byte().map_err(e)?);
                self.long_bytes(at, op, n)?
            }
            ArgKind::Long4 => {
                let n = i32::from_le_bytes(self.input.array().map_err(e)?);
                let n = u64::try_from(n).map_err(|_| Self::bad(at, op, "negative byte count"))?;
                self.long_bytes(at, op, n)?
            }
            ArgKind::Bytes1 | ArgKind::Utf8_1 => {
                let n = u64::from(self.input.byte().map_err(e)?);
                self.blob_arg(at, op, n)?
            }
            ArgKind::BytesI4 => {
                let n = i32::from_le_bytes(self.input.array().map_err(e)?);
                let n = u64::try_from(n).map_err(|_| Self::bad(at, op, "negative byte count"))?;
                self.blob_arg(at, op, n)?
            }
            ArgKind::Bytes4 | ArgKind::Utf8_4 => {
                let n = u64::from(u32::from_le_bytes(self.input.array().map_err(e)?));
                self.blob_arg(at, op, n)?
            }
            ArgKind::Bytes8 | ArgKind::Utf8_8 => {
                let n = u64::from_le_bytes(self.input.array().map_err(e)?);
                if n > i64::MAX as u64 {
                    return Err(Self::bad(at, op, "length exceeds sys.maxsize"));
                }
                self.blob_arg(at, op, n)?
            }
        })
    }

    fn read_line(&mut self, at: u64, op: Opcode) -> Result<(), PickleError> {
        let ok = self
            .input
            .line(&mut self.line, self.value_cap)
            .map_err(|e| input_err(at, e, op.name()))?;
        if ok {
            Ok(())
        } else {
            Err(PickleError::new(
                at,
                ErrorKind::BadArgument(format!(
                    "{}: text argument longer than {} bytes",
                    op.name(),
                    self.value_cap
                )),
            ))
        }
    }

    fn long_bytes(&mut self, at: u64, op: Opcode, n: u64) -> Result<Arg, PickleError> {
        let mut data = Vec::new();
        self.input
            .payload(n, 16, &mut data)
            .map_err(|e| input_err(at, e, op.name()))?;
        if n == 0 {
            return Ok(Arg::Int(0));
        }
        if n > 16 {
            return Ok(Arg::Long(Box::new(LongValue {
                value: None,
                width: n,
            })));
        }
        let negative = data.last().is_some_and(|b| b & 0x80 != 0);
        let mut raw = [if negative { 0xff } else { 0 }; 16];
        raw[..data.len()].copy_from_slice(&data);
        let v = i128::from_le_bytes(raw);
        Ok(match i64::try_from(v) {
            Ok(v) => Arg::Int(v),
            Err(_) => Arg::Long(Box::new(LongValue {
                value: Some(v),
                width: n,
            })),
        })
    }

    /// Reads a length-prefixed value, keeping it whole only when it is short or might be a
    /// pickle (up to `max_pickle_value_bytes`); otherwise keeping a preview.
    fn blob_arg(&mut self, at: u64, op: Opcode, n: u64) -> Result<Arg, PickleError> {
        let mut data = Vec::new();
        let first = n.min(PROBE as u64);
        let e = |e| input_err(at, e, op.name());
        self.input.payload(first, PROBE, &mut data).map_err(e)?;
        let rest = n - first;
        if rest > 0 {
            let keep = if super::sniff(&data) && n <= self.value_cap as u64 {
                self.value_cap
            } else {
                PREVIEW
            };
            let mut more = Vec::new();
            self.input
                .payload(rest, keep.saturating_sub(data.len()), &mut more)
                .map_err(e)?;
            data.extend_from_slice(&more);
            if keep == PREVIEW {
                data.truncate(PREVIEW);
            }
        }
        let blob = Blob { len: n, data };
        Ok(match op.arg_kind() {
            ArgKind::Utf8_1 | ArgKind::Utf8_4 | ArgKind::Utf8_8 => Arg::Text(blob),
            _ if matches!(op, Opcode::BinString | Opcode::ShortBinString) => Arg::Str8(blob),
            _ => Arg::Bytes(blob),
        })
    }
}

fn is_decimal(t: &str) -> bool {
    let d = t.strip_prefix(['-', '+']).unwrap_or(t);
    !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit() || b == b'_')
}

/// Python `int(text, 0)`-like parsing, for values that fit in `i128`.
fn parse_int_text(t: &str) -> Option<i128> {
    let (neg, d) = match t.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let lower = d.to_ascii_lowercase();
    let (radix, digits) = if let Some(h) = lower.strip_prefix("0x") {
        (16, h.to_owned())
    } else if let Some(o) = lower.strip_prefix("0o") {
        (8, o.to_owned())
    } else if let Some(b) = lower.strip_prefix("0b") {
        (2, b.to_owned())
    } else {
        (10, lower)
    };
    let digits: String = digits.chars().filter(|c| *c != '_').collect();
    if digits.is_empty() {
        return None;
    }
    let v = i128::from_str_radix(&digits, radix).ok()?;
    Some(if neg { -v } else { v })
}

/// Python's `codecs.escape_decode`, as the `STRING` opcode applies it.
#[allow(clippy::many_single_char_names)]
pub(crate) fn escape_decode(s: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while let Some(&c) = s.get(i) {
        i += 1;
        if c != b'\\' {
            out.push(c);
            continue;
        }
        let Some(&n) = s.get(i) else {
            return Err("trailing backslash in string".into());
        };
        i += 1;
        match n {
            b'\n' => {}
            b'\\' => out.push(b'\\'),
            b'\'' => out.push(b'\''),
            b'"' => out.push(b'"'),
            b'a' => out.push(7),
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'v' => out.push(11),
            b'0'..=b'7' => {
                let mut v = u32::from(n - b'0');
                for _ in 0..2 {
                    match s.get(i) {
                        Some(&d @ b'0'..=b'7') => {
                            v = v * 8 + u32::from(d - b'0');
                            i += 1;
                        }
                        _ => break,
                    }
                }
                out.push((v & 0xff) as u8);
            }
            b'x' => {
                let hex = s.get(i..i + 2).ok_or("truncated \\xXX escape")?;
                let text = std::str::from_utf8(hex).map_err(|_| "invalid \\x escape")?;
                let v = u8::from_str_radix(text, 16).map_err(|_| "invalid \\x escape")?;
                out.push(v);
                i += 2;
            }
            other => {
                out.push(b'\\');
                out.push(other);
            }
        }
    }
    Ok(out)
}

/// Python's `raw-unicode-escape` decoding, as the `UNICODE` opcode applies it.
pub(crate) fn raw_unicode_escape_decode(s: &[u8]) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while let Some(&c) = s.get(i) {
        if c != b'\\' {
            out.push(char::from(c));
            i += 1;
            continue;
        }
        // A run of backslashes: only an odd-length run escapes a following `u`/`U`.
        let run = s[i..].iter().take_while(|&&b| b == b'\\').count();
        let next = s.get(i + run).copied();
        let escapes = run % 2 == 1 && matches!(next, Some(b'u' | b'U'));
        let literal = if escapes { run - 1 } else { run };
        for _ in 0..literal {
            out.push('\\');
        }
        i += run;
        if escapes {
            let width = if next == Some(b'u') { 4 } else { 8 };
            let hex = s
                .get(i + 1..i + 1 + width)
                .ok_or("truncated \\uXXXX escape")?;
            let text = std::str::from_utf8(hex).map_err(|_| "truncated \\uXXXX escape")?;
            let v = u32::from_str_radix(text, 16).map_err(|_| "truncated \\uXXXX escape")?;
            if v > 0x10_ffff {
                return Err("\\Uxxxxxxxx out of range".into());
            }
            out.push(char::from_u32(v).unwrap_or('\u{fffd}'));
            i += 1 + width;
        }
    }
    Ok(out)
}

/// Lists the opcodes of a pickle stream: `(offset, opcode, argument)` until `STOP` of the last
/// pickle, the end of the stream, or the first error (yielded once, then the iteration ends).
/// Concatenated pickles are listed one after the other.
pub struct Disassembler<R> {
    decoder: Decoder<Streaming<R>>,
    ops_left: u64,
    done: bool,
}

impl<R: Read> Disassembler<R> {
    /// A disassembler over `reader`, bounded by `limits` (bytes, ops, value sizes).
    pub fn new(reader: R, limits: &Limits) -> Self {
        Disassembler {
            decoder: Decoder::new(Streaming(reader), limits),
            ops_left: limits.max_pickle_ops,
            done: false,
        }
    }
}

impl<R: Read> Iterator for Disassembler<R> {
    type Item = Result<(u64, Opcode, Arg), PickleError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if self.ops_left == 0 {
            self.done = true;
            return Some(Err(PickleError::new(
                self.decoder.offset(),
                ErrorKind::Limit("opcode count".into()),
            )));
        }
        self.ops_left -= 1;
        match self.decoder.next() {
            Ok(Some(item)) => {
                if item.1 == Opcode::Stop {
                    self.decoder.end_frame();
                }
                Some(Ok(item))
            }
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ops(bytes: &[u8]) -> Vec<(u64, Opcode, Arg)> {
        Disassembler::new(bytes, &Limits::default())
            .map(|r| r.unwrap())
            .collect()
    }

    #[test]
    fn protocol0_text_arguments() {
        // python3 -c "import pickle; print(pickle.dumps([True, 2**70, 1.5, 'é\\\\u', b'x'], protocol=0))"
        // plus hand-written S'...' escapes.
        let got = ops(b"I01\nI00\nL1180591620717411303424L\nF1.5\nS'a\\'b\\x41\\101\\n'\nVx\\u00e9\\\\u\nI-7\n.");
        assert_eq!(got[0].2, Arg::Bool(true));
        assert_eq!(got[1].2, Arg::Bool(false));
        assert_eq!(
            got[2].2,
            Arg::Long(Box::new(LongValue {
                value: Some(1i128 << 70),
                width: 22
            }))
        );
        assert_eq!(got[3].2, Arg::Float(1.5));
        assert_eq!(
            got[4].2,
            Arg::Str8(Blob {
                len: 6,
                data: b"a'bAA\n".to_vec()
            })
        );
        assert_eq!(
            got[5].2,
            Arg::Text(Blob {
                len: 6,
                data: "x\u{e9}\\\\u".as_bytes().to_vec()
            })
        );
        assert_eq!(got[6].2, Arg::Int(-7));
        assert_eq!(got[7].1, Opcode::Stop);
    }

    #[test]
    fn escapes() {
        assert_eq!(escape_decode(b"a\\'b\\x41\\101\\n").unwrap(), b"a'bAA\n");
        assert_eq!(escape_decode(b"\\q").unwrap(), b"\\q");
        assert!(escape_decode(b"\\x4").is_err());
        assert!(escape_decode(b"x\\").is_err());
        assert_eq!(raw_unicode_escape_decode(b"x\\u00e9").unwrap(), "xé");
        assert_eq!(
            raw_unicode_escape_decode(b"\\\\u0041").unwrap(),
            "\\\\u0041"
        );
        assert_eq!(raw_unicode_escape_decode(b"\\\\\\u0041").unwrap(), "\\\\A");
        assert_eq!(raw_unicode_escape_decode(b"\xe9").unwrap(), "é");
        assert!(raw_unicode_escape_decode(b"\\u00").is_err());
        assert!(raw_unicode_escape_decode(b"\\U00110000").is_err());
    }

    #[test]
    fn binary_lengths_are_not_trusted() {
        // BINBYTES8 declaring 2**62 bytes, followed by 3 bytes: truncated, nothing allocated.
        let mut bytes = vec![0x8e];
        bytes.extend_from_slice(&(1u64 << 62).to_le_bytes());
        bytes.extend_from_slice(b"abc");
        let mut d = Disassembler::new(bytes.as_slice(), &Limits::default());
        let err = d.next().unwrap().unwrap_err();
        assert!(
            matches!(err.kind, ErrorKind::TooLarge | ErrorKind::Truncated(_)),
            "{err}"
        );
        // BINSTRING with a negative length.
        let mut d = Disassembler::new(&b"T\xff\xff\xff\xff"[..], &Limits::default());
        assert!(d.next().unwrap().is_err());
    }

    #[test]
    fn long1_and_frames() {
        // LONG1 of torch's legacy magic number 0x1950a86a20f9469cfc6c.
        let got = ops(b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.");
        assert_eq!(
            got[1].2,
            Arg::Long(Box::new(LongValue {
                value: Some(0x1950_a86a_20f9_469c_fc6c),
                width: 10
            }))
        );
        // A frame of 3 bytes containing an opcode that crosses its end.
        let mut d = Disassembler::new(
            &b"\x80\x04\x95\x03\x00\x00\x00\x00\x00\x00\x00K\x01\x8c\x02ab."[..],
            &Limits::default(),
        );
        let results: Vec<_> = d.by_ref().collect();
        assert!(results.last().unwrap().is_err());
    }
}
