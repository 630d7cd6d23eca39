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

/// Checks `value` against `schema` (draft 2020-12 subset: type, required, properties,
/// additionalProperties: false, items, enum, const, $ref to #/$defs, minimum, pattern as a
/// prefix/charset check is not done). Returns the list of violations with JSON pointers.
pub fn schema_violations(schema: &Value, value: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    check(schema, schema, value, "", &mut errors);
    errors
}

fn resolve<'a>(root: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let name = r.trim_start_matches("#/$defs/");
            &root["$defs"][name]
        }
        None => schema,
    }
}

fn check(root: &Value, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    let schema = resolve(root, schema);
    if let Some(c) = schema.get("const")
        && c != value
    {
        errors.push(format!("{at}: expected const {c}, got {value}"));
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array)
        && !options.contains(value)
    {
        errors.push(format!("{at}: {value} not in enum"));
    }
    match schema.get("type").and_then(Value::as_str) {
        Some("object") => {
            let Some(obj) = value.as_object() else {
                errors.push(format!("{at}: expected object"));
                return;
            };
            for key in schema["required"].as_array().into_iter().flatten() {
                let key = key.as_str().unwrap_or_default();
                if !obj.contains_key(key) {
                    errors.push(format!("{at}: missing required `{key}`"));
                }
            }
            let props = schema.get("properties").and_then(Value::as_object);
            for (key, child) in obj {
                match props.and_then(|p| p.get(key)) {
                    Some(sub) => check(root, sub, child, &format!("{at}/{key}"), errors),
                    None if schema.get("additionalProperties") == Some(&Value::Bool(false)) => {
                        errors.push(format!("{at}: unexpected property `{key}`"));
                    }
                    None => {}
                }
            }
        }
        Some("array") => {
            let Some(items) = value.as_array() else {
                errors.push(format!("{at}: expected array"));
                return;
            };
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    check(root, item_schema, item, &format!("{at}/{i}"), errors);
                }
            }
        }
        Some("integer") => {
            if !value.is_u64() && !value.is_i64() {
                errors.push(format!("{at}: expected integer"));
            } else if let Some(min) = schema.get("minimum").and_then(Value::as_i64)
                && value.as_i64().is_some_and(|v| v < min)
            {
                errors.push(format!("{at}: below minimum {min}"));
            }
        }
        Some("string") if !value.is_string() => {
            errors.push(format!("{at}: expected string"));
        }
        _ => {}
    }
}
