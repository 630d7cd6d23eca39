//! `modelgate dataset scan|vet|verify|list`.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;
use modelgate_core::Severity;
use modelgate_dataset::{
    DatasetEntry, DatasetReport, Registry, ScanOptions, VettingScan, registry, scan_paths,
};
use serde_json::json;

use crate::Outcome;
use crate::cli::{
    DatasetCommand, DatasetDetectArgs, DatasetListArgs, DatasetScanArgs, DatasetVerifyArgs,
    DatasetVetArgs, OutputFormat,
};
use crate::render;

pub(crate) fn run(cmd: &DatasetCommand) -> anyhow::Result<Outcome> {
    match cmd {
        DatasetCommand::Scan(args) => scan(args),
        DatasetCommand::Vet(args) => vet(args),
        DatasetCommand::Verify(args) => verify(args),
        DatasetCommand::List(args) => list(args),
    }
}

fn options(d: &DatasetDetectArgs) -> ScanOptions {
    let mut o = ScanOptions::default();
    o.fields.clone_from(&d.fields);
    o.target_field.clone_from(&d.label_field);
    o.min_support = d.min_support.max(2);
    let l = &mut o.limits;
    if let Some(v) = d.max_file_bytes {
        l.max_file_bytes = v;
    }
    if let Some(v) = d.max_line_bytes {
        l.max_line_bytes = v;
    }
    if let Some(v) = d.max_rows {
        l.max_rows = v;
    }
    if let Some(v) = d.max_depth {
        l.max_depth = v;
    }
    if let Some(v) = d.max_ngrams {
        l.max_ngrams = v;
    }
    o
}

fn registry_path(arg: Option<&PathBuf>) -> PathBuf {
    arg.cloned()
        .or_else(|| std::env::var_os("MODELGATE_DATASET_REGISTRY").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("datasets.yaml"))
}

fn render_report(
    report: &DatasetReport,
    format: OutputFormat,
    fail_on: Severity,
    to_terminal: bool,
) -> anyhow::Result<String> {
    Ok(match format {
        OutputFormat::Human => {
            let mut text = render::human_report(&report.to_scan_report(), fail_on, to_terminal);
            for file in &report.files {
                for note in &file.notes {
                    let _ = writeln!(text, "note: {}: {note}", file.path);
                }
            }
            text
        }
        OutputFormat::Json => serde_json::to_string_pretty(report)? + "\n",
        OutputFormat::Sarif => {
            serde_json::to_string_pretty(&modelgate_report::to_sarif(&report.to_scan_report()))?
                + "\n"
        }
    })
}

fn outcome(report: &DatasetReport, fail_on: Severity) -> Outcome {
    if !report.errors.is_empty() {
        Outcome::Error
    } else if report.summary.findings.at_or_above(fail_on) > 0 {
        Outcome::Fail
    } else {
        Outcome::Pass
    }
}

fn scan(args: &DatasetScanArgs) -> anyhow::Result<Outcome> {
    for path in &args.paths {
        if std::fs::metadata(path).is_err() {
            anyhow::bail!("{}: no such file or directory", path.display());
        }
    }
    let report = scan_paths(
        &args.paths,
        &options(&args.detect),
        env!("CARGO_PKG_VERSION"),
    );
    let text = render_report(
        &report,
        args.format,
        args.detect.fail_on,
        args.output.is_none(),
    )?;
    render::emit(&text, args.output.as_deref())?;
    Ok(outcome(&report, args.detect.fail_on))
}

