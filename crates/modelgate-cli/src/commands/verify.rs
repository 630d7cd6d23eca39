//! `modelgate verify model` and `modelgate verify attestation`.
//!
//! Exit codes: 0 verified, 1 the evidence says no (a file changed, a signature or key failed, a
//! policy rule refused), 2 no verdict (unreadable or malformed key, signature or model).

use std::fmt::Write as _;
use std::io::IsTerminal as _;
use std::path::Path;

use anstyle::{AnsiColor, Style};
use modelgate_attest::limits::read_capped;
use modelgate_attest::{
    AttestLimits, AttestationReport, DocumentError, Failure, KeyInfo, ModelReport, Policy,
    PublicKey, VerifyModelOptions, verify_attestation, verify_model,
};
use serde_json::{Value, json};

use crate::Outcome;
use crate::cli::{ResultFormat, VerifyAttestationArgs, VerifyCommand, VerifyModelArgs};
use crate::commands::hash::{ignore_paths, serialization_json, serialization_summary};

pub(crate) fn run(cmd: &VerifyCommand) -> anyhow::Result<Outcome> {
    match cmd {
        VerifyCommand::Model(args) => model(args),
        VerifyCommand::Attestation(args) => attestation(args),
    }
}

fn load_policy(path: Option<&Path>, limits: &AttestLimits) -> anyhow::Result<Policy> {
    let Some(path) = path else {
        return Ok(Policy::default());
    };
    let bytes =
        read_capped(path, limits.max_json_bytes).map_err(|e| DocumentError::new(path, e))?;
    Ok(Policy::from_json(&bytes).map_err(|e| DocumentError::new(path, e))?)
}

fn paint(style: Style, text: &str) -> String {
    let on = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    if on {
        format!("{style}{text}{style:#}")
    } else {
        text.to_owned()
    }
}

fn verdict(ok: bool) -> String {
    if ok {
        paint(
            Style::new().bold().fg_color(Some(AnsiColor::Green.into())),
            "VERIFIED",
        )
    } else {
        paint(
            Style::new().bold().fg_color(Some(AnsiColor::Red.into())),
            "FAILED",
        )
    }
}

fn failure_json(f: &Failure) -> Value {
    let mut v = json!({ "rule": f.rule().as_str(), "message": f.to_string() });
    if let Some(p) = f.path() {
        v["path"] = json!(p);
    }
    if let Failure::Changed(c) = f {
        v["expected"] = json!(c.expected);
        v["actual"] = json!(c.actual);
    }
    v
}

fn key_json(k: &KeyInfo) -> Value {
    json!({ "type": k.key_type.as_str(), "hint": k.hint })
}

fn write_failures(out: &mut String, failures: &[Failure], notes: &[String]) {
    for f in failures {
        let _ = writeln!(out, "  [{}] {f}", f.rule());
    }
    for n in notes {
        let _ = writeln!(out, "  note: {n}");
    }
}

fn emit(text: &str) -> anyhow::Result<()> {
    crate::render::emit(text, None)
}

fn model(args: &VerifyModelArgs) -> anyhow::Result<Outcome> {
    let limits = AttestLimits::default();
    let key = PublicKey::from_pem_file(&args.key)?;
    let mut policy = load_policy(args.policy.as_deref(), &limits)?;
    policy.allow_unsigned_files |= args.allow_unsigned_files;
    let options = VerifyModelOptions {
        extra_ignore_paths: ignore_paths(&args.ignore_paths, &args.model)?,
        ignore_git_paths: args.ignore_git_paths,
        threads: args.threads.map(usize::from),
        limits,
    };
    let report = verify_model(&args.model, &args.signature, &key, &policy, &options)?;
    let text = match args.format {
        ResultFormat::Json => serde_json::to_string_pretty(&model_json(&report))? + "\n",
        ResultFormat::Human => model_human(&report, args),
    };
    emit(&text)?;
    Ok(if report.verified() {
        Outcome::Pass
    } else {
        Outcome::Fail
    })
}

