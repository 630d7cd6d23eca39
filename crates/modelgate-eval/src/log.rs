//! The eval log: one JSON file per run (schema `docs/schemas/eval-log-v1.json`).
//!
//! ```text
//! { "log_format": "modelgate-eval-log", "schema_version": 1,
//!   "run": { run id, status, task, model, spec, spec digest, dataset digest and pin, judges,
//!            sandbox policy digest, harness, times, chain { genesis, head, records } },
//!   "samples": [ { "seq", "id", "chain", "record": { … } }, … ],
//!   "summary": { … } }
//! ```
//!
//! Each sample's `record` is written byte for byte as the store chained it, so the chain can be
//! recomputed from the log alone. The log is written streaming (samples straight from the
//! store) to a temporary file and renamed into place.

use std::fs::File;
use std::io::{BufWriter, Read as _, Write as _};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::dataset::PinSource;
use crate::summary::Summary;

/// The `log_format` value.
pub const LOG_FORMAT: &str = "modelgate-eval-log";
/// The schema version written.
pub const LOG_SCHEMA_VERSION: u32 = 1;
/// Largest log read by `eval verify` and `eval view` (4 GiB).
pub const MAX_LOG_BYTES: u64 = 4 << 30;

/// The harness that wrote a log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Harness {
    /// `modelgate`.
    pub name: String,
    /// Its version.
    pub version: String,
}

impl Harness {
    /// This build.
    pub fn current() -> Harness {
        Harness {
            name: "modelgate".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        }
    }
}

/// The dataset as the run used it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatasetInfo {
    /// The file read.
    pub path: String,
    /// `jsonl`, `csv`, `tsv`, `parquet`.
    pub format: String,
    /// SHA-256 (hex) of the bytes read, checked against the pin before any model call.
    pub sha256: String,
    /// Whether a pin was checked (`false` for `--allow-unpinned` runs).
    pub pinned: bool,
    /// What pinned it.
    pub pin: PinSource,
    /// Rows read.
    pub rows: u64,
}

/// A judge model and the digest of its verified prompt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JudgeInfo {
    /// `PROVIDER/NAME`.
    pub model: String,
    /// SHA-256 (hex) of the prompt file whose signature was verified.
    pub prompt_sha256: String,
    /// Hint of the key whose signature over the prompt verified.
    pub key_hint: String,
}

/// The sample chain's endpoints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainInfo {
    /// Hex genesis value (from the run id).
    pub genesis: String,
    /// Hex value after the last record.
    pub head: String,
    /// Records chained.
    pub records: u64,
}

/// Everything about a run but its samples and summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    /// Run id.
    pub run_id: String,
    /// `completed` or `error`.
    pub status: String,
    /// Why the run ended in error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Task name.
    pub task: String,
    /// `PROVIDER/NAME`.
    pub model: String,
    /// Manifest root digest (`sha256:HEX`) of the model artifact evaluated, when the run was
    /// given one (`--model-artifact`); computed by the runner, never taken from input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_digest: Option<String>,
    /// Provider base URL, when one was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// The resolved spec.
    pub spec: serde_json::Value,
    /// SHA-256 (hex) of the spec's canonical JSON.
    pub spec_sha256: String,
    /// The dataset.
    pub dataset: DatasetInfo,
    /// Judges of model-graded scorers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub judges: Vec<JudgeInfo>,
    /// SHA-256 (hex) of the sandbox policy tools ran under (canonical JSON), when tools were
    /// offered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox_policy_sha256: Option<String>,
    /// The harness.
    pub harness: Harness,
    /// RFC 3339 start.
    pub started_at: String,
    /// RFC 3339 end.
    pub finished_at: String,
    /// Whether the run was interrupted and resumed (`--resume`).
    #[serde(default)]
    pub resumed: bool,
    /// The sample chain.
    pub chain: ChainInfo,
}

/// One sample as the log carries it.
#[derive(Debug, Deserialize)]
pub struct LogSample {
    /// Position in the chain.
    pub seq: u64,
    /// Sample id.
    pub id: String,
    /// Hex chain value after this record.
    pub chain: String,
    /// The record, exactly as chained.
    pub record: Box<RawValue>,
}

