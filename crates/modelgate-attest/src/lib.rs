//! Artifact identity for modelgate: what a model directory, an evaluation log or a scan report
//! *is* (a manifest of digests), who vouches for it (a signature over an in-toto statement in a
//! DSSE envelope, optionally in a Sigstore bundle), and whether it still is (verification that
//! names every file that changed, went missing or appeared, and every rule that failed).
//!
//! Formats are the ecosystem's own, so other tools check what modelgate signs and the reverse:
//!
//! - **OpenSSF model signing v1.0** ([`model_signing`]): manifests in canonical order
//!   ([`manifest`]), file or sharded serialization, SHA-256/BLAKE2b/BLAKE3, the root digest,
//!   and the Sigstore bundle v0.3 with a public-key hint ([`bundle`]) that `model_signing sign
//!   key` writes and `model_signing verify key` reads.
//! - **DSSE** ([`dsse`]) and **in-toto Statement v1** ([`statement`]) for any subject files, as
//!   securesystemslib and sigstore-python write them; **SLSA Provenance v1** ([`slsa`]).
//! - **Keys** ([`keys`]): ECDSA P-256, P-384 and Ed25519; PKCS#8 private and SPKI public PEM.
//! - **Policies** ([`policy`]) as data: allowed keys, predicate types, unsigned files, minimum
//!   hash algorithm; every failure names its [`Rule`].
//! - **ML-BOMs** ([`cyclonedx`]): CycloneDX 1.6 JSON of a model directory, its files, model
//!   card and verified evaluation metrics.
//! - **Signers** ([`signer`]): a trait, so keyless Sigstore signing can be added when a network
//!   is available; key signing today.
//!
//! Hashing runs on the rayon pool, one fixed buffer per worker, so memory does not grow with
//! model size. This crate does I/O (it reads models and signature files) but never prints.
//!
//! ```
//! use modelgate_attest::{
//!     HashOptions, KeySigner, KeyType, Policy, PrivateKey, VerifyModelOptions, sign_model,
//!     verify_model,
//! };
//!
//! let dir = tempfile::tempdir()?;
//! let model = dir.path().join("model");
//! std::fs::create_dir(&model)?;
//! std::fs::write(model.join("weights.safetensors"), b"tensor bytes")?;
//! let signature = model.join("model.sig");
//!
//! let signer = KeySigner::new(PrivateKey::generate(KeyType::EcdsaP256));
//! sign_model(&model, &signature, &signer, &HashOptions::default())?;
//!
//! let key = signer.public_key();
//! let report = verify_model(&model, &signature, key, &Policy::default(), &VerifyModelOptions::default())?;
//! assert!(report.verified());
//!
//! std::fs::write(model.join("weights.safetensors"), b"tampered")?;
//! let report = verify_model(&model, &signature, key, &Policy::default(), &VerifyModelOptions::default())?;
//! assert_eq!(report.failures[0].rule().as_str(), "changed-file");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]

pub mod algorithm;
pub mod bundle;
pub mod cyclonedx;
pub mod dsse;
mod error;
pub mod hashing;
pub mod keys;
pub mod limits;
pub mod manifest;
pub mod model_signing;
pub mod policy;
mod sign;
pub mod signer;
pub mod slsa;
pub mod statement;
mod verify;

pub use algorithm::HashAlgorithm;
pub use bundle::{BUNDLE_MEDIA_TYPE, Bundle, SignedDocument};
pub use cyclonedx::{
    Bom, Evaluation, Metric, ModelBom, SbomError, SbomLimits, SbomOptions, build_model_bom,
};
pub use dsse::{Envelope, EnvelopeSignature, pae};
pub use error::{AttestError, DocumentError, FormatError};
pub use hashing::{
    DEFAULT_SHARD_SIZE, GIT_PATHS, HashError, HashErrorKind, HashOptions, hash_model,
};
pub use keys::{
    KeyError, KeyFileError, KeyPairPaths, KeyType, PrivateKey, PublicKey, write_key_pair,
};
pub use limits::AttestLimits;
pub use manifest::{Manifest, ManifestDiff, Method, RelPath, Resource, ResourceKey, Serialization};
pub use model_signing::{MODEL_SIGNING_PREDICATE_TYPE, statement_for_manifest};
pub use policy::{Policy, Rule};
pub use sign::{SignedModel, attest_files, path_inside, sign_model, write_atomic};
pub use signer::{KeySigner, SignError, Signer, VerificationMaterial};
pub use statement::{IN_TOTO_PAYLOAD_TYPE, STATEMENT_TYPE, Statement, Subject};
pub use verify::{
    AttestationReport, Failure, KeyInfo, ModelReport, SubjectCheck, VerifyModelOptions,
    verify_attestation, verify_model,
};
