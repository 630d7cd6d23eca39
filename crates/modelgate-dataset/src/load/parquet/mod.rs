//! Parquet, read row by row with the `parquet` crate's record API (no Arrow), after validating
//! everything it would otherwise trust:
//!
//! 1. the footer: magic, length within the file and `max_parquet_metadata_bytes`, and a full
//!    walk of its Thrift encoding in which every list count must fit in the bytes that follow
//!    (the crate pre-allocates lists from declared counts);
//! 2. the schema and row groups: leaf columns ≤ `max_fields`, nesting ≤ `max_depth`, row counts
//!    ≤ `max_rows` and consistent, every column chunk inside the file, supported codecs only;
//! 3. every page header of every column chunk, walked exactly as the crate will walk them:
//!    sizes inside the chunk, decompressed size ≤ `max_parquet_page_bytes`, per row group the
//!    decoded bytes held at once ≤ `max_parquet_row_group_bytes`; gzip and zstd pages (whose
//!    decoders in the crate read to the end of the stream, whatever the header says) are
//!    decompressed once through a bounded reader and must produce exactly the declared size.
//!
//! Rows are then streamed one row group at a time and turned into one JSON object per row, so
//! they go through the same row parser, limits and detectors as JSONL. The crate can still panic
//! on malformed encoded data (its record reader asserts on schema shapes and on level data); as a
//! last resort every call into it runs under `catch_unwind`, and a panic is a clear error naming
//! the file and row (the default panic hook may print the crate's message on stderr).

mod thrift;

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::Mutex;
use std::time::SystemTime;

use parquet::basic::Compression;
use parquet::file::metadata::ParquetMetaData;
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::reader::RowIter;
use parquet::record::{Field, Row};
use serde_json::{Map, Number, Value};
use sha2::{Digest as _, Sha256};

use super::split::{Batch, RawItem};
use crate::DatasetLimits;

/// A Parquet file being streamed as JSON rows.
pub(crate) struct ParquetSource {
    /// In a mutex only to make the reader `Sync` (batches are parsed in parallel while the
    /// reader is shared); it is only ever reached through `get_mut`, never locked.
    rows: Mutex<RowIter<'static>>,
    /// 1-based number of the next row.
    next_row: u64,
    total_rows: u64,
    sha256: [u8; 32],
    size: u64,
    modified: Option<SystemTime>,
    file: File,
    max_line: usize,
    done: bool,
}

/// Why a Parquet file cannot be read (the caller adds the path).
pub(crate) type Error = String;

fn io_err(e: &std::io::Error) -> Error {
    format!("read error: {e}")
}

/// Runs `f`, turning a panic inside the `parquet` crate into an error.
fn guarded<T>(what: &str, f: impl FnOnce() -> T) -> Result<T, Error> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|_| {
        format!("the Parquet decoder failed on malformed data while {what} (the file is corrupt or hostile)")
    })
}

impl ParquetSource {
    /// Validates `path` and prepares to stream its rows.
    pub(crate) fn open(path: &Path, limits: &DatasetLimits) -> Result<Self, Error> {
        let mut file = File::open(path).map_err(|e| io_err(&e))?;
        let meta = file.metadata().map_err(|e| io_err(&e))?;
        let size = meta.len();
        let modified = meta.modified().ok();
        let sha256 = hash_file(&mut file)?;
        let metadata_len = check_footer(&mut file, size, limits)?;
        let reader_file = file.try_clone().map_err(|e| io_err(&e))?;
        let reader = guarded("reading the footer", || {
            SerializedFileReader::new(reader_file)
        })?
        .map_err(|e| format!("invalid footer: {e}"))?;
        let total_rows = check_metadata(reader.metadata(), size - 8 - metadata_len, limits)?;
        walk_pages(&mut file, reader.metadata(), limits)?;
        let rows = Mutex::new(RowIter::from_file_into(Box::new(reader)));
        Ok(ParquetSource {
            rows,
            next_row: 1,
            total_rows,
            sha256,
            size,
            modified,
            file,
            max_line: limits.max_line_bytes,
            done: false,
        })
    }