fn vet(args: &DatasetVetArgs) -> anyhow::Result<Outcome> {
    if args.format == OutputFormat::Sarif {
        anyhow::bail!(
            "`modelgate dataset vet` prints human or json; use `dataset scan --format sarif` for SARIF"
        );
    }
    if std::fs::metadata(&args.file).is_err() {
        anyhow::bail!("{}: no such file or directory", args.file.display());
    }
    let reg_path = registry_path(args.registry.as_ref());
    let mut reg = Registry::load(&reg_path, true)?;
    if reg.get(&args.name).is_some() && !args.replace {
        anyhow::bail!(
            "{}: a dataset named `{}` is already registered; pass --replace to re-vet it",
            reg_path.display(),
            args.name
        );
    }
    // Pin first, scan, then pin again: the bytes registered must be the bytes scanned.
    let before = registry::pin(&args.file)?;
    let fail_on = args.detect.fail_on;
    let report = scan_paths(
        std::slice::from_ref(&args.file),
        &options(&args.detect),
        env!("CARGO_PKG_VERSION"),
    );
    let verdict = outcome(&report, fail_on);
    if verdict != Outcome::Pass {
        let mut text = render_report(&report, args.format, fail_on, true)?;
        if args.format == OutputFormat::Human {
            let _ = writeln!(
                text,
                "NOT REGISTERED: {} {} at or above {fail_on}; fix the dataset or review the findings",
                if verdict == Outcome::Error {
                    "the dataset could not be fully read, or has"
                } else {
                    "the dataset has findings"
                },
                if verdict == Outcome::Error {
                    "errors"
                } else {
                    ""
                }
            );
        }
        render::emit(&text, None)?;
        return Ok(verdict);
    }
    let after = registry::pin(&args.file)?;
    if after != before {
        anyhow::bail!(
            "{}: the dataset changed while it was being scanned; not registered",
            args.file.display()
        );
    }
    let entry = DatasetEntry {
        name: args.name.clone(),
        source: args
            .source
            .clone()
            .unwrap_or_else(|| args.file.display().to_string()),
        revision: args.revision.clone(),
        path: args.file.display().to_string(),
        kind: after.kind,
        sha256: after.sha256.clone(),
        size: after.size,
        files: (after.kind == modelgate_dataset::PinKind::Directory).then_some(after.files),
        license: args.license.clone(),
        vetted_by: args.by.clone(),
        vetted_at: registry::now_rfc3339(),
        scan: Some(VettingScan {
            tool_version: env!("CARGO_PKG_VERSION").to_owned(),
            fail_on: fail_on.to_string(),
            rows: report.summary.rows,
            findings: report.summary.findings,
        }),
    };
    reg.insert(entry.clone(), args.replace, &reg_path)?;
    reg.save(&reg_path)?;
    if let Some(pred) = &args.predicate_out {
        let predicate = json!({
            "dataset": entry.name,
            "source": entry.source,
            "revision": entry.revision,
            "digest": { "sha256": entry.sha256 },
            "kind": entry.kind,
            "license": entry.license,
            "vettedBy": entry.vetted_by,
            "vettedAt": entry.vetted_at,
            "scan": entry.scan,
        });
        std::fs::write(pred, serde_json::to_string_pretty(&predicate)? + "\n")
            .with_context(|| format!("cannot write {}", pred.display()))?;
    }
    let text = match args.format {
        OutputFormat::Json => {
            serde_json::to_string_pretty(
                &json!({ "registered": entry, "registry": reg_path.display().to_string() }),
            )? + "\n"
        }
        _ => format!(
            "registered `{}` ({} sha256:{}, {} rows, {} findings below {fail_on}) in {}\n",
            entry.name,
            if entry.kind == modelgate_dataset::PinKind::File {
                "file"
            } else {
                "directory manifest"
            },
            entry.sha256,
            report.summary.rows,
            report.findings.len(),
            reg_path.display()
        ),
    };
    render::emit(&text, None)?;
    Ok(Outcome::Pass)
}

fn verify(args: &DatasetVerifyArgs) -> anyhow::Result<Outcome> {
    if args.format == OutputFormat::Sarif {
        anyhow::bail!("`modelgate dataset verify` prints human or json");
    }
    let reg_path = registry_path(args.registry.as_ref());
    let reg = Registry::load(&reg_path, false)?;
    let v = reg.verify(&args.name, args.path.as_deref(), &reg_path)?;
    let text = match args.format {
        OutputFormat::Json => {
            serde_json::to_string_pretty(&json!({
                "name": v.name,
                "path": v.path.display().to_string(),
                "verified": v.ok(),
                "expected_sha256": v.expected,
                "actual_sha256": v.actual,
                "kind_matches": v.kind_matches,
            }))? + "\n"
        }
        _ if v.ok() => format!(
            "verified `{}`: {} matches sha256:{}\n",
            v.name,
            v.path.display(),
            v.expected
        ),
        _ if !v.kind_matches => format!(
            "MISMATCH `{}`: {} is not the kind of path that was vetted (file vs directory); refusing it\n",
            v.name,
            v.path.display()
        ),
        _ => format!(
            "MISMATCH `{}`: {} has sha256:{}, but sha256:{} was vetted; refusing it\n",
            v.name,
            v.path.display(),
            v.actual,
            v.expected
        ),
    };
    render::emit(&text, None)?;
    Ok(if v.ok() { Outcome::Pass } else { Outcome::Fail })
}

fn list(args: &DatasetListArgs) -> anyhow::Result<Outcome> {
    let reg_path = registry_path(args.registry.as_ref());
    let reg = Registry::load(&reg_path, false)?;
    let text = match args.format {
        OutputFormat::Json => serde_json::to_string_pretty(&reg)? + "\n",
        OutputFormat::Sarif => anyhow::bail!("`modelgate dataset list` prints human or json"),
        OutputFormat::Human => {
            let mut out = String::new();
            for e in &reg.datasets {
                let _ = writeln!(
                    out,
                    "{:<24} sha256:{}…  {:<12} {:<16} vetted by {} at {}  ({}{})",
                    e.name,
                    &e.sha256[..16],
                    e.license,
                    e.revision.as_deref().unwrap_or("-"),
                    e.vetted_by,
                    e.vetted_at,
                    e.source,
                    if e.kind == modelgate_dataset::PinKind::Directory {
                        ", directory"
                    } else {
                        ""
                    }
                );
            }
            if reg.datasets.is_empty() {
                out.push_str("no datasets registered\n");
            }
            out
        }
    };
    render::emit(&text, None)?;
    Ok(Outcome::Pass)
}
