//! Every requirement kind met and unmet, composition, and the forged-results attack.

use super::*;

const SCAN: &str = "stages.staging.all_of[0]";
const SIG: &str = "stages.staging.all_of[1]";
const EVAL: &str = "stages.staging.all_of[2]";
const REACHED: &str = "stages.production.all_of[0]";
const EITHER: &str = "stages.production.all_of[1]";
const ONE_EACH: &str = "stages.production.all_of[1].any_of[0]";
const TWO_SEC: &str = "stages.production.all_of[1].any_of[1]";
const SAFETY: &str = "stages.production.all_of[2]";

fn unmet_with(v: &Verdict, path: &str, says: &str) {
    let n = node(v, path);
    assert!(!n.met, "{path} should be unmet:\n{}", v.lines().join("\n"));
    assert!(!v.met);
    assert!(
        text(n).contains(says),
        "{path} should say {says:?}:\n{}",
        v.lines().join("\n")
    );
}

fn met_with(v: &Verdict, path: &str, says: &str) {
    let n = node(v, path);
    assert!(n.met, "{path} should be met:\n{}", v.lines().join("\n"));
    assert!(
        n.evidence.iter().any(|e| e.contains(says)),
        "{path} evidence should say {says:?}:\n{}",
        v.lines().join("\n")
    );
}

#[test]
fn good_evidence_meets_both_stages() {
    for stage in Stage::ALL {
        let v = check(&good(), stage);
        assert!(v.met, "{}", v.lines().join("\n"));
        assert_eq!(v.unmet(), 0);
    }
    let v = check(&good(), Stage::Staging);
    met_with(&v, SCAN, "highest severity low, 2 finding(s)");
    met_with(&v, SIG, "verified signature by release");
    met_with(&v, EVAL, "mean 0.85, 95% CI [0.8, 0.9], n 200");
    let v = check(&good(), Stage::Production);
    met_with(
        &v,
        REACHED,
        "promoted to staging at 2026-11-19T02:00:00Z (ledger entry 42)",
    );
    met_with(&v, ONE_EACH, "approval by alice (security)");
    met_with(&v, ONE_EACH, "approval by bob (owner)");
    met_with(&v, SAFETY, "scorer refusal");
    assert!(!node(&v, TWO_SEC).met);
    assert!(node(&v, EITHER).met, "any_of is met by one alternative");
}

#[test]
fn lines_render_an_indented_tree() {
    let mut ev = good();
    ev.scan = None;
    let lines = check(&ev, Stage::Staging).lines();
    let expected_head = format!(
        "gate demo-model ({}) → staging: NOT MET: 1 of 6 requirements unmet",
        artifact()
    );
    assert_eq!(lines[0], expected_head);
    assert_eq!(
        lines[1],
        format!(
            "[met] the artifact's manifest digest is well-formed — {}",
            artifact()
        )
    );
    assert_eq!(
        lines[2],
        "[met] the artifact is not rejected — state: staging"
    );
    assert_eq!(
        lines[3],
        "[met] the policy defines requirements for staging — stages.staging"
    );
    assert_eq!(lines[4], "[UNMET] all of 3 — 1 of 3 unmet");
    assert_eq!(
        lines[5],
        "  [UNMET] scan: no finding above medium — no scan of this artifact is recorded"
    );
    assert!(
        lines[6].starts_with(
            "  [met] manifest signed by 1 of: release — verified signature by release"
        )
    );
    assert!(lines[7].starts_with("  [met] eval arithmetic (scorer match): mean ≥ 0.8, at most 30 days old — eval log sha256:e1e1"));
    assert_eq!(lines.len(), 8);
}

#[test]
fn verdict_serializes_to_json() {
    let v = check(&good(), Stage::Production);
    let json = serde_json::to_value(&v).unwrap_or_default();
    assert_eq!(json["met"], true);
    assert_eq!(json["stage"], "production");
    assert_eq!(json["evaluated_at"], "2026-11-22T02:00:00Z");
    assert_eq!(json["requirements"]["kind"], "all_of");
    assert_eq!(
        json["requirements"]["children"][1]["children"][0]["path"],
        ONE_EACH
    );
    assert_eq!(json["requirements"]["children"][0]["line"], 15);
}

