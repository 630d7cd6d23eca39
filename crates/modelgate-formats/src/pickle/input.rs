//! A small buffered cursor over any [`std::io::Read`], tracking the absolute offset, so that the
//! opcode decoder can take one byte at a time without a call per byte and can skip multi-GB
//! payloads in bounded chunks without allocating their declared length.

use std::io::{self, Read};

use crate::ByteSource;

/// A byte stream the decoder can also skip forward in. Streams skip by reading through;
/// random-access sources (files, archive members) skip without reading, so multi-GB joblib
/// arrays, legacy torch storages and trailing data cost nothing to pass over.
pub(crate) trait Source: Read {
    /// Skips up to `n` bytes; returns how many were skipped (fewer only at end of stream).
    fn skip(&mut self, n: u64) -> io::Result<u64>;
}

/// Any [`Read`], skipping by reading through.
pub(crate) struct Streaming<R>(pub(crate) R);

impl<R: Read> Read for Streaming<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl<R: Read> Source for Streaming<R> {
    fn skip(&mut self, n: u64) -> io::Result<u64> {
        io::copy(&mut self.0.by_ref().take(n), &mut io::sink())
    }
}

impl Source for &[u8] {
    fn skip(&mut self, n: u64) -> io::Result<u64> {
        let k = usize::try_from(n).unwrap_or(usize::MAX).min(self.len());
        *self = self.get(k..).unwrap_or_default();
        Ok(k as u64)
    }
}

/// A [`ByteSource`] read sequentially with positioned reads, skipping by moving the position.
pub(crate) struct RandomAccess<'a> {
    src: &'a dyn ByteSource,
    pos: u64,
}

impl<'a> RandomAccess<'a> {
    pub(crate) fn new(src: &'a dyn ByteSource) -> Self {
        RandomAccess { src, pos: 0 }
    }
}

impl Read for RandomAccess<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.src.len().saturating_sub(self.pos);
        let n = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
        if n == 0 {
            return Ok(0);
        }
        let out = buf.get_mut(..n).unwrap_or_default();
        self.src
            .read_at(self.pos, out)
            .map_err(|e| io::Error::new(io::ErrorKind::UnexpectedEof, e))?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl Source for RandomAccess<'_> {
    fn skip(&mut self, n: u64) -> io::Result<u64> {
        let k = n.min(self.src.len().saturating_sub(self.pos));
        self.pos += k;
        Ok(k)
    }
}

const BUF_LEN: usize = 64 * 1024;

/// What went wrong underneath an opcode read.
#[derive(Debug)]
pub(crate) enum InputError {
    /// The stream ended; `got` of the requested bytes were available.
    Eof,
    /// The byte budget (`Limits::max_pickle_bytes`) is spent.
    Budget,
    /// The underlying reader failed.
    Io(io::Error),
}

pub(crate) struct Input<R> {
    inner: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Absolute offset of `buf[start]`.
    offset: u64,
    /// Absolute offset past which nothing may be read.
    budget_end: u64,
    eof: bool,
}

/// Payload bytes left beyond which the buffer is bypassed and the source skips directly.
const SKIP_DIRECT: u64 = BUF_LEN as u64;

impl<R: Source> Input<R> {
    #[cfg(test)]
    pub(crate) fn new(inner: R, budget: u64) -> Self {
        Self::with_buffer(inner, budget, BUF_LEN)
    }

    /// An input with a smaller buffer, for short in-memory streams (sniffing, verifying
    /// embedded values) where a 64 KiB buffer per call would dominate the cost.
    pub(crate) fn with_buffer(inner: R, budget: u64, len: usize) -> Self {
        Input {
            inner,
            buf: vec![0; len.clamp(16, BUF_LEN)],
            start: 0,
            end: 0,
            offset: 0,
            budget_end: budget,
            eof: false,
        }
    }

    /// Offset of the next byte to be read.
    pub(crate) fn offset(&self) -> u64 {
        self.offset
    }

    /// Refills the buffer; returns false at end of stream.
    #[inline]
    fn fill(&mut self) -> Result<bool, InputError> {
        if self.start < self.end {
            return Ok(true);
        }
        self.refill()
    }

