//! Safe streaming loaders. Nothing here executes code from a dataset: there is no pickle, no
//! loader script, no `eval`. Files are read in bounded batches; every row is validated in full
//! (UTF-8, syntax, duplicate keys, nesting, field count) and a row that fails names its
//! `file:line:column`.

mod csv;
mod json;
#[cfg(feature = "parquet")]
mod parquet;
mod records;
pub(crate) mod split;

use std::borrow::Cow;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest as _, Sha256};

use crate::{DatasetLimits, LoadError, RowError};
pub use records::{Record, Records};
pub(crate) use split::{Batch, RawItem};

/// The dataset formats modelgate reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DatasetFormat {
    /// One JSON object per line (`.jsonl`, `.ndjson`, and `.json` files whose first byte is `{`).
    Jsonl,
    /// Comma-separated values with a header row.
    Csv,
    /// Tab-separated values with a header row.
    Tsv,
    /// Apache Parquet (only with the `parquet` feature).
    Parquet,
}

impl DatasetFormat {
    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            DatasetFormat::Jsonl => "jsonl",
            DatasetFormat::Csv => "csv",
            DatasetFormat::Tsv => "tsv",
            DatasetFormat::Parquet => "parquet",
        }
    }

    /// Detects the format from the file's first bytes, then its extension. Content wins: a
    /// Parquet file named `.jsonl` is Parquet.
    pub fn detect(path: &Path, head: &[u8]) -> Option<DatasetFormat> {
        if head.starts_with(b"PAR1") {
            return Some(DatasetFormat::Parquet);
        }
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
        let first = head.iter().copied().find(|b| !b.is_ascii_whitespace());
        match ext.as_deref() {
            Some("jsonl" | "ndjson" | "jsonlines") => Some(DatasetFormat::Jsonl),
            Some("json") if first == Some(b'{') || first.is_none() => Some(DatasetFormat::Jsonl),
            Some("csv") => Some(DatasetFormat::Csv),
            Some("tsv" | "tab") => Some(DatasetFormat::Tsv),
            Some("parquet" | "pq") => Some(DatasetFormat::Parquet),
            _ if first == Some(b'{') => Some(DatasetFormat::Jsonl),
            _ => None,
        }
    }

    /// Whether a path looks like a dataset file by its extension (used when walking directories).
    pub fn is_dataset_extension(path: &Path) -> bool {
        matches!(
            path.extension()
                .and_then(|e| e.to_str())
                .map(str::to_ascii_lowercase)
                .as_deref(),
            Some(
                "jsonl"
                    | "ndjson"
                    | "jsonlines"
                    | "json"
                    | "csv"
                    | "tsv"
                    | "tab"
                    | "parquet"
                    | "pq"
            )
        )
    }
}

/// How a field's value is written in the raw row (to map value offsets back to columns).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// A JSON string literal starting at its opening quote.
    Json,
    /// A quoted CSV field starting at its opening quote.
    CsvQuoted,
    /// Verbatim text (CSV unquoted fields, JSON numbers and booleans).
    Plain,
    /// A value with no raw text the user can see (Parquet): columns count code points within
    /// the value.
    Value,
}

/// One leaf value of a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field<'a> {
    /// The field's path: `output`, `messages[2].content`, a CSV column name.
    pub name: Cow<'a, str>,
    /// The chat role (`user`, `assistant`, `system`) when the value is a message's content.
    pub role: Option<Cow<'a, str>>,
    /// The decoded value.
    pub value: Cow<'a, str>,
    /// Byte offset in [`Row::raw`] where the value's literal starts.
    pub raw_start: usize,
    /// How the value is written there.
    pub encoding: Encoding,
    /// `true` for strings, `false` for numbers and booleans.
    pub is_text: bool,
}

impl Field<'_> {
    /// The top-level name: `messages` for `messages[2].content`.
    pub fn top_level(&self) -> &str {
        let n: &str = &self.name;
        let end = n.find(['.', '[']).unwrap_or(n.len());
        &n[..end]
    }
}

