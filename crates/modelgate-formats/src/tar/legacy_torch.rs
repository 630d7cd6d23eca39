//! The `storages` and `tensors` members of a legacy PyTorch tar checkpoint (torch < 0.4) are
//! pickles interleaved with raw bytes. `torch.load` unpickles each of those pickles, so each
//! must be scanned; the raw bytes between them must not be (random float data can look like a
//! pickle header). This module delimits the pickles:
//!
//! - `storages`: a pickle of the storage count `n`; `n` times a pickle `(key, location,
//!   storage_type)` followed by an 8-byte little-endian element count and that many elements of
//!   the storage type's size; then one pickle of storage views.
//! - `tensors`: a pickle of the tensor count `n`; `n` times a pickle `(key, storage_id,
//!   tensor_type)` followed by a 4-byte `ndim`, 4 skipped bytes, `ndim` sizes and `ndim` strides
//!   (8 bytes each) and an 8-byte storage offset.
//!
//! The pickles are walked opcode by opcode only to find their `STOP` (argument lengths are
//! checked against the member, nothing is allocated from them) and to read the few values the
//! layout depends on: the counts, and the storage type's name. Judging the pickles is the pickle
//! rules' job.
//!
//! ```
//! use modelgate_core::Limits;
//! use modelgate_formats::tar::legacy_torch::{Span, storages_pickles};
//!
//! // Zero storages, then an empty list of views.
//! let member = b"\x80\x02K\x00.\x80\x02].";
//! let spans = storages_pickles(&member.as_slice(), &Limits::default()).unwrap();
//! assert_eq!(spans, vec![Span { offset: 0, len: 5 }, Span { offset: 5, len: 4 }]);
//! ```

use modelgate_core::Limits;

use crate::ByteSource;

/// Where one pickle lies in a member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// First byte of the pickle.
    pub offset: u64,
    /// Length up to and including `STOP`.
    pub len: u64,
}

/// Why a member could not be delimited.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot delimit the legacy torch member at offset {offset}: {reason}")]
pub struct LegacyError {
    /// Offset in the member.
    pub offset: u64,
    /// What was wrong.
    pub reason: String,
}

fn fail(offset: u64, reason: impl Into<String>) -> LegacyError {
    LegacyError {
        offset,
        reason: reason.into(),
    }
}

/// What the walk of one pickle saw that the layout depends on.
#[derive(Debug, Default)]
struct Seen {
    /// The last integer pushed.
    last_int: Option<i64>,
    /// The last `module.name` a `GLOBAL` or `STACK_GLOBAL` named.
    last_global: Option<String>,
    /// The last two strings pushed (for `STACK_GLOBAL`).
    strings: [Option<String>; 2],
}

/// Longest string value kept while walking (storage type names are short).
const KEEP_STRING: u64 = 256;
/// Largest `ndim` accepted in a tensor record.
const MAX_NDIM: u64 = 1024;

struct Walker<'a> {
    src: &'a dyn ByteSource,
    pos: u64,
}

