//! CycloneDX 1.6 ML-BOMs of a model directory: what the model is (its model-signing root
//! digest), what it is made of (one `file` component per file with its SHA-256), what it says
//! about itself (model-card fields from `config.json` and the README front matter), and how it
//! performed (evaluation metrics on pinned `data` components).
//!
//! Only the subset of CycloneDX 1.6 that modelgate writes is modelled; the output validates
//! against the official 1.6 JSON schema (checked against cyclonedx-python-lib's strict validator
//! in the CLI tests).
//!
//! ```
//! use modelgate_attest::cyclonedx::{SbomOptions, build_model_bom};
//!
//! let dir = tempfile::tempdir()?;
//! std::fs::write(dir.path().join("weights.safetensors"), b"tensor bytes")?;
//! std::fs::write(dir.path().join("config.json"), r#"{"model_type": "llama"}"#)?;
//! let options = SbomOptions::new("2026-01-01T00:00:00Z");
//! let out = build_model_bom(dir.path(), &options)?;
//! let model = out.bom.metadata.component.as_ref().unwrap();
//! assert_eq!(model.hashes[0].content, modelgate_attest::algorithm::to_hex(&out.manifest.root_digest()));
//! assert_eq!(out.bom.components.len(), 2); // one per file
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod card;
mod evaluation;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rand_core::{OsRng, RngCore as _};
use serde::{Deserialize, Serialize};

use crate::algorithm::{HashAlgorithm, to_hex};
use crate::hashing::{HashError, HashOptions, hash_model};
use crate::limits::ReadError;
use crate::manifest::{Manifest, Method, RelPath, ResourceKey};

pub use card::CardFacts;
pub use evaluation::{Evaluation, Metric, parse_sha256};

/// The spec version written.
pub const SPEC_VERSION: &str = "1.6";
/// The JSON schema URI of that version.
pub const SCHEMA_URI: &str = "http://cyclonedx.org/schema/bom-1.6.schema.json";

/// Bounds on what building a BOM reads from the model directory and evaluation files. The
/// number of files is bounded by the hashing limits ([`crate::AttestLimits::max_files`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SbomLimits {
    /// Largest `config.json` read.
    pub max_config_bytes: u64,
    /// Largest `README.md` read.
    pub max_readme_bytes: u64,
    /// Largest YAML front matter parsed.
    pub max_front_matter_bytes: usize,
    /// Most YAML nodes in the front matter.
    pub max_yaml_nodes: usize,
    /// Largest evaluation JSON file.
    pub max_evaluation_bytes: u64,
    /// Most evaluations in one BOM.
    pub max_evaluations: usize,
    /// Longest name, tag, license or other string copied into the BOM.
    pub max_string_bytes: usize,
    /// Most entries in one list (tags, languages, metrics of one evaluation, …).
    pub max_list_items: usize,
}

impl Default for SbomLimits {
    fn default() -> Self {
        SbomLimits {
            max_config_bytes: 4 * 1024 * 1024,
            max_readme_bytes: 1024 * 1024,
            max_front_matter_bytes: 64 * 1024,
            max_yaml_nodes: 10_000,
            max_evaluation_bytes: 1024 * 1024,
            max_evaluations: 1000,
            max_string_bytes: 1024,
            max_list_items: 256,
        }
    }
}

