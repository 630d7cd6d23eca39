//! Verifying: a model directory against a model-signing bundle, and files against a signed
//! in-toto statement. The result is a report listing every [`Failure`] with the [`Rule`] it
//! broke; an `Err` means no verdict could be reached (bad input).
//!
//! Nothing in a payload is looked at before its signature verifies under the given key.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::algorithm::{HashAlgorithm, to_hex};
use crate::bundle::SignedDocument;
use crate::error::{AttestError, DocumentError, FormatError};
use crate::hashing::{HashErrorKind, HashOptions, digest_file, hash_model};
use crate::keys::{KeyType, PublicKey};
use crate::limits::{AttestLimits, read_capped};
use crate::manifest::{ChangedFile, ExtraFile, Method, Serialization, diff};
use crate::model_signing::{MODEL_SIGNING_PREDICATE_TYPE, manifest_from_statement};
use crate::policy::{Policy, Rule};
use crate::sign::path_inside;
use crate::statement::{IN_TOTO_PAYLOAD_TYPE, Statement};

/// One reason verification failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The bundle names another key.
    KeyHint {
        /// Hint in the bundle.
        bundle: String,
        /// Hint of the key given.
        given: String,
    },
    /// No signature verifies under the given key.
    Signature,
    /// The signed root digest disagrees with the signed resources.
    RootDigest {
        /// As signed.
        signed: String,
        /// Over the signed resources.
        computed: String,
    },
    /// A signed file changed.
    Changed(ChangedFile),
    /// A signed file is gone.
    Missing(String),
    /// A file is present but unsigned.
    Unsigned(ExtraFile),
    /// The key is not allowed by the policy.
    KeyNotAllowed {
        /// The key's hint.
        hint: String,
    },
    /// The predicate type is not allowed by the policy.
    PredicateType {
        /// The statement's type.
        found: String,
        /// What the policy accepts.
        allowed: Vec<String>,
    },
    /// A digest algorithm below the policy minimum.
    WeakHash {
        /// Where it was used.
        what: String,
        /// The algorithm.
        algorithm: HashAlgorithm,
        /// The policy minimum.
        minimum: HashAlgorithm,
    },
    /// A subject file's digest is not in the statement.
    SubjectDigest {
        /// The file.
        path: String,
        /// Its SHA-256.
        sha256: String,
    },
    /// A symbolic link where the signature did not allow links.
    Symlink {
        /// The link.
        path: String,
    },
}

impl Failure {
    /// The rule broken.
    pub fn rule(&self) -> Rule {
        match self {
            Failure::KeyHint { .. } => Rule::KeyHint,
            Failure::Signature => Rule::Signature,
            Failure::RootDigest { .. } => Rule::RootDigest,
            Failure::Changed(_) => Rule::ChangedFile,
            Failure::Missing(_) => Rule::MissingFile,
            Failure::Unsigned(_) => Rule::UnsignedFiles,
            Failure::KeyNotAllowed { .. } => Rule::AllowedKeys,
            Failure::PredicateType { .. } => Rule::PredicateType,
            Failure::WeakHash { .. } => Rule::MinHashAlgorithm,
            Failure::SubjectDigest { .. } => Rule::SubjectDigest,
            Failure::Symlink { .. } => Rule::Symlink,
        }
    }

    /// The file concerned, for file-level failures.
    pub fn path(&self) -> Option<&str> {
        match self {
            Failure::Changed(c) => Some(&c.path),
            Failure::Missing(p)
            | Failure::SubjectDigest { path: p, .. }
            | Failure::Symlink { path: p } => Some(p),
            Failure::Unsigned(e) => Some(&e.path),
            _ => None,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::KeyHint { bundle, given } => write!(
                f,
                "the signature names key {bundle}, but the key given is {given}: wrong key, or a \
                 bundle signed by someone else"
            ),
            Failure::Signature => f.write_str(
                "the signature does not verify under the given key: the signed content was \
                 altered, or another key signed it",
            ),
            Failure::RootDigest { signed, computed } => write!(
                f,
                "the signed root digest {signed} does not match the signed file digests \
                 ({computed}): the manifest is inconsistent"
            ),
            Failure::Changed(c) => write!(
                f,
                "{}: content changed (signed {}, now {})",
                c.path, c.expected, c.actual
            ),
            Failure::Missing(p) => write!(f, "{p}: signed but missing"),
            Failure::Unsigned(e) => match &e.note {
                Some(note) => write!(f, "{}: present but not signed ({note})", e.path),
                None => write!(f, "{}: present but not signed", e.path),
            },
            Failure::KeyNotAllowed { hint } => {
                write!(f, "key {hint} is not one of the policy's allowed keys")
            }
            Failure::PredicateType { found, allowed } => write!(
                f,
                "predicate type {found} is not one the policy accepts ({})",
                allowed.join(", ")
            ),
            Failure::WeakHash {
                what,
                algorithm,
                minimum,
            } => write!(
                f,
                "{what} uses {algorithm}, weaker than the policy minimum {minimum}"
            ),
            Failure::SubjectDigest { path, sha256 } => write!(
                f,
                "{path}: its digest (sha256 {sha256}) is not a subject of the statement"
            ),
            Failure::Symlink { path } => write!(
                f,
                "{path}: is a symbolic link, and the signature was made without allowing links"
            ),
        }
    }
}

