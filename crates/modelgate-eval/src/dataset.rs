//! Loading an eval dataset: pinned by digest, validated against the task's fields.
//!
//! The file is read once, through `modelgate-dataset`'s streaming reader (JSONL, CSV, TSV or
//! Parquet; its size, line-length, depth and row limits apply), which hashes every byte it
//! passes on. The digest of exactly the bytes the samples came from is then compared with the
//! pin — a `sha256` in the spec or on the command line, or a registry entry written by
//! `modelgate dataset vet` — before any model call. A mismatch, or no pin without
//! `--allow-unpinned`, refuses the run. Reading once closes the window in which a file could
//! be swapped between hashing and loading.

use std::collections::HashSet;
use std::path::PathBuf;

use modelgate_dataset::{DatasetLimits, DatasetReader, Registry};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::message::{Message, Role};
use crate::sample::{Input, Sample};
use crate::spec::DatasetSpec;

/// Field names used when the spec names none.
pub const DEFAULT_INPUT_FIELD: &str = "input";
/// Default target field.
pub const DEFAULT_TARGET_FIELD: &str = "target";
/// Default choices field.
pub const DEFAULT_CHOICES_FIELD: &str = "choices";
/// Default id field.
pub const DEFAULT_ID_FIELD: &str = "id";

/// Longest id kept from a dataset row.
const MAX_ID_BYTES: usize = 256;
/// Most choices per item.
const MAX_CHOICES: usize = 26;
/// Most messages in one item's input.
const MAX_INPUT_MESSAGES: usize = 1024;

/// How the dataset is pinned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PinSource {
    /// A SHA-256 given in the spec or with `--dataset-sha256`.
    Sha256,
    /// A registry entry.
    Registry {
        /// The registry file.
        registry: String,
        /// The entry's name.
        name: String,
    },
    /// No pin (`--allow-unpinned`): recorded as an unpinned run.
    Unpinned,
}

/// A row that could not become a sample.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BadRow {
    /// 1-based line (row for Parquet).
    pub line: u64,
    /// 1-based column, when known.
    pub column: Option<u64>,
    /// What is wrong (never the row's content).
    pub message: String,
}

/// The dataset as loaded.
#[derive(Debug, Clone)]
pub struct LoadedDataset {
    /// The file read.
    pub path: PathBuf,
    /// `jsonl`, `csv`, `tsv` or `parquet`.
    pub format: String,
    /// SHA-256 (hex) of the bytes read.
    pub sha256: String,
    /// How it was pinned.
    pub pin: PinSource,
    /// The samples (the first `max_items` valid ones).
    pub samples: Vec<Sample>,
    /// Rows that could not become samples (only when `skip_bad_rows`).
    pub bad_rows: Vec<BadRow>,
    /// Rows read in total.
    pub rows: u64,
}

/// Why a dataset cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    /// The file cannot be read or exceeds a limit.
    #[error(transparent)]
    Load(#[from] modelgate_dataset::LoadError),
    /// The registry cannot be read or does not pin the dataset.
    #[error(transparent)]
    Registry(#[from] modelgate_dataset::RegistryError),
    /// A row is malformed and the run aborts on failures.
    #[error("{path}:{line}{col}: {message}", col = column.map(|c| format!(":{c}")).unwrap_or_default())]
    BadRow {
        /// The dataset.
        path: PathBuf,
        /// 1-based line.
        line: u64,
        /// 1-based column.
        column: Option<u64>,
        /// What is wrong.
        message: String,
    },
    /// The digest does not match the pin.
    #[error(
        "{path}: dataset digest mismatch: pinned sha256:{expected}, file is sha256:{actual}; refusing to run on data that is not what was pinned"
    )]
    PinMismatch {
        /// The dataset.
        path: PathBuf,
        /// The pinned digest.
        expected: String,
        /// The digest of the file.
        actual: String,
    },
    /// No pin and `--allow-unpinned` not given.
    #[error(
        "{path}: the dataset is not pinned: give --dataset-sha256 HEX (or `dataset.sha256`), or a registry entry (`dataset.registry` + `dataset.name`, see `modelgate dataset vet`); --allow-unpinned runs anyway and records the run as unpinned"
    )]
    Unpinned {
        /// The dataset.
        path: PathBuf,
    },
    /// Reading stopped part-way (I/O error, a limit such as the row count).
    #[error("{0}")]
    Unreadable(String),
    /// The spec's dataset section is incomplete.
    #[error("{0}")]
    Spec(String),
    /// No usable sample.
    #[error("{path}: no usable samples ({rows} rows read, {bad} malformed)")]
    Empty {
        /// The dataset.
        path: PathBuf,
        /// Rows read.
        rows: u64,
        /// Malformed rows.
        bad: usize,
    },
}