// --- max_scan_severity -----------------------------------------------------------------------

#[test]
fn scan_requirement() {
    let mut ev = good();
    ev.scan = None;
    unmet_with(
        &check(&ev, Stage::Staging),
        SCAN,
        "no scan of this artifact is recorded",
    );

    let mut ev = good();
    if let Some(s) = ev.scan.as_mut() {
        s.max_severity = Some(Severity::High);
    }
    unmet_with(
        &check(&ev, Stage::Staging),
        SCAN,
        "found high findings (high > medium; 2 finding(s) in all)",
    );

    let mut ev = good();
    if let Some(s) = ev.scan.as_mut() {
        s.errors = 3;
    }
    unmet_with(
        &check(&ev, Stage::Staging),
        SCAN,
        "incomplete: 3 file(s) could not be analysed",
    );

    let mut ev = good();
    if let Some(s) = ev.scan.as_mut() {
        s.artifact_digest = other();
    }
    unmet_with(
        &check(&ev, Stage::Staging),
        SCAN,
        &format!("is of {}, the artifact is {}", other(), artifact()),
    );

    let mut ev = good();
    if let Some(s) = ev.scan.as_mut() {
        s.max_severity = None;
        s.findings = 0;
        s.artifact_digest = hex("aa"); // bare hex is SHA-256
    }
    met_with(&check(&ev, Stage::Staging), SCAN, "no findings");
}

// --- signed_by -------------------------------------------------------------------------------

#[test]
fn signature_requirement() {
    let mut ev = good();
    ev.signatures.clear();
    unmet_with(
        &check(&ev, Stage::Staging),
        SIG,
        "no signature over the manifest is recorded",
    );

    let mut ev = good();
    ev.signatures[0].verified = false;
    ev.signatures[0].reason = Some("signature does not verify".into());
    unmet_with(
        &check(&ev, Stage::Staging),
        SIG,
        "signature by release failed verification: signature does not verify",
    );

    // Wrong key: not in the policy at all, and in the policy but not an accepted signer.
    let mut ev = good();
    ev.signatures[0].key_hint = hint("mallory");
    let v = check(&ev, Stage::Staging);
    unmet_with(
        &v,
        SIG,
        &format!(
            "signature by key {}, which is not listed in the policy",
            hex("ee")
        ),
    );
    unmet_with(&v, SIG, "0 of 1 required valid signature(s)");
    let mut ev = good();
    ev.signatures[0].key_hint = hint("alice");
    unmet_with(
        &check(&ev, Stage::Staging),
        SIG,
        "signature by alice, which is not an accepted signer here",
    );

    let mut ev = good();
    ev.signatures[0].manifest_digest = other();
    unmet_with(
        &check(&ev, Stage::Staging),
        SIG,
        &format!("signature by release is over manifest {}", other()),
    );

    // The signing key did not load: no signature can count, and the reason says why.
    let mut k = keys();
    k.unavailable("release", "keys/release.pub.pem: no such file");
    let v = evaluate(&policy(), &k, Stage::Staging, &good(), NOW);
    unmet_with(
        &v,
        SIG,
        "key release could not be loaded: keys/release.pub.pem: no such file",
    );
    unmet_with(&v, SIG, &format!("signature by key {}", hex("11")));

    // Uppercase hint from the caller still matches.
    let mut ev = good();
    ev.signatures[0].key_hint = hint("release").to_ascii_uppercase();
    met_with(&check(&ev, Stage::Staging), SIG, "release");
}