/// The key that verified (or failed to).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// Its type.
    pub key_type: KeyType,
    /// Its hint.
    pub hint: String,
}

/// Checks that do not depend on the payload: policy key list, bundle hint, signature.
fn check_key(
    doc: &SignedDocument,
    key: &PublicKey,
    policy: &Policy,
    notes: &mut Vec<String>,
) -> Vec<Failure> {
    let hint = key.hint();
    let mut failures = Vec::new();
    if !policy.key_allowed(&hint) {
        failures.push(Failure::KeyNotAllowed { hint: hint.clone() });
    }
    if let SignedDocument::Bundle(bundle) = doc {
        match (&bundle.key_hint, &bundle.raw_key) {
            (Some(named), _) if *named != hint => failures.push(Failure::KeyHint {
                bundle: named.clone(),
                given: hint.clone(),
            }),
            (None, Some(raw)) if key.to_spki_der().ok().as_ref() != Some(raw) => {
                failures.push(Failure::KeyHint {
                    bundle: format!(
                        "(embedded key, sha256 {})",
                        to_hex(&HashAlgorithm::Sha256.digest(raw))
                    ),
                    given: hint.clone(),
                });
            }
            (None, None) => notes.push(
                "the bundle does not name its key (older model-signing format); checked against \
                 the given key"
                    .into(),
            ),
            _ => {}
        }
        if bundle.tlog_entries > 0 {
            notes.push(format!(
                "{} transparency-log entries are present and were not checked (offline \
                 verification)",
                bundle.tlog_entries
            ));
        }
    }
    if !doc.envelope().verify(key) {
        failures.push(Failure::Signature);
    }
    failures
}

fn read_document(path: &Path, limits: &AttestLimits) -> Result<SignedDocument, DocumentError> {
    let bytes =
        read_capped(path, limits.max_json_bytes).map_err(|e| DocumentError::new(path, e))?;
    SignedDocument::from_json(&bytes).map_err(|e| DocumentError::new(path, e))
}

fn verified_statement(doc: &SignedDocument, path: &Path) -> Result<Statement, DocumentError> {
    let env = doc.envelope();
    if env.payload_type != IN_TOTO_PAYLOAD_TYPE {
        return Err(DocumentError::new(
            path,
            FormatError::PayloadType {
                found: env.payload_type.clone(),
                expected: IN_TOTO_PAYLOAD_TYPE,
            },
        ));
    }
    Statement::from_json(&env.payload).map_err(|e| DocumentError::new(path, e))
}

/// Options of [`verify_model`] beyond the policy.
#[derive(Debug, Clone, Default)]
pub struct VerifyModelOptions {
    /// Paths to ignore in addition to those the signature records.
    pub extra_ignore_paths: Vec<String>,
    /// Also ignore the git paths even if the signature did not record them.
    pub ignore_git_paths: bool,
    /// Worker threads for hashing (`None`: one per core).
    pub threads: Option<usize>,
    /// Limits on the signature file and the walk.
    pub limits: AttestLimits,
}

/// The verdict on a model.
#[derive(Debug, Clone)]
pub struct ModelReport {
    /// The key used.
    pub key: KeyInfo,
    /// Model name as signed (informative).
    pub model_name: Option<String>,
    /// Root digest as signed (hex SHA-256).
    pub root_digest: Option<String>,
    /// How the manifest was made, once the signature verified.
    pub serialization: Option<Serialization>,
    /// Files covered by the signature.
    pub files_signed: usize,
    /// Everything that failed; empty means verified.
    pub failures: Vec<Failure>,
    /// Unsigned files tolerated by the policy (still listed).
    pub allowed_unsigned: Vec<ExtraFile>,
    /// Quirks accepted and other remarks.
    pub notes: Vec<String>,
}

