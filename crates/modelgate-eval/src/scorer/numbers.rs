//! Reading numbers the way answers write them: `1,000`, `1000.0`, `$42`, `42.`, `-3`, `.5`,
//! `12%`. No exponents, no `inf`/`nan`, no locale guessing beyond comma thousands groups.

use std::ops::Range;

/// Longest run of number characters considered (longer runs are not numbers we compare).
const MAX_NUMBER_LEN: usize = 400;

/// Parses `s` as exactly one number (surrounding whitespace, a sentence-ending `.`, a leading
/// sign and `$`, and a trailing `%` allowed).
pub fn parse_number(s: &str) -> Option<f64> {
    let t = s.trim();
    let t = t.strip_suffix('.').unwrap_or(t);
    let t = t.strip_suffix('%').unwrap_or(t);
    let (negative, t) = strip_sign(t);
    let t = t.strip_prefix('$').unwrap_or(t);
    let (negative, t) = if negative { (true, t) } else { strip_sign(t) };
    let value = parse_plain(t)?;
    Some(if negative { -value } else { value })
}

fn strip_sign(t: &str) -> (bool, &str) {
    if let Some(r) = t.strip_prefix('-').or_else(|| t.strip_prefix('\u{2212}')) {
        (true, r)
    } else {
        (false, t.strip_prefix('+').unwrap_or(t))
    }
}

/// Digits with optional comma thousands groups and an optional fraction.
fn parse_plain(t: &str) -> Option<f64> {
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
    let mut clean: String = int.chars().filter(|c| *c != ',').collect();
    if clean.is_empty() {
        clean.push('0');
    }
    if let Some(f) = frac {
        clean.push('.');
        clean.push_str(f);
    }
    clean.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// Every number written in `text`, in order, with the bytes it was read from (sign and `$`
/// included). A number glued to a word (`x2`, `abc123`) is not read; a run like `1,2,3` reads
/// as three numbers; a dotted run like `1.2.3` (a version, an address) reads as none.
pub fn numbers_in(text: &str) -> Vec<(Range<usize>, f64)> {
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
                out.push((start..end, if negative { -v } else { v }));
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
                        out.push((s..at + part.len(), if neg { -v } else { v }));
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

    #[test]
    fn whole_strings() {
        for (s, want) in [
            ("1000", Some(1000.0)),
            ("1,000", Some(1000.0)),
            ("1,000.0", Some(1000.0)),
            ("1000.", Some(1000.0)),
            ("$42", Some(42.0)),
            ("-$42", Some(-42.0)),
            ("$-42", Some(-42.0)),
            ("-3", Some(-3.0)),
            ("+3", Some(3.0)),
            ("\u{2212}3", Some(-3.0)),
            (".5", Some(0.5)),
            ("12%", Some(12.0)),
            (" 7 ", Some(7.0)),
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
            assert_eq!(parse_number(s), want, "{s:?}");
        }
        assert_eq!(parse_number(&"9".repeat(MAX_NUMBER_LEN + 1)), None);
    }

    fn values(text: &str) -> Vec<f64> {
        numbers_in(text).into_iter().map(|(_, v)| v).collect()
    }

    #[test]
    fn numbers_in_text() {
        assert_eq!(
            values("It costs $1,250.50, not -3 or 42."),
            [1250.5, -3.0, 42.0]
        );
        assert_eq!(values("x2 abc123 2024-01-02"), [2024.0, 1.0, 2.0]);
        assert_eq!(values("v1.2.3 and 1,2,3"), [1.0, 2.0, 3.0]);
        assert_eq!(values("answer=7."), [7.0]);
        assert_eq!(values("no numbers"), Vec::<f64>::new());
        let spans = numbers_in("pay -$5 now");
        assert_eq!(spans[0].0, 4..7);
    }
}
