//! Every command and flag, defined once; `--help` is derived from these definitions.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use modelgate_core::Severity;

/// modelgate: a zero-trust gate between ML artifacts arriving from anywhere and production.
#[derive(Debug, Parser)]
#[command(name = "modelgate", version, about, propagate_version = true)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

// The enum is parsed once per process; boxing the larger argument structs buys nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Statically scan model files and repositories without loading them.
    Scan(ScanArgs),
    /// Inspect pickle streams.
    #[command(subcommand)]
    Pickle(PickleCommand),
    /// List every scan rule with its code, default severity and what to do about it.
    Rules(RulesArgs),
    /// Run untrusted commands contained (namespaces, seccomp, landlock, cgroups; no network).
    #[command(subcommand)]
    Sandbox(SandboxCommand),
    /// Print the manifest of a file or directory: per-file digests in canonical order.
    Hash(HashArgs),
    /// Generate signing keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Sign a model directory (OpenSSF model-signing format, Sigstore bundle).
    #[command(subcommand)]
    Sign(SignCommand),
    /// Verify a model signature or an attestation.
    #[command(subcommand)]
    Verify(VerifyCommand),
    /// Sign an in-toto statement about files (eval logs, reports) into a DSSE envelope.
    Attest(AttestArgs),
    /// Dataset trust: scan for poisoning, vet into the registry, verify pinned datasets.
    #[command(subcommand)]
    Dataset(DatasetCommand),
    /// Run evaluations with pinned data and sandboxed tools, and verify their signed logs.
    #[command(subcommand)]
    Eval(EvalCommand),
    /// Write a CycloneDX 1.6 ML-BOM of a model: root digest, files, model card, metrics.
    #[command(disable_version_flag = true)]
    Sbom(SbomArgs),
    /// Re-hash a deployed model at an interval and alert (exit 1) when it no longer matches.
    Watch(WatchArgs),
    /// Copy an artifact into quarantine, hash and scan the copy, and register it.
    Intake(IntakeArgs),
    /// List registered artifacts or show one with its ledger history.
    #[command(subcommand)]
    Registry(RegistryCommand),
    /// Verify, export or checkpoint the evidence ledger.
    #[command(subcommand)]
    Ledger(LedgerCommand),
}

#[derive(Debug, Subcommand)]
pub(crate) enum DatasetCommand {
    /// Scan JSONL/CSV/TSV datasets for deceptive Unicode, duplicates, label flips, backdoor
    /// triggers, repeated outputs and prompt injection.
    Scan(DatasetScanArgs),
    /// Scan a dataset and, if it is clean, pin it (SHA-256) in the registry.
    Vet(DatasetVetArgs),
    /// Re-hash a registered dataset and refuse it if it is not what was vetted.
    Verify(DatasetVerifyArgs),
    /// List the vetted datasets in the registry.
    List(DatasetListArgs),
}

/// Options shared by `dataset scan` and `dataset vet`.
#[derive(Debug, Args)]
pub(crate) struct DatasetDetectArgs {
    /// Only scan these fields (top-level names or full paths such as `messages[1].content`),
    /// comma-separated.
    #[arg(long, value_name = "FIELD,...", value_delimiter = ',')]
    pub(crate) fields: Option<Vec<String>>,
    /// The field holding the output or label (default: output, response, completion, answer,
    /// label, … or the last assistant message).
    #[arg(long, value_name = "FIELD")]
    pub(crate) label_field: Option<String>,
    /// Exit 1 when any finding is at or above this severity.
    #[arg(long, value_name = "SEVERITY", default_value = "medium", value_parser = parse_severity)]
    pub(crate) fail_on: Severity,
    /// Largest dataset file read, in bytes.
    #[arg(long, value_name = "BYTES")]
    pub(crate) max_file_bytes: Option<u64>,
    /// Longest row (JSONL line or CSV record), in bytes.
    #[arg(long, value_name = "BYTES")]
    pub(crate) max_line_bytes: Option<usize>,
    /// Most rows read from one file.
    #[arg(long, value_name = "N")]
    pub(crate) max_rows: Option<u64>,
    /// Deepest JSON nesting within a row.
    #[arg(long, value_name = "N")]
    pub(crate) max_depth: Option<u32>,
    /// Most distinct n-grams kept in memory by the trigger detector.
    #[arg(long, value_name = "N")]
    pub(crate) max_ngrams: Option<usize>,
    /// Fewest rows a trigger, label class or repeated output must have.
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub(crate) min_support: u32,
}

