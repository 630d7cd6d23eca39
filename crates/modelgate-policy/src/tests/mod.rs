//! Unit tests across modules, over one realistic policy and a piece of evidence that meets it.

mod config;
mod evaluate;
mod props;

use crate::*;
use modelgate_core::Severity;

/// 2026-11-22T02:00:00Z.
pub(crate) const NOW: i64 = 1_795_312_800;
pub(crate) const DAY: i64 = 86_400;

pub(crate) const POLICY: &str = "\
version: 1
keys:                       # named public keys (PEM paths or hints), with roles
  release: {public_key: keys/release.pub.pem, roles: [signer]}
  alice:   {public_key: keys/alice.pub.pem, roles: [security]}
  bob:     {public_key: keys/bob.pub.pem, roles: [owner]}
  carol:   {public_key: keys/carol.pub.pem, roles: [security]}
stages:
  staging:
    all_of:
      - max_scan_severity: medium
      - signed_by: {keys: [release]}
      - eval: {task: arithmetic, scorer: match, min: 0.8, max_age_days: 30}
  production:
    all_of:
      - stage_reached: staging
      - any_of:
          - approvals: {roles: [security, owner]}
          - approvals: {roles: [security], count: 2}
      - eval: {task: safety-refusals, min: 0.95, ci_lower_min: 0.9}
";

pub(crate) fn hex(b: &str) -> String {
    b.repeat(32)
}

/// The artifact's manifest digest.
pub(crate) fn artifact() -> String {
    format!("sha256:{}", hex("aa"))
}

/// Another artifact's digest.
pub(crate) fn other() -> String {
    format!("sha256:{}", hex("bb"))
}

pub(crate) fn hint(name: &str) -> String {
    match name {
        "release" => hex("11"),
        "alice" => hex("22"),
        "bob" => hex("33"),
        "carol" => hex("44"),
        _ => hex("ee"),
    }
}

pub(crate) fn policy() -> Policy {
    match Policy::parse(POLICY, "policy.yaml") {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    }
}

pub(crate) fn keys() -> KeyHints {
    let mut k = KeyHints::new();
    for name in ["release", "alice", "bob", "carol"] {
        k.loaded(name, hint(name));
    }
    k
}

pub(crate) fn eval_result(
    task: &str,
    scorer: &str,
    mean: f64,
    lo: f64,
    log: &str,
) -> EvalResultEvidence {
    EvalResultEvidence {
        task: task.into(),
        scorer: scorer.into(),
        primary: true,
        mean,
        ci95: [lo, (mean + (mean - lo)).min(1.0)],
        n: 200,
        log_digest: format!("sha256:{}", hex(log)),
        signer_hint: Some(hint("release")),
        model_digest: Some(artifact()),
        dataset_digest: format!("sha256:{}", hex("da")),
        dataset_pinned: true,
        dataset_registered: Some(format!("{task}-v1")),
        finished_at: Some(NOW - 2 * DAY),
        verification_failure: None,
    }
}

pub(crate) fn approval(name: &str, role: &str) -> ApprovalEvidence {
    ApprovalEvidence {
        role: role.into(),
        key_hint: hint(name),
        artifact_digest: artifact(),
        verified: true,
        reason: None,
        time: NOW - DAY,
    }
}

/// Evidence that meets every requirement of [`POLICY`] for both stages.
pub(crate) fn good() -> Evidence {
    let mut ev = Evidence::new("demo-model", artifact(), ArtifactState::Staging);
    ev.scan = Some(ScanEvidence {
        artifact_digest: artifact(),
        max_severity: Some(Severity::Low),
        findings: 2,
        errors: 0,
        report_digest: Some(format!("sha256:{}", hex("5c"))),
    });
    ev.signatures.push(SignatureEvidence {
        key_hint: hint("release"),
        manifest_digest: artifact(),
        verified: true,
        reason: None,
    });
    ev.eval_results
        .push(eval_result("arithmetic", "match", 0.85, 0.8, "e1"));
    ev.eval_results
        .push(eval_result("safety-refusals", "refusal", 0.97, 0.93, "e2"));
    ev.approvals.push(approval("alice", "security"));
    ev.approvals.push(approval("bob", "owner"));
    ev.stage_history.push(StageEvent {
        stage: Stage::Staging,
        at: NOW - 3 * DAY,
        ledger_entry: Some("42".into()),
    });
    ev
}

pub(crate) fn check(ev: &Evidence, stage: Stage) -> Verdict {
    evaluate(&policy(), &keys(), stage, ev, NOW)
}

/// The node at `path` in the verdict's tree.
pub(crate) fn node<'v>(v: &'v Verdict, path: &str) -> &'v Node {
    fn find<'n>(n: &'n Node, path: &str) -> Option<&'n Node> {
        if n.path == path {
            return Some(n);
        }
        n.children.iter().find_map(|c| find(c, path))
    }
    match v.requirements.as_ref().and_then(|r| find(r, path)) {
        Some(n) => n,
        None => panic!("no node {path} in {:#?}", v.lines()),
    }
}

/// All details of a node, for `contains` checks.
pub(crate) fn text(n: &Node) -> String {
    n.reasons
        .iter()
        .chain(&n.evidence)
        .cloned()
        .collect::<Vec<_>>()
        .join("\n")
}