impl Walker<'_> {
    fn bytes(&mut self, n: u64) -> Result<Vec<u8>, LegacyError> {
        let at = self.pos;
        let v = self
            .src
            .read_vec(at, n, KEEP_STRING.max(16))
            .map_err(|_| fail(at, format!("member ends inside a {n}-byte field")))?;
        self.pos += n;
        Ok(v)
    }

    fn skip(&mut self, n: u64) -> Result<(), LegacyError> {
        match self.pos.checked_add(n) {
            Some(end) if end <= self.src.len() => {
                self.pos = end;
                Ok(())
            }
            _ => Err(fail(
                self.pos,
                format!("a {n}-byte value runs past the member"),
            )),
        }
    }

    fn uint(&mut self, n: u64) -> Result<u64, LegacyError> {
        let b = self.bytes(n)?;
        Ok(b.iter()
            .rev()
            .fold(0u64, |acc, x| (acc << 8) | u64::from(*x)))
    }

    fn line(&mut self) -> Result<String, LegacyError> {
        let start = self.pos;
        let mut out = Vec::new();
        loop {
            let b = self.bytes(1)?;
            match b.first() {
                Some(b'\n') => return Ok(String::from_utf8_lossy(&out).into_owned()),
                Some(c) if (out.len() as u64) < KEEP_STRING => out.push(*c),
                Some(_) => return Err(fail(start, "text argument too long")),
                None => return Err(fail(start, "unterminated text argument")),
            }
        }
    }

    /// A length-prefixed string or bytes value; kept when short.
    fn sized(&mut self, len: u64, seen: &mut Seen) -> Result<(), LegacyError> {
        if len <= KEEP_STRING {
            let b = self.bytes(len)?;
            seen.strings = [
                seen.strings[1].take(),
                Some(String::from_utf8_lossy(&b).into_owned()),
            ];
        } else {
            self.skip(len)?;
        }
        Ok(())
    }

    /// Walks one pickle from the current position to just past its `STOP`.
    fn pickle(&mut self, max_ops: u64) -> Result<(Span, Seen), LegacyError> {
        let start = self.pos;
        let mut seen = Seen::default();
        for _ in 0..max_ops {
            let at = self.pos;
            let op = *self
                .bytes(1)?
                .first()
                .ok_or_else(|| fail(at, "empty read"))?;
            match op {
                b'.' => {
                    return Ok((
                        Span {
                            offset: start,
                            len: self.pos - start,
                        },
                        seen,
                    ));
                }
                // No argument.
                b'(' | b'0' | b'1' | b'2' | b'N' | b'R' | b'a' | b'b' | b'd' | b'}' | b'e'
                | b'l' | b']' | b'o' | b's' | b't' | b')' | b'u' | b'Q' | 0x81 | 0x85 | 0x86
                | 0x87 | 0x88 | 0x89 | 0x8f | 0x90 | 0x91 | 0x92 | 0x94 | 0x97 | 0x98 => {}
                0x93 => {
                    if let [Some(module), Some(name)] = &seen.strings {
                        seen.last_global = Some(format!("{module}.{name}"));
                    }
                }
                // Text line arguments.
                b'I' | b'L' => {
                    let text = self.line()?;
                    let digits = text.trim_end_matches('L');
                    seen.last_int = match digits {
                        "01" => Some(1),
                        "00" => Some(0),
                        d => d.parse().ok(),
                    };
                }
                b'F' | b'g' | b'p' | b'P' => {
                    self.line()?;
                }
                b'S' | b'V' => {
                    let text = self.line()?;
                    let text = text.trim_matches(['\'', '"']).to_owned();
                    seen.strings = [seen.strings[1].take(), Some(text)];
                }
                b'c' | b'i' => {
                    let module = self.line()?;
                    let name = self.line()?;
                    seen.last_global = Some(format!("{module}.{name}"));
                }
                // Fixed-size arguments.
                b'K' => seen.last_int = Some(i64::try_from(self.uint(1)?).unwrap_or(0)),
                b'M' => seen.last_int = Some(i64::try_from(self.uint(2)?).unwrap_or(0)),
                b'J' => {
                    let v = self.uint(4)? as u32;
                    seen.last_int = Some(i64::from(i32::from_le_bytes(v.to_le_bytes())));
                }
                b'h' | b'q' | 0x80 | 0x82 => self.skip(1)?,
                0x83 => self.skip(2)?,
                b'j' | b'r' | 0x84 => self.skip(4)?,
                b'G' | 0x95 => self.skip(8)?,
                // Length-prefixed arguments.
                b'U' | b'C' | 0x8c => {
                    let n = self.uint(1)?;
                    self.sized(n, &mut seen)?;
                }
                b'T' | b'X' | b'B' => {
                    let n = self.uint(4)?;
                    self.sized(n, &mut seen)?;
                }
                0x8d | 0x8e | 0x96 => {
                    let n = self.uint(8)?;
                    self.sized(n, &mut seen)?;
                }
                0x8a => {
                    let n = self.uint(1)?;
                    if n <= 8 {
                        let v = self.uint(n)?;
                        seen.last_int = i64::try_from(v).ok();
                    } else {
                        self.skip(n)?;
                    }
                }
                0x8b => {
                    let n = self.uint(4)?;
                    self.skip(n)?;
                }
                other => return Err(fail(at, format!("unknown pickle opcode {other:#04x}"))),
            }
        }
        Err(fail(start, format!("pickle longer than {max_ops} opcodes")))
    }

    fn count(&mut self, limits: &Limits, what: &str) -> Result<(Span, u64), LegacyError> {
        let at = self.pos;
        let (span, seen) = self.pickle(limits.max_pickle_ops)?;
        let n = seen
            .last_int
            .and_then(|n| u64::try_from(n).ok())
            .ok_or_else(|| {
                fail(
                    at,
                    format!("the {what} count is not a non-negative integer"),
                )
            })?;
        if n > limits.max_archive_members as u64 {
            return Err(fail(at, format!("{n} {what} exceed the member limit")));
        }
        Ok((span, n))
    }
}

