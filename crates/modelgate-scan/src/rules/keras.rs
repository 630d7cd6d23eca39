//! ## MG408 `keras-lambda-layer`
//!
//! ### What it does
//! Walks a Keras model config — the `config.json` of a Keras 3 `.keras` archive, or the
//! `model_config` (and `training_config`) attribute of a legacy `.h5` file — and reports every
//! `Lambda` layer and every serialized `__lambda__` function object, wherever it sits (layers of
//! `Functional`/`Sequential`/`Model` configs, nested models, `compile_config`, losses, metrics,
//! objects defined once and referenced by `shared_object_id`). The evidence is the function's
//! module and name, or the first characters of its base64 marshalled bytecode.
//!
//! `TFOpLambda` is **not** reported as a Lambda: it names a TensorFlow API symbol
//! (`"function": "math.add"`) that Keras resolves with `getattr` on `tf`, and carries no bytecode.
//! It is reported as a custom object (MG409) only when the symbol reaches file, process or Python
//! escape hatches (`io.*`, `py_function`, `numpy_function`, `raw_ops.ReadFile`…).
//!
//! ### Why is this bad?
//! A Lambda layer stores Python bytecode (`marshal`) or a reference to a Python function; loading
//! the model with `safe_mode=False` (or with Keras 2) runs it. It is arbitrary code execution in a
//! weights file.
//!
//! ### Example
//! ```json
//! {"class_name": "Lambda", "config": {"function": {"class_name": "__lambda__",
//!   "config": {"code": "4wEAAAAAAAAAAAAAAAEAAAAEAAAAQwAAAHMM…"}}}}
//! ```
//!
//! ### References
//! - CWE-94: Code Injection.
//! - CVE-2024-3660 (Keras Lambda layer code injection, fixed by `safe_mode` in Keras 2.13).
//!
//! ## MG409 `keras-custom-object`
//!
//! ### What it does
//! Reports objects whose `module` lies outside Keras (`keras`, `keras_hub`, `keras_nlp`,
//! `keras_cv`, `tf_keras`, `tensorflow.keras`, `tensorflow.python.keras`) and objects whose
//! `registered_name` has a custom package prefix (`MyPackage>MyLayer`). Function objects
//! (`{"module": "os", "class_name": "function", "config": "system"}`) that name process, file or
//! import machinery, and Keras-internal functions that disable safety or fetch files
//! (`enable_unsafe_deserialization`, `get_file`), are critical.
//!
//! ### Why is this bad?
//! Keras imports the named module to rebuild the object, so loading the model runs that module's
//! import-time code and can call any function it names — the Keras `safe_mode` bypasses
//! (CVE-2025-1550, CVE-2025-9905, CVE-2025-9906) work exactly this way.
//!
//! ### Example
//! ```json
//! {"module": "os", "class_name": "function", "config": "system", "registered_name": "system"}
//! ```
//!
//! ### References
//! - CWE-829; CVE-2025-1550, CVE-2025-9905, CVE-2025-9906 (Keras `safe_mode` bypasses).
//!
//! ## MG410 `keras-malformed`
//!
//! ### What it does
//! Reports a Keras config that is not valid JSON, nests deeper than `max_json_depth`, or an HDF5
//! file whose root attributes cannot be read.
//!
//! ### Why is this bad?
//! A config that cannot be checked must not be trusted.
//!
//! ### Example
//! ```text
//! model_config = '{"class_name": "Sequential", "config": {'
//! ```
//!
//! ### References
//! - CWE-20: Improper Input Validation.

use modelgate_core::{Finding, Location, RuleId, Severity};
use modelgate_formats::ByteSource;
use modelgate_formats::hdf5::{self, AttrValue};
use serde_json::Value;

use crate::Ctx;

/// Module prefixes that belong to Keras itself.
const KERAS_MODULES: &[&str] = &[
    "keras",
    "keras_hub",
    "keras_nlp",
    "keras_cv",
    "tf_keras",
    "tensorflow.keras",
    "tensorflow.python.keras",
];

/// Registered-name packages that belong to Keras itself.
const KERAS_PACKAGES: &[&str] = &["keras", "keras_hub", "keras_nlp", "keras_cv", "tf_keras"];

