//! A bounded HDF5 reader that extracts the **root group's attributes** — enough to read the
//! `model_config`, `training_config`, `keras_version` and `backend` attributes of a legacy Keras
//! `.h5` model without an HDF5 library.
//!
//! Supported: superblock versions 0–3 (also behind a user block at 512, 1024, … bytes), root
//! object headers version 1 and 2 with continuation blocks, compact attribute messages (type
//! 0x000C, versions 1–3) whose datatype is a fixed-length string or a variable-length string
//! (read from its global heap collection), and scalar or one-dimensional dataspaces. Attributes
//! kept in *dense storage* (an attribute info message, type 0x0015, pointing at a fractal heap)
//! are not decoded: [`RootAttributes::dense_storage`] tells the caller, which can fall back to
//! [`find_json_object`].
//!
//! Every address and length is validated against the file length and `Limits::max_hdf5_bytes`
//! before it is read; the number of header messages and continuation blocks is bounded.
//!
//! ```
//! use modelgate_core::Limits;
//! use modelgate_formats::hdf5;
//!
//! assert!(hdf5::root_attributes(&b"not hdf5".as_slice(), &Limits::default()).is_err());
//! ```

use modelgate_core::Limits;

use crate::ByteSource;

/// HDF5 format signature.
pub const SIGNATURE: &[u8; 8] = b"\x89HDF\r\n\x1a\n";
/// Most header messages read from the root object header (all chunks together).
pub const MAX_MESSAGES: usize = 4096;
/// Most continuation blocks followed.
pub const MAX_CONTINUATIONS: usize = 64;
/// Most attributes kept.
pub const MAX_ATTRIBUTES: usize = 1024;

/// An attribute value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttrValue {
    /// One or more strings (fixed-length with trailing NULs removed, or variable-length).
    Strings(Vec<Vec<u8>>),
    /// A datatype this reader does not decode (numbers, compounds, shared datatypes…).
    Other {
        /// The HDF5 datatype class.
        class: u8,
    },
}

/// One attribute of the root group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    /// Attribute name.
    pub name: String,
    /// Its value.
    pub value: AttrValue,
    /// File offset of the attribute message.
    pub offset: u64,
}

impl Attribute {
    /// The first string of a string attribute.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match &self.value {
            AttrValue::Strings(s) => s.first().map(Vec::as_slice),
            AttrValue::Other { .. } => None,
        }
    }
}

/// The root group's attributes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RootAttributes {
    /// Superblock version.
    pub superblock_version: u8,
    /// Compact attributes, in header order.
    pub attributes: Vec<Attribute>,
    /// Offset of an attribute info message announcing dense attribute storage, which this reader
    /// does not decode.
    pub dense_storage: Option<u64>,
}

impl RootAttributes {
    /// The attribute named `name`.
    pub fn get(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name == name)
    }
}

/// What is wrong with an HDF5 file; every variant carries the byte offset.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Hdf5Error {
    /// No superblock signature at 0, 512, 1024, ….
    #[error("no HDF5 signature at offset 0 or at any user-block boundary")]
    NotHdf5,
    /// An unsupported structure version.
    #[error("unsupported {what} version {version} at offset {offset}")]
    Version {
        /// Offset of the structure.
        offset: u64,
        /// Which structure.
        what: &'static str,
        /// The version.
        version: u8,
    },
    /// An address or length points outside the file or overflows.
    #[error("{what} at offset {offset} points outside the {file_len}-byte file")]
    OutOfBounds {
        /// Offset of the field.
        offset: u64,
        /// What it is.
        what: &'static str,
        /// File length.
        file_len: u64,
    },
    /// A structure is inconsistent.
    #[error("malformed {what} at offset {offset}")]
    Malformed {
        /// Offset of the structure.
        offset: u64,
        /// What is wrong.
        what: &'static str,
    },
    /// A size exceeds `Limits::max_hdf5_bytes` or a count exceeds its bound.
    #[error("{what} at offset {offset} exceeds the limit of {max}")]
    TooLarge {
        /// Offset of the field.
        offset: u64,
        /// What it is.
        what: &'static str,
        /// The limit.
        max: u64,
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

impl Hdf5Error {
    /// The byte offset the error refers to.
    pub fn offset(&self) -> u64 {
        match self {
            Hdf5Error::NotHdf5 => 0,
            Hdf5Error::Version { offset, .. }
            | Hdf5Error::OutOfBounds { offset, .. }
            | Hdf5Error::Malformed { offset, .. }
            | Hdf5Error::TooLarge { offset, .. }
            | Hdf5Error::Read { offset, .. } => *offset,
        }
    }
}

/// Little-endian field reader over a byte slice already read from the file; `base` is the slice's
/// file offset, for error messages.
struct Bytes<'b> {
    data: &'b [u8],
    pos: usize,
    base: u64,
}

