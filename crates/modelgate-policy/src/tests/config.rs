//! Policy parsing and validation: every error names the field's path and its line.

use super::*;

fn err(text: &str) -> PolicyError {
    match Policy::parse(text, "p.yaml") {
        Ok(p) => panic!("expected an error, parsed {p:?}"),
        Err(e) => e,
    }
}

fn with_stages(stages: &str) -> String {
    format!(
        "version: 1\nkeys:\n  release: {{public_key: r.pem, roles: [signer]}}\n  alice: {{public_key: a.pem, roles: [security, owner]}}\nstages:\n{stages}"
    )
}

#[test]
fn example_policy_parses_with_paths_lines_and_key_table() {
    let p = policy();
    let names: Vec<&str> = p.keys().keys().map(String::as_str).collect();
    assert_eq!(names, ["alice", "bob", "carol", "release"]);
    let alice = &p.keys()["alice"];
    assert_eq!(alice.public_key, "keys/alice.pub.pem");
    assert!(alice.roles.contains("security"));
    assert_eq!(alice.line, Some(4));
    assert_eq!(
        p.stages().collect::<Vec<_>>(),
        [Stage::Staging, Stage::Production]
    );
    let Some(prod) = p.requirement(Stage::Production) else {
        panic!("no production")
    };
    assert_eq!(prod.path, "stages.production");
    let RequirementKind::AllOf(children) = &prod.kind else {
        panic!("not all_of")
    };
    assert_eq!(children[1].path, "stages.production.all_of[1]");
    assert_eq!(children[1].line, Some(16));
    let RequirementKind::AnyOf(alts) = &children[1].kind else {
        panic!("not any_of")
    };
    assert_eq!(alts[1].path, "stages.production.all_of[1].any_of[1]");
    let RequirementKind::Approvals(a) = &alts[1].kind else {
        panic!("not approvals")
    };
    assert_eq!(
        (a.roles.clone(), a.count),
        (vec!["security".to_owned()], Some(2))
    );
    let RequirementKind::Eval(e) = &children[2].kind else {
        panic!("not eval")
    };
    assert_eq!(
        (e.min, e.ci_lower_min, e.scorer.as_deref()),
        (Some(0.95), Some(0.9), None)
    );
    let Some(staging) = p.requirement(Stage::Staging) else {
        panic!("no staging")
    };
    let RequirementKind::AllOf(children) = &staging.kind else {
        panic!("not all_of")
    };
    let RequirementKind::SignedBy(s) = &children[1].kind else {
        panic!("not signed_by")
    };
    assert_eq!(s.count, 1);
    assert_eq!(s.signers.resolved.iter().collect::<Vec<_>>(), ["release"]);
}

#[test]
fn signers_by_role_resolve_to_holders() {
    let p = Policy::parse(
        &with_stages("  staging:\n    signed_by: {roles: [security], keys: [release], count: 2}\n"),
        "p.yaml",
    );
    let Ok(p) = p else { panic!("{p:?}") };
    let Some(r) = p.requirement(Stage::Staging) else {
        panic!()
    };
    let RequirementKind::SignedBy(s) = &r.kind else {
        panic!()
    };
    assert_eq!(
        s.signers.resolved.iter().collect::<Vec<_>>(),
        ["alice", "release"]
    );
    assert_eq!(s.count, 2);
}

