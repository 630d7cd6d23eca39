//! Human-readable rendering: reports, errors and the progress line. Colour only on a terminal
//! and never when `NO_COLOR` is set.

use std::fmt::Write as _;
use std::io::{IsTerminal, Write as _};
use std::sync::Arc;

use anstyle::{AnsiColor, Style};
use modelgate_core::{Report, Severity};
use modelgate_scan::ProgressFn;

fn colour_enabled(stream_is_tty: bool) -> bool {
    stream_is_tty && std::env::var_os("NO_COLOR").is_none()
}

fn severity_style(severity: Severity) -> Style {
    let colour = match severity {
        Severity::Critical => AnsiColor::BrightRed,
        Severity::High => AnsiColor::Red,
        Severity::Medium => AnsiColor::Yellow,
        Severity::Low => AnsiColor::Cyan,
        Severity::Info => AnsiColor::BrightBlack,
    };
    Style::new().bold().fg_color(Some(colour.into()))
}

struct Painter {
    on: bool,
}

impl Painter {
    fn paint(&self, style: Style, text: &str) -> String {
        if self.on {
            format!("{style}{text}{style:#}")
        } else {
            text.to_owned()
        }
    }
}

fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    #[allow(clippy::cast_precision_loss)] // display only
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// The human report. `to_terminal` enables colour when standard output is a terminal.
pub(crate) fn human_report(report: &Report, fail_on: Severity, to_terminal: bool) -> String {
    let p = Painter {
        on: to_terminal && colour_enabled(std::io::stdout().is_terminal()),
    };
    let bold = Style::new().bold();
    let dim = Style::new().fg_color(Some(AnsiColor::BrightBlack.into()));
    let mut out = String::new();
    for finding in &report.findings {
        let sev = finding.severity.as_str().to_ascii_uppercase();
        let _ = writeln!(
            out,
            "{} {} {}  {}",
            p.paint(severity_style(finding.severity), &format!("{sev:<8}")),
            p.paint(bold, finding.rule.code()),
            finding.rule.name(),
            finding.location
        );
        match &finding.subject {
            Some(subject) => {
                let _ = writeln!(
                    out,
                    "         {}: {}",
                    p.paint(bold, subject),
                    finding.message
                );
            }
            None => {
                let _ = writeln!(out, "         {}", finding.message);
            }
        }
        if let Some(evidence) = &finding.evidence {
            let _ = writeln!(
                out,
                "         {}",
                p.paint(dim, &format!("evidence: {evidence}"))
            );
        }
        if finding.severity >= Severity::Medium {
            let _ = writeln!(
                out,
                "         {}",
                p.paint(dim, &format!("help: {}", finding.rule.help()))
            );
        }
    }
    for error in &report.errors {
        let _ = writeln!(
            out,
            "{} {}: {}",
            p.paint(severity_style(Severity::Critical), "ERROR   "),
            error.path,
            error.message
        );
    }
    if !report.findings.is_empty() || !report.errors.is_empty() {
        out.push('\n');
    }
    let s = &report.summary;
    let counts = Severity::ALL
        .iter()
        .rev()
        .map(|sev| format!("{} {}", s.findings.get(*sev), sev))
        .collect::<Vec<_>>()
        .join(", ");
    let failing = s.findings.at_or_above(fail_on);
    let verdict = if !report.errors.is_empty() {
        p.paint(severity_style(Severity::Critical), "ERROR")
    } else if failing > 0 {
        p.paint(severity_style(Severity::Critical), "FAIL")
    } else {
        p.paint(
            Style::new().bold().fg_color(Some(AnsiColor::Green.into())),
            "PASS",
        )
    };
    #[allow(clippy::cast_precision_loss)] // display only
    let seconds = s.duration_ms as f64 / 1000.0;
    let _ = writeln!(
        out,
        "scanned {} file{} ({}) in {seconds:.2}s: {counts}; {} error{}",
        s.files,
        if s.files == 1 { "" } else { "s" },
        human_size(s.bytes),
        s.errors,
        if s.errors == 1 { "" } else { "s" },
    );
    let _ = writeln!(
        out,
        "{verdict}: {failing} finding{} at or above {fail_on}",
        if failing == 1 { "" } else { "s" }
    );
    out
}

/// Prints an error (with its causes) to standard error.
pub(crate) fn error(err: &anyhow::Error) {
    let p = Painter {
        on: colour_enabled(std::io::stderr().is_terminal()),
    };
    let mut text = format!(
        "{} {err}",
        p.paint(severity_style(Severity::Critical), "error:")
    );
    for cause in err.chain().skip(1) {
        let _ = write!(text, "\n  caused by: {cause}");
    }
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "{text}");
}

/// A progress line on standard error, only when it is a terminal.
pub(crate) fn progress_bar() -> Option<ProgressFn> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    Some(Arc::new(|done: u64, total: u64, bytes: u64| {
        let mut stderr = std::io::stderr().lock();
        let _ = write!(
            stderr,
            "\r\x1b[2Kscanning: {done}/{total} files, {}",
            human_size(bytes)
        );
        let _ = stderr.flush();
    }))
}

/// Clears the progress line if one was drawn.
pub(crate) fn clear_progress() {
    if std::io::stderr().is_terminal() {
        let mut stderr = std::io::stderr().lock();
        let _ = write!(stderr, "\r\x1b[2K");
        let _ = stderr.flush();
    }
}

/// Writes a finished report to `output`, or to standard output when there is none.
pub(crate) fn emit(text: &str, output: Option<&std::path::Path>) -> anyhow::Result<()> {
    use anyhow::Context as _;
    if let Some(path) = output {
        std::fs::write(path, text)
            .with_context(|| format!("cannot write the report to {}", path.display()))?;
    } else {
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes())?;
        out.flush()?;
    }
    Ok(())
}
