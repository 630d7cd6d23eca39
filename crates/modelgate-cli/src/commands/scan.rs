//! `modelgate scan`.

use modelgate_scan::{ScanOptions, scan_paths};

use crate::Outcome;
use crate::cli::{OutputFormat, ScanArgs};
use crate::render;

pub(crate) fn run(args: &ScanArgs) -> anyhow::Result<Outcome> {
    for path in &args.paths {
        if std::fs::symlink_metadata(path).is_err() {
            anyhow::bail!("{}: no such file or directory", path.display());
        }
    }
    if args.explain {
        return super::pickle::explain_paths(&args.paths);
    }
    let mut options = ScanOptions::default();
    if !args.no_progress {
        options.progress = render::progress_bar();
    }
    let report = scan_paths(&args.paths, &options);
    render::clear_progress();
    let text = match args.format {
        OutputFormat::Human => render::human_report(&report, args.fail_on, args.output.is_none()),
        OutputFormat::Json => modelgate_report::to_json(&report) + "\n",
        OutputFormat::Sarif => {
            serde_json::to_string_pretty(&modelgate_report::to_sarif(&report))? + "\n"
        }
    };
    render::emit(&text, args.output.as_deref())?;
    if !report.errors.is_empty() {
        return Ok(Outcome::Error);
    }
    Ok(if report.summary.findings.at_or_above(args.fail_on) > 0 {
        Outcome::Fail
    } else {
        Outcome::Pass
    })
}