#[derive(Debug, Args)]
pub(crate) struct DatasetScanArgs {
    /// Dataset files, or directories holding them.
    #[arg(required = true, value_name = "FILE")]
    pub(crate) paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    pub(crate) format: OutputFormat,
    /// Write the report to FILE instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) detect: DatasetDetectArgs,
}

#[derive(Debug, Args)]
pub(crate) struct DatasetVetArgs {
    /// The dataset file or directory.
    #[arg(value_name = "FILE")]
    pub(crate) file: PathBuf,
    /// The name to register it under.
    #[arg(long)]
    pub(crate) name: String,
    /// Its license (SPDX identifier or free text).
    #[arg(long)]
    pub(crate) license: String,
    /// Who vetted it.
    #[arg(long = "by", value_name = "WHO")]
    pub(crate) by: String,
    /// Where it came from (default: the path given).
    #[arg(long)]
    pub(crate) source: Option<String>,
    /// The upstream revision (commit, tag, version).
    #[arg(long)]
    pub(crate) revision: Option<String>,
    /// The registry file (default: `$MODELGATE_DATASET_REGISTRY`, else `./datasets.yaml`).
    #[arg(long, value_name = "FILE")]
    pub(crate) registry: Option<PathBuf>,
    /// Replace an entry of the same name.
    #[arg(long)]
    pub(crate) replace: bool,
    /// Also write an in-toto predicate describing the vetting (for `modelgate attest`).
    #[arg(long, value_name = "FILE")]
    pub(crate) predicate_out: Option<PathBuf>,
    /// Output format (`sarif` is refused).
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    pub(crate) format: OutputFormat,
    #[command(flatten)]
    pub(crate) detect: DatasetDetectArgs,
}

#[derive(Debug, Args)]
pub(crate) struct DatasetVerifyArgs {
    /// The registered name.
    pub(crate) name: String,
    /// Where the dataset is now (default: the path recorded when it was vetted).
    pub(crate) path: Option<PathBuf>,
    /// The registry file (default: `$MODELGATE_DATASET_REGISTRY`, else `./datasets.yaml`).
    #[arg(long, value_name = "FILE")]
    pub(crate) registry: Option<PathBuf>,
    /// Output format (`sarif` is refused).
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    pub(crate) format: OutputFormat,
}

#[derive(Debug, Args)]
pub(crate) struct DatasetListArgs {
    /// The registry file (default: `$MODELGATE_DATASET_REGISTRY`, else `./datasets.yaml`).
    #[arg(long, value_name = "FILE")]
    pub(crate) registry: Option<PathBuf>,
    /// Output format (`sarif` is refused).
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    pub(crate) format: OutputFormat,
}

#[derive(Debug, Subcommand)]
pub(crate) enum SandboxCommand {
    /// Run CMD contained; print its output and exit with its status (2 on a sandbox error).
    Exec(SandboxExecArgs),
    /// Show which isolation features this host offers and what the policy will use.
    Doctor(SandboxDoctorArgs),
}

/// Sandbox backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum SandboxBackend {
    /// Linux namespaces, seccomp, landlock and cgroups; no container engine needed.
    Native,
    /// A hardened `docker run`/`podman run` (gVisor's runsc when registered).
    Oci,
}

