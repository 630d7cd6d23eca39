//! Evaluation never panics, whatever the evidence holds.

use proptest::prelude::*;

use super::*;

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just(artifact()),
        Just(other()),
        Just(hex("aa")),
        Just(hint("release")),
        Just(hint("alice")),
        Just("arithmetic".to_owned()),
        Just("security".to_owned()),
        ".{0,80}",
    ]
}

fn time() -> impl Strategy<Value = i64> {
    prop_oneof![
        Just(i64::MIN),
        Just(i64::MAX),
        Just(NOW),
        (NOW - 100 * DAY)..(NOW + DAY),
        any::<i64>()
    ]
}

fn float() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(-0.0),
        0.0..1.0f64,
        any::<f64>()
    ]
}

prop_compose! {
    fn eval_result_s()(
        (task, scorer, log, signer, model, dataset, registered, why) in (text(), text(), text(), proptest::option::of(text()), proptest::option::of(text()), text(), proptest::option::of(text()), proptest::option::of(text())),
        (primary, pinned, mean, lo, hi, n, at) in (any::<bool>(), any::<bool>(), float(), float(), float(), any::<u64>(), proptest::option::of(time())),
    ) -> EvalResultEvidence {
        EvalResultEvidence {
            task, scorer, primary, mean, ci95: [lo, hi], n, log_digest: log, signer_hint: signer,
            model_digest: model, dataset_digest: dataset, dataset_pinned: pinned,
            dataset_registered: registered, finished_at: at, verification_failure: why,
        }
    }
}

prop_compose! {
    fn evidence_s()(
        name in text(), digest in text(), state in 0u8..4,
        scan in proptest::option::of((text(), proptest::option::of(0usize..5), any::<u64>(), any::<u64>(), proptest::option::of(text()))),
        sigs in proptest::collection::vec((text(), text(), any::<bool>(), proptest::option::of(text())), 0..6),
        evals in proptest::collection::vec(eval_result_s(), 0..6),
        approvals in proptest::collection::vec((text(), text(), text(), any::<bool>(), time()), 0..6),
        claims in proptest::collection::vec((text(), proptest::option::of(float())), 0..3),
        history in proptest::collection::vec((any::<bool>(), time()), 0..3),
    ) -> Evidence {
        let state = [ArtifactState::Quarantined, ArtifactState::Staging, ArtifactState::Production, ArtifactState::Rejected][usize::from(state)];
        let mut ev = Evidence::new(name, digest, state);
        ev.scan = scan.map(|(d, sev, findings, errors, report)| ScanEvidence {
            artifact_digest: d, max_severity: sev.map(|i| Severity::ALL[i]), findings, errors, report_digest: report,
        });
        ev.signatures = sigs.into_iter().map(|(key_hint, manifest_digest, verified, reason)| SignatureEvidence { key_hint, manifest_digest, verified, reason }).collect();
        ev.eval_results = evals;
        ev.approvals = approvals.into_iter().map(|(role, key_hint, artifact_digest, verified, time)| ApprovalEvidence { role, key_hint, artifact_digest, verified, reason: None, time }).collect();
        ev.claims = claims.into_iter().map(|(task, value)| SubmittedClaim { task, value, source: "results.json".into() }).collect();
        ev.stage_history = history.into_iter().map(|(s, at)| StageEvent { stage: if s { Stage::Staging } else { Stage::Production }, at, ledger_entry: None }).collect();
        ev
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn evaluation_never_panics(ev in evidence_s(), now in time(), production in any::<bool>()) {
        let stage = if production { Stage::Production } else { Stage::Staging };
        let v = evaluate(&policy(), &keys(), stage, &ev, now);
        let lines = v.lines();
        prop_assert!(!lines.is_empty());
        prop_assert!(serde_json::to_string(&v).is_ok());
        // A met verdict always rests on a well-formed digest and a non-rejected artifact.
        if v.met {
            prop_assert!(ev.artifact.state != ArtifactState::Rejected);
        }
    }

    #[test]
    fn policy_parsing_never_panics(text in ".{0,400}") {
        let _ = Policy::parse(&text, "p.yaml");
    }

    #[test]
    fn rfc3339_never_panics(text in ".{0,40}", secs in any::<i64>()) {
        let _ = parse_rfc3339(&text);
        let _ = format_rfc3339(secs);
    }
}