impl<'b> Bytes<'b> {
    fn new(data: &'b [u8], base: u64) -> Self {
        Bytes { data, pos: 0, base }
    }

    fn at(&self) -> u64 {
        self.base + self.pos as u64
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<&'b [u8], Hdf5Error> {
        let end = self.pos.checked_add(n).ok_or(Hdf5Error::Malformed {
            offset: self.at(),
            what,
        })?;
        let s = self.data.get(self.pos..end).ok_or(Hdf5Error::Malformed {
            offset: self.at(),
            what,
        })?;
        self.pos = end;
        Ok(s)
    }

    fn uint(&mut self, n: usize, what: &'static str) -> Result<u64, Hdf5Error> {
        let s = self.take(n, what)?;
        Ok(s.iter()
            .rev()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, Hdf5Error> {
        Ok(self.take(1, what)?.first().copied().unwrap_or(0))
    }

    fn skip_to_multiple_of(&mut self, align: usize) {
        self.pos = self.pos.next_multiple_of(align);
    }
}

struct File<'a> {
    src: &'a dyn ByteSource,
    len: u64,
    base: u64,
    offset_size: usize,
    length_size: usize,
    max: u64,
}

impl File<'_> {
    fn read(&self, offset: u64, len: u64, what: &'static str) -> Result<Vec<u8>, Hdf5Error> {
        if len > self.max {
            return Err(Hdf5Error::TooLarge {
                offset,
                what,
                max: self.max,
            });
        }
        match offset.checked_add(len) {
            Some(end) if end <= self.len => {}
            _ => {
                return Err(Hdf5Error::OutOfBounds {
                    offset,
                    what,
                    file_len: self.len,
                });
            }
        }
        self.src
            .read_vec(offset, len, self.max)
            .map_err(|e| Hdf5Error::Read {
                offset,
                reason: e.to_string(),
            })
    }

    /// Converts a stored (relative) address into a file offset.
    fn address(&self, raw: u64, at: u64, what: &'static str) -> Result<u64, Hdf5Error> {
        let undefined = if self.offset_size >= 8 {
            u64::MAX
        } else {
            (1u64 << (8 * self.offset_size)) - 1
        };
        if raw == undefined {
            return Err(Hdf5Error::Malformed { offset: at, what });
        }
        match self.base.checked_add(raw) {
            Some(a) if a < self.len => Ok(a),
            _ => Err(Hdf5Error::OutOfBounds {
                offset: at,
                what,
                file_len: self.len,
            }),
        }
    }
}

/// Reads the root group's attributes of the HDF5 file in `src`.
pub fn root_attributes(src: &dyn ByteSource, limits: &Limits) -> Result<RootAttributes, Hdf5Error> {
    let len = src.len();
    let mut sb_offset = None;
    let mut candidate = 0u64;
    while candidate.saturating_add(8) <= len {
        let mut sig = [0u8; 8];
        src.read_at(candidate, &mut sig)
            .map_err(|e| Hdf5Error::Read {
                offset: candidate,
                reason: e.to_string(),
            })?;
        if &sig == SIGNATURE {
            sb_offset = Some(candidate);
            break;
        }
        candidate = if candidate == 0 {
            512
        } else {
            candidate.saturating_mul(2)
        };
    }
    let sb = sb_offset.ok_or(Hdf5Error::NotHdf5)?;
    let head_len = (len - sb).min(256);
    let head = src
        .read_vec(sb, head_len, 256)
        .map_err(|e| Hdf5Error::Read {
            offset: sb,
            reason: e.to_string(),
        })?;
    let mut b = Bytes::new(&head, sb);
    b.take(8, "signature")?;
    let version = b.u8("superblock version")?;
    let mut file = File {
        src,
        len,
        base: 0,
        offset_size: 8,
        length_size: 8,
        max: limits.max_hdf5_bytes,
    };
    let root_header = match version {
        0 | 1 => {
            b.take(4, "superblock versions")?;
            file.offset_size = usize::from(b.u8("size of offsets")?);
            file.length_size = usize::from(b.u8("size of lengths")?);
            check_sizes(&file, sb)?;
            b.take(1, "reserved")?;
            b.take(8, "B-tree K values and flags")?;
            if version == 1 {
                b.take(4, "indexed storage K")?;
            }
            file.base = b.uint(file.offset_size, "base address")?;
            b.take(3 * file.offset_size, "superblock addresses")?;
            // Root group symbol table entry: link name offset, then the object header address.
            b.take(file.offset_size, "root link name offset")?;
            let at = b.at();
            let raw = b.uint(file.offset_size, "root object header address")?;
            file.address(raw, at, "root object header address")?
        }
        2 | 3 => {
            file.offset_size = usize::from(b.u8("size of offsets")?);
            file.length_size = usize::from(b.u8("size of lengths")?);
            check_sizes(&file, sb)?;
            b.take(1, "consistency flags")?;
            file.base = b.uint(file.offset_size, "base address")?;
            b.take(2 * file.offset_size, "superblock addresses")?;
            let at = b.at();
            let raw = b.uint(file.offset_size, "root object header address")?;
            file.address(raw, at, "root object header address")?
        }
        v => {
            return Err(Hdf5Error::Version {
                offset: sb + 8,
                what: "superblock",
                version: v,
            });
        }
    };
    let mut out = RootAttributes {
        superblock_version: version,
        ..RootAttributes::default()
    };
    read_object_header(&file, root_header, &mut out)?;
    Ok(out)
}