/// Element size of a legacy storage type (`torch.FloatStorage`, `torch.cuda.HalfStorage`).
pub fn storage_element_size(type_name: &str) -> Option<u64> {
    let name = type_name.rsplit('.').next()?;
    Some(match name {
        "DoubleStorage" | "LongStorage" | "ComplexFloatStorage" => 8,
        "FloatStorage" | "IntStorage" | "QInt32Storage" => 4,
        "HalfStorage" | "BFloat16Storage" | "ShortStorage" => 2,
        "CharStorage" | "ByteStorage" | "BoolStorage" | "QInt8Storage" | "QUInt8Storage"
        | "QUInt4x2Storage" | "QUInt2x4Storage" => 1,
        "ComplexDoubleStorage" => 16,
        _ => return None,
    })
}

/// The pickles of a `storages` member, in order.
pub fn storages_pickles(src: &dyn ByteSource, limits: &Limits) -> Result<Vec<Span>, LegacyError> {
    let mut w = Walker { src, pos: 0 };
    let (first, n) = w.count(limits, "storages")?;
    let mut spans = vec![first];
    for _ in 0..n {
        let at = w.pos;
        let (span, seen) = w.pickle(limits.max_pickle_ops)?;
        spans.push(span);
        let ty = seen
            .last_global
            .ok_or_else(|| fail(at, "storage record names no storage type"))?;
        let size = storage_element_size(&ty)
            .ok_or_else(|| fail(at, format!("unknown storage type `{ty}`")))?;
        let count_at = w.pos;
        let numel = w.uint(8)?;
        let bytes = numel
            .checked_mul(size)
            .ok_or_else(|| fail(count_at, "storage size overflows"))?;
        w.skip(bytes)?;
    }
    let (views, _) = w.pickle(limits.max_pickle_ops)?;
    spans.push(views);
    if w.pos != src.len() {
        return Err(fail(
            w.pos,
            format!(
                "{} unexplained bytes after the storage views",
                src.len() - w.pos
            ),
        ));
    }
    Ok(spans)
}

