//! Errors about signed documents (bundles, envelopes, statements, predicates, policies) and the
//! error of a whole sign or verify operation. Each names the file and the problem; none of them
//! is a verification *failure* — those are [`crate::Failure`]s in a report.

use std::path::PathBuf;

use crate::hashing::HashError;
use crate::keys::KeyFileError;
use crate::limits::ReadError;

/// What is wrong with a signature, envelope, predicate or policy document.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// Not JSON, or JSON of the wrong shape (serde names the missing or unknown field, with line
    /// and column).
    #[error("{0}")]
    Json(#[from] serde_json::Error),
    /// Too big, or unreadable.
    #[error("{0}")]
    Read(#[from] ReadError),
    /// A base64 field that does not decode.
    #[error("field `{0}` is not valid base64")]
    Base64(&'static str),
    /// A bundle media type other than v0.3.
    #[error(
        "unsupported Sigstore bundle media type `{0}` (expected \
         application/vnd.dev.sigstore.bundle.v0.3+json)"
    )]
    MediaType(String),
    /// A well-formed construct modelgate does not handle (yet).
    #[error("{0} is not supported")]
    Unsupported(String),
    /// A required piece is absent.
    #[error("{0}")]
    Missing(String),
    /// The envelope has no signature at all.
    #[error("the DSSE envelope has no signatures")]
    NoSignatures,
    /// The envelope carries something other than an in-toto statement.
    #[error("payload type is `{found}`, expected `{expected}`")]
    PayloadType {
        /// What the envelope says.
        found: String,
        /// What we need.
        expected: &'static str,
    },
    /// The payload is not an in-toto Statement v1.
    #[error("the payload is not an in-toto Statement v1: {0}")]
    Statement(String),
    /// The statement is not an OpenSSF model signature, or its predicate is inconsistent.
    #[error("not a valid model-signing v1.0 signature: {0}")]
    Predicate(String),
    /// A policy value that makes no sense.
    #[error("invalid policy: {0}")]
    Policy(String),
    /// Neither a bundle nor an envelope.
    #[error(
        "neither a Sigstore bundle (with `mediaType`) nor a DSSE envelope (with `payloadType`)"
    )]
    UnknownDocument,
}

/// A document error about a named file.
#[derive(Debug, thiserror::Error)]
#[error("{}: {kind}", path.display())]
pub struct DocumentError {
    /// The file.
    pub path: PathBuf,
    /// What is wrong with it.
    pub kind: FormatError,
}

impl DocumentError {
    /// Attaches a path to a format error.
    pub fn new(path: impl Into<PathBuf>, kind: impl Into<FormatError>) -> Self {
        DocumentError {
            path: path.into(),
            kind: kind.into(),
        }
    }
}

/// Why a sign or verify operation could not reach a verdict (exit code 2 on the command line).
#[derive(Debug, thiserror::Error)]
pub enum AttestError {
    /// A key file problem.
    #[error(transparent)]
    Key(#[from] KeyFileError),
    /// A signature, predicate or policy file problem.
    #[error(transparent)]
    Document(#[from] DocumentError),
    /// Walking or hashing the model or a subject failed.
    #[error(transparent)]
    Hash(#[from] HashError),
    /// Signing failed.
    #[error("signing failed: {0}")]
    Sign(#[from] crate::signer::SignError),
    /// Writing an output file failed.
    #[error("{}: cannot write: {source}", path.display())]
    Write {
        /// The output file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}