fn check_sizes(file: &File<'_>, sb: u64) -> Result<(), Hdf5Error> {
    let ok = |s: usize| matches!(s, 2 | 4 | 8);
    if !ok(file.offset_size) || !ok(file.length_size) {
        return Err(Hdf5Error::Malformed {
            offset: sb + 13,
            what: "size of offsets or lengths",
        });
    }
    Ok(())
}

struct Message {
    kind: u16,
    flags: u8,
    offset: u64,
    data: Vec<u8>,
}

fn read_object_header(
    file: &File<'_>,
    addr: u64,
    out: &mut RootAttributes,
) -> Result<(), Hdf5Error> {
    let mut first = [0u8; 4];
    file.src
        .read_at(addr, &mut first)
        .map_err(|e| Hdf5Error::Read {
            offset: addr,
            reason: e.to_string(),
        })?;
    let mut messages = Vec::new();
    let v2 = &first == b"OHDR";
    if v2 {
        let prefix = file.read(addr, (file.len - addr).min(32), "object header prefix")?;
        let mut b = Bytes::new(&prefix, addr);
        b.take(4, "signature")?;
        let version = b.u8("object header version")?;
        if version != 2 {
            return Err(Hdf5Error::Version {
                offset: addr + 4,
                what: "object header",
                version,
            });
        }
        let flags = b.u8("object header flags")?;
        if flags & 0x20 != 0 {
            b.take(16, "object header times")?;
        }
        if flags & 0x10 != 0 {
            b.take(4, "attribute phase change values")?;
        }
        let size = b.uint(1 << (flags & 3), "chunk size")?;
        let start = b.at();
        let chunk = file.read(start, size, "object header chunk")?;
        parse_v2_messages(&chunk, start, flags & 0x04 != 0, &mut messages)?;
        follow_continuations(file, &mut messages, Some(flags & 0x04 != 0))?;
    } else {
        let prefix = file.read(addr, 16.min(file.len - addr), "object header prefix")?;
        let mut b = Bytes::new(&prefix, addr);
        let version = b.u8("object header version")?;
        if version != 1 {
            return Err(Hdf5Error::Version {
                offset: addr,
                what: "object header",
                version,
            });
        }
        b.take(1, "reserved")?;
        b.take(2, "message count")?;
        b.take(4, "reference count")?;
        let size = b.uint(4, "object header size")?;
        // Messages start after the 12-byte prefix, aligned to 8 bytes.
        let start = addr + 16;
        let chunk = file.read(start, size, "object header messages")?;
        parse_v1_messages(&chunk, start, &mut messages)?;
        follow_continuations(file, &mut messages, None)?;
    }
    for m in &messages {
        match m.kind {
            0x000C => {
                if out.attributes.len() >= MAX_ATTRIBUTES {
                    return Err(Hdf5Error::TooLarge {
                        offset: m.offset,
                        what: "attribute count",
                        max: MAX_ATTRIBUTES as u64,
                    });
                }
                out.attributes.push(parse_attribute(file, m)?);
            }
            0x0015 => {
                if let Some(dense) = dense_storage(file, m)? {
                    out.dense_storage = Some(dense);
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn push_message(messages: &mut Vec<Message>, m: Message) -> Result<(), Hdf5Error> {
    if messages.len() >= MAX_MESSAGES {
        return Err(Hdf5Error::TooLarge {
            offset: m.offset,
            what: "header message count",
            max: MAX_MESSAGES as u64,
        });
    }
    messages.push(m);
    Ok(())
}

fn continuation(data: &[u8], offset: u64, file: &File<'_>) -> Result<(u64, u64), Hdf5Error> {
    let mut b = Bytes::new(data, offset);
    let raw = b.uint(file.offset_size, "continuation address")?;
    let len = b.uint(file.length_size, "continuation length")?;
    let addr = file.address(raw, offset, "continuation address")?;
    Ok((addr, len))
}

fn parse_v1_messages(
    chunk: &[u8],
    base: u64,
    messages: &mut Vec<Message>,
) -> Result<(), Hdf5Error> {
    let mut b = Bytes::new(chunk, base);
    while b.pos + 8 <= chunk.len() {
        let offset = b.at();
        let kind = b.uint(2, "message type")? as u16;
        let size = b.uint(2, "message size")? as usize;
        let flags = b.u8("message flags")?;
        b.take(3, "reserved")?;
        let data = b.take(size, "message data")?.to_vec();
        b.skip_to_multiple_of(8);
        push_message(
            messages,
            Message {
                kind,
                flags,
                offset,
                data,
            },
        )?;
    }
    Ok(())
}

fn parse_v2_messages(
    chunk: &[u8],
    base: u64,
    creation_order: bool,
    messages: &mut Vec<Message>,
) -> Result<(), Hdf5Error> {
    // The chunk ends with a 4-byte checksum; a gap smaller than a message header may precede it.
    let body_len = chunk.len().checked_sub(4).ok_or(Hdf5Error::Malformed {
        offset: base,
        what: "object header chunk",
    })?;
    let header = if creation_order { 6 } else { 4 };
    let body = chunk.get(..body_len).unwrap_or_default();
    let mut b = Bytes::new(body, base);
    while b.pos + header <= body.len() {
        let offset = b.at();
        let kind = u16::from(b.u8("message type")?);
        let size = b.uint(2, "message size")? as usize;
        let flags = b.u8("message flags")?;
        if creation_order {
            b.take(2, "creation order")?;
        }
        let data = b.take(size, "message data")?.to_vec();
        push_message(
            messages,
            Message {
                kind,
                flags,
                offset,
                data,
            },
        )?;
    }
    Ok(())
}

fn follow_continuations(
    file: &File<'_>,
    messages: &mut Vec<Message>,
    v2: Option<bool>,
) -> Result<(), Hdf5Error> {
    let mut followed = 0usize;
    let mut seen = std::collections::HashSet::new();
    let mut i = 0;
    while i < messages.len() {
        let (kind, offset) = (
            messages.get(i).map(|m| m.kind),
            messages.get(i).map(|m| m.offset),
        );
        i += 1;
        if kind != Some(0x0010) {
            continue;
        }
        let Some(m) = messages.get(i - 1) else {
            continue;
        };
        let (addr, len) = continuation(&m.data, m.offset, file)?;
        let offset = offset.unwrap_or(0);
        followed += 1;
        if followed > MAX_CONTINUATIONS {
            return Err(Hdf5Error::TooLarge {
                offset,
                what: "continuation block count",
                max: MAX_CONTINUATIONS as u64,
            });
        }
        if !seen.insert(addr) {
            return Err(Hdf5Error::Malformed {
                offset,
                what: "continuation block cycle",
            });
        }
        let block = file.read(addr, len, "continuation block")?;
        match v2 {
            Some(creation_order) => {
                if block.get(..4) != Some(b"OCHK".as_slice()) {
                    return Err(Hdf5Error::Malformed {
                        offset: addr,
                        what: "continuation block signature",
                    });
                }
                parse_v2_messages(
                    block.get(4..).unwrap_or_default(),
                    addr + 4,
                    creation_order,
                    messages,
                )?;
            }
            None => parse_v1_messages(&block, addr, messages)?,
        }
    }
    Ok(())
}

/// Parses an attribute info message; returns its offset when it points at dense storage.
fn dense_storage(file: &File<'_>, m: &Message) -> Result<Option<u64>, Hdf5Error> {
    let mut b = Bytes::new(&m.data, m.offset);
    let version = b.u8("attribute info version")?;
    if version != 0 {
        return Err(Hdf5Error::Version {
            offset: m.offset,
            what: "attribute info",
            version,
        });
    }
    let flags = b.u8("attribute info flags")?;
    if flags & 1 != 0 {
        b.take(2, "maximum creation index")?;
    }
    let heap = b.uint(file.offset_size, "fractal heap address")?;
    let undefined = if file.offset_size >= 8 {
        u64::MAX
    } else {
        (1u64 << (8 * file.offset_size)) - 1
    };
    Ok((heap != undefined).then_some(m.offset))
}

fn parse_attribute(file: &File<'_>, m: &Message) -> Result<Attribute, Hdf5Error> {
    let mut b = Bytes::new(&m.data, m.offset);
    let version = b.u8("attribute version")?;
    let flags = b.u8("attribute flags")?;
    let name_size = b.uint(2, "attribute name size")? as usize;
    let type_size = b.uint(2, "attribute datatype size")? as usize;
    let space_size = b.uint(2, "attribute dataspace size")? as usize;
    let pad = |n: usize| {
        if version == 1 {
            n.next_multiple_of(8)
        } else {
            n
        }
    };
    if version == 3 {
        b.take(1, "name encoding")?;
    } else if version != 1 && version != 2 {
        return Err(Hdf5Error::Version {
            offset: m.offset,
            what: "attribute message",
            version,
        });
    }
    let name_raw = b.take(pad(name_size), "attribute name")?;
    let name_bytes = name_raw.get(..name_size).unwrap_or_default();
    let name_end = name_bytes
        .iter()
        .position(|&c| c == 0)
        .unwrap_or(name_bytes.len());
    let name = String::from_utf8_lossy(name_bytes.get(..name_end).unwrap_or_default()).into_owned();
    let datatype = b
        .take(pad(type_size), "attribute datatype")?
        .get(..type_size)
        .unwrap_or_default()
        .to_vec();
    let dataspace = b
        .take(pad(space_size), "attribute dataspace")?
        .get(..space_size)
        .unwrap_or_default()
        .to_vec();
    let data_offset = b.at();
    let data = m.data.get(b.pos..).unwrap_or_default();
    let class = datatype.first().map_or(0, |c| c & 0x0f);
    // Shared datatypes or dataspaces (flags bits 0 and 1) live elsewhere; not decoded.
    if flags & 3 != 0 || m.flags & 0x02 != 0 {
        return Ok(Attribute {
            name,
            value: AttrValue::Other { class },
            offset: m.offset,
        });
    }
    let elements = dataspace_elements(&dataspace, file, m.offset)?;
    let value = match class {
        3 => {
            let size = element_size(&datatype, m.offset)?;
            let mut strings = Vec::new();
            for i in 0..elements.min(64) {
                let start = (i as usize).saturating_mul(size);
                let s =
                    data.get(start..start.saturating_add(size))
                        .ok_or(Hdf5Error::Malformed {
                            offset: data_offset,
                            what: "attribute data",
                        })?;
                let end = s.iter().rposition(|&c| c != 0).map_or(0, |p| p + 1);
                strings.push(s.get(..end).unwrap_or_default().to_vec());
            }
            AttrValue::Strings(strings)
        }
        9 if datatype.get(1).is_some_and(|bits| bits & 0x0f == 1) => {
            let item = 4 + file.offset_size + 4;
            let mut strings = Vec::new();
            for i in 0..elements.min(64) {
                let start = (i as usize).saturating_mul(item);
                let raw =
                    data.get(start..start.saturating_add(item))
                        .ok_or(Hdf5Error::Malformed {
                            offset: data_offset,
                            what: "variable-length string reference",
                        })?;
                strings.push(global_heap_object(file, raw, data_offset)?);
            }
            AttrValue::Strings(strings)
        }
        other => AttrValue::Other { class: other },
    };
    Ok(Attribute {
        name,
        value,
        offset: m.offset,
    })
}

fn element_size(datatype: &[u8], offset: u64) -> Result<usize, Hdf5Error> {
    let mut b = Bytes::new(datatype, offset);
    b.take(4, "datatype class and bits")?;
    Ok(b.uint(4, "datatype size")? as usize)
}

fn dataspace_elements(space: &[u8], file: &File<'_>, offset: u64) -> Result<u64, Hdf5Error> {
    let mut b = Bytes::new(space, offset);
    let version = b.u8("dataspace version")?;
    let rank = b.u8("dataspace rank")?;
    let flags = b.u8("dataspace flags")?;
    match version {
        1 => {
            b.take(5, "reserved")?;
        }
        2 => {
            if b.u8("dataspace type")? == 2 {
                return Ok(0);
            }
        }
        v => {
            return Err(Hdf5Error::Version {
                offset,
                what: "dataspace",
                version: v,
            });
        }
    }
    let _ = flags;
    let mut n = 1u64;
    for _ in 0..rank {
        let d = b.uint(file.length_size, "dimension")?;
        n = n.checked_mul(d).ok_or(Hdf5Error::Malformed {
            offset,
            what: "dataspace size",
        })?;
    }
    Ok(n)
}

/// Reads a variable-length string from the global heap: `raw` is `(length u32, collection
/// address, object index u32)`.
fn global_heap_object(file: &File<'_>, raw: &[u8], at: u64) -> Result<Vec<u8>, Hdf5Error> {
    let mut b = Bytes::new(raw, at);
    let length = b.uint(4, "string length")?;
    let collection_raw = b.uint(file.offset_size, "global heap address")?;
    let index = b.uint(4, "global heap index")?;
    let collection = file.address(collection_raw, at, "global heap address")?;
    let head = file.read(
        collection,
        (8 + file.length_size as u64).min(file.len - collection),
        "global heap header",
    )?;
    let mut h = Bytes::new(&head, collection);
    if h.take(4, "global heap signature")? != b"GCOL" {
        return Err(Hdf5Error::Malformed {
            offset: collection,
            what: "global heap signature",
        });
    }
    h.take(4, "global heap version")?;
    let size = h.uint(file.length_size, "global heap size")?;
    let body = file.read(collection, size, "global heap collection")?;
    let mut g = Bytes::new(&body, collection);
    g.take(8 + file.length_size, "global heap header")?;
    while g.pos + 8 + file.length_size <= body.len() {
        let obj_index = g.uint(2, "heap object index")?;
        g.take(6, "heap object header")?;
        let obj_size = g.uint(file.length_size, "heap object size")? as usize;
        if obj_index == 0 {
            break; // free space: the rest of the collection
        }
        let data = g.take(obj_size, "heap object data")?;
        if obj_index == index {
            let n = (length as usize).min(data.len());
            return Ok(data.get(..n).unwrap_or_default().to_vec());
        }
        g.skip_to_multiple_of(8);
    }
    Err(Hdf5Error::Malformed {
        offset: collection,
        what: "global heap object not found",
    })
}

/// Fallback for attributes this reader cannot decode: finds the first JSON object in `src` that
/// starts with `prefix` (for example `{"class_name"`), reading at most `max_scan` bytes and
/// returning the object (balanced braces, strings respected) if it closes within `max_json`
/// bytes, with its offset.
pub fn find_json_object(
    src: &dyn ByteSource,
    prefix: &[u8],
    max_scan: u64,
    max_json: u64,
) -> Option<(u64, Vec<u8>)> {
    const CHUNK: u64 = 1024 * 1024;
    let limit = src.len().min(max_scan);
    let overlap = prefix.len() as u64;
    let mut pos = 0u64;
    while pos < limit {
        let n = CHUNK.min(limit - pos);
        let chunk = src.read_vec(pos, n, CHUNK).ok()?;
        if let Some(i) = chunk.windows(prefix.len()).position(|w| w == prefix) {
            let start = pos + i as u64;
            let len = max_json.min(src.len() - start);
            let bytes = src.read_vec(start, len, max_json).ok()?;
            let end = json_object_end(&bytes)?;
            return Some((start, bytes.get(..end)?.to_vec()));
        }
        if pos + n >= limit {
            break;
        }
        pos += n.saturating_sub(overlap).max(1);
    }
    None
}

fn json_object_end(bytes: &[u8]) -> Option<usize> {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for (i, &c) in bytes.iter().enumerate() {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            b'"' => in_string = true,
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
    }
    None
}

/// A minimal HDF5 writer for tests: superblock v0 or v2, a root object header (v1 or v2) with
/// string attributes, optionally through a continuation block and variable-length strings.
#[cfg(test)]
pub(crate) mod build {
    /// An attribute to write.
    pub(crate) struct Attr<'a> {
        pub(crate) name: &'a str,
        pub(crate) value: &'a [u8],
        pub(crate) vlen: bool,
    }

    fn attr_message(a: &Attr<'_>, heap_addr: u64, heap_index: u32) -> Vec<u8> {
        let mut name = a.name.as_bytes().to_vec();
        name.push(0);
        let name_size = name.len();
        while !name.len().is_multiple_of(8) {
            name.push(0);
        }
        let mut datatype = Vec::new();
        if a.vlen {
            // class 9 version 1, bits: type string (1), padding, charset UTF-8
            datatype.extend([0x19, 0x01, 0x01, 0x00]);
            datatype.extend(16u32.to_le_bytes());
            // base type: 1-byte fixed string
            datatype.extend([0x13, 0x00, 0x00, 0x00]);
            datatype.extend(1u32.to_le_bytes());
        } else {
            datatype.extend([0x13, 0x00, 0x00, 0x00]);
            datatype.extend((a.value.len() as u32).to_le_bytes());
        }
        let type_size = datatype.len();
        // dataspace v1, scalar (rank 0)
        let space = vec![1u8, 0, 0, 0, 0, 0, 0, 0];
        let mut m = vec![1u8, 0];
        m.extend((name_size as u16).to_le_bytes());
        m.extend((type_size as u16).to_le_bytes());
        m.extend((space.len() as u16).to_le_bytes());
        m.extend(name);
        m.extend(&datatype);
        while m.len() % 8 != 0 {
            m.push(0);
        }
        m.extend(space);
        if a.vlen {
            m.extend((a.value.len() as u32).to_le_bytes());
            m.extend(heap_addr.to_le_bytes());
            m.extend(heap_index.to_le_bytes());
        } else {
            m.extend(a.value);
        }
        while m.len() % 8 != 0 {
            m.push(0);
        }
        m
    }

    fn v1_message(kind: u16, data: &[u8]) -> Vec<u8> {
        let mut out = kind.to_le_bytes().to_vec();
        out.extend((data.len() as u16).to_le_bytes());
        out.extend([0u8; 4]);
        out.extend(data);
        out
    }

    /// Superblock v0 + v1 root object header holding `attrs`; when `continuation` is set, the
    /// attributes live in a continuation block.
    pub(crate) fn file_v0(attrs: &[Attr<'_>], continuation: bool) -> Vec<u8> {
        let mut f = super::SIGNATURE.to_vec();
        f.extend([0, 0, 0, 0, 0, 8, 8, 0]); // versions, sizes of offsets/lengths
        f.extend([4, 0, 16, 0, 0, 0, 0, 0]); // K values, flags
        f.extend(0u64.to_le_bytes()); // base
        f.extend(u64::MAX.to_le_bytes()); // free space
        f.extend(0u64.to_le_bytes()); // EOF (patched below, unused)
        f.extend(u64::MAX.to_le_bytes()); // driver
        f.extend(0u64.to_le_bytes()); // link name offset
        let root_field = f.len();
        f.extend(0u64.to_le_bytes()); // root object header address (patched)
        f.extend([0u8; 24]); // cache type, reserved, scratch
        // Global heap for variable-length strings.
        let heap_addr = f.len() as u64;
        let mut heap = b"GCOL".to_vec();
        heap.extend([1, 0, 0, 0]);
        let mut objects = Vec::new();
        let mut index = 0u16;
        let mut indices = Vec::new();
        for a in attrs {
            if a.vlen {
                index += 1;
                objects.extend(index.to_le_bytes());
                objects.extend([0u8; 6]);
                objects.extend((a.value.len() as u64).to_le_bytes());
                objects.extend(a.value);
                while objects.len() % 8 != 0 {
                    objects.push(0);
                }
            }
            indices.push(u32::from(index));
        }
        let size = (16 + objects.len()).max(4096) as u64;
        heap.extend(size.to_le_bytes());
        heap.extend(&objects);
        heap.resize(size as usize, 0);
        f.extend(heap);
        let mut messages = Vec::new();
        for (a, idx) in attrs.iter().zip(&indices) {
            messages.extend(v1_message(0x000C, &attr_message(a, heap_addr, *idx)));
        }
        let header_addr = f.len() as u64;
        f.splice(root_field..root_field + 8, header_addr.to_le_bytes());
        let body = if continuation {
            let block_addr = header_addr + 16 + 24;
            let mut cont = block_addr.to_le_bytes().to_vec();
            cont.extend((messages.len() as u64).to_le_bytes());
            v1_message(0x0010, &cont)
        } else {
            messages.clone()
        };
        f.extend([1, 0]);
        f.extend(1u16.to_le_bytes());
        f.extend(1u32.to_le_bytes());
        f.extend((body.len() as u32).to_le_bytes());
        f.extend([0u8; 4]);
        f.extend(&body);
        if continuation {
            f.extend(&messages);
        }
        f
    }

    /// Superblock v2 + v2 object header (checksums are not verified by the reader and left 0).
    pub(crate) fn file_v2(attrs: &[Attr<'_>]) -> Vec<u8> {
        let mut f = super::SIGNATURE.to_vec();
        f.extend([2, 8, 8, 0]);
        f.extend(0u64.to_le_bytes());
        f.extend(u64::MAX.to_le_bytes());
        f.extend(0u64.to_le_bytes());
        let header_addr = (f.len() + 8 + 4) as u64;
        f.extend(header_addr.to_le_bytes());
        f.extend([0u8; 4]);
        let mut messages = Vec::new();
        for a in attrs {
            let data = attr_message(a, 0, 0);
            messages.push(0x0C);
            messages.extend((data.len() as u16).to_le_bytes());
            messages.push(0);
            messages.extend(data);
        }
        f.extend(b"OHDR");
        f.extend([2, 0x02]); // version 2, 4-byte chunk size
        f.extend(((messages.len() + 4) as u32).to_le_bytes());
        f.extend(&messages);
        f.extend([0u8; 4]);
        f
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::build::*;
    use super::*;

    fn parse(b: &[u8]) -> Result<RootAttributes, Hdf5Error> {
        root_attributes(&b, &Limits::default())
    }

    const CONFIG: &[u8] = br#"{"class_name": "Sequential", "config": {"layers": []}}"#;

    #[test]
    fn fixed_and_variable_length_strings_v0() {
        let attrs = [
            Attr {
                name: "keras_version",
                value: b"2.15.0",
                vlen: false,
            },
            Attr {
                name: "model_config",
                value: CONFIG,
                vlen: true,
            },
        ];
        for continuation in [false, true] {
            let r = parse(&file_v0(&attrs, continuation)).unwrap();
            assert_eq!(
                r.get("keras_version").and_then(Attribute::as_bytes),
                Some(b"2.15.0".as_slice())
            );
            assert_eq!(
                r.get("model_config").and_then(Attribute::as_bytes),
                Some(CONFIG)
            );
            assert_eq!(r.dense_storage, None);
        }
    }

    #[test]
    fn superblock_v2_object_header_v2() {
        let r = parse(&file_v2(&[Attr {
            name: "model_config",
            value: CONFIG,
            vlen: false,
        }]))
        .unwrap();
        assert_eq!(r.superblock_version, 2);
        assert_eq!(
            r.get("model_config").and_then(Attribute::as_bytes),
            Some(CONFIG)
        );
    }

    #[test]
    fn user_block_and_truncated_superblock() {
        // A superblock behind a 512-byte user block; its base address (0) makes addresses
        // absolute, so the root header is found after the user block.
        let inner = file_v2(&[Attr {
            name: "backend",
            value: b"tensorflow",
            vlen: false,
        }]);
        let mut f = vec![0u8; 512];
        f.extend(&inner);
        let header_field = 512 + 12 + 24;
        let rebased = (512 + 48u64).to_le_bytes();
        f.splice(header_field..header_field + 8, rebased);
        let r = parse(&f).unwrap();
        assert_eq!(
            r.get("backend").and_then(Attribute::as_bytes),
            Some(b"tensorflow".as_slice())
        );
        assert!(matches!(parse(SIGNATURE), Err(Hdf5Error::Malformed { .. })));
    }

    #[test]
    fn hostile_addresses_and_sizes() {
        let mut f = file_v0(
            &[Attr {
                name: "model_config",
                value: CONFIG,
                vlen: true,
            }],
            false,
        );
        // Point the root object header far past the end.
        let root_field = 8 + 16 + 8 * 4 + 8;
        f.splice(root_field..root_field + 8, (1u64 << 40).to_le_bytes());
        assert!(matches!(parse(&f), Err(Hdf5Error::OutOfBounds { .. })));
        assert!(matches!(parse(b"nothdf5!"), Err(Hdf5Error::NotHdf5)));
        let mut bad = SIGNATURE.to_vec();
        bad.extend([9u8; 64]);
        assert!(matches!(parse(&bad), Err(Hdf5Error::Version { .. })));
    }

    #[test]
    fn fallback_search_finds_balanced_json() {
        let mut data = vec![0u8; 3000];
        data.extend(br#"{"class_name": "Model", "config": {"s": "}{\"x"}}"#);
        data.extend([0u8; 100]);
        let (offset, json) =
            find_json_object(&data.as_slice(), br#"{"class_name""#, 1 << 20, 1 << 20).unwrap();
        assert_eq!(offset, 3000);
        assert!(serde_json::from_slice::<serde_json::Value>(&json).is_ok());
        assert!(
            find_json_object(
                &b"{\"class_name\": {".as_slice(),
                br#"{"class_name""#,
                100,
                100
            )
            .is_none()
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn never_panics(tail in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut f = SIGNATURE.to_vec();
            f.extend(&tail);
            let _ = root_attributes(&f.as_slice(), &Limits::default());
        }

        #[test]
        fn never_panics_on_mutated_file(pos in 0usize..400, byte in any::<u8>(), cont in any::<bool>()) {
            let mut f = file_v0(&[Attr { name: "model_config", value: CONFIG, vlen: true }], cont);
            if let Some(b) = f.get_mut(pos) {
                *b = byte;
            }
            let _ = root_attributes(&f.as_slice(), &Limits::default());
            let mut g = file_v2(&[Attr { name: "model_config", value: CONFIG, vlen: false }]);
            let at = pos % g.len().max(1);
            if let Some(b) = g.get_mut(at) {
                *b = byte;
            }
            let _ = root_attributes(&g.as_slice(), &Limits::default());
        }
    }
}