/// The pickles of a `tensors` member, in order.
pub fn tensors_pickles(src: &dyn ByteSource, limits: &Limits) -> Result<Vec<Span>, LegacyError> {
    let mut w = Walker { src, pos: 0 };
    let (first, n) = w.count(limits, "tensors")?;
    let mut spans = vec![first];
    for _ in 0..n {
        let (span, _) = w.pickle(limits.max_pickle_ops)?;
        spans.push(span);
        let at = w.pos;
        let ndim = w.uint(4)?;
        if ndim > MAX_NDIM {
            return Err(fail(at, format!("tensor record has {ndim} dimensions")));
        }
        w.skip(4 + 16 * ndim + 8)?;
    }
    if w.pos != src.len() {
        return Err(fail(
            w.pos,
            format!(
                "{} unexplained bytes after the last tensor",
                src.len() - w.pos
            ),
        ));
    }
    Ok(spans)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// `(key, location, torch.<ty>)` as protocol 2 writes it.
    fn record(key: &str, ty: &str) -> Vec<u8> {
        let mut p = b"\x80\x02(X".to_vec();
        p.extend_from_slice(&(key.len() as u32).to_le_bytes());
        p.extend_from_slice(key.as_bytes());
        p.extend_from_slice(b"X\x03\x00\x00\x00cpuq\x01ctorch\n");
        p.extend_from_slice(ty.as_bytes());
        p.extend_from_slice(b"\nq\x02tq\x03.");
        p
    }

    fn storages() -> (Vec<u8>, Vec<Span>) {
        let mut m = b"\x80\x02K\x02.".to_vec();
        let mut spans = vec![Span { offset: 0, len: 5 }];
        for (key, ty, numel, fill) in [
            ("1", "FloatStorage", 3u64, 0x80u8),
            ("2", "HalfStorage", 5, 0x2e),
        ] {
            let r = record(key, ty);
            spans.push(Span {
                offset: m.len() as u64,
                len: r.len() as u64,
            });
            m.extend_from_slice(&r);
            m.extend_from_slice(&numel.to_le_bytes());
            // Raw data that looks like pickle opcodes on purpose.
            let size = storage_element_size(ty).unwrap();
            m.extend(std::iter::repeat_n(fill, (numel * size) as usize));
        }
        spans.push(Span {
            offset: m.len() as u64,
            len: 4,
        });
        m.extend_from_slice(b"\x80\x02].");
        (m, spans)
    }

    #[test]
    fn delimits_storages() {
        let (m, spans) = storages();
        assert_eq!(
            storages_pickles(&m.as_slice(), &Limits::default()).unwrap(),
            spans
        );
    }

    #[test]
    fn delimits_tensors() {
        let mut m = b"\x80\x02K\x01.".to_vec();
        let rec = b"\x80\x02X\x01\x00\x00\x001K\x01ctorch\nFloatTensor\n\x87q\x00.";
        m.extend_from_slice(rec);
        m.extend_from_slice(&2u32.to_le_bytes());
        m.extend_from_slice(&[0; 4]);
        m.extend_from_slice(&[0x80; 16 * 2 + 8]);
        let spans = tensors_pickles(&m.as_slice(), &Limits::default()).unwrap();
        assert_eq!(
            spans,
            vec![
                Span { offset: 0, len: 5 },
                Span {
                    offset: 5,
                    len: rec.len() as u64
                }
            ]
        );
    }

    #[test]
    fn rejects_what_it_cannot_delimit() {
        let limits = Limits::default();
        let (m, _) = storages();
        assert!(storages_pickles(&&m[..m.len() - 3], &limits).is_err());
        let mut extra = m.clone();
        extra.push(0);
        assert!(storages_pickles(&extra.as_slice(), &limits).is_err());
        let unknown = [b"\x80\x02K\x01.".as_slice(), &record("1", "EvilStorage")].concat();
        let err = storages_pickles(&unknown.as_slice(), &limits).unwrap_err();
        assert!(err.reason.contains("EvilStorage"));
        assert!(storages_pickles(&b"\x80\x02\xff.".as_slice(), &limits).is_err());
        let huge = b"\x80\x02J\xff\xff\xff\x7f.";
        assert!(storages_pickles(&huge.as_slice(), &limits).is_err());
        assert!(tensors_pickles(&b"\x80\x02N.".as_slice(), &limits).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = storages_pickles(&bytes.as_slice(), &Limits::default());
            let _ = tensors_pickles(&bytes.as_slice(), &Limits::default());
        }

        #[test]
        fn never_panics_on_mutated_members(flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6)) {
            let (mut m, _) = storages();
            let len = m.len();
            for (at, v) in flips {
                m[at % len] = v;
            }
            let _ = storages_pickles(&m.as_slice(), &Limits::default());
        }
    }
}
