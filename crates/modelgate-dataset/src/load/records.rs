//! The records API: one top-level record at a time, for consumers that want values rather than
//! the flattened text leaves the detectors use (the eval runner). It goes through the same
//! reader as the scanner — same limits, same validation, every byte hashed — so a record is only
//! ever produced from a row the scanner would also accept.

use serde_json::{Map, Value};

use super::{DatasetFormat, DatasetReader, Row, csv};
use crate::{LoadError, RowError};

/// One top-level record of a dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// 1-based line where the record starts (JSONL, CSV, TSV), or 1-based row number (Parquet).
    pub line: u64,
    /// The record's top-level members: a JSONL object's members, a CSV row's columns (header
    /// name → string value), a Parquet row's columns (→ strings, numbers, booleans, lists,
    /// objects for nested structs; `null` for missing values).
    pub values: Map<String, Value>,
}

impl DatasetReader {
    /// The next record, in file order.
    ///
    /// - `Some(Ok(record))` for a well-formed row;
    /// - `Some(Err(row_error))` for a malformed or over-limit row (its line and column say
    ///   where); the next call goes on with the following row, so the caller decides whether to
    ///   skip it or abort;
    /// - `None` at the end of the file.
    ///
    /// A fatal error (I/O, more rows than [`crate::DatasetLimits::max_rows`], a bad CSV header, a
    /// corrupt Parquet file) is returned once as `Some(Err(row_error))` with
    /// [`RowError::limit`] set and a message naming the file, and then iteration ends; the
    /// [`LoadError`] itself is kept in [`DatasetReader::fatal_error`]. **Check `fatal_error()`
    /// after the loop**: after a fatal error, [`DatasetReader::sha256`] covers only the bytes
    /// read so far.
    ///
    /// Blank lines are skipped. After `None`, [`DatasetReader::sha256`] is the digest of the whole
    /// file.
    ///
    /// The scanner's batch API ([`crate::scan_file`]) and this one must not be mixed on one
    /// reader.
    pub fn next_record(&mut self) -> Option<Result<Record, RowError>> {
        loop {
            if self.fatal.is_some() {
                return None;
            }
            if self.rec_pos >= self.rec_batch.items.len() {
                let mut batch = std::mem::take(&mut self.rec_batch);
                self.rec_pos = 0;
                let more = self.next_batch(&mut batch);
                self.rec_batch = batch;
                match more {
                    Ok(true) => continue,
                    Ok(false) => return None,
                    Err(e) => return Some(Err(self.set_fatal(e))),
                }
            }
            let item = self.rec_batch.items[self.rec_pos];
            self.rec_pos += 1;
            let parsed = match self.parse(&self.rec_batch, &item) {
                None => continue,
                Some(Err(e)) => Err(e),
                Some(Ok(row)) => self.to_record(&row),
            };
            return Some(parsed);
        }
    }

    /// The records of the file as an iterator (see [`DatasetReader::next_record`]). The reader
    /// (for [`DatasetReader::sha256`] and [`DatasetReader::fatal_error`]) is
    /// [`Records::reader`].
    pub fn records(self) -> Records {
        Records { reader: self }
    }

    /// The error that ended [`DatasetReader::next_record`] early, if any.
    pub fn fatal_error(&self) -> Option<&LoadError> {
        self.fatal.as_ref()
    }

    fn set_fatal(&mut self, e: LoadError) -> RowError {
        let (line, column) = match &e {
            LoadError::TooManyRows { line, .. } => (*line, 1),
            LoadError::CsvHeader { line, column, .. } => (*line, *column),
            _ => (self.last_line(), 1),
        };
        let err = RowError {
            line,
            column,
            limit: true,
            message: format!("reading stopped: {e}"),
        };
        self.fatal = Some(e);
        err
    }

    fn last_line(&self) -> u64 {
        self.rec_batch.items.last().map_or(1, |item| match *item {
            super::RawItem::Record { line, .. } | super::RawItem::TooLong { line, .. } => line,
        })
    }

    /// Converts a validated row into a record.
    fn to_record(&self, row: &Row<'_>) -> Result<Record, RowError> {
        let values = match self.format {
            DatasetFormat::Jsonl | DatasetFormat::Parquet => json_members(row)?,
            DatasetFormat::Csv | DatasetFormat::Tsv => row
                .fields
                .iter()
                .map(|f| (f.name.to_string(), Value::String(f.value.to_string())))
                .collect(),
        };
        Ok(Record {
            line: row.line,
            values,
        })
    }
}