/// Modules whose functions execute processes, touch files, import code or open sockets.
const DANGEROUS_MODULES: &[&str] = &[
    "os",
    "posix",
    "nt",
    "subprocess",
    "sys",
    "shutil",
    "socket",
    "importlib",
    "pickle",
    "marshal",
    "runpy",
    "pty",
    "code",
    "ctypes",
    "webbrowser",
    "urllib",
    "requests",
    "http",
    "ftplib",
    "telnetlib",
    "smtplib",
    "asyncio",
    "multiprocessing",
    "platform",
    "pathlib",
    "io",
    "codecs",
    "tempfile",
    "glob",
    "zipfile",
    "tarfile",
];

/// `builtins` functions that execute code or reach the file system.
const DANGEROUS_BUILTINS: &[&str] = &[
    "eval",
    "exec",
    "compile",
    "__import__",
    "open",
    "getattr",
    "setattr",
    "delattr",
    "globals",
    "locals",
    "vars",
    "breakpoint",
    "input",
    "help",
];

/// Keras functions that disable its own protections or fetch/write files.
const DANGEROUS_KERAS_FUNCTIONS: &[&str] = &[
    "enable_unsafe_deserialization",
    "get_file",
    "load_model",
    "save_model",
    "load_weights",
    "save_weights",
];

/// TensorFlow symbol prefixes a `TFOpLambda` must not name.
const DANGEROUS_TF_OPS: &[&str] = &[
    "io.",
    "gfile.",
    "py_function",
    "numpy_function",
    "raw_ops.ReadFile",
    "raw_ops.WriteFile",
    "raw_ops.PyFunc",
    "raw_ops.EagerPyFunc",
    "compat.v1.py_func",
    "compat.v1.io.",
    "debugging.",
    "print",
    "saved_model.",
    "summary.",
    "data.experimental.load",
    "distribute.",
];

/// Scans a legacy Keras HDF5 file.
pub fn scan_hdf5(ctx: &mut Ctx<'_>, src: &dyn ByteSource) {
    let attrs = match hdf5::root_attributes(src, ctx.limits) {
        Ok(attrs) => attrs,
        Err(e) => {
            let finding = Finding::of(
                RuleId::KerasMalformed,
                ctx.at(e.offset()),
                format!(
                    "HDF5 root attributes cannot be read: {e}; a Keras config inside was not checked — re-export the model from a trusted source"
                ),
            );
            ctx.report(finding);
            return;
        }
    };
    let mut found = false;
    for name in ["model_config", "training_config"] {
        let Some(attr) = attrs.get(name) else {
            continue;
        };
        found |= name == "model_config";
        match &attr.value {
            AttrValue::Strings(strings) => {
                if let Some(json) = strings.first() {
                    let location = ctx.at(attr.offset);
                    check_config(ctx, json, &location, &format!("HDF5 attribute `{name}`"));
                }
            }
            AttrValue::Other { class } => {
                let finding = Finding::of(
                    RuleId::KerasMalformed,
                    ctx.at(attr.offset),
                    format!("HDF5 attribute `{name}` has datatype class {class}, not a string; the config was not checked"),
                )
                .with_subject(name);
                ctx.report(finding);
            }
        }
    }
    if !found && attrs.dense_storage.is_some() {
        // Dense attribute storage (fractal heap) is not decoded: search the bytes instead.
        let max_scan = ctx.limits.max_hdf5_bytes.saturating_mul(4);
        let found_json = hdf5::find_json_object(
            src,
            br#"{"class_name""#,
            max_scan,
            ctx.limits.max_json_bytes,
        );
        if let Some((offset, json)) = found_json {
            let location = ctx.at(offset);
            check_config(
                ctx,
                &json,
                &location,
                "HDF5 dense attribute storage (fallback byte search; attributes not decoded)",
            );
        } else {
            let offset = attrs.dense_storage.unwrap_or(0);
            let finding = Finding::new(
                RuleId::KerasMalformed,
                Severity::Low,
                ctx.at(offset),
                "root attributes are in HDF5 dense storage, which is not decoded, and a fallback byte search found no Keras config; any config there was not checked",
            );
            ctx.report(finding);
        }
    }
}

/// Checks a Keras model config (the `config.json` of a `.keras` archive, or HDF5 `model_config`).
pub fn check_config_json(ctx: &mut Ctx<'_>, json: &[u8]) {
    let location = ctx.location().clone();
    check_config(ctx, json, &location, "Keras config");
}