/// Why a BOM could not be built.
#[derive(Debug, thiserror::Error)]
pub enum SbomError {
    /// Walking or hashing the model failed (names the file).
    #[error(transparent)]
    Hash(#[from] HashError),
    /// A file read for the BOM (config, README, evaluation) is unreadable or malformed.
    #[error("{}: {kind}", path.display())]
    Input {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        kind: SbomInputError,
    },
    /// An evaluation passed to the builder is malformed.
    #[error("evaluation #{index}: {reason}")]
    Evaluation {
        /// Its position in [`SbomOptions::evaluations`] (from 1).
        index: usize,
        /// What is wrong.
        reason: String,
    },
    /// The options do not describe a per-file SHA-256 manifest, or exceed a limit.
    #[error("{0}")]
    Options(String),
    /// The operating system's random source failed (for the serial number).
    #[error("cannot generate a random serial number: {0}")]
    Random(String),
}

/// What is wrong with one input file.
#[derive(Debug, thiserror::Error)]
pub enum SbomInputError {
    /// Too big, or unreadable.
    #[error("{0}")]
    Read(#[from] ReadError),
    /// Not JSON, or JSON of the wrong shape (serde names field, line and column).
    #[error("{0}")]
    Json(#[from] serde_json::Error),
    /// The README's YAML front matter does not parse (with line and column), or exceeds its
    /// budget.
    #[error("YAML front matter: {0}")]
    Yaml(String),
    /// A value out of bounds or of the wrong form.
    #[error("{0}")]
    Invalid(String),
}

impl SbomError {
    pub(crate) fn input(path: &Path, kind: SbomInputError) -> Self {
        SbomError::Input {
            path: path.to_owned(),
            kind,
        }
    }
}

/// How to build an ML-BOM.
#[derive(Debug, Clone)]
pub struct SbomOptions {
    /// The model's name (default: the manifest's model name, i.e. the directory's name).
    pub name: Option<String>,
    /// The model's version, if known.
    pub version: Option<String>,
    /// The BOM's creation time, RFC 3339 (the library does not read the clock).
    pub timestamp: String,
    /// Evaluation results to report. **Trusted input**: pass only results you verified.
    pub evaluations: Vec<Evaluation>,
    /// How to hash the model: must be SHA-256, one digest per file (the default), so every
    /// `file` component carries that file's SHA-256 and the model's hash is the model-signing
    /// root digest.
    pub hash: HashOptions,
    /// Read limits.
    pub limits: SbomLimits,
}

impl SbomOptions {
    /// Default options with the given creation time.
    pub fn new(timestamp: impl Into<String>) -> Self {
        SbomOptions {
            name: None,
            version: None,
            timestamp: timestamp.into(),
            evaluations: Vec::new(),
            hash: HashOptions::default(),
            limits: SbomLimits::default(),
        }
    }
}

/// A built BOM and the manifest it was built from.
#[derive(Debug, Clone)]
pub struct ModelBom {
    /// The BOM.
    pub bom: Bom,
    /// The model's manifest (its root digest is the model component's hash).
    pub manifest: Manifest,
}

// --- the CycloneDX subset ---------------------------------------------------------------------

/// A CycloneDX BOM (the subset modelgate writes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Bom {
    /// The JSON schema (`http://cyclonedx.org/schema/bom-1.6.schema.json`).
    #[serde(rename = "$schema", default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// Always `CycloneDX`.
    pub bom_format: String,
    /// `1.6`.
    pub spec_version: String,
    /// `urn:uuid:` and a random (v4) UUID.
    pub serial_number: String,
    /// The BOM's version (1 for a new BOM).
    pub version: u32,
    /// When, by what, and about what.
    pub metadata: Metadata,
    /// Files of the model and evaluation datasets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<Component>,
    /// The dependency graph: model → files and datasets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dependencies: Vec<Dependency>,
}

/// BOM metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metadata {
    /// Creation time (RFC 3339).
    pub timestamp: String,
    /// The tools that made the BOM.
    pub tools: Tools,
    /// The component the BOM describes: the model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<Component>,
}

/// Tools, in the 1.5+ object form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tools {
    /// Tool components.
    pub components: Vec<Component>,
}

/// Component types modelgate writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ComponentType {
    /// A program (the tool).
    Application,
    /// A file of the model.
    File,
    /// The model.
    MachineLearningModel,
    /// A dataset.
    Data,
}

/// A component.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Component {
    /// Its type.
    #[serde(rename = "type")]
    pub kind: ComponentType,
    /// Its identifier within the BOM.
    #[serde(rename = "bom-ref", default, skip_serializing_if = "Option::is_none")]
    pub bom_ref: Option<String>,
    /// Its name (for files: the path relative to the model root).
    pub name: String,
    /// Its version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Its digests.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hashes: Vec<Hash>,
    /// Its licenses (named: model cards write free-form license names).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub licenses: Vec<LicenseChoice>,
    /// The model card (models only).
    #[serde(rename = "modelCard", default, skip_serializing_if = "Option::is_none")]
    pub model_card: Option<ModelCard>,
    /// What kind of data (data components only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub data: Vec<ComponentData>,
    /// Name–value facts without a field of their own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub properties: Vec<Property>,
    /// Tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