/// The top-level members of a JSON object row that [`super::json::parse_row`] has already
/// validated (syntax, nesting, duplicate keys, surrogates).
fn json_members(row: &Row<'_>) -> Result<Map<String, Value>, RowError> {
    serde_json::from_str::<Map<String, Value>>(row.raw).map_err(|e| {
        // Validated JSON can still be refused here: numbers outside the f64 range, or nesting
        // past serde_json's own recursion limit when --max-depth is raised above it.
        let (line_off, column) =
            csv::line_column(row.raw, byte_offset(row.raw, e.line(), e.column()));
        RowError {
            line: row.line + line_off,
            column,
            limit: false,
            message: format!(
                "cannot convert the row to a record: {}",
                serde_json_reason(&e)
            ),
        }
    })
}

/// `serde_json`'s message without its own "at line L column C" suffix (the row error has the
/// position) and never with row content (`serde_json` messages do not quote the input).
fn serde_json_reason(e: &serde_json::Error) -> String {
    let msg = e.to_string();
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_owned(),
        None => msg,
    }
}

/// Byte offset of `serde_json`'s 1-based (line, byte column) in `s`.
fn byte_offset(s: &str, line: usize, column: usize) -> usize {
    let mut start = 0usize;
    for _ in 1..line {
        match memchr::memchr(b'\n', &s.as_bytes()[start..]) {
            Some(i) => start += i + 1,
            None => break,
        }
    }
    (start + column.saturating_sub(1)).min(s.len())
}

/// [`DatasetReader::next_record`] as an [`Iterator`].
pub struct Records {
    reader: DatasetReader,
}

impl Records {
    /// The underlying reader: [`DatasetReader::sha256`] once the iterator is exhausted,
    /// [`DatasetReader::fatal_error`].
    pub fn reader(&self) -> &DatasetReader {
        &self.reader
    }

    /// Gives the reader back.
    pub fn into_reader(self) -> DatasetReader {
        self.reader
    }
}

impl Iterator for Records {
    type Item = Result<Record, RowError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.reader.next_record()
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use serde_json::json;
    use sha2::{Digest as _, Sha256};

    use super::*;
    use crate::DatasetLimits;

