//! Splits a byte stream into records (JSONL lines, or CSV records whose quoted fields may span
//! lines) in bounded batches, without ever holding more than one batch plus one record.

use std::io::Read;

/// One record located in a [`Batch`]'s buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RawItem {
    /// Bytes `start..end` of the batch buffer, starting at 1-based line `line`.
    Record {
        /// 1-based line where the record starts.
        line: u64,
        /// Start offset in the batch buffer.
        start: usize,
        /// End offset (exclusive, without the line terminator).
        end: usize,
    },
    /// A record longer than the limit, skipped without being buffered.
    TooLong {
        /// 1-based line where it starts.
        line: u64,
        /// Its length in bytes.
        len: u64,
    },
}

/// A batch of complete records.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    pub(crate) buf: Vec<u8>,
    pub(crate) items: Vec<RawItem>,
}

/// Incremental record splitter over a reader.
pub(crate) struct Splitter<R> {
    reader: R,
    /// Bytes of an unfinished record carried to the next batch.
    carry: Vec<u8>,
    /// Line number of the first byte of `carry` (or of the next byte read when empty).
    carry_line: u64,
    /// Inside a quoted CSV field at the end of `carry`.
    carry_in_quotes: bool,
    /// Quote-aware splitting (CSV) or newline-only (JSONL).
    csv: bool,
    max_record: usize,
    /// Skipping an over-long record: its start line and length so far.
    skipping: Option<(u64, u64)>,
    eof: bool,
    /// Bytes read so far.
    pub(crate) bytes_read: u64,
}

impl<R: Read> Splitter<R> {
    pub(crate) fn new(reader: R, csv: bool, max_record: usize) -> Self {
        Splitter {
            reader,
            carry: Vec::new(),
            carry_line: 1,
            carry_in_quotes: false,
            csv,
            max_record,
            skipping: None,
            eof: false,
            bytes_read: 0,
        }
    }

    /// The underlying reader.
    pub(crate) fn reader(&self) -> &R {
        &self.reader
    }

    /// Fills `batch` with the complete records of the next chunk of input (about
    /// `chunk` bytes). Returns `false` when the input is exhausted.
    pub(crate) fn next_batch(&mut self, batch: &mut Batch, chunk: usize) -> std::io::Result<bool> {
        batch.items.clear();
        loop {
            if self.eof && self.carry.is_empty() && self.skipping.is_none() {
                return Ok(!batch.items.is_empty());
            }
            let mut buf = std::mem::take(&mut batch.buf);
            let base_line = self.carry_line;
            let in_quotes = self.carry_in_quotes;
            let carried = self.carry.len();
            buf.clear();
            buf.append(&mut self.carry);
            if !self.eof {
                let old = buf.len();
                buf.resize(old + chunk.max(4096), 0);
                let n = read_full(&mut self.reader, &mut buf[old..])?;
                buf.truncate(old + n);
                self.bytes_read += n as u64;
                if n == 0 {
                    self.eof = true;
                }
            }
            self.split(&buf, base_line, in_quotes, carried, batch);
            batch.buf = buf;
            if !batch.items.is_empty() {
                return Ok(true);
            }
        }
    }

