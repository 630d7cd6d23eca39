//! The rule catalogue as Markdown (`docs/rules.md`) and as JSON (`modelgate rules --format json`),
//! both generated from [`RuleId`]'s metadata so the documentation cannot drift from the code.

use std::fmt::Write as _;

use modelgate_core::{RuleCategory, RuleId};
use serde_json::{Value, json};

fn category_title(category: RuleCategory) -> &'static str {
    match category {
        RuleCategory::General => "General",
        RuleCategory::Pickle => "Pickle",
        RuleCategory::Archive => "Archives and compressed streams",
        RuleCategory::Numpy => "NumPy",
        RuleCategory::ModelFormat => "Model formats",
        RuleCategory::Repository => "Repository",
        RuleCategory::Dataset => "Datasets",
    }
}

/// `docs/rules.md`.
pub fn rules_markdown() -> String {
    let mut out = String::from(
        "# modelgate scan rules\n\n\
         Generated from `crates/modelgate-core/src/rule.rs` (`modelgate rules` prints the same \
         list). Codes and names are stable: a released code never changes meaning. The severity \
         shown is the default; a rule may report higher or lower with a reason given in the \
         message (for example an extension mismatch is `high` when a code-executing format hides \
         behind a data-only extension). Per-format details: [rules/](rules/).\n",
    );
    let mut current = None;
    for rule in RuleId::ALL {
        if current != Some(rule.category()) {
            current = Some(rule.category());
            let _ = write!(
                out,
                "\n## {}\n\n| code | name | default severity | CWE | what it detects | what to do |\n|---|---|---|---|---|---|\n",
                category_title(rule.category())
            );
        }
        let _ = writeln!(
            out,
            "| <a id=\"{}\"></a>`{}` | `{}` | {} | {} | {} | {} |",
            rule.code().to_ascii_lowercase(),
            rule.code(),
            rule.name(),
            rule.default_severity(),
            rule.cwe(),
            rule.summary(),
            rule.help()
        );
    }
    out
}

/// The rule catalogue as JSON.
pub fn rules_json() -> Value {
    Value::Array(
        RuleId::ALL
            .iter()
            .map(|rule| {
                json!({
                    "code": rule.code(),
                    "name": rule.name(),
                    "category": rule.category(),
                    "default_severity": rule.default_severity(),
                    "cwe": rule.cwe(),
                    "summary": rule.summary(),
                    "help": rule.help(),
                })
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `docs/rules.md` must be what the code generates. Regenerate with
    /// `MODELGATE_UPDATE_DOCS=1 cargo test -p modelgate-report`.
    #[test]
    fn docs_rules_md_is_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/rules.md");
        let generated = rules_markdown();
        if std::env::var_os("MODELGATE_UPDATE_DOCS").is_some() {
            std::fs::write(path, &generated).unwrap();
        }
        let on_disk = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            on_disk == generated,
            "docs/rules.md is stale: run MODELGATE_UPDATE_DOCS=1 cargo test -p modelgate-report"
        );
    }

    #[test]
    fn json_lists_every_rule() {
        let json = rules_json();
        assert_eq!(json.as_array().map(Vec::len), Some(RuleId::ALL.len()));
        assert_eq!(json[0]["code"], "MG001");
    }
}
