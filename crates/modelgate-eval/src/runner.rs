//! The runner: preflight, concurrent solving and scoring, chained recording, log, signature.
//!
//! Order of a run, and why:
//! 1. open the store (a schema mismatch fails before anything else);
//! 2. read the dataset once and compare its digest with the pin — **before any model call**;
//! 3. verify judge prompts, load the signing key and the sandbox policy (a run that cannot be
//!    signed or scored fails now, not after hours of model calls);
//! 4. solve and score samples on `max_connections` workers; each finished record goes to a
//!    writer thread that appends batches to the store's hash chain in one transaction each;
//! 5. recompute the summary from the stored records, write the log from the store, sign it.
//!
//! A run killed at any point leaves every committed record in the store; `resume` re-reads the
//! run's recorded spec and dataset digest and solves only the samples not yet recorded.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use modelgate_attest::{KeySigner, PrivateKey};
use modelgate_store::{Finish, NewRun, RunStatus, SqliteStore, Store, StoreError};
use sha2::{Digest, Sha256};

use crate::dataset::{self, LoadOptions, PinSource};
use crate::log::{ChainInfo, DatasetInfo, Harness, JudgeInfo, RunInfo, write_log};
use crate::provenance;
use crate::provider::{self, Provider, ProviderOptions};
use crate::record::{SampleError, SampleRecord, SampleStatus};
use crate::sample::Sample;
use crate::scorer::{self, Scorer};
use crate::solver::{SolveContext, SolveError, SolveLimits, SolverStep, TaskState};
use crate::spec::{OnFailure, Spec};
use crate::summary::{Summarizer, Summary};

/// Default messages per sample.
const DEFAULT_MAX_MESSAGES: u32 = 30;
/// Default wall-clock limit per sample.
const DEFAULT_SAMPLE_TIMEOUT: Duration = Duration::from_secs(600);
/// Most records committed in one store transaction.
const MAX_BATCH: usize = 512;

/// What to run.
#[derive(Debug, Clone)]
pub struct RunRequest {
    /// The finalized spec (ignored when resuming: the run's recorded spec is used).
    pub spec: Spec,
    /// Run without a dataset pin (recorded as unpinned).
    pub allow_unpinned: bool,
    /// The store directory (`DIR/modelgate.db`).
    pub store_dir: PathBuf,
    /// Where to write the log (`STORE/logs/RUN_ID.json` by default).
    pub log_path: Option<PathBuf>,
    /// Private key that signs the log.
    pub sign_key: Option<PathBuf>,
    /// Resume this run instead of starting a new one.
    pub resume: Option<String>,
}

/// Progress reports, for a progress bar.
pub trait Observer: Send + Sync {
    /// The run is about to solve `todo` samples; `done` were recorded before (resume).
    fn start(&self, run_id: &str, todo: u64, done: u64);
    /// `n` more samples were recorded; `errors` of them failed.
    fn recorded(&self, n: u64, errors: u64);
}

/// An observer that ignores everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct Quiet;

impl Observer for Quiet {
    fn start(&self, _: &str, _: u64, _: u64) {}
    fn recorded(&self, _: u64, _: u64) {}
}

/// How a run ended.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    /// Run id.
    pub run_id: String,
    /// `Completed` or `Error`.
    pub status: RunStatus,
    /// Why it ended in error.
    pub error: Option<String>,
    /// The summary (recomputed from the stored records).
    pub summary: Summary,
    /// The log written.
    pub log_path: PathBuf,
    /// The log's SHA-256 (hex).
    pub log_sha256: String,
    /// The signature bundle, when a key was given.
    pub signature_path: Option<PathBuf>,
    /// The run information recorded in the log.
    pub run: RunInfo,
    /// `fail_under` from the spec.
    pub fail_under: Option<f64>,
}