#[derive(Debug, Args)]
pub(crate) struct SandboxExecArgs {
    /// Policy file (YAML). Default: the built-in policy (`modelgate sandbox doctor` shows it).
    #[arg(long, value_name = "FILE")]
    pub(crate) policy: Option<PathBuf>,
    /// Host directory copied into /workspace before the run; regular files are copied back
    /// afterwards (links and special files never are).
    #[arg(long, value_name = "DIR")]
    pub(crate) workspace: Option<PathBuf>,
    /// Print the structured result (status, capped output, times, peak memory, events) as JSON.
    #[arg(long)]
    pub(crate) json: bool,
    /// Isolation backend.
    #[arg(long, value_enum, default_value_t = SandboxBackend::Native)]
    pub(crate) backend: SandboxBackend,
    /// Image for `--backend oci`.
    #[arg(long, value_name = "IMAGE", required_if_eq("backend", "oci"))]
    pub(crate) image: Option<String>,
    /// Run even when the host lacks isolation the policy requires. Warns loudly on every run.
    #[arg(long)]
    pub(crate) allow_degraded: bool,
    /// Wall-clock limit for this run, when shorter than the policy's (e.g. 10s, 500ms).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub(crate) timeout: Option<Duration>,
    /// The command and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "CMD")]
    pub(crate) command: Vec<OsString>,
}

#[derive(Debug, Args)]
pub(crate) struct SandboxDoctorArgs {
    /// Assess this policy file instead of the default policy.
    #[arg(long, value_name = "FILE")]
    pub(crate) policy: Option<PathBuf>,
    /// Print the findings as JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct RulesArgs {
    /// Output format (`sarif` is not meaningful here and is refused).
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    pub(crate) format: OutputFormat,
}

/// Output formats for reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum OutputFormat {
    /// Readable text, coloured on a terminal.
    Human,
    /// The versioned JSON report (docs/schemas/scan-report-v1.json).
    Json,
    /// SARIF 2.1.0, for code-scanning dashboards.
    Sarif,
}

#[derive(Debug, Args)]
pub(crate) struct ScanArgs {
    /// Files or directories to scan.
    #[arg(required = true, value_name = "PATH")]
    pub(crate) paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    pub(crate) format: OutputFormat,
    /// Exit 1 when any finding is at or above this severity.
    #[arg(long, value_name = "SEVERITY", default_value = "high", value_parser = parse_severity)]
    pub(crate) fail_on: Severity,
    /// Write the report to FILE instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,
    /// Show the opcode listing and a decompiled view of every pickle found, instead of a report.
    #[arg(long)]
    pub(crate) explain: bool,
    /// Never draw a progress bar (it is drawn only on a terminal anyway).
    #[arg(long)]
    pub(crate) no_progress: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum PickleCommand {
    /// Print the opcode listing and a decompiled pseudo-Python view of a pickle file.
    Disasm {
        /// The pickle file (raw pickle, or a torch/zip checkpoint: every pickle member is shown).
        file: PathBuf,
    },
}

/// Digest algorithms for manifests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ManifestAlgorithm {
    /// SHA-256 (the default, and what every verifier accepts).
    Sha256,
    /// BLAKE2b-512.
    Blake2b,
    /// BLAKE3 (faster per core; not shardable).
    Blake3,
}

/// How a manifest or verification result is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ResultFormat {
    /// Readable text.
    Human,
    /// JSON, for scripts.
    Json,
}

/// Options shared by `hash` and `sign model` that decide what the manifest covers.
#[derive(Debug, Args)]
pub(crate) struct ManifestArgs {
    /// Digest algorithm for each file (or shard).
    #[arg(long, value_enum, default_value_t = ManifestAlgorithm::Sha256)]
    pub(crate) algorithm: ManifestAlgorithm,
    /// Cut files into shards of 1 GB (model signing's sharded serialization).
    #[arg(long)]
    pub(crate) sharded: bool,
    /// Cut files into shards of BYTES (implies --sharded).
    #[arg(long, value_name = "BYTES", value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) shard_size: Option<u64>,
    /// Follow symbolic links to files (hash the target's bytes under the link's name).
    #[arg(long, alias = "allow_symlinks")]
    pub(crate) allow_symlinks: bool,
    /// Leave PATH out (a file, or a directory with everything below it); relative to the
    /// current directory, and must lie inside the model. Repeatable.
    #[arg(long = "ignore-paths", alias = "ignore", value_name = "PATH")]
    pub(crate) ignore_paths: Vec<PathBuf>,
    /// Include .git, .gitattributes, .github and .gitignore (left out by default).
    #[arg(long)]
    pub(crate) no_ignore_git_paths: bool,
    /// Hashing threads (default: one per core).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub(crate) threads: Option<u16>,
}

