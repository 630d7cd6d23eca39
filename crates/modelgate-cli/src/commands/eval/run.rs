//! `modelgate eval run`.

use std::io::{IsTerminal as _, Write as _};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::Context as _;
use modelgate_eval::runner::{self, Observer, RunOutcome, RunRequest};
use modelgate_eval::scorer::ScorerSpec;
use modelgate_eval::solver::SolverStep;
use modelgate_eval::spec::{OnFailure, Spec};
use modelgate_store::RunStatus;

use super::metric;
use crate::Outcome;
use crate::cli::{EvalRunArgs, OnFailureArg};

pub(super) fn run(args: &EvalRunArgs) -> anyhow::Result<Outcome> {
    let spec = if args.resume.is_some() {
        // A resumed run uses exactly the spec it recorded.
        Spec::default()
    } else {
        build_spec(args)?
    };
    let request = RunRequest {
        spec,
        allow_unpinned: args.allow_unpinned,
        store_dir: args.store.clone(),
        log_path: args.log.clone(),
        sign_key: args.sign_key.clone(),
        resume: args.resume.clone(),
    };
    let observer: Arc<dyn Observer> = Arc::new(Progress::new(std::io::stderr().is_terminal()));
    let outcome = runner::run(&request, &observer);
    crate::render::clear_progress();
    let outcome = outcome?;
    if let Some(path) = &args.results_json {
        write_results(path, &outcome)?;
    }
    print_summary(&outcome)?;
    let fail_under = args.fail_under.or(outcome.fail_under);
    Ok(match outcome.status {
        RunStatus::Completed => match (fail_under, outcome.summary.accuracy) {
            (Some(min), Some(acc)) if acc < min => Outcome::Fail,
            (Some(_), None) => Outcome::Fail,
            _ => Outcome::Pass,
        },
        RunStatus::Error | RunStatus::Running => Outcome::Error,
    })
}

/// The spec file (if any) with the flags laid over it.
fn build_spec(args: &EvalRunArgs) -> anyhow::Result<Spec> {
    let (mut spec, origin) = match &args.spec {
        Some(path) => (Spec::from_file(path)?, path.display().to_string()),
        None => (Spec::default(), "command line".to_owned()),
    };
    let mut over = Spec {
        model: args.model.clone(),
        base_url: args.base_url.clone(),
        model_artifact: args.model_artifact.clone(),
        max_connections: args.max_connections,
        fail_under: args.fail_under,
        on_failure: args.on_failure.map(|o| match o {
            OnFailureArg::Skip => OnFailure::Skip,
            OnFailureArg::Abort => OnFailure::Abort,
        }),
        ..Spec::default()
    };
    over.dataset.path.clone_from(&args.dataset);
    over.dataset.sha256.clone_from(&args.dataset_sha256);
    over.dataset.input_field.clone_from(&args.input_field);
    over.dataset.target_field.clone_from(&args.target_field);
    over.dataset.choices_field.clone_from(&args.choices_field);
    over.dataset.id_field.clone_from(&args.id_field);
    over.limits.max_items = args.max_items;
    over.limits.max_messages = args.max_messages;
    over.limits.max_tokens = args.max_tokens;
    over.limits.sample_timeout_s = args.sample_timeout;
    over.retries.max_retries = args.max_retries;
    over.retries.request_timeout_s = args.request_timeout;
    over.sandbox.policy.clone_from(&args.sandbox_policy);
    for s in &args.solvers {
        over.solver
            .push(SolverStep::from_flag(s).map_err(anyhow::Error::msg)?);
    }
    for s in &args.scorers {
        over.scorers
            .push(ScorerSpec::from_flag(s).map_err(anyhow::Error::msg)?);
    }
    if args.dataset_sha256.is_some() && spec.dataset.registry.is_some() && args.dataset.is_some() {
        // A file given on the command line with its own pin replaces the registry entry.
        spec.dataset.registry = None;
        spec.dataset.name = None;
    }
    spec.overlay(over);
    Ok(spec.finalize(&origin)?)
}

