//! `modelgate eval verify`.

use std::fmt::Write as _;

use modelgate_attest::PublicKey;
use modelgate_eval::verify::verify_log;

use crate::Outcome;
use crate::cli::{EvalVerifyArgs, ViewFormat};

pub(super) fn run(args: &EvalVerifyArgs) -> anyhow::Result<Outcome> {
    let key = PublicKey::from_pem_file(&args.key)?;
    let report = verify_log(&args.log, args.signature.as_deref(), &key)?;
    let verified = report.verified();
    let text = if args.format == ViewFormat::Json {
        let mut v = serde_json::to_value(&report)?;
        v["verified"] = serde_json::Value::Bool(verified);
        serde_json::to_string_pretty(&v)? + "\n"
    } else {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{} {} (run {}, sha256:{})",
            if verified { "VERIFIED" } else { "FAILED" },
            report.log.display(),
            report.run_id,
            report.log_sha256
        );
        for c in &report.checks {
            let _ = writeln!(
                out,
                "  [{}] {}: {}",
                if c.ok { "ok" } else { "FAIL" },
                c.name,
                c.detail
            );
        }
        out
    };
    crate::render::emit(&text, None)?;
    Ok(if verified {
        Outcome::Pass
    } else {
        Outcome::Fail
    })
}