fn check_config(ctx: &mut Ctx<'_>, json: &[u8], location: &Location, what: &str) {
    if json.len() as u64 > ctx.limits.max_json_bytes {
        let max = ctx.limits.max_json_bytes;
        ctx.report(Finding::new(
            RuleId::LimitExceeded,
            Severity::High,
            location.clone(),
            format!(
                "{what} is {} bytes, over the {max}-byte JSON limit; it was not checked",
                json.len()
            ),
        ));
        return;
    }
    let value: Value = match serde_json::from_slice(json) {
        Ok(v) => v,
        Err(e) => {
            ctx.report(Finding::of(
                RuleId::KerasMalformed,
                location.clone(),
                format!("{what} is not valid JSON (line {}, column {}): {e}; it cannot be checked — do not load the model", e.line(), e.column()),
            ));
            return;
        }
    };
    let mut walker = Walker {
        hits: Vec::new(),
        max_depth: ctx.limits.max_json_depth,
        too_deep: false,
    };
    walker.walk(&value, "$", 0);
    for hit in walker.hits {
        let mut finding = Finding::new(
            hit.rule,
            hit.severity,
            location.clone(),
            format!("{what}: {}", hit.message),
        )
        .with_subject(hit.subject);
        if let Some(evidence) = hit.evidence {
            finding = finding.with_evidence(evidence);
        }
        ctx.report(finding);
    }
    if walker.too_deep {
        ctx.report(Finding::of(
            RuleId::KerasMalformed,
            location.clone(),
            format!(
                "{what} nests deeper than {} levels; the deeper parts were not checked",
                ctx.limits.max_json_depth
            ),
        ));
    }
}

struct Hit {
    rule: RuleId,
    severity: Severity,
    subject: String,
    message: String,
    evidence: Option<String>,
}

struct Walker {
    hits: Vec<Hit>,
    max_depth: u32,
    too_deep: bool,
}

fn str_at<'v>(obj: &'v serde_json::Map<String, Value>, key: &str) -> Option<&'v str> {
    obj.get(key).and_then(Value::as_str)
}

fn is_keras_module(module: &str) -> bool {
    KERAS_MODULES.iter().any(|k| {
        module == *k
            || module
                .strip_prefix(k)
                .is_some_and(|rest| rest.starts_with('.'))
    })
}

impl Walker {
    fn hit(
        &mut self,
        rule: RuleId,
        severity: Severity,
        subject: String,
        message: String,
        evidence: Option<String>,
    ) {
        self.hits.push(Hit {
            rule,
            severity,
            subject,
            message,
            evidence,
        });
    }

