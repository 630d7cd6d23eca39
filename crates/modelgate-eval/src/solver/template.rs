//! Plain `{name}` substitution for prompts and judge templates.
//!
//! One left-to-right pass: a placeholder is `{` + a name of ASCII letters, digits, `_`, `-` or
//! `.` (at most [`MAX_NAME`] bytes) + `}`. Known names are replaced by their value, which is
//! never scanned again (so an answer containing `{criterion}` stays literal); unknown names and
//! anything else in braces are left as written. Nothing is evaluated.

use std::borrow::Cow;

use crate::sample::Sample;

/// Longest placeholder name recognised, in bytes.
pub const MAX_NAME: usize = 64;

/// Replaces each `{name}` in `template` for which `lookup` returns a value.
pub fn substitute<'v>(template: &str, lookup: impl Fn(&str) -> Option<Cow<'v, str>>) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let name_len = after
            .bytes()
            .take(MAX_NAME + 1)
            .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
            .count();
        let closed =
            name_len > 0 && name_len <= MAX_NAME && after.as_bytes().get(name_len) == Some(&b'}');
        if closed {
            let name = &after[..name_len];
            if let Some(value) = lookup(name) {
                out.push_str(&value);
                rest = &after[name_len + 1..];
                continue;
            }
        }
        out.push('{');
        rest = after;
    }
    out.push_str(rest);
    out
}

/// The value of a sample field for a template: `id`, `input`, `target` (targets joined by
/// `, `), `choices` (one per line), or a metadata key (strings as they are, other JSON values
/// as JSON text).
pub fn sample_field<'s>(sample: &'s Sample, name: &str) -> Option<Cow<'s, str>> {
    match name {
        "id" => Some(Cow::Borrowed(&sample.id)),
        "input" => Some(Cow::Borrowed(sample.input_text())),
        "target" => Some(Cow::Owned(sample.target.join(", "))),
        "choices" if !sample.choices.is_empty() => Some(Cow::Owned(sample.choices.join("\n"))),
        _ => sample.metadata.get(name).map(|v| match v {
            serde_json::Value::String(s) => Cow::Borrowed(s.as_str()),
            other => Cow::Owned(other.to_string()),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(name: &str) -> Option<Cow<'static, str>> {
        match name {
            "a" => Some(Cow::Borrowed("{b}")),
            "b" => Some(Cow::Borrowed("B")),
            _ => None,
        }
    }

    #[test]
    fn replaces_known_names_once_and_leaves_the_rest() {
        assert_eq!(substitute("x{a}y{b}z", lookup), "x{b}yBz");
        assert_eq!(substitute("{unknown} {b", lookup), "{unknown} {b");
        assert_eq!(substitute("{{b}} {} {b c}", lookup), "{B} {} {b c}");
        assert_eq!(substitute("é{b}ü{", lookup), "éBü{");
        let long = format!("{{{}}}", "b".repeat(MAX_NAME + 1));
        assert_eq!(substitute(&long, lookup), long);
    }
}