    /// The SHA-256 of the file (hashed in full when it was opened).
    pub(crate) fn sha256(&self) -> [u8; 32] {
        self.sha256
    }

    /// The file's size.
    pub(crate) fn size(&self) -> u64 {
        self.size
    }

    /// Fills `batch` with about `chunk` bytes of rows, one JSON object each, their `line` the
    /// 1-based row number. Returns `false` after the last row.
    pub(crate) fn next_batch(&mut self, batch: &mut Batch, chunk: usize) -> Result<bool, Error> {
        batch.buf.clear();
        batch.items.clear();
        while !self.done && batch.buf.len() < chunk {
            let row_no = self.next_row;
            let rows = self
                .rows
                .get_mut()
                .map_err(|_| "row reader poisoned".to_owned())?;
            let next = guarded(&format!("decoding row {row_no}"), || rows.next())?;
            let row = match next {
                None => {
                    self.done = true;
                    if row_no - 1 != self.total_rows {
                        return Err(format!(
                            "the footer declares {} rows but {} were read",
                            self.total_rows,
                            row_no - 1
                        ));
                    }
                    self.check_unchanged()?;
                    break;
                }
                Some(Err(e)) => {
                    self.done = true;
                    return Err(format!("row {row_no}: {e}"));
                }
                Some(Ok(row)) => row,
            };
            self.next_row += 1;
            let value = row_value(row);
            let start = batch.buf.len();
            serde_json::to_writer(&mut batch.buf, &value)
                .map_err(|e| format!("row {row_no}: {e}"))?;
            let len = batch.buf.len() - start;
            if len > self.max_line {
                batch.buf.truncate(start);
                batch.items.push(RawItem::TooLong {
                    line: row_no,
                    len: len as u64,
                });
            } else {
                batch.items.push(RawItem::Record {
                    line: row_no,
                    start,
                    end: start + len,
                });
            }
        }
        Ok(!batch.items.is_empty())
    }

    /// The digest was taken when the file was opened; the rows come from later reads. A file
    /// that changed in between is refused rather than reported under the wrong digest.
    fn check_unchanged(&self) -> Result<(), Error> {
        let meta = self.file.metadata().map_err(|e| io_err(&e))?;
        if meta.len() != self.size || meta.modified().ok() != self.modified {
            return Err("the file changed while it was being read".to_owned());
        }
        Ok(())
    }
}

/// Hashes the whole file (its rows are read later by random access).
fn hash_file(file: &mut File) -> Result<[u8; 32], Error> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io_err(&e)),
        }
    }
    Ok(hasher.finalize().into())
}

fn read_at(file: &mut File, offset: u64, buf: &mut [u8]) -> Result<(), Error> {
    file.seek(SeekFrom::Start(offset)).map_err(|e| io_err(&e))?;
    file.read_exact(buf).map_err(|e| io_err(&e))
}

/// Checks the magic numbers and the footer length, and walks the footer's Thrift encoding.
/// Returns the footer length.
fn check_footer(file: &mut File, size: u64, limits: &DatasetLimits) -> Result<u64, Error> {
    if size < 12 {
        return Err(format!("{size} bytes is too short for a Parquet file"));
    }
    let mut head = [0u8; 4];
    read_at(file, 0, &mut head)?;
    let mut tail = [0u8; 8];
    read_at(file, size - 8, &mut tail)?;
    if &tail[4..] == b"PARE" {
        return Err(
            "the file is encrypted (PARE footer); encrypted Parquet is not supported".into(),
        );
    }
    if &head != b"PAR1" || &tail[4..] != b"PAR1" {
        return Err("missing PAR1 magic at the start or end (truncated file?)".into());
    }
    let len = u64::from(u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]));
    if len > size - 12 {
        return Err(format!(
            "the footer claims {len} bytes but the file has only {} before it (truncated file?)",
            size - 12
        ));
    }
    if len > limits.max_parquet_metadata_bytes {
        return Err(format!(
            "the footer is {len} bytes, over the limit of {}",
            limits.max_parquet_metadata_bytes
        ));
    }
    let mut footer = vec![0u8; usize::try_from(len).map_err(|_| "footer too large".to_owned())?];
    read_at(file, size - 8 - len, &mut footer)?;
    let mut c = thrift::Compact::new(&footer);
    c.skip_value(thrift::STRUCT, 0)
        .map_err(|e| format!("invalid footer encoding: {e:?}"))?;
    Ok(len)
}