    fn walk(&mut self, value: &Value, path: &str, depth: u32) {
        if depth > self.max_depth {
            self.too_deep = true;
            return;
        }
        match value {
            Value::Object(obj) => {
                self.object(obj, path);
                for (k, v) in obj {
                    self.walk(v, &format!("{path}.{k}"), depth + 1);
                }
            }
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    self.walk(v, &format!("{path}[{i}]"), depth + 1);
                }
            }
            _ => {}
        }
    }

    fn object(&mut self, obj: &serde_json::Map<String, Value>, path: &str) {
        let class_name = str_at(obj, "class_name").unwrap_or_default();
        let module = str_at(obj, "module");
        let config = obj.get("config");
        let layer_name = config
            .and_then(Value::as_object)
            .and_then(|c| str_at(c, "name"))
            .unwrap_or("");
        let subject = if layer_name.is_empty() {
            path.to_owned()
        } else {
            format!("{path} ({layer_name})")
        };

        if class_name == "Lambda" {
            let evidence = config.and_then(Value::as_object).map(lambda_evidence);
            self.hit(
                RuleId::KerasLambdaLayer,
                Severity::Critical,
                subject.clone(),
                format!("Lambda layer at `{path}` carries Python code that runs when the model is loaded or called; reject the model or rebuild it without Lambda layers"),
                evidence,
            );
        } else if class_name == "__lambda__" {
            let code = config
                .and_then(Value::as_object)
                .and_then(|c| str_at(c, "code"))
                .map(|c| c.chars().take(48).collect::<String>());
            self.hit(
                RuleId::KerasLambdaLayer,
                Severity::Critical,
                path.to_owned(),
                format!("serialized Python lambda (marshalled bytecode) at `{path}`; loading it with safe_mode off executes it"),
                code,
            );
        } else if class_name == "TFOpLambda" {
            let function = config
                .and_then(Value::as_object)
                .and_then(|c| str_at(c, "function"))
                .unwrap_or("");
            if DANGEROUS_TF_OPS.iter().any(|p| function.starts_with(p)) {
                self.hit(
                    RuleId::KerasCustomObject,
                    Severity::High,
                    format!("tf.{function}"),
                    format!("TFOpLambda at `{path}` calls `tf.{function}`, which reaches files or Python functions; review the model"),
                    Some(function.to_owned()),
                );
            }
        }

        if let Some(module) = module {
            let name = match config {
                Some(Value::String(s)) => s.as_str(),
                _ => class_name,
            };
            let qualified = format!("{module}.{name}");
            let top = module.split('.').next().unwrap_or(module);
            if module == "builtins" {
                if DANGEROUS_BUILTINS.contains(&name) {
                    self.critical_object(&qualified, path);
                }
            } else if is_keras_module(module) {
                if class_name == "function" && DANGEROUS_KERAS_FUNCTIONS.contains(&name) {
                    self.critical_object(&qualified, path);
                }
            } else if DANGEROUS_MODULES.contains(&top) {
                self.critical_object(&qualified, path);
            } else {
                self.hit(
                    RuleId::KerasCustomObject,
                    Severity::High,
                    qualified.clone(),
                    format!("object at `{path}` is rebuilt from module `{module}`, outside Keras; loading the model imports it — review that module's source"),
                    Some(qualified),
                );
            }
        }

        if let Some(registered) = str_at(obj, "registered_name")
            && let Some((package, _)) = registered.split_once('>')
            && !KERAS_PACKAGES.contains(&package)
            && module.is_none_or(is_keras_module)
        {
            self.hit(
                        RuleId::KerasCustomObject,
                        Severity::High,
                        registered.to_owned(),
                        format!("object at `{path}` is registered as `{registered}`, a custom serializable from package `{package}`; loading needs that package's code — review it"),
                        Some(registered.to_owned()),
                    );
        }
    }

    fn critical_object(&mut self, qualified: &str, path: &str) {
        self.hit(
            RuleId::KerasCustomObject,
            Severity::Critical,
            qualified.to_owned(),
            format!("object at `{path}` resolves to `{qualified}`, which executes code, touches files or disables Keras safe mode; reject the model"),
            Some(qualified.to_owned()),
        );
    }
}