impl ModelReport {
    /// Whether the model verified.
    pub fn verified(&self) -> bool {
        self.failures.is_empty()
    }
}

/// Verifies the model at `model` (a directory or a single file) against the model-signing
/// bundle at `signature`, with `key` and `policy`.
pub fn verify_model(
    model: &Path,
    signature: &Path,
    key: &PublicKey,
    policy: &Policy,
    options: &VerifyModelOptions,
) -> Result<ModelReport, AttestError> {
    let limits = &options.limits;
    let doc = read_document(signature, limits)?;
    let mut report = ModelReport {
        key: KeyInfo {
            key_type: key.key_type(),
            hint: key.hint(),
        },
        model_name: None,
        root_digest: None,
        serialization: None,
        files_signed: 0,
        failures: Vec::new(),
        allowed_unsigned: Vec::new(),
        notes: Vec::new(),
    };
    report.failures = check_key(&doc, key, policy, &mut report.notes);
    if !report.failures.is_empty() {
        // The payload is not trusted: nothing in it is read.
        return Ok(report);
    }
    let statement = verified_statement(&doc, signature)?;
    if !policy.predicate_allowed(&statement.predicate_type) {
        report.failures.push(Failure::PredicateType {
            found: statement.predicate_type.clone(),
            allowed: policy.required_predicate_types.clone(),
        });
    }
    if statement.predicate_type != MODEL_SIGNING_PREDICATE_TYPE
        && !statement
            .predicate_type
            .starts_with("https://model_signing/")
    {
        return Err(DocumentError::new(
            signature,
            FormatError::Predicate(format!(
                "this is a `{}` attestation, not a model signature; check it with `modelgate \
                 verify attestation`",
                statement.predicate_type
            )),
        )
        .into());
    }
    let signed = manifest_from_statement(&statement, limits)
        .map_err(|e| DocumentError::new(signature, e))?;
    report.notes.extend(signed.notes.iter().cloned());
    report.model_name = Some(signed.manifest.model_name.clone());
    report.root_digest = Some(signed.signed_root.clone());
    report.serialization = Some(signed.manifest.serialization.clone());
    report.files_signed = signed.manifest.file_count();
    if !signed.root_matches() {
        report.failures.push(Failure::RootDigest {
            signed: signed.signed_root.clone(),
            computed: signed.computed_root.clone(),
        });
        return Ok(report);
    }
    let ser = &signed.manifest.serialization;
    if !ser.hash.at_least(policy.min_hash_algorithm) {
        report.failures.push(Failure::WeakHash {
            what: "the manifest".into(),
            algorithm: ser.hash,
            minimum: policy.min_hash_algorithm,
        });
    }
    let mut ignore_paths = ser.ignore_paths.clone();
    ignore_paths.extend(options.extra_ignore_paths.iter().cloned());
    if let Some(rel) = path_inside(model, signature) {
        ignore_paths.push(rel);
    }
    let hash_options = HashOptions {
        algorithm: ser.hash,
        shard_size: match ser.method {
            Method::Files => None,
            Method::Shards { shard_size } => Some(shard_size),
        },
        allow_symlinks: ser.allow_symlinks,
        ignore_paths,
        ignore_git_paths: options.ignore_git_paths,
        threads: options.threads,
        limits: limits.clone(),
    };
    let actual = match hash_model(model, &hash_options) {
        Ok(m) => m,
        Err(e) if matches!(e.kind, HashErrorKind::Symlink) => {
            let rel = e.path.strip_prefix(model).unwrap_or(&e.path);
            report.failures.push(Failure::Symlink {
                path: rel.display().to_string(),
            });
            return Ok(report);
        }
        Err(e) => return Err(e.into()),
    };
    let d = diff(&signed.manifest, &actual);
    report
        .failures
        .extend(d.changed.into_iter().map(Failure::Changed));
    report
        .failures
        .extend(d.missing.into_iter().map(Failure::Missing));
    for extra in d.extra {
        if policy.allow_unsigned_files {
            report.allowed_unsigned.push(extra);
        } else {
            report.failures.push(Failure::Unsigned(extra));
        }
    }
    Ok(report)
}

/// How one subject file fared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectCheck {
    /// The file as given.
    pub path: String,
    /// Its SHA-256 (hex).
    pub sha256: String,
    /// The statement subject it matched (its name, or `""` when unnamed) and the algorithm.
    pub matched: Option<(String, HashAlgorithm)>,
}

