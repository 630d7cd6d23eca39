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

fn parse_duration(s: &str) -> Result<Duration, String> {
    modelgate_sandbox::policy::parse_duration(s)
}

fn parse_severity(s: &str) -> Result<Severity, String> {
    s.parse::<Severity>().map_err(|e| e.to_string())
}