/// One parsed row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row<'a> {
    /// 1-based line where the row starts.
    pub line: u64,
    /// The raw text of the row (one JSONL line, one CSV record).
    pub raw: &'a str,
    /// Its leaves, in document order.
    pub fields: Vec<Field<'a>>,
}

impl Row<'_> {
    /// The 1-based line and column (Unicode code points) of byte `idx` of field `field`'s
    /// decoded value.
    pub fn locate(&self, field: usize, idx: usize) -> (u64, u64) {
        let Some(f) = self.fields.get(field) else {
            return (self.line, 1);
        };
        let raw_pos = match f.encoding {
            Encoding::Json => json::raw_offset(self.raw, f.raw_start, idx),
            Encoding::CsvQuoted => csv::raw_offset_quoted(self.raw, f.raw_start, idx),
            Encoding::Plain => f.raw_start + idx,
            Encoding::Value => {
                let mut p = idx.min(f.value.len());
                while p > 0 && !f.value.is_char_boundary(p) {
                    p -= 1;
                }
                return (self.line, f.value[..p].chars().count() as u64 + 1);
            }
        };
        let (line_off, column) = csv::line_column(self.raw, raw_pos);
        (self.line + line_off, column)
    }
}

/// A reader that hashes every byte it passes on (so a scan pins the exact bytes it analysed).
pub(crate) struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// Streams a JSONL, CSV or TSV file: in batches of rows for the scanner, or one
/// [`Record`] at a time ([`DatasetReader::next_record`]) for the eval runner.
pub struct DatasetReader {
    path: PathBuf,
    format: DatasetFormat,
    source: Source,
    header: Option<Vec<String>>,
    limits: DatasetLimits,
    rows: u64,
    size: u64,
    done: bool,
    /// The records API's current batch and position in it.
    rec_batch: Batch,
    rec_pos: usize,
    /// The error that ended the records API early.
    fatal: Option<LoadError>,
}

/// Where rows come from.
enum Source {
    /// JSONL, CSV, TSV: records split from the byte stream.
    Text(split::Splitter<HashingReader<File>>),
    /// Parquet: rows decoded and rendered as one JSON object each.
    #[cfg(feature = "parquet")]
    Parquet(Box<parquet::ParquetSource>),
}

/// Size of the chunks read from disk; one batch of rows is parsed per chunk.
const CHUNK: usize = 4 << 20;

impl DatasetReader {
    /// Opens `path`, checks its size against the limits and detects its format.
    pub fn open(path: &Path, limits: &DatasetLimits) -> Result<Self, LoadError> {
        let io = |source| LoadError::Io {
            path: path.to_owned(),
            source,
        };
        let mut file = File::open(path).map_err(io)?;
        let meta = file.metadata().map_err(io)?;
        if !meta.is_file() {
            return Err(io(std::io::Error::other("not a regular file")));
        }
        if meta.len() > limits.max_file_bytes {
            return Err(LoadError::FileTooLarge {
                path: path.to_owned(),
                size: meta.len(),
                limit: limits.max_file_bytes,
            });
        }
        let mut head = [0u8; 512];
        let n = read_head(&mut file, &mut head).map_err(io)?;
        let format =
            DatasetFormat::detect(path, &head[..n]).ok_or_else(|| LoadError::UnknownFormat {
                path: path.to_owned(),
            })?;
        let source = if format == DatasetFormat::Parquet {
            Self::open_parquet(path, limits)?
        } else {
            let file = File::open(path).map_err(io)?;
            let csv = matches!(format, DatasetFormat::Csv | DatasetFormat::Tsv);
            Source::Text(split::Splitter::new(
                HashingReader {
                    inner: file,
                    hasher: Sha256::new(),
                },
                csv,
                limits.max_line_bytes,
            ))
        };
        Ok(DatasetReader {
            path: path.to_owned(),
            format,
            source,
            header: None,
            limits: limits.clone(),
            rows: 0,
            size: meta.len(),
            done: false,
            rec_batch: Batch::default(),
            rec_pos: 0,
            fatal: None,
        })
    }

