//! The OpenSSF model-signing v1.0 predicate (`https://model_signing/signature/v1.0`), as written
//! and read by the `model-signing` package 1.x.
//!
//! The statement has one subject: the model's name and the SHA-256 over every resource digest
//! in order (the *root digest*). The predicate records how the manifest was made
//! (`serialization`: method, hash type, symlinks, ignored paths, shard size) and every resource
//! (`name`, `algorithm`, hex `digest`).
//!
//! Reading accepts what model signing 1.1 writes even where model signing itself cannot read it
//! back, when doing so is safe: `shard_size` written as a float (`1000000000.0`, on which its own
//! verifier raises `TypeError`) and BLAKE2 manifests (whose `hash_type` `blake2b` its
//! configuration does not know). Everything else is strict: unknown
//! serialization parameters, inconsistent algorithms, bad hex, duplicate or escaping names are
//! errors.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::json;

use crate::algorithm::{HashAlgorithm, from_hex, to_hex};
use crate::error::FormatError;
use crate::limits::AttestLimits;
use crate::manifest::{Manifest, Method, Resource, ResourceKey, Serialization, root_digest};
use crate::statement::{Statement, Subject};

/// Predicate type of model-signing v1.0 signatures.
pub const MODEL_SIGNING_PREDICATE_TYPE: &str = "https://model_signing/signature/v1.0";
/// Predicate type of the pre-1.0 (v0.2) format, recognised only to be refused clearly.
const COMPAT_PREDICATE_TYPE: &str = "https://model_signing/Digests/v0.1";

/// The statement model signing signs for `manifest`.
pub fn statement_for_manifest(manifest: &Manifest) -> Statement {
    let s = &manifest.serialization;
    let mut serialization = serde_json::Map::new();
    serialization.insert(
        "method".into(),
        json!(match s.method {
            Method::Files => "files",
            Method::Shards { .. } => "shards",
        }),
    );
    serialization.insert("hash_type".into(), json!(s.hash.as_str()));
    serialization.insert("allow_symlinks".into(), json!(s.allow_symlinks));
    if let Method::Shards { shard_size } = s.method {
        // An integer, so model signing's own verifier derives the right algorithm name.
        serialization.insert("shard_size".into(), json!(shard_size));
    }
    if !s.ignore_paths.is_empty() {
        serialization.insert("ignore_paths".into(), json!(s.ignore_paths));
    }
    let algorithm = s.resource_algorithm();
    let resources: Vec<serde_json::Value> = manifest
        .resources()
        .iter()
        .map(|r| {
            json!({
                "name": r.key.to_string(),
                "algorithm": algorithm,
                "digest": to_hex(&r.digest),
            })
        })
        .collect();
    let mut digest = BTreeMap::new();
    digest.insert("sha256".to_owned(), to_hex(&manifest.root_digest()));
    Statement::new(
        vec![Subject {
            name: Some(manifest.model_name.clone()),
            digest,
        }],
        MODEL_SIGNING_PREDICATE_TYPE,
        json!({ "serialization": serialization, "resources": resources }),
    )
}

/// A manifest read back from a signed statement.
#[derive(Debug, Clone)]
pub struct SignedManifest {
    /// The manifest as signed (resources in canonical order).
    pub manifest: Manifest,
    /// The subject digest as signed (hex).
    pub signed_root: String,
    /// SHA-256 over the listed resource digests, in the order listed (hex).
    pub computed_root: String,
    /// Format quirks that were accepted, for the report.
    pub notes: Vec<String>,
}

impl SignedManifest {
    /// Whether the subject digest matches the resources.
    pub fn root_matches(&self) -> bool {
        self.signed_root.eq_ignore_ascii_case(&self.computed_root)
    }
}

