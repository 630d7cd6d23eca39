//! ## MG405 `onnx-external-data-escape`
//!
//! ### What it does
//! Checks every tensor that stores its data outside the model (`data_location = EXTERNAL` or
//! `external_data` entries) — initializers, sparse initializers, attribute tensors, in subgraphs
//! and training graphs too. A `location` that is absolute, starts with `~`, contains a `..`
//! component, a drive letter, a backslash or a NUL byte, or is missing, is reported (high; critical
//! when it names a sensitive target such as `/etc/`, `/proc/`, `~/.ssh` or cloud credentials).
//! `offset` and `length` entries that are not decimal integers are reported as malformed.
//!
//! ### Why is this bad?
//! ONNX loaders resolve `location` relative to the model's directory and read the bytes into a
//! weight. A location that escapes that directory makes loading the model read arbitrary files —
//! and the model's outputs can leak them (path traversal through a data file).
//!
//! ### Example
//! ```text
//! initializer { name: "w" data_location: EXTERNAL
//!               external_data { key: "location" value: "../../../../etc/passwd" } }
//! ```
//!
//! ### References
//! - CWE-22: Path Traversal.
//! - CVE-2022-25882 (onnx external data directory traversal); CVE-2024-27318 (bypass).
//!
//! ## MG406 `onnx-custom-domain`
//!
//! ### What it does
//! Reports operator domains outside the standard set (`""`/`ai.onnx`, `ai.onnx.ml`,
//! `ai.onnx.training`, `ai.onnx.preview.training`) used by nodes (one finding per domain and
//! operator) or imported without use. `com.microsoft` (onnxruntime's built-in contrib operators)
//! is low; operators implemented by a function inside the model are not reported.
//!
//! ### Why is this bad?
//! A custom domain only runs if the loader registers a custom-operator library — native code
//! loaded into the process. The model is asking for that library; where it comes from must be
//! checked.
//!
//! ### Example
//! ```text
//! node { op_type: "Decrypt" domain: "com.example.ops" }
//! ```
//!
//! ### References
//! - CWE-829: Inclusion of Functionality from Untrusted Control Sphere.
//! - onnxruntime: "Custom operators" (`SessionOptions.register_custom_ops_library`).
//!
//! ## MG407 `onnx-malformed`
//!
//! ### What it does
//! Reports an ONNX file whose protobuf does not walk: truncated fields, invalid varints, groups,
//! lengths past the enclosing message, known fields with the wrong wire type, nesting beyond
//! `max_protobuf_depth`.
//!
//! ### Why is this bad?
//! Parsers disagree about malformed protobuf; what this scanner skipped, a loader may read.
//!
//! ### Example
//! ```text
//! 08 08 3a ff ff ff ff 0f …   ← graph length far beyond the end of the file
//! ```
//!
//! ### References
//! - CWE-20: Improper Input Validation.

use std::collections::HashSet;

use modelgate_core::{Finding, RuleId, Severity};
use modelgate_formats::ByteSource;
use modelgate_formats::onnx::{self, ExternalTensor, OnnxError, OnnxModel};

use crate::Ctx;

/// Domains of the ONNX standard operator sets.
const STANDARD_DOMAINS: &[&str] = &[
    "",
    "ai.onnx",
    "ai.onnx.ml",
    "ai.onnx.training",
    "ai.onnx.preview.training",
];

/// onnxruntime's built-in contrib operators (no extra library needed).
const ORT_CONTRIB: &str = "com.microsoft";

/// Path fragments that make an escaping location critical.
const SENSITIVE: &[&str] = &[
    "/etc/",
    "/proc/",
    "/sys/",
    "/dev/",
    "/root/",
    "/home/",
    "/var/run/",
    "/run/secrets",
    "/boot/",
    ".ssh",
    ".aws",
    ".azure",
    ".kube",
    ".docker",
    ".gnupg",
    ".netrc",
    ".git-credentials",
    ".bash_history",
    "id_rsa",
    "id_ed25519",
    "\\windows\\",
    "system32",
    "/users/",
];

/// Scans an ONNX model.
pub fn scan(ctx: &mut Ctx<'_>, src: &dyn ByteSource) {
    match onnx::read(src, ctx.limits) {
        Ok(model) => {
            check_domains(ctx, &model);
            for tensor in &model.external_tensors {
                check_external(ctx, tensor);
            }
        }
        Err(e) => report_malformed(ctx, &e),
    }
}

fn report_malformed(ctx: &mut Ctx<'_>, e: &OnnxError) {
    let rule = if matches!(e, OnnxError::TooMany { .. }) {
        RuleId::LimitExceeded
    } else {
        RuleId::OnnxMalformed
    };
    let finding = Finding::of(
        rule,
        ctx.at(e.offset()),
        format!(
            "ONNX protobuf cannot be fully walked: {e}; do not load the file, re-export it from a trusted source"
        ),
    );
    ctx.report(finding);
}