/// Why a run could not start or finish.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The spec is unusable.
    #[error(transparent)]
    Spec(#[from] crate::spec::SpecError),
    /// The dataset is unusable or does not match its pin.
    #[error(transparent)]
    Dataset(#[from] dataset::DatasetError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The model provider cannot be set up.
    #[error("model {model}: {source}")]
    Provider {
        /// The model.
        model: String,
        /// Why.
        source: provider::ProviderError,
    },
    /// A scorer cannot be built (unverified judge prompt, bad regex).
    #[error(transparent)]
    Scorer(#[from] scorer::ScoreError),
    /// The signing key or sandbox policy cannot be loaded.
    #[error("{0}")]
    Setup(String),
    /// The log cannot be written or signed.
    #[error(transparent)]
    Log(#[from] crate::log::LogError),
    /// Resuming is impossible.
    #[error("{0}")]
    Resume(String),
}

/// Everything the workers share.
struct Shared {
    provider: Arc<dyn Provider>,
    steps: Vec<SolverStep>,
    scorers: Vec<Arc<dyn Scorer>>,
    limits: SolveLimits,
    sample_timeout: Duration,
    policy: Option<modelgate_sandbox::Policy>,
    on_failure: OnFailure,
    abort: AtomicBool,
    abort_reason: Mutex<Option<String>>,
    queue: Mutex<std::vec::IntoIter<Arc<Sample>>>,
    records: mpsc::Sender<(String, Vec<u8>, bool)>,
}

/// Runs an evaluation to the end (or to an abort) and writes its log.
pub fn run(request: &RunRequest, observer: &Arc<dyn Observer>) -> Result<RunOutcome, RunError> {
    let mut store = SqliteStore::open_dir(&request.store_dir)?;
    let (spec, run_id, started_at, resumed, expect_sha) = match &request.resume {
        Some(id) => {
            let row = store.run(id)?.ok_or_else(|| {
                RunError::Resume(format!("no run {id:?} in {}", request.store_dir.display()))
            })?;
            if row.status != RunStatus::Running {
                return Err(RunError::Resume(format!(
                    "run {id} is {} already; only an interrupted run resumes",
                    row.status.as_str()
                )));
            }
            let spec: Spec = serde_json::from_str(&row.run.spec_json)
                .map_err(|e| RunError::Resume(format!("run {id}: stored spec unreadable: {e}")))?;
            (
                spec,
                id.clone(),
                row.run.started_at.clone(),
                true,
                Some(row.run.dataset_sha256.clone()),
            )
        }
        None => (
            request.spec.clone(),
            new_run_id(),
            modelgate_dataset::registry::now_rfc3339(),
            false,
            None,
        ),
    };
    let on_failure = spec.on_failure.unwrap_or_default();
    let allow_unpinned = request.allow_unpinned
        || (request.resume.is_some()
            && spec.dataset.sha256.is_none()
            && spec.dataset.registry.is_none());
    // 2. The dataset, pinned, before any model call.
    let data = dataset::load(
        &spec.dataset,
        &LoadOptions {
            max_items: spec.limits.max_items,
            skip_bad_rows: on_failure == OnFailure::Skip,
            allow_unpinned,
            expect_sha256: expect_sha,
            limits: modelgate_dataset::DatasetLimits::default(),
        },
    )?;
    // 3. Everything else that can fail before the first call.
    let signer = match &request.sign_key {
        Some(path) => Some(KeySigner::new(
            PrivateKey::from_pem_file(path).map_err(|e| RunError::Setup(e.to_string()))?,
        )),
        None => None,
    };
    let (policy, policy_sha) = if spec.uses_tools() {
        let policy = match &spec.sandbox.policy {
            Some(p) => modelgate_sandbox::Policy::from_file(p)
                .map_err(|e| RunError::Setup(e.to_string()))?,
            None => modelgate_sandbox::Policy::default(),
        };
        let canonical = serde_json::to_string(&serde_json::to_value(&policy).unwrap_or_default())
            .unwrap_or_default();
        let sha = modelgate_core::to_hex(&Sha256::digest(canonical.as_bytes()));
        (Some(policy), Some(sha))
    } else {
        (None, None)
    };
    let model_digest = match &spec.model_artifact {
        Some(path) => {
            let manifest =
                modelgate_attest::hash_model(path, &modelgate_attest::HashOptions::default())
                    .map_err(|e| RunError::Setup(format!("model artifact: {e}")))?;
            Some(format!(
                "sha256:{}",
                modelgate_core::to_hex(&manifest.root_digest())
            ))
        }
        None => None,
    };
    let model = spec.model.clone().unwrap_or_default();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| RunError::Setup(format!("cannot start the async runtime: {e}")))?;
    let options = provider_options(&spec);
    let (provider, scorers, judges) = runtime.block_on(async {
        let provider =
            provider::resolve(&model, &options).map_err(|source| RunError::Provider {
                model: model.clone(),
                source,
            })?;
        let mut scorers = Vec::new();
        let mut judges = Vec::new();
        for s in &spec.scorers {
            let judge_options = ProviderOptions {
                base_url: None,
                ..options.clone()
            };
            let built = scorer::build(s, &|m| provider::resolve(m, &judge_options))?;
            if let Some(j) = built.judge() {
                judges.push(JudgeInfo {
                    model: j.model.clone(),
                    prompt_sha256: j.prompt_sha256.clone(),
                    key_hint: j.key_hint.clone(),
                });
            }
            scorers.push(built);
        }
        Ok::<_, RunError>((provider, scorers, judges))
    })?;
    // The names the scores are recorded under, as the built scorers give them.
    let scorer_names: Vec<String> = scorers.iter().map(|s| s.name().to_owned()).collect();
    let pinned = data.pin != PinSource::Unpinned;
    let spec_json = spec.canonical_json();
    let spec_sha256 = spec.digest();
    if request.resume.is_none() {
        store.create_run(&NewRun {
            id: run_id.clone(),
            task: spec.task.clone().unwrap_or_default(),
            model: model.clone(),
            dataset_sha256: data.sha256.clone(),
            dataset_pinned: pinned,
            spec_sha256: spec_sha256.clone(),
            spec_json: spec_json.clone(),
            started_at: started_at.clone(),
        })?;
    }
    // 4. Solve what is not recorded yet.
    let done: HashSet<String> = store.sample_ids(&run_id)?.into_iter().collect();
    let mut bad_rows = Vec::new();
    for bad in &data.bad_rows {
        let id = format!("invalid-line-{}", bad.line);
        if !done.contains(&id) {
            bad_rows.push((id, bad));
        }
    }
    let todo: Vec<Arc<Sample>> = data
        .samples
        .iter()
        .filter(|s| !done.contains(&s.id))
        .cloned()
        .map(Arc::new)
        .collect();
    observer.start(
        &run_id,
        (todo.len() + bad_rows.len()) as u64,
        done.len() as u64,
    );
    let (tx, rx) = mpsc::channel::<(String, Vec<u8>, bool)>();
    for (id, bad) in bad_rows {
        let record = invalid_record(&id, bad);
        let _ = tx.send((id, record, true));
    }
    let writer = spawn_writer(store, run_id.clone(), rx, Arc::clone(observer));
    let shared = Arc::new(Shared {
        provider,
        steps: spec.solver.clone(),
        scorers,
        limits: SolveLimits {
            max_messages: spec.limits.max_messages.unwrap_or(DEFAULT_MAX_MESSAGES),
            max_tokens: spec.limits.max_tokens,
            max_total_tokens: spec.limits.max_total_tokens,
        },
        sample_timeout: spec
            .limits
            .sample_timeout_s
            .map_or(DEFAULT_SAMPLE_TIMEOUT, Duration::from_secs_f64),
        policy,
        on_failure,
        abort: AtomicBool::new(false),
        abort_reason: Mutex::new(None),
        queue: Mutex::new(todo.into_iter()),
        records: tx,
    });
    let workers = spec.max_connections.unwrap_or(16);
    runtime.block_on(async {
        let mut handles = Vec::with_capacity(workers);
        for _ in 0..workers {
            let shared = Arc::clone(&shared);
            handles.push(tokio::spawn(async move { worker(&shared).await }));
        }
        for h in handles {
            let _ = h.await;
        }
    });
    runtime.shutdown_timeout(Duration::from_secs(5));
    let abort_reason = shared.abort_reason.lock().ok().and_then(|g| g.clone());
    drop(shared);
    let (mut store, write_error) = writer
        .join()
        .map_err(|_| RunError::Setup("the store writer thread panicked".into()))?;
    if let Some(e) = write_error {
        return Err(RunError::Store(e));
    }
    // 5. Summary from the store, log from the store, signature.
    let mut summarizer = Summarizer::new(&scorer_names);
    let mut head = modelgate_store::genesis(&run_id);
    let mut count = 0u64;
    store.for_each_sample(&run_id, &mut |row| {
        summarizer
            .add(&row.record)
            .map_err(|message| StoreError::Corrupt {
                path: request.store_dir.clone(),
                message: format!("record {}: {message}", row.seq),
            })?;
        head = modelgate_store::link(&head, &row.record);
        count += 1;
        Ok(())
    })?;
    let summary = summarizer.summary();
    let (status, error) = if let Some(reason) = abort_reason {
        (RunStatus::Error, Some(reason))
    } else if summary.completed == 0 {
        (
            RunStatus::Error,
            Some(format!(
                "no sample completed ({} errors, {} malformed rows)",
                summary.errors, summary.invalid
            )),
        )
    } else {
        (RunStatus::Completed, None)
    };
    let log_path = request.log_path.clone().unwrap_or_else(|| {
        request
            .store_dir
            .join("logs")
            .join(format!("{run_id}.json"))
    });
    let run = RunInfo {
        run_id: run_id.clone(),
        status: status.as_str().to_owned(),
        error: error.clone(),
        task: spec.task.clone().unwrap_or_default(),
        model,
        model_digest,
        base_url: spec.base_url.clone(),
        spec: serde_json::from_str(&spec_json).unwrap_or_default(),
        spec_sha256,
        dataset: DatasetInfo {
            path: data.path.display().to_string(),
            format: data.format.clone(),
            sha256: data.sha256.clone(),
            pinned,
            pin: data.pin.clone(),
            rows: data.rows,
        },
        judges,
        sandbox_policy_sha256: policy_sha,
        harness: Harness::current(),
        started_at,
        finished_at: modelgate_dataset::registry::now_rfc3339(),
        resumed,
        chain: ChainInfo {
            genesis: modelgate_core::to_hex(&modelgate_store::genesis(&run_id)),
            head: modelgate_core::to_hex(&head),
            records: count,
        },
    };
    write_log(&log_path, &run, &summary, &mut |emit| {
        store
            .for_each_sample(&run_id, &mut |row| {
                emit(row.seq, &row.sample_id, &row.chain, &row.record).map_err(|e| {
                    StoreError::Database {
                        path: log_path.clone(),
                        message: e.to_string(),
                    }
                })
            })
            .map_err(std::io::Error::other)
    })?;
    let (log_sha256, _) = modelgate_dataset::registry::hash_file(&log_path)
        .map_err(|e| RunError::Setup(e.to_string()))?;
    let log_sha256 = modelgate_core::to_hex(&log_sha256);
    let signature_path = match &signer {
        Some(signer) => {
            let bundle = provenance::sign_log(&log_path, &log_sha256, &run, signer)
                .map_err(|e| RunError::Setup(format!("cannot sign the log: {e}")))?;
            let path = provenance::signature_path(&log_path);
            modelgate_attest::write_atomic(&path, bundle.as_bytes())
                .map_err(|e| RunError::Setup(e.to_string()))?;
            Some(path)
        }
        None => None,
    };
    store.finish_run(
        &run_id,
        &Finish {
            status,
            finished_at: run.finished_at.clone(),
            summary_json: serde_json::to_string(&summary).unwrap_or_default(),
            log_path: Some(log_path.display().to_string()),
            log_sha256: Some(log_sha256.clone()),
            log_signed: signature_path.is_some(),
        },
    )?;
    // The evidence ledger: one `eval_run` entry per finished run, for audits and the gate.
    let ledger_payload = serde_json::json!({
        "run_id": run_id,
        "status": status.as_str(),
        "task": run.task,
        "model": run.model,
        "model_digest": run.model_digest,
        "dataset_sha256": run.dataset.sha256,
        "dataset_pinned": run.dataset.pinned,
        "judges": run.judges,
        "log_path": log_path.display().to_string(),
        "log_sha256": log_sha256,
        "log_signed": signature_path.is_some(),
        "accuracy": summary.accuracy,
        "tool_calls_refused": summary.tool_calls_refused,
        "sandbox_events": summary.sandbox_events,
    });
    modelgate_store::Ledger::append(
        &mut store,
        modelgate_store::EntryKind::EvalRun,
        run.model_digest.as_deref().unwrap_or(&run_id),
        ledger_payload.to_string().as_bytes(),
    )?;
    Ok(RunOutcome {
        run_id,
        status,
        error,
        summary,
        log_path,
        log_sha256,
        signature_path,
        run,
        fail_under: spec.fail_under,
    })
}

/// Provider settings from the spec.
fn provider_options(spec: &Spec) -> ProviderOptions {
    let d = ProviderOptions::default();
    ProviderOptions {
        base_url: spec.base_url.clone(),
        timeout: spec
            .retries
            .request_timeout_s
            .map_or(d.timeout, Duration::from_secs_f64),
        max_retries: spec.retries.max_retries.unwrap_or(d.max_retries),
        backoff_base: spec
            .retries
            .backoff_base_ms
            .map_or(d.backoff_base, Duration::from_millis),
        backoff_max: spec
            .retries
            .backoff_max_ms
            .map_or(d.backoff_max, Duration::from_millis),
        max_response_bytes: d.max_response_bytes,
        max_connections: spec.max_connections.unwrap_or(d.max_connections),
    }
}

/// A 128-bit random run id (hex).
fn new_run_id() -> String {
    let mut bytes = [0u8; 16];
    let filled = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes))
        .is_ok();
    if !filled {
        // No urandom: time and pid are unique enough for an id (it is not a secret).
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        bytes.copy_from_slice(&Sha256::digest(format!("{t}:{}", std::process::id()))[..16]);
    }
    modelgate_core::to_hex(&bytes)
}