#[derive(Debug, Args)]
pub(crate) struct HashArgs {
    /// The model: a file or a directory.
    #[arg(value_name = "PATH")]
    pub(crate) path: PathBuf,
    #[command(flatten)]
    pub(crate) manifest: ManifestArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ResultFormat::Human)]
    pub(crate) format: ResultFormat,
}

/// Key types for `key generate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum KeyTypeArg {
    /// ECDSA over NIST P-256 with SHA-256 (model signing's default).
    EcdsaP256,
    /// ECDSA over NIST P-384 with SHA-384.
    EcdsaP384,
    /// Ed25519 (attestations; model signing's key mode accepts ECDSA only).
    Ed25519,
}

#[derive(Debug, Subcommand)]
pub(crate) enum KeyCommand {
    /// Write a new key pair: PREFIX.priv.pem (PKCS#8, mode 0600) and PREFIX.pub.pem (SPKI).
    Generate(KeyGenerateArgs),
}

#[derive(Debug, Args)]
pub(crate) struct KeyGenerateArgs {
    /// Key type.
    #[arg(long = "type", value_enum, default_value_t = KeyTypeArg::EcdsaP256)]
    pub(crate) key_type: KeyTypeArg,
    /// Path prefix of the two files written (never overwritten).
    #[arg(long, value_name = "PREFIX")]
    pub(crate) out: PathBuf,
}

#[derive(Debug, Subcommand)]
pub(crate) enum SignCommand {
    /// Sign a model (file or directory) into a Sigstore bundle that `model_signing verify key`
    /// also accepts.
    Model(SignModelArgs),
}

#[derive(Debug, Args)]
pub(crate) struct SignModelArgs {
    /// Private key (PKCS#8 or SEC1 PEM).
    #[arg(long, value_name = "PRIV.pem")]
    pub(crate) key: PathBuf,
    /// Where to write the signature (left out of the manifest when inside the model).
    #[arg(long, value_name = "SIG", default_value = "model.sig")]
    pub(crate) signature: PathBuf,
    /// The model: a directory or a single file.
    #[arg(value_name = "DIR")]
    pub(crate) model: PathBuf,
    #[command(flatten)]
    pub(crate) manifest: ManifestArgs,
}

#[derive(Debug, Subcommand)]
pub(crate) enum VerifyCommand {
    /// Verify a model against its signature: key, signature, then every file.
    Model(VerifyModelArgs),
    /// Verify a DSSE envelope or Sigstore bundle, and that each SUBJECT is one of its subjects.
    Attestation(VerifyAttestationArgs),
}

#[derive(Debug, Args)]
pub(crate) struct VerifyModelArgs {
    /// Public key (SPKI PEM).
    #[arg(long, value_name = "PUB.pem")]
    pub(crate) key: PathBuf,
    /// The signature (Sigstore bundle) to check.
    #[arg(long, value_name = "SIG")]
    pub(crate) signature: PathBuf,
    /// The model: a directory or a single file.
    #[arg(value_name = "DIR")]
    pub(crate) model: PathBuf,
    /// Tolerate files that the signature does not cover (they are still listed).
    #[arg(long, alias = "ignore-unsigned-files")]
    pub(crate) allow_unsigned_files: bool,
    /// Verification policy (JSON; see docs/attest.md).
    #[arg(long, value_name = "FILE")]
    pub(crate) policy: Option<PathBuf>,
    /// Also leave PATH out (relative to the current directory). Repeatable.
    #[arg(long = "ignore-paths", alias = "ignore", value_name = "PATH")]
    pub(crate) ignore_paths: Vec<PathBuf>,
    /// Also leave out the git paths even if the signature did not.
    #[arg(long)]
    pub(crate) ignore_git_paths: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ResultFormat::Human)]
    pub(crate) format: ResultFormat,
    /// Hashing threads (default: one per core).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub(crate) threads: Option<u16>,
}