    /// Finds record boundaries in `buf`; records go to `batch.items`, the unfinished tail to
    /// `self.carry` (or is skipped when over-long).
    fn split(
        &mut self,
        buf: &[u8],
        base_line: u64,
        mut in_quotes: bool,
        carried: usize,
        batch: &mut Batch,
    ) {
        let mut line = base_line;
        let mut rec_start = 0usize;
        let mut rec_line = base_line;
        // Resume scanning after the carried bytes (their quote state is `in_quotes`).
        let mut i = carried;
        // Lines inside the carried bytes were already counted into `base_line`'s record start but
        // not into `line`; recount them.
        line += count_newlines(&buf[..carried]);
        while i < buf.len() {
            let next = if self.csv {
                memchr::memchr2(b'\n', b'"', &buf[i..])
            } else {
                memchr::memchr(b'\n', &buf[i..])
            };
            let Some(rel) = next else { break };
            let at = i + rel;
            if buf[at] == b'"' {
                in_quotes = !in_quotes;
                i = at + 1;
                continue;
            }
            // A newline.
            line += 1;
            i = at + 1;
            if in_quotes {
                continue;
            }
            if let Some((start_line, len)) = self.skipping.take() {
                batch.items.push(RawItem::TooLong {
                    line: start_line,
                    len: len + at as u64,
                });
            } else {
                let mut end = at;
                if end > rec_start && buf[end - 1] == b'\r' {
                    end -= 1;
                }
                if end - rec_start > self.max_record {
                    batch.items.push(RawItem::TooLong {
                        line: rec_line,
                        len: (end - rec_start) as u64,
                    });
                } else {
                    batch.items.push(RawItem::Record {
                        line: rec_line,
                        start: rec_start,
                        end,
                    });
                }
            }
            rec_start = i;
            rec_line = line;
        }
        let tail = &buf[rec_start..];
        if let Some((start_line, len)) = self.skipping.as_mut() {
            *len += tail.len() as u64;
            let _ = start_line;
            if self.eof {
                let (start_line, len) = self.skipping.take().unwrap_or_default();
                batch.items.push(RawItem::TooLong {
                    line: start_line,
                    len,
                });
            }
            self.carry_line = line;
            self.carry_in_quotes = in_quotes;
            return;
        }
        if self.eof {
            if !tail.is_empty() {
                let mut end = buf.len();
                if buf[end - 1] == b'\r' {
                    end -= 1;
                }
                if end - rec_start > self.max_record {
                    batch.items.push(RawItem::TooLong {
                        line: rec_line,
                        len: (end - rec_start) as u64,
                    });
                } else {
                    batch.items.push(RawItem::Record {
                        line: rec_line,
                        start: rec_start,
                        end,
                    });
                }
            }
            self.carry.clear();
            return;
        }
        if tail.len() > self.max_record {
            self.skipping = Some((rec_line, tail.len() as u64));
            self.carry.clear();
            self.carry_line = line;
        } else {
            self.carry.extend_from_slice(tail);
            self.carry_line = rec_line;
        }
        self.carry_in_quotes = in_quotes;
    }
}

fn count_newlines(bytes: &[u8]) -> u64 {
    memchr::memchr_iter(b'\n', bytes).count() as u64
}

fn read_full<R: Read>(reader: &mut R, mut buf: &mut [u8]) -> std::io::Result<usize> {
    let mut total = 0;
    while !buf.is_empty() {
        match reader.read(buf) {
            Ok(0) => break,
            Ok(n) => {
                total += n;
                buf = &mut buf[n..];
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split_all(input: &[u8], csv: bool, max: usize) -> Vec<(u64, String)> {
        let mut s = Splitter::new(input, csv, max);
        let mut batch = Batch::default();
        let mut out = Vec::new();
        while s.next_batch(&mut batch, 7).unwrap() {
            for item in &batch.items {
                match *item {
                    RawItem::Record { line, start, end } => out.push((
                        line,
                        String::from_utf8_lossy(&batch.buf[start..end]).into_owned(),
                    )),
                    RawItem::TooLong { line, len } => out.push((line, format!("<too long {len}>"))),
                }
            }
        }
        out
    }

    #[test]
    fn jsonl_lines_and_crlf() {
        let got = split_all(b"{\"a\":1}\r\n\n{\"b\":2}", false, 100);
        assert_eq!(
            got,
            [
                (1, "{\"a\":1}".into()),
                (2, String::new()),
                (3, "{\"b\":2}".into())
            ]
        );
    }

    #[test]
    fn csv_quoted_newlines_stay_in_one_record() {
        let got = split_all(b"a,b\n\"x\ny\",2\nz,3\n", true, 100);
        assert_eq!(
            got,
            [
                (1, "a,b".into()),
                (2, "\"x\ny\",2".into()),
                (4, "z,3".into())
            ]
        );
    }

    #[test]
    fn over_long_records_are_skipped_not_buffered() {
        let mut input = b"ok\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', 5000));
        input.extend_from_slice(b"\nfine\n");
        let got = split_all(&input, false, 100);
        assert_eq!(got[0], (1, "ok".into()));
        assert_eq!(got[1], (2, "<too long 5000>".into()));
        assert_eq!(got[2], (3, "fine".into()));
    }

    #[test]
    fn small_reads_give_same_records() {
        let input = b"l1\nline two\n\nl4 has \"quotes\"\nlast";
        let got = split_all(input, false, 1000);
        assert_eq!(got.len(), 5);
        assert_eq!(got[4], (5, "last".into()));
    }
}