impl Component {
    fn new(kind: ComponentType, name: impl Into<String>) -> Self {
        Component {
            kind,
            bom_ref: None,
            name: name.into(),
            version: None,
            hashes: Vec::new(),
            licenses: Vec::new(),
            model_card: None,
            data: Vec::new(),
            properties: Vec::new(),
            tags: Vec::new(),
        }
    }

    /// The SHA-256 digest (hex) of this component, if it has one.
    pub fn sha256(&self) -> Option<&str> {
        self.hashes
            .iter()
            .find(|h| h.alg == HashAlg::Sha256)
            .map(|h| h.content.as_str())
    }
}

/// A digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hash {
    /// The algorithm.
    pub alg: HashAlg,
    /// Lowercase hex.
    pub content: String,
}

/// Digest algorithms modelgate writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum HashAlg {
    /// SHA-256.
    #[serde(rename = "SHA-256")]
    Sha256,
}

impl Hash {
    fn sha256(digest: &[u8]) -> Self {
        Hash {
            alg: HashAlg::Sha256,
            content: to_hex(digest),
        }
    }
}

/// One license entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicenseChoice {
    /// The license.
    pub license: License,
}

/// A named license.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct License {
    /// The name as the model card gives it (e.g. `apache-2.0`).
    pub name: String,
}

/// A name–value pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Property {
    /// The name (`modelgate:…` for modelgate's own).
    pub name: String,
    /// The value.
    pub value: String,
}

impl Property {
    fn new(name: &str, value: impl Into<String>) -> Self {
        Property {
            name: name.to_owned(),
            value: value.into(),
        }
    }
}

/// What a `data` component holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentData {
    /// Always `dataset` here.
    #[serde(rename = "type")]
    pub kind: String,
    /// The dataset's name.
    pub name: String,
}

/// A model card.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelCard {
    /// Task, architecture and datasets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_parameters: Option<ModelParameters>,
    /// Evaluation metrics.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantitative_analysis: Option<QuantitativeAnalysis>,
    /// Facts from the README front matter without a model-card field (language, base model,
    /// training datasets the author names, library).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub properties: Vec<Property>,
}

/// Model parameters.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelParameters {
    /// The task (README `pipeline_tag`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    /// The architecture family (`config.json` `model_type`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub architecture_family: Option<String>,
    /// The architecture (`config.json` `architectures`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_architecture: Option<String>,
    /// The evaluation datasets, as references to `data` components.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub datasets: Vec<DatasetRef>,
}

/// A reference to a `data` component.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatasetRef {
    /// The component's `bom-ref`.
    #[serde(rename = "ref")]
    pub reference: String,
}

/// Quantitative analysis.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QuantitativeAnalysis {
    /// One entry per metric of every evaluation.
    pub performance_metrics: Vec<PerformanceMetric>,
}

/// A measured metric.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PerformanceMetric {
    /// The metric's name (e.g. `accuracy`).
    #[serde(rename = "type")]
    pub kind: String,
    /// Its value, as text.
    pub value: String,
    /// What it was measured on: `task:<task> dataset:<name>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slice: Option<String>,
    /// Its confidence interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence_interval: Option<ConfidenceInterval>,
}

/// A confidence interval, as text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfidenceInterval {
    /// Lower bound.
    pub lower_bound: String,
    /// Upper bound.
    pub upper_bound: String,
}

/// One node of the dependency graph.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Dependency {
    /// The component.
    #[serde(rename = "ref")]
    pub reference: String,
    /// What it depends on (empty: nothing).
    #[serde(default)]
    pub depends_on: Vec<String>,
}

// --- building -----------------------------------------------------------------------------------

/// A random (version 4) UUID as a `urn:uuid:` URN.
pub fn random_serial_number() -> Result<String, SbomError> {
    let mut b = [0u8; 16];
    OsRng
        .try_fill_bytes(&mut b)
        .map_err(|e| SbomError::Random(e.to_string()))?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = to_hex(&b);
    Ok(format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    ))
}

/// A metric value as text: up to six decimals, trailing zeros dropped (`0.6804`, not
/// `0.6804000000000001`).
fn number(v: f64) -> String {
    let s = format!("{v:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".to_owned()
    } else {
        s.to_owned()
    }
}

