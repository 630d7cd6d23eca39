//! Evaluation: one pure function from (policy, key hints, stage, evidence, now) to a
//! [`Verdict`]. Every requirement is evaluated (no short-circuit), so the verdict lists every
//! unmet piece at once. Evidence that failed verification is never counted; it appears as a
//! reason. Output order depends only on the inputs' content, never on their order.

use std::collections::{BTreeMap, BTreeSet};

use modelgate_core::Severity;

use crate::config::{
    Approvals, EvalRequirement, Policy, Requirement, RequirementKind, SignedBy, Signers, Stage,
};
use crate::evidence::{
    ApprovalEvidence, ArtifactState, EvalResultEvidence, Evidence, KeyHints, KeyStatus,
    normalize_digest, same_digest,
};
use crate::time::format_rfc3339;
use crate::verdict::{Details, Node, Verdict};

/// Tolerated clock skew: a log or approval dated more than this after `now` is not counted.
pub const CLOCK_SKEW_SECS: i64 = 300;

/// Longest piece of caller- or submitter-supplied text echoed in a verdict.
const MAX_ECHO_CHARS: usize = 160;

/// Evaluates the requirements `policy` sets for promoting the artifact in `evidence` to
/// `stage`, as of `now` (Unix seconds). `keys` holds the caller's result of loading the policy's
/// key table. Never fails: whatever is missing or unverifiable is an unmet requirement with its
/// reason.
pub fn evaluate(
    policy: &Policy,
    keys: &KeyHints,
    stage: Stage,
    evidence: &Evidence,
    now: i64,
) -> Verdict {
    let artifact_digest = normalize_digest(&evidence.artifact.manifest_digest);
    let mut by_hint: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for name in policy.keys().keys() {
        if let Some(h) = keys.hint(name) {
            by_hint.entry(h.to_owned()).or_default().push(name.clone());
        }
    }
    let cx = Cx {
        policy,
        keys,
        ev: evidence,
        now,
        artifact: artifact_digest.clone(),
        by_hint,
    };

    let mut preconditions = Vec::new();
    let mut p = Node::new(
        "precondition",
        "the artifact's manifest digest is well-formed".into(),
        String::new(),
        None,
    );
    match &artifact_digest {
        Some(d) => {
            p.met = true;
            p.evidence.push(d.clone());
        }
        None => p.reasons.push(format!(
            "`{}` is not algorithm:hex, so no evidence can be matched to it",
            clean(&evidence.artifact.manifest_digest)
        )),
    }
    preconditions.push(p);
    let mut p = Node::new(
        "precondition",
        "the artifact is not rejected".into(),
        String::new(),
        None,
    );
    if evidence.artifact.state == ArtifactState::Rejected {
        p.reasons
            .push("the artifact is rejected; rejection is permanent for its digest".into());
    } else {
        p.met = true;
        p.evidence
            .push(format!("state: {}", evidence.artifact.state.as_str()));
    }
    preconditions.push(p);
    let mut p = Node::new(
        "precondition",
        format!("the policy defines requirements for {stage}"),
        String::new(),
        None,
    );
    let requirements = if let Some(req) = policy.requirement(stage) {
        p.met = true;
        p.evidence.push(req.path.clone());
        Some(cx.node(req))
    } else {
        let defined: Vec<&str> = policy.stages().map(Stage::as_str).collect();
        p.reasons.push(format!(
            "no requirements for {stage} (the policy defines: {}); nothing is promoted \
             without a policy",
            defined.join(", ")
        ));
        None
    };
    preconditions.push(p);
    let met = preconditions.iter().all(|n| n.met) && requirements.as_ref().is_some_and(|n| n.met);
    Verdict {
        artifact: clean(&evidence.artifact.name),
        manifest_digest: clean(&evidence.artifact.manifest_digest),
        stage,
        evaluated_at: format_rfc3339(now),
        met,
        preconditions,
        requirements,
    }
}

/// Escapes control and invisible characters and truncates echoed text.
pub(crate) fn clean(s: &str) -> String {
    let mut out = modelgate_core::sanitize_evidence(s);
    if out.chars().count() > MAX_ECHO_CHARS {
        out = out.chars().take(MAX_ECHO_CHARS).collect();
        out.push('…');
    }
    out
}

/// A digest for display: normalized when well-formed, else escaped and marked.
pub(crate) fn show_digest(d: &str) -> String {
    normalize_digest(d).unwrap_or_else(|| format!("`{}` (malformed)", clean(d)))
}