    #[cfg(feature = "parquet")]
    fn open_parquet(path: &Path, limits: &DatasetLimits) -> Result<Source, LoadError> {
        parquet::ParquetSource::open(path, limits)
            .map(|p| Source::Parquet(Box::new(p)))
            .map_err(|message| LoadError::Parquet {
                path: path.to_owned(),
                message,
            })
    }

    #[cfg(not(feature = "parquet"))]
    fn open_parquet(path: &Path, _limits: &DatasetLimits) -> Result<Source, LoadError> {
        Err(LoadError::ParquetUnsupported {
            path: path.to_owned(),
        })
    }

    /// The detected format.
    pub fn format(&self) -> DatasetFormat {
        self.format
    }

    /// The file's size when opened.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Bytes read so far.
    pub fn bytes_read(&self) -> u64 {
        match &self.source {
            Source::Text(s) => s.bytes_read,
            #[cfg(feature = "parquet")]
            Source::Parquet(p) => p.size(),
        }
    }

    /// The CSV header, once read.
    pub fn header(&self) -> Option<&[String]> {
        self.header.as_deref()
    }

    /// The SHA-256 of everything read so far (of the whole file once the reader is exhausted).
    pub fn sha256(&self) -> [u8; 32] {
        match &self.source {
            Source::Text(s) => s.reader().hasher.clone().finalize().into(),
            #[cfg(feature = "parquet")]
            Source::Parquet(p) => p.sha256(),
        }
    }

    /// Reads the next batch of raw records. Returns `false` at the end of the file.
    pub(crate) fn next_batch(&mut self, batch: &mut Batch) -> Result<bool, LoadError> {
        if self.done {
            return Ok(false);
        }
        let more = match &mut self.source {
            Source::Text(s) => s.next_batch(batch, CHUNK).map_err(|source| LoadError::Io {
                path: self.path.clone(),
                source,
            })?,
            #[cfg(feature = "parquet")]
            Source::Parquet(p) => {
                p.next_batch(batch, CHUNK)
                    .map_err(|message| LoadError::Parquet {
                        path: self.path.clone(),
                        message,
                    })?
            }
        };
        if !more {
            self.done = true;
            return Ok(false);
        }
        if self.header.is_none() && matches!(self.format, DatasetFormat::Csv | DatasetFormat::Tsv) {
            self.read_header(batch)?;
        }
        for item in &batch.items {
            let line = match *item {
                RawItem::Record { line, start, end } => {
                    if start == end {
                        continue;
                    }
                    line
                }
                RawItem::TooLong { line, .. } => line,
            };
            self.rows += 1;
            if self.rows > self.limits.max_rows {
                return Err(LoadError::TooManyRows {
                    path: self.path.clone(),
                    line,
                    limit: self.limits.max_rows,
                });
            }
        }
        Ok(true)
    }

    fn read_header(&mut self, batch: &mut Batch) -> Result<(), LoadError> {
        let header_err = |line: u64, column: u64, message: &str| LoadError::CsvHeader {
            path: self.path.clone(),
            line,
            column,
            message: message.to_owned(),
        };
        let Some(pos) = batch
            .items
            .iter()
            .position(|i| !matches!(i, RawItem::Record { start, end, .. } if start == end))
        else {
            return Ok(());
        };
        let item = batch.items.remove(pos);
        batch.items.drain(..pos);
        let RawItem::Record { line, start, end } = item else {
            return Err(header_err(
                1,
                1,
                "the header line is longer than --max-line-bytes",
            ));
        };
        let bytes = &batch.buf[start..end];
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        let text = std::str::from_utf8(bytes).map_err(|e| {
            header_err(
                line,
                e.valid_up_to() as u64 + 1,
                "the header is not valid UTF-8",
            )
        })?;
        let delim = self.delimiter();
        let values = csv::split_record(text, line, delim, self.limits.max_fields)
            .map_err(|e| header_err(e.line, e.column, &e.message))?;
        let mut names: Vec<String> = Vec::with_capacity(values.len());
        for (value, raw_start, _) in values {
            let name = value.trim().to_owned();
            let (_, column) = csv::line_column(text, raw_start);
            if name.is_empty() {
                return Err(header_err(line, column, "a column has no name"));
            }
            if names.contains(&name) {
                return Err(header_err(
                    line,
                    column,
                    &format!("column `{name}` appears twice; loaders disagree on which one wins"),
                ));
            }
            names.push(name);
        }
        self.header = Some(names);
        Ok(())
    }