/// A whole log as read back.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalLog {
    /// [`LOG_FORMAT`].
    pub log_format: String,
    /// [`LOG_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The run.
    pub run: RunInfo,
    /// The samples, in chain order.
    pub samples: Vec<LogSample>,
    /// The summary.
    pub summary: Summary,
}

/// A log that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// I/O.
    #[error("{path}: {source}")]
    Io {
        /// The log.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not a modelgate eval log, or malformed.
    #[error("{path}: {message}")]
    Malformed {
        /// The log.
        path: PathBuf,
        /// What is wrong (with line and column from the JSON parser).
        message: String,
    },
}

#[derive(Serialize)]
struct Prefix<'a> {
    log_format: &'static str,
    schema_version: u32,
    run: &'a RunInfo,
}

/// Receives one sample: `(seq, id, chain, record bytes)`.
pub type EmitSample<'a> = dyn FnMut(u64, &str, &str, &[u8]) -> std::io::Result<()> + 'a;

/// Feeds every sample, in chain order, to the [`EmitSample`] it is given.
pub type SampleSource<'a> = dyn FnMut(&mut EmitSample<'_>) -> std::io::Result<()> + 'a;

/// Writes a log in one pass: `run`, then every sample `next_sample` yields, then `summary`.
/// The file appears atomically at `path`.
pub fn write_log(
    path: &Path,
    run: &RunInfo,
    summary: &Summary,
    samples: &mut SampleSource<'_>,
) -> Result<(), LogError> {
    let io = |source| LogError::Io {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let result = (|| -> std::io::Result<()> {
        let mut out = BufWriter::with_capacity(1 << 20, File::create(&tmp)?);
        let prefix = serde_json::to_string(&Prefix {
            log_format: LOG_FORMAT,
            schema_version: LOG_SCHEMA_VERSION,
            run,
        })?;
        out.write_all(&prefix.as_bytes()[..prefix.len() - 1])?;
        out.write_all(b",\"samples\":[\n")?;
        let mut first = true;
        samples(&mut |seq, id, chain, record| {
            if !first {
                out.write_all(b",\n")?;
            }
            first = false;
            write!(out, "{{\"seq\":{seq},\"id\":")?;
            serde_json::to_writer(&mut out, id)?;
            write!(out, ",\"chain\":\"{chain}\",\"record\":")?;
            out.write_all(record)?;
            out.write_all(b"}")
        })?;
        out.write_all(b"\n],\"summary\":")?;
        serde_json::to_writer(&mut out, summary)?;
        out.write_all(b"}\n")?;
        let file = out
            .into_inner()
            .map_err(std::io::IntoInnerError::into_error)?;
        file.sync_all()
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(io(e));
    }
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io(e)
    })
}

/// Reads a log (at most [`MAX_LOG_BYTES`]) and returns it with its raw bytes' SHA-256.
pub fn read_log(path: &Path) -> Result<(EvalLog, [u8; 32]), LogError> {
    let io = |source| LogError::Io {
        path: path.to_owned(),
        source,
    };
    let file = File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    if len > MAX_LOG_BYTES {
        return Err(LogError::Malformed {
            path: path.to_owned(),
            message: format!("{len} bytes, more than the {MAX_LOG_BYTES}-byte limit"),
        });
    }
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    file.take(MAX_LOG_BYTES)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    let digest: [u8; 32] =
        sha2::Digest::finalize(sha2::Digest::chain_update(sha2::Sha256::default(), &bytes)).into();
    let malformed = |message: String| LogError::Malformed {
        path: path.to_owned(),
        message,
    };
    let log: EvalLog = serde_json::from_slice(&bytes)
        .map_err(|e| malformed(format!("not a readable modelgate eval log: {e}")))?;
    if log.log_format != LOG_FORMAT {
        return Err(malformed(format!(
            "log_format is {:?}, expected {LOG_FORMAT:?}",
            log.log_format
        )));
    }
    if log.schema_version != LOG_SCHEMA_VERSION {
        return Err(malformed(format!(
            "log schema version {}, this modelgate reads version {LOG_SCHEMA_VERSION}",
            log.schema_version
        )));
    }
    Ok((log, digest))
}