fn check_domains(ctx: &mut Ctx<'_>, model: &OnnxModel) {
    let local: HashSet<(&str, &str)> = model
        .functions
        .iter()
        .map(|f| (f.domain.as_str(), f.name.as_str()))
        .collect();
    let mut used = HashSet::new();
    for kind in &model.op_kinds {
        used.insert(kind.domain.as_str());
        if STANDARD_DOMAINS.contains(&kind.domain.as_str())
            || local.contains(&(kind.domain.as_str(), kind.op_type.as_str()))
        {
            continue;
        }
        let (severity, why) = if kind.domain == ORT_CONTRIB {
            (Severity::Low, "an onnxruntime built-in contrib operator")
        } else {
            (
                RuleId::OnnxCustomDomain.default_severity(),
                "a custom operator that only runs if a native custom-op library is registered; verify that library's source",
            )
        };
        let finding = Finding::new(
            RuleId::OnnxCustomDomain,
            severity,
            ctx.at(kind.first_offset),
            format!(
                "{} node(s) use operator `{}` from domain `{}`: {why}",
                kind.count, kind.op_type, kind.domain
            ),
        )
        .with_subject(format!("{}::{}", kind.domain, kind.op_type));
        ctx.report(finding);
    }
    for opset in &model.opset_imports {
        let domain = opset.domain.as_str();
        if STANDARD_DOMAINS.contains(&domain)
            || used.contains(domain)
            || model.functions.iter().any(|f| f.domain == domain)
        {
            continue;
        }
        let severity = if domain == ORT_CONTRIB {
            Severity::Low
        } else {
            RuleId::OnnxCustomDomain.default_severity()
        };
        let finding = Finding::new(
            RuleId::OnnxCustomDomain,
            severity,
            ctx.at(opset.offset),
            format!("the model imports operator domain `{domain}`, which is not a standard ONNX domain; loaders may register a custom-op library for it"),
        )
        .with_subject(domain.to_owned());
        ctx.report(finding);
    }
}

/// Why a location escapes the model directory, if it does.
fn escape_reason(location: &str) -> Option<&'static str> {
    let bytes = location.as_bytes();
    if location.contains('\0') {
        return Some("contains a NUL byte");
    }
    if location.starts_with('/') || location.starts_with('\\') {
        return Some("is an absolute path");
    }
    if location.starts_with('~') {
        return Some("starts with `~` (a home directory)");
    }
    if bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' {
        return Some("starts with a drive letter");
    }
    if location.split(['/', '\\']).any(|c| c == "..") {
        return Some("contains a `..` component");
    }
    if location.contains('\\') {
        return Some("contains a backslash");
    }
    None
}

fn check_external(ctx: &mut Ctx<'_>, tensor: &ExternalTensor) {
    let name = if tensor.name.is_empty() {
        "<unnamed>"
    } else {
        tensor.name.as_str()
    };
    let Some(location) = tensor.get("location") else {
        let finding = Finding::of(
            RuleId::OnnxMalformed,
            ctx.at(tensor.offset),
            format!("tensor `{name}` stores its data externally but has no `location` entry; loaders may resolve it unpredictably"),
        )
        .with_subject(name.to_owned());
        ctx.report(finding);
        return;
    };
    if let Some(reason) = escape_reason(location) {
        let lower = location.to_ascii_lowercase().replace('\\', "/");
        let sensitive = SENSITIVE
            .iter()
            .any(|s| lower.contains(&s.replace('\\', "/")));
        let severity = if sensitive {
            Severity::Critical
        } else {
            Severity::High
        };
        let finding = Finding::new(
            RuleId::OnnxExternalDataEscape,
            severity,
            ctx.at(tensor.offset),
            format!(
                "tensor `{name}` loads its data from `{}`, which {reason}: loading the model reads a file outside its directory — reject the model",
                location.escape_debug()
            ),
        )
        .with_subject(name.to_owned())
        .with_evidence(location);
        ctx.report(finding);
    }
    for key in ["offset", "length"] {
        if let Some(value) = tensor.get(key)
            && value.parse::<u64>().is_err()
        {
            let finding = Finding::of(
                RuleId::OnnxMalformed,
                ctx.at(tensor.offset),
                format!(
                    "tensor `{name}` has external-data `{key}` = `{}`, not a non-negative integer",
                    value.escape_debug()
                ),
            )
            .with_subject(name.to_owned());
            ctx.report(finding);
        }
    }
}

#[cfg(test)]
mod tests {
    use modelgate_core::Location;