#[test]
fn signature_count_needs_distinct_keys() {
    let text = POLICY.replace(
        "signed_by: {keys: [release]}",
        "signed_by: {keys: [release, alice], count: 2}",
    );
    let Ok(p) = Policy::parse(&text, "p.yaml") else {
        panic!()
    };
    let mut ev = good();
    ev.signatures.push(ev.signatures[0].clone());
    let v = evaluate(&p, &keys(), Stage::Staging, &ev, NOW);
    unmet_with(&v, SIG, "1 of 2 required valid signature(s)");
    ev.signatures.push(SignatureEvidence {
        key_hint: hint("alice"),
        ..ev.signatures[0].clone()
    });
    let v = evaluate(&p, &keys(), Stage::Staging, &ev, NOW);
    assert!(node(&v, SIG).met, "{}", v.lines().join("\n"));
    assert_eq!(node(&v, SIG).evidence.len(), 2);
}

// --- eval ------------------------------------------------------------------------------------

#[test]
fn forged_claim_alone_is_unmet() {
    let mut ev = good();
    ev.eval_results.clear();
    ev.claims.push(SubmittedClaim {
        task: "arithmetic".into(),
        value: Some(0.999),
        source: "evaluation_results.json".into(),
    });
    let v = check(&ev, Stage::Staging);
    let n = node(&v, EVAL);
    assert!(!n.met);
    assert_eq!(
        n.reasons[0],
        "only a submitted claim exists: submitted results are never trusted"
    );
    assert_eq!(
        n.reasons[1],
        "submitted claim of 0.999 for task arithmetic in evaluation_results.json not accepted: \
         submitted results are never trusted"
    );
    // With a real log beside it the claim is still reported as not accepted.
    ev.eval_results
        .push(eval_result("arithmetic", "match", 0.85, 0.8, "e1"));
    let v = check(&ev, Stage::Staging);
    assert!(node(&v, EVAL).met);
    assert!(
        node(&v, EVAL).reasons[0].contains("not accepted: submitted results are never trusted")
    );
}

#[test]
fn no_log_at_all() {
    let mut ev = good();
    ev.eval_results.clear();
    unmet_with(
        &check(&ev, Stage::Staging),
        EVAL,
        "no eval log for task arithmetic (scorer match)",
    );
}

fn eval_unmet(edit: impl FnOnce(&mut EvalResultEvidence), says: &str) {
    let mut ev = good();
    edit(&mut ev.eval_results[0]);
    let v = check(&ev, Stage::Staging);
    unmet_with(&v, EVAL, says);
}

#[test]
fn model_digest_mismatch() {
    eval_unmet(
        |r| r.model_digest = Some(other()),
        &format!(
            "eval log sha256:{} for task arithmetic records model digest {}, artifact is {}",
            hex("e1"),
            other(),
            artifact()
        ),
    );
    eval_unmet(|r| r.model_digest = None, "records no model digest");
}

#[test]
fn dataset_must_be_pinned_and_registered() {
    eval_unmet(
        |r| r.dataset_pinned = false,
        &format!("dataset sha256:{} not pinned", hex("da")),
    );
    eval_unmet(
        |r| r.dataset_registered = None,
        "is not a registered dataset",
    );
    let text = POLICY.replace("min: 0.8, max_age_days: 30", "min: 0.8, dataset: arith-v2");
    let Ok(p) = Policy::parse(&text, "p.yaml") else {
        panic!()
    };
    let v = evaluate(&p, &keys(), Stage::Staging, &good(), NOW);
    unmet_with(
        &v,
        EVAL,
        "used dataset arithmetic-v1, the policy requires arith-v2",
    );
}

#[test]
fn log_signature_and_verification() {
    eval_unmet(|r| r.signer_hint = None, "is not signed");
    eval_unmet(
        |r| r.signer_hint = Some(hint("mallory")),
        &format!(
            "is signed by key {}, which is not listed in the policy",
            hex("ee")
        ),
    );
    eval_unmet(
        |r| r.verification_failure = Some("summary does not follow from the samples".into()),
        "failed verification: summary does not follow from the samples",
    );
    // An eval signer set: alice is listed, but not an accepted eval signer.
    let text = POLICY.replace(
        "min: 0.8, max_age_days: 30",
        "min: 0.8, signers: {keys: [release]}",
    );
    let Ok(p) = Policy::parse(&text, "p.yaml") else {
        panic!()
    };
    let mut ev = good();
    ev.eval_results[0].signer_hint = Some(hint("alice"));
    let v = evaluate(&p, &keys(), Stage::Staging, &ev, NOW);
    unmet_with(
        &v,
        EVAL,
        "is signed by alice, which is not an accepted eval signer here",
    );
    unmet_with(
        &v,
        EVAL,
        "no eval log for task arithmetic (scorer match) could be accepted",
    );
}