#[derive(Debug, Args)]
pub(crate) struct VerifyAttestationArgs {
    /// Public key (SPKI PEM).
    #[arg(long, value_name = "PUB.pem")]
    pub(crate) key: PathBuf,
    /// The DSSE envelope or Sigstore bundle.
    #[arg(value_name = "ENV")]
    pub(crate) envelope: PathBuf,
    /// Files that must be subjects of the statement (matched by digest).
    #[arg(value_name = "SUBJECT", required = true)]
    pub(crate) subjects: Vec<PathBuf>,
    /// Require this predicate type (repeatable: any of them).
    #[arg(long, value_name = "URI")]
    pub(crate) predicate_type: Vec<String>,
    /// Verification policy (JSON; see docs/attest.md).
    #[arg(long, value_name = "FILE")]
    pub(crate) policy: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ResultFormat::Human)]
    pub(crate) format: ResultFormat,
}

#[derive(Debug, Args)]
pub(crate) struct AttestArgs {
    /// Private key (PKCS#8 or SEC1 PEM).
    #[arg(long, value_name = "PRIV")]
    pub(crate) key: PathBuf,
    /// Predicate type URI (for example `https://slsa.dev/provenance/v1`).
    #[arg(long, value_name = "URI")]
    pub(crate) predicate_type: String,
    /// The predicate: a JSON object.
    #[arg(long, value_name = "FILE.json")]
    pub(crate) predicate: PathBuf,
    /// Where to write the signed envelope.
    #[arg(long, short, value_name = "ENV")]
    pub(crate) output: PathBuf,
    /// Write a Sigstore bundle v0.3 (with the public-key hint) instead of a bare DSSE envelope.
    #[arg(long)]
    pub(crate) bundle: bool,
    /// The files the statement is about.
    #[arg(value_name = "SUBJECT", required = true)]
    pub(crate) subjects: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct SbomArgs {
    /// The model: a directory (or a single file).
    #[arg(value_name = "PATH")]
    pub(crate) path: PathBuf,
    /// Where to write the BOM (JSON); `-` for standard output. Left out of the model's hashes
    /// when it lies inside the model directory.
    #[arg(long, short, value_name = "FILE")]
    pub(crate) output: PathBuf,
    /// The model's name (default: the directory's name).
    #[arg(long, value_name = "N")]
    pub(crate) name: Option<String>,
    /// The model's version.
    #[arg(long, value_name = "V")]
    pub(crate) version: Option<String>,
    /// An evaluation result to report (a JSON object: task, dataset, its SHA-256 and metrics;
    /// see docs/sbom.md). TRUSTED INPUT: pass only results you verified. Repeatable.
    #[arg(long = "evaluation", value_name = "FILE")]
    pub(crate) evaluations: Vec<PathBuf>,
    /// Leave PATH out of the model (relative to the current directory). Repeatable.
    #[arg(long = "ignore-paths", alias = "ignore", value_name = "PATH")]
    pub(crate) ignore_paths: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct WatchArgs {
    /// The deployed model: a directory or a single file.
    #[arg(value_name = "PATH")]
    pub(crate) path: PathBuf,
    /// The root digest it must have, as `modelgate hash` prints it (`sha256:HEX` or HEX).
    #[arg(long, value_name = "DIGEST")]
    pub(crate) expect: String,
    /// Seconds to wait after each check (fractions allowed).
    #[arg(long, value_name = "S", default_value_t = 60.0, value_parser = parse_interval)]
    pub(crate) interval: f64,
    /// Check once and exit: 0 when it matches, 1 when it does not.
    #[arg(long)]
    pub(crate) once: bool,
    /// Write Prometheus text-format metrics to FILE after every check (atomically).
    #[arg(long, value_name = "FILE")]
    pub(crate) metrics_file: Option<PathBuf>,
    /// Leave PATH out of the model (relative to the current directory), as given to `hash`.
    /// Repeatable.
    #[arg(long = "ignore-paths", alias = "ignore", value_name = "PATH")]
    pub(crate) ignore_paths: Vec<PathBuf>,
}

fn parse_interval(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.01..=86_400.0).contains(&v) => Ok(v),
        _ => Err("expected a number of seconds from 0.01 to 86400".into()),
    }
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    modelgate_sandbox::policy::parse_duration(s)
}

