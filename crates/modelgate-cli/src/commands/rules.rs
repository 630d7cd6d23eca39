//! `modelgate rules`: the rule catalogue.

use std::fmt::Write as _;
use std::io::Write as _;

use modelgate_core::RuleId;

use crate::Outcome;
use crate::cli::{OutputFormat, RulesArgs};

pub(crate) fn run(args: &RulesArgs) -> anyhow::Result<Outcome> {
    let text = match args.format {
        OutputFormat::Json => serde_json::to_string_pretty(&modelgate_report::rules_json())? + "\n",
        OutputFormat::Human => {
            let mut out = String::new();
            for rule in RuleId::ALL {
                let _ = writeln!(
                    out,
                    "{}  {:<34} {:<8} {}",
                    rule.code(),
                    rule.name(),
                    rule.default_severity().as_str(),
                    rule.summary()
                );
            }
            out
        }
        OutputFormat::Sarif => {
            anyhow::bail!(
                "`modelgate rules` prints human or json; SARIF embeds the rules in every scan report"
            )
        }
    };
    std::io::stdout().lock().write_all(text.as_bytes())?;
    Ok(Outcome::Pass)
}
