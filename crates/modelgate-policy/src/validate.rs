//! Validation of a parsed policy: what the schema cannot express — references to keys and stages
//! that exist, thresholds in `[0, 1]`, non-empty compositions, satisfiable counts and roles, no
//! stage requiring itself or a later stage — each error naming the field's path and line.

use std::collections::{BTreeMap, BTreeSet};

use serde_saphyr::Spanned;

use crate::config::{
    Approvals, EvalRequirement, KeyEntry, MAX_AGE_DAYS, MAX_COUNT, MAX_DEPTH, MAX_KEYS,
    MAX_REQUIREMENTS, MAX_ROLES, Policy, RawApprovals, RawEval, RawPolicy, RawRequirement,
    Requirement, RequirementKind, SignedBy, Signers, Stage,
};
use crate::error::{PolicyError, PolicyErrorKind};

/// Longest key name or role.
const MAX_NAME: usize = 64;
/// Longest task, scorer or dataset name, or public-key path.
const MAX_TEXT: usize = 1024;

fn line_of<T>(s: &Spanned<T>) -> Option<u64> {
    Some(s.referenced.line()).filter(|&l| l > 0)
}

fn column_of<T>(s: &Spanned<T>) -> Option<u64> {
    Some(s.referenced.column()).filter(|&c| c > 0)
}

pub(crate) struct Validator<'a> {
    origin: &'a str,
    keys: BTreeMap<String, KeyEntry>,
    nodes: usize,
}

impl<'a> Validator<'a> {
    pub(crate) fn new(origin: &'a str) -> Self {
        Validator {
            origin,
            keys: BTreeMap::new(),
            nodes: 0,
        }
    }

    fn err(&self, field: String, line: Option<u64>, message: String) -> PolicyError {
        PolicyError {
            origin: self.origin.to_owned(),
            line,
            column: None,
            field: Some(field),
            kind: PolicyErrorKind::Invalid(message),
        }
    }

    pub(crate) fn run(mut self, raw: RawPolicy) -> Result<Policy, PolicyError> {
        if raw.version.value != 1 {
            return Err(PolicyError {
                column: column_of(&raw.version),
                ..self.err(
                    "version".into(),
                    line_of(&raw.version),
                    format!("unsupported version {} (expected 1)", raw.version.value),
                )
            });
        }
        if raw.keys.len() > MAX_KEYS {
            return Err(self.err(
                "keys".into(),
                None,
                format!("{} keys, more than the limit of {MAX_KEYS}", raw.keys.len()),
            ));
        }
        for (name, entry) in raw.keys {
            let field = format!("keys.{name}");
            let line = line_of(&entry);
            self.name(&field, line, &name, "key name")?;
            let pk = &entry.value.public_key;
            self.text(&format!("{field}.public_key"), line_of(pk), &pk.value)?;
            if entry.value.roles.len() > MAX_ROLES {
                return Err(self.err(
                    format!("{field}.roles"),
                    line,
                    format!("more than {MAX_ROLES} roles"),
                ));
            }
            let mut roles = BTreeSet::new();
            for (i, role) in entry.value.roles.iter().enumerate() {
                let f = format!("{field}.roles[{i}]");
                self.name(&f, line_of(role), &role.value, "role")?;
                if !roles.insert(role.value.clone()) {
                    return Err(self.err(
                        f,
                        line_of(role),
                        format!("role `{}` is listed twice", role.value),
                    ));
                }
            }
            self.keys.insert(
                name.clone(),
                KeyEntry {
                    name,
                    public_key: pk.value.clone(),
                    roles,
                    line,
                },
            );
        }
        if raw.stages.value.is_empty() {
            return Err(self.err(
                "stages".into(),
                line_of(&raw.stages),
                "no stage is defined; define staging and/or production".into(),
            ));
        }
        let defined: BTreeSet<Stage> = raw.stages.value.keys().copied().collect();
        let mut stages = BTreeMap::new();
        for (stage, req) in raw.stages.value {
            let path = format!("stages.{stage}");
            let node = self.requirement(req, path, 1, stage, &defined)?;
            stages.insert(stage, node);
        }
        Ok(Policy {
            keys: self.keys,
            stages,
        })
    }