fn parse_severity(s: &str) -> Result<Severity, String> {
    s.parse::<Severity>().map_err(|e| e.to_string())
}

/// `modelgate eval …`
// Parsed once per process; boxing the run arguments buys nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub(crate) enum EvalCommand {
    /// Run an evaluation from a spec and/or flags; flags override the spec.
    Run(EvalRunArgs),
    /// Summarise a log: per-scorer metrics with standard errors, and the failing samples.
    View(EvalViewArgs),
    /// Check a log's signature, provenance, sample chain and summary.
    Verify(EvalVerifyArgs),
}

/// What a failed sample does to the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum OnFailureArg {
    /// Record the failure and go on.
    Skip,
    /// Stop the run (status `error`, exit 2).
    Abort,
}

/// `modelgate eval run`
#[derive(Debug, Args)]
#[allow(clippy::struct_excessive_bools)]
pub(crate) struct EvalRunArgs {
    /// The spec (YAML). Optional: every setting can be given as a flag.
    pub(crate) spec: Option<PathBuf>,
    /// Dataset file (JSONL, CSV, TSV or Parquet).
    #[arg(long, value_name = "FILE")]
    pub(crate) dataset: Option<PathBuf>,
    /// Field holding each item's input.
    #[arg(long, value_name = "F")]
    pub(crate) input_field: Option<String>,
    /// Field holding each item's target.
    #[arg(long, value_name = "F")]
    pub(crate) target_field: Option<String>,
    /// Field holding each item's choices (multiple choice).
    #[arg(long, value_name = "F")]
    pub(crate) choices_field: Option<String>,
    /// Field holding each item's unique id (default: the line number).
    #[arg(long, value_name = "F")]
    pub(crate) id_field: Option<String>,
    /// The dataset's pinned SHA-256; the run refuses a file with any other digest.
    #[arg(long, value_name = "HEX", conflicts_with = "allow_unpinned")]
    pub(crate) dataset_sha256: Option<String>,
    /// Run on an unpinned dataset (local experiments; recorded as an unpinned run).
    #[arg(long)]
    pub(crate) allow_unpinned: bool,
    /// Solver step (repeatable, in order): `generate`, `multiple_choice`, `agent`, `system:TEXT`.
    #[arg(long = "solver", value_name = "STEP")]
    pub(crate) solvers: Vec<String>,
    /// Scorer (repeatable): match, includes, exact, regex:PATTERN, choice.
    #[arg(long = "scorer", value_name = "SCORER")]
    pub(crate) scorers: Vec<String>,
    /// The model: openai/NAME, anthropic/NAME or mock/NAME.
    #[arg(long, value_name = "PROVIDER/NAME")]
    pub(crate) model: Option<String>,
    /// API base URL (OpenAI-compatible servers: vLLM, llama.cpp, Ollama …).
    #[arg(long, value_name = "URL")]
    pub(crate) base_url: Option<String>,
    /// The model artifact being evaluated (file or directory): hashed by the runner and its
    /// manifest root digest recorded in the log and the signed provenance.
    #[arg(long, value_name = "PATH")]
    pub(crate) model_artifact: Option<PathBuf>,
    /// Most model calls in flight.
    #[arg(long, value_name = "N")]
    pub(crate) max_connections: Option<usize>,
    /// Evaluate only the first N items.
    #[arg(long, value_name = "N")]
    pub(crate) max_items: Option<u64>,
    /// Retries after a failed model call (429, 5xx, timeouts).
    #[arg(long, value_name = "N")]
    pub(crate) max_retries: Option<u32>,
    /// Per-request timeout, in seconds.
    #[arg(long, value_name = "SECONDS")]
    pub(crate) request_timeout: Option<f64>,
    /// Wall-clock limit per sample, in seconds.
    #[arg(long, value_name = "SECONDS")]
    pub(crate) sample_timeout: Option<f64>,
    /// Most messages per sample.
    #[arg(long, value_name = "N")]
    pub(crate) max_messages: Option<u32>,
    /// Most tokens per model call.
    #[arg(long, value_name = "N")]
    pub(crate) max_tokens: Option<u32>,
    /// What a failed sample does to the run.
    #[arg(long, value_enum)]
    pub(crate) on_failure: Option<OnFailureArg>,
    /// Sandbox policy for tool calls (the built-in default otherwise).
    #[arg(long, value_name = "FILE")]
    pub(crate) sandbox_policy: Option<PathBuf>,
    /// Exit 1 when the first scorer's accuracy is below this (0–1).
    #[arg(long, value_name = "X")]
    pub(crate) fail_under: Option<f64>,
    /// The store directory (SQLite database and logs).
    #[arg(
        long,
        value_name = "DIR",
        env = "MODELGATE_STORE",
        default_value = ".modelgate"
    )]
    pub(crate) store: PathBuf,
    /// Where to write the log (default `STORE/logs/RUN_ID.json`).
    #[arg(long, value_name = "FILE")]
    pub(crate) log: Option<PathBuf>,
    /// Write a machine-readable result: total, completed, accuracy, status, log, …
    #[arg(long, value_name = "FILE")]
    pub(crate) results_json: Option<PathBuf>,
    /// Private key that signs the log (Sigstore bundle with SLSA provenance, LOG.sigstore.json).
    #[arg(long, value_name = "KEY")]
    pub(crate) sign_key: Option<PathBuf>,
    /// Resume an interrupted run: solves only the samples not yet recorded.
    #[arg(long, value_name = "RUN_ID")]
    pub(crate) resume: Option<String>,
}

