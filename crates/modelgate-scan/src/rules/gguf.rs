//! ## MG402 `gguf-malformed`
//!
//! ### What it does
//! Parses a GGUF file's header, metadata and tensor infos (versions 1–3, little- and big-endian)
//! without loading tensor data, and reports every structural violation with its byte offset:
//! counts, string lengths and array lengths beyond the limits or beyond the bytes left in the
//! file, unknown value types, arrays nested too deep, keys that are not UTF-8 or repeat,
//! `general.alignment` that is not a power-of-two `uint32`, tensor names that are too long or
//! repeat, more than 4 dimensions, element counts that overflow, unknown ggml types, rows that are
//! not whole blocks, tensor data that is misaligned, outside the file, overlapping or leaving
//! gaps, and vocabulary arrays (`tokenizer.ggml.scores`, `token_type`…) whose element type or
//! length does not match the token list. The chat templates in the metadata
//! (`tokenizer.chat_template`, `tokenizer.chat_template.<name>`) are then checked by the
//! chat-template rules (MG403/MG404/MG411).
//!
//! ### Why is this bad?
//! llama.cpp's GGUF loader had a series of heap overflows driven by exactly these fields: string
//! lengths that wrapped when 1 was added, array counts and key/value counts that overflowed the
//! allocation size, `n_dims` beyond `GGML_MAX_DIMS`, tensor sizes whose products wrapped to 0.
//! A file that needs any of these to be tolerated is an exploit or a corruption, and loaders that
//! predate the fixes are still deployed.
//!
//! ### Example
//! ```text
//! GGUF 03000000 | n_tensors 0 | n_kv 1 | key len ffffffffffffffff …   ← string length wraps
//! tensor "x": n_dims 65535                                            ← stack overflow in old loaders
//! ```
//!
//! ### References
//! - CWE-20, CWE-122 (heap-based buffer overflow), CWE-190 (integer overflow).
//! - CVE-2024-21802 (Cisco Talos, 2024): heap overflow in llama.cpp GGUF metadata parsing.
//! - CVE-2025-53630 and its bypass CVE-2026-27940 / GHSA-3p4r-fq3f-q74v: integer overflow in
//!   `gguf_init_from_file_impl` leading to an undersized heap allocation.
//! - llama.cpp PRs #18674 and #19856 (tensor-size overflow, string and array length caps).
//! - GGUF specification: ggml `docs/gguf.md`.

use modelgate_core::{Finding, RuleId};
use modelgate_formats::ByteSource;
use modelgate_formats::gguf::{self, GgufError, Value};

use crate::Ctx;
use crate::rules::chat_template;

/// Validates a GGUF file and inspects its chat template.
pub fn scan(ctx: &mut Ctx<'_>, src: &dyn ByteSource) {
    let parsed = match gguf::read(src, ctx.limits) {
        Ok(parsed) => parsed,
        Err(e) => {
            report(ctx, &e);
            return;
        }
    };
    for problem in &parsed.problems {
        report(ctx, problem);
    }
    for kv in &parsed.file.kv {
        let name = match kv.key.as_str() {
            "tokenizer.chat_template" => None,
            key => match key.strip_prefix("tokenizer.chat_template.") {
                Some(name) => Some(name),
                None => continue,
            },
        };
        let Value::String(template) = &kv.value else {
            let finding = Finding::of(
                RuleId::GgufMalformed,
                ctx.at(kv.value_offset),
                format!(
                    "`{}` is a {}, not a string; loaders that expect a template may misread it — reject the file",
                    kv.key,
                    kv.value.value_type().name()
                ),
            )
            .with_subject(kv.key.clone());
            ctx.report(finding);
            continue;
        };
        // The template's bytes start after the string length field.
        let len_size = if parsed.file.version == 1 { 4 } else { 8 };
        let location = ctx.at(kv.value_offset.saturating_add(len_size));
        chat_template::check_at(ctx, template, &location, name);
    }
}

fn report(ctx: &mut Ctx<'_>, e: &GgufError) {
    let mut finding = Finding::of(
        RuleId::GgufMalformed,
        ctx.at(e.offset()),
        format!(
            "GGUF file is malformed: {e}; reject it — out-of-bounds GGUF metadata is how loader memory-safety bugs are exploited"
        ),
    );
    if let Some(subject) = e.subject() {
        finding = finding.with_subject(subject);
    }
    ctx.report(finding);
}