/// The record of a malformed dataset row.
fn invalid_record(id: &str, bad: &dataset::BadRow) -> Vec<u8> {
    let record = SampleRecord {
        id: id.to_owned(),
        line: bad.line,
        status: SampleStatus::Invalid,
        target: Vec::new(),
        choices: Vec::new(),
        messages: Vec::new(),
        output: String::new(),
        scores: Vec::new(),
        error: Some(SampleError {
            kind: "dataset".into(),
            message: match bad.column {
                Some(c) => format!("line {}, column {c}: {}", bad.line, bad.message),
                None => format!("line {}: {}", bad.line, bad.message),
            },
        }),
        limit_hit: None,
        model_calls: 0,
        usage: crate::provider::Usage::default(),
        retries: Vec::new(),
        tool_calls: Vec::new(),
        sandbox_events: Vec::new(),
        wall_ms: 0.0,
        finished_at: modelgate_dataset::registry::now_rfc3339(),
    };
    serde_json::to_vec(&record).unwrap_or_default()
}

/// One worker: takes samples until the queue is empty or the run aborts.
async fn worker(shared: &Shared) {
    loop {
        if shared.abort.load(Ordering::Relaxed) {
            return;
        }
        let next = shared.queue.lock().ok().and_then(|mut q| q.next());
        let Some(sample) = next else { return };
        let record = solve_sample(shared, Arc::clone(&sample)).await;
        let failed = record.status != SampleStatus::Ok;
        if failed && shared.on_failure == OnFailure::Abort {
            if let Ok(mut reason) = shared.abort_reason.lock()
                && reason.is_none()
            {
                let why = record
                    .error
                    .as_ref()
                    .map_or_else(String::new, |e| format!("{}: {}", e.kind, e.message));
                *reason = Some(format!(
                    "sample {:?} (line {}) failed and on_failure is abort: {why}",
                    sample.id, sample.line
                ));
            }
            shared.abort.store(true, Ordering::Relaxed);
        }
        let bytes = serde_json::to_vec(&record).unwrap_or_default();
        if shared.records.send((record.id, bytes, failed)).is_err() {
            // The writer stopped on a store error: nothing more can be recorded.
            shared.abort.store(true, Ordering::Relaxed);
            return;
        }
    }
}