#[test]
fn parse_errors_carry_line_and_column() {
    // Unknown field inside a requirement.
    let e = err(
        "version: 1\nstages:\n  staging:\n    all_of:\n      - eval: {task: a, min: 0.5, extra: 1}\n",
    );
    assert_eq!((e.line, e.column), (Some(5), Some(35)));
    assert!(
        matches!(&e.kind, PolicyErrorKind::Parse(m) if m.starts_with("unknown field `extra`")),
        "{e}"
    );
    assert!(
        e.to_string()
            .starts_with("p.yaml:5:35: unknown field `extra`"),
        "{e}"
    );
    // Unknown requirement kind.
    let e = err(
        "version: 1\nstages:\n  staging:\n    all_of:\n      - max_scan_severity: low\n      - bogus: 1\n",
    );
    assert_eq!(e.line, Some(6));
    assert!(e.to_string().contains("unknown variant `bogus`"), "{e}");
    // Unknown stage name, unknown severity, unknown top-level field.
    assert_eq!(
        err("version: 1\nstages:\n  prod:\n    max_scan_severity: low\n").line,
        Some(3)
    );
    let e = err("version: 1\nstages:\n  staging:\n    max_scan_severity: severe\n");
    assert_eq!(e.line, Some(4));
    assert!(e.to_string().contains("severe"), "{e}");
    assert_eq!(err("version: 1\nstagse: {}\n").line, Some(2));
    // Wrong type.
    let e = err("version: 1\nstages:\n  staging:\n    eval: {task: a, min: high}\n");
    assert_eq!(e.line, Some(4));
    // Duplicate key: no programmer advice in the message.
    let e = err("version: 1\nversion: 1\n");
    assert_eq!(e.line, Some(2));
    assert!(
        e.to_string().ends_with("duplicate mapping key: version"),
        "{e}"
    );
    // Not YAML at all.
    assert!(matches!(
        err("version: [1\n").kind,
        PolicyErrorKind::Parse(_)
    ));
}

#[test]
fn oversized_policy_is_refused_before_parsing() {
    let text = format!("version: 1\n#{}\n", "x".repeat(MAX_POLICY_BYTES));
    assert!(matches!(err(&text).kind, PolicyErrorKind::TooLarge { .. }));
}

fn invalid(text: &str, field: &str, line: u64, says: &str) {
    let e = err(text);
    assert!(matches!(e.kind, PolicyErrorKind::Invalid(_)), "{e}");
    assert_eq!(e.field.as_deref(), Some(field), "{e}");
    assert_eq!(e.line, Some(line), "{e}");
    assert!(e.to_string().contains(says), "{e}");
    assert!(e.to_string().starts_with(&format!("p.yaml:{line}")), "{e}");
}

#[test]
fn threshold_out_of_range_names_the_path_and_line() {
    let text = POLICY.replace("min: 0.95", "min: 1.5");
    let Err(e) = Policy::parse(&text, "policy.yaml") else {
        panic!("accepted min 1.5")
    };
    assert_eq!(
        e.field.as_deref(),
        Some("stages.production.all_of[2].eval.min")
    );
    assert_eq!(e.line, Some(19));
    assert_eq!(
        e.to_string(),
        "policy.yaml:19: stages.production.all_of[2].eval.min: threshold 1.5 is outside [0, 1]"
    );
    invalid(
        &with_stages("  staging:\n    eval: {task: a, ci_lower_min: .nan}\n"),
        "stages.staging.eval.ci_lower_min",
        7,
        "outside [0, 1]",
    );
    invalid(
        &with_stages("  staging:\n    eval:\n      task: a\n      min: -0.1\n"),
        "stages.staging.eval.min",
        9,
        "threshold -0.1",
    );
}

#[test]
fn unknown_key_and_role_references() {
    invalid(
        &with_stages("  staging:\n    all_of:\n      - signed_by: {keys: [relase]}\n"),
        "stages.staging.all_of[0].signed_by.keys[0]",
        8,
        "unknown key `relase` (the key table has: alice, release)",
    );
    invalid(
        &with_stages("  staging:\n    all_of:\n      - approvals: {roles: [auditor]}\n"),
        "stages.staging.all_of[0].approvals.roles[0]",
        8,
        "no key in the key table holds role `auditor`",
    );
    invalid(
        &with_stages("  staging:\n    eval: {task: a, min: 0.5, signers: {keys: [nobody]}}\n"),
        "stages.staging.eval.signers.keys[0]",
        7,
        "unknown key `nobody`",
    );
    invalid(
        &with_stages("  staging:\n    signed_by: {}\n"),
        "stages.staging.signed_by",
        7,
        "name at least one key",
    );
}