fn model_json(r: &ModelReport) -> Value {
    json!({
        "verified": r.verified(),
        "key": key_json(&r.key),
        "model_name": r.model_name,
        "root_digest": r.root_digest.as_ref().map(|d| json!({ "sha256": d })),
        "serialization": r.serialization.as_ref().map(serialization_json),
        "files_signed": r.files_signed,
        "failures": r.failures.iter().map(failure_json).collect::<Vec<_>>(),
        "allowed_unsigned": r.allowed_unsigned.iter().map(|e| json!({ "path": e.path, "note": e.note })).collect::<Vec<_>>(),
        "notes": r.notes,
    })
}

fn model_human(r: &ModelReport, args: &VerifyModelArgs) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} {} against {}",
        verdict(r.verified()),
        args.model.display(),
        args.signature.display()
    );
    if let (Some(root), Some(ser)) = (&r.root_digest, &r.serialization) {
        let _ = writeln!(
            out,
            "  model {:?}: {} files signed, {}, root sha256:{root}",
            r.model_name.as_deref().unwrap_or_default(),
            r.files_signed,
            serialization_summary(ser)
        );
        if !ser.ignore_paths.is_empty() {
            let _ = writeln!(
                out,
                "  not covered (ignored when signed): {}",
                ser.ignore_paths.join(", ")
            );
        }
    }
    let _ = writeln!(out, "  key {} {}", r.key.key_type, r.key.hint);
    write_failures(&mut out, &r.failures, &r.notes);
    for e in &r.allowed_unsigned {
        let _ = writeln!(out, "  unsigned (allowed by policy): {}", e.path);
    }
    if !r.verified() {
        let _ = writeln!(
            out,
            "  {} problem(s); do not use this model",
            r.failures.len()
        );
    }
    out
}

fn attestation(args: &VerifyAttestationArgs) -> anyhow::Result<Outcome> {
    let limits = AttestLimits::default();
    let key = PublicKey::from_pem_file(&args.key)?;
    let mut policy = load_policy(args.policy.as_deref(), &limits)?;
    policy
        .required_predicate_types
        .extend(args.predicate_type.iter().cloned());
    let report = verify_attestation(&args.envelope, &args.subjects, &key, &policy, &limits)?;
    let text = match args.format {
        ResultFormat::Json => serde_json::to_string_pretty(&attestation_json(&report))? + "\n",
        ResultFormat::Human => attestation_human(&report, args),
    };
    emit(&text)?;
    Ok(if report.verified() {
        Outcome::Pass
    } else {
        Outcome::Fail
    })
}

fn attestation_json(r: &AttestationReport) -> Value {
    json!({
        "verified": r.verified(),
        "container": r.container,
        "key": key_json(&r.key),
        "predicate_type": r.statement.as_ref().map(|s| s.predicate_type.clone()),
        "statement": r.statement.as_ref().and_then(|s| serde_json::to_value(s).ok()),
        "subjects": r.subjects.iter().map(|s| json!({
            "path": s.path,
            "sha256": s.sha256,
            "matched": s.matched.as_ref().map(|(name, alg)| json!({ "name": name, "algorithm": alg.as_str() })),
        })).collect::<Vec<_>>(),
        "failures": r.failures.iter().map(failure_json).collect::<Vec<_>>(),
        "notes": r.notes,
    })
}

fn attestation_human(r: &AttestationReport, args: &VerifyAttestationArgs) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} {} ({})",
        verdict(r.verified()),
        args.envelope.display(),
        r.container
    );
    if let Some(st) = &r.statement {
        let _ = writeln!(
            out,
            "  predicate {} about {} subject(s)",
            st.predicate_type,
            st.subject.len()
        );
    }
    let _ = writeln!(out, "  key {} {}", r.key.key_type, r.key.hint);
    for s in &r.subjects {
        if let Some((name, alg)) = &s.matched {
            let _ = writeln!(out, "  subject {}: matches {name:?} by {alg}", s.path);
        }
    }
    write_failures(&mut out, &r.failures, &r.notes);
    out
}
