//! `modelgate eval view`.

use std::fmt::Write as _;
use std::io::Write as _;

use modelgate_eval::log::read_log;
use modelgate_eval::record::SampleStatus;
use serde::Deserialize;

use super::metric;
use crate::Outcome;
use crate::cli::{EvalViewArgs, ViewFormat};

/// The parts of a record a failing-sample listing shows.
#[derive(Debug, Deserialize, serde::Serialize)]
struct Failing {
    id: String,
    line: u64,
    status: SampleStatus,
    #[serde(default)]
    target: Vec<String>,
    #[serde(default)]
    output: String,
    #[serde(default)]
    scores: Vec<ScoreLine>,
    #[serde(default)]
    error: Option<modelgate_eval::record::SampleError>,
    #[serde(default)]
    limit_hit: Option<String>,
}

#[derive(Debug, Deserialize, serde::Serialize)]
struct ScoreLine {
    scorer: String,
    value: f64,
    #[serde(default)]
    answer: Option<String>,
}

/// First `max` characters of `s` on one line.
fn excerpt(s: &str, max: usize) -> String {
    let one_line: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max + 1)
        .collect();
    if one_line.chars().count() > max {
        format!("{}…", one_line.chars().take(max).collect::<String>())
    } else {
        one_line
    }
}

pub(super) fn run(args: &EvalViewArgs) -> anyhow::Result<Outcome> {
    let (log, _) = read_log(&args.log)?;
    let mut failing = Vec::new();
    let mut failing_total = 0u64;
    for s in &log.samples {
        // Cheap pre-filter: parse only records that are not a clean pass.
        let raw = s.record.get();
        let f: Failing = serde_json::from_str(raw)?;
        let failed = f.status != SampleStatus::Ok || f.scores.iter().any(|sc| sc.value < 1.0);
        if failed {
            failing_total += 1;
            if failing.len() < args.failing {
                failing.push(f);
            }
        }
    }
    if args.format == ViewFormat::Json {
        let value = serde_json::json!({
            "run": log.run,
            "summary": log.summary,
            "failing_total": failing_total,
            "failing": failing,
        });
        crate::render::emit(&(serde_json::to_string_pretty(&value)? + "\n"), None)?;
        return Ok(Outcome::Pass);
    }
    let r = &log.run;
    let s = &log.summary;
    let mut out = String::new();
    let _ = writeln!(out, "run {}  {}", r.run_id, r.status);
    let _ = writeln!(out, "task      {}", r.task);
    let _ = writeln!(out, "model     {}", r.model);
    let _ = writeln!(
        out,
        "dataset   {} ({}, sha256:{}, {})",
        r.dataset.path,
        r.dataset.format,
        r.dataset.sha256,
        if r.dataset.pinned {
            "pinned"
        } else {
            "UNPINNED"
        }
    );
    let _ = writeln!(out, "time      {} → {}", r.started_at, r.finished_at);
    if let Some(e) = &r.error {
        let _ = writeln!(out, "error     {e}");
    }
    let _ = writeln!(
        out,
        "samples   {} total, {} completed, {} errors, {} malformed rows, {} hit a limit",
        s.total, s.completed, s.errors, s.invalid, s.limits_hit
    );
    let _ = writeln!(
        out,
        "calls     {} retries, {} tool calls ({} refused), {} sandbox events, {} in / {} out tokens",
        s.retries,
        s.tool_calls,
        s.tool_calls_refused,
        s.sandbox_events,
        s.input_tokens,
        s.output_tokens
    );
    let _ = writeln!(
        out,
        "\n{:<14} {:>8} {:>20} {:>20}",
        "scorer", "n", "mean ± stderr", "95% CI"
    );
    for m in &s.scorers {
        let _ = writeln!(
            out,
            "{:<14} {:>8} {:>20} {:>20}",
            m.scorer,
            m.n,
            metric(m.mean, m.stderr),
            format!("[{:.4}, {:.4}]", m.ci95[0], m.ci95[1])
        );
    }
    let _ = writeln!(
        out,
        "\nfailing samples: {failing_total}{}",
        if failing_total > failing.len() as u64 {
            format!(" (first {} shown; --failing N for more)", failing.len())
        } else {
            String::new()
        }
    );
    for f in &failing {
        let detail = match &f.error {
            Some(e) => format!("{}: {}", e.kind, excerpt(&e.message, 100)),
            None => f
                .scores
                .iter()
                .map(|sc| {
                    format!(
                        "{}={} (answer {:?})",
                        sc.scorer,
                        sc.value,
                        excerpt(sc.answer.as_deref().unwrap_or(""), 40)
                    )
                })
                .collect::<Vec<_>>()
                .join(", "),
        };
        let _ = writeln!(
            out,
            "  {} (line {}) target {:?} output {:?}: {detail}{}",
            f.id,
            f.line,
            excerpt(&f.target.join(" | "), 40),
            excerpt(&f.output, 60),
            f.limit_hit
                .as_ref()
                .map_or_else(String::new, |l| format!(" [limit: {l}]"))
        );
    }
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(out.as_bytes())?;
    Ok(Outcome::Pass)
}
