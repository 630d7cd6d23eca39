//! A [`Finding`] is one thing a rule saw, at one [`Location`].

use serde::{Deserialize, Serialize};

use crate::{RuleId, Severity};

/// Where a finding was seen: the file on disk, then (optionally) the archive member path inside
/// it, a byte offset within the innermost stream, or a line and column for text formats.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Location {
    /// The path as given on the command line, joined with the walked relative path.
    pub path: String,
    /// Member path inside an archive or compressed stream; nested containers are joined with `!`
    /// (for example `model.tar.gz!archive/data.pkl`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<String>,
    /// Byte offset within the innermost stream (the member if there is one, else the file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// 1-based line, for text formats.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// 1-based column, for text formats.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
}

impl Location {
    /// A location naming just a file.
    pub fn file(path: impl Into<String>) -> Self {
        Location {
            path: path.into(),
            member: None,
            offset: None,
            line: None,
            column: None,
        }
    }

    /// The same location inside member `member`; nests with `!` if a member is already set.
    #[must_use]
    pub fn with_member(mut self, member: impl AsRef<str>) -> Self {
        let member = member.as_ref();
        self.member = Some(match self.member.take() {
            Some(outer) => format!("{outer}!{member}"),
            None => member.to_owned(),
        });
        self.offset = None;
        self
    }

    /// The same location at byte `offset` of the innermost stream.
    #[must_use]
    pub fn with_offset(mut self, offset: u64) -> Self {
        self.offset = Some(offset);
        self
    }

    /// The same location at a 1-based line and column.
    #[must_use]
    pub fn with_line_column(mut self, line: u32, column: u32) -> Self {
        self.line = Some(line);
        self.column = Some(column);
        self
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.path)?;
        if let Some(member) = &self.member {
            write!(f, "!{member}")?;
        }
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        if let Some(offset) = self.offset {
            write!(f, " @{offset:#x}")?;
        }
        Ok(())
    }
}

/// One observation by one rule. Findings are not errors: a malicious model is a finding, a file
/// that could not be read is an error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// The rule that fired.
    pub rule: RuleId,
    /// How bad it is; usually the rule's default, sometimes raised or lowered with reason.
    pub severity: Severity,
    /// Where it was seen.
    pub location: Location,
    /// The offending callable, field or key, e.g. `os.system` or `auto_map.AutoModel`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// One line: what happened and what to do.
    pub message: String,
    /// A short excerpt supporting the finding (never more than a few hundred characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
}

/// Evidence is capped so that a hostile file cannot blow up reports.
pub const MAX_EVIDENCE_CHARS: usize = 240;

impl Finding {
    /// A finding with no subject and no evidence.
    pub fn new(
        rule: RuleId,
        severity: Severity,
        location: Location,
        message: impl Into<String>,
    ) -> Self {
        Finding {
            rule,
            severity,
            location,
            subject: None,
            message: message.into(),
            evidence: None,
        }
    }

    /// A finding at the rule's default severity.
    pub fn of(rule: RuleId, location: Location, message: impl Into<String>) -> Self {
        Finding::new(rule, rule.default_severity(), location, message)
    }

    /// Names the offending callable or field.
    #[must_use]
    pub fn with_subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }

    /// Attaches evidence, truncated to [`MAX_EVIDENCE_CHARS`] characters and with control
    /// characters escaped so that it cannot rewrite a terminal.
    #[must_use]
    pub fn with_evidence(mut self, evidence: impl AsRef<str>) -> Self {
        self.evidence = Some(sanitize_evidence(evidence.as_ref()));
        self
    }
}

/// Escapes control and invisible formatting characters and truncates to [`MAX_EVIDENCE_CHARS`].
pub fn sanitize_evidence(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len().min(MAX_EVIDENCE_CHARS + 8));
    for (count, ch) in raw.chars().enumerate() {
        if count >= MAX_EVIDENCE_CHARS {
            out.push('…');
            break;
        }
        let invisible = matches!(ch, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}' | '\u{E0000}'..='\u{E007F}');
        if ch.is_control() || invisible {
            out.extend(ch.escape_unicode());
        } else {
            out.push(ch);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_nests_members_and_displays() {
        let loc = Location::file("m/model.tar.gz")
            .with_member("model.tar")
            .with_member("archive/data.pkl")
            .with_offset(16);
        assert_eq!(loc.member.as_deref(), Some("model.tar!archive/data.pkl"));
        assert_eq!(
            loc.to_string(),
            "m/model.tar.gz!model.tar!archive/data.pkl @0x10"
        );
    }

    #[test]
    fn evidence_is_escaped_and_capped() {
        let f = Finding::of(RuleId::PickleMalformed, Location::file("x"), "m")
            .with_evidence("a\u{1b}[2Jb\u{202E}c");
        assert_eq!(f.evidence.as_deref(), Some("a\\u{1b}[2Jb\\u{202e}c"));
        let long = "x".repeat(1000);
        let capped = sanitize_evidence(&long);
        assert_eq!(capped.chars().count(), MAX_EVIDENCE_CHARS + 1);
    }
}