    #[cold]
    fn refill(&mut self) -> Result<bool, InputError> {
        if self.eof {
            return Ok(false);
        }
        self.start = 0;
        self.end = 0;
        loop {
            match self.inner.read(&mut self.buf) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(false);
                }
                Ok(n) => {
                    self.end = n.min(self.buf.len());
                    return Ok(true);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(InputError::Io(e)),
            }
        }
    }

    fn check_budget(&self, n: u64) -> Result<(), InputError> {
        match self.offset.checked_add(n) {
            Some(end) if end <= self.budget_end => Ok(()),
            _ => Err(InputError::Budget),
        }
    }

    /// True when no byte remains (or the budget is spent exactly).
    pub(crate) fn at_end(&mut self) -> Result<bool, InputError> {
        Ok(!self.fill()?)
    }

    /// Up to `out.len()` bytes without consuming them; returns how many were available.
    pub(crate) fn peek_into(&mut self, out: &mut [u8]) -> Result<usize, InputError> {
        if !self.fill()? {
            return Ok(0);
        }
        // Only what is already buffered, topped up once by compacting if needed.
        if self.end - self.start < out.len() && !self.eof {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            let want = out.len().min(self.buf.len());
            while self.end < want {
                match self.inner.read(&mut self.buf[self.end..]) {
                    Ok(0) => {
                        self.eof = true;
                        break;
                    }
                    Ok(n) => self.end += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(InputError::Io(e)),
                }
            }
        }
        let avail = &self.buf[self.start..self.end];
        let n = avail.len().min(out.len());
        out[..n].copy_from_slice(&avail[..n]);
        Ok(n)
    }

    #[inline]
    pub(crate) fn byte(&mut self) -> Result<u8, InputError> {
        if self.start < self.end && self.offset < self.budget_end {
            let b = self.buf[self.start];
            self.start += 1;
            self.offset += 1;
            return Ok(b);
        }
        self.byte_slow()
    }

    #[cold]
    fn byte_slow(&mut self) -> Result<u8, InputError> {
        self.check_budget(1)?;
        if !self.fill()? {
            return Err(InputError::Eof);
        }
        let b = self.buf[self.start];
        self.start += 1;
        self.offset += 1;
        Ok(b)
    }

    /// Exactly `N` bytes (N is small: an integer argument).
    #[inline]
    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], InputError> {
        let mut out = [0u8; N];
        let fits_budget = self
            .offset
            .checked_add(N as u64)
            .is_some_and(|end| end <= self.budget_end);
        if fits_budget
            && let Some(src) = self
                .buf
                .get(self.start..self.start + N)
                .filter(|_| self.start + N <= self.end)
        {
            out.copy_from_slice(src);
            self.start += N;
            self.offset += N as u64;
            return Ok(out);
        }
        self.read_exact(&mut out)?;
        Ok(out)
    }

    pub(crate) fn read_exact(&mut self, out: &mut [u8]) -> Result<(), InputError> {
        self.check_budget(out.len() as u64)?;
        let mut done = 0;
        while done < out.len() {
            if !self.fill()? {
                return Err(InputError::Eof);
            }
            let avail = &self.buf[self.start..self.end];
            let n = avail.len().min(out.len() - done);
            out[done..done + n].copy_from_slice(&avail[..n]);
            self.start += n;
            self.offset += n as u64;
            done += n;
        }
        Ok(())
    }

    /// Reads up to and including the next `\n`, appending the line without it to `out`; fails
    /// (without unbounded growth) once the line exceeds `cap` bytes.
    pub(crate) fn line(&mut self, out: &mut Vec<u8>, cap: usize) -> Result<bool, InputError> {
        out.clear();
        loop {
            if !self.fill()? {
                return Err(InputError::Eof);
            }
            let avail = &self.buf[self.start..self.end];
            let (take, found) = match avail.iter().position(|&b| b == b'\n') {
                Some(i) => (i + 1, true),
                None => (avail.len(), false),
            };
            self.check_budget(take as u64)?;
            let body = if found { &avail[..take - 1] } else { avail };
            if out.len() + body.len() > cap {
                return Ok(false);
            }
            out.extend_from_slice(body);
            self.start += take;
            self.offset += take as u64;
            if found {
                return Ok(true);
            }
        }
    }

    /// Consumes `len` bytes, copying the first `keep` of them into `out` (cleared first). Reads
    /// in bounded chunks: a lying length fails at end of stream without allocating it.
    pub(crate) fn payload(
        &mut self,
        len: u64,
        keep: usize,
        out: &mut Vec<u8>,
    ) -> Result<(), InputError> {
        out.clear();
        self.check_budget(len)?;
        let mut left = len;
        while left > 0 {
            if self.start == self.end && out.len() >= keep && left > SKIP_DIRECT {
                let k = self.inner.skip(left).map_err(InputError::Io)?;
                if k == 0 {
                    self.eof = true;
                    return Err(InputError::Eof);
                }
                self.offset += k;
                left -= k;
                continue;
            }
            if !self.fill()? {
                return Err(InputError::Eof);
            }
            let avail = &self.buf[self.start..self.end];
            let n = (avail.len() as u64).min(left) as usize;
            let room = keep.saturating_sub(out.len()).min(n);
            if room > 0 {
                out.extend_from_slice(&avail[..room]);
            }
            self.start += n;
            self.offset += n as u64;
            left -= n as u64;
        }
        Ok(())
    }

    /// Consumes `len` bytes of raw data that is not pickle opcodes (joblib array data, legacy
    /// torch storages): bounded by the stream itself, not by the pickle byte budget.
    pub(crate) fn skip_raw(&mut self, len: u64) -> Result<(), InputError> {
        self.budget_end = self.budget_end.saturating_add(len);
        let mut none = Vec::new();
        self.payload(len, 0, &mut none)
    }

    /// [`Input::skip_raw`], keeping the bytes (the caller has capped `len`).
    pub(crate) fn skip_raw_keep(&mut self, len: u64, out: &mut Vec<u8>) -> Result<(), InputError> {
        self.budget_end = self.budget_end.saturating_add(len);
        out.clear();
        self.payload(len, usize::try_from(len).unwrap_or(usize::MAX), out)
    }

    /// Consumes everything left, returning how many bytes that was.
    pub(crate) fn drain(&mut self) -> Result<u64, InputError> {
        let mut total = 0u64;
        if self.fill()? {
            let n = self.end - self.start;
            total += n as u64;
            self.offset += n as u64;
            self.start = self.end;
        }
        loop {
            let k = self.inner.skip(u64::MAX).map_err(InputError::Io)?;
            if k == 0 {
                self.eof = true;
                return Ok(total);
            }
            total = total.saturating_add(k);
            self.offset = self.offset.saturating_add(k);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_payloads_and_budget() {
        let data: &[u8] = b"abc\nxyz0123456789";
        let mut input = Input::new(data, 1000);
        let mut line = Vec::new();
        assert!(input.line(&mut line, 10).unwrap());
        assert_eq!(line, b"abc");
        assert_eq!(input.offset(), 4);
        let mut peek = [0u8; 2];
        assert_eq!(input.peek_into(&mut peek).unwrap(), 2);
        assert_eq!(&peek, b"xy");
        let mut kept = Vec::new();
        input.payload(5, 2, &mut kept).unwrap();
        assert_eq!(kept, b"xy");
        assert_eq!(input.byte().unwrap(), b'2');
        assert!(matches!(
            input.payload(100, 0, &mut kept),
            Err(InputError::Eof)
        ));
        let mut small = Input::new(data, 3);
        assert!(matches!(small.array::<4>(), Err(InputError::Budget)));
    }

    #[test]
    fn long_line_is_refused() {
        let data: &[u8] = b"aaaaaaaaaaaaaaaa\n";
        let mut input = Input::new(data, 1000);
        let mut line = Vec::new();
        assert!(!input.line(&mut line, 4).unwrap());
    }
}