/// Checks the schema and row groups against the limits; returns the row count.
fn check_metadata(
    md: &ParquetMetaData,
    data_end: u64,
    limits: &DatasetLimits,
) -> Result<u64, Error> {
    let schema = md.file_metadata().schema_descr();
    if schema.num_columns() > limits.max_fields {
        return Err(format!(
            "{} columns, more than the limit of {} (raise --max-fields)",
            schema.num_columns(),
            limits.max_fields
        ));
    }
    for col in schema.columns() {
        let depth = col.path().parts().len() + usize::from(col.max_rep_level().unsigned_abs());
        if depth > limits.max_depth as usize {
            return Err(format!(
                "column `{}` is nested {depth} levels deep, more than the limit of {} (raise --max-depth)",
                col.path(),
                limits.max_depth
            ));
        }
    }
    let declared = md.file_metadata().num_rows();
    let declared = u64::try_from(declared).map_err(|_| format!("negative row count {declared}"))?;
    if declared > limits.max_rows {
        return Err(format!(
            "the footer declares {declared} rows, more than the limit of {} (raise --max-rows)",
            limits.max_rows
        ));
    }
    let mut sum = 0u64;
    for (g, rg) in md.row_groups().iter().enumerate() {
        let n = u64::try_from(rg.num_rows())
            .map_err(|_| format!("row group {g}: negative row count"))?;
        sum = sum.saturating_add(n);
        if rg.num_columns() != schema.num_columns() {
            return Err(format!(
                "row group {g}: column count differs from the schema"
            ));
        }
        for (c, col) in rg.columns().iter().enumerate() {
            let name = schema.column(c).path().string();
            let start = col
                .dictionary_page_offset()
                .unwrap_or(col.data_page_offset());
            let len = col.compressed_size();
            let (Ok(start), Ok(len)) = (u64::try_from(start), u64::try_from(len)) else {
                return Err(format!(
                    "row group {g}, column `{name}`: negative offset or size"
                ));
            };
            if start < 4 || start.saturating_add(len) > data_end {
                return Err(format!(
                    "row group {g}, column `{name}`: column data at {start}+{len} lies outside the file's data (truncated file?)"
                ));
            }
            match col.compression() {
                Compression::UNCOMPRESSED
                | Compression::SNAPPY
                | Compression::GZIP(_)
                | Compression::ZSTD(_)
                | Compression::LZ4_RAW => {}
                other => {
                    return Err(format!(
                        "row group {g}, column `{name}`: compression {other} is not supported (supported: none, snappy, gzip, zstd, lz4_raw)"
                    ));
                }
            }
        }
    }
    if sum != declared {
        return Err(format!(
            "the footer declares {declared} rows but its row groups hold {sum}"
        ));
    }
    Ok(declared)
}

