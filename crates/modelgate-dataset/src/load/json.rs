//! A bounded JSON parser for one JSONL row: validates the whole line, caps nesting and field
//! count, rejects duplicate keys (loaders disagree on which value wins), and flattens the
//! string, number and boolean leaves into named [`Field`]s that remember where they start in the
//! line, so findings can name a column.

use std::borrow::Cow;

use super::{Encoding, Field, Row};
use crate::RowError;

struct Parser<'a> {
    s: &'a str,
    b: &'a [u8],
    pos: usize,
    line: u64,
    depth: u32,
    max_depth: u32,
    max_fields: usize,
    fields: Vec<Field<'a>>,
}

/// Parses one JSONL line (`line_no` is its 1-based line number). The top level must be an object.
pub(crate) fn parse_row(
    s: &str,
    line_no: u64,
    max_depth: u32,
    max_fields: usize,
) -> Result<Row<'_>, RowError> {
    let mut p = Parser {
        s,
        b: s.as_bytes(),
        pos: 0,
        line: line_no,
        depth: 0,
        max_depth,
        max_fields,
        fields: Vec::with_capacity(8),
    };
    p.ws();
    if p.peek() != Some(b'{') {
        return Err(p.err("a JSONL row must be a JSON object (`{...}`)"));
    }
    p.object(None)?;
    p.ws();
    if p.pos != p.b.len() {
        return Err(p.err("unexpected text after the JSON object (two objects on one line?)"));
    }
    Ok(Row {
        line: line_no,
        raw: s,
        fields: p.fields,
    })
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    fn column(&self, pos: usize) -> u64 {
        let pos = pos.min(self.s.len());
        // `pos` may sit inside a multi-byte character after an error: back up to a boundary.
        let mut p = pos;
        while p > 0 && !self.s.is_char_boundary(p) {
            p -= 1;
        }
        self.s[..p].chars().count() as u64 + 1
    }

    fn err(&self, message: impl Into<String>) -> RowError {
        RowError {
            line: self.line,
            column: self.column(self.pos),
            limit: false,
            message: message.into(),
        }
    }

    fn limit(&self, message: impl Into<String>) -> RowError {
        RowError {
            limit: true,
            ..self.err(message)
        }
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\r' | b'\n') = self.peek() {
            self.pos += 1;
        }
    }

    fn expect(&mut self, byte: u8, what: &str) -> Result<(), RowError> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.err(format!("expected {what}")))
        }
    }

    fn enter(&mut self) -> Result<(), RowError> {
        self.depth += 1;
        if self.depth > self.max_depth {
            return Err(self.limit(format!(
                "nesting deeper than {} levels (raise --max-depth if this is expected)",
                self.max_depth
            )));
        }
        Ok(())
    }

    fn push(&mut self, field: Field<'a>) -> Result<(), RowError> {
        if self.fields.len() >= self.max_fields {
            return Err(self.limit(format!(
                "more than {} fields in one row (raise --max-fields)",
                self.max_fields
            )));
        }
        self.fields.push(field);
        Ok(())
    }

    fn object(&mut self, prefix: Option<&str>) -> Result<(), RowError> {
        self.enter()?;
        self.pos += 1; // `{`
        let first_field = self.fields.len();
        let mut keys: Vec<Cow<'a, str>> = Vec::new();
        let mut role: Option<Cow<'a, str>> = None;
        self.ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            self.depth -= 1;
            return Ok(());
        }
        loop {
            self.ws();
            let key_pos = self.pos;
            if self.peek() != Some(b'"') {
                return Err(self.err("expected a string key"));
            }
            let key = self.string()?;
            if keys.len() < 64 {
                if keys.contains(&key) {
                    self.pos = key_pos;
                    return Err(self.err(format!(
                        "duplicate key `{key}`: loaders disagree on which value wins"
                    )));
                }
            } else if keys[..].contains(&key) {
                self.pos = key_pos;
                return Err(self.err(format!(
                    "duplicate key `{key}`: loaders disagree on which value wins"
                )));
            }
            self.ws();
            self.expect(b':', "`:` after the key")?;
            self.ws();
            let name: Cow<'a, str> = match prefix {
                None => key.clone(),
                Some(p) => Cow::Owned(format!("{p}.{key}")),
            };
            if key == "role" && self.peek() == Some(b'"') {
                let before = self.fields.len();
                self.value(name)?;
                if let Some(f) = self.fields.get(before) {
                    role = Some(f.value.clone());
                }
            } else {
                self.value(name)?;
            }
            keys.push(key);
            self.ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    break;
                }
                _ => return Err(self.err("expected `,` or `}` in object")),
            }
        }
        if let Some(role) = role {
            // Chat messages: `{"role": "assistant", "content": "..."}` — the content's role
            // decides whether it is an input or the target.
            for f in &mut self.fields[first_field..] {
                let leaf = f.name.rsplit(['.', ']']).next().unwrap_or("");
                if matches!(leaf, "content" | "text" | "value") {
                    f.role = Some(role.clone());
                }
            }
        }
        self.depth -= 1;
        Ok(())
    }

    fn array(&mut self, name: &str) -> Result<(), RowError> {
        self.enter()?;
        self.pos += 1; // `[`
        self.ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            self.depth -= 1;
            return Ok(());
        }
        let mut index = 0usize;
        loop {
            self.ws();
            self.value(Cow::Owned(format!("{name}[{index}]")))?;
            index += 1;
            self.ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    break;
                }
                _ => return Err(self.err("expected `,` or `]` in array")),
            }
        }
        self.depth -= 1;
        Ok(())
    }

    fn value(&mut self, name: Cow<'a, str>) -> Result<(), RowError> {
        let start = self.pos;
        match self.peek() {
            Some(b'{') => self.object(Some(&name)),
            Some(b'[') => self.array(&name),
            Some(b'"') => {
                let value = self.string()?;
                self.push(Field {
                    name,
                    role: None,
                    value,
                    raw_start: start,
                    encoding: Encoding::Json,
                    is_text: true,
                })
            }
            Some(b't') => self.literal(b"true", name, start),
            Some(b'f') => self.literal(b"false", name, start),
            Some(b'n') => {
                if self.b[self.pos..].starts_with(b"null") {
                    self.pos += 4;
                    Ok(())
                } else {
                    Err(self.err("invalid literal (expected null)"))
                }
            }
            Some(b'-' | b'0'..=b'9') => {
                self.number()?;
                self.push(Field {
                    name,
                    role: None,
                    value: Cow::Borrowed(&self.s[start..self.pos]),
                    raw_start: start,
                    encoding: Encoding::Plain,
                    is_text: false,
                })
            }
            Some(_) => Err(self.err("expected a JSON value")),
            None => Err(self.err("unexpected end of line (truncated row?)")),
        }
    }

    fn literal(
        &mut self,
        lit: &'static [u8],
        name: Cow<'a, str>,
        start: usize,
    ) -> Result<(), RowError> {
        if !self.b[self.pos..].starts_with(lit) {
            return Err(self.err("invalid literal (expected true or false)"));
        }
        self.pos += lit.len();
        self.push(Field {
            name,
            role: None,
            value: Cow::Borrowed(&self.s[start..self.pos]),
            raw_start: start,
            encoding: Encoding::Plain,
            is_text: false,
        })
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        self.pos - start
    }

    fn number(&mut self) -> Result<(), RowError> {
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.err("invalid number")),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return Err(self.err("invalid number: digits expected after `.`"));
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(self.err("invalid number: digits expected in exponent"));
            }
        }
        Ok(())
    }

    /// Parses a string starting at `"`; borrows when there is no escape.
    fn string(&mut self) -> Result<Cow<'a, str>, RowError> {
        self.pos += 1; // opening quote
        let start = self.pos;
        let Some(rel) = memchr::memchr2(b'"', b'\\', &self.b[start..]) else {
            self.pos = self.b.len();
            return Err(self.err("unterminated string"));
        };
        if let Some(bad) = self.b[start..start + rel].iter().position(|&c| c < 0x20) {
            self.pos = start + bad;
            return Err(self.err("raw control character in a string (must be escaped)"));
        }
        if self.b[start + rel] == b'"' {
            self.pos = start + rel + 1;
            return Ok(Cow::Borrowed(&self.s[start..start + rel]));
        }
        let mut out = String::with_capacity(rel + 16);
        out.push_str(&self.s[start..start + rel]);
        self.pos = start + rel;
        loop {
            let Some(c) = self.peek() else {
                return Err(self.err("unterminated string"));
            };
            match c {
                b'"' => {
                    self.pos += 1;
                    return Ok(Cow::Owned(out));
                }
                b'\\' => {
                    let esc_pos = self.pos;
                    self.pos += 1;
                    let Some(e) = self.peek() else {
                        return Err(self.err("unterminated escape"));
                    };
                    self.pos += 1;
                    match e {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let ch = self.unicode_escape(esc_pos)?;
                            out.push(ch);
                        }
                        _ => {
                            self.pos = esc_pos;
                            return Err(self.err("invalid escape sequence"));
                        }
                    }
                }
                c if c < 0x20 => {
                    return Err(self.err("raw control character in a string (must be escaped)"));
                }
                _ => {
                    // Copy the run up to the next quote or backslash.
                    let run_start = self.pos;
                    let end = memchr::memchr2(b'"', b'\\', &self.b[run_start..])
                        .map_or(self.b.len(), |r| run_start + r);
                    if let Some(bad) = self.b[run_start..end].iter().position(|&c| c < 0x20) {
                        self.pos = run_start + bad;
                        return Err(self.err("raw control character in a string (must be escaped)"));
                    }
                    out.push_str(&self.s[run_start..end]);
                    self.pos = end;
                }
            }
        }
    }

    fn hex4(&mut self) -> Option<u32> {
        let digits = self.b.get(self.pos..self.pos + 4)?;
        let mut v = 0u32;
        for &d in digits {
            v = v * 16 + char::from(d).to_digit(16)?;
        }
        self.pos += 4;
        Some(v)
    }

    fn unicode_escape(&mut self, esc_pos: usize) -> Result<char, RowError> {
        let Some(hi) = self.hex4() else {
            self.pos = esc_pos;
            return Err(self.err("invalid \\u escape (4 hex digits expected)"));
        };
        if (0xD800..0xDC00).contains(&hi) {
            if self.b.get(self.pos..self.pos + 2) == Some(b"\\u") {
                self.pos += 2;
                if let Some(lo) = self.hex4()
                    && (0xDC00..0xE000).contains(&lo)
                {
                    let cp = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                    if let Some(ch) = char::from_u32(cp) {
                        return Ok(ch);
                    }
                }
            }
            self.pos = esc_pos;
            return Err(
                self.err("unpaired surrogate in \\u escape (loaders disagree on how to decode it)")
            );
        }
        if (0xDC00..0xE000).contains(&hi) {
            self.pos = esc_pos;
            return Err(
                self.err("unpaired surrogate in \\u escape (loaders disagree on how to decode it)")
            );
        }
        char::from_u32(hi).ok_or_else(|| self.err("invalid \\u escape"))
    }
}