/// Hashes the model at `path` and builds its ML-BOM: the model (with its model-signing root
/// digest, model card and metrics) as `metadata.component`, one `file` component per file, one
/// `data` component per distinct evaluation dataset, and the dependency graph.
pub fn build_model_bom(path: &Path, options: &SbomOptions) -> Result<ModelBom, SbomError> {
    if options.hash.algorithm != HashAlgorithm::Sha256 || options.hash.shard_size.is_some() {
        return Err(SbomError::Options(
            "an ML-BOM needs one SHA-256 digest per file: use the sha256 algorithm without shards"
                .into(),
        ));
    }
    let limits = &options.limits;
    if options.evaluations.len() > limits.max_evaluations {
        return Err(SbomError::Options(format!(
            "more than {} evaluations",
            limits.max_evaluations
        )));
    }
    for (i, e) in options.evaluations.iter().enumerate() {
        e.check(limits).map_err(|reason| SbomError::Evaluation {
            index: i + 1,
            reason,
        })?;
    }
    for (what, value) in [("name", &options.name), ("version", &options.version)] {
        if value
            .as_ref()
            .is_some_and(|v| v.is_empty() || v.len() > limits.max_string_bytes)
        {
            return Err(SbomError::Options(format!(
                "the model {what} must be 1 to {} bytes",
                limits.max_string_bytes
            )));
        }
    }
    // Hash first: the walk refuses links and special files, and the card is read only from
    // files the manifest lists.
    let manifest = hash_model(path, &options.hash)?;
    debug_assert!(matches!(manifest.serialization.method, Method::Files));
    let listed = |name: &str| {
        RelPath::parse(name).is_ok_and(|rel| {
            manifest
                .resources()
                .binary_search_by(|r| r.key.cmp(&ResourceKey::File(rel.clone())))
                .is_ok()
        })
    };
    let facts = CardFacts::read_if(path, limits, listed)?;
    let bom = assemble(&manifest, &facts, options)?;
    Ok(ModelBom { bom, manifest })
}

