//! `modelgate pickle disasm` / `modelgate scan --explain`: find every pickle stream in a file —
//! the file itself, the members of a zip (PyTorch, npz, Keras) or a compressed stream — and
//! render its opcode listing, a decompiled pseudo-Python view, and the classification of each
//! callable. Nothing is executed.

use std::fs::File;
use std::path::Path;

use modelgate_core::{FileFormat, Limits};
use modelgate_formats::compress::{self, Caps};
use modelgate_formats::zip::{MemberData, ZipArchive, member_data};
use modelgate_formats::{ByteSource, pickle};

use crate::detect::detect_format;
use crate::dispatch::read_prefix;
use crate::file_source::FileSource;
use crate::rules;

/// One pickle stream found in a file, explained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExplainedStream {
    /// The member (or `<decompressed gzip>`-style name) holding the pickle; `None` for the file.
    pub member: Option<String>,
    /// Listing, pseudo-Python and classification.
    pub text: String,
}

/// Why a file could not be explained.
#[derive(Debug, thiserror::Error)]
pub enum ExplainError {
    /// The file could not be opened or read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file holds no pickle stream modelgate can reach.
    #[error("{path}: no pickle stream found (detected format: {format})")]
    NoPickle {
        /// The file.
        path: String,
        /// What the file is.
        format: FileFormat,
    },
}

/// Explains every pickle stream in the file at `path`.
pub fn explain_file(path: &Path, limits: &Limits) -> Result<Vec<ExplainedStream>, ExplainError> {
    let shown = path.display().to_string();
    let io = |source| ExplainError::Io {
        path: shown.clone(),
        source,
    };
    let file = File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    let source = FileSource::new(file, len);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut out = Vec::new();
    explain_stream(&source, &name, None, limits, 0, &mut out);
    if out.is_empty() {
        let prefix = read_prefix(&source).unwrap_or_default();
        return Err(ExplainError::NoPickle {
            path: shown,
            format: detect_format(&prefix, len, &name),
        });
    }
    Ok(out)
}

fn nested(outer: Option<&str>, inner: &str) -> String {
    match outer {
        Some(outer) => format!("{outer}!{inner}"),
        None => inner.to_owned(),
    }
}

fn explain_stream(
    src: &dyn ByteSource,
    name: &str,
    member: Option<&str>,
    limits: &Limits,
    depth: u32,
    out: &mut Vec<ExplainedStream>,
) {
    if depth > limits.max_nesting_depth {
        return;
    }
    let prefix = read_prefix(src).unwrap_or_default();
    match detect_format(&prefix, src.len(), name) {
        FileFormat::Pickle | FileFormat::Joblib => out.push(ExplainedStream {
            member: member.map(str::to_owned),
            text: rules::pickle::explain(src, limits),
        }),
        FileFormat::Zip | FileFormat::TorchZip | FileFormat::Npz | FileFormat::Keras => {
            let Ok(zip) = ZipArchive::parse(src, limits) else {
                return;
            };
            let caps = Caps::from_limits(limits);
            for entry in zip.entries.iter().filter(|e| !e.is_dir()) {
                let member_name = nested(member, &entry.name);
                let base = entry.name.rsplit('/').next().unwrap_or(&entry.name);
                match member_data(src, entry, &caps) {
                    Ok(MemberData::Stored(window)) => {
                        if is_pickle(&window) {
                            explain_stream(
                                &window,
                                base,
                                Some(&member_name),
                                limits,
                                depth + 1,
                                out,
                            );
                        }
                    }
                    Ok(MemberData::Expanded(expanded)) => {
                        let bytes = expanded.data.as_slice();
                        if is_pickle(&bytes) {
                            explain_stream(
                                &bytes,
                                base,
                                Some(&member_name),
                                limits,
                                depth + 1,
                                out,
                            );
                        }
                    }
                    Err(_) => {}
                }
            }
        }
        format @ (FileFormat::Gzip
        | FileFormat::Bzip2
        | FileFormat::Xz
        | FileFormat::Lzma
        | FileFormat::Zlib
        | FileFormat::Zstd) => {
            let Some(codec) = compress::sniff(&prefix).or(match format {
                FileFormat::Lzma => Some(compress::Codec::Lzma),
                _ => None,
            }) else {
                return;
            };
            let expanded = compress::decompress(codec, src, &Caps::from_limits(limits));
            let inner = nested(member, &format!("<decompressed {format}>"));
            let bytes = expanded.data.as_slice();
            explain_stream(&bytes, "", Some(&inner), limits, depth + 1, out);
        }
        _ => {}
    }
}

fn is_pickle(src: &dyn ByteSource) -> bool {
    read_prefix(src).is_ok_and(|prefix| pickle::sniff(&prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explains_a_raw_pickle_and_refuses_other_files() {
        let dir = tempfile::tempdir().unwrap();
        let evil = dir.path().join("evil.pkl");
        std::fs::write(&evil, b"cos\nsystem\n(S'echo modelgate-test'\ntR.").unwrap();
        let streams = explain_file(&evil, &Limits::default()).unwrap();
        assert_eq!(streams.len(), 1);
        assert_eq!(streams[0].member, None);
        assert!(streams[0].text.contains("system"), "{}", streams[0].text);
        let text = dir.path().join("notes.txt");
        std::fs::write(&text, "hello").unwrap();
        assert!(matches!(
            explain_file(&text, &Limits::default()),
            Err(ExplainError::NoPickle { .. })
        ));
    }
}
