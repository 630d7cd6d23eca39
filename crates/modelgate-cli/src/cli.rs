//! Every command and flag, defined once; `--help` is derived from these definitions.

use std::path::PathBuf;

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
    /// Dataset trust: scan for poisoning, vet into the registry, verify pinned datasets.
    #[command(subcommand)]
    Dataset(DatasetCommand),
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

fn parse_severity(s: &str) -> Result<Severity, String> {
    s.parse::<Severity>().map_err(|e| e.to_string())
}
