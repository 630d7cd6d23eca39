//! RFC 4180 records: fields separated by a delimiter, optionally quoted with `"` (a quote inside
//! a quoted field is doubled). Quoted fields may span lines; the splitter keeps them whole.

use std::borrow::Cow;

use super::{Encoding, Field, Row};
use crate::RowError;

/// Splits one record into its raw field values with their start offsets and encodings.
pub(crate) fn split_record(
    s: &str,
    line: u64,
    delim: u8,
    max_fields: usize,
) -> Result<Vec<(Cow<'_, str>, usize, Encoding)>, RowError> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut pos = 0usize;
    let err = |pos: usize, message: &str, limit: bool| {
        let (line_off, column) = line_column(s, pos);
        RowError {
            line: line + line_off,
            column,
            limit,
            message: message.to_owned(),
        }
    };
    loop {
        if out.len() >= max_fields {
            return Err(err(
                pos,
                "too many fields in one record (raise --max-fields)",
                true,
            ));
        }
        if b.get(pos) == Some(&b'"') {
            let start = pos;
            pos += 1;
            let mut owned: Option<String> = None;
            let mut run = pos;
            loop {
                let Some(rel) = memchr::memchr(b'"', &b[pos..]) else {
                    return Err(err(start, "unterminated quoted field", false));
                };
                let q = pos + rel;
                if b.get(q + 1) == Some(&b'"') {
                    let o = owned.get_or_insert_with(String::new);
                    o.push_str(&s[run..=q]);
                    pos = q + 2;
                    run = pos;
                    continue;
                }
                let value = match owned {
                    Some(mut o) => {
                        o.push_str(&s[run..q]);
                        Cow::Owned(o)
                    }
                    None => Cow::Borrowed(&s[start + 1..q]),
                };
                out.push((value, start, Encoding::CsvQuoted));
                pos = q + 1;
                break;
            }
            match b.get(pos) {
                None => return Ok(out),
                Some(&c) if c == delim => pos += 1,
                Some(_) => {
                    return Err(err(
                        pos,
                        "text after a closing quote (loaders disagree on how to read this field)",
                        false,
                    ));
                }
            }
        } else {
            let end = memchr::memchr(delim, &b[pos..]).map_or(b.len(), |r| pos + r);
            out.push((Cow::Borrowed(&s[pos..end]), pos, Encoding::Plain));
            if end == b.len() {
                return Ok(out);
            }
            pos = end + 1;
        }
    }
}

/// Builds a row from a record and the header's column names.
pub(crate) fn parse_row<'a>(
    s: &'a str,
    line: u64,
    delim: u8,
    header: &[String],
    max_fields: usize,
) -> Result<Row<'a>, RowError> {
    let values = split_record(s, line, delim, max_fields)?;
    if values.len() != header.len() {
        let (line_off, column) = line_column(s, s.len());
        return Err(RowError {
            line: line + line_off,
            column,
            limit: false,
            message: format!(
                "{} fields but the header has {} (loaders disagree on how to align them)",
                values.len(),
                header.len()
            ),
        });
    }
    let fields = values
        .into_iter()
        .zip(header)
        .map(|((value, raw_start, encoding), name)| Field {
            name: Cow::Owned(name.clone()),
            role: None,
            value,
            raw_start,
            encoding,
            is_text: true,
        })
        .collect();
    Ok(Row {
        line,
        raw: s,
        fields,
    })
}

/// 0-based line offset and 1-based column (code points) of byte `pos` in `s`.
pub(crate) fn line_column(s: &str, pos: usize) -> (u64, u64) {
    let mut p = pos.min(s.len());
    while p > 0 && !s.is_char_boundary(p) {
        p -= 1;
    }
    let before = &s[..p];
    let line_off = memchr::memchr_iter(b'\n', before.as_bytes()).count() as u64;
    let line_start = memchr::memrchr(b'\n', before.as_bytes()).map_or(0, |i| i + 1);
    (line_off, before[line_start..].chars().count() as u64 + 1)
}

/// Byte offset in the raw record of the character that decodes to byte `idx` of a quoted field
/// starting (at its opening quote) at `raw_start`.
pub(crate) fn raw_offset_quoted(raw: &str, raw_start: usize, idx: usize) -> usize {
    let b = raw.as_bytes();
    let mut pos = raw_start + 1;
    let mut decoded = 0usize;
    while pos < b.len() {
        let (raw_len, dec_len) = if b[pos] == b'"' {
            if b.get(pos + 1) == Some(&b'"') {
                (2, 1)
            } else {
                break;
            }
        } else {
            let l = raw[pos..].chars().next().map_or(1, char::len_utf8);
            (l, l)
        };
        if decoded + dec_len > idx {
            return pos;
        }
        decoded += dec_len;
        pos += raw_len;
    }
    pos.min(raw.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_fields_and_doubled_quotes() {
        let v = split_record(r#"a,"b,c","say ""hi""",,"x"#, 1, b',', 10);
        assert!(v.is_err(), "unterminated quote");
        let v = split_record(r#"a,"b,c","say ""hi""","#, 1, b',', 10).unwrap();
        let vals: Vec<_> = v.iter().map(|(s, _, _)| s.as_ref()).collect();
        assert_eq!(vals, ["a", "b,c", "say \"hi\"", ""]);
        let raw = r#"a,"b,c","say ""hi""","#;
        let (value, start, _) = &v[2];
        let h = value.find('h').unwrap();
        assert_eq!(&raw[raw_offset_quoted(raw, *start, h)..][..1], "h");
    }

    #[test]
    fn field_count_must_match_header() {
        let header = vec!["text".to_owned(), "label".to_owned()];
        assert!(parse_row("a,b,c", 2, b',', &header, 10).is_err());
        let row = parse_row("\"multi\nline\",1", 2, b',', &header, 10).unwrap();
        assert_eq!(row.fields[0].value, "multi\nline");
        let e = parse_row("\"x\"y,1", 5, b',', &header, 10).unwrap_err();
        assert_eq!((e.line, e.column), (5, 4));
    }
}
