//! Routes a stream to the rules for its detected format, and recurses into nested streams
//! (archive members, decompressed data) with the nesting depth bounded.

use modelgate_core::{FileFormat, Finding, RuleId, Severity};
use modelgate_formats::ByteSource;

use crate::context::Ctx;
use crate::detect::{SNIFF_LEN, detect_format, executes_on_load, expected_formats_for_extension};
use crate::rules;

/// Reads the first [`SNIFF_LEN`] bytes (or fewer) of `src`.
pub(crate) fn read_prefix(src: &dyn ByteSource) -> Result<Vec<u8>, modelgate_formats::SourceError> {
    let n = src.len().min(SNIFF_LEN as u64);
    src.read_vec(0, n, SNIFF_LEN as u64)
}

/// Scans a stream nested in the current one (an archive member, a decompressed stream) named
/// `member`: detects its format from content and runs that format's rules one level deeper.
pub fn scan_nested(ctx: &mut Ctx<'_>, member: &str, src: &dyn ByteSource) {
    let Some(mut child) = ctx.child(member) else {
        return;
    };
    match read_prefix(src) {
        Ok(prefix) => {
            let format = detect_format(&prefix, src.len(), member);
            check_extension(&mut child, format);
            scan_as(&mut child, format, src);
        }
        Err(e) => child.report(Finding::of(
            RuleId::ArchiveMalformed,
            child.location().clone(),
            format!("member cannot be read: {e}"),
        )),
    }
}

/// [`scan_nested`] over bytes already in memory.
pub fn scan_bytes(ctx: &mut Ctx<'_>, member: &str, bytes: &[u8]) {
    scan_nested(ctx, member, &bytes);
}

/// Reports `MG001` when the stream's name promises a format other than what its content is.
pub(crate) fn check_extension(ctx: &mut Ctx<'_>, detected: FileFormat) {
    let Some(expected) = expected_formats_for_extension(ctx.name()) else {
        return;
    };
    if expected.contains(&detected) || matches!(detected, FileFormat::Unknown | FileFormat::Text) {
        return;
    }
    // Promising a data-only format while holding one that runs code on load is the attack.
    let promised_safe = !expected.iter().copied().any(executes_on_load);
    let severity = if executes_on_load(detected) && promised_safe {
        Severity::High
    } else {
        Severity::Medium
    };
    let name = ctx.name().to_owned();
    let finding = Finding::new(
        RuleId::ExtensionMismatch,
        severity,
        ctx.location().clone(),
        format!(
            "`{name}` is named like {} but its content is {detected}",
            describe(expected)
        ),
    )
    .with_subject(detected.as_str());
    ctx.report(finding);
}

fn describe(expected: &[FileFormat]) -> String {
    let names: Vec<&str> = expected.iter().map(|f| f.as_str()).collect();
    names.join(" / ")
}

/// Runs the rules for `format` over `src`.
pub(crate) fn scan_as(ctx: &mut Ctx<'_>, format: FileFormat, src: &dyn ByteSource) {
    match format {
        FileFormat::Pickle | FileFormat::Joblib => rules::pickle::scan(ctx, src),
        FileFormat::Zip | FileFormat::TorchZip | FileFormat::Npz | FileFormat::Keras => {
            rules::archive::scan_zip(ctx, src);
        }
        FileFormat::Tar | FileFormat::TorchTar => rules::archive::scan_tar(ctx, src),
        FileFormat::Gzip
        | FileFormat::Bzip2
        | FileFormat::Xz
        | FileFormat::Lzma
        | FileFormat::Zlib
        | FileFormat::Zstd
        | FileFormat::Lz4 => rules::compressed::scan(ctx, format, src),
        FileFormat::Npy => rules::numpy::scan_npy(ctx, src),
        FileFormat::Safetensors => rules::safetensors::scan(ctx, src),
        FileFormat::Gguf => rules::gguf::scan(ctx, src),
        FileFormat::Onnx => rules::onnx::scan(ctx, src),
        FileFormat::Hdf5 => rules::keras::scan_hdf5(ctx, src),
        FileFormat::Json => rules::repo::scan_json(ctx, src),
        FileFormat::Python => rules::repo::scan_python(ctx, src),
        FileFormat::Text if is_template_file(ctx.name()) => scan_template_file(ctx, src),
        FileFormat::Text | FileFormat::Unknown => {}
    }
}

/// Standalone chat templates: newer `transformers` saves `chat_template.jinja` and
/// `additional_chat_templates/*.jinja` next to the tokenizer instead of inside its JSON.
fn is_template_file(name: &str) -> bool {
    let ext = crate::detect::extension(name);
    ext.eq_ignore_ascii_case("jinja")
        || ext.eq_ignore_ascii_case("j2")
        || name.to_ascii_lowercase().starts_with("chat_template")
}

fn scan_template_file(ctx: &mut Ctx<'_>, src: &dyn ByteSource) {
    let cap = ctx.limits.max_template_bytes;
    if src.len() > cap {
        ctx.limit_exceeded(None, format!("template larger than {cap} bytes"));
        return;
    }
    match src.read_vec(0, src.len(), cap) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            rules::chat_template::check(ctx, &text, None);
        }
        Err(e) => ctx.report(Finding::of(
            RuleId::ChatTemplateMalformed,
            ctx.location().clone(),
            format!("template cannot be read: {e}"),
        )),
    }
}
