//! Member-name checks shared by zip and tar: path tricks, and the normal forms under which two
//! different names reach the same file when extracted.

/// A way an archive member's name can reach outside the folder it is extracted to, or be read
/// differently by different tools.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PathIssue {
    /// Starts with `/` or `\`, or a drive letter (`C:`).
    Absolute,
    /// Has a `..` component.
    DotDot,
    /// Contains `\`, a separator on Windows but a plain character for Python's `zipfile`.
    Backslash,
    /// Contains a NUL byte (C-string based tools truncate the name there).
    Nul,
    /// The name is empty.
    Empty,
}

impl PathIssue {
    /// A short description for messages.
    pub fn describe(self) -> &'static str {
        match self {
            PathIssue::Absolute => "an absolute path",
            PathIssue::DotDot => "a `..` component",
            PathIssue::Backslash => "a backslash",
            PathIssue::Nul => "a NUL byte",
            PathIssue::Empty => "an empty name",
        }
    }
}

/// Every [`PathIssue`] of a raw member name.
pub fn path_issues(raw: &[u8]) -> Vec<PathIssue> {
    let mut issues = Vec::new();
    if raw.is_empty() {
        issues.push(PathIssue::Empty);
        return issues;
    }
    let drive = matches!(raw, [letter, b':', ..] if letter.is_ascii_alphabetic());
    if matches!(raw.first(), Some(b'/' | b'\\')) || drive {
        issues.push(PathIssue::Absolute);
    }
    if raw.split(|b| *b == b'/' || *b == b'\\').any(|c| c == b"..") {
        issues.push(PathIssue::DotDot);
    }
    if raw.contains(&b'\\') {
        issues.push(PathIssue::Backslash);
    }
    if raw.contains(&0) {
        issues.push(PathIssue::Nul);
    }
    issues
}

/// The path a name is extracted to: `\` as `/`, empty and `.` components dropped, `..` applied.
/// `a/./b`, `a//b` and `a\b` all normalise to `a/b`.
pub fn normalise(name: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in name.split(['/', '\\']) {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else {
                    parts.push("..");
                }
            }
            other => parts.push(other),
        }
    }
    parts.join("/")
}

/// [`normalise`]d and lower-cased: the name on a case-insensitive file system.
pub fn case_fold(name: &str) -> String {
    normalise(name).to_lowercase()
}

/// The first path component of a normalised name, if the name has more than one.
pub fn top_folder(name: &str) -> Option<&str> {
    name.split_once('/')
        .map(|(top, _)| top)
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_path_tricks() {
        assert_eq!(path_issues(b"archive/data.pkl"), vec![]);
        assert_eq!(path_issues(b"/etc/passwd"), vec![PathIssue::Absolute]);
        assert_eq!(path_issues(b"C:x"), vec![PathIssue::Absolute]);
        assert_eq!(path_issues(b"a/../../b"), vec![PathIssue::DotDot]);
        assert_eq!(
            path_issues(b"..\\evil"),
            vec![PathIssue::DotDot, PathIssue::Backslash]
        );
        assert_eq!(path_issues(b"a\0.pkl"), vec![PathIssue::Nul]);
        assert_eq!(path_issues(b""), vec![PathIssue::Empty]);
        assert_eq!(path_issues(b"a..b/c.."), vec![]);
    }

    #[test]
    fn normal_forms() {
        assert_eq!(normalise("a/./b"), "a/b");
        assert_eq!(normalise("a//b"), "a/b");
        assert_eq!(normalise("a\\b"), "a/b");
        assert_eq!(normalise("a/x/../b"), "a/b");
        assert_eq!(normalise("../b"), "../b");
        assert_eq!(case_fold("A/B.npy"), "a/b.npy");
        assert_eq!(top_folder("archive/data.pkl"), Some("archive"));
        assert_eq!(top_folder("data.pkl"), None);
    }
}