/// A score for display: up to four decimals.
fn score(x: f64) -> String {
    if !x.is_finite() {
        return x.to_string();
    }
    let r = (x * 10_000.0).round() / 10_000.0;
    if (r - x).abs() < f64::EPSILON {
        format!("{r}")
    } else {
        format!("{x:.4}")
    }
}

fn days(secs: i64) -> i64 {
    secs / 86_400
}

struct Cx<'a> {
    policy: &'a Policy,
    keys: &'a KeyHints,
    ev: &'a Evidence,
    now: i64,
    /// The artifact's normalized manifest digest.
    artifact: Option<String>,
    /// Loaded key hint → the policy key names with that hint.
    by_hint: BTreeMap<String, Vec<String>>,
}

impl Cx<'_> {
    fn artifact_is(&self, d: &str) -> bool {
        self.artifact.as_deref().is_some_and(|a| same_digest(a, d))
    }

    fn artifact_shown(&self) -> String {
        show_digest(&self.ev.artifact.manifest_digest)
    }

    /// Names for a key hint: `alice`, or `key <hint> (not in the policy)`.
    fn who(&self, hint: &str) -> String {
        match self.by_hint.get(&hint.to_ascii_lowercase()) {
            Some(names) => names.join("/"),
            None => format!("key {}", clean(hint)),
        }
    }

    fn names_of(&self, hint: &str) -> Option<&Vec<String>> {
        self.by_hint.get(&hint.to_ascii_lowercase())
    }

    /// Hints of the loaded keys in `names`, plus a reason for each one that did not load.
    fn hints_of(&self, names: &BTreeSet<String>, reasons: &mut Details) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for name in names {
            match self.keys.get(name) {
                Some(KeyStatus::Loaded(h)) => {
                    out.insert(h.clone());
                }
                Some(KeyStatus::Unavailable(why)) => {
                    reasons.push(format!("key {name} could not be loaded: {}", clean(why)));
                }
                None => reasons.push(format!("key {name} was not loaded")),
            }
        }
        out
    }

    fn node(&self, req: &Requirement) -> Node {
        match &req.kind {
            RequirementKind::AllOf(children) | RequirementKind::AnyOf(children) => {
                let all = matches!(req.kind, RequirementKind::AllOf(_));
                let children: Vec<Node> = children.iter().map(|c| self.node(c)).collect();
                let met_count = children.iter().filter(|c| c.met).count();
                let n = children.len();
                let mut node = Node::new(
                    req.kind.keyword(),
                    format!("{} of {n}", if all { "all" } else { "any" }),
                    req.path.clone(),
                    req.line,
                );
                node.met = if all { met_count == n } else { met_count > 0 };
                if node.met {
                    node.evidence.push(format!("{met_count} of {n} met"));
                } else if all {
                    node.reasons.push(format!("{} of {n} unmet", n - met_count));
                } else {
                    node.reasons
                        .push(format!("none of the {n} alternatives is met"));
                }
                node.children = children;
                node
            }
            RequirementKind::MaxScanSeverity(limit) => self.scan(req, *limit),
            RequirementKind::SignedBy(s) => self.signed_by(req, s),
            RequirementKind::Eval(e) => self.eval(req, e),
            RequirementKind::Approvals(a) => self.approvals(req, a),
            RequirementKind::StageReached(s) => self.stage_reached(req, *s),
        }
    }

    fn scan(&self, req: &Requirement, limit: Severity) -> Node {
        let mut node = Node::new(
            "max_scan_severity",
            format!("scan: no finding above {limit}"),
            req.path.clone(),
            req.line,
        );
        let Some(scan) = &self.ev.scan else {
            node.reasons
                .push("no scan of this artifact is recorded".into());
            return node;
        };
        let report = scan.report_digest.as_deref().map_or_else(
            || "scan".to_owned(),
            |d| format!("scan report {}", show_digest(d)),
        );
        if !self.artifact_is(&scan.artifact_digest) {
            node.reasons.push(format!(
                "the {report} is of {}, the artifact is {}",
                show_digest(&scan.artifact_digest),
                self.artifact_shown()
            ));
        } else if scan.errors > 0 {
            node.reasons.push(format!(
                "the {report} is incomplete: {} file(s) could not be analysed",
                scan.errors
            ));
        } else {
            match scan.max_severity {
                Some(sev) if sev > limit => node.reasons.push(format!(
                    "the {report} found {sev} findings ({sev} > {limit}; {} finding(s) in all)",
                    scan.findings
                )),
                Some(sev) => {
                    node.met = true;
                    node.evidence.push(format!(
                        "{report}: highest severity {sev}, {} finding(s)",
                        scan.findings
                    ));
                }
                None => {
                    node.met = true;
                    node.evidence.push(format!("{report}: no findings"));
                }
            }
        }
        node
    }

    fn signed_by(&self, req: &Requirement, s: &SignedBy) -> Node {
        let mut node = Node::new(
            "signed_by",
            format!(
                "manifest signed by {} of: {}",
                s.count,
                describe_signers(&s.signers)
            ),
            req.path.clone(),
            req.line,
        );
        let mut reasons = Details::default();
        let accepted_hints = self.hints_of(&s.signers.resolved, &mut reasons);
        let mut sigs: Vec<_> = self.ev.signatures.iter().collect();
        sigs.sort_by(|a, b| {
            (&a.key_hint, &a.manifest_digest, a.verified, &a.reason).cmp(&(
                &b.key_hint,
                &b.manifest_digest,
                b.verified,
                &b.reason,
            ))
        });
        let mut counted = BTreeSet::new();
        let mut evidence = Details::default();
        for sig in sigs {
            let hint = sig.key_hint.to_ascii_lowercase();
            let who = self.who(&hint);
            if !sig.verified {
                reasons.push(format!(
                    "signature by {who} failed verification: {}",
                    clean(sig.reason.as_deref().unwrap_or("no reason given"))
                ));
            } else if !self.artifact_is(&sig.manifest_digest) {
                reasons.push(format!(
                    "signature by {who} is over manifest {}, the artifact is {}",
                    show_digest(&sig.manifest_digest),
                    self.artifact_shown()
                ));
            } else if !accepted_hints.contains(&hint) {
                reasons.push(match self.names_of(&hint) {
                    Some(_) => format!("signature by {who}, which is not an accepted signer here"),
                    None => format!("signature by {who}, which is not listed in the policy"),
                });
            } else if counted.insert(hint) {
                evidence.push(format!(
                    "verified signature by {who} over {}",
                    self.artifact_shown()
                ));
            }
        }
        node.met = counted.len() >= s.count as usize;
        let mut reasons = reasons.finish();
        if !node.met {
            let head = if self.ev.signatures.is_empty() {
                "no signature over the manifest is recorded".to_owned()
            } else {
                format!(
                    "{} of {} required valid signature(s)",
                    counted.len(),
                    s.count
                )
            };
            reasons.insert(0, head);
        }
        node.evidence = evidence.finish();
        node.reasons = reasons;
        node
    }

    /// Why a log's result may not be counted, if it may not.
    fn reject_log(
        &self,
        e: &EvalRequirement,
        r: &EvalResultEvidence,
        signers: &BTreeSet<String>,
    ) -> Option<String> {
        let log = format!("eval log {}", show_digest(&r.log_digest));
        if let Some(why) = &r.verification_failure {
            return Some(format!("{log} failed verification: {}", clean(why)));
        }
        let Some(hint) = &r.signer_hint else {
            return Some(format!("{log} is not signed"));
        };
        let hint = hint.to_ascii_lowercase();
        if !signers.contains(&hint) {
            return Some(match self.names_of(&hint) {
                Some(_) => format!(
                    "{log} is signed by {}, which is not an accepted eval signer here",
                    self.who(&hint)
                ),
                None => format!(
                    "{log} is signed by {}, which is not listed in the policy",
                    self.who(&hint)
                ),
            });
        }
        let Some(model) = &r.model_digest else {
            return Some(format!("{log} records no model digest"));
        };
        if !self.artifact_is(model) {
            return Some(format!(
                "{log} for task {} records model digest {}, artifact is {}",
                clean(&r.task),
                show_digest(model),
                self.artifact_shown()
            ));
        }
        let dataset = show_digest(&r.dataset_digest);
        if !r.dataset_pinned {
            return Some(format!("{log}: dataset {dataset} not pinned"));
        }
        let Some(registered) = &r.dataset_registered else {
            return Some(format!(
                "{log}: dataset {dataset} is not a registered dataset"
            ));
        };
        if let Some(want) = &e.dataset
            && registered != want
        {
            return Some(format!(
                "{log} used dataset {}, the policy requires {}",
                clean(registered),
                clean(want)
            ));
        }
        match r.finished_at {
            Some(t) if t > self.now.saturating_add(CLOCK_SKEW_SECS) => {
                return Some(format!(
                    "{log} is dated in the future ({})",
                    format_rfc3339(t)
                ));
            }
            Some(t) => {
                if let Some(max) = e.max_age_days {
                    let age = self.now.saturating_sub(t);
                    if age > i64::from(max) * 86_400 {
                        return Some(format!(
                            "{log} finished {}, {} days ago, older than max_age_days {max}",
                            format_rfc3339(t),
                            days(age)
                        ));
                    }
                }
            }
            None if e.max_age_days.is_some() => {
                return Some(format!(
                    "{log} records no finish time, so its age cannot be checked"
                ));
            }
            None => {}
        }
        if r.n == 0 {
            return Some(format!("{log} scored no samples"));
        }
        if !(r.mean.is_finite() && r.ci95[0].is_finite() && r.ci95[1].is_finite()) {
            return Some(format!("{log} has non-finite metrics"));
        }
        None
    }

    fn eval(&self, req: &Requirement, e: &EvalRequirement) -> Node {
        let mut want = Vec::new();
        if let Some(min) = e.min {
            want.push(format!("mean ≥ {}", score(min)));
        }
        if let Some(ci) = e.ci_lower_min {
            want.push(format!("95% CI lower bound ≥ {}", score(ci)));
        }
        if let Some(n) = e.min_samples {
            want.push(format!("n ≥ {n}"));
        }
        if let Some(d) = e.max_age_days {
            want.push(format!("at most {d} days old"));
        }
        let scorer = e
            .scorer
            .as_deref()
            .map_or_else(|| "primary scorer".to_owned(), |s| format!("scorer {s}"));
        let mut node = Node::new(
            "eval",
            format!("eval {} ({scorer}): {}", e.task, want.join(", ")),
            req.path.clone(),
            req.line,
        );
        let mut reasons = Details::default();
        let all_names: BTreeSet<String> = self.policy.keys().keys().cloned().collect();
        let signer_names = e.signers.as_ref().map_or(&all_names, |s| &s.resolved);
        // Unavailable keys matter only when a named signer set is required; with "any key in the
        // table", a key that did not load is simply not a signer.
        let mut key_notes = Details::default();
        let signers = self.hints_of(signer_names, &mut key_notes);
        if e.signers.is_some() {
            for n in key_notes.finish() {
                reasons.push(n);
            }
        }
        let mut candidates: Vec<&EvalResultEvidence> = self
            .ev
            .eval_results
            .iter()
            .filter(|r| r.task == e.task && e.scorer.as_ref().map_or(r.primary, |s| &r.scorer == s))
            .collect();
        // Latest first; ties broken by content so the order never depends on the input's.
        candidates.sort_by(|a, b| {
            b.finished_at
                .cmp(&a.finished_at)
                .then_with(|| a.log_digest.cmp(&b.log_digest))
                .then_with(|| a.scorer.cmp(&b.scorer))
                .then_with(|| a.mean.total_cmp(&b.mean))
        });
        let mut accepted = Vec::new();
        for r in &candidates {
            match self.reject_log(e, r, &signers) {
                Some(why) => reasons.push(why),
                None => accepted.push(*r),
            }
        }
        let claims: Vec<_> = {
            let mut c: Vec<_> = self.ev.claims.iter().filter(|c| c.task == e.task).collect();
            c.sort_by(|a, b| {
                a.source
                    .cmp(&b.source)
                    .then_with(|| a.value.map(f64::to_bits).cmp(&b.value.map(f64::to_bits)))
            });
            c
        };
        for c in &claims {
            let value = c
                .value
                .map_or_else(String::new, |v| format!(" of {}", score(v)));
            reasons.push(format!(
                "submitted claim{value} for task {} in {} not accepted: submitted results are \
                 never trusted",
                clean(&c.task),
                clean(&c.source)
            ));
        }
        let mut reasons = reasons.finish();
        if let Some(r) = accepted.first() {
            let log = format!("eval log {}", show_digest(&r.log_digest));
            let mut failed = Vec::new();
            if let Some(ms) = e.min_samples
                && r.n < ms
            {
                failed.push(format!("{log}: n {} < min_samples {ms}", r.n));
            }
            if let Some(min) = e.min
                && r.mean < min
            {
                failed.push(format!(
                    "{log}: {} mean {} < {}",
                    clean(&r.scorer),
                    score(r.mean),
                    score(min)
                ));
            }
            if let Some(ci) = e.ci_lower_min
                && r.ci95[0] < ci
            {
                failed.push(format!(
                    "{log}: {} 95% CI lower bound {} < {}",
                    clean(&r.scorer),
                    score(r.ci95[0]),
                    score(ci)
                ));
            }
            let superseded = (accepted.len() > 1).then(|| {
                format!(
                    "{} older verified log(s) not considered: the latest verified log decides",
                    accepted.len() - 1
                )
            });
            let signer = r
                .signer_hint
                .as_deref()
                .map_or_else(String::new, |h| self.who(h));
            let detail = format!(
                "{log} (task {}, scorer {}, signed by {signer}, dataset {} {}{}): mean {}, 95% CI [{}, {}], n {}",
                clean(&r.task),
                clean(&r.scorer),
                clean(r.dataset_registered.as_deref().unwrap_or_default()),
                show_digest(&r.dataset_digest),
                r.finished_at
                    .map_or_else(String::new, |t| format!(", finished {}", format_rfc3339(t))),
                score(r.mean),
                score(r.ci95[0]),
                score(r.ci95[1]),
                r.n
            );
            node.met = failed.is_empty();
            if node.met {
                node.evidence.push(detail);
            } else {
                node.evidence.push(format!("latest verified: {detail}"));
            }
            failed.extend(superseded);
            failed.append(&mut reasons);
            reasons = failed;
        } else {
            let head = if candidates.is_empty() && !claims.is_empty() {
                "only a submitted claim exists: submitted results are never trusted".to_owned()
            } else if candidates.is_empty() {
                format!("no eval log for task {} ({scorer})", clean(&e.task))
            } else {
                format!(
                    "no eval log for task {} ({scorer}) could be accepted",
                    clean(&e.task)
                )
            };
            reasons.insert(0, head);
        }
        node.reasons = reasons;
        node
    }

    /// Why an approval may not be counted toward `a`, if it may not; `Ok(None)` when it is not
    /// for one of the requirement's roles (not relevant, not reported).
    fn reject_approval(&self, a: &Approvals, ap: &ApprovalEvidence) -> Result<(), Option<String>> {
        if !a.roles.contains(&ap.role) {
            return Err(None);
        }
        let hint = ap.key_hint.to_ascii_lowercase();
        let who = self.who(&hint);
        let role = clean(&ap.role);
        if !ap.verified {
            return Err(Some(format!(
                "approval by {who} ({role}) failed verification: {}",
                clean(ap.reason.as_deref().unwrap_or("no reason given"))
            )));
        }
        let Some(names) = self.names_of(&hint) else {
            return Err(Some(format!(
                "approval ({role}) signed by {who}, which is not listed in the policy"
            )));
        };
        let holds = names.iter().any(|n| {
            self.policy
                .keys()
                .get(n)
                .is_some_and(|k| k.roles.contains(&ap.role))
        });
        if !holds {
            return Err(Some(format!(
                "approval by {who} claims role {role}, which {who} does not hold"
            )));
        }
        if !self.artifact_is(&ap.artifact_digest) {
            return Err(Some(format!(
                "approval by {who} ({role}) is for another digest ({})",
                show_digest(&ap.artifact_digest)
            )));
        }
        if ap.time > self.now.saturating_add(CLOCK_SKEW_SECS) {
            return Err(Some(format!(
                "approval by {who} ({role}) is dated in the future ({})",
                format_rfc3339(ap.time)
            )));
        }
        if let Some(max) = a.max_age_days {
            let age = self.now.saturating_sub(ap.time);
            if age > i64::from(max) * 86_400 {
                return Err(Some(format!(
                    "approval by {who} ({role}) is {} days old, older than max_age_days {max}",
                    days(age)
                )));
            }
        }
        Ok(())
    }

    fn approvals(&self, req: &Requirement, a: &Approvals) -> Node {
        let roles = a.roles.join(", ");
        let description = match a.count {
            None if a.roles.len() == 1 => format!("approval by role {roles}"),
            None => format!("approvals by roles {roles}, each by a different key"),
            Some(c) => format!(
                "{c} approval(s) by distinct keys with role {}",
                a.roles.join(" or ")
            ),
        };
        let mut node = Node::new("approvals", description, req.path.clone(), req.line);
        let mut list: Vec<&ApprovalEvidence> = self.ev.approvals.iter().collect();
        list.sort_by(|x, y| {
            (
                x.time,
                &x.key_hint,
                &x.role,
                &x.artifact_digest,
                x.verified,
                &x.reason,
            )
                .cmp(&(
                    y.time,
                    &y.key_hint,
                    &y.role,
                    &y.artifact_digest,
                    y.verified,
                    &y.reason,
                ))
        });
        let mut reasons = Details::default();
        // Accepted approvals, first (earliest) per (key, role).
        let mut accepted: BTreeMap<String, BTreeMap<&str, &ApprovalEvidence>> = BTreeMap::new();
        for ap in list {
            match self.reject_approval(a, ap) {
                Ok(()) => {
                    accepted
                        .entry(ap.key_hint.to_ascii_lowercase())
                        .or_default()
                        .entry(ap.role.as_str())
                        .or_insert(ap);
                }
                Err(Some(why)) => reasons.push(why),
                Err(None) => {}
            }
        }
        let show = |hint: &str, ap: &ApprovalEvidence| {
            format!(
                "approval by {} ({}) at {}",
                self.who(hint),
                clean(&ap.role),
                format_rfc3339(ap.time)
            )
        };
        let mut evidence = Details::default();
        let mut head = None;
        if let Some(c) = a.count {
            for (hint, by_role) in &accepted {
                if let Some((_, ap)) = by_role.iter().next() {
                    evidence.push(show(hint, ap));
                }
            }
            node.met = accepted.len() >= c as usize;
            if !node.met {
                head = Some(format!(
                    "{} of {c} approval(s) by distinct keys with role {}",
                    accepted.len(),
                    a.roles.join(" or ")
                ));
            }
        } else {
            let cands: Vec<(&str, Vec<&str>)> = accepted
                .iter()
                .map(|(h, by_role)| (h.as_str(), by_role.keys().copied().collect()))
                .collect();
            let wanted: Vec<&str> = a.roles.iter().map(String::as_str).collect();
            let assignment = crate::matching::assign(&wanted, &cands);
            let mut missing = Vec::new();
            for (role, slot) in wanted.iter().zip(&assignment) {
                match slot {
                    Some(i) => {
                        let (hint, _) = cands[*i];
                        if let Some(ap) = accepted.get(hint).and_then(|m| m.get(role)) {
                            evidence.push(show(hint, ap));
                        }
                    }
                    None if cands.iter().any(|(_, r)| r.contains(role)) => missing.push(format!(
                        "role {role}: its only valid approvals are by keys already counted for \
                             another role; each role needs a different key"
                    )),
                    None => missing.push(format!("role {role}: no valid approval")),
                }
            }
            node.met = missing.is_empty();
            for m in missing.into_iter().rev() {
                reasons.push_front(m);
            }
        }
        let mut reasons = reasons.finish();
        if let Some(h) = head {
            reasons.insert(0, h);
        }
        node.evidence = evidence.finish();
        node.reasons = reasons;
        node
    }

    fn stage_reached(&self, req: &Requirement, stage: Stage) -> Node {
        let mut node = Node::new(
            "stage_reached",
            format!("previously promoted to {stage}"),
            req.path.clone(),
            req.line,
        );
        let first = self
            .ev
            .stage_history
            .iter()
            .filter(|e| e.stage == stage)
            .min_by(|a, b| {
                a.at.cmp(&b.at)
                    .then_with(|| a.ledger_entry.cmp(&b.ledger_entry))
            });
        if self.ev.artifact.state == ArtifactState::Rejected {
            node.reasons.push("the artifact is rejected".into());
        } else if let Some(e) = first {
            node.met = true;
            let entry = e
                .ledger_entry
                .as_deref()
                .map_or_else(String::new, |l| format!(" (ledger entry {})", clean(l)));
            node.evidence.push(format!(
                "promoted to {stage} at {}{entry}",
                format_rfc3339(e.at)
            ));
        } else {
            node.reasons.push(format!(
                "no promotion to {stage} is recorded (state: {})",
                self.ev.artifact.state.as_str()
            ));
        }
        node
    }
}

fn describe_signers(s: &Signers) -> String {
    let mut parts: Vec<String> = s.keys.clone();
    parts.extend(s.roles.iter().map(|r| format!("any key with role {r}")));
    parts.join(", ")
}
