//! Helpers shared by the CLI tests: running the binary, and a small JSON Schema checker for the
//! subset of keywords our published schemas use (so a schema that drifts from the output fails).

// Test helpers: each test binary uses a different subset, and a failed spawn should abort the test.
#![allow(dead_code, clippy::expect_used, clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

pub fn modelgate(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_modelgate"))
        .args(args)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .output()
        .expect("run modelgate")
}

/// Runs modelgate and asserts its exit code, showing both streams on failure.
#[track_caller]
pub fn expect(args: &[&str], cwd: &Path, want: i32) -> Output {
    let out = modelgate(args, cwd);
    assert_eq!(
        code(&out),
        want,
        "modelgate {args:?}\nstdout:\n{}\nstderr:\n{}",
        stdout(&out),
        stderr(&out)
    );
    out
}

pub fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn repo_root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// Checks `value` against `schema`: the draft 2020-12 subset our published schemas use (type —
/// also as a list —, required, properties, additionalProperties: false, items, enum, const,
/// `$ref` to `#/$defs`, minimum). Returns the violations with JSON pointers, so a schema that
/// drifts from the output fails the test that checks it.
pub fn schema_violations(schema: &Value, value: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    check(schema, schema, value, "", &mut errors);
    errors
}

fn check(root: &Value, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    let schema = match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => &root["$defs"][r.trim_start_matches("#/$defs/")],
        None => schema,
    };
    if let Some(c) = schema.get("const")
        && c != value
    {
        errors.push(format!("{at}: expected {c}, got {value}"));
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array)
        && !options.contains(value)
    {
        errors.push(format!("{at}: {value} not in enum"));
    }
    let types: Vec<&str> = match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if types.is_empty() {
        return;
    }
    let matches = |t: &str| match t {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        _ => false,
    };
    if !types.iter().any(|t| matches(t)) {
        errors.push(format!("{at}: expected {types:?}, got {value}"));
        return;
    }
    if let Some(min) = schema.get("minimum").and_then(Value::as_f64)
        && value.as_f64().is_some_and(|v| v < min)
    {
        errors.push(format!("{at}: below minimum {min}"));
    }
    if let Some(obj) = value.as_object() {
        for key in schema["required"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !obj.contains_key(key) {
                errors.push(format!("{at}: missing required `{key}`"));
            }
        }
        for (key, child) in obj {
            match schema.get("properties").and_then(|p| p.get(key)) {
                Some(sub) => check(root, sub, child, &format!("{at}/{key}"), errors),
                None if schema.get("additionalProperties") == Some(&Value::Bool(false)) => {
                    errors.push(format!("{at}: unexpected property `{key}`"));
                }
                None => {}
            }
        }
    }
    if let (Some(items), Some(sub)) = (value.as_array(), schema.get("items")) {
        for (i, item) in items.iter().enumerate() {
            check(root, sub, item, &format!("{at}/{i}"), errors);
        }
    }
}

/// The interop venv's Python (`.venv-interop`, made by scripts/interop-env.sh, which this runs
/// once per test process). `None` — after a loud message — when it cannot be set up outside CI;
/// a panic when `CI` is set, so a CI run never skips the interop tests silently.
#[allow(clippy::print_stderr)]
pub fn interop_venv_python() -> Option<std::path::PathBuf> {
    static SETUP: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    let root = repo_root();
    let python = root.join(".venv-interop/bin/python");
    let setup =
        SETUP.get_or_init(
            || match Command::new(root.join("scripts/interop-env.sh")).output() {
                Ok(o) if o.status.success() => Ok(()),
                Ok(o) => Err(format!(
                    "scripts/interop-env.sh failed: {}{}",
                    String::from_utf8_lossy(&o.stdout),
                    String::from_utf8_lossy(&o.stderr)
                )),
                Err(e) => Err(format!("cannot run scripts/interop-env.sh: {e}")),
            },
        );
    if setup.is_ok() && python.exists() {
        return Some(python);
    }
    let why = match setup {
        Err(e) => e.clone(),
        Ok(()) => format!("{} is missing", python.display()),
    };
    assert!(
        std::env::var_os("CI").is_none(),
        "interop venv unavailable in CI ({why}); run scripts/interop-env.sh"
    );
    eprintln!("\n*** SKIPPED interop test: {why}. Run scripts/interop-env.sh to enable. ***\n");
    None
}