/// Byte offset in the raw line of the character that decodes to byte `idx` of a JSON string
/// starting (at its opening quote) at `raw_start`.
pub(crate) fn raw_offset(raw: &str, raw_start: usize, idx: usize) -> usize {
    let b = raw.as_bytes();
    let mut pos = raw_start + 1;
    let mut decoded = 0usize;
    while pos < b.len() && b[pos] != b'"' {
        let (raw_len, dec_len) = if b[pos] == b'\\' {
            match b.get(pos + 1) {
                Some(b'u') => {
                    let hex = raw
                        .get(pos + 2..pos + 6)
                        .and_then(|h| u32::from_str_radix(h, 16).ok());
                    match hex {
                        Some(hi) if (0xD800..0xDC00).contains(&hi) => (12, 4),
                        Some(cp) => (6, char::from_u32(cp).map_or(3, char::len_utf8)),
                        None => (2, 1),
                    }
                }
                _ => (2, 1),
            }
        } else {
            let ch_len = raw[pos..].chars().next().map_or(1, char::len_utf8);
            (ch_len, ch_len)
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

    fn ok(s: &str) -> Row<'_> {
        parse_row(s, 7, 8, 100).unwrap()
    }

    #[test]
    fn flattens_leaves_with_paths_and_roles() {
        let row = ok(
            r#"{"id": 3, "messages": [{"role": "user", "content": "hi"}, {"content": "yo", "role": "assistant"}], "ok": true, "n": null}"#,
        );
        let names: Vec<_> = row.fields.iter().map(|f| f.name.as_ref()).collect();
        assert_eq!(
            names,
            [
                "id",
                "messages[0].role",
                "messages[0].content",
                "messages[1].content",
                "messages[1].role",
                "ok"
            ]
        );
        assert_eq!(row.fields[2].role.as_deref(), Some("user"));
        assert_eq!(row.fields[3].role.as_deref(), Some("assistant"));
        assert!(!row.fields[0].is_text);
    }

    #[test]
    fn escapes_decode_and_columns_map_back() {
        let line = r#"{"a": "x\u00e9\n\ud83d\ude00z"}"#;
        let row = ok(line);
        assert_eq!(row.fields[0].value, "xé\n😀z");
        let z = row.fields[0].value.find('z').unwrap();
        let off = raw_offset(line, row.fields[0].raw_start, z);
        assert_eq!(&line[off..=off], "z");
    }

    #[test]
    fn errors_name_the_column() {
        let e = parse_row(r#"{"a": 1,, "b": 2}"#, 3, 8, 100).unwrap_err();
        assert_eq!((e.line, e.column), (3, 9));
        let e = parse_row(r#"{"a": 1, "a": 2}"#, 1, 8, 100).unwrap_err();
        assert!(e.message.contains("duplicate key `a`"), "{e}");
        assert_eq!(e.column, 10);
        let e = parse_row(r#"{"a": [[[[[[[[[1]]]]]]]]]}"#, 1, 4, 100).unwrap_err();
        assert!(e.limit);
        assert!(parse_row(r#"{"a": "\ud800"}"#, 1, 8, 100).is_err());
        assert!(parse_row("[1]", 1, 8, 100).is_err());
        assert!(parse_row(r#"{"a": "b"} x"#, 1, 8, 100).is_err());
        assert!(parse_row("{\"a\": \"tab\there\"}", 1, 8, 100).is_err());
        assert!(parse_row(r#"{"a": 01}"#, 1, 8, 100).is_err());
        assert!(parse_row(r#"{"a": -1.5e+3}"#, 1, 8, 100).is_ok());
    }
}
