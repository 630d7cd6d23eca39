//! Opening a member's data: a window on the source for stored members, a capped in-memory
//! expansion for compressed ones.

use crate::compress::{Caps, Codec, Decompressed, decompress};
use crate::{ByteSource, SubSource};

use super::Entry;

/// A member's bytes.
pub enum MemberData<'a> {
    /// Stored (method 0): the member's bytes in place.
    Stored(SubSource<'a>),
    /// Compressed: what the expansion recovered, and why it stopped early if it did.
    Expanded(Decompressed),
}

/// Why a member's data cannot be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MemberError {
    /// The local header was not read, so where the data starts is unknown.
    #[error("the member's local header is missing, so its data cannot be located")]
    NoLocalHeader,
    /// The member is encrypted.
    #[error("the member is encrypted")]
    Encrypted,
    /// The compression method is not supported.
    #[error("compression method {method} is not supported")]
    UnsupportedMethod {
        /// The method number.
        method: u16,
    },
    /// The data does not fit in the source.
    #[error("the member's {len} data bytes at offset {offset} run past the end of the archive")]
    OutOfBounds {
        /// Data start.
        offset: u64,
        /// Compressed size.
        len: u64,
    },
}

/// Opens `entry`'s data in `src` (the archive it was parsed from).
pub fn member_data<'a>(
    src: &'a dyn ByteSource,
    entry: &Entry,
    caps: &Caps,
) -> Result<MemberData<'a>, MemberError> {
    if entry.is_encrypted() {
        return Err(MemberError::Encrypted);
    }
    let offset = entry.data_offset.ok_or(MemberError::NoLocalHeader)?;
    let len = entry.compressed_size;
    let window =
        SubSource::new(src, offset, len).map_err(|_| MemberError::OutOfBounds { offset, len })?;
    let codec = match entry.method {
        0 => return Ok(MemberData::Stored(window)),
        8 => Codec::Deflate,
        12 => Codec::Bzip2,
        14 => Codec::ZipLzma {
            // Flag bit 1 says the stream ends with an end marker instead of at a known size.
            unpacked_size: (entry.flags & 2 == 0).then_some(entry.uncompressed_size),
        },
        93 => Codec::Zstd,
        method => return Err(MemberError::UnsupportedMethod { method }),
    };
    Ok(MemberData::Expanded(decompress(codec, &window, caps)))
}

/// CRC-32 (IEEE) of `data`, to check an expanded member against its entry.
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = flate2::Crc::new();
    crc.update(data);
    crc.sum()
}
