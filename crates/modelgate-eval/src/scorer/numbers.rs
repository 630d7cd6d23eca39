//! Reading numbers the way answers write them: `1,000`, `1000.0`, `$42`, `42.`, `-3`, `.5`,
//! `12%`. No exponents, no `inf`/`nan`, no locale guessing beyond comma thousands groups.
//!
//! Numbers are compared exactly, as decimals: `0.1` and `0.10` are equal, `0.3` and
//! `0.30000000000000004` are not (no binary floating point is involved).

use std::fmt;
use std::ops::Range;

/// A decimal number in canonical form: no thousands separators, no leading zeros in the integer
/// part, no trailing zeros in the fraction, no sign on zero. Equal numbers are equal values.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Number(String);

impl Number {
    fn new(negative: bool, int: &str, frac: &str) -> Number {
        let int = int.trim_start_matches('0');
        let frac = frac.trim_end_matches('0');
        let int = if int.is_empty() { "0" } else { int };
        let zero = int == "0" && frac.is_empty();
        let mut s = String::with_capacity(int.len() + frac.len() + 2);
        if negative && !zero {
            s.push('-');
        }
        s.push_str(int);
        if !frac.is_empty() {
            s.push('.');
            s.push_str(frac);
        }
        Number(s)
    }

    fn negated(self, negative: bool) -> Number {
        if !negative || self.0 == "0" {
            return self;
        }
        Number(format!("-{}", self.0))
    }

    /// The canonical text (`-1250.5`).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Longest run of number characters considered (longer runs are not numbers we compare).
const MAX_NUMBER_LEN: usize = 400;

/// Parses `s` as exactly one number (surrounding whitespace, a sentence-ending `.`, a leading
/// sign and `$`, and a trailing `%` allowed).
pub fn parse_number(s: &str) -> Option<Number> {
    let t = s.trim();
    let t = t.strip_suffix('.').unwrap_or(t);
    let t = t.strip_suffix('%').unwrap_or(t);
    let (negative, t) = strip_sign(t);
    let t = t.strip_prefix('$').unwrap_or(t);
    let (negative, t) = if negative { (true, t) } else { strip_sign(t) };
    Some(parse_plain(t)?.negated(negative))
}

fn strip_sign(t: &str) -> (bool, &str) {
    if let Some(r) = t.strip_prefix('-').or_else(|| t.strip_prefix('\u{2212}')) {
        (true, r)
    } else {
        (false, t.strip_prefix('+').unwrap_or(t))
    }
}

/// Digits with optional comma thousands groups and an optional fraction.
fn parse_plain(t: &str) -> Option<Number> {
    if t.is_empty() || t.len() > MAX_NUMBER_LEN {
        return None;
    }
    let (int, frac) = match t.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (t, None),
    };
    if let Some(f) = frac
        && (f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    if int.is_empty() && frac.is_none() {
        return None;
    }
    if int.contains(',') {
        let mut groups = int.split(',');
        let first = groups.next().unwrap_or_default();
        if first.is_empty() || first.len() > 3 || !first.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        if !groups.all(|g| g.len() == 3 && g.bytes().all(|b| b.is_ascii_digit())) {
            return None;
        }
    } else if !int.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let int: String = int.chars().filter(|c| *c != ',').collect();
    Some(Number::new(false, &int, frac.unwrap_or("")))
}

/// Every number written in `text`, in order, with the bytes it was read from (sign and `$`
/// included). A number glued to a word (`x2`, `abc123`) is not read; a run like `1,2,3` reads
/// as three numbers; a dotted run like `1.2.3` (a version, an address) reads as none.
pub fn numbers_in(text: &str) -> Vec<(Range<usize>, Number)> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let starts =
            b[i].is_ascii_digit() || (b[i] == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit));
        let glued = i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_');
        if !starts {
            i += 1;
            continue;
        }
        if glued {
            // Skip the whole glued run so that `abc123` and `v1.2` yield nothing.
            while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
                i += 1;
            }
            continue;
        }
        let mut end = i;
        while end < b.len() && (b[end].is_ascii_digit() || b[end] == b',' || b[end] == b'.') {
            end += 1;
        }
        let next = end;
        // Sentence punctuation after the number is not part of it.
        while end > i && matches!(b[end - 1], b',' | b'.') {
            end -= 1;
        }
        let run = &text[i..end];
        let (start, negative) = prefix(b, i);
        if run.len() <= MAX_NUMBER_LEN && run.matches('.').count() <= 1 {
            if let Some(v) = parse_plain(run) {
                out.push((start..end, v.negated(negative)));
            } else if !run.contains('.') {
                // `1,2,3`: a list.
                let mut at = i;
                for part in run.split(',') {
                    if let Some(v) = parse_plain(part) {
                        let (s, neg) = if at == i {
                            (start, negative)
                        } else {
                            (at, false)
                        };
                        out.push((s..at + part.len(), v.negated(neg)));
                    }
                    at += part.len() + 1;
                }
            }
        }
        i = next;
    }
    out
}

/// Where a number starting at `i` really starts, taking a `$` and a sign before it, and
/// whether it is negative. A `-` glued to a word or number (`2024-01`, `x-1`) is a hyphen.
fn prefix(b: &[u8], i: usize) -> (usize, bool) {
    let mut start = i;
    if start > 0 && b[start - 1] == b'$' {
        start -= 1;
    }
    if start > 0 && matches!(b[start - 1], b'-' | b'+') {
        let sign_glued =
            start > 1 && (b[start - 2].is_ascii_alphanumeric() || b[start - 2] == b'_');
        if !sign_glued {
            return (start - 1, b[start - 1] == b'-');
        }
    }
    (start, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Option<String> {
        parse_number(s).map(|v| v.as_str().to_owned())
    }

    #[test]
    fn whole_strings() {
        for (s, want) in [
            ("1000", Some("1000")),
            ("1,000", Some("1000")),
            ("1,000.0", Some("1000")),
            ("1000.", Some("1000")),
            ("$42", Some("42")),
            ("-$42", Some("-42")),
            ("$-42", Some("-42")),
            ("-3", Some("-3")),
            ("+3", Some("3")),
            ("\u{2212}3", Some("-3")),
            (".5", Some("0.5")),
            ("12%", Some("12")),
            (" 7 ", Some("7")),
            ("1,00", None),
            ("1,0000", None),
            ("1e5", None),
            ("inf", None),
            ("NaN", None),
            ("1.2.3", None),
            ("", None),
            ("-", None),
            ("$", None),
            ("forty", None),
            ("--3", None),
        ] {
            assert_eq!(n(s).as_deref(), want, "{s:?}");
        }
        assert_eq!(n(&"9".repeat(MAX_NUMBER_LEN + 1)), None);
        assert_eq!(n("007.50"), Some("7.5".into()));
        assert_eq!(n("-0.0"), Some("0".into()));
        assert_ne!(n("0.3"), n("0.30000000000000004"));
    }

    fn values(text: &str) -> Vec<String> {
        numbers_in(text).into_iter().map(|(_, v)| v.0).collect()
    }

    #[test]
    fn numbers_in_text() {
        assert_eq!(
            values("It costs $1,250.50, not -3 or 42."),
            ["1250.5", "-3", "42"]
        );
        assert_eq!(values("x2 abc123 2024-01-02"), ["2024", "1", "2"]);
        assert_eq!(values("v1.2.3 and 1,2,3"), ["1", "2", "3"]);
        assert_eq!(values("answer=7."), ["7"]);
        assert!(values("no numbers").is_empty());
        let spans = numbers_in("pay -$5 now");
        assert_eq!(spans[0].0, 4..7);
    }
}
