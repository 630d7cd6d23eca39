//! Random-access byte sources, so that parsers can read the parts of a multi-GB file they need
//! (a zip's central directory, a safetensors header) without loading the file and without doing
//! I/O themselves. The scanner implements [`ByteSource`] for files; tests and fuzzers use slices.

use std::io;

/// A read at `offset` of `len` bytes failed (out of range, or the underlying read failed).
#[derive(Debug, thiserror::Error)]
#[error("cannot read {len} bytes at offset {offset}: {reason}")]
pub struct SourceError {
    /// Where the read started.
    pub offset: u64,
    /// How many bytes were asked for.
    pub len: u64,
    /// Why it failed.
    pub reason: String,
}

/// Random access to a fixed-length sequence of bytes.
pub trait ByteSource: Send + Sync {
    /// Total length in bytes.
    fn len(&self) -> u64;

    /// Fills `buf` from `offset`; fails if the range is not entirely inside the source.
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), SourceError>;

    /// True when the source has no bytes.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Reads `len` bytes at `offset` into a new vector, refusing more than `cap` bytes.
    fn read_vec(&self, offset: u64, len: u64, cap: u64) -> Result<Vec<u8>, SourceError> {
        if len > cap {
            return Err(SourceError {
                offset,
                len,
                reason: format!("refusing to read more than {cap} bytes at once"),
            });
        }
        let mut buf = vec![
            0u8;
            usize::try_from(len).map_err(|_| SourceError {
                offset,
                len,
                reason: "length does not fit in memory".to_owned(),
            })?
        ];
        self.read_at(offset, &mut buf)?;
        Ok(buf)
    }
}

fn range_error(offset: u64, len: usize, total: u64) -> SourceError {
    SourceError {
        offset,
        len: len as u64,
        reason: format!("past the end of the {total}-byte source"),
    }
}

impl ByteSource for [u8] {
    fn len(&self) -> u64 {
        <[u8]>::len(self) as u64
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), SourceError> {
        let total = <[u8]>::len(self) as u64;
        let start = usize::try_from(offset).map_err(|_| range_error(offset, buf.len(), total))?;
        let end = start
            .checked_add(buf.len())
            .ok_or_else(|| range_error(offset, buf.len(), total))?;
        let src = self
            .get(start..end)
            .ok_or_else(|| range_error(offset, buf.len(), total))?;
        buf.copy_from_slice(src);
        Ok(())
    }
}

impl ByteSource for &[u8] {
    fn len(&self) -> u64 {
        <[u8]>::len(self) as u64
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), SourceError> {
        (**self).read_at(offset, buf)
    }
}

impl ByteSource for Vec<u8> {
    fn len(&self) -> u64 {
        self.as_slice().len() as u64
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), SourceError> {
        self.as_slice().read_at(offset, buf)
    }
}

/// A window `[start, start + len)` of another source, addressed from 0 (an uncompressed archive
/// member read in place).
pub struct SubSource<'a> {
    inner: &'a dyn ByteSource,
    start: u64,
    len: u64,
}

impl<'a> SubSource<'a> {
    /// The window of `inner` starting at `start`, `len` bytes long; fails if it does not fit.
    pub fn new(inner: &'a dyn ByteSource, start: u64, len: u64) -> Result<Self, SourceError> {
        match start.checked_add(len) {
            Some(end) if end <= inner.len() => Ok(SubSource { inner, start, len }),
            _ => Err(SourceError {
                offset: start,
                len,
                reason: format!(
                    "window lies past the end of the {}-byte source",
                    inner.len()
                ),
            }),
        }
    }
}

impl ByteSource for SubSource<'_> {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), SourceError> {
        let end = offset.checked_add(buf.len() as u64);
        match end {
            Some(end) if end <= self.len => self.inner.read_at(self.start + offset, buf),
            _ => Err(range_error(offset, buf.len(), self.len)),
        }
    }
}

/// Sequential [`io::Read`] over a [`ByteSource`], buffered, tracking its position, so streaming
/// parsers (pickle) can run over files without loading them.
pub struct SourceReader<'a> {
    source: &'a dyn ByteSource,
    pos: u64,
    buf: Vec<u8>,
    buf_start: u64,
    buf_len: usize,
}

const READER_BUF: usize = 256 * 1024;

impl<'a> SourceReader<'a> {
    /// A reader starting at offset 0.
    pub fn new(source: &'a dyn ByteSource) -> Self {
        SourceReader {
            source,
            pos: 0,
            buf: Vec::new(),
            buf_start: 0,
            buf_len: 0,
        }
    }

    /// The offset of the next byte to be read.
    pub fn position(&self) -> u64 {
        self.pos
    }
}

impl io::Read for SourceReader<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let total = self.source.len();
        if self.pos >= total || out.is_empty() {
            return Ok(0);
        }
        let in_buf = self.pos >= self.buf_start && self.pos < self.buf_start + self.buf_len as u64;
        if !in_buf {
            // Large reads bypass the buffer.
            let remaining = total - self.pos;
            if out.len() >= READER_BUF {
                let n = (out.len() as u64).min(remaining) as usize;
                self.source
                    .read_at(self.pos, &mut out[..n])
                    .map_err(|e| io::Error::new(io::ErrorKind::UnexpectedEof, e))?;
                self.pos += n as u64;
                return Ok(n);
            }
            let n = (READER_BUF as u64).min(remaining) as usize;
            if self.buf.len() < n {
                self.buf.resize(n, 0);
            }
            self.source
                .read_at(self.pos, &mut self.buf[..n])
                .map_err(|e| io::Error::new(io::ErrorKind::UnexpectedEof, e))?;
            self.buf_start = self.pos;
            self.buf_len = n;
        }
        let skip = (self.pos - self.buf_start) as usize;
        let avail = &self.buf[skip..self.buf_len];
        let n = avail.len().min(out.len());
        out[..n].copy_from_slice(&avail[..n]);
        self.pos += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    #[test]
    fn slice_reads_are_bounds_checked() {
        let data: &[u8] = b"0123456789";
        let mut buf = [0u8; 4];
        assert!(data.read_at(6, &mut buf).is_ok());
        assert_eq!(&buf, b"6789");
        assert!(data.read_at(7, &mut buf).is_err());
        assert!(data.read_at(u64::MAX, &mut buf).is_err());
        assert!(data.read_vec(0, 100, 10).is_err());
    }

    #[test]
    fn sub_source_and_reader() {
        let data: &[u8] = b"0123456789";
        let sub = SubSource::new(&data, 2, 5).unwrap();
        assert!(SubSource::new(&data, 8, 5).is_err());
        let mut reader = SourceReader::new(&sub);
        let mut out = Vec::new();
        reader.read_to_end(&mut out).unwrap();
        assert_eq!(out, b"23456");
        assert_eq!(reader.position(), 5);
    }
}