/// Solves and scores one sample; every failure becomes part of its record.
async fn solve_sample(shared: &Shared, sample: Arc<Sample>) -> SampleRecord {
    let start = Instant::now();
    let mut state = TaskState::new(Arc::clone(&sample));
    let ctx = SolveContext {
        provider: shared.provider.as_ref(),
        limits: &shared.limits,
        sandbox_policy: shared.policy.as_ref(),
        tool_timeout: None,
    };
    let solved = tokio::time::timeout(
        shared.sample_timeout,
        run_steps(&shared.steps, &mut state, &ctx),
    )
    .await;
    let mut error = match solved {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(solve_error(&e)),
        Err(_) => Some(SampleError {
            kind: "timeout".into(),
            message: format!(
                "sample exceeded its {:.1} s time limit",
                shared.sample_timeout.as_secs_f64()
            ),
        }),
    };
    let mut scores = Vec::with_capacity(shared.scorers.len());
    if error.is_none() {
        for s in &shared.scorers {
            match s.score(&state).await {
                Ok(score) => scores.push(score),
                Err(e) => {
                    error = Some(SampleError {
                        kind: "scorer".into(),
                        message: e.to_string(),
                    });
                    scores.clear();
                    break;
                }
            }
        }
    }
    SampleRecord {
        id: sample.id.clone(),
        line: sample.line,
        status: if error.is_none() {
            SampleStatus::Ok
        } else {
            SampleStatus::Error
        },
        target: sample.target.clone(),
        choices: sample.choices.clone(),
        messages: std::mem::take(&mut state.messages),
        output: std::mem::take(&mut state.output),
        scores,
        error,
        limit_hit: state.limit_hit.take(),
        model_calls: state.model_calls,
        usage: state.usage,
        retries: std::mem::take(&mut state.retries),
        tool_calls: std::mem::take(&mut state.tool_calls),
        sandbox_events: std::mem::take(&mut state.sandbox_events),
        wall_ms: (start.elapsed().as_secs_f64() * 1e6).round() / 1e3,
        finished_at: modelgate_dataset::registry::now_rfc3339(),
    }
}

