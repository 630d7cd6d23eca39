//! Producing signatures: a model directory into a model-signing bundle, and any files into a
//! signed in-toto statement.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::algorithm::{HashAlgorithm, to_hex};
use crate::bundle::Bundle;
use crate::dsse::Envelope;
use crate::error::{AttestError, DocumentError, FormatError};
use crate::hashing::{HashOptions, digest_file, hash_model};
use crate::manifest::Manifest;
use crate::model_signing::statement_for_manifest;
use crate::signer::Signer;
use crate::statement::{IN_TOTO_PAYLOAD_TYPE, Statement, Subject};

/// Where `file` sits inside the directory `model`, as a `/`-separated relative path, or `None`
/// when it is outside (or `model` is not a directory). The file need not exist yet; a symbolic
/// link is placed where the link is, not where it points.
pub fn path_inside(model: &Path, file: &Path) -> Option<String> {
    let root = fs::canonicalize(model).ok().filter(|p| p.is_dir())?;
    let parent = match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let abs = fs::canonicalize(parent).ok()?.join(file.file_name()?);
    let rel = abs.strip_prefix(&root).ok()?;
    let parts: Option<Vec<&str>> = rel.components().map(|c| c.as_os_str().to_str()).collect();
    let joined = parts?.join("/");
    (!joined.is_empty()).then_some(joined)
}

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename, so a
/// reader never sees half a signature.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), AttestError> {
    let err = |source| AttestError::Write {
        path: path.to_owned(),
        source,
    };
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(format!(".tmp-{}", std::process::id()));
    let tmp = PathBuf::from(tmp_name);
    let result = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .and_then(|mut f| f.write_all(bytes).and_then(|()| f.sync_all()))
        .and_then(|()| fs::rename(&tmp, path));
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(err)
}

/// The outcome of signing a model.
#[derive(Debug, Clone)]
pub struct SignedModel {
    /// What was signed.
    pub manifest: Manifest,
    /// The bundle written.
    pub bundle: Bundle,
}

/// Hashes the model at `model` and writes a model-signing v1.0 bundle to `signature`. When the
/// signature file lies inside the model directory it is ignored (and recorded as ignored), as
/// model signing does.
pub fn sign_model(
    model: &Path,
    signature: &Path,
    signer: &dyn Signer,
    options: &HashOptions,
) -> Result<SignedModel, AttestError> {
    let mut options = options.clone();
    if let Some(rel) = path_inside(model, signature) {
        options.ignore_paths.push(rel);
    }
    let manifest = hash_model(model, &options)?;
    let statement = statement_for_manifest(&manifest);
    let mut envelope = Envelope::sign(IN_TOTO_PAYLOAD_TYPE, statement.to_json(), signer)?;
    // Model signing writes an empty keyid (the bundle's hint names the key); do the same so the
    // bundle has exactly its shape. The keyid is not signed, so this changes nothing verified.
    for s in &mut envelope.signatures {
        s.keyid = Some(String::new());
    }
    let bundle = Bundle::new(envelope, &signer.verification_material());
    write_atomic(signature, bundle.to_json().as_bytes())?;
    Ok(SignedModel { manifest, bundle })
}

/// Builds and signs an in-toto statement over `subjects` (files, each named as given and
/// digested with SHA-256) with `predicate_type` and `predicate` (a JSON object).
pub fn attest_files(
    subjects: &[PathBuf],
    predicate_type: &str,
    predicate: serde_json::Value,
    signer: &dyn Signer,
) -> Result<(Statement, Envelope), AttestError> {
    if !predicate.is_object() {
        return Err(AttestError::Document(DocumentError::new(
            "predicate",
            FormatError::Statement("the predicate must be a JSON object".into()),
        )));
    }
    let mut subject = Vec::with_capacity(subjects.len());
    for path in subjects {
        let digests = digest_file(path, &[HashAlgorithm::Sha256])?;
        let mut digest = BTreeMap::new();
        digest.insert("sha256".to_owned(), to_hex(&digests[0]));
        subject.push(Subject {
            name: Some(path.to_string_lossy().into_owned()),
            digest,
        });
    }
    let statement = Statement::new(subject, predicate_type, predicate);
    let envelope = Envelope::sign(IN_TOTO_PAYLOAD_TYPE, statement.to_json(), signer)?;
    Ok((statement, envelope))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_inside_handles_new_files_and_outside_paths() {
        let dir = tempfile::tempdir().unwrap();
        let model = dir.path().join("m");
        fs::create_dir_all(model.join("sub")).unwrap();
        assert_eq!(
            path_inside(&model, &model.join("model.sig")).as_deref(),
            Some("model.sig")
        );
        assert_eq!(
            path_inside(&model, &model.join("sub/s.sig")).as_deref(),
            Some("sub/s.sig")
        );
        assert_eq!(path_inside(&model, &dir.path().join("out.sig")), None);
        assert_eq!(
            path_inside(&model.join("sub/../"), &model.join("x")).as_deref(),
            Some("x")
        );
        assert_eq!(
            path_inside(&dir.path().join("missing"), &model.join("x")),
            None
        );
    }

    #[test]
    fn write_atomic_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
        assert!(write_atomic(&dir.path().join("no/such/dir"), b"x").is_err());
    }
}