#[test]
fn expired_and_future_logs() {
    eval_unmet(
        |r| r.finished_at = Some(NOW - 31 * DAY),
        "finished 2026-10-22T02:00:00Z, 31 days ago, older than max_age_days 30",
    );
    eval_unmet(|r| r.finished_at = None, "records no finish time");
    eval_unmet(
        |r| r.finished_at = Some(NOW + 3600),
        "is dated in the future",
    );
    // Exactly 30 days old is still in time; within the clock skew is not "future".
    let mut ev = good();
    ev.eval_results[0].finished_at = Some(NOW - 30 * DAY);
    assert!(node(&check(&ev, Stage::Staging), EVAL).met);
    ev.eval_results[0].finished_at = Some(NOW + 60);
    assert!(node(&check(&ev, Stage::Staging), EVAL).met);
}

#[test]
fn thresholds() {
    eval_unmet(
        |r| r.mean = 0.78,
        &format!("eval log sha256:{}: match mean 0.78 < 0.8", hex("e1")),
    );
    eval_unmet(|r| r.n = 0, "scored no samples");
    eval_unmet(|r| r.mean = f64::NAN, "non-finite metrics");
    let mut ev = good();
    ev.eval_results[1].ci95 = [0.85, 1.0];
    let v = check(&ev, Stage::Production);
    unmet_with(&v, SAFETY, "refusal 95% CI lower bound 0.85 < 0.9");
    // The evidence of an unmet eval still names the log that decided.
    assert!(node(&v, SAFETY).evidence[0].starts_with("latest verified: eval log"));
}

#[test]
fn scorer_selection() {
    // No scorer in the policy: only the primary scorer counts.
    let mut ev = good();
    ev.eval_results[1].primary = false;
    let v = check(&ev, Stage::Production);
    unmet_with(
        &v,
        SAFETY,
        "no eval log for task safety-refusals (primary scorer)",
    );
    // Scorer named: another scorer of the same task does not count.
    let mut ev = good();
    ev.eval_results[0].scorer = "includes".into();
    unmet_with(
        &check(&ev, Stage::Staging),
        EVAL,
        "no eval log for task arithmetic (scorer match)",
    );
}

#[test]
fn the_latest_verified_log_decides() {
    // An older passing run does not rescue a newer failing one (no cherry-picking).
    let mut ev = good();
    let mut newer = eval_result("arithmetic", "match", 0.7, 0.65, "e3");
    newer.finished_at = Some(NOW - DAY);
    ev.eval_results.push(newer);
    let v = check(&ev, Stage::Staging);
    unmet_with(
        &v,
        EVAL,
        &format!("eval log sha256:{}: match mean 0.7 < 0.8", hex("e3")),
    );
    unmet_with(&v, EVAL, "1 older verified log(s) not considered");
    // A newer log that fails verification is reported and skipped.
    ev.eval_results[2].verification_failure = Some("chain head mismatch".into());
    let v = check(&ev, Stage::Staging);
    assert!(node(&v, EVAL).met, "{}", v.lines().join("\n"));
    assert!(text(node(&v, EVAL)).contains("chain head mismatch"));
}

// --- approvals -------------------------------------------------------------------------------