/// Walks every page header of every column chunk as the crate will, enforcing the page limits.
fn walk_pages(file: &mut File, md: &ParquetMetaData, limits: &DatasetLimits) -> Result<(), Error> {
    let mut reader = BufReader::with_capacity(64 * 1024, file);
    let mut header_buf: Vec<u8> = Vec::new();
    let mut page_buf: Vec<u8> = Vec::new();
    let schema = md.file_metadata().schema_descr();
    for (g, rg) in md.row_groups().iter().enumerate() {
        let mut group_bytes = 0u64;
        for (c, col) in rg.columns().iter().enumerate() {
            let name = || {
                format!(
                    "row group {g}, column `{}`",
                    schema.column(c).path().string()
                )
            };
            // Offsets and sizes were checked non-negative in `check_metadata`.
            let start = col
                .dictionary_page_offset()
                .unwrap_or(col.data_page_offset())
                .unsigned_abs();
            let mut offset = start;
            let mut remaining = col.compressed_size().unsigned_abs();
            let codec = col.compression();
            let (mut largest, mut dictionary) = (0u64, 0u64);
            while remaining > 0 {
                let h = read_page_header(&mut reader, offset, remaining, &mut header_buf)
                    .map_err(|e| format!("{}: page header at byte {offset}: {e}", name()))?;
                let compressed = h.compressed.unsigned_abs();
                let uncompressed = h.uncompressed.unsigned_abs();
                let header_len = h.header_len as u64;
                if header_len + compressed > remaining {
                    return Err(format!(
                        "{}: a page at byte {offset} runs past the end of its column chunk",
                        name()
                    ));
                }
                if uncompressed > limits.max_parquet_page_bytes {
                    return Err(format!(
                        "{}: a page decompresses to {uncompressed} bytes, over the limit of {}",
                        name(),
                        limits.max_parquet_page_bytes
                    ));
                }
                let data_start = offset + header_len;
                if h.kind == 2 {
                    dictionary = dictionary.max(uncompressed);
                } else {
                    largest = largest.max(uncompressed);
                }
                let levels = h.v2_levels.unsigned_abs();
                let compressed_values = h.kind != 3 || h.v2_compressed;
                if matches!(codec, Compression::GZIP(_) | Compression::ZSTD(_))
                    && compressed_values
                    && h.kind != 1
                {
                    if levels > compressed.min(uncompressed) {
                        return Err(format!("{}: invalid data page v2 level lengths", name()));
                    }
                    page_buf.clear();
                    reader
                        .seek(SeekFrom::Start(data_start + levels))
                        .map_err(|e| io_err(&e))?;
                    (&mut reader)
                        .take(compressed - levels)
                        .read_to_end(&mut page_buf)
                        .map_err(|e| io_err(&e))?;
                    let got = bounded_decompressed_len(codec, &page_buf, uncompressed - levels)
                        .map_err(|e| format!("{}: page at byte {offset}: {e}", name()))?;
                    if got != uncompressed - levels {
                        return Err(format!(
                            "{}: a page at byte {offset} decompresses to more or fewer bytes than its header declares",
                            name()
                        ));
                    }
                }
                offset = data_start + compressed;
                remaining -= header_len + compressed;
            }
            group_bytes = group_bytes.saturating_add(largest + dictionary);
        }
        if group_bytes > limits.max_parquet_row_group_bytes {
            return Err(format!(
                "row group {g} needs {group_bytes} bytes of decoded pages at once, over the limit of {}",
                limits.max_parquet_row_group_bytes
            ));
        }
    }
    Ok(())
}

/// Reads and parses the page header at `offset`, growing the read until the header parses
/// (statistics can make headers long), never past the chunk or the metadata limit.
fn read_page_header(
    reader: &mut BufReader<&mut File>,
    offset: u64,
    remaining: u64,
    buf: &mut Vec<u8>,
) -> Result<thrift::PageHeader, String> {
    let mut want = 1024u64.min(remaining);
    loop {
        buf.clear();
        reader
            .seek(SeekFrom::Start(offset))
            .map_err(|e| io_err(&e))?;
        reader
            .by_ref()
            .take(want)
            .read_to_end(buf)
            .map_err(|e| io_err(&e))?;
        match thrift::page_header(buf) {
            Ok(h) => return Ok(h),
            Err(thrift::ThriftError::Truncated) if want < remaining && want < (16 << 20) => {
                want = (want * 8).min(remaining).min(16 << 20);
            }
            Err(e) => return Err(format!("invalid page header ({e:?})")),
        }
    }
}