async fn run_steps(
    steps: &[SolverStep],
    state: &mut TaskState,
    ctx: &SolveContext<'_>,
) -> Result<(), SolveError> {
    for step in steps {
        step.run(state, ctx).await?;
        if state.limit_hit.is_some() {
            break;
        }
    }
    Ok(())
}

fn solve_error(e: &SolveError) -> SampleError {
    let kind = match e {
        SolveError::Provider(_) => "provider",
        SolveError::Sandbox(_) => "sandbox",
        SolveError::Invalid(_) | SolveError::Flag(_) => "solver",
    };
    SampleError {
        kind: kind.into(),
        message: e.to_string(),
    }
}

/// The writer thread: appends records in batches, one transaction per batch, and reports
/// progress after each commit.
fn spawn_writer(
    mut store: SqliteStore,
    run_id: String,
    rx: mpsc::Receiver<(String, Vec<u8>, bool)>,
    observer: Arc<dyn Observer>,
) -> std::thread::JoinHandle<(SqliteStore, Option<StoreError>)> {
    std::thread::spawn(move || {
        while let Ok(first) = rx.recv() {
            let mut errors = u64::from(first.2);
            let mut batch = vec![(first.0, first.1)];
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok((id, rec, failed)) => {
                        errors += u64::from(failed);
                        batch.push((id, rec));
                    }
                    Err(_) => break,
                }
            }
            if let Err(e) = store.append_samples(&run_id, &batch) {
                return (store, Some(e));
            }
            observer.recorded(batch.len() as u64, errors);
        }
        (store, None)
    })
}