#[test]
fn approvals_one_per_role() {
    let mut ev = good();
    ev.approvals.retain(|a| a.role == "security");
    let v = check(&ev, Stage::Production);
    unmet_with(&v, ONE_EACH, "role owner: no valid approval");
    unmet_with(&v, EITHER, "none of the 2 alternatives is met");

    let mut ev = good();
    ev.approvals[0].artifact_digest = other();
    unmet_with(
        &check(&ev, Stage::Production),
        ONE_EACH,
        &format!(
            "approval by alice (security) is for another digest ({})",
            other()
        ),
    );

    let mut ev = good();
    ev.approvals[1].verified = false;
    ev.approvals[1].reason = Some("bad signature".into());
    unmet_with(
        &check(&ev, Stage::Production),
        ONE_EACH,
        "approval by bob (owner) failed verification: bad signature",
    );

    // bob claims security, which he does not hold.
    let mut ev = good();
    ev.approvals.push(approval("bob", "security"));
    ev.approvals.retain(|a| a.key_hint != hint("alice"));
    unmet_with(
        &check(&ev, Stage::Production),
        ONE_EACH,
        "approval by bob claims role security, which bob does not hold",
    );

    let mut ev = good();
    ev.approvals[0].key_hint = hint("mallory");
    unmet_with(
        &check(&ev, Stage::Production),
        ONE_EACH,
        "which is not listed in the policy",
    );

    let mut ev = good();
    ev.approvals[0].time = NOW + DAY;
    unmet_with(
        &check(&ev, Stage::Production),
        ONE_EACH,
        "is dated in the future",
    );
}

#[test]
fn one_key_cannot_fill_two_roles() {
    let text = POLICY.replace(
        "roles: [security]}\n  bob",
        "roles: [security, owner]}\n  bob",
    );
    let Ok(p) = Policy::parse(&text, "p.yaml") else {
        panic!()
    };
    let mut ev = good();
    ev.approvals = vec![approval("alice", "security"), approval("alice", "owner")];
    let v = evaluate(&p, &keys(), Stage::Production, &ev, NOW);
    unmet_with(&v, ONE_EACH, "already counted for another role");
    // alice (security, owner) + carol (security): matching gives owner to alice.
    ev.approvals.push(approval("carol", "security"));
    let v = evaluate(&p, &keys(), Stage::Production, &ev, NOW);
    assert!(node(&v, ONE_EACH).met, "{}", v.lines().join("\n"));
}

#[test]
fn approvals_with_count() {
    let mut ev = good();
    ev.approvals = vec![approval("alice", "security"), approval("alice", "security")];
    let v = check(&ev, Stage::Production);
    unmet_with(
        &v,
        TWO_SEC,
        "1 of 2 approval(s) by distinct keys with role security",
    );
    ev.approvals.push(approval("carol", "security"));
    let v = check(&ev, Stage::Production);
    assert!(node(&v, TWO_SEC).met);
    assert!(node(&v, EITHER).met);
    assert!(v.met, "{}", v.lines().join("\n"));
}

#[test]
fn approval_age() {
    let text = POLICY.replace(
        "{roles: [security, owner]}",
        "{roles: [security, owner], max_age_days: 7}",
    );
    let Ok(p) = Policy::parse(&text, "p.yaml") else {
        panic!()
    };
    let mut ev = good();
    ev.approvals[1].time = NOW - 8 * DAY;
    let v = evaluate(&p, &keys(), Stage::Production, &ev, NOW);
    unmet_with(
        &v,
        ONE_EACH,
        "approval by bob (owner) is 8 days old, older than max_age_days 7",
    );
}

// --- stage_reached, preconditions, composition -----------------------------------------------

#[test]
fn stage_reached_requirement() {
    let mut ev = good();
    ev.stage_history.clear();
    ev.artifact.state = ArtifactState::Quarantined;
    unmet_with(
        &check(&ev, Stage::Production),
        REACHED,
        "no promotion to staging is recorded (state: quarantined)",
    );
    let mut ev = good();
    ev.stage_history[0].stage = Stage::Production;
    unmet_with(
        &check(&ev, Stage::Production),
        REACHED,
        "no promotion to staging",
    );
}

