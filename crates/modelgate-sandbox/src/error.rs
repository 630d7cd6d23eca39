//! Typed errors. Each names what failed and where (file, line, field, setup step, path).

use std::fmt;
use std::io;
use std::path::PathBuf;

/// A policy document that cannot be used: names the file, line, column and field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct PolicyError {
    /// The policy file, when read from one.
    pub path: Option<PathBuf>,
    /// 1-based line of the offending field, when known.
    pub line: Option<u64>,
    /// 1-based column, when known.
    pub column: Option<u64>,
    /// The field (`limits.memory`) or unknown key (`memroy`), when known.
    pub field: Option<String>,
    /// What is wrong and what is accepted.
    pub message: String,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let origin = self
            .path
            .as_ref()
            .map_or_else(|| "policy".to_owned(), |p| p.display().to_string());
        write!(f, "{origin}")?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(col) = self.column {
                write!(f, ":{col}")?;
            }
        }
        if let Some(field) = &self.field {
            write!(f, ": field `{field}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Why a sandbox could not be created or a command could not be run in it.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The policy file is malformed.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// The host lacks isolation features the policy requires. Nothing was run.
    #[error(
        "refusing to run: this host lacks what the policy requires: {}. Run `modelgate sandbox doctor` for details; \
         running with less isolation needs --allow-degraded",
        missing.join("; ")
    )]
    Unsupported {
        /// One entry per missing feature.
        missing: Vec<String>,
    },
    /// A step of building the sandbox failed.
    #[error("sandbox setup failed at {step}")]
    Setup {
        /// The step, e.g. `bind /usr -> /usr` or `write uid_map`.
        step: String,
        /// The system error.
        #[source]
        source: io::Error,
    },
    /// The command could not be started inside the sandbox.
    #[error("cannot start `{program}` in the sandbox ({step})")]
    Spawn {
        /// The program (`argv[0]`).
        program: String,
        /// The step that failed.
        step: String,
        /// The system error.
        #[source]
        source: io::Error,
    },
    /// A workspace file operation was refused or failed.
    #[error("workspace path `{path}`: {message}")]
    Workspace {
        /// Path relative to `/workspace`.
        path: PathBuf,
        /// What happened.
        message: String,
    },
    /// The sandbox has been torn down or a previous failure left it unusable.
    #[error("the sandbox is no longer usable: {0}")]
    Defunct(String),
    /// The OCI runtime backend failed or is unavailable.
    #[error("OCI backend: {0}")]
    Oci(String),
    /// Any other I/O failure, with what was being done.
    #[error("{context}")]
    Io {
        /// What the supervisor was doing.
        context: String,
        /// The system error.
        #[source]
        source: io::Error,
    },
}

impl SandboxError {
    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(io::Error) -> Self {
        let context = context.into();
        move |source| Self::Io { context, source }
    }

    pub(crate) fn setup(step: impl Into<String>) -> impl FnOnce(io::Error) -> Self {
        let step = step.into();
        move |source| Self::Setup { step, source }
    }
}