    fn name(&self, field: &str, line: Option<u64>, v: &str, what: &str) -> Result<(), PolicyError> {
        let ok = !v.is_empty()
            && v.len() <= MAX_NAME
            && v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'@'));
        if ok {
            Ok(())
        } else {
            Err(self.err(
                field.to_owned(),
                line,
                format!(
                    "{what} `{}` must be 1-{MAX_NAME} characters of A-Z a-z 0-9 _ - . @",
                    modelgate_core::sanitize_evidence(v)
                ),
            ))
        }
    }

    fn text(&self, field: &str, line: Option<u64>, v: &str) -> Result<(), PolicyError> {
        if v.trim().is_empty() {
            return Err(self.err(field.to_owned(), line, "must not be empty".into()));
        }
        if v.len() > MAX_TEXT || v.chars().any(char::is_control) {
            return Err(self.err(
                field.to_owned(),
                line,
                format!("must be at most {MAX_TEXT} bytes without control characters"),
            ));
        }
        Ok(())
    }

    fn key_ref(&self, field: &str, name: &Spanned<String>) -> Result<(), PolicyError> {
        if self.keys.contains_key(&name.value) {
            return Ok(());
        }
        let known: Vec<&str> = self.keys.keys().map(String::as_str).collect();
        Err(self.err(
            field.to_owned(),
            line_of(name),
            format!(
                "unknown key `{}` (the key table has: {})",
                modelgate_core::sanitize_evidence(&name.value),
                if known.is_empty() {
                    "no keys".to_owned()
                } else {
                    known.join(", ")
                }
            ),
        ))
    }

    fn role_ref(&self, field: &str, role: &Spanned<String>) -> Result<(), PolicyError> {
        self.name(field, line_of(role), &role.value, "role")?;
        if self.keys.values().any(|k| k.roles.contains(&role.value)) {
            return Ok(());
        }
        Err(self.err(
            field.to_owned(),
            line_of(role),
            format!(
                "no key in the key table holds role `{}`, so this can never be met",
                role.value
            ),
        ))
    }

    fn signers(
        &self,
        field: &str,
        line: Option<u64>,
        keys: &[Spanned<String>],
        roles: &[Spanned<String>],
    ) -> Result<Signers, PolicyError> {
        if keys.is_empty() && roles.is_empty() {
            return Err(self.err(
                field.to_owned(),
                line,
                "name at least one key (`keys`) or role (`roles`)".into(),
            ));
        }
        if keys.len() > MAX_KEYS || roles.len() > MAX_ROLES {
            return Err(self.err(field.to_owned(), line, "too many keys or roles".into()));
        }
        let mut resolved = BTreeSet::new();
        for (i, k) in keys.iter().enumerate() {
            self.key_ref(&format!("{field}.keys[{i}]"), k)?;
            resolved.insert(k.value.clone());
        }
        for (i, r) in roles.iter().enumerate() {
            self.role_ref(&format!("{field}.roles[{i}]"), r)?;
            resolved.extend(
                self.keys
                    .values()
                    .filter(|k| k.roles.contains(&r.value))
                    .map(|k| k.name.clone()),
            );
        }
        Ok(Signers {
            keys: sorted_distinct(keys),
            roles: sorted_distinct(roles),
            resolved,
        })
    }

    fn threshold(
        &self,
        field: String,
        v: Option<&Spanned<f64>>,
    ) -> Result<Option<f64>, PolicyError> {
        let Some(v) = v else { return Ok(None) };
        if v.value.is_finite() && (0.0..=1.0).contains(&v.value) {
            Ok(Some(v.value))
        } else {
            Err(self.err(
                field,
                line_of(v),
                format!("threshold {} is outside [0, 1]", v.value),
            ))
        }
    }

    fn count(
        &self,
        field: String,
        v: Option<&Spanned<u32>>,
        available: usize,
    ) -> Result<Option<u32>, PolicyError> {
        let Some(c) = v else { return Ok(None) };
        if c.value == 0 || c.value > MAX_COUNT {
            return Err(self.err(field, line_of(c), format!("count must be 1-{MAX_COUNT}")));
        }
        if c.value as usize > available {
            return Err(self.err(
                field,
                line_of(c),
                format!(
                    "count {} but only {available} key(s) qualify, so this can never be met",
                    c.value
                ),
            ));
        }
        Ok(Some(c.value))
    }

    fn age(&self, field: String, v: Option<&Spanned<u32>>) -> Result<Option<u32>, PolicyError> {
        let Some(d) = v else { return Ok(None) };
        if d.value == 0 || d.value > MAX_AGE_DAYS {
            return Err(self.err(
                field,
                line_of(d),
                format!("max_age_days must be 1-{MAX_AGE_DAYS}"),
            ));
        }
        Ok(Some(d.value))
    }

    fn requirement(
        &mut self,
        raw: Spanned<RawRequirement>,
        path: String,
        depth: usize,
        stage: Stage,
        defined: &BTreeSet<Stage>,
    ) -> Result<Requirement, PolicyError> {
        let line = line_of(&raw);
        self.nodes += 1;
        if self.nodes > MAX_REQUIREMENTS {
            return Err(self.err(
                path,
                line,
                format!("more than {MAX_REQUIREMENTS} requirements in the policy"),
            ));
        }
        if depth > MAX_DEPTH {
            return Err(self.err(
                path,
                line,
                format!("all_of/any_of nested deeper than {MAX_DEPTH}"),
            ));
        }
        let kind = match raw.value {
            RawRequirement::AllOf(children) | RawRequirement::AnyOf(children)
                if children.is_empty() =>
            {
                return Err(self.err(
                    path,
                    line,
                    "an empty all_of/any_of is never what was meant (all_of would always be \
                     met, any_of never); list at least one requirement"
                        .into(),
                ));
            }
            RawRequirement::AllOf(children) => RequirementKind::AllOf(
                self.children(children, &path, "all_of", depth, stage, defined)?,
            ),
            RawRequirement::AnyOf(children) => RequirementKind::AnyOf(
                self.children(children, &path, "any_of", depth, stage, defined)?,
            ),
            RawRequirement::MaxScanSeverity(s) => RequirementKind::MaxScanSeverity(s),
            RawRequirement::StageReached(target) => {
                let field = format!("{path}.stage_reached");
                if target >= stage {
                    return Err(self.err(
                        field,
                        line,
                        format!(
                            "stages.{stage} requires stage_reached: {target}, a cycle: a stage \
                             can only require an earlier one (order: staging → production)"
                        ),
                    ));
                }
                if !defined.contains(&target) {
                    return Err(self.err(
                        field,
                        line,
                        format!(
                            "unknown stage `{target}`: the policy defines no requirements for \
                             it, so nothing could ever be promoted there"
                        ),
                    ));
                }
                RequirementKind::StageReached(target)
            }
            RawRequirement::SignedBy(s) => {
                let field = format!("{path}.signed_by");
                let signers = self.signers(&field, line, &s.keys, &s.roles)?;
                let count = self
                    .count(
                        format!("{field}.count"),
                        s.count.as_ref(),
                        signers.resolved.len(),
                    )?
                    .unwrap_or(1);
                RequirementKind::SignedBy(SignedBy { signers, count })
            }
            RawRequirement::Eval(e) => {
                RequirementKind::Eval(self.eval(&e, &format!("{path}.eval"), line)?)
            }
            RawRequirement::Approvals(a) => {
                RequirementKind::Approvals(self.approvals(&a, &format!("{path}.approvals"))?)
            }
        };
        Ok(Requirement { path, line, kind })
    }

    fn children(
        &mut self,
        children: Vec<Spanned<RawRequirement>>,
        path: &str,
        keyword: &str,
        depth: usize,
        stage: Stage,
        defined: &BTreeSet<Stage>,
    ) -> Result<Vec<Requirement>, PolicyError> {
        children
            .into_iter()
            .enumerate()
            .map(|(i, c)| {
                self.requirement(
                    c,
                    format!("{path}.{keyword}[{i}]"),
                    depth + 1,
                    stage,
                    defined,
                )
            })
            .collect()
    }

    fn eval(
        &self,
        e: &RawEval,
        field: &str,
        line: Option<u64>,
    ) -> Result<EvalRequirement, PolicyError> {
        self.text(&format!("{field}.task"), line_of(&e.task), &e.task.value)?;
        for (name, v) in [("scorer", &e.scorer), ("dataset", &e.dataset)] {
            if let Some(v) = v {
                self.text(&format!("{field}.{name}"), line_of(v), &v.value)?;
            }
        }
        let min = self.threshold(format!("{field}.min"), e.min.as_ref())?;
        let ci_lower_min =
            self.threshold(format!("{field}.ci_lower_min"), e.ci_lower_min.as_ref())?;
        if min.is_none() && ci_lower_min.is_none() {
            return Err(self.err(
                field.to_owned(),
                line,
                "set `min` and/or `ci_lower_min`: an eval requirement without a threshold would \
                 accept any score"
                    .into(),
            ));
        }
        let min_samples = match &e.min_samples {
            Some(n) if n.value == 0 || n.value > 1_000_000_000 => {
                return Err(self.err(
                    format!("{field}.min_samples"),
                    line_of(n),
                    "min_samples must be 1-1000000000".into(),
                ));
            }
            other => other.as_ref().map(|n| n.value),
        };
        let signers = match &e.signers {
            Some(s) => Some(self.signers(
                &format!("{field}.signers"),
                line_of(s),
                &s.value.keys,
                &s.value.roles,
            )?),
            None => None,
        };
        if signers.is_none() && self.keys.is_empty() {
            return Err(self.err(
                field.to_owned(),
                line,
                "eval results are accepted only from logs signed by a key in the key table, \
                 and the table is empty"
                    .into(),
            ));
        }
        Ok(EvalRequirement {
            task: e.task.value.clone(),
            scorer: e.scorer.as_ref().map(|s| s.value.clone()),
            dataset: e.dataset.as_ref().map(|s| s.value.clone()),
            min,
            ci_lower_min,
            min_samples,
            max_age_days: self.age(format!("{field}.max_age_days"), e.max_age_days.as_ref())?,
            signers,
        })
    }

    fn approvals(&self, a: &RawApprovals, field: &str) -> Result<Approvals, PolicyError> {
        let roles = &a.roles.value;
        if roles.is_empty() {
            return Err(self.err(
                format!("{field}.roles"),
                line_of(&a.roles),
                "name at least one role".into(),
            ));
        }
        if roles.len() > MAX_ROLES {
            return Err(self.err(
                format!("{field}.roles"),
                line_of(&a.roles),
                format!("more than {MAX_ROLES} roles"),
            ));
        }
        let mut seen = BTreeSet::new();
        for (i, r) in roles.iter().enumerate() {
            let f = format!("{field}.roles[{i}]");
            self.role_ref(&f, r)?;
            if !seen.insert(r.value.clone()) {
                return Err(self.err(
                    f,
                    line_of(r),
                    format!("role `{}` is listed twice; to require several approvers of one role use `count`", r.value),
                ));
            }
        }
        let holders: BTreeSet<&str> = self
            .keys
            .values()
            .filter(|k| k.roles.iter().any(|r| seen.contains(r)))
            .map(|k| k.name.as_str())
            .collect();
        let count = self.count(format!("{field}.count"), a.count.as_ref(), holders.len())?;
        if count.is_none() {
            // One approval per role by distinct keys: the key table must allow such an assignment.
            let table: Vec<(&str, Vec<&str>)> = self
                .keys
                .values()
                .map(|k| {
                    (
                        k.name.as_str(),
                        k.roles.iter().map(String::as_str).collect(),
                    )
                })
                .collect();
            let wanted: Vec<&str> = seen.iter().map(String::as_str).collect();
            if crate::matching::max_matching(&wanted, &table) < wanted.len() {
                return Err(self.err(
                    format!("{field}.roles"),
                    line_of(&a.roles),
                    "each role needs its own approver, and the key table has too few distinct \
                     keys holding these roles, so this can never be met"
                        .into(),
                ));
            }
        }
        Ok(Approvals {
            roles: seen.into_iter().collect(),
            count,
            max_age_days: self.age(format!("{field}.max_age_days"), a.max_age_days.as_ref())?,
        })
    }
}

fn sorted_distinct(v: &[Spanned<String>]) -> Vec<String> {
    let set: BTreeSet<&String> = v.iter().map(|s| &s.value).collect();
    set.into_iter().cloned().collect()
}