    fn delimiter(&self) -> u8 {
        if self.format == DatasetFormat::Tsv {
            b'\t'
        } else {
            b','
        }
    }

    /// Parses one raw record of `batch`. `None` for blank lines.
    pub(crate) fn parse<'a>(
        &self,
        batch: &'a Batch,
        item: &RawItem,
    ) -> Option<Result<Row<'a>, RowError>> {
        match *item {
            RawItem::TooLong { line, len } => Some(Err(RowError {
                line,
                column: 1,
                limit: true,
                message: format!(
                    "row is {len} bytes, longer than the limit of {} (raise --max-line-bytes); not analysed",
                    self.limits.max_line_bytes
                ),
            })),
            RawItem::Record { line, start, end } => {
                let mut bytes = &batch.buf[start..end];
                if line == 1 {
                    bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
                }
                if bytes.iter().all(u8::is_ascii_whitespace) {
                    return None;
                }
                let text = match std::str::from_utf8(bytes) {
                    Ok(t) => t,
                    Err(e) => {
                        let valid = &bytes[..e.valid_up_to()];
                        // The prefix is valid UTF-8 by construction.
                        let prefix = std::str::from_utf8(valid).unwrap_or_default();
                        let (line_off, column) = csv::line_column(prefix, prefix.len());
                        return Some(Err(RowError {
                            line: line + line_off,
                            column,
                            limit: false,
                            message: "invalid UTF-8 (loaders disagree on how to decode it)"
                                .to_owned(),
                        }));
                    }
                };
                Some(match self.format {
                    DatasetFormat::Jsonl => {
                        json::parse_row(text, line, self.limits.max_depth, self.limits.max_fields)
                    }
                    // Parquet rows arrive as JSON objects rendered by the reader; positions in
                    // that rendering mean nothing to the user, so columns count within the value.
                    DatasetFormat::Parquet => {
                        json::parse_row(text, line, self.limits.max_depth, self.limits.max_fields)
                            .map(|mut row| {
                                for f in &mut row.fields {
                                    f.encoding = Encoding::Value;
                                }
                                row
                            })
                            .map_err(|e| RowError { column: 1, ..e })
                    }
                    DatasetFormat::Csv | DatasetFormat::Tsv => {
                        let header = self.header.as_deref().unwrap_or(&[]);
                        csv::parse_row(text, line, self.delimiter(), header, self.limits.max_fields)
                    }
                })
            }
        }
    }
}

fn read_head(file: &mut File, head: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < head.len() {
        match file.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Parses one JSONL line outside a file (for fuzzing and embedding).
pub fn parse_jsonl_line<'a>(
    line: &'a str,
    line_no: u64,
    limits: &DatasetLimits,
) -> Result<Row<'a>, RowError> {
    json::parse_row(line, line_no, limits.max_depth, limits.max_fields)
}

/// Parses one CSV record given the header's column names.
pub fn parse_csv_record<'a>(
    record: &'a str,
    line_no: u64,
    header: &[String],
    limits: &DatasetLimits,
) -> Result<Row<'a>, RowError> {
    csv::parse_row(record, line_no, b',', header, limits.max_fields)
}
