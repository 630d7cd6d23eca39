//! The modelgate evaluation runner.
//!
//! A run reads a strict YAML spec (or the same settings as flags), pins its dataset by digest
//! before any model call, asks a model provider for completions with bounded concurrency and
//! retries, runs tool calls in the modelgate sandbox, scores every sample, appends each
//! sample's record to a hash chain in the store, and at the end writes one JSON log which it
//! signs, together with an in-toto statement carrying SLSA provenance.
//!
//! Nothing in a spec, a dataset or a model reply is ever executed on the host: tools run in the
//! sandbox, regexes are linear-time, and templates are plain substitutions.

pub mod dataset;
pub mod log;
pub mod message;
pub mod provenance;
pub mod provider;
pub mod record;
pub mod runner;
pub mod sample;
pub mod scorer;
pub mod solver;
pub mod spec;
pub mod stub_server;
pub mod summary;
pub mod verify;

pub use message::{Message, Role, ToolCall, ToolDef};
pub use provider::{Generation, Provider, ProviderError, ProviderOptions};
pub use sample::{Input, Sample};
pub use scorer::{Score, Scorer};
pub use solver::{SolverStep, TaskState};

/// A boxed future, for object-safe async traits.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;