/// The function's module and name, or a prefix of its base64 bytecode.
fn lambda_evidence(config: &serde_json::Map<String, Value>) -> String {
    let module = str_at(config, "module").unwrap_or("");
    match config.get("function") {
        // Keras 2: [base64 code, defaults, closure] or a function name.
        Some(Value::Array(parts)) => {
            let code = parts.first().and_then(Value::as_str).unwrap_or("");
            format!("bytecode {}", code.chars().take(48).collect::<String>())
        }
        Some(Value::String(name)) => format!("{module}.{name}"),
        // Keras 3: {"class_name": "__lambda__", "config": {"code": …}} or a function object.
        Some(Value::Object(f)) => {
            let inner = f.get("config");
            match (str_at(f, "class_name"), inner) {
                (Some("__lambda__"), Some(Value::Object(c))) => {
                    format!(
                        "bytecode {}",
                        str_at(c, "code")
                            .unwrap_or("")
                            .chars()
                            .take(48)
                            .collect::<String>()
                    )
                }
                (_, Some(Value::String(name))) => {
                    format!("{}.{name}", str_at(f, "module").unwrap_or(module))
                }
                _ => "function object".to_owned(),
            }
        }
        _ => "no function recorded".to_owned(),
    }
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::context::run_rule;

    fn run(json: &str) -> Vec<Finding> {
        run_rule(
            Location::file("m.keras").with_member("config.json"),
            "config.json",
            |ctx| check_config_json(ctx, json.as_bytes()),
        )
    }

    const BENIGN_V3: &str = r#"{"module": "keras", "class_name": "Sequential", "config": {"name": "sequential", "trainable": true,
      "dtype": {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": null},
      "layers": [
        {"module": "keras.layers", "class_name": "InputLayer", "config": {"batch_shape": [null, 4], "dtype": "float32", "name": "input_layer"}, "registered_name": null},
        {"module": "keras.layers", "class_name": "Dense", "config": {"name": "dense", "units": 2,
          "activation": "relu",
          "kernel_initializer": {"module": "keras.initializers", "class_name": "GlorotUniform", "config": {"seed": null}, "registered_name": null}},
          "registered_name": null, "build_config": {"input_shape": [null, 4]}},
        {"module": "keras_hub.src.models", "class_name": "Backbone", "config": {}, "registered_name": "keras_hub>Backbone"}
      ], "build_input_shape": [null, 4]},
      "registered_name": null, "build_config": {"input_shape": [null, 4]},
      "compile_config": {"optimizer": {"module": "keras.optimizers", "class_name": "Adam", "config": {"name": "adam", "learning_rate": 0.001}, "registered_name": null},
        "loss": {"module": "keras.losses", "class_name": "function", "config": "mean_squared_error", "registered_name": "function"}}}"#;

    const BENIGN_LEGACY: &str = r#"{"class_name": "Sequential", "config": {"name": "sequential", "layers": [
        {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 4], "dtype": "float32", "name": "input_1"}},
        {"class_name": "Dense", "config": {"name": "dense", "units": 2, "activation": "relu"}},
        {"class_name": "TFOpLambda", "config": {"name": "tf.math.add", "function": "math.add"}}]}}"#;

    #[test]
    fn benign_configs_are_clean() {
        assert!(run(BENIGN_V3).is_empty(), "{:#?}", run(BENIGN_V3));
        assert!(run(BENIGN_LEGACY).is_empty(), "{:#?}", run(BENIGN_LEGACY));
    }

    #[test]
    fn keras3_lambda_with_bytecode() {
        let json = r#"{"module": "keras", "class_name": "Functional", "config": {"layers": [
          {"module": "keras.layers", "class_name": "Lambda", "config": {"name": "evil",
            "function": {"class_name": "__lambda__", "config": {"code": "4wEAAAAAAAAAAAAAAAEAAAAEAAAAQwAAAHMMAAAAdABkAYMBAQBkAFMAKQJO", "defaults": null, "closure": null}}},
           "registered_name": null}]}}"#;
        let f = run(json);
        let lambda = f
            .iter()
            .find(|f| {
                f.rule == RuleId::KerasLambdaLayer
                    && f.subject.as_deref().is_some_and(|s| s.contains("evil"))
            })
            .unwrap();
        assert_eq!(lambda.severity, Severity::Critical);
        assert!(
            lambda
                .evidence
                .as_deref()
                .unwrap()
                .starts_with("bytecode 4wEAAAAA")
        );
    }

    #[test]
    fn legacy_lambda_function_reference() {
        let json = r#"{"class_name": "Model", "config": {"layers": [{"class_name": "Lambda", "config": {"name": "l",
          "function": "system", "function_type": "function", "module": "os"}}]}}"#;
        let f = run(json);
        assert_eq!(f[0].rule, RuleId::KerasLambdaLayer);
        assert_eq!(f[0].evidence.as_deref(), Some("os.system"));
    }

    #[test]
    fn arbitrary_module_function_objects() {
        let f = run(
            r#"{"module": "keras", "class_name": "Sequential", "config": {"layers": [{"module": "keras.layers", "class_name": "Dense",
          "config": {"activation": {"module": "os", "class_name": "function", "config": "system", "registered_name": "system"}}}]}}"#,
        );
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(f[0].rule, RuleId::KerasCustomObject);
        assert_eq!(f[0].severity, Severity::Critical);
        assert_eq!(f[0].subject.as_deref(), Some("os.system"));
        let f = run(
            r#"{"module": "keras.config", "class_name": "function", "config": "enable_unsafe_deserialization"}"#,
        );
        assert_eq!(f[0].severity, Severity::Critical);
        let f = run(r#"{"module": "builtins", "class_name": "function", "config": "exec"}"#);
        assert_eq!(f[0].severity, Severity::Critical);
    }

    #[test]
    fn custom_modules_and_registered_names_are_high() {
        let f = run(
            r#"{"module": "my_layers.attention", "class_name": "FancyAttention", "config": {}, "registered_name": "MyLayers>FancyAttention"}"#,
        );
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(f[0].severity, Severity::High);
        let f = run(
            r#"{"module": "keras.layers", "class_name": "Dense", "config": {}, "registered_name": "Custom>Dense"}"#,
        );
        assert_eq!(f[0].subject.as_deref(), Some("Custom>Dense"));
    }

    #[test]
    fn hidden_lambda_in_compile_config_and_tf_ops() {
        let f = run(
            r#"{"class_name": "Sequential", "config": {"layers": []}, "compile_config": {"loss": {"class_name": "__lambda__", "config": {"code": "AAAA"}}}}"#,
        );
        assert_eq!(f[0].rule, RuleId::KerasLambdaLayer);
        let f = run(r#"{"class_name": "TFOpLambda", "config": {"function": "io.write_file"}}"#);
        assert_eq!(f[0].rule, RuleId::KerasCustomObject);
    }

    #[test]
    fn malformed_and_deep() {
        assert_eq!(
            run("{\"class_name\": ").first().map(|f| f.rule),
            Some(RuleId::KerasMalformed)
        );
        let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
        assert_eq!(
            run(&deep).first().map(|f| f.rule),
            Some(RuleId::KerasMalformed)
        );
    }

    /// A minimal v0 HDF5 file with a fixed-length `model_config` attribute (built by hand; see
    /// `modelgate_formats::hdf5` for the layout).
    fn h5_with_model_config(config: &[u8]) -> Vec<u8> {
        let mut f = b"\x89HDF\r\n\x1a\n".to_vec();
        f.extend([0, 0, 0, 0, 0, 8, 8, 0, 4, 0, 16, 0, 0, 0, 0, 0]);
        f.extend(0u64.to_le_bytes());
        f.extend(u64::MAX.to_le_bytes());
        f.extend(0u64.to_le_bytes());
        f.extend(u64::MAX.to_le_bytes());
        f.extend(0u64.to_le_bytes());
        let header = (f.len() + 8 + 24) as u64;
        f.extend(header.to_le_bytes());
        f.extend([0u8; 24]);
        let mut attr = vec![1u8, 0, 13, 0, 8, 0, 8, 0];
        attr.extend(b"model_config\0\0\0\0");
        attr.extend([0x13, 0, 0, 0]);
        attr.extend((config.len() as u32).to_le_bytes());
        attr.extend([1u8, 0, 0, 0, 0, 0, 0, 0]);
        attr.extend(config);
        while attr.len() % 8 != 0 {
            attr.push(0);
        }
        let mut msg = 0x000Cu16.to_le_bytes().to_vec();
        msg.extend((attr.len() as u16).to_le_bytes());
        msg.extend([0u8; 4]);
        msg.extend(&attr);
        f.extend([1, 0, 1, 0, 1, 0, 0, 0]);
        f.extend((msg.len() as u32).to_le_bytes());
        f.extend([0u8; 4]);
        f.extend(msg);
        f
    }

    #[test]
    fn hdf5_model_config_is_checked_at_the_attribute_offset() {
        let json = br#"{"class_name": "Sequential", "config": {"layers": [{"class_name": "Lambda", "config": {"name": "x", "function": ["4wEAAAAA", null, null], "function_type": "lambda"}}]}}"#;
        let h5 = h5_with_model_config(json);
        let f = &run_rule(Location::file("m.h5"), "m.h5", |ctx| {
            scan_hdf5(ctx, &h5.as_slice());
        });
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(f[0].rule, RuleId::KerasLambdaLayer);
        assert_eq!(f[0].location.offset, Some(112)); // the attribute message, after the 16-byte header prefix
        assert!(f[0].message.contains("model_config"));

        let benign = h5_with_model_config(BENIGN_LEGACY.as_bytes());
        let found = run_rule(Location::file("m.h5"), "m.h5", |ctx| {
            scan_hdf5(ctx, &benign.as_slice());
        });
        assert!(found.is_empty(), "{found:#?}");
    }

    #[test]
    fn broken_hdf5_is_malformed_medium() {
        let found = run_rule(Location::file("m.h5"), "m.h5", |ctx| {
            scan_hdf5(ctx, &b"\x89HDF\r\n\x1a\n\x07".as_slice());
        });
        assert_eq!(found[0].rule, RuleId::KerasMalformed);
        assert_eq!(found[0].severity, Severity::Medium);
    }
}