/// `--results-json`: the fields scripts rely on.
fn write_results(path: &std::path::Path, o: &RunOutcome) -> anyhow::Result<()> {
    let value = serde_json::json!({
        "total": o.summary.total,
        "completed": o.summary.completed,
        "accuracy": o.summary.accuracy,
        "status": o.status.as_str(),
        "log": std::path::absolute(&o.log_path)
            .unwrap_or_else(|_| o.log_path.clone())
            .display()
            .to_string(),
        "run_id": o.run_id,
        "errors": o.summary.errors,
        "invalid": o.summary.invalid,
        "error": o.error,
        "scorers": o.summary.scorers,
        "log_sha256": o.log_sha256,
        "signature": o.signature_path.as_ref().map(|p| p.display().to_string()),
        "dataset_sha256": o.run.dataset.sha256,
        "dataset_pinned": o.run.dataset.pinned,
        "task": o.run.task,
        "model": o.run.model,
    });
    let text = serde_json::to_string_pretty(&value)? + "\n";
    modelgate_attest::write_atomic(path, text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

fn print_summary(o: &RunOutcome) -> anyhow::Result<()> {
    let s = &o.summary;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "run {}  task {}  model {}  {}",
        o.run_id,
        o.run.task,
        o.run.model,
        o.status.as_str()
    )?;
    writeln!(
        out,
        "dataset {} sha256:{}{}",
        o.run.dataset.path,
        o.run.dataset.sha256,
        if o.run.dataset.pinned {
            " (pinned)"
        } else {
            " (UNPINNED)"
        }
    )?;
    writeln!(
        out,
        "samples {} total, {} completed, {} errors, {} malformed rows; {} retries, {} tool calls ({} refused), {} sandbox events",
        s.total,
        s.completed,
        s.errors,
        s.invalid,
        s.retries,
        s.tool_calls,
        s.tool_calls_refused,
        s.sandbox_events
    )?;
    writeln!(
        out,
        "{:<14} {:>8} {:>20} {:>20}",
        "scorer", "n", "mean ± stderr", "95% CI"
    )?;
    for m in &s.scorers {
        writeln!(
            out,
            "{:<14} {:>8} {:>20} {:>20}",
            m.scorer,
            m.n,
            metric(m.mean, m.stderr),
            format!("[{:.4}, {:.4}]", m.ci95[0], m.ci95[1])
        )?;
    }
    if let Some(e) = &o.error {
        writeln!(out, "error: {e}")?;
    }
    writeln!(out, "log {}", o.log_path.display())?;
    match &o.signature_path {
        Some(p) => writeln!(out, "signed: {} (SLSA provenance v1)", p.display())?,
        None => writeln!(out, "unsigned (pass --sign-key KEY to sign the log)")?,
    }
    Ok(())
}

/// Announces the run id (so an interrupted run can be resumed) and, on a terminal, draws a
/// one-line progress bar.
struct Progress {
    tty: bool,
    total: AtomicU64,
    done: AtomicU64,
    errors: AtomicU64,
    start: Mutex<Option<Instant>>,
}

impl Progress {
    fn new(tty: bool) -> Progress {
        Progress {
            tty,
            total: AtomicU64::new(0),
            done: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            start: Mutex::new(None),
        }
    }
}

impl Observer for Progress {
    fn start(&self, run_id: &str, todo: u64, done: u64) {
        let mut stderr = std::io::stderr().lock();
        let _ = writeln!(
            stderr,
            "run {run_id}: {todo} samples to solve{} (resume an interrupted run with --resume {run_id})",
            if done > 0 {
                format!(", {done} recorded before")
            } else {
                String::new()
            }
        );
        self.total.store(todo + done, Ordering::Relaxed);
        self.done.store(done, Ordering::Relaxed);
        if let Ok(mut s) = self.start.lock() {
            *s = Some(Instant::now());
        }
    }

    fn recorded(&self, n: u64, errors: u64) {
        if !self.tty {
            return;
        }
        let done = self.done.fetch_add(n, Ordering::Relaxed) + n;
        let errors = self.errors.fetch_add(errors, Ordering::Relaxed) + errors;
        let total = self.total.load(Ordering::Relaxed).max(1);
        let elapsed = self
            .start
            .lock()
            .ok()
            .and_then(|s| *s)
            .map_or(0.0, |s| s.elapsed().as_secs_f64());
        let width = 30u64;
        let filled = (done.min(total) * width / total) as usize;
        let mut stderr = std::io::stderr().lock();
        let _ = write!(
            stderr,
            "\r\x1b[2K[{}{}] {done}/{total} samples, {errors} errors, {:.0}/s",
            "#".repeat(filled),
            " ".repeat(width as usize - filled),
            if elapsed > 0.0 {
                f64::from(u32::try_from(done).unwrap_or(u32::MAX)) / elapsed
            } else {
                0.0
            }
        );
        let _ = stderr.flush();
    }
}
