//! A bounded protobuf wire-format walker over a [`ByteSource`].
//!
//! It decodes tags and values field by field inside a window `[start, end)` of the source:
//! varints (at most 10 bytes, no overflow), fixed32/fixed64, and length-delimited fields whose
//! length must fit inside the enclosing window. Length-delimited payloads are *not* read: the
//! walker returns their window so the caller can recurse into sub-messages or skip multi-GB
//! tensor payloads without touching them. Groups (wire types 3 and 4, deprecated since proto2)
//! are rejected, as are field number 0 and wire types 6 and 7. Reads go through a small buffer so
//! walking a file costs a few large reads, not one system call per byte.
//!
//! ```
//! use modelgate_formats::protobuf::{Fields, Reader, Value};
//!
//! let msg: &[u8] = &[0x08, 0x07, 0x12, 0x02, b'h', b'i'];
//! let mut reader = Reader::new(&msg);
//! let mut fields = Fields::new(0, 6);
//! let first = fields.next(&mut reader).unwrap().unwrap();
//! assert_eq!((first.number, first.value), (1, Value::Varint(7)));
//! let second = fields.next(&mut reader).unwrap().unwrap();
//! assert_eq!(second.value, Value::Len { start: 4, len: 2 });
//! assert!(fields.next(&mut reader).unwrap().is_none());
//! ```

use crate::ByteSource;

const BUF: usize = 64 * 1024;

/// What is wrong with the wire format; every variant carries the byte offset.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtobufError {
    /// The data ends inside a tag or value.
    #[error("truncated field at offset {offset}")]
    Truncated {
        /// Offset of the incomplete tag or value.
        offset: u64,
    },
    /// A varint longer than 10 bytes or overflowing 64 bits.
    #[error("invalid varint at offset {offset}")]
    BadVarint {
        /// Offset of the varint.
        offset: u64,
    },
    /// Field number 0 or above 2^29 − 1.
    #[error("invalid field number {number} at offset {offset}")]
    BadFieldNumber {
        /// Offset of the tag.
        offset: u64,
        /// The number.
        number: u64,
    },
    /// Wire type 3/4 (groups) or 6/7 (undefined).
    #[error("unsupported wire type {wire_type} at offset {offset}")]
    BadWireType {
        /// Offset of the tag.
        offset: u64,
        /// The wire type.
        wire_type: u8,
    },
    /// A length-delimited field longer than what is left of its enclosing message.
    #[error(
        "field length {len} at offset {offset} exceeds the {available} bytes left in its message"
    )]
    LengthPastEnd {
        /// Offset of the length.
        offset: u64,
        /// The declared length.
        len: u64,
        /// Bytes left.
        available: u64,
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

impl ProtobufError {
    /// The byte offset the error refers to.
    pub fn offset(&self) -> u64 {
        match self {
            ProtobufError::Truncated { offset }
            | ProtobufError::BadVarint { offset }
            | ProtobufError::BadFieldNumber { offset, .. }
            | ProtobufError::BadWireType { offset, .. }
            | ProtobufError::LengthPastEnd { offset, .. }
            | ProtobufError::Read { offset, .. } => *offset,
        }
    }
}

/// A decoded field value. Length-delimited payloads are described by their window only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value {
    /// Wire type 0.
    Varint(u64),
    /// Wire type 1.
    Fixed64(u64),
    /// Wire type 5.
    Fixed32(u32),
    /// Wire type 2: the payload is `[start, start + len)` of the source.
    Len {
        /// Offset of the payload.
        start: u64,
        /// Payload length.
        len: u64,
    },
}

/// One field of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    /// Field number.
    pub number: u32,
    /// Offset of the field's tag.
    pub offset: u64,
    /// The value.
    pub value: Value,
}

/// Buffered random access over a [`ByteSource`].
pub struct Reader<'a> {
    src: &'a dyn ByteSource,
    len: u64,
    buf: Vec<u8>,
    buf_start: u64,
}

impl<'a> Reader<'a> {
    /// A reader over `src`.
    pub fn new(src: &'a dyn ByteSource) -> Self {
        Reader {
            src,
            len: src.len(),
            buf: Vec::new(),
            buf_start: 0,
        }
    }