/// The verdict on an attestation.
#[derive(Debug, Clone)]
pub struct AttestationReport {
    /// `bundle` or `envelope`.
    pub container: &'static str,
    /// The key used.
    pub key: KeyInfo,
    /// The statement, once its signature verified.
    pub statement: Option<Statement>,
    /// Each subject file.
    pub subjects: Vec<SubjectCheck>,
    /// Everything that failed; empty means verified.
    pub failures: Vec<Failure>,
    /// Remarks.
    pub notes: Vec<String>,
}

impl AttestationReport {
    /// Whether the attestation verified for every subject.
    pub fn verified(&self) -> bool {
        self.failures.is_empty()
    }
}

/// Verifies the envelope or bundle at `document` with `key` and `policy`, and checks that every
/// file in `subjects` is a subject of the statement (by digest).
pub fn verify_attestation(
    document: &Path,
    subjects: &[PathBuf],
    key: &PublicKey,
    policy: &Policy,
    limits: &AttestLimits,
) -> Result<AttestationReport, AttestError> {
    let doc = read_document(document, limits)?;
    let mut report = AttestationReport {
        container: match doc {
            SignedDocument::Bundle(_) => "bundle",
            SignedDocument::Envelope(_) => "envelope",
        },
        key: KeyInfo {
            key_type: key.key_type(),
            hint: key.hint(),
        },
        statement: None,
        subjects: Vec::new(),
        failures: Vec::new(),
        notes: Vec::new(),
    };
    report.failures = check_key(&doc, key, policy, &mut report.notes);
    if !report.failures.is_empty() {
        return Ok(report);
    }
    let statement = verified_statement(&doc, document)?;
    if !policy.predicate_allowed(&statement.predicate_type) {
        report.failures.push(Failure::PredicateType {
            found: statement.predicate_type.clone(),
            allowed: policy.required_predicate_types.clone(),
        });
    }
    // Algorithms the statement uses that we can compute; SHA-256 always (for the report).
    let mut algorithms: BTreeSet<HashAlgorithm> = BTreeSet::from([HashAlgorithm::Sha256]);
    let mut unknown: BTreeSet<&str> = BTreeSet::new();
    for s in &statement.subject {
        for name in s.digest.keys() {
            match HashAlgorithm::from_name(name).filter(|_| name != "blake2") {
                Some(a) => {
                    algorithms.insert(a);
                }
                None => {
                    unknown.insert(name);
                }
            }
        }
    }
    if !unknown.is_empty() {
        report.notes.push(format!(
            "subject digests under {} are not computed by modelgate and cannot match",
            unknown.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }
    let algorithms: Vec<HashAlgorithm> = algorithms.into_iter().collect();
    let digests = subjects
        .par_iter()
        .map(|p| digest_file(p, &algorithms))
        .collect::<Result<Vec<_>, _>>()?;
    for (path, digests) in subjects.iter().zip(digests) {
        let by_alg: BTreeMap<HashAlgorithm, String> = algorithms
            .iter()
            .copied()
            .zip(digests.iter().map(|d| to_hex(d)))
            .collect();
        let sha256 = by_alg
            .get(&HashAlgorithm::Sha256)
            .cloned()
            .unwrap_or_default();
        let mut strong = None;
        let mut weak = None;
        for s in &statement.subject {
            for (name, value) in &s.digest {
                let Some(alg) = HashAlgorithm::from_name(name) else {
                    continue;
                };
                if by_alg
                    .get(&alg)
                    .is_some_and(|d| d.eq_ignore_ascii_case(value))
                {
                    let hit = (s.name.clone().unwrap_or_default(), alg);
                    if alg.at_least(policy.min_hash_algorithm) {
                        strong.get_or_insert(hit);
                    } else {
                        weak.get_or_insert(hit);
                    }
                }
            }
        }
        let shown = path.display().to_string();
        match (&strong, weak) {
            (Some(_), _) => {}
            (None, Some((_, alg))) => report.failures.push(Failure::WeakHash {
                what: format!("{shown}'s only matching subject digest"),
                algorithm: alg,
                minimum: policy.min_hash_algorithm,
            }),
            (None, None) => report.failures.push(Failure::SubjectDigest {
                path: shown.clone(),
                sha256: sha256.clone(),
            }),
        }
        report.subjects.push(SubjectCheck {
            path: shown,
            sha256,
            matched: strong,
        });
    }
    report.statement = Some(statement);
    Ok(report)
}
