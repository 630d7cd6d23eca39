//! A bounded Thrift compact-protocol walker, used to validate Parquet metadata and page headers
//! *before* the `parquet` crate sees them: its decoder pre-allocates lists from the declared
//! element count and trusts page sizes, so a hostile footer could make it allocate gigabytes (an
//! abort, not a catchable panic).

/// Most elements in one Thrift list, set or map. Real Parquet footers list at most a few
/// thousand columns or row groups; a count beyond this is a hostile footer.
pub(super) const MAX_LIST: usize = 1_000_000;

/// Deepest struct/list nesting accepted (Parquet metadata nests about 6 deep).
const MAX_DEPTH: u32 = 64;

/// Why bytes are not valid compact Thrift.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum ThriftError {
    /// The input ended inside a value.
    Truncated,
    /// The input is malformed or breaks a bound.
    Invalid(&'static str),
}

pub(super) struct Compact<'a> {
    b: &'a [u8],
    pub(super) pos: usize,
}

/// Compact-protocol type codes.
const STOP: u8 = 0;
const TRUE: u8 = 1;
const FALSE: u8 = 2;
const BYTE: u8 = 3;
const I16: u8 = 4;
const I32: u8 = 5;
const I64: u8 = 6;
const DOUBLE: u8 = 7;
const BINARY: u8 = 8;
const LIST: u8 = 9;
const SET: u8 = 10;
const MAP: u8 = 11;
pub(super) const STRUCT: u8 = 12;
const UUID: u8 = 13;

impl<'a> Compact<'a> {
    pub(super) fn new(b: &'a [u8]) -> Self {
        Compact { b, pos: 0 }
    }

    fn remaining(&self) -> usize {
        self.b.len() - self.pos
    }

    fn byte(&mut self) -> Result<u8, ThriftError> {
        let v = *self.b.get(self.pos).ok_or(ThriftError::Truncated)?;
        self.pos += 1;
        Ok(v)
    }

    fn varint(&mut self) -> Result<u64, ThriftError> {
        let mut v = 0u64;
        for shift in (0..70).step_by(7) {
            let b = self.byte()?;
            if shift == 63 && b > 1 {
                return Err(ThriftError::Invalid("varint overflows 64 bits"));
            }
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(ThriftError::Invalid("varint longer than 10 bytes"))
    }

    fn zigzag(&mut self) -> Result<i64, ThriftError> {
        let v = self.varint()?;
        #[allow(clippy::cast_possible_wrap)]
        Ok((v >> 1) as i64 ^ -((v & 1) as i64))
    }

    fn skip(&mut self, n: usize) -> Result<(), ThriftError> {
        if n > self.remaining() {
            return Err(ThriftError::Truncated);
        }
        self.pos += n;
        Ok(())
    }

    /// A collection's element count, checked against what the input can still hold (every
    /// element takes at least one byte) and [`MAX_LIST`].
    fn count(&mut self, n: u64, min_bytes: usize) -> Result<usize, ThriftError> {
        let n = usize::try_from(n).map_err(|_| ThriftError::Invalid("collection too large"))?;
        if n > MAX_LIST {
            return Err(ThriftError::Invalid(
                "collection with more than 1,000,000 elements",
            ));
        }
        if n.saturating_mul(min_bytes) > self.remaining() {
            return Err(ThriftError::Invalid(
                "collection declares more elements than the bytes that follow",
            ));
        }
        Ok(n)
    }

    /// The next field header: `None` at the struct's STOP, else (field id, type).
    pub(super) fn field(&mut self, last_id: &mut i16) -> Result<Option<(i16, u8)>, ThriftError> {
        let h = self.byte()?;
        let ty = h & 0x0f;
        if ty == STOP {
            return Ok(None);
        }
        let delta = h >> 4;
        let id = if delta == 0 {
            i16::try_from(self.zigzag()?).map_err(|_| ThriftError::Invalid("field id overflow"))?
        } else {
            last_id
                .checked_add(i16::from(delta))
                .ok_or(ThriftError::Invalid("field id overflow"))?
        };
        *last_id = id;
        Ok(Some((id, ty)))
    }

    /// Reads an integer field value of type `ty` (I16/I32/I64/BYTE).
    pub(super) fn int(&mut self, ty: u8) -> Result<i64, ThriftError> {
        match ty {
            BYTE => Ok(i64::from(self.byte()?.cast_signed())),
            I16 | I32 | I64 => self.zigzag(),
            _ => Err(ThriftError::Invalid("expected an integer field")),
        }
    }

    /// Reads a boolean field value (compact encodes it in the field type).
    pub(super) fn boolean(ty: u8) -> Result<bool, ThriftError> {
        match ty {
            TRUE => Ok(true),
            FALSE => Ok(false),
            _ => Err(ThriftError::Invalid("expected a boolean field")),
        }
    }

    /// Skips one value of type `ty`, validating every length and count inside it.
    pub(super) fn skip_value(&mut self, ty: u8, depth: u32) -> Result<(), ThriftError> {
        if depth > MAX_DEPTH {
            return Err(ThriftError::Invalid("nesting too deep"));
        }
        match ty {
            TRUE | FALSE => Ok(()),
            BYTE => self.skip(1),
            I16 | I32 | I64 => self.varint().map(|_| ()),
            DOUBLE => self.skip(8),
            UUID => self.skip(16),
            BINARY => {
                let n = self.varint()?;
                let n = usize::try_from(n).map_err(|_| ThriftError::Truncated)?;
                self.skip(n)
            }
            LIST | SET => {
                let h = self.byte()?;
                let ety = h & 0x0f;
                let short = u64::from(h >> 4);
                let n = if short == 15 { self.varint()? } else { short };
                let n = self.count(n, 1)?;
                for _ in 0..n {
                    // Booleans in collections take one byte each.
                    if ety == TRUE || ety == FALSE {
                        self.skip(1)?;
                    } else {
                        self.skip_value(ety, depth + 1)?;
                    }
                }
                Ok(())
            }
            MAP => {
                let n = self.varint()?;
                if n == 0 {
                    return Ok(());
                }
                let n = self.count(n, 2)?;
                let kv = self.byte()?;
                let (kt, vt) = (kv >> 4, kv & 0x0f);
                for _ in 0..n {
                    for t in [kt, vt] {
                        if t == TRUE || t == FALSE {
                            self.skip(1)?;
                        } else {
                            self.skip_value(t, depth + 1)?;
                        }
                    }
                }
                Ok(())
            }
            STRUCT => {
                let mut last = 0i16;
                while let Some((_, fty)) = self.field(&mut last)? {
                    self.skip_value(fty, depth + 1)?;
                }
                Ok(())
            }
            _ => Err(ThriftError::Invalid("unknown Thrift type")),
        }
    }
}

/// What the page walk needs from a Parquet `PageHeader`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct PageHeader {
    /// `PageType`: 0 data, 1 index, 2 dictionary, 3 data v2.
    pub(super) kind: i64,
    pub(super) uncompressed: i64,
    pub(super) compressed: i64,
    /// Data page v2: bytes of uncompressed repetition + definition levels before the values.
    pub(super) v2_levels: i64,
    /// Data page v2: whether the values are compressed (default true).
    pub(super) v2_compressed: bool,
    /// Bytes the header itself took.
    pub(super) header_len: usize,
}

