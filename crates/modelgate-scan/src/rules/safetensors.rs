//! ## MG401 `safetensors-malformed`
//!
//! ### What it does
//! Validates a safetensors file's header the way the reference loader does, and more strictly:
//! the 8-byte header length is capped (100 MB, as in the reference), the header is UTF-8 JSON
//! starting with `{`, JSON keys are unique (at the top level, in `__metadata__` and in each
//! tensor entry), `__metadata__` maps strings to strings, every tensor has a known dtype,
//! `dtype size × product(shape)` (checked) equals `end − begin`, and the tensors sorted by offset
//! tile the data section exactly — contiguous from 0, no overlap, no gap, no trailing byte.
//! Only the header is read; the tensor data is never loaded.
//!
//! ### Why is this bad?
//! safetensors is the format teams convert to *because* it cannot run code. A file that bends the
//! format is either corrupt or built to make two tools see different things: duplicate keys are
//! resolved differently by different JSON parsers (serde keeps the last, others the first),
//! overlapping ranges alias weights, and bytes outside every tensor are a hiding place for a
//! payload (a pickle or a zip appended as a polyglot) that no tensor loader will look at.
//!
//! ### Example
//! ```text
//! {"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},
//!  "w":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}      ← duplicate key
//! {"w":{"dtype":"F32","shape":[4],"data_offsets":[0,8]}}       ← 16 bytes needed, 8 given
//! ```
//!
//! ### References
//! - CWE-20: Improper Input Validation; CWE-436: Interpretation Conflict.
//! - huggingface/safetensors `safetensors/src/tensor.rs` (`Metadata::validate`).
//! - Trail of Bits, "safetensors security audit" (2023): header parsing and polyglot findings.

use modelgate_core::{Finding, RuleId};
use modelgate_formats::ByteSource;
use modelgate_formats::safetensors::{self, SafetensorsError};

use crate::Ctx;

/// Validates a safetensors file.
pub fn scan(ctx: &mut Ctx<'_>, src: &dyn ByteSource) {
    match safetensors::read(src, ctx.limits) {
        Ok(parsed) => {
            for problem in &parsed.problems {
                report(ctx, problem);
            }
        }
        Err(e) => report(ctx, &e),
    }
}

fn report(ctx: &mut Ctx<'_>, e: &SafetensorsError) {
    let what = match e {
        SafetensorsError::DataLength { .. } => {
            "; bytes outside every tensor can hide a payload no tensor loader reads"
        }
        SafetensorsError::Json { .. } => "; parsers may disagree on what this header means",
        _ => "",
    };
    let mut finding = Finding::of(
        RuleId::SafetensorsMalformed,
        ctx.at(e.offset()),
        format!(
            "safetensors header is malformed: {e}{what}; reject the file or re-export it from a trusted source"
        ),
    );
    if let Some(tensor) = e.tensor() {
        finding = finding.with_subject(tensor);
    }
    ctx.report(finding);
}

#[cfg(test)]
mod tests {
    use modelgate_core::{Location, Severity};

    use super::*;
    use crate::context::run_rule;

    fn run(bytes: &[u8]) -> Vec<Finding> {
        run_rule(Location::file("m.safetensors"), "m.safetensors", |ctx| {
            scan(ctx, &bytes);
        })
    }

    fn file(json: &str, data: usize) -> Vec<u8> {
        let mut f = (json.len() as u64).to_le_bytes().to_vec();
        f.extend_from_slice(json.as_bytes());
        f.extend(std::iter::repeat_n(0u8, data));
        f
    }

    #[test]
    fn benign_file_is_clean() {
        let json = r#"{"__metadata__":{"format":"pt"},"a":{"dtype":"BF16","shape":[2,3],"data_offsets":[0,12]}}    "#;
        assert!(run(&file(json, 12)).is_empty());
    }

    #[test]
    fn appended_payload_is_reported_with_offset() {
        let json = r#"{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}}"#;
        let mut f = file(json, 4);
        f.extend_from_slice(b"\x80\x04cos\nsystem\n.");
        let findings = run(&f);
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].rule, RuleId::SafetensorsMalformed);
        assert_eq!(findings[0].severity, Severity::High);
        assert_eq!(findings[0].location.offset, Some(8 + json.len() as u64 + 4));
    }

    #[test]
    fn tensor_problems_name_the_tensor() {
        let json = r#"{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,8]}}"#;
        let findings = run(&file(json, 8));
        assert_eq!(findings[0].subject.as_deref(), Some("w"));
        assert_eq!(findings[0].location.offset, Some(9));
    }

    #[test]
    fn structural_error_is_one_finding() {
        let e = r#"{"dtype":"U8","shape":[0],"data_offsets":[0,0]}"#;
        let findings = run(&file(&format!(r#"{{"a":{e},"a":{e}}}"#), 0));
        assert_eq!(findings.len(), 1);
        assert!(findings[0].message.contains("duplicate"));
    }
}
