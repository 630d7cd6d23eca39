//! Signing a finished log: an in-toto Statement whose subject is the log file and whose
//! predicate is SLSA Provenance v1, in a DSSE envelope inside a Sigstore bundle v0.3.
//!
//! - `externalParameters`: task, model, dataset (digest, pin), harness version, judges.
//! - `internalParameters`: spec digest, sandbox policy digest, run id, sample-chain head and
//!   record count.
//! - `resolvedDependencies`: the dataset and each judge prompt, by digest.
//! - `runDetails`: builder id, invocation id (the run id), start and finish times.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use modelgate_attest::slsa::{
    BuildDefinition, Builder, Provenance, ResourceDescriptor, RunDetails, RunMetadata,
    SLSA_PROVENANCE_V1,
};
use modelgate_attest::{Bundle, Envelope, IN_TOTO_PAYLOAD_TYPE, Signer, Statement, Subject};
use serde_json::json;

use crate::log::RunInfo;

/// The `buildType` of eval runs.
pub const BUILD_TYPE: &str = "https://modelgate.dev/eval-run/v1";
/// The builder id of this runner.
pub const BUILDER_ID: &str = "https://modelgate.dev/eval-runner";

/// Where the signature of `log` is written: `LOG.sigstore.json`.
pub fn signature_path(log: &Path) -> PathBuf {
    let mut s = log.as_os_str().to_owned();
    s.push(".sigstore.json");
    PathBuf::from(s)
}

/// The SLSA provenance of a run.
pub fn provenance(run: &RunInfo) -> Provenance {
    let mut deps = Vec::new();
    if let Some(d) = &run.model_digest {
        deps.push(ResourceDescriptor {
            name: Some(format!("model:{}", run.model)),
            digest: BTreeMap::from([(
                "sha256".to_owned(),
                d.trim_start_matches("sha256:").to_owned(),
            )]),
            ..ResourceDescriptor::default()
        });
    }
    deps.push(ResourceDescriptor {
        name: Some(format!("dataset:{}", run.dataset.path)),
        digest: BTreeMap::from([("sha256".to_owned(), run.dataset.sha256.clone())]),
        ..ResourceDescriptor::default()
    });
    for j in &run.judges {
        deps.push(ResourceDescriptor {
            name: Some(format!("judge-prompt:{}", j.model)),
            digest: BTreeMap::from([("sha256".to_owned(), j.prompt_sha256.clone())]),
            ..ResourceDescriptor::default()
        });
    }
    Provenance {
        build_definition: BuildDefinition {
            build_type: BUILD_TYPE.to_owned(),
            external_parameters: json!({
                "task": run.task,
                "model": run.model,
                "model_digest": run.model_digest,
                "base_url": run.base_url,
                "dataset": {
                    "sha256": run.dataset.sha256,
                    "pinned": run.dataset.pinned,
                    "pin": run.dataset.pin,
                },
                "harness_version": run.harness.version,
                "judges": run.judges,
            }),
            internal_parameters: Some(json!({
                "spec_sha256": run.spec_sha256,
                "sandbox_policy_sha256": run.sandbox_policy_sha256,
                "run_id": run.run_id,
                "status": run.status,
                "chain_head": run.chain.head,
                "chain_records": run.chain.records,
            })),
            resolved_dependencies: deps,
        },
        run_details: RunDetails {
            builder: Builder {
                id: BUILDER_ID.to_owned(),
                version: BTreeMap::from([("modelgate".to_owned(), run.harness.version.clone())]),
            },
            metadata: Some(RunMetadata {
                invocation_id: Some(run.run_id.clone()),
                started_on: Some(run.started_at.clone()),
                finished_on: Some(run.finished_at.clone()),
            }),
            byproducts: Vec::new(),
        },
    }
}

/// Signs the log whose bytes hash to `log_sha256` and returns the bundle JSON.
pub fn sign_log(
    log: &Path,
    log_sha256: &str,
    run: &RunInfo,
    signer: &dyn Signer,
) -> Result<String, modelgate_attest::SignError> {
    let name = log.file_name().map_or_else(
        || log.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let statement = Statement::new(
        vec![Subject {
            name: Some(name),
            digest: BTreeMap::from([("sha256".to_owned(), log_sha256.to_owned())]),
        }],
        SLSA_PROVENANCE_V1,
        provenance(run).to_value(),
    );
    let envelope = Envelope::sign(IN_TOTO_PAYLOAD_TYPE, statement.to_json(), signer)?;
    Ok(Bundle::new(envelope, &signer.verification_material()).to_json())
}