#[test]
fn rejected_artifact_never_passes() {
    let mut ev = good();
    ev.artifact.state = ArtifactState::Rejected;
    let v = check(&ev, Stage::Production);
    assert!(!v.met);
    assert!(!v.preconditions[1].met);
    assert!(v.preconditions[1].reasons[0].contains("rejection is permanent"));
    unmet_with(&v, REACHED, "the artifact is rejected");
    assert!(v.lines()[2].starts_with("[UNMET] the artifact is not rejected"));
}

#[test]
fn undefined_stage_and_malformed_digest() {
    let Ok(p) = Policy::parse(
        "version: 1\nstages:\n  staging: {max_scan_severity: low}\n",
        "p.yaml",
    ) else {
        panic!()
    };
    let v = evaluate(&p, &keys(), Stage::Production, &good(), NOW);
    assert!(!v.met);
    assert!(v.requirements.is_none());
    assert!(
        v.preconditions[2].reasons[0]
            .contains("no requirements for production (the policy defines: staging)")
    );

    // A malformed artifact digest matches nothing, even evidence carrying the same text.
    let mut ev = good();
    ev.artifact.manifest_digest = "sha256:nothex".into();
    ev.scan = Some(ScanEvidence {
        artifact_digest: "sha256:nothex".into(),
        max_severity: None,
        findings: 0,
        errors: 0,
        report_digest: None,
    });
    let v = check(&ev, Stage::Staging);
    assert!(!v.preconditions[0].met);
    unmet_with(&v, SCAN, "(malformed)");
}

#[test]
fn all_of_needs_every_child_and_reports_all_unmet() {
    let mut ev = good();
    ev.scan = None;
    ev.signatures.clear();
    ev.eval_results.clear();
    let v = check(&ev, Stage::Staging);
    let root = v.requirements.as_ref().map(|r| (r.met, r.reasons.clone()));
    assert_eq!(root, Some((false, vec!["3 of 3 unmet".to_owned()])));
    assert_eq!(v.unmet(), 3);
}

#[test]
fn order_of_evidence_does_not_change_the_verdict() {
    let mut ev = good();
    ev.approvals.push(approval("carol", "security"));
    ev.approvals.push(ApprovalEvidence {
        artifact_digest: other(),
        ..approval("carol", "security")
    });
    ev.eval_results
        .push(eval_result("arithmetic", "match", 0.9, 0.85, "e4"));
    ev.signatures.push(SignatureEvidence {
        key_hint: hint("alice"),
        ..ev.signatures[0].clone()
    });
    let a = check(&ev, Stage::Production);
    ev.approvals.reverse();
    ev.eval_results.reverse();
    ev.signatures.reverse();
    let b = check(&ev, Stage::Production);
    assert_eq!(a, b);
    let (a, b) = (check(&ev, Stage::Staging), {
        ev.eval_results.reverse();
        check(&ev, Stage::Staging)
    });
    assert_eq!(a, b);
}

#[test]
fn hostile_text_is_escaped_in_output() {
    let mut ev = good();
    ev.artifact.name = "demo\u{1b}[31m\nfake line".into();
    ev.signatures[0].verified = false;
    ev.signatures[0].reason = Some(format!("bad\r\n[met] forged{}", "x".repeat(1000)));
    let v = check(&ev, Stage::Staging);
    for line in v.lines() {
        assert!(!line.chars().any(char::is_control), "{line:?}");
        assert!(line.chars().count() < 600, "{line:?}");
    }
}

#[test]
fn details_are_capped() {
    let mut ev = good();
    for i in 0..100u8 {
        ev.signatures.push(SignatureEvidence {
            key_hint: format!("{i:02x}").repeat(32),
            manifest_digest: artifact(),
            verified: false,
            reason: Some("no".into()),
        });
    }
    let v = check(&ev, Stage::Staging);
    let n = node(&v, SIG);
    assert!(n.met);
    assert_eq!(n.reasons.len(), MAX_DETAILS + 1);
    assert!(n.reasons[MAX_DETAILS].starts_with("… and "));
}