#[derive(Deserialize)]
struct RawPredicate {
    serialization: RawSerialization,
    resources: Vec<RawResource>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSerialization {
    method: String,
    hash_type: String,
    allow_symlinks: bool,
    #[serde(default)]
    shard_size: Option<serde_json::Number>,
    #[serde(default)]
    ignore_paths: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawResource {
    name: String,
    algorithm: String,
    digest: String,
}

fn bad(msg: impl Into<String>) -> FormatError {
    FormatError::Predicate(msg.into())
}

fn shard_size(n: &serde_json::Number, notes: &mut Vec<String>) -> Result<u64, FormatError> {
    // Model signing stores the predicate in a protobuf Struct, whose numbers are doubles, so
    // it writes `1000000000.0`. Accept integral values that a double represents exactly.
    const MAX_EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    if let Some(v) = n.as_u64() {
        return Ok(v);
    }
    match n.as_f64() {
        Some(f) if f.fract() == 0.0 && (1.0..=MAX_EXACT).contains(&f) => {
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // checked above
            let v = f as u64;
            notes.push(format!(
                "shard_size is written as the float {n} (as model_signing writes it); read as {v}"
            ));
            Ok(v)
        }
        _ => Err(bad(format!("`shard_size` {n} is not a positive integer"))),
    }
}

fn serialization(
    raw: RawSerialization,
    notes: &mut Vec<String>,
) -> Result<Serialization, FormatError> {
    let hash = match raw.hash_type.as_str() {
        "sha256" | "blake3" | "blake2b" | "blake2" => HashAlgorithm::from_name(&raw.hash_type),
        _ => None,
    }
    .ok_or_else(|| bad(format!("unsupported `hash_type` `{}`", raw.hash_type)))?;
    if hash == HashAlgorithm::Blake2b {
        notes.push(
            "BLAKE2b manifest: accepted, although model_signing 1.1 cannot verify the BLAKE2 \
             signatures it writes"
                .into(),
        );
    }
    let method = match (raw.method.as_str(), &raw.shard_size) {
        ("files", None) => Method::Files,
        ("files", Some(_)) => return Err(bad("`shard_size` is set for method `files`")),
        ("shards", Some(n)) => {
            let shard_size = shard_size(n, notes)?;
            if shard_size == 0 {
                return Err(bad("`shard_size` is 0"));
            }
            Method::Shards { shard_size }
        }
        ("shards", None) => return Err(bad("method `shards` without `shard_size`")),
        (other, _) => return Err(bad(format!("unknown serialization method `{other}`"))),
    };
    Ok(Serialization {
        method,
        hash,
        allow_symlinks: raw.allow_symlinks,
        ignore_paths: raw.ignore_paths.unwrap_or_default(),
    })
}

/// Reads the manifest out of a model-signing statement. The root digest is recomputed but not
/// judged here: [`SignedManifest::root_matches`] tells.
pub fn manifest_from_statement(
    statement: &Statement,
    limits: &AttestLimits,
) -> Result<SignedManifest, FormatError> {
    if statement.predicate_type == COMPAT_PREDICATE_TYPE {
        return Err(FormatError::Unsupported(
            "the pre-1.0 model-signing format (predicate https://model_signing/Digests/v0.1); \
             re-sign with model-signing 1.x or modelgate"
                .into(),
        ));
    }
    if statement.predicate_type != MODEL_SIGNING_PREDICATE_TYPE {
        return Err(bad(format!(
            "predicate type is `{}`, expected `{MODEL_SIGNING_PREDICATE_TYPE}`",
            statement.predicate_type
        )));
    }
    let [subject] = statement.subject.as_slice() else {
        return Err(bad(format!(
            "expected exactly one subject, found {}",
            statement.subject.len()
        )));
    };
    let signed_root = subject
        .digest
        .get("sha256")
        .ok_or_else(|| bad("the subject has no sha256 digest"))?
        .clone();
    let predicate = statement
        .predicate
        .clone()
        .ok_or_else(|| bad("the statement has no predicate"))?;
    let raw: RawPredicate =
        serde_json::from_value(predicate).map_err(|e| bad(format!("predicate: {e}")))?;
    if raw.resources.len() > limits.max_resources {
        return Err(bad(format!(
            "{} resources, more than the limit of {}",
            raw.resources.len(),
            limits.max_resources
        )));
    }
    let mut notes = Vec::new();
    let serialization = serialization(raw.serialization, &mut notes)?;
    let expected_algorithm = serialization.resource_algorithm();
    let sharded = matches!(serialization.method, Method::Shards { .. });
    let mut resources = Vec::with_capacity(raw.resources.len());
    for r in raw.resources {
        let key = ResourceKey::parse(&r.name, sharded, limits.max_name_bytes)
            .map_err(|e| bad(format!("resource `{}`: {e}", r.name)))?;
        if r.algorithm != expected_algorithm {
            return Err(bad(format!(
                "resource `{}` has algorithm `{}`, but the serialization implies `{expected_algorithm}`",
                r.name, r.algorithm
            )));
        }
        let digest = from_hex(&r.digest)
            .filter(|d| d.len() == serialization.hash.output_len())
            .ok_or_else(|| {
                bad(format!(
                    "resource `{}` digest is not a {}-byte hex {} digest",
                    r.name,
                    serialization.hash.output_len(),
                    serialization.hash
                ))
            })?;
        resources.push(Resource { key, digest });
    }
    let computed_root = to_hex(&root_digest(resources.iter().map(|r| r.digest.as_slice())));
    let manifest = Manifest::new(
        subject.name.clone().unwrap_or_default(),
        serialization,
        resources,
    )
    .map_err(|e| bad(e.to_string()))?;
    Ok(SignedManifest {
        manifest,
        signed_root,
        computed_root,
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::RelPath;

    fn manifest(method: Method, hash: HashAlgorithm) -> Manifest {
        let key = |n: &str, i: u64| match method {
            Method::Files => ResourceKey::File(RelPath::parse(n).unwrap()),
            Method::Shards { shard_size } => ResourceKey::Shard {
                path: RelPath::parse(n).unwrap(),
                start: i * shard_size,
                end: (i + 1) * shard_size,
            },
        };
        Manifest::new(
            "model".into(),
            Serialization {
                method,
                hash,
                allow_symlinks: false,
                ignore_paths: vec![".git".into(), "model.sig".into()],
            },
            vec![
                Resource {
                    key: key("b", 0),
                    digest: vec![2; hash.output_len()],
                },
                Resource {
                    key: key("a", 0),
                    digest: vec![1; hash.output_len()],
                },
            ],
        )
        .unwrap()
    }

    #[test]
    fn round_trips_every_serialization() {
        for (method, hash) in [
            (Method::Files, HashAlgorithm::Sha256),
            (Method::Files, HashAlgorithm::Blake2b),
            (Method::Files, HashAlgorithm::Blake3),
            (Method::Shards { shard_size: 10 }, HashAlgorithm::Sha256),
        ] {
            let m = manifest(method, hash);
            let st = statement_for_manifest(&m);
            let back = manifest_from_statement(&st, &AttestLimits::default()).unwrap();
            assert_eq!(back.manifest, m);
            assert!(back.root_matches());
        }
    }

    #[test]
    fn accepts_float_shard_size_as_model_signing_writes_it() {
        let m = manifest(Method::Shards { shard_size: 10 }, HashAlgorithm::Sha256);
        let mut st = statement_for_manifest(&m);
        st.predicate.as_mut().unwrap()["serialization"]["shard_size"] = json!(10.0);
        let back = manifest_from_statement(&st, &AttestLimits::default()).unwrap();
        assert_eq!(back.manifest, m);
        assert_eq!(back.notes.len(), 1);
        st.predicate.as_mut().unwrap()["serialization"]["shard_size"] = json!(10.5);
        assert!(manifest_from_statement(&st, &AttestLimits::default()).is_err());
    }

    #[test]
    fn refuses_inconsistent_predicates() {
        let limits = AttestLimits::default();
        let m = manifest(Method::Files, HashAlgorithm::Sha256);
        let edit = |f: &dyn Fn(&mut serde_json::Value)| {
            let mut st = statement_for_manifest(&m);
            f(st.predicate.as_mut().unwrap());
            manifest_from_statement(&st, &limits)
        };
        assert!(edit(&|p| p["resources"][0]["algorithm"] = json!("blake3")).is_err());
        assert!(edit(&|p| p["resources"][0]["digest"] = json!("abcd")).is_err());
        assert!(edit(&|p| p["resources"][0]["name"] = json!("../x")).is_err());
        assert!(edit(&|p| p["resources"][1]["name"] = json!("a")).is_err());
        assert!(edit(&|p| p["serialization"]["chunk_size"] = json!(1)).is_err());
        assert!(edit(&|p| p["serialization"]["hash_type"] = json!("md5")).is_err());
        assert!(edit(&|p| p["serialization"]["method"] = json!("tensors")).is_err());
        assert!(edit(&|p| p["serialization"]["method"] = json!("shards")).is_err());
        assert!(edit(&|p| p["resources"][0]["extra"] = json!(1)).is_err());
        // Unknown predicate fields are ignored, as v1.0 asks of verifiers.
        assert!(edit(&|p| p["model_card"] = json!({})).is_ok());
        // A root digest that disagrees is reported, not an error.
        let mut st = statement_for_manifest(&m);
        st.subject[0]
            .digest
            .insert("sha256".into(), "00".repeat(32));
        assert!(
            !manifest_from_statement(&st, &limits)
                .unwrap()
                .root_matches()
        );
        st.predicate_type = COMPAT_PREDICATE_TYPE.into();
        assert!(matches!(
            manifest_from_statement(&st, &limits),
            Err(FormatError::Unsupported(_))
        ));
    }
}