/// Builds the BOM from a manifest already computed and the card facts.
fn assemble(
    manifest: &Manifest,
    facts: &CardFacts,
    options: &SbomOptions,
) -> Result<Bom, SbomError> {
    let name = options
        .name
        .clone()
        .unwrap_or_else(|| manifest.model_name.clone());
    let name = if name.is_empty() {
        "model".to_owned()
    } else {
        name
    };
    let model_ref = format!("model:{name}");

    // One file component per manifest resource (per file: the manifest is per-file).
    let single_file = manifest.resources().len() == 1
        && manifest.resources()[0].key.path().components().is_empty();
    let mut files = Vec::with_capacity(manifest.resources().len());
    for r in manifest.resources() {
        let rel = r.key.path().to_string();
        let file_name = if single_file {
            manifest.model_name.clone()
        } else {
            rel.clone()
        };
        let mut c = Component::new(ComponentType::File, file_name);
        c.bom_ref = Some(format!("file:{rel}"));
        c.hashes = vec![Hash::sha256(&r.digest)];
        files.push(c);
    }

    // One data component per distinct (dataset name, digest).
    let mut datasets: BTreeMap<String, Component> = BTreeMap::new();
    let mut metrics = Vec::new();
    for e in &options.evaluations {
        let hex = e.dataset_hex();
        let data_ref = format!("dataset:{}@sha256:{hex}", e.dataset_name);
        datasets.entry(data_ref.clone()).or_insert_with(|| {
            let mut c = Component::new(ComponentType::Data, e.dataset_name.clone());
            c.bom_ref = Some(data_ref);
            c.hashes = vec![Hash {
                alg: HashAlg::Sha256,
                content: hex,
            }];
            c.data = vec![ComponentData {
                kind: "dataset".into(),
                name: e.dataset_name.clone(),
            }];
            c
        });
        for m in &e.metrics {
            metrics.push(PerformanceMetric {
                kind: m.name.clone(),
                value: number(m.value),
                slice: Some(format!("task:{} dataset:{}", e.task, e.dataset_name)),
                confidence_interval: m.interval().map(|(lo, hi)| ConfidenceInterval {
                    lower_bound: number(lo),
                    upper_bound: number(hi),
                }),
            });
        }
    }

    let parameters = ModelParameters {
        task: facts.task.clone(),
        architecture_family: facts.architecture_family.clone(),
        model_architecture: facts.model_architecture.clone(),
        datasets: datasets
            .keys()
            .map(|r| DatasetRef {
                reference: r.clone(),
            })
            .collect(),
    };
    let mut card = ModelCard {
        model_parameters: (parameters != ModelParameters::default()).then_some(parameters),
        quantitative_analysis: (!metrics.is_empty()).then_some(QuantitativeAnalysis {
            performance_metrics: metrics,
        }),
        properties: Vec::new(),
    };
    let card_props = [
        ("modelgate:card:language", &facts.languages),
        ("modelgate:card:base_model", &facts.base_models),
        ("modelgate:card:training_dataset", &facts.training_datasets),
    ];
    for (key, values) in card_props {
        card.properties
            .extend(values.iter().map(|v| Property::new(key, v.clone())));
    }
    if let Some(lib) = &facts.library_name {
        card.properties
            .push(Property::new("modelgate:card:library_name", lib.clone()));
    }

    let mut model = Component::new(ComponentType::MachineLearningModel, name);
    model.bom_ref = Some(model_ref.clone());
    model.version.clone_from(&options.version);
    model.hashes = vec![Hash::sha256(&manifest.root_digest())];
    model.licenses = facts
        .licenses
        .iter()
        .map(|l| LicenseChoice {
            license: License { name: l.clone() },
        })
        .collect();
    model.tags.clone_from(&facts.tags);
    model.properties = vec![
        Property::new(
            "modelgate:hash:method",
            "OpenSSF model signing v1.0 root digest: SHA-256 over the per-file SHA-256 digests \
             in canonical path order (`modelgate hash`)",
        ),
        Property::new(
            "modelgate:hash:ignored_paths",
            manifest.serialization.ignore_paths.join(","),
        ),
        Property::new("modelgate:files", manifest.file_count().to_string()),
    ];
    model.model_card = Some(card);

    let mut dependencies = Vec::with_capacity(files.len() + datasets.len() + 1);
    let children: Vec<String> = files
        .iter()
        .chain(datasets.values())
        .filter_map(|c| c.bom_ref.clone())
        .collect();
    dependencies.push(Dependency {
        reference: model_ref,
        depends_on: children.clone(),
    });
    dependencies.extend(children.into_iter().map(|reference| Dependency {
        reference,
        depends_on: Vec::new(),
    }));

    let mut tool = Component::new(ComponentType::Application, "modelgate");
    tool.version = Some(env!("CARGO_PKG_VERSION").to_owned());

    let mut components = files;
    components.extend(datasets.into_values());
    Ok(Bom {
        schema: Some(SCHEMA_URI.to_owned()),
        bom_format: "CycloneDX".to_owned(),
        spec_version: SPEC_VERSION.to_owned(),
        serial_number: random_serial_number()?,
        version: 1,
        metadata: Metadata {
            timestamp: options.timestamp.clone(),
            tools: Tools {
                components: vec![tool],
            },
            component: Some(model),
        },
        components,
        dependencies,
    })
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    fn eval(task: &str, dataset: &str, byte: u8) -> Evaluation {
        Evaluation {
            task: task.into(),
            dataset_name: dataset.into(),
            dataset_sha256: to_hex(&[byte; 32]),
            metrics: vec![Metric {
                name: "accuracy".into(),
                value: 0.5,
                stderr: Some(0.1),
                ci: None,
            }],
        }
    }

    #[test]
    fn serial_numbers_are_random_v4_uuids() {
        let a = random_serial_number().unwrap();
        let b = random_serial_number().unwrap();
        assert_ne!(a, b);
        let uuid = a.strip_prefix("urn:uuid:").unwrap();
        let groups: Vec<&str> = uuid.split('-').collect();
        assert_eq!(
            groups.iter().map(|g| g.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(groups[2].starts_with('4'));
        assert!(matches!(groups[3].as_bytes()[0], b'8' | b'9' | b'a' | b'b'));
    }

    #[test]
    fn numbers_are_short() {
        assert_eq!(number(0.5 - 1.96 * 0.1), "0.304");
        assert_eq!(number(1.0), "1");
        assert_eq!(number(-0.000_000_1), "0");
        assert_eq!(number(12.345_678_9), "12.345679");
    }

    #[test]
    fn builds_model_files_datasets_and_graph() {
        let dir = tempfile::tempdir().unwrap();
        let model = dir.path().join("tiny");
        fs::create_dir_all(model.join("sub")).unwrap();
        fs::write(model.join("w.bin"), b"weights").unwrap();
        fs::write(model.join("sub/x.txt"), b"x").unwrap();
        fs::write(
            model.join("config.json"),
            r#"{"architectures":["BertModel"],"model_type":"bert"}"#,
        )
        .unwrap();
        let mut options = SbomOptions::new("2026-01-01T00:00:00Z");
        options.version = Some("1.0".into());
        // Two evaluations on one dataset, one on another: two data components.
        options.evaluations = vec![
            eval("a", "set1", 1),
            eval("b", "set1", 1),
            eval("c", "set2", 2),
        ];
        let out = build_model_bom(&model, &options).unwrap();
        let bom = &out.bom;
        let m = bom.metadata.component.as_ref().unwrap();
        assert_eq!(m.kind, ComponentType::MachineLearningModel);
        assert_eq!(m.name, "tiny");
        assert_eq!(m.sha256().unwrap(), to_hex(&out.manifest.root_digest()));
        let card = m.model_card.as_ref().unwrap();
        let params = card.model_parameters.as_ref().unwrap();
        assert_eq!(params.architecture_family.as_deref(), Some("bert"));
        assert_eq!(params.datasets.len(), 2);
        let metrics = &card
            .quantitative_analysis
            .as_ref()
            .unwrap()
            .performance_metrics;
        assert_eq!(metrics.len(), 3);
        assert_eq!(metrics[0].slice.as_deref(), Some("task:a dataset:set1"));
        assert_eq!(
            metrics[0].confidence_interval.as_ref().unwrap().lower_bound,
            "0.304"
        );

        let files: Vec<_> = bom
            .components
            .iter()
            .filter(|c| c.kind == ComponentType::File)
            .collect();
        assert_eq!(files.len(), 3);
        for (c, r) in files.iter().zip(out.manifest.resources()) {
            assert_eq!(c.name, r.key.to_string());
            assert_eq!(c.sha256().unwrap(), to_hex(&r.digest));
        }
        let w = files.iter().find(|c| c.name == "w.bin").unwrap();
        assert_eq!(
            w.sha256().unwrap(),
            to_hex(&HashAlgorithm::Sha256.digest(b"weights"))
        );
        let data: Vec<_> = bom
            .components
            .iter()
            .filter(|c| c.kind == ComponentType::Data)
            .collect();
        assert_eq!(data.len(), 2);
        assert_eq!(bom.dependencies[0].reference, "model:tiny");
        assert_eq!(bom.dependencies[0].depends_on.len(), 5);
        assert_eq!(bom.dependencies.len(), 6);

        // Round trip through JSON.
        let text = serde_json::to_string(bom).unwrap();
        assert!(text.contains(r#""bomFormat":"CycloneDX""#));
        assert!(text.contains(r#""type":"machine-learning-model""#));
        assert!(text.contains(r#""alg":"SHA-256""#));
        let back: Bom = serde_json::from_str(&text).unwrap();
        assert_eq!(&back, bom);
    }

    #[test]
    fn single_file_model_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("model.gguf");
        fs::write(&f, b"gguf").unwrap();
        let out = build_model_bom(&f, &SbomOptions::new("2026-01-01T00:00:00Z")).unwrap();
        assert_eq!(out.bom.components.len(), 1);
        assert_eq!(out.bom.components[0].name, "model.gguf");
    }

    #[test]
    fn refuses_bad_options_and_evaluations() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("f"), b"x").unwrap();
        let mut options = SbomOptions::new("2026-01-01T00:00:00Z");
        options.hash.shard_size = Some(10);
        assert!(matches!(
            build_model_bom(dir.path(), &options),
            Err(SbomError::Options(_))
        ));
        let mut options = SbomOptions::new("2026-01-01T00:00:00Z");
        let mut bad = eval("t", "d", 0);
        bad.dataset_sha256 = "nope".into();
        options.evaluations = vec![eval("t", "d", 0), bad];
        let err = build_model_bom(dir.path(), &options).unwrap_err();
        assert!(err.to_string().starts_with("evaluation #2:"), "{err}");
        let missing = build_model_bom(
            &dir.path().join("missing"),
            &SbomOptions::new("2026-01-01T00:00:00Z"),
        );
        assert!(matches!(missing, Err(SbomError::Hash(_))));
    }
}