/// How to load.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Keep only the first N valid samples (the whole file is still hashed).
    pub max_items: Option<u64>,
    /// Record malformed rows and go on (`on_failure: skip`) instead of failing.
    pub skip_bad_rows: bool,
    /// Run without a pin.
    pub allow_unpinned: bool,
    /// When resuming: the digest the run recorded, which the file must still have.
    pub expect_sha256: Option<String>,
    /// Reader limits.
    pub limits: DatasetLimits,
}

/// Resolves the pin, reads the dataset once, checks the digest, and returns the samples.
pub fn load(spec: &DatasetSpec, options: &LoadOptions) -> Result<LoadedDataset, DatasetError> {
    let (path, expected, pin) = resolve_pin(spec, options)?;
    let fields = Fields::from_spec(spec);
    let mut reader = DatasetReader::open(&path, &options.limits)?;
    let format = reader.format().as_str().to_owned();
    let mut samples = Vec::new();
    let mut bad_rows = Vec::new();
    let mut seen_ids = HashSet::new();
    let mut rows = 0u64;
    let want = options.max_items.unwrap_or(u64::MAX);
    while let Some(next) = reader.next_record() {
        rows += 1;
        let converted = match next {
            Ok(record) => {
                if samples.len() as u64 >= want {
                    continue;
                }
                fields.sample(record.line, &record.values).and_then(|s| {
                    if seen_ids.insert(s.id.clone()) {
                        Ok(s)
                    } else {
                        Err(BadRow {
                            line: record.line,
                            column: None,
                            message: format!("duplicate sample id {:?}", s.id),
                        })
                    }
                })
            }
            Err(e) => Err(BadRow {
                line: e.line,
                column: Some(e.column),
                message: e.message,
            }),
        };
        match converted {
            Ok(s) => samples.push(s),
            Err(bad) if options.skip_bad_rows => bad_rows.push(bad),
            Err(bad) => {
                return Err(DatasetError::BadRow {
                    path,
                    line: bad.line,
                    column: bad.column,
                    message: bad.message,
                });
            }
        }
    }
    if let Some(fatal) = reader.fatal_error() {
        return Err(DatasetError::Unreadable(fatal.to_string()));
    }
    let actual = modelgate_core::to_hex(&reader.sha256());
    for want in [expected.as_ref(), options.expect_sha256.as_ref()]
        .into_iter()
        .flatten()
    {
        if *want != actual {
            return Err(DatasetError::PinMismatch {
                path,
                expected: want.clone(),
                actual,
            });
        }
    }
    if samples.is_empty() {
        return Err(DatasetError::Empty {
            path,
            rows,
            bad: bad_rows.len(),
        });
    }
    Ok(LoadedDataset {
        path,
        format,
        sha256: actual,
        pin,
        samples,
        bad_rows,
        rows,
    })
}

/// Finds the file and the digest it must have.
fn resolve_pin(
    spec: &DatasetSpec,
    options: &LoadOptions,
) -> Result<(PathBuf, Option<String>, PinSource), DatasetError> {
    if let (Some(registry), Some(name)) = (&spec.registry, &spec.name) {
        let reg = Registry::load(registry, false)?;
        let entry = reg
            .get(name)
            .ok_or_else(|| modelgate_dataset::RegistryError::UnknownName {
                path: registry.clone(),
                name: name.clone(),
            })?;
        if entry.kind != modelgate_dataset::PinKind::File {
            return Err(DatasetError::Spec(format!(
                "{}: dataset `{name}` is pinned as a directory; an eval dataset is one file",
                registry.display()
            )));
        }
        let path = spec
            .path
            .clone()
            .unwrap_or_else(|| PathBuf::from(&entry.path));
        if let Some(sha) = &spec.sha256
            && *sha != entry.sha256
        {
            return Err(DatasetError::Spec(format!(
                "dataset.sha256 {sha} contradicts the registry's pin {} for `{name}`",
                entry.sha256
            )));
        }
        return Ok((
            path,
            Some(entry.sha256.clone()),
            PinSource::Registry {
                registry: registry.display().to_string(),
                name: name.clone(),
            },
        ));
    }
    let path = spec
        .path
        .clone()
        .ok_or_else(|| DatasetError::Spec("no dataset path".into()))?;
    match &spec.sha256 {
        Some(sha) => Ok((path, Some(sha.clone()), PinSource::Sha256)),
        None if options.allow_unpinned => Ok((path, None, PinSource::Unpinned)),
        None => Err(DatasetError::Unpinned { path }),
    }
}