    fn write(dir: &Path, name: &str, content: &[u8]) -> std::path::PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, content).unwrap();
        p
    }

    fn all(path: &Path, limits: &DatasetLimits) -> (Vec<Result<Record, RowError>>, DatasetReader) {
        let mut r = DatasetReader::open(path, limits).unwrap();
        let mut out = Vec::new();
        while let Some(x) = r.next_record() {
            out.push(x);
        }
        (out, r)
    }

    #[test]
    fn jsonl_records_keep_values_and_go_on_after_bad_rows() {
        let dir = tempfile::tempdir().unwrap();
        let content = concat!(
            "{\"id\": 1, \"input\": \"hi\", \"tags\": [\"a\", 2], \"meta\": {\"ok\": true, \"n\": null}}\n",
            "\n",
            "{\"id\": 2, \"input\": \"x\",, }\n",
            "[1, 2]\n",
            "{\"a\": 1, \"a\": 2}\n",
            "{\"id\": 3, \"input\": \"caf\\u00e9\"}\n",
            "{\"big\": 1e400}\n",
        );
        let path = write(dir.path(), "d.jsonl", content.as_bytes());
        let (recs, r) = all(&path, &DatasetLimits::default());
        assert_eq!(recs.len(), 6);
        let first = recs[0].as_ref().unwrap();
        assert_eq!(first.line, 1);
        assert_eq!(
            Value::Object(first.values.clone()),
            json!({"id": 1, "input": "hi", "tags": ["a", 2], "meta": {"ok": true, "n": null}})
        );
        let e = recs[1].as_ref().unwrap_err();
        assert_eq!((e.line, e.column), (3, 24));
        assert!(!e.limit);
        let e = recs[2].as_ref().unwrap_err();
        assert_eq!((e.line, e.column), (4, 1));
        let e = recs[3].as_ref().unwrap_err();
        assert!(e.message.contains("duplicate key"), "{e}");
        assert_eq!(e.line, 5);
        let third = recs[4].as_ref().unwrap();
        assert_eq!((third.line, &third.values["input"]), (6, &json!("café")));
        let e = recs[5].as_ref().unwrap_err();
        assert_eq!(e.line, 7);
        assert!(e.message.contains("out of range"), "{e}");
        assert!(r.fatal_error().is_none());
        assert_eq!(
            r.sha256(),
            <[u8; 32]>::from(Sha256::digest(content.as_bytes()))
        );
    }

    #[test]
    fn jsonl_depth_and_line_limits_are_row_errors() {
        let dir = tempfile::tempdir().unwrap();
        let long = format!("{{\"a\": \"{}\"}}\n", "x".repeat(300));
        let content = format!("{{\"a\": [[[[[1]]]]]}}\n{long}{{\"ok\": 1}}\n");
        let path = write(dir.path(), "d.jsonl", content.as_bytes());
        let limits = DatasetLimits {
            max_depth: 3,
            max_line_bytes: 200,
            ..DatasetLimits::default()
        };
        let (recs, r) = all(&path, &limits);
        assert_eq!(recs.len(), 3);
        assert!(recs[0].as_ref().unwrap_err().limit);
        assert!(recs[1].as_ref().unwrap_err().limit);
        assert_eq!(recs[1].as_ref().unwrap_err().line, 2);
        assert_eq!(recs[2].as_ref().unwrap().values["ok"], json!(1));
        assert_eq!(
            r.sha256(),
            <[u8; 32]>::from(Sha256::digest(content.as_bytes()))
        );
    }

    #[test]
    fn csv_and_tsv_records_map_header_names_to_strings() {
        let dir = tempfile::tempdir().unwrap();
        let csv = "\u{FEFF}text,label\n\"hello, \"\"you\"\"\",1\nbad,row,here\n\"multi\nline\",0\n\"open,2\n";
        let path = write(dir.path(), "d.csv", csv.as_bytes());
        let (recs, r) = all(&path, &DatasetLimits::default());
        let ok: Vec<_> = recs.iter().filter_map(|x| x.as_ref().ok()).collect();
        assert_eq!(ok.len(), 2);
        assert_eq!(
            Value::Object(ok[0].values.clone()),
            json!({"text": "hello, \"you\"", "label": "1"})
        );
        assert_eq!(ok[0].line, 2);
        assert_eq!(
            (ok[1].line, &ok[1].values["text"]),
            (4, &json!("multi\nline"))
        );
        let errs: Vec<_> = recs.iter().filter_map(|x| x.as_ref().err()).collect();
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert_eq!((errs[0].line, errs[0].column), (3, 13));
        assert_eq!(errs[1].line, 6);
        assert!(r.fatal_error().is_none());
        assert_eq!(r.sha256(), <[u8; 32]>::from(Sha256::digest(csv.as_bytes())));

        let tsv = "q\ta\nwhat?\t42\n";
        let path = write(dir.path(), "d.tsv", tsv.as_bytes());
        let recs: Vec<_> = DatasetReader::open(&path, &DatasetLimits::default())
            .unwrap()
            .records()
            .collect();
        assert_eq!(recs.len(), 1);
        assert_eq!(
            Value::Object(recs[0].as_ref().unwrap().values.clone()),
            json!({"q": "what?", "a": "42"})
        );
    }

    #[test]
    fn fatal_errors_end_the_iteration_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "d.csv", b"a,a\n1,2\n");
        let (recs, r) = all(&path, &DatasetLimits::default());
        assert_eq!(recs.len(), 1);
        let e = recs[0].as_ref().unwrap_err();
        assert!(e.limit && e.message.contains("appears twice"), "{e}");
        assert!(matches!(r.fatal_error(), Some(LoadError::CsvHeader { .. })));

        let path = write(dir.path(), "d.jsonl", b"{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n");
        let limits = DatasetLimits {
            max_rows: 2,
            ..DatasetLimits::default()
        };
        let mut records = DatasetReader::open(&path, &limits).unwrap().records();
        let got: Vec<_> = records.by_ref().collect();
        // The row limit is checked per batch: the batch that crosses it is refused whole.
        assert_eq!(got.len(), 1);
        assert!(
            got[0]
                .as_ref()
                .unwrap_err()
                .message
                .contains("more than 2 rows")
        );
        assert!(records.next().is_none());
        assert!(matches!(
            records.reader().fatal_error(),
            Some(LoadError::TooManyRows { .. })
        ));
    }
}