/// `modelgate eval view`
#[derive(Debug, Args)]
pub(crate) struct EvalViewArgs {
    /// The log.
    pub(crate) log: PathBuf,
    /// How many failing samples to list.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub(crate) failing: usize,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ViewFormat::Human)]
    pub(crate) format: ViewFormat,
}

/// Output of `eval view` and `eval verify`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ViewFormat {
    /// Readable text.
    Human,
    /// JSON.
    Json,
}

/// `modelgate eval verify`
#[derive(Debug, Args)]
pub(crate) struct EvalVerifyArgs {
    /// The log.
    pub(crate) log: PathBuf,
    /// Public key the log must be signed with.
    #[arg(long, value_name = "PUB")]
    pub(crate) key: PathBuf,
    /// The signature bundle (default LOG.sigstore.json).
    #[arg(long, value_name = "FILE")]
    pub(crate) signature: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ViewFormat::Human)]
    pub(crate) format: ViewFormat,
}

/// Where the store is, and the key that signs ledger checkpoints: shared by every command that
/// appends to the ledger.
#[derive(Debug, Args)]
pub(crate) struct LedgerWriteArgs {
    /// The store directory (SQLite database, quarantine, logs).
    #[arg(
        long,
        value_name = "DIR",
        env = "MODELGATE_STORE",
        default_value = ".modelgate"
    )]
    pub(crate) store: PathBuf,
    /// Private key that signs ledger checkpoints; without one no checkpoints are written.
    #[arg(long, value_name = "PRIV", env = "MODELGATE_LEDGER_KEY")]
    pub(crate) ledger_key: Option<PathBuf>,
    /// Write a signed checkpoint after this many ledger entries.
    #[arg(long, value_name = "N", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) checkpoint_every: u64,
}