/// The field names a task reads.
struct Fields<'a> {
    input: &'a str,
    target: &'a str,
    choices: &'a str,
    id: &'a str,
}

impl<'a> Fields<'a> {
    fn from_spec(spec: &'a DatasetSpec) -> Fields<'a> {
        Fields {
            input: spec.input_field.as_deref().unwrap_or(DEFAULT_INPUT_FIELD),
            target: spec.target_field.as_deref().unwrap_or(DEFAULT_TARGET_FIELD),
            choices: spec
                .choices_field
                .as_deref()
                .unwrap_or(DEFAULT_CHOICES_FIELD),
            id: spec.id_field.as_deref().unwrap_or(DEFAULT_ID_FIELD),
        }
    }

    /// Validates one record against the task's fields.
    fn sample(&self, line: u64, values: &serde_json::Map<String, Value>) -> Result<Sample, BadRow> {
        let bad = |message: String| BadRow {
            line,
            column: None,
            message,
        };
        let input = match values.get(self.input) {
            Some(Value::String(s)) => Input::Text(s.clone()),
            Some(Value::Array(items)) => Input::Messages(messages(items).map_err(&bad)?),
            Some(v @ (Value::Number(_) | Value::Bool(_))) => Input::Text(v.to_string()),
            Some(other) => {
                return Err(bad(format!(
                    "field `{}` must be a string or a list of messages, not {}",
                    self.input,
                    kind(other)
                )));
            }
            None => return Err(bad(format!("missing input field `{}`", self.input))),
        };
        let target = match values.get(self.target) {
            Some(v) => text_list(v).ok_or_else(|| {
                bad(format!(
                    "field `{}` must be a string, a number or a list of them, not {}",
                    self.target,
                    kind(v)
                ))
            })?,
            None => return Err(bad(format!("missing target field `{}`", self.target))),
        };
        let choices = match values.get(self.choices) {
            None | Some(Value::Null) => Vec::new(),
            Some(v) => {
                let c = text_list(v).ok_or_else(|| {
                    bad(format!(
                        "field `{}` must be a list of strings, not {}",
                        self.choices,
                        kind(v)
                    ))
                })?;
                if c.len() > MAX_CHOICES {
                    return Err(bad(format!(
                        "{} choices, more than the {MAX_CHOICES} letters A–Z",
                        c.len()
                    )));
                }
                c
            }
        };
        let id = match values.get(self.id) {
            None | Some(Value::Null) => line.to_string(),
            Some(Value::String(s)) if !s.is_empty() && s.len() <= MAX_ID_BYTES => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            Some(_) => {
                return Err(bad(format!(
                    "field `{}` must be a non-empty string of at most {MAX_ID_BYTES} bytes or a number",
                    self.id
                )));
            }
        };
        Ok(Sample {
            id,
            line,
            input,
            target,
            choices,
            metadata: serde_json::Map::new(),
        })
    }
}

/// A JSON type's name for messages.
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// A string, number or list of them, as texts.
fn text_list(v: &Value) -> Option<Vec<String>> {
    let one = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    };
    match v {
        Value::Array(items) => items.iter().map(one).collect(),
        other => one(other).map(|s| vec![s]),
    }
}

/// A list of `{role, content}` objects as messages.
fn messages(items: &[Value]) -> Result<Vec<Message>, String> {
    if items.len() > MAX_INPUT_MESSAGES {
        return Err(format!(
            "{} input messages, more than the {MAX_INPUT_MESSAGES} accepted",
            items.len()
        ));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let role = match m.get("role").and_then(Value::as_str) {
                Some("system") => Role::System,
                Some("user") => Role::User,
                Some("assistant") => Role::Assistant,
                other => {
                    return Err(format!(
                        "input message {i}: role must be system, user or assistant, not {}",
                        other.map_or_else(|| "missing".to_owned(), |r| format!("{r:?}"))
                    ));
                }
            };
            let content = m
                .get("content")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("input message {i}: `content` must be a string"))?;
            Ok(Message::new(role, content))
        })
        .collect()
}