#[test]
fn empty_compositions_are_refused() {
    invalid(
        &with_stages("  staging:\n    all_of: []\n"),
        "stages.staging",
        7,
        "empty all_of/any_of",
    );
    invalid(
        &with_stages(
            "  staging:\n    all_of:\n      - max_scan_severity: low\n      - any_of: []\n",
        ),
        "stages.staging.all_of[1]",
        9,
        "list at least one requirement",
    );
}

#[test]
fn stage_reached_cycles_and_unknown_stages() {
    invalid(
        &with_stages("  staging:\n    stage_reached: staging\n"),
        "stages.staging.stage_reached",
        7,
        "a cycle",
    );
    invalid(
        &with_stages(
            "  staging:\n    all_of:\n      - stage_reached: production\n  production:\n    stage_reached: staging\n",
        ),
        "stages.staging.all_of[0].stage_reached",
        8,
        "a cycle: a stage can only require an earlier one",
    );
    invalid(
        &with_stages("  production:\n    stage_reached: staging\n"),
        "stages.production.stage_reached",
        7,
        "unknown stage `staging`",
    );
}

#[test]
fn unsatisfiable_counts_and_roles() {
    invalid(
        &with_stages("  staging:\n    signed_by: {keys: [release], count: 2}\n"),
        "stages.staging.signed_by.count",
        7,
        "only 1 key(s) qualify",
    );
    invalid(
        &with_stages("  staging:\n    approvals: {roles: [security], count: 0}\n"),
        "stages.staging.approvals.count",
        7,
        "count must be 1-64",
    );
    // alice alone holds both roles; each role needs its own approver.
    invalid(
        &with_stages("  staging:\n    approvals: {roles: [security, owner]}\n"),
        "stages.staging.approvals.roles",
        7,
        "too few distinct keys",
    );
    invalid(
        &with_stages("  staging:\n    approvals: {roles: [owner, owner]}\n"),
        "stages.staging.approvals.roles[1]",
        7,
        "use `count`",
    );
}

#[test]
fn other_validation_errors() {
    invalid(
        "version: 2\nstages: {}\n",
        "version",
        1,
        "unsupported version 2",
    );
    invalid(
        "version: 1\nstages: {}\n",
        "stages",
        2,
        "no stage is defined",
    );
    invalid(
        &with_stages("  staging:\n    eval: {task: arithmetic}\n"),
        "stages.staging.eval",
        7,
        "without a threshold",
    );
    invalid(
        &with_stages("  staging:\n    eval: {task: a, min: 0.5, max_age_days: 0}\n"),
        "stages.staging.eval.max_age_days",
        7,
        "max_age_days must be",
    );
    invalid(
        &with_stages("  staging:\n    eval: {task: '', min: 0.5}\n"),
        "stages.staging.eval.task",
        7,
        "must not be empty",
    );
    invalid(
        "version: 1\nkeys:\n  'bad key': {public_key: k.pem}\nstages:\n  staging: {max_scan_severity: low}\n",
        "keys.bad key",
        3,
        "key name `bad key`",
    );
    invalid(
        "version: 1\nstages:\n  staging:\n    eval: {task: a, min: 0.5}\n",
        "stages.staging.eval",
        4,
        "the table is empty",
    );
}

#[test]
fn nesting_and_size_are_capped() {
    let mut body = String::from("max_scan_severity: low");
    for _ in 0..MAX_DEPTH {
        body = format!("{{all_of: [{body}]}}");
    }
    let text = format!("version: 1\nstages:\n  staging: {body}\n");
    let e = err(&text);
    assert!(e.to_string().contains("nested deeper than 16"), "{e}");
    assert!(
        e.field
            .as_deref()
            .is_some_and(|f| f.ends_with(".all_of[0]")),
        "{e}"
    );

    let many: Vec<&str> = vec!["{max_scan_severity: low}"; MAX_REQUIREMENTS + 1];
    let text = format!(
        "version: 1\nstages:\n  staging: {{all_of: [{}]}}\n",
        many.join(", ")
    );
    assert!(
        err(&text)
            .to_string()
            .contains("more than 1024 requirements")
    );
}