#[cfg(test)]
mod tests {
    use modelgate_core::{Location, Severity};

    use super::*;
    use crate::context::run_rule;

    fn run(bytes: &[u8]) -> Vec<Finding> {
        run_rule(Location::file("m.gguf"), "m.gguf", |ctx| scan(ctx, &bytes))
    }

    fn le64(v: u64) -> [u8; 8] {
        v.to_le_bytes()
    }

    /// GGUF v3 with the given string key/values, one F32 tensor of 8 elements, and its data.
    fn file(kvs: &[(&str, &str)]) -> Vec<u8> {
        let mut f = b"GGUF".to_vec();
        f.extend_from_slice(&3u32.to_le_bytes());
        f.extend_from_slice(&le64(1));
        f.extend_from_slice(&le64(kvs.len() as u64));
        for (k, v) in kvs {
            f.extend_from_slice(&le64(k.len() as u64));
            f.extend_from_slice(k.as_bytes());
            f.extend_from_slice(&8u32.to_le_bytes());
            f.extend_from_slice(&le64(v.len() as u64));
            f.extend_from_slice(v.as_bytes());
        }
        f.extend_from_slice(&le64(1));
        f.push(b'w');
        f.extend_from_slice(&1u32.to_le_bytes());
        f.extend_from_slice(&le64(8));
        f.extend_from_slice(&0u32.to_le_bytes());
        f.extend_from_slice(&le64(0));
        while !f.len().is_multiple_of(32) {
            f.push(0);
        }
        f.extend_from_slice(&[0u8; 32]);
        f
    }

    #[test]
    fn benign_file_with_real_template_is_clean() {
        let template =
            include_str!("../../tests/fixtures/chat_templates/qwen2.5-instruct-tools.jinja");
        let f = file(&[
            ("general.architecture", "qwen2"),
            ("tokenizer.chat_template", template),
        ]);
        let findings = run(&f);
        assert!(
            findings.iter().all(|f| f.severity < Severity::Medium),
            "{findings:#?}"
        );
    }

    #[test]
    fn malicious_template_is_critical_at_the_template_offset() {
        let evil = "{{ lipsum.__globals__['os'].popen('echo harmless').read() }}";
        let f = file(&[("tokenizer.chat_template.tool_use", evil)]);
        let findings = run(&f);
        let hit = findings
            .iter()
            .find(|f| f.rule == RuleId::ChatTemplateUnsafe)
            .unwrap();
        assert_eq!(hit.severity, Severity::Critical);
        let offset = usize::try_from(hit.location.offset.unwrap()).unwrap();
        assert!(
            f[offset..].starts_with(b"lipsum.__globals__"),
            "offset {offset}"
        );
        assert!(hit.message.contains("`tool_use`"));
    }

    #[test]
    fn malformed_header_is_high_with_offset() {
        let mut f = b"GGUF".to_vec();
        f.extend_from_slice(&3u32.to_le_bytes());
        f.extend_from_slice(&le64(0));
        f.extend_from_slice(&le64(1));
        f.extend_from_slice(&le64(u64::MAX));
        let findings = run(&f);
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].rule, RuleId::GgufMalformed);
        assert_eq!(findings[0].severity, Severity::High);
        assert_eq!(findings[0].location.offset, Some(24));
    }

    #[test]
    fn non_string_template_is_reported() {
        let mut f = b"GGUF".to_vec();
        f.extend_from_slice(&3u32.to_le_bytes());
        f.extend_from_slice(&le64(0));
        f.extend_from_slice(&le64(1));
        f.extend_from_slice(&le64(23));
        f.extend_from_slice(b"tokenizer.chat_template");
        f.extend_from_slice(&4u32.to_le_bytes());
        f.extend_from_slice(&7u32.to_le_bytes());
        let findings = run(&f);
        assert_eq!(findings[0].rule, RuleId::GgufMalformed);
        assert_eq!(
            findings[0].subject.as_deref(),
            Some("tokenizer.chat_template")
        );
    }
}