/// `modelgate intake`
#[derive(Debug, Args)]
pub(crate) struct IntakeArgs {
    /// The artifact: a model file or directory. It is copied into quarantine and only the copy
    /// is hashed and scanned; links are never followed.
    pub(crate) path: PathBuf,
    /// Name to register it under (versions of one model share a name).
    #[arg(long, value_name = "NAME")]
    pub(crate) name: String,
    /// Where it came from (URL or free text), recorded as given.
    #[arg(long, value_name = "URL")]
    pub(crate) source: Option<String>,
    /// Results the submitter claims (JSON): stored as an untrusted claim, never as evidence.
    #[arg(long, value_name = "FILE")]
    pub(crate) claimed_results: Option<PathBuf>,
    /// Largest artifact taken in, in bytes (all files together).
    #[arg(long, value_name = "BYTES", default_value_t = 64 << 30)]
    pub(crate) max_bytes: u64,
    /// Most files taken in.
    #[arg(long, value_name = "N", default_value_t = 100_000)]
    pub(crate) max_files: u64,
    #[command(flatten)]
    pub(crate) ledger: LedgerWriteArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ViewFormat::Human)]
    pub(crate) format: ViewFormat,
}

/// `modelgate registry …`
#[derive(Debug, Subcommand)]
pub(crate) enum RegistryCommand {
    /// List registered artifacts.
    List(RegistryListArgs),
    /// Show an artifact (by name or sha256: digest): state history, scan summary, claims.
    Show(RegistryShowArgs),
}

/// `modelgate registry list`
#[derive(Debug, Args)]
pub(crate) struct RegistryListArgs {
    /// Only artifacts in this state (quarantined, staging, production, rejected).
    #[arg(long, value_name = "STATE", value_parser = parse_artifact_state)]
    pub(crate) state: Option<modelgate_store::ArtifactState>,
    /// Most artifacts listed.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub(crate) limit: usize,
    /// The store directory.
    #[arg(
        long,
        value_name = "DIR",
        env = "MODELGATE_STORE",
        default_value = ".modelgate"
    )]
    pub(crate) store: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ViewFormat::Human)]
    pub(crate) format: ViewFormat,
}

/// `modelgate registry show`
#[derive(Debug, Args)]
pub(crate) struct RegistryShowArgs {
    /// Artifact name or `sha256:` digest.
    #[arg(value_name = "NAME|DIGEST")]
    pub(crate) artifact: String,
    /// Most ledger entries shown per artifact (the newest).
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub(crate) history: usize,
    /// The store directory.
    #[arg(
        long,
        value_name = "DIR",
        env = "MODELGATE_STORE",
        default_value = ".modelgate"
    )]
    pub(crate) store: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ViewFormat::Human)]
    pub(crate) format: ViewFormat,
}

fn parse_artifact_state(s: &str) -> Result<modelgate_store::ArtifactState, String> {
    s.parse()
}

/// `modelgate ledger …`
#[derive(Debug, Subcommand)]
pub(crate) enum LedgerCommand {
    /// Recompute the hash chain (and, with --key, every checkpoint signature); exit 1 naming
    /// the first bad entry.
    Verify(LedgerVerifyArgs),
    /// Write every entry as JSON lines.
    Export(LedgerExportArgs),
    /// Append a signed checkpoint over the current head now.
    Checkpoint(LedgerWriteArgs),
}

/// `modelgate ledger verify`
#[derive(Debug, Args)]
pub(crate) struct LedgerVerifyArgs {
    /// Public key the checkpoints must be signed with.
    #[arg(long, value_name = "PUB")]
    pub(crate) key: Option<PathBuf>,
    /// The store directory.
    #[arg(
        long,
        value_name = "DIR",
        env = "MODELGATE_STORE",
        default_value = ".modelgate"
    )]
    pub(crate) store: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ViewFormat::Human)]
    pub(crate) format: ViewFormat,
}

/// `modelgate ledger export`
#[derive(Debug, Args)]
pub(crate) struct LedgerExportArgs {
    /// Write here instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,
    /// The store directory.
    #[arg(
        long,
        value_name = "DIR",
        env = "MODELGATE_STORE",
        default_value = ".modelgate"
    )]
    pub(crate) store: PathBuf,
}