/// Parses a `PageHeader` at the start of `b`, validating all of it.
pub(super) fn page_header(b: &[u8]) -> Result<PageHeader, ThriftError> {
    let mut c = Compact::new(b);
    let mut h = PageHeader {
        kind: -1,
        uncompressed: -1,
        compressed: -1,
        v2_compressed: true,
        ..PageHeader::default()
    };
    let mut last = 0i16;
    while let Some((id, ty)) = c.field(&mut last)? {
        match (id, ty) {
            (1, I32) => h.kind = c.int(ty)?,
            (2, I32) => h.uncompressed = c.int(ty)?,
            (3, I32) => h.compressed = c.int(ty)?,
            (8, STRUCT) => {
                let (mut def, mut rep) = (0i64, 0i64);
                let mut last2 = 0i16;
                while let Some((id2, ty2)) = c.field(&mut last2)? {
                    match (id2, ty2) {
                        (5, I32) => def = c.int(ty2)?,
                        (6, I32) => rep = c.int(ty2)?,
                        (7, TRUE | FALSE) => h.v2_compressed = Compact::boolean(ty2)?,
                        _ => c.skip_value(ty2, 2)?,
                    }
                }
                if def < 0 || rep < 0 {
                    return Err(ThriftError::Invalid("negative level lengths in a v2 page"));
                }
                h.v2_levels = def + rep;
            }
            _ => c.skip_value(ty, 1)?,
        }
    }
    if h.kind < 0 || h.uncompressed < 0 || h.compressed < 0 {
        return Err(ThriftError::Invalid(
            "page header without a type or sizes, or with negative sizes",
        ));
    }
    h.header_len = c.pos;
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_counts_are_refused_before_any_allocation() {
        // A struct whose field 1 is a list claiming 2^31 i32 elements in 6 bytes.
        let b = [0x19, 0xf5, 0x80, 0x80, 0x80, 0x80, 0x08, 0x00];
        let mut c = Compact::new(&b);
        assert!(matches!(
            c.skip_value(STRUCT, 0),
            Err(ThriftError::Invalid(_))
        ));
        // Binary longer than the input.
        let b = [0x18, 0x7f, 0x00];
        assert_eq!(
            Compact::new(&b).skip_value(STRUCT, 0),
            Err(ThriftError::Truncated)
        );
        // Deep nesting.
        let deep = vec![0x1c; 200];
        assert!(Compact::new(&deep).skip_value(STRUCT, 0).is_err());
    }

    #[test]
    fn page_header_fields_are_read() {
        // type=0 (i32 field 1), uncompressed=100, compressed=40, then a data page header struct
        // (field 5) with one i32 field, then STOP.
        let b = [
            0x15, 0x00, 0x15, 0xc8, 0x01, 0x15, 0x50, 0x2c, 0x15, 0x02, 0x00, 0x00,
        ];
        let h = page_header(&b).unwrap();
        assert_eq!((h.kind, h.uncompressed, h.compressed), (0, 100, 40));
        assert_eq!(h.header_len, b.len());
        assert!(page_header(&b[..5]).is_err());
        // Negative compressed size.
        let b = [0x15, 0x00, 0x15, 0xc8, 0x01, 0x15, 0x01, 0x00];
        assert!(page_header(&b).is_err());
    }
}