/// Decompresses a gzip or zstd page through a reader capped at `expected + 1` bytes; returns
/// how many bytes came out.
fn bounded_decompressed_len(codec: Compression, data: &[u8], expected: u64) -> Result<u64, String> {
    let mut sink = std::io::sink();
    let cap = expected + 1;
    let n = match codec {
        Compression::GZIP(_) => std::io::copy(
            &mut flate2::read::MultiGzDecoder::new(data).take(cap),
            &mut sink,
        ),
        Compression::ZSTD(_) => {
            let dec = zstd::Decoder::new(data).map_err(|e| format!("zstd: {e}"))?;
            std::io::copy(&mut dec.take(cap), &mut sink)
        }
        _ => return Ok(expected),
    };
    n.map_err(|e| format!("cannot decompress: {e}"))
}

/// One row as a JSON object: strings, numbers, booleans, lists, objects for nested groups and
/// maps; `null` for missing values, non-finite floats and binary values that are not UTF-8;
/// dates, times and timestamps as their integer encodings; decimals as strings.
fn row_value(row: Row) -> Value {
    Value::Object(
        row.into_columns()
            .into_iter()
            .map(|(k, f)| (k, field_value(f)))
            .collect::<Map<String, Value>>(),
    )
}

fn field_value(f: Field) -> Value {
    match f {
        Field::Null => Value::Null,
        Field::Bool(b) => Value::Bool(b),
        Field::Byte(n) => Value::from(n),
        Field::Short(n) => Value::from(n),
        Field::Int(n) | Field::Date(n) | Field::TimeMillis(n) => Value::from(n),
        Field::Long(n)
        | Field::TimeMicros(n)
        | Field::TimestampMillis(n)
        | Field::TimestampMicros(n) => Value::from(n),
        Field::UByte(n) => Value::from(n),
        Field::UShort(n) => Value::from(n),
        Field::UInt(n) => Value::from(n),
        Field::ULong(n) => Value::from(n),
        Field::Float16(n) => float(f64::from(n)),
        Field::Float(n) => float(f64::from(n)),
        Field::Double(n) => float(n),
        d @ Field::Decimal(_) => Value::String(d.to_string()),
        Field::Str(s) => Value::String(s),
        Field::Bytes(b) => match std::str::from_utf8(b.data()) {
            Ok(s) => Value::String(s.to_owned()),
            Err(_) => Value::Null,
        },
        Field::Group(row) => row_value(row),
        Field::ListInternal(list) => {
            Value::Array(list.elements().iter().cloned().map(field_value).collect())
        }
        Field::MapInternal(map) => Value::Object(
            map.entries()
                .iter()
                .cloned()
                .map(|(k, v)| {
                    let key = match field_value(k) {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    (key, field_value(v))
                })
                .collect(),
        ),
    }
}

fn float(x: f64) -> Value {
    Number::from_f64(x).map_or(Value::Null, Value::Number)
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use parquet::basic::{GzipLevel, ZstdLevel};

    use super::*;

    #[test]
    fn bounded_decompression_stops_one_byte_past_the_declared_size() {
        let plain = vec![0u8; 8 << 20];
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&plain).unwrap();
        let gz = gz.finish().unwrap();
        let codec = Compression::GZIP(GzipLevel::default());
        assert_eq!(bounded_decompressed_len(codec, &gz, 1000), Ok(1001));
        assert_eq!(
            bounded_decompressed_len(codec, &gz, plain.len() as u64),
            Ok(plain.len() as u64)
        );
        let zs = zstd::encode_all(&plain[..], 19).unwrap();
        let codec = Compression::ZSTD(ZstdLevel::default());
        assert_eq!(bounded_decompressed_len(codec, &zs, 1000), Ok(1001));
        assert!(bounded_decompressed_len(codec, b"not zstd", 10).is_err());
    }
}