    /// Length of the source.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True when the source is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn byte(&mut self, offset: u64) -> Result<u8, ProtobufError> {
        if offset >= self.len {
            return Err(ProtobufError::Truncated { offset });
        }
        let in_buf = offset >= self.buf_start && offset - self.buf_start < self.buf.len() as u64;
        if !in_buf {
            let n = (BUF as u64).min(self.len - offset) as usize;
            self.buf.resize(n, 0);
            self.src
                .read_at(offset, &mut self.buf)
                .map_err(|e| ProtobufError::Read {
                    offset,
                    reason: e.to_string(),
                })?;
            self.buf_start = offset;
        }
        self.buf
            .get((offset - self.buf_start) as usize)
            .copied()
            .ok_or(ProtobufError::Truncated { offset })
    }

    /// Reads the varint at `offset`; returns it and the offset after it.
    pub fn varint(&mut self, offset: u64, end: u64) -> Result<(u64, u64), ProtobufError> {
        let mut value = 0u64;
        for i in 0..10u64 {
            let at = offset + i;
            if at >= end {
                return Err(ProtobufError::Truncated { offset });
            }
            let b = self.byte(at)?;
            if i == 9 && b > 1 {
                return Err(ProtobufError::BadVarint { offset });
            }
            value |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok((value, at + 1));
            }
        }
        Err(ProtobufError::BadVarint { offset })
    }

    /// Reads `len` bytes at `start` (the caller has checked the window and capped `len`).
    pub fn bytes(&mut self, start: u64, len: u64) -> Result<Vec<u8>, ProtobufError> {
        self.src
            .read_vec(start, len, len)
            .map_err(|e| ProtobufError::Read {
                offset: start,
                reason: e.to_string(),
            })
    }
}

/// Iterates over the fields of the message in `[start, end)`.
#[derive(Debug, Clone, Copy)]
pub struct Fields {
    pos: u64,
    end: u64,
}

impl Fields {
    /// The fields of the message occupying `[start, end)`.
    pub fn new(start: u64, end: u64) -> Self {
        Fields { pos: start, end }
    }

    /// The next field, `None` at the end of the message.
    pub fn next(&mut self, r: &mut Reader<'_>) -> Result<Option<Field>, ProtobufError> {
        if self.pos >= self.end {
            return Ok(None);
        }
        let offset = self.pos;
        let (tag, after_tag) = r.varint(offset, self.end)?;
        let number = tag >> 3;
        if number == 0 || number > (1 << 29) - 1 {
            return Err(ProtobufError::BadFieldNumber { offset, number });
        }
        let wire_type = (tag & 7) as u8;
        let (value, next) = match wire_type {
            0 => {
                let (v, next) = r.varint(after_tag, self.end)?;
                (Value::Varint(v), next)
            }
            1 | 5 => {
                let size = if wire_type == 1 { 8 } else { 4 };
                let next = after_tag + size;
                if next > self.end {
                    return Err(ProtobufError::Truncated { offset: after_tag });
                }
                let mut v = 0u64;
                for i in 0..size {
                    v |= u64::from(r.byte(after_tag + i)?) << (8 * i);
                }
                let value = if wire_type == 1 {
                    Value::Fixed64(v)
                } else {
                    Value::Fixed32(v as u32)
                };
                (value, next)
            }
            2 => {
                let (len, start) = r.varint(after_tag, self.end)?;
                let available = self.end - start;
                if len > available {
                    return Err(ProtobufError::LengthPastEnd {
                        offset: after_tag,
                        len,
                        available,
                    });
                }
                (Value::Len { start, len }, start + len)
            }
            _ => return Err(ProtobufError::BadWireType { offset, wire_type }),
        };
        self.pos = next;
        Ok(Some(Field {
            number: number as u32,
            offset,
            value,
        }))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn all(bytes: &[u8]) -> Result<Vec<Field>, ProtobufError> {
        let mut r = Reader::new(&bytes);
        let mut f = Fields::new(0, bytes.len() as u64);
        let mut out = Vec::new();
        while let Some(field) = f.next(&mut r)? {
            out.push(field);
        }
        Ok(out)
    }

    #[test]
    fn decodes_all_wire_types() {
        let msg = [
            0x08, 0x96, 0x01, 0x11, 1, 0, 0, 0, 0, 0, 0, 0, 0x1d, 2, 0, 0, 0, 0x22, 0,
        ];
        let f = all(&msg).unwrap();
        assert_eq!(f[0].value, Value::Varint(150));
        assert_eq!(f[1].value, Value::Fixed64(1));
        assert_eq!(f[2].value, Value::Fixed32(2));
        assert_eq!(f[3].value, Value::Len { start: 19, len: 0 });
    }

    #[test]
    fn rejects_bad_input_with_offsets() {
        assert_eq!(
            all(&[0x0b]),
            Err(ProtobufError::BadWireType {
                offset: 0,
                wire_type: 3
            })
        );
        assert_eq!(
            all(&[0x00, 0x00]),
            Err(ProtobufError::BadFieldNumber {
                offset: 0,
                number: 0
            })
        );
        assert_eq!(
            all(&[0x08, 0x01, 0x12, 0x05, 1]),
            Err(ProtobufError::LengthPastEnd {
                offset: 3,
                len: 5,
                available: 1
            })
        );
        assert_eq!(
            all(&[0x08; 11]),
            Err(ProtobufError::Truncated { offset: 11 })
        );
        let long = [
            0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
        ];
        assert_eq!(all(&long), Err(ProtobufError::BadVarint { offset: 1 }));
        assert_eq!(all(&[0x08]), Err(ProtobufError::Truncated { offset: 1 }));
        assert_eq!(all(&[0x09, 0]), Err(ProtobufError::Truncated { offset: 1 }));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = all(&bytes);
        }
    }
}