    use super::*;
    use crate::context::run_rule;

    fn run(bytes: &[u8]) -> Vec<Finding> {
        run_rule(Location::file("m.onnx"), "m.onnx", |ctx| scan(ctx, &bytes))
    }

    // Protobuf helpers (same encoding as onnx.proto; written out here so the test shows the bytes).
    fn varint(out: &mut Vec<u8>, mut v: u64) {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }
    fn int(n: u64, v: u64) -> Vec<u8> {
        let mut o = Vec::new();
        varint(&mut o, n << 3);
        varint(&mut o, v);
        o
    }
    fn len(n: u64, p: &[u8]) -> Vec<u8> {
        let mut o = Vec::new();
        varint(&mut o, (n << 3) | 2);
        varint(&mut o, p.len() as u64);
        o.extend_from_slice(p);
        o
    }
    fn s(n: u64, v: &str) -> Vec<u8> {
        len(n, v.as_bytes())
    }
    fn node(op: &str, domain: &str) -> Vec<u8> {
        len(1, &[s(4, op), s(7, domain)].concat())
    }
    fn external(name: &str, location: &str, offset: &str) -> Vec<u8> {
        let entry = |k: &str, v: &str| len(13, &[s(1, k), s(2, v)].concat());
        len(
            5,
            &[
                s(8, name),
                entry("location", location),
                entry("offset", offset),
                int(14, 1),
            ]
            .concat(),
        )
    }
    fn model(graph: &[Vec<u8>], opsets: &[&str]) -> Vec<u8> {
        let mut m = int(1, 9);
        m.extend(len(7, &graph.concat()));
        for d in opsets {
            m.extend(len(8, &[s(1, d), int(2, 1)].concat()));
        }
        m
    }

    #[test]
    fn benign_model_is_clean() {
        let m = model(
            &[
                node("Conv", ""),
                node("LinearClassifier", "ai.onnx.ml"),
                external("w", "model.onnx.data", "4096"),
            ],
            &["", "ai.onnx.ml"],
        );
        assert!(run(&m).is_empty(), "{:#?}", run(&m));
    }

    #[test]
    fn escaping_locations() {
        let cases = [
            ("../../../../etc/passwd", Severity::Critical),
            ("/proc/self/environ", Severity::Critical),
            ("~/.ssh/id_rsa", Severity::Critical),
            ("C:\\Users\\x\\secrets.bin", Severity::Critical),
            ("/tmp/weights.bin", Severity::High),
            ("sub/../../w.bin", Severity::High),
            ("w\0.bin", Severity::High),
            ("data\\w.bin", Severity::High),
        ];
        for (location, severity) in cases {
            let f = run(&model(&[external("w", location, "0")], &[""]));
            assert_eq!(f.len(), 1, "{location}: {f:#?}");
            assert_eq!(f[0].rule, RuleId::OnnxExternalDataEscape, "{location}");
            assert_eq!(f[0].severity, severity, "{location}");
            assert_eq!(f[0].subject.as_deref(), Some("w"));
        }
    }

    #[test]
    fn bad_offset_is_malformed() {
        let f = run(&model(&[external("w", "w.bin", "-5")], &[""]));
        assert_eq!(f[0].rule, RuleId::OnnxMalformed);
    }

    #[test]
    fn custom_domains() {
        let body = len(7, &[s(4, "Erf"), s(7, "")].concat());
        let function = len(25, &[s(1, "MyGelu"), s(10, "local.fn"), body].concat());
        let mut m = model(
            &[
                node("Decrypt", "com.evil"),
                node("Decrypt", "com.evil"),
                node("FusedGemm", "com.microsoft"),
                node("MyGelu", "local.fn"),
            ],
            &["", "com.evil", "org.unused"],
        );
        m.extend(function);
        let f = run(&m);
        let by_subject = |s: &str| {
            f.iter()
                .find(|x| x.subject.as_deref() == Some(s))
                .map(|x| x.severity)
        };
        assert_eq!(by_subject("com.evil::Decrypt"), Some(Severity::Medium));
        assert_eq!(by_subject("com.microsoft::FusedGemm"), Some(Severity::Low));
        assert_eq!(by_subject("org.unused"), Some(Severity::Medium));
        assert_eq!(by_subject("local.fn::MyGelu"), None);
        assert_eq!(f.len(), 3, "{f:#?}");
    }

    #[test]
    fn malformed_protobuf_has_offset() {
        let mut m = int(1, 9);
        m.extend([0x3a, 0xff, 0xff, 0xff, 0x0f]);
        let f = run(&m);
        assert_eq!(f[0].rule, RuleId::OnnxMalformed);
        assert_eq!(f[0].location.offset, Some(3));
    }
}
